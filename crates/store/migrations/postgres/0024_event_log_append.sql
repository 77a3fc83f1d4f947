-- The Server Events log's batch append in one statement (issue 12, session
-- 10): the rules `crate::events::append` applied message by message from
-- the client, two round trips per message while the batch's users' feed
-- rows stayed locked (so a second node writing the same user's log waited
-- for all of them), now run inside the database, as SQLite's
-- `event_message_append` trigger (migrations 0017, 0018) runs them there.
--
-- `batch`: a JSON array of messages, each
-- `[user_id, dedupe, selector, account_only, body, body_keys, created_at,
--   session_id, session_version]`, the shared parts they name already in
-- `event_body` (written before, in their own statement, so that a batch
-- holds only feed rows: taken sorted by user id, the same order on every
-- node, two batches cannot deadlock). Returns one row per message, in the
-- batch's order (`ordinal` from 1): its id, the id it was written under
-- before (same user and dedupe), or null when a later version of its
-- session was told already (stale).
create function event_log_append(batch jsonb)
returns table (ordinal bigint, id bigint)
language plpgsql
as $$
declare
    wanted bigint;
    locked bigint;
    message record;
    existing bigint;
begin
    select count(distinct m.value ->> 0) into wanted from jsonb_array_elements(batch) m;
    select count(*) into locked from (
        select f.user_id from event_feed f
         where f.user_id in (select m.value ->> 0 from jsonb_array_elements(batch) m)
         order by f.user_id
           for no key update
    ) feeds;
    if locked < wanted then
        raise exception 'evo_no_event_feed';
    end if;
    for message in
        select e.ordinality as n,
               e.value ->> 0 as user_id, e.value ->> 1 as dedupe, e.value ->> 2 as selector,
               (e.value ->> 3)::bigint as account_only, e.value ->> 4 as body,
               e.value ->> 5 as body_keys, e.value ->> 6 as created_at,
               e.value ->> 7 as session_id, (e.value ->> 8)::bigint as session_version
          from jsonb_array_elements(batch) with ordinality e
         order by e.ordinality
    loop
        ordinal := message.n;
        -- Written already (by another node, or earlier in this batch): its id.
        select m.id into existing from event_message m
         where m.user_id = message.user_id and m.dedupe = message.dedupe;
        if found then
            id := existing;
            return next;
            continue;
        end if;
        -- A later version of the same session told already: stale.
        if exists (select 1 from event_message m
                    where m.user_id = message.user_id and m.session_id = message.session_id
                      and m.session_version > message.session_version) then
            id := null;
            return next;
            continue;
        end if;
        update event_feed f set last_id = f.last_id + 1
         where f.user_id = message.user_id
        returning f.last_id into id;
        insert into event_message (user_id, id, dedupe, selector, account_only, body, body_keys,
                                   created_at, session_id, session_version)
        values (message.user_id, id, message.dedupe, message.selector, message.account_only,
                message.body, message.body_keys, message.created_at, message.session_id,
                message.session_version);
        return next;
    end loop;
end;
$$;
