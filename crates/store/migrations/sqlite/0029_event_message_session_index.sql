-- Migration 0029 changes PostgreSQL's index of the Server Events log by
-- session (crates/store/migrations/postgres/: led by session_id, so that
-- the plan `event_log_append` keeps for its dedupe lookup cannot read a
-- user's whole log). SQLite's planner takes the unique index matched in
-- full (`SEARCH event_message USING INDEX event_message_dedupe (user_id=?
-- AND dedupe=?)` on an empty log); nothing changes here: the number keeps
-- both schemas at the same version.
select 1;
