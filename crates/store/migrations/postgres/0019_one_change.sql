-- Migration 0019 is SQLite's `session_commit` view taking a version's
-- events as one JSON array (crates/store/migrations/sqlite/); the
-- PostgreSQL store runs the commit's statements itself. Nothing changes
-- here: the number keeps both schemas at the same version.
select 1;
