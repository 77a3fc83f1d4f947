-- Session history (ListSessions, GetSession): the filtered columns of each
-- session, its rendered SessionInfo, and the indexes that serve the filters
-- without scanning the table. Filled at commit time; rows written before
-- this migration are filled when the store opens (`backfill_history`).
alter table session add column started_at text not null default '';
alter table session add column ended_at text;
alter table session add column customer_id text;
alter table session add column endpoint_id text not null default '';
alter table session add column parent_session_id text;
alter table session add column from_address text not null default '';
alter table session add column to_address text not null default '';
-- JSON of the SessionInfo as served (evo-wire's JSON), so a history read
-- never deserialises the event list.
alter table session add column info text;

create index session_history_account on session (account_id, ended, started_at, session_id);
create index session_history_started on session (ended, started_at, session_id);
create index session_history_customer on session (customer_id, ended, started_at);
create index session_history_parent on session (parent_session_id, started_at);
create index customer_by_parent on customer (parent_id);

-- Every endpoint a session is visible to (its endpoint, answerer, members):
-- serves users' visibility and the EndpointIds filter.
create table session_endpoint (
    endpoint_id text not null,
    started_at text not null,
    session_id text not null,
    primary key (endpoint_id, started_at, session_id)
);
create index session_endpoint_by_session on session_endpoint (session_id);

-- Contains-search over From, To and the log: trigram full-text index keyed
-- by the session row's rowid (LIKE '%text%' of 3+ characters uses it).
create virtual table session_search using fts5 (
    from_address, to_address, log_text, tokenize = 'trigram'
);
