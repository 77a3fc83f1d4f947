-- Server Events log bodies stored once (issue 12, session 8): a session's
-- JSON at one version is the body of its `SessionInfoChanged`, of the
-- call-state message beside it, of every user's and channel's copy, and a
-- part of each `ActiveSessionsChanged` list holding it. Such a part is
-- written once into event_body, keyed by the minute it was written and a
-- hash of its bytes (`{minute:010}{sha-256/128 hex}`), and a message names
-- its parts in `body_keys` (space-separated); its `body` then holds the
-- text around them, the parts (joined by ',') going where the one U+0001
-- is (JSON never holds a raw U+0001). Rows written before keep their
-- whole body (`body_keys` null): nothing to carry over.
--
-- Pruning: a message is kept only while written at or after the prune's
-- cut, so a body whose minute lies wholly before the cut (and the minute
-- before it, for a reader between its two statements) has no reader left.
create table event_body (
    key text primary key,
    body text not null
);

alter table event_message add column body_keys text;

-- The batch append of migration 0017, with the new column.
drop trigger event_message_append_write;
drop view event_message_append;

create view event_message_append as select
    null as user_id,
    null as dedupe,
    null as selector,
    null as account_only,
    null as body,
    null as body_keys,
    null as created_at,
    null as session_id,
    null as session_version;

create trigger event_message_append_write instead of insert on event_message_append
begin
    select raise(abort, 'evo_no_event_feed')
     where not exists (select 1 from event_feed where user_id = new.user_id);
    update event_feed set last_id = last_id + 1
     where user_id = new.user_id
       and not exists (select 1 from event_message
                        where user_id = new.user_id and dedupe = new.dedupe)
       and not exists (select 1 from event_message
                        where user_id = new.user_id and session_id = new.session_id
                          and session_version > new.session_version);
    -- The same conditions (nothing was written in between): the id just taken.
    insert into event_message (user_id, id, dedupe, selector, account_only, body, body_keys,
                               created_at, session_id, session_version)
        select new.user_id, last_id, new.dedupe, new.selector, new.account_only, new.body,
               new.body_keys, new.created_at, new.session_id, new.session_version
          from event_feed
         where user_id = new.user_id
           and not exists (select 1 from event_message
                            where user_id = new.user_id and dedupe = new.dedupe)
           and not exists (select 1 from event_message
                            where user_id = new.user_id and session_id = new.session_id
                              and session_version > new.session_version);
end;
