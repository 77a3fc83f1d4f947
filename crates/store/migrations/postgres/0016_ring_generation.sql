-- One counter that moves with every change to which numbers ring which
-- users (`endpoint_ring_user`, the rows the server holds in memory, whole,
-- for its reads): rows inserted, updated, deleted or truncated. The
-- server's directory reads this one row every reload and re-reads the
-- relation only when it moved, so an idle reload costs one query.
-- Triggers, not the store's code, move it: a change made by another node,
-- an administration command or plain SQL counts too. The counter is a row
-- updated in the changing transaction (not a sequence, which moves before
-- the change commits), so a reader that sees the new value also sees the
-- change; a statement that changes no row moves it too (harmless: one
-- reload more).
create table ring_generation (
    id integer primary key check (id = 1),
    value bigint not null
);
insert into ring_generation (id, value) values (1, 0);

create function ring_generation_bump() returns trigger language plpgsql as $$
begin
    update ring_generation set value = value + 1 where id = 1;
    return null;
end
$$;

create trigger ring_generation after insert or update or delete or truncate on endpoint_ring_user
    for each statement execute function ring_generation_bump();
