-- One counter that moves with every change to what signs an account's
-- webhooks: an account inserted, updated or deleted (its AccountSid, its
-- primary auth token, its name), an auth token added, changed or removed
-- (`account_auth_token`). The server holds every account with a Twilio
-- AccountSid and its tokens in memory for the webhooks' signature check;
-- its directory reads this one row every reload and re-reads the accounts
-- only when it moved. Triggers, not the store's code, move it: a change
-- made by another node, an administration command or plain SQL counts too,
-- in the changing transaction.
create table twilio_generation (
    id integer primary key check (id = 1),
    value integer not null
);
insert into twilio_generation (id, value) values (1, 0);

create trigger twilio_generation_account_insert after insert on account
begin
    update twilio_generation set value = value + 1 where id = 1;
end;

create trigger twilio_generation_account_update after update on account
begin
    update twilio_generation set value = value + 1 where id = 1;
end;

create trigger twilio_generation_account_delete after delete on account
begin
    update twilio_generation set value = value + 1 where id = 1;
end;

create trigger twilio_generation_token_insert after insert on account_auth_token
begin
    update twilio_generation set value = value + 1 where id = 1;
end;

create trigger twilio_generation_token_update after update on account_auth_token
begin
    update twilio_generation set value = value + 1 where id = 1;
end;

create trigger twilio_generation_token_delete after delete on account_auth_token
begin
    update twilio_generation set value = value + 1 where id = 1;
end;
