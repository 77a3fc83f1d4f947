-- Migration 0025 is SQLite's queue of search rows to index (the FTS5
-- indexes off the session commit's transaction); PostgreSQL's pg_trgm
-- indexes follow their tables. Nothing changes here: the number keeps both
-- schemas at the same version.
select 1;
