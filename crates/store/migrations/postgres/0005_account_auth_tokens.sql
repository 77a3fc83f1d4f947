-- Several Twilio auth tokens per account, for rotation. The account's
-- twilio_auth_token column stays the primary token (REST requests);
-- webhooks signed with it or with any token here are accepted.
create table account_auth_token (
    account_id text not null references account (account_id) on delete cascade,
    token text not null,
    added_at text not null,
    primary key (account_id, token)
);
