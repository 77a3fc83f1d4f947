-- One counter that moves with every change that can make a verified
-- access token invalid: a user changed or deleted (roles, names, the row
-- gone), a sign-in session changed or deleted (sign-out, expiry moved).
-- The authenticator reads this one row every re-check pass and re-reads
-- its tokens' users and sessions only when it moved, so an idle pass costs
-- one query. Triggers, not the store's code, move it: a change made by
-- another node or by an administrator's SQL counts too. A new user or
-- session does not move it (no verified token depends on a row that did
-- not exist).
create table auth_generation (
    id integer primary key check (id = 1),
    value integer not null
);
insert into auth_generation (id, value) values (1, 0);

create trigger auth_generation_user_update after update on app_user
begin
    update auth_generation set value = value + 1 where id = 1;
end;

create trigger auth_generation_user_delete after delete on app_user
begin
    update auth_generation set value = value + 1 where id = 1;
end;

create trigger auth_generation_session_update after update on auth_session
begin
    update auth_generation set value = value + 1 where id = 1;
end;

create trigger auth_generation_session_delete after delete on auth_session
begin
    update auth_generation set value = value + 1 where id = 1;
end;
