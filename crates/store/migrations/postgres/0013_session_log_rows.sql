-- A session's log as rows (issue 12: one more event writes its own lines,
-- not the whole log). `position` is the line's index in the log; a line
-- inserted mid-log rewrites the rows from there on. Snapshots and history
-- rows written from now on leave the log out (snapshots also the dedupe
-- hashes, rebuilt from session_event's keys; `log_rows = 1`; `info_log_at`
-- is where the rendered lines go in `info`); rows written before keep it
-- inline and are read as they are until their session is next committed.
create table session_log (
    session_id text not null,
    position bigint not null,
    at text not null,
    message text not null,
    primary key (session_id, position)
);
-- Contains-search over log lines; the old per-session `session.log_text`
-- keeps serving rows written before.
create index session_log_search on session_log using gin (message gin_trgm_ops);

alter table session add column log_rows bigint not null default 0;
alter table session add column info_log_at bigint;
