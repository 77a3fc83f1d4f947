-- Retention (`--retain-ended-days`): find old ended sessions without
-- scanning live ones, and delete a session's lookup keys by session.
create index session_ended_activity on session (last_activity) where ended;
create index session_key_session on session_key (session_id);
