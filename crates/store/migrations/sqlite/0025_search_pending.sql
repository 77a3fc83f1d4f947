-- The search text indexed off the session commit's transaction (issue 12,
-- session 11, `pages`). The FTS5 writes of a commit (`session_search` for a
-- new session's From and To, `session_log_search` for its new log lines)
-- were about a third of its pages: each is a content row, a size row, an
-- index row, a new segment and the structure record, and every so often an
-- automatic merge of hundreds of pages, all flushed by the commit's fsync.
-- The trigger now queues the ids of those rows (one appended row each) and
-- `sql::SearchIndexer` indexes them in batches, on its own; a search first
-- indexes whatever is queued (`Store::list_session_infos`), so it finds
-- every session committed before it, as before.
--
-- `row_id`: the session row's rowid (session_search's key), or the log
-- row's (session_log_search's key). Whoever deletes a row before it is
-- indexed deletes its entry too (the trigger's rewrite of a session's lines
-- from a position on, pruning); the indexer skips an id whose row is gone.
create table session_search_pending (row_id integer primary key);
create table session_log_search_pending (row_id integer primary key);

drop trigger session_commit_write;

create trigger session_commit_write instead of insert on session_commit
begin
    -- The version check: the caller maps this message to a conflict, and
    -- its transaction (the whole batch) rolls back.
    select raise(abort, 'evo_session_conflict')
     where case when new.expected_version is null
                then exists (select 1 from session where session_id = new.session_id)
                else not exists (select 1 from session
                                  where session_id = new.session_id
                                    and version = new.expected_version)
           end;
    -- Each event not logged yet (by dedupe key, nor earlier in the array)
    -- takes the next position, as one insert per event would.
    insert into session_event (session_id, position, dedupe_key, at, event, committed_at)
        select new.session_id,
               (select coalesce(max(position), 0) from session_event
                 where session_id = new.session_id)
                   + row_number() over (order by e.key),
               json_extract(e.value, '$[0]'), json_extract(e.value, '$[1]'),
               json_extract(e.value, '$[2]'), new.written_at
          from json_each(new.events) as e
         where not exists (select 1 from session_event
                            where session_id = new.session_id
                              and dedupe_key = json_extract(e.value, '$[0]'))
           and not exists (select 1 from json_each(new.events) as f
                            where f.key < e.key
                              and json_extract(f.value, '$[0]') = json_extract(e.value, '$[0]'))
        on conflict do nothing;
    -- A row written before 0013 kept its log in the search text: written
    -- again without it (From and To never change: the header is fixed).
    delete from session_search
     where rowid = (select rowid from session
                     where session_id = new.session_id and log_rows = 0);
    insert into session_search (rowid, from_address, to_address, log_text)
        select rowid, new.from_address, new.to_address, new.log_text
          from session where session_id = new.session_id and log_rows = 0;
    update session set
        ended = new.ended, version = new.version, last_activity = new.last_activity,
        snapshot = new.snapshot, written_at = new.written_at, log_rows = 1,
        started_at = new.started_at, ended_at = new.ended_at,
        customer_id = new.customer_id, endpoint_id = new.endpoint_id,
        from_address = new.from_address, to_address = new.to_address,
        info = new.info, info_log_at = new.info_log_at
     where session_id = new.session_id and new.expected_version is not null;
    insert into session (session_id, account_id, ended, version, last_activity, snapshot,
                         written_at, log_rows, started_at, ended_at, customer_id,
                         endpoint_id, from_address, to_address, info, info_log_at)
        select new.session_id, new.account_id, new.ended, new.version, new.last_activity,
               new.snapshot, new.written_at, 1, new.started_at, new.ended_at,
               new.customer_id, new.endpoint_id, new.from_address, new.to_address,
               new.info, new.info_log_at
         where new.expected_version is null;
    delete from session_search
     where new.expected_version is null
       and rowid = (select rowid from session where session_id = new.session_id);
    insert or ignore into session_search_pending (row_id)
        select rowid from session where session_id = new.session_id and new.expected_version is null;
    -- The log's rows from `log_from` on (`crate::log`).
    delete from session_log_search
     where rowid in (select rowid from session_log
                      where session_id = new.session_id and position >= new.log_from);
    delete from session_log_search_pending
     where row_id in (select rowid from session_log
                       where session_id = new.session_id and position >= new.log_from);
    delete from session_log where session_id = new.session_id and position >= new.log_from;
    insert into session_log (session_id, position, at, message)
        select new.session_id, new.log_from + key, json_extract(value, '$[0]'),
               json_extract(value, '$[1]')
          from json_each(new.log_lines);
    insert or ignore into session_log_search_pending (row_id)
        select rowid from session_log
         where session_id = new.session_id and position >= new.log_from;
    delete from session_endpoint where session_id = new.session_id;
    insert into session_endpoint (endpoint_id, started_at, session_id, account_id, ended)
        select value, new.started_at, new.session_id, new.account_id, new.endpoints_ended
          from json_each(new.endpoint_ids);
    -- A key leads to the newest session that claimed it.
    insert into session_key (key, session_id)
        select value, new.session_id from json_each(new.keys) where true
        on conflict (key) do update set session_id = excluded.session_id;
end;
