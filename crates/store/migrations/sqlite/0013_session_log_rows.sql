-- A session's log as rows (issue 12: one more event writes its own lines,
-- not the whole log). `position` is the line's index in the log; a line
-- inserted mid-log rewrites the rows from there on. Snapshots and history
-- rows written from now on leave the log out (snapshots also the dedupe
-- hashes, rebuilt from session_event's keys; `log_rows = 1`; `info_log_at`
-- is where the rendered lines go in `info`); rows written before keep it
-- inline and are read as they are until their session is next committed.
create table session_log (
    session_id text not null,
    position integer not null,
    at text not null,
    message text not null,
    primary key (session_id, position)
);
-- Contains-search over log lines (rowid = session_log's rowid); the old
-- per-session `session_search.log_text` keeps serving rows written before.
create virtual table session_log_search using fts5 (message, tokenize = 'trigram');

alter table session add column log_rows integer not null default 0;
alter table session add column info_log_at integer;
