-- The Server Events log's lookups by session no longer share a leading
-- column with its dedupe lookup (issue 12, session 11). `event_log_append`
-- (migration 0024) runs two lookups per message: written already
-- (`user_id = ... and dedupe = ...`, the unique index event_message_dedupe)
-- and a later version told already (`user_id, session_id,
-- session_version > ...`, this index). PL/pgSQL keeps each statement's
-- generic plan for the connection's life, planned when the function first
-- runs: on a fresh or small log every index led by `user_id` costs the same
-- (one row), and the plan it kept for the dedupe lookup read the index led
-- by (user_id, session_id, ...) with `dedupe` as a filter: every message of
-- the user, each lookup. As a user's log grew to 10,000 messages between
-- prunes, a batch's write went from a few ms to 100-300 ms (measured: a
-- batch of 100 messages written by two nodes, 30 ms at the start, 305 ms
-- at 10,000 messages; with this index 4 ms throughout), and a burst of one
-- user's changes fell further behind every round (docs/benchmarks.md,
-- "Cross-node propagation", session 11). Led by `session_id`, this index
-- serves only the lookup by session, so the dedupe lookup's one index led
-- by (user_id, dedupe) is the cheapest plan whatever the statistics.
drop index event_message_session;
create index event_message_session on event_message (session_id, user_id, session_version);
