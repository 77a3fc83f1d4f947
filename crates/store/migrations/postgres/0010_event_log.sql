-- Server Events resume across restarts (issue 11): each followed user's
-- messages, numbered by the database, so that ids increase per user
-- whichever node writes them, and a reconnecting client gets exactly the
-- messages it missed.
--
-- event_feed: one row per user ever followed. `last_id` is the user's last
-- message id (assigned by incrementing it in the writing transaction: the
-- row lock orders writers on PostgreSQL); every message with an id above
-- `floor` is in event_message (a resume from below it gets a snapshot).
-- `follow_until`: messages are written for the user until then (a stream
-- is open, or closed less than the retention ago); null when not followed.
create table event_feed (
    user_id text primary key,
    account_id text not null,
    manager bigint not null default 0,
    last_id bigint not null default 0,
    floor bigint not null default 0,
    follow_until text
);

-- dedupe: one row per (user, session version, message kind), whichever node
-- writes it first.
create table event_message (
    user_id text not null,
    id bigint not null,
    dedupe text not null,
    selector text not null,
    account_only bigint not null default 0,
    body text not null,
    created_at text not null,
    -- The session version the message tells of: a message older than one
    -- already written for the same session is not written (two nodes'
    -- hubs may write a session's versions out of order).
    session_id text,
    session_version bigint,
    primary key (user_id, id)
);
create unique index event_message_dedupe on event_message (user_id, dedupe);
create index event_message_created on event_message (created_at);
create index event_message_session on event_message (user_id, session_id, session_version);

-- The nodes writing event_message: a row left behind by a node that did not
-- stop cleanly means messages of its last commits may be missing, so every
-- feed's floor is raised (those resumes get a snapshot).
create table event_writer (
    node_id text primary key,
    started_at text not null,
    seen_at text not null
);
