-- Migration 0017 is SQLite's `session_commit` view and trigger (one
-- statement per session change, crates/store/migrations/sqlite/); the
-- PostgreSQL store runs the commit's statements itself. Nothing changes
-- here: the number keeps both schemas at the same version.
select 1;
