-- Server Events log bodies stored once (issue 12, session 8); see the
-- SQLite migration of the same number. A shared part (a session's JSON at
-- one version) is written once into event_body, keyed by its minute and a
-- hash of its bytes; a message names its parts in `body_keys` and its
-- `body` holds the text around them (the parts go where the one U+0001
-- is). Rows written before keep their whole body (`body_keys` null).
create table event_body (
    key text primary key,
    body text not null
);

alter table event_message add column body_keys text;
