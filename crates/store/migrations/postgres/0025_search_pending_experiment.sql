-- The experiment of SQLite's 0025; nothing here.
select 1;
