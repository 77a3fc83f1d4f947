-- Twilio callbacks that arrived before their session existed (a child
-- leg's status before the voice webhook committed, a conference event
-- before its session named the conference). Kept durably, keyed by the
-- account whose token signed them and the SID they name (CallSid,
-- ParentCallSid or ConferenceSid), until a session claims that key;
-- the session applies them and the rows are deleted.
create table pending_callback (
    account_id text not null,
    lookup_key text not null,
    dedupe_key text not null,
    received_at text not null,
    event text not null, -- JSON of evo_core::event::SessionEvent
    primary key (account_id, lookup_key, dedupe_key)
);
