-- Migration 0030 makes PostgreSQL's `event_log_append` plan its statements
-- at every call (crates/store/migrations/postgres/). SQLite has no such
-- function; nothing changes here: the number keeps both schemas at the
-- same version.
select 1;
