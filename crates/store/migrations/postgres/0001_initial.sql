-- The directory and the call-session log of evo-voice (PostgreSQL).
-- Applied migrations are never edited; add a new numbered file instead.

-- Tenants. Each maps to one Twilio account, whose auth token signs its webhooks.
create table account (
    account_id text primary key,
    name text not null,
    twilio_account_sid text unique,
    twilio_auth_token text
);

-- Customers nest through parent_id; the breadcrumb walks it.
create table customer (
    customer_id text primary key,
    account_id text not null references account (account_id),
    parent_id text references customer (customer_id),
    name text not null
);

-- Users and phone numbers. A user's endpoint has the user's id.
create table endpoint (
    endpoint_id text primary key,
    account_id text not null references account (account_id),
    customer_id text references customer (customer_id),
    kind text not null check (kind in ('User', 'PhoneNumber')),
    display_name text not null,
    address text not null,
    queue_name text
);
-- A phone number belongs to one account; lookups by number are per account.
create unique index endpoint_number_per_account on endpoint (account_id, address) where kind = 'PhoneNumber';

-- Which users a phone number rings, in order; also who sees its sessions.
create table endpoint_ring_user (
    endpoint_id text not null references endpoint (endpoint_id),
    user_id text not null,
    position bigint not null,
    primary key (endpoint_id, user_id)
);
create index endpoint_ring_user_by_user on endpoint_ring_user (user_id);

-- Sign-in identities. E-mail addresses are unique whatever their case.
create table app_user (
    user_id text primary key references endpoint (endpoint_id),
    account_id text not null references account (account_id),
    email text not null,
    display_name text not null,
    password_hash text not null,
    roles text not null -- JSON array of role names
);
create unique index app_user_email on app_user (lower(email));

-- API keys, stored as the SHA-256 of the key; the key itself is shown once.
create table api_key (
    api_key_id text primary key,
    user_id text not null references app_user (user_id),
    key_hash text not null unique,
    created_at text not null
);

-- Server-side sign-in sessions (ss-id / ss-pid cookies, refresh tokens).
create table auth_session (
    auth_session_id text primary key,
    user_id text not null references app_user (user_id),
    created_at text not null,
    expires_at text not null
);

create table setting (
    key text primary key,
    value text not null
);

-- The current snapshot of each call session (a cache of its event log).
create table session (
    session_id text primary key,
    account_id text not null,
    ended boolean not null,
    version bigint not null,
    last_activity text not null,
    snapshot text not null -- JSON of evo_core::session::Session
);
-- Only live sessions are indexed, so rebuilding the live index never reads
-- ended history.
create index session_active on session (session_id) where not ended;

-- The append-only event log. A redelivered event (same dedupe key) is
-- stored once.
create table session_event (
    session_id text not null,
    position bigint not null,
    dedupe_key text not null,
    at text not null,
    event text not null, -- JSON of evo_core::event::SessionEvent
    committed_at text not null,
    primary key (session_id, position),
    unique (session_id, dedupe_key)
);

-- Lookup keys (call SIDs, conference SIDs, conversation keys) → session.
create table session_key (
    key text primary key,
    session_id text not null
);
