-- When a node last wrote each session (server clock), so that other nodes
-- sharing the database can refresh their live index with what changed.
alter table session add column written_at text not null default '';
create index session_written_at on session (written_at);
