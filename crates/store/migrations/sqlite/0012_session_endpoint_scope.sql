-- Users' history (ListSessions for a user, the EndpointIds filter): the
-- endpoint table carries the account and whether the session ended, so a
-- page is read from the user's endpoints in date order, never by walking
-- the account's other sessions.
alter table session_endpoint add column account_id text not null default '';
alter table session_endpoint add column ended integer not null default 0;
update session_endpoint set
    account_id = (select s.account_id from session s where s.session_id = session_endpoint.session_id),
    ended = (select s.ended from session s where s.session_id = session_endpoint.session_id)
where exists (select 1 from session s where s.session_id = session_endpoint.session_id);
create index session_endpoint_scope
    on session_endpoint (endpoint_id, account_id, ended, started_at, session_id);
