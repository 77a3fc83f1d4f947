-- Migration 0024 is PostgreSQL's `event_log_append` function (the Server
-- Events log's batch append in one statement, crates/store/migrations/
-- postgres/); SQLite's store does the same through the
-- `event_message_append` trigger of migrations 0017 and 0018. Nothing
-- changes here: the number keeps both schemas at the same version.
select 1;
