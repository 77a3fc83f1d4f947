-- One counter that moves with every change to which numbers ring which
-- users (`endpoint_ring_user`, the rows the server holds in memory, whole,
-- for its reads): a row inserted, updated or deleted. The server's
-- directory reads this one row every reload and re-reads the relation
-- only when it moved, so an idle reload costs one query. Triggers, not the
-- store's code, move it: a change made by another node, an administration
-- command or plain SQL counts too.
create table ring_generation (
    id integer primary key check (id = 1),
    value integer not null
);
insert into ring_generation (id, value) values (1, 0);

create trigger ring_generation_insert after insert on endpoint_ring_user
begin
    update ring_generation set value = value + 1 where id = 1;
end;

create trigger ring_generation_update after update on endpoint_ring_user
begin
    update ring_generation set value = value + 1 where id = 1;
end;

create trigger ring_generation_delete after delete on endpoint_ring_user
begin
    update ring_generation set value = value + 1 where id = 1;
end;
