-- One counter that moves with every change to what signs an account's
-- webhooks: accounts inserted, updated, deleted or truncated (AccountSid,
-- primary auth token, name), auth tokens added, changed or removed
-- (`account_auth_token`). The server holds every account with a Twilio
-- AccountSid and its tokens in memory for the webhooks' signature check;
-- its directory reads this one row every reload and re-reads the accounts
-- only when it moved. Triggers, not the store's code, move it: a change
-- made by another node, an administration command or plain SQL counts too.
-- The counter is a row updated in the changing transaction (not a
-- sequence, which moves before the change commits), so a reader that sees
-- the new value also sees the change; a statement that changes no row
-- moves it too (harmless: one reload more).
create table twilio_generation (
    id integer primary key check (id = 1),
    value bigint not null
);
insert into twilio_generation (id, value) values (1, 0);

create function twilio_generation_bump() returns trigger language plpgsql as $$
begin
    update twilio_generation set value = value + 1 where id = 1;
    return null;
end
$$;

create trigger twilio_generation after insert or update or delete or truncate on account
    for each statement execute function twilio_generation_bump();

create trigger twilio_generation after insert or update or delete or truncate on account_auth_token
    for each statement execute function twilio_generation_bump();
