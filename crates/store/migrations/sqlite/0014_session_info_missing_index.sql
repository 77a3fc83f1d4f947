-- Opening a store renders the history row of any session that has none
-- (history::backfill: `where info is null limit 500`). Without an index
-- that query reads every session ever kept: 10.7 s before `serve` was
-- ready on a store with 1,000,000 ended sessions, against 0.4-0.8 s on a
-- small one. A partial index holds only the rows still to render, so it
-- is empty (and the query immediate) once a store is backfilled.
create index if not exists session_info_missing on session (session_id) where info is null;
