//! The `Store` on SQL: one implementation for SQLite (embedded) and
//! PostgreSQL (shared by several nodes), through sqlx's `Any` driver.
//!
//! Every query uses `$1, $2, …` placeholders in order, which both SQLite and
//! PostgreSQL accept, and portable SQL (`on conflict`, `with recursive`,
//! partial indexes). Dates are stored as ISO 8601 text, documents as JSON
//! text. Dialect differences live in the migrations only.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use evo_core::domain::{Account, Crumb, Customer, Endpoint, EndpointKind, Secret, User};
use evo_core::event::SessionEvent;
use evo_core::ids::{AccountId, CustomerId, EndpointId, SessionId, TwilioAccountSid, UserId};
use evo_core::session::Session;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Connection, Executor, Row};

use crate::history::{self, SessionInfoPage, SessionQuery, StoredSessionInfo};
use crate::turns::{Turn, Writer, WriterQueue};
use crate::{
    ApiKeyRecord, AuthSession, PoolOptions, SessionChange, Store, StoreError, StoreResult,
    TwilioAccounts, TwilioCredentials,
};

mod bulk;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The embedded store's database file inside its data directory.
pub fn sqlite_file(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("evo-voice.db")
}

/// The sqlx URL of the embedded store's database file (for tools and
/// tests that open it beside the store).
pub fn sqlite_url(data_dir: &Path) -> String {
    format!("sqlite://{}", sqlite_file(data_dir).display())
}

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A `Store` over SQLite or PostgreSQL.
pub struct SqlStore {
    pool: AnyPool,
    /// The Server Events log (`crate::events`). On SQLite its own
    /// connection with `synchronous = normal` (its messages are written
    /// through `writer`, also with `normal`): a log write survives a crash
    /// of the process, and what a power cut loses is covered by the unclean
    /// stop check (`event_writer`, written through `pool`), so the log does
    /// not cost a second fsync per change. On PostgreSQL the same pool.
    events_pool: AnyPool,
    /// SQLite only: one connection for the session commits and the Server
    /// Events log's messages, each transaction setting its `synchronous`
    /// (`full` for a commit, `normal` for the log, as before). SQLite drops
    /// a connection's whole page cache when another connection wrote since
    /// its last transaction, so with the two taking turns on different
    /// connections every commit and every log write started cold and read
    /// each B-tree page it touched again; one connection keeps them warm.
    /// On PostgreSQL, `pool`.
    writer: AnyPool,
    /// SQLite only: `writer`'s connection, held here between writes rather
    /// than returned to the pool after each. sqlx returns a connection from
    /// a task it spawns, after a ping to the connection's worker thread, and
    /// pings it again when it is next acquired: a Server Events log write
    /// right after a session commit waited for that spawned task and both
    /// pings before its BEGIN (issue 12, session 9, `fanbeat`). Only a
    /// writer holding its turn (`writers`) takes it, so it is never
    /// contended; a write that fails other than in SQL drops it (the pool
    /// checks it and opens another when needed).
    held: Arc<HeldSlot>,
    /// SQLite only: this process's writers (`pool`'s and `events_pool`'s)
    /// take turns here before they take SQLite's write lock. SQLite itself
    /// makes a writer that finds the lock taken poll for it, sleeping 1, 2,
    /// 5, 10… ms between tries (`busy_timeout`), so a Server Events log
    /// write behind a session commit lost several milliseconds; in this
    /// queue it starts as soon as the commit ends. Other processes still
    /// meet at `busy_timeout`. A Server Events log write may go before
    /// waiting session commits, once per commit (`crate::turns`).
    writers: Option<Arc<WriterQueue>>,
    backend: Backend,
    /// PostgreSQL's URL, for the change listener's own connection.
    url: Option<String>,
    /// SQLite only: the task that checkpoints the WAL (see [`checkpoints`]),
    /// stopped with the store.
    _checkpointer: Option<AbortOnDrop>,
    /// SQLite only: the task that indexes the search text the commits
    /// queued (see [`search_indexer`]), started once the schema is
    /// migrated, stopped with the store.
    _search_indexer: Option<AbortOnDrop>,
}

/// Where `SqlStore::held` keeps the connection.
#[derive(Default)]
struct HeldSlot(tokio::sync::Mutex<Option<sqlx::pool::PoolConnection<sqlx::Any>>>);

impl Drop for HeldSlot {
    fn drop(&mut self) {
        // Closed with the store, without the task sqlx would spawn to put
        // it back in the pool (a store may be dropped outside a runtime).
        if let Some(conn) = self.0.get_mut().take() {
            drop(conn.detach());
        }
    }
}

/// `SqlStore::held` for one write. Dropped before
/// [`HeldWriter::keep_unless_broken`] (the write was cancelled), it closes
/// the connection: a transaction sent as one query may still be open on it.
pub(crate) struct HeldWriter<'a> {
    slot: tokio::sync::MutexGuard<'a, Option<sqlx::pool::PoolConnection<sqlx::Any>>>,
    finished: bool,
}

impl Drop for HeldWriter<'_> {
    fn drop(&mut self) {
        if !self.finished {
            if let Some(mut conn) = self.slot.take() {
                // Closed (in a task sqlx spawns) after the commands already
                // sent: SQLite rolls back what is still open.
                conn.close_on_drop();
            }
        }
    }
}

impl HeldWriter<'_> {
    /// The connection.
    pub(crate) fn conn(&mut self) -> StoreResult<&mut sqlx::AnyConnection> {
        self.slot
            .as_mut()
            .map(|conn| &mut **conn)
            .ok_or_else(|| StoreError::Corrupt("the writer's connection is gone".to_string()))
    }

    /// After the write: a failure that was not SQL's own (the connection's
    /// worker, I/O) drops the connection, so the next write takes a checked
    /// one from the pool. A failed transaction was rolled back when it
    /// dropped (sqlx queues the ROLLBACK before any later command).
    pub(crate) fn keep_unless_broken<T>(&mut self, written: &StoreResult<T>) {
        self.finished = true;
        let broken = match written {
            Err(StoreError::Database(sqlx::Error::Database(_))) => false,
            Err(StoreError::Database(_)) => true,
            _ => false,
        };
        if broken {
            self.slot.take();
        }
    }
}

/// Stops a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// WAL pages (32,000: about 130 MB) after which a SQLite connection
/// checkpoints inline, at the end of its own commit (SQLite's default is
/// 1,000). [`checkpoints`] starts the WAL over at [`RESTART_WAL_AT`], so
/// this is only a backstop should it fall behind (or readers keep the WAL
/// from starting over several times in a row): the commit or log write
/// that crosses it copies what is left and fsyncs twice more (7-19 ms).
///
/// `temp_store = memory`: a statement that writes several rows (a change's
/// row in `session_commit`, the log's batch) keeps its statement journal,
/// the pages it would restore should it fail alone, in memory instead of a
/// temporary file (a `pwrite` per page; 18 % of SQLite's time on the
/// commit path in a profile of the fan-out bench). Not a durability
/// matter: the transaction's own journal is the WAL.
const CONNECTION_PRAGMAS: &str = "pragma wal_autocheckpoint = 32000; pragma temp_store = memory;";

/// Commits a session commit's transaction; with timing on (`timing`),
/// records its statements' time since `started` (`commit_write`) and the
/// COMMIT's, which is the WAL write and fsync (`commit_sync`).
async fn commit_timed(
    tx: sqlx::Transaction<'_, sqlx::Any>,
    changes: &[SessionChange],
    timed: bool,
    started: std::time::Instant,
) -> StoreResult<()> {
    if timed {
        crate::timing::each(changes, "commit_write", started);
    }
    let started = std::time::Instant::now();
    tx.commit().await?;
    if timed {
        crate::timing::each(changes, "commit_sync", started);
    }
    Ok(())
}

/// A pool of `connections` to the SQLite file at `url`, each set up with
/// WAL, foreign keys, the busy timeout, [`CONNECTION_PRAGMAS`] and then
/// `pragmas` (what differs between the store's three pools).
async fn sqlite_pool(url: &str, connections: u32, pragmas: &'static str) -> StoreResult<AnyPool> {
    Ok(AnyPoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(Duration::from_secs(30))
        // No ping to the connection's worker thread at each acquire (one
        // more round trip before every query): a SQLite connection is a
        // file, nothing hangs up on it, and sqlx pings each connection as
        // it returns to the pool anyway.
        .test_before_acquire(false)
        .after_connect(move |connection, _| {
            Box::pin(async move {
                connection
                    .execute("pragma journal_mode = wal; pragma foreign_keys = on; pragma busy_timeout = 10000;")
                    .await?;
                connection.execute(CONNECTION_PRAGMAS).await?;
                connection.execute(pragmas).await?;
                Ok(())
            })
        })
        .connect_with(AnyConnectOptions::from_str(url)?)
        .await?)
}

/// Begins a session commit on `SqlStore::writer`: on disk before COMMIT
/// returns.
const WRITE_FULL: &str = "pragma synchronous = full; begin immediate";

/// Begins a Server Events log write on `SqlStore::writer`: no fsync (see
/// `SqlStore::events_pool`).
const WRITE_NORMAL: &str = "pragma synchronous = normal; begin immediate";

/// How often [`checkpoints`] runs.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// WAL frames (16,000: about 65 MB) from which a run of [`checkpoints`]
/// finishes its checkpoint in the writers' turn so the WAL starts over
/// ([`checkpoint_run`]). That turn holds the writers for a few milliseconds
/// (3 ms median, up to 13 ms in the fan-out bench), so it is taken once per
/// this many frames rather than at every run: about once a second at the
/// fan-out bench's 24,000 frames a second, where the WAL used to start over
/// only at the old 8,000-page backstop, three times a second, each time in
/// a commit or log write checkpointing inline.
const RESTART_WAL_AT: i64 = 16_000;

/// Runs [`checkpoint_run`] every [`CHECKPOINT_EVERY`], off the commit path:
/// with SQLite's automatic checkpoint the commit (or Server Events log
/// write) that filled the WAL to 1,000 pages copied them and fsynced the
/// database file before it returned (a few milliseconds, every few dozen
/// commits).
fn checkpoints(
    pool: AnyPool,
    writers: Arc<WriterQueue>,
    database: Arc<std::fs::File>,
) -> AbortOnDrop {
    AbortOnDrop(tokio::spawn(async move {
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last = None;
        loop {
            tick.tick().await;
            match checkpoint_run(&pool, &writers, &database, last, RESTART_WAL_AT).await {
                Ok(run) => last = Some(run),
                // The next tick tries again; past the backstop, commits do it.
                Err(error) => tracing::warn!(%error, "checkpointing the SQLite WAL failed"),
            }
        }
    }))
}

/// `writer`'s connection, held between writes in `slot` (see
/// `SqlStore::held`); the caller holds its writers' turn.
async fn held_writer<'a>(slot: &'a HeldSlot, writer: &AnyPool) -> StoreResult<HeldWriter<'a>> {
    let mut slot = slot.0.lock().await;
    if slot.is_none() {
        *slot = Some(writer.acquire().await?);
    }
    Ok(HeldWriter {
        slot,
        finished: false,
    })
}

/// How often [`search_indexer`] indexes the queued search rows: often
/// enough that a batch is small (at the fan-out bench's rate, about 40 new
/// sessions and their lines), so the writers it makes wait, wait little.
const INDEX_SEARCH_EVERY: Duration = Duration::from_millis(200);

/// Queued search rows indexed per table and transaction: a bounded write,
/// so a session commit never waits long behind one.
const INDEX_SEARCH_BATCH: i64 = 1_000;

/// Indexes queued search rows (migration 0025): the session commit's
/// trigger queues the ids of the rows whose search text is new
/// (`session_search_pending`: a new session's From and To;
/// `session_log_search_pending`: its new log lines) instead of writing the
/// FTS5 indexes in its own transaction, where they were about a third of
/// its pages (an FTS5 write is its content, size and index rows, a new
/// segment and the structure record, and every so often an automatic merge
/// of hundreds of pages; docs/benchmarks.md, "Pages per transaction (issue
/// 12, session 11, `pages`)"). Here they go in batches, as one
/// transaction, with `synchronous = normal` (the index is derived: a power
/// cut that loses the batch loses its dequeuing too).
struct SearchIndexer {
    pool: AnyPool,
    writer: AnyPool,
    held: Arc<HeldSlot>,
    writers: Arc<WriterQueue>,
}

impl SearchIndexer {
    /// Indexes up to [`INDEX_SEARCH_BATCH`] queued rows of each table;
    /// whether more are queued.
    async fn index_some(&self) -> StoreResult<bool> {
        let queued: i64 = sqlx::query(
            "select (select count(*) from (select 1 from session_search_pending limit $1))
                  + (select count(*) from (select 1 from session_log_search_pending limit $1)) as n",
        )
        .bind(INDEX_SEARCH_BATCH + 1)
        .fetch_one(&self.pool)
        .await?
        .try_get("n")?;
        if queued == 0 {
            return Ok(false);
        }
        let _turn = self.writers.turn(Writer::Ordinary).await;
        let mut held = held_writer(&self.held, &self.writer).await?;
        // The same ids in every statement: nothing else writes meanwhile.
        // A row indexed already (a rowid reused) is written again.
        const INDEX_QUEUED: &str = "
             delete from session_search where rowid in
                 (select row_id from session_search_pending order by row_id limit $1);
             insert into session_search (rowid, from_address, to_address, log_text)
                 select rowid, from_address, to_address, $2 from session where rowid in
                     (select row_id from session_search_pending order by row_id limit $1);
             delete from session_search_pending where row_id in
                 (select row_id from session_search_pending order by row_id limit $1);
             delete from session_log_search where rowid in
                 (select row_id from session_log_search_pending order by row_id limit $1);
             insert into session_log_search (rowid, message)
                 select rowid, message from session_log where rowid in
                     (select row_id from session_log_search_pending order by row_id limit $1);
             delete from session_log_search_pending where row_id in
                 (select row_id from session_log_search_pending order by row_id limit $1);";
        let written = async {
            // A failed statement drops the transaction, which rolls it back.
            let mut tx = held.conn()?.begin_with(WRITE_NORMAL).await?;
            sqlx::query(INDEX_QUEUED)
                .bind(INDEX_SEARCH_BATCH)
                .bind(history::LOG_TEXT)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            StoreResult::Ok(())
        }
        .await;
        held.keep_unless_broken(&written);
        written?;
        Ok(queued > INDEX_SEARCH_BATCH)
    }
}

/// Runs [`SearchIndexer`] every [`INDEX_SEARCH_EVERY`], and again at once
/// while more is queued.
fn search_indexer(indexer: SearchIndexer) -> AbortOnDrop {
    AbortOnDrop(tokio::spawn(async move {
        let mut tick = tokio::time::interval(INDEX_SEARCH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            loop {
                match indexer.index_some().await {
                    Ok(true) => continue,
                    Ok(false) => break,
                    Err(error) => {
                        // The rows stay queued; the next tick tries again.
                        tracing::warn!(%error, "indexing the queued search text failed");
                        break;
                    }
                }
            }
        }
    }))
}

/// A WAL checkpoint's outcome: the WAL's frames, and how many of them are
/// in the database file now (`pragma wal_checkpoint`'s second and third
/// columns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct WalCheckpoint {
    frames: i64,
    copied: i64,
}

/// One run of the checkpointer. First a `PASSIVE` checkpoint beside the
/// writers: it copies the WAL's frames (up to those written when it
/// started) while commits go on. SQLite fsyncs the database file only in a
/// checkpoint that reaches the WAL's end and lets the WAL start over from
/// its beginning only after one; under steady writes this one never does,
/// so the WAL grew to the backstop ([`CONNECTION_PRAGMAS`]) and the commit
/// or Server Events log write that crossed it checkpointed inline (two
/// more fsyncs, 7-19 ms, three times a second in the fan-out bench;
/// docs/benchmarks.md, "Checkpoints and the log write's stalls"). So once
/// the WAL holds `restart_at` frames or more, the run fsyncs the database
/// file beside the writers, then checkpoints again in the writers' turn
/// (`writers`): that copies only the frames written meanwhile, with no
/// writer between, and reaches the WAL's end, so the next write starts the
/// WAL over (unless a reader is still on its frames; the next run tries
/// again). `last` is the previous run's outcome: the same again means
/// nothing was written since, and the second checkpoint is skipped.
async fn checkpoint_run(
    pool: &AnyPool,
    writers: &WriterQueue,
    database: &Arc<std::fs::File>,
    last: Option<WalCheckpoint>,
    restart_at: i64,
) -> StoreResult<WalCheckpoint> {
    let timed = crate::timing::enabled();
    let started = std::time::Instant::now();
    let beside = checkpoint(pool).await?;
    if timed {
        crate::timing::checkpoint("checkpoint", beside.copied, started);
    }
    if beside.frames <= 0 || beside.frames < restart_at || Some(beside) == last {
        return Ok(beside);
    }
    // Else the turn's checkpoint, the first to reach the WAL's end, would
    // fsync every page the runs beside the writers copied since the last
    // one (12 ms median in the turn); flushed here, beside the writers, the
    // turn's fsync covers only the pages it copies itself (3 ms).
    let started = std::time::Instant::now();
    let file = database.clone();
    tokio::task::spawn_blocking(move || file.sync_data())
        .await
        .map_err(|error| StoreError::Unavailable(error.to_string()))?
        .map_err(|error| StoreError::Unavailable(format!("syncing the database file: {error}")))?;
    if timed {
        crate::timing::checkpoint("checkpoint_flush", beside.copied, started);
    }
    let started = std::time::Instant::now();
    let _turn = writers.turn(Writer::Ordinary).await;
    let rest = checkpoint(pool).await?;
    if timed {
        crate::timing::checkpoint("checkpoint_turn", rest.copied, started);
    }
    Ok(rest)
}

/// One `PASSIVE` checkpoint, which neither waits for nor blocks writers.
async fn checkpoint(pool: &AnyPool) -> StoreResult<WalCheckpoint> {
    let row = sqlx::query("pragma wal_checkpoint(passive)")
        .fetch_optional(pool)
        .await?;
    // No row: not in WAL mode (nothing to checkpoint). A row it cannot
    // read is an error, not "an empty WAL": the run's next step depends on it.
    let Some(row) = row else {
        return Ok(WalCheckpoint {
            frames: 0,
            copied: 0,
        });
    };
    Ok(WalCheckpoint {
        frames: row.try_get::<i64, _>(1)?,
        copied: row.try_get::<i64, _>(2)?,
    })
}

/// How long a PostgreSQL request waits for a pooled connection before it
/// fails: short, so a database outage is a quick 503, not a hung request.
pub const POSTGRES_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(1);

/// The channel commits notify on (PostgreSQL), see [`crate::feed`].
pub const CHANGE_CHANNEL: &str = "evo_session_changed";

/// A migration `migrate` applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedMigration {
    pub version: i64,
    pub description: String,
}

pub(crate) fn iso(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn parse_time(text: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|error| StoreError::Corrupt(format!("bad timestamp '{text}': {error}")))
}

/// The message of the `raise` in `session_commit_write` (migrations 0017, 0019):
/// the stored version is not the one the change was computed from.
const SESSION_CONFLICT: &str = "evo_session_conflict";

fn json<T: serde::Serialize + ?Sized>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|error| StoreError::Corrupt(error.to_string()))
}

/// A batch's changes as they are written: consecutive versions of one
/// session, each computed from the one before (a voice webhook's opened
/// session and its events, `SessionService::open_with`), are one change:
/// the events of all of them, the keys of all of them, the snapshot,
/// history row, log lines and endpoints of the last, checked against the
/// first's expected version. The rows left are those the versions would
/// leave written one by one (the last one's rewrite every row the others
/// write), so a version is merged only when its log lines start no later
/// than those of the versions before it (its rewrite covers theirs).
pub(crate) fn one_change_per_session(changes: &[SessionChange]) -> Vec<&[SessionChange]> {
    let mut units = Vec::new();
    let mut start = 0;
    let mut lowest_mark = usize::MAX;
    for (i, next) in changes.iter().enumerate() {
        if i > start {
            let previous = &changes[i - 1];
            let chained = next.session.id() == previous.session.id()
                && next.expected_version == Some(previous.session.version())
                && next.session.log_stored() <= lowest_mark;
            if !chained {
                units.push(&changes[start..i]);
                start = i;
                lowest_mark = usize::MAX;
            }
        }
        lowest_mark = lowest_mark.min(next.session.log_stored());
    }
    if start < changes.len() {
        units.push(&changes[start..]);
    }
    units
}

/// The arguments of one change's row in `session_commit` (SQLite): one
/// unit of [`one_change_per_session`].
struct CommitRow {
    session_id: String,
    account_id: String,
    expected_version: Option<i64>,
    /// The events, a JSON array of `[dedupe_key, at, event JSON]`.
    events: String,
    ended: bool,
    version: i64,
    last_activity: String,
    snapshot: String,
    columns: history::Columns,
    customer_id: Option<String>,
    endpoint_id: String,
    log_from: i64,
    log_lines: String,
    endpoint_ids: String,
    endpoints_ended: bool,
    keys: String,
}

impl CommitRow {
    /// `unit`: versions of one session, as [`one_change_per_session`]
    /// groups them (not empty).
    fn of(unit: &[SessionChange]) -> StoreResult<Self> {
        let (Some(first), Some(last)) = (unit.first(), unit.last()) else {
            return Err(StoreError::Corrupt("an empty change".to_string()));
        };
        let session = &last.session;
        let id = session.id().as_str();
        let (from, log) = crate::log::unstored(session)?;
        let lines: Vec<(String, &str)> = log
            .iter()
            .map(|entry| (iso(entry.at), entry.message.as_str()))
            .collect();
        let events = unit
            .iter()
            .filter_map(|change| change.event.as_ref())
            .map(|event| Ok((event.dedupe_key(), iso(event.at), json(event)?)))
            .collect::<StoreResult<Vec<_>>>()?;
        let keys: Vec<&String> = unit.iter().flat_map(|change| &change.keys).collect();
        Ok(CommitRow {
            session_id: id.to_string(),
            account_id: session.header().account_id.to_string(),
            expected_version: first.expected_version.map(|v| v as i64),
            events: json(&events)?,
            ended: !session.is_active(),
            version: session.version() as i64,
            last_activity: iso(session.last_activity()),
            // Without the log: its lines are rows (`crate::log`).
            snapshot: json(&session.snapshot())?,
            columns: history::Columns::of(session)?,
            customer_id: session.header().customer_id.as_deref().map(str::to_string),
            endpoint_id: session.header().endpoint_id.to_string(),
            log_from: from as i64,
            log_lines: json(&lines)?,
            endpoint_ids: json(&session.endpoint_ids())?,
            endpoints_ended: session.state().ended,
            keys: json(&keys)?,
        })
    }

    fn query(
        self,
        now: &str,
    ) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments<'static>> {
        let history::Columns {
            info_json,
            info_log_at,
            started_at,
            ended_at,
            from,
            to,
        } = self.columns;
        sqlx::query(
            "insert into session_commit (session_id, account_id, expected_version, written_at,
                 events, ended, version, last_activity, snapshot,
                 started_at, ended_at, customer_id, endpoint_id, from_address, to_address,
                 info, info_log_at, log_text, log_from, log_lines, endpoint_ids,
                 endpoints_ended, keys)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                 $17, $18, $19, $20, $21, $22, $23)",
        )
        .bind(self.session_id)
        .bind(self.account_id)
        .bind(self.expected_version)
        .bind(now.to_string())
        .bind(self.events)
        .bind(self.ended)
        .bind(self.version)
        .bind(self.last_activity)
        .bind(self.snapshot)
        .bind(started_at)
        .bind(ended_at)
        .bind(self.customer_id)
        .bind(self.endpoint_id)
        .bind(from)
        .bind(to)
        .bind(info_json)
        .bind(info_log_at)
        .bind(history::LOG_TEXT)
        .bind(self.log_from)
        .bind(self.log_lines)
        .bind(self.endpoint_ids)
        .bind(self.endpoints_ended)
        .bind(self.keys)
    }
}

/// Maps a unique-constraint violation to `Duplicate(what)`.
fn duplicate(what: impl Into<String>) -> impl FnOnce(sqlx::Error) -> StoreError {
    let what = what.into();
    move |error| match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Duplicate(what),
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
            StoreError::NotFound(format!("a record referenced by {what}"))
        }
        _ => StoreError::Database(error),
    }
}

impl SqlStore {
    /// `Store::commit` on SQLite: one statement per change (the view
    /// `session_commit` and its trigger, migrations 0017 and 0019; a
    /// session's consecutive versions are one change,
    /// [`one_change_per_session`]), its arguments computed before the
    /// writers' turn, so the write lock is held for BEGIN, one round trip
    /// to the connection's worker thread per change, and COMMIT (the
    /// fsync). PostgreSQL runs the statements one by one.
    async fn commit_sqlite(&self, changes: &[SessionChange]) -> StoreResult<()> {
        let now = iso(Utc::now());
        let units = one_change_per_session(changes);
        let rows = units
            .iter()
            .map(|unit| CommitRow::of(unit))
            .collect::<StoreResult<Vec<_>>>()?;
        let timed = crate::timing::enabled();
        let started = std::time::Instant::now();
        let _turn = self.writer_turn().await;
        if timed {
            crate::timing::each(changes, "commit_turn", started);
        }
        let started = std::time::Instant::now();
        let mut held = self.held_writer().await?;
        let written = async {
            let mut tx = held.conn()?.begin_with(WRITE_FULL).await?;
            for row in rows {
                let id = row.session_id.clone();
                row.query(&now)
                    .execute(&mut *tx)
                    .await
                    .map_err(|error| match &error {
                        // Dropping the transaction rolls the whole batch back.
                        sqlx::Error::Database(db) if db.message().contains(SESSION_CONFLICT) => {
                            StoreError::Conflict(id)
                        }
                        _ => StoreError::Database(error),
                    })?;
            }
            commit_timed(tx, changes, timed, started).await
        }
        .await;
        held.keep_unless_broken(&written);
        written
    }

    /// `writer`'s connection (SQLite), held between writes (`held`); the
    /// caller holds its writers' turn.
    async fn held_writer(&self) -> StoreResult<HeldWriter<'_>> {
        held_writer(&self.held, &self.writer).await
    }

    /// Indexes every search row the commits queued (SQLite), so that a
    /// contains-search that follows reads them from the FTS5 indexes.
    async fn index_queued_search(&self) -> StoreResult<()> {
        if let Some(indexer) = self.search_indexer() {
            while indexer.index_some().await? {}
        }
        Ok(())
    }

    /// The indexer of the queued search rows, sharing this store's writer
    /// connection and turns (SQLite only: `None` on PostgreSQL).
    fn search_indexer(&self) -> Option<SearchIndexer> {
        Some(SearchIndexer {
            pool: self.pool.clone(),
            writer: self.writer.clone(),
            held: self.held.clone(),
            writers: self.writers.clone()?,
        })
    }

    /// This process's turn to write (SQLite; see `writers`). Held until the
    /// write transaction has committed or rolled back.
    async fn writer_turn(&self) -> Option<Turn<'_>> {
        self.turn_as(Writer::Ordinary).await
    }

    async fn turn_as(&self, writer: Writer) -> Option<Turn<'_>> {
        match &self.writers {
            Some(writers) => Some(writers.turn(writer).await),
            None => None,
        }
    }

    /// A transaction that reads, then writes. On SQLite it takes the write
    /// lock at once (`BEGIN IMMEDIATE`): a deferred one that read first
    /// fails with `SQLITE_BUSY` without waiting when another connection
    /// commits between its read and its write (WAL's snapshot rule).
    async fn begin_write(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Opens (creating if needed) the embedded store in `data_dir` and
    /// applies pending migrations.
    pub async fn open_sqlite(data_dir: &Path) -> StoreResult<Self> {
        Self::open_sqlite_with(data_dir, PoolOptions::default()).await
    }

    /// [`SqlStore::open_sqlite`] with the pool sized by `options`.
    pub async fn open_sqlite_with(data_dir: &Path, options: PoolOptions) -> StoreResult<Self> {
        let mut store = Self::open_sqlite_unmigrated_with(data_dir, options).await?;
        store.migrate().await?;
        store._search_indexer = store.search_indexer().map(search_indexer);
        Ok(store)
    }

    /// Opens the embedded store without touching its schema (`migrate`
    /// does that).
    pub async fn open_sqlite_unmigrated(data_dir: &Path) -> StoreResult<Self> {
        Self::open_sqlite_unmigrated_with(data_dir, PoolOptions::default()).await
    }

    async fn open_sqlite_unmigrated_with(
        data_dir: &Path,
        pool_options: PoolOptions,
    ) -> StoreResult<Self> {
        std::fs::create_dir_all(data_dir).map_err(|error| {
            StoreError::Corrupt(format!("cannot create {}: {error}", data_dir.display()))
        })?;
        let url = format!("{}?mode=rwc", sqlite_url(data_dir));
        sqlx::any::install_default_drivers();
        // FULL: a commit is on disk before it returns, so an acknowledged
        // webhook survives a power cut. WAL lets readers run beside the
        // single writer.
        let pool = sqlite_pool(
            &url,
            pool_options.sqlite_connections(),
            "pragma synchronous = full;",
        )
        .await?;
        // One connection: the log's messages are written through `writer`
        // now; this one serves resumes and the feeds' bookkeeping.
        let events_pool = sqlite_pool(&url, 1, "pragma synchronous = normal;").await?;
        // Each transaction sets `synchronous` (`WRITE_FULL`,
        // `WRITE_NORMAL`); FULL until then. Its cache is never dropped (no
        // other connection writes), so it stays full: 1 MiB (SQLite's
        // default is 2 MiB), which holds the B-trees' upper pages and the
        // recent leaves, and keeps resident memory per active session near
        // where it was.
        let writer = sqlite_pool(
            &url,
            1,
            "pragma synchronous = full; pragma cache_size = -1024;",
        )
        .await?;
        let writers = Arc::new(WriterQueue::default());
        // Open for as long as the store: closing a descriptor of the
        // database file drops every POSIX lock this process holds on it,
        // SQLite's included, so it is closed only with the store.
        let database = std::fs::File::open(sqlite_file(data_dir)).map_err(|error| {
            StoreError::Corrupt(format!(
                "cannot open {}: {error}",
                sqlite_file(data_dir).display()
            ))
        })?;
        let checkpointer = Some(checkpoints(
            pool.clone(),
            writers.clone(),
            Arc::new(database),
        ));
        Ok(SqlStore {
            pool,
            events_pool,
            writer,
            held: Arc::default(),
            writers: Some(writers),
            backend: Backend::Sqlite,
            url: None,
            _checkpointer: checkpointer,
            _search_indexer: None,
        })
    }

    /// Connects to PostgreSQL and applies pending migrations.
    pub async fn connect_postgres(url: &str) -> StoreResult<Self> {
        Self::connect_postgres_with(url, PoolOptions::default()).await
    }

    /// [`SqlStore::connect_postgres`] with the pool sized by `options`.
    pub async fn connect_postgres_with(url: &str, options: PoolOptions) -> StoreResult<Self> {
        let store = Self::connect_postgres_unmigrated_with(url, options).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connects to PostgreSQL without touching its schema.
    pub async fn connect_postgres_unmigrated(url: &str) -> StoreResult<Self> {
        Self::connect_postgres_unmigrated_with(url, PoolOptions::default()).await
    }

    async fn connect_postgres_unmigrated_with(
        url: &str,
        pool_options: PoolOptions,
    ) -> StoreResult<Self> {
        sqlx::any::install_default_drivers();
        let options = AnyConnectOptions::from_str(url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(pool_options.postgres_connections())
            // The database gone must not hold requests for long: they fail
            // (503, Twilio retries) once no connection comes within this.
            .acquire_timeout(POSTGRES_ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        Ok(SqlStore {
            events_pool: pool.clone(),
            writer: pool.clone(),
            held: Arc::default(),
            pool,
            writers: None,
            backend: Backend::Postgres,
            url: Some(url.to_string()),
            _checkpointer: None,
            _search_indexer: None,
        })
    }

    fn migrator(&self) -> &'static sqlx::migrate::Migrator {
        match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }

    /// Applies the migrations the database lacks and returns them, oldest
    /// first. Refuses ([`StoreError::SchemaTooNew`]) a database migrated by
    /// a newer build: its schema may not be what this build writes.
    pub async fn migrate(&self) -> StoreResult<Vec<AppliedMigration>> {
        let before = self.applied_versions().await?;
        let known = self.migrator().iter().map(|m| m.version).max().unwrap_or(0);
        if let Some(newer) = before.iter().copied().find(|v| *v > known) {
            return Err(StoreError::SchemaTooNew {
                found: newer,
                known,
            });
        }
        self.migrator()
            .run(&self.pool)
            .await
            .map_err(|error| match error {
                sqlx::migrate::MigrateError::VersionMissing(found) => {
                    StoreError::SchemaTooNew { found, known }
                }
                other => StoreError::Database(other.into()),
            })?;
        history::backfill(&self.pool, self.backend).await?;
        Ok(self
            .migrator()
            .iter()
            .filter(|m| !before.contains(&m.version))
            .map(|m| AppliedMigration {
                version: m.version,
                description: m.description.to_string(),
            })
            .collect())
    }

    /// Versions recorded in `_sqlx_migrations` (none on a new database).
    async fn applied_versions(&self) -> StoreResult<Vec<i64>> {
        let exists = match self.backend {
            Backend::Sqlite => "select count(*) as n from sqlite_master where type = 'table' and name = '_sqlx_migrations'",
            Backend::Postgres => "select count(*) as n from pg_catalog.pg_tables where tablename = '_sqlx_migrations' and schemaname = current_schema()",
        };
        let n: i64 = sqlx::query(exists)
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?;
        if n == 0 {
            return Ok(Vec::new());
        }
        sqlx::query("select version from _sqlx_migrations order by version")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| row.try_get::<i64, _>("version").map_err(StoreError::from))
            .collect()
    }

    /// Sessions selected by `sql` (`select snapshot, log_rows ...` with
    /// text arguments), each with its whole log, read in one transaction
    /// so the snapshots and their log rows agree.
    async fn load_sessions(&self, sql: &str, args: &[String]) -> StoreResult<Vec<Session>> {
        let mut tx = crate::log::begin_read(&self.pool).await?;
        let mut query = sqlx::query(sql);
        for arg in args {
            query = query.bind(arg.as_str());
        }
        let snapshots = query
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(crate::log::snapshot_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        let sessions = crate::log::complete(&mut tx, snapshots).await?;
        tx.commit().await?;
        Ok(sessions)
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The plan the database chooses for a history query (page and count),
    /// so tests can check that no filter scans the session table.
    pub async fn explain_session_query(&self, query: &SessionQuery) -> StoreResult<Vec<String>> {
        history::explain(&self.pool, self.backend, query).await
    }

    async fn ring_users(&self, endpoint_id: &EndpointId) -> StoreResult<Vec<UserId>> {
        let rows = sqlx::query(
            "select user_id from endpoint_ring_user where endpoint_id = $1 order by position",
        )
        .bind(endpoint_id.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                row.try_get::<String, _>("user_id")
                    .map(UserId::from)
                    .map_err(StoreError::from)
            })
            .collect()
    }

    async fn endpoint_from_row(&self, row: &AnyRow) -> StoreResult<Endpoint> {
        let id: EndpointId = row.try_get::<String, _>("endpoint_id")?.into();
        let kind: String = row.try_get("kind")?;
        Ok(Endpoint {
            ring_user_ids: self.ring_users(&id).await?,
            id,
            account_id: row.try_get::<String, _>("account_id").map(Into::into)?,
            customer_id: row
                .try_get::<Option<String>, _>("customer_id")
                .map(|v| v.map(Into::into))?,
            kind: EndpointKind::parse(&kind)
                .ok_or_else(|| StoreError::Corrupt(format!("endpoint kind '{kind}'")))?,
            display_name: row.try_get("display_name")?,
            address: row.try_get("address")?,
            queue_name: row.try_get("queue_name")?,
        })
    }
}

fn account_from_row(row: &AnyRow) -> StoreResult<Account> {
    Ok(Account {
        id: row.try_get::<String, _>("account_id").map(Into::into)?,
        name: row.try_get("name")?,
        twilio_account_sid: row
            .try_get::<Option<String>, _>("twilio_account_sid")
            .map(|v| v.map(Into::into))?,
        twilio_auth_token: row
            .try_get::<Option<String>, _>("twilio_auth_token")?
            .map(evo_core::domain::Secret::from),
    })
}

fn customer_from_row(row: &AnyRow) -> StoreResult<Customer> {
    Ok(Customer {
        id: row.try_get::<String, _>("customer_id").map(Into::into)?,
        account_id: row.try_get::<String, _>("account_id").map(Into::into)?,
        parent_id: row
            .try_get::<Option<String>, _>("parent_id")
            .map(|v| v.map(Into::into))?,
        name: row.try_get("name")?,
    })
}

fn user_from_row(row: &AnyRow) -> StoreResult<User> {
    let roles: String = row.try_get("roles")?;
    Ok(User {
        id: row.try_get::<String, _>("user_id").map(Into::into)?,
        account_id: row.try_get::<String, _>("account_id").map(Into::into)?,
        email: row.try_get("email")?,
        display_name: row.try_get("display_name")?,
        password_hash: row.try_get("password_hash")?,
        roles: serde_json::from_str(&roles)
            .map_err(|error| StoreError::Corrupt(format!("roles: {error}")))?,
    })
}

fn auth_session_from_row(row: &AnyRow) -> StoreResult<AuthSession> {
    let created: String = row.try_get("created_at")?;
    let expires: String = row.try_get("expires_at")?;
    Ok(AuthSession {
        id: row.try_get("auth_session_id")?,
        user_id: row.try_get::<String, _>("user_id").map(Into::into)?,
        created_at: parse_time(&created)?,
        expires_at: parse_time(&expires)?,
    })
}

/// Inserts an endpoint and its ring list inside a transaction; `what`
/// names it in a duplicate error.
async fn insert_endpoint(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    endpoint: &Endpoint,
    what: String,
) -> StoreResult<()> {
    sqlx::query(&format!(
        "insert into endpoint ({ENDPOINT_COLUMNS}) values ($1, $2, $3, $4, $5, $6, $7)"
    ))
    .bind(endpoint.id.as_str())
    .bind(endpoint.account_id.as_str())
    .bind(endpoint.customer_id.as_deref())
    .bind(endpoint.kind.as_str())
    .bind(&endpoint.display_name)
    .bind(&endpoint.address)
    .bind(&endpoint.queue_name)
    .execute(&mut **tx)
    .await
    .map_err(duplicate(what))?;
    for (position, user_id) in endpoint.ring_user_ids.iter().enumerate() {
        sqlx::query(
            "insert into endpoint_ring_user (endpoint_id, user_id, position) values ($1, $2, $3) on conflict do nothing",
        )
        .bind(endpoint.id.as_str())
        .bind(user_id.as_str())
        .bind(position as i64)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Parked callbacks as rows of `pending_callback` give them: each event
/// once (by dedupe key), oldest first.
#[derive(Default)]
struct Parked {
    seen: std::collections::BTreeSet<String>,
    found: Vec<(String, SessionEvent)>,
}

impl Parked {
    fn add(&mut self, row: &AnyRow) -> StoreResult<()> {
        let dedupe: String = row.try_get("dedupe_key")?;
        if !self.seen.insert(dedupe) {
            return Ok(());
        }
        let text: String = row.try_get("event")?;
        let event = serde_json::from_str(&text)
            .map_err(|error| StoreError::Corrupt(format!("parked callback: {error}")))?;
        self.found.push((row.try_get("received_at")?, event));
        Ok(())
    }

    fn events(mut self) -> Vec<SessionEvent> {
        self.found.sort_by(|a, b| a.0.cmp(&b.0));
        self.found.into_iter().map(|(_, event)| event).collect()
    }
}

/// Ids per `in (…)` list: well under SQLite's 32,766 bound parameters and
/// PostgreSQL's 65,535.
pub(crate) const IN_LIST_CHUNK: usize = 500;

/// `$1, $2, …, $n`.
pub(crate) fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Rows whose key is one of `keys`: `select` (ending in `in`) run once per
/// [`IN_LIST_CHUNK`] keys, each row read with `from_row`.
pub(crate) async fn select_in_chunks<'k, T>(
    conn: &mut sqlx::AnyConnection,
    select: &str,
    keys: impl ExactSizeIterator<Item = &'k str>,
    from_row: fn(&AnyRow) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let keys: Vec<&str> = keys.collect();
    let mut found = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(IN_LIST_CHUNK) {
        let sql = format!("{select} ({})", placeholders(chunk.len()));
        let mut query = sqlx::query(&sql);
        for key in chunk {
            query = query.bind(*key);
        }
        for row in query.fetch_all(&mut *conn).await? {
            found.push(from_row(&row)?);
        }
    }
    Ok(found)
}

const ENDPOINT_COLUMNS: &str =
    "endpoint_id, account_id, customer_id, kind, display_name, address, queue_name";
const USER_COLUMNS: &str = "user_id, account_id, email, display_name, password_hash, roles";

#[async_trait]
impl Store for SqlStore {
    async fn create_account(&self, account: &Account) -> StoreResult<()> {
        sqlx::query("insert into account (account_id, name, twilio_account_sid, twilio_auth_token) values ($1, $2, $3, $4)")
            .bind(account.id.as_str())
            .bind(&account.name)
            .bind(account.twilio_account_sid.as_deref())
            .bind(account.twilio_auth_token.as_ref().map(|token| token.expose()))
            .execute(&self.pool)
            .await
            .map_err(duplicate(format!(
                "an account with Twilio AccountSid {}",
                account.twilio_account_sid.as_deref().unwrap_or("")
            )))?;
        Ok(())
    }

    async fn update_account_twilio(
        &self,
        account_id: &AccountId,
        twilio_account_sid: Option<&TwilioAccountSid>,
        twilio_auth_token: Option<&str>,
    ) -> StoreResult<()> {
        let result = sqlx::query("update account set twilio_account_sid = $1, twilio_auth_token = $2 where account_id = $3")
            .bind(twilio_account_sid.map(|sid| sid.as_str()))
            .bind(twilio_auth_token)
            .bind(account_id.as_str())
            .execute(&self.pool)
            .await
            .map_err(duplicate("an account with that Twilio AccountSid"))?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("account {account_id}")));
        }
        Ok(())
    }

    async fn account(&self, id: &AccountId) -> StoreResult<Option<Account>> {
        sqlx::query("select account_id, name, twilio_account_sid, twilio_auth_token from account where account_id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(account_from_row)
            .transpose()
    }

    async fn account_by_twilio_sid(
        &self,
        twilio_account_sid: &TwilioAccountSid,
    ) -> StoreResult<Option<Account>> {
        sqlx::query(
            "select account_id, name, twilio_account_sid, twilio_auth_token from account where twilio_account_sid = $1",
        )
        .bind(twilio_account_sid.as_str())
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(account_from_row)
        .transpose()
    }

    async fn accounts(&self) -> StoreResult<Vec<Account>> {
        sqlx::query("select account_id, name, twilio_account_sid, twilio_auth_token from account order by name")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(account_from_row)
            .collect()
    }

    async fn account_auth_tokens(&self, account_id: &AccountId) -> StoreResult<Vec<Secret>> {
        let primary: Option<Option<String>> =
            sqlx::query("select twilio_auth_token from account where account_id = $1")
                .bind(account_id.as_str())
                .fetch_optional(&self.pool)
                .await?
                .map(|row| row.try_get("twilio_auth_token"))
                .transpose()?;
        let Some(primary) = primary else {
            return Err(StoreError::NotFound(format!("account {account_id}")));
        };
        let added = sqlx::query(
            "select token from account_auth_token where account_id = $1 order by added_at, token",
        )
        .bind(account_id.as_str())
        .fetch_all(&self.pool)
        .await?;
        let mut tokens: Vec<Secret> = primary.into_iter().map(Secret::from).collect();
        for row in &added {
            tokens.push(Secret::from(row.try_get::<String, _>("token")?));
        }
        Ok(tokens)
    }

    async fn twilio_accounts(&self) -> StoreResult<TwilioAccounts> {
        // One statement, one snapshot: the generation row joined with every
        // account that has an AccountSid and its added tokens (none: one
        // row of nulls beside the generation).
        let rows = sqlx::query(
            "select g.value as generation, a.account_id, a.name, a.twilio_account_sid, \
             a.twilio_auth_token, t.token \
             from twilio_generation g \
             left join account a on a.twilio_account_sid is not null \
             left join account_auth_token t on t.account_id = a.account_id \
             where g.id = 1 \
             order by a.account_id, t.added_at, t.token",
        )
        .fetch_all(&self.pool)
        .await?;
        let Some(first) = rows.first() else {
            return Err(StoreError::Corrupt("no twilio_generation row".into()));
        };
        let generation: i64 = first.try_get("generation")?;
        let mut accounts: Vec<TwilioCredentials> = Vec::new();
        for row in &rows {
            let Some(account_id) = row.try_get::<Option<String>, _>("account_id")? else {
                continue;
            };
            if accounts
                .last()
                .is_none_or(|last| last.account.id.as_str() != account_id)
            {
                let account = account_from_row(row)?;
                let auth_tokens = account.twilio_auth_token.iter().cloned().collect();
                accounts.push(TwilioCredentials {
                    account,
                    auth_tokens,
                });
            }
            if let Some(token) = row.try_get::<Option<String>, _>("token")? {
                if let Some(last) = accounts.last_mut() {
                    last.auth_tokens.push(Secret::from(token));
                }
            }
        }
        Ok(TwilioAccounts {
            generation,
            accounts,
        })
    }

    async fn twilio_generation(&self) -> StoreResult<i64> {
        Ok(
            sqlx::query("select value from twilio_generation where id = 1")
                .fetch_one(&self.pool)
                .await?
                .try_get("value")?,
        )
    }

    async fn add_account_auth_token(
        &self,
        account_id: &AccountId,
        token: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let primary: Option<Option<String>> =
            sqlx::query("select twilio_auth_token from account where account_id = $1")
                .bind(account_id.as_str())
                .fetch_optional(&mut *tx)
                .await?
                .map(|row| row.try_get("twilio_auth_token"))
                .transpose()?;
        let duplicate_token = || StoreError::Duplicate("that auth token on the account".into());
        match primary {
            None => return Err(StoreError::NotFound(format!("account {account_id}"))),
            Some(Some(current)) if current == token => return Err(duplicate_token()),
            Some(None) => {
                sqlx::query("update account set twilio_auth_token = $1 where account_id = $2")
                    .bind(token)
                    .bind(account_id.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            Some(Some(_)) => {
                sqlx::query(
                    "insert into account_auth_token (account_id, token, added_at) values ($1, $2, $3)",
                )
                .bind(account_id.as_str())
                .bind(token)
                .bind(iso(at))
                .execute(&mut *tx)
                .await
                .map_err(duplicate("that auth token on the account"))?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn remove_account_auth_token(
        &self,
        account_id: &AccountId,
        token: &str,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let removed =
            sqlx::query("delete from account_auth_token where account_id = $1 and token = $2")
                .bind(account_id.as_str())
                .bind(token)
                .execute(&mut *tx)
                .await?;
        if removed.rows_affected() == 0 {
            // The primary: the newest added token takes its place.
            let newest: Option<String> = sqlx::query(
                "select token from account_auth_token where account_id = $1 order by added_at desc, token desc limit 1",
            )
            .bind(account_id.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .map(|row| row.try_get("token"))
            .transpose()?;
            let updated = sqlx::query(
                "update account set twilio_auth_token = $1 where account_id = $2 and twilio_auth_token = $3",
            )
            .bind(newest.as_deref())
            .bind(account_id.as_str())
            .bind(token)
            .execute(&mut *tx)
            .await?;
            if updated.rows_affected() == 0 {
                return Err(StoreError::NotFound(format!(
                    "that auth token on account {account_id}"
                )));
            }
            if let Some(newest) = newest {
                sqlx::query("delete from account_auth_token where account_id = $1 and token = $2")
                    .bind(account_id.as_str())
                    .bind(newest)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn create_customer(&self, customer: &Customer) -> StoreResult<()> {
        sqlx::query("insert into customer (customer_id, account_id, parent_id, name) values ($1, $2, $3, $4)")
            .bind(customer.id.as_str())
            .bind(customer.account_id.as_str())
            .bind(customer.parent_id.as_deref())
            .bind(&customer.name)
            .execute(&self.pool)
            .await
            .map_err(duplicate(format!("customer {}", customer.id)))?;
        Ok(())
    }

    async fn customer(&self, id: &CustomerId) -> StoreResult<Option<Customer>> {
        sqlx::query(
            "select customer_id, account_id, parent_id, name from customer where customer_id = $1",
        )
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(customer_from_row)
        .transpose()
    }

    async fn customer_breadcrumb(&self, customer_id: &CustomerId) -> StoreResult<Vec<Crumb>> {
        // Walks up the parents; the depth guard stops a corrupt cycle.
        let rows = sqlx::query(
            "with recursive chain (customer_id, parent_id, name, depth) as (
                 select customer_id, parent_id, name, 0 from customer where customer_id = $1
                 union all
                 select c.customer_id, c.parent_id, c.name, chain.depth + 1
                 from customer c join chain on c.customer_id = chain.parent_id
                 where chain.depth < 64
             )
             select customer_id, name from chain order by depth desc",
        )
        .bind(customer_id.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Crumb {
                    id: row.try_get::<String, _>("customer_id").map(Into::into)?,
                    name: row.try_get("name")?,
                })
            })
            .collect()
    }

    async fn create_endpoint(&self, endpoint: &Endpoint) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        insert_endpoint(
            &mut tx,
            endpoint,
            format!("phone number {}", endpoint.address),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn endpoint(&self, id: &EndpointId) -> StoreResult<Option<Endpoint>> {
        let row = sqlx::query(&format!(
            "select {ENDPOINT_COLUMNS} from endpoint where endpoint_id = $1"
        ))
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => Ok(Some(self.endpoint_from_row(&row).await?)),
            None => Ok(None),
        }
    }

    async fn endpoint_by_address(
        &self,
        account_id: &AccountId,
        address: &str,
    ) -> StoreResult<Option<Endpoint>> {
        let row = sqlx::query(&format!(
            "select {ENDPOINT_COLUMNS} from endpoint where account_id = $1 and address = $2 and kind = 'PhoneNumber'"
        ))
        .bind(account_id.as_str())
        .bind(address)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => Ok(Some(self.endpoint_from_row(&row).await?)),
            None => Ok(None),
        }
    }

    async fn endpoints(&self, account_id: &AccountId) -> StoreResult<Vec<Endpoint>> {
        let rows = sqlx::query(&format!(
            "select {ENDPOINT_COLUMNS} from endpoint where account_id = $1 order by display_name"
        ))
        .bind(account_id.as_str())
        .fetch_all(&self.pool)
        .await?;
        let mut endpoints = Vec::with_capacity(rows.len());
        for row in &rows {
            endpoints.push(self.endpoint_from_row(row).await?);
        }
        Ok(endpoints)
    }

    async fn endpoint_ids_of_user(&self, user_id: &UserId) -> StoreResult<Vec<EndpointId>> {
        let rows = sqlx::query(
            "select endpoint_id from endpoint_ring_user where user_id = $1 order by endpoint_id",
        )
        .bind(user_id.as_str())
        .fetch_all(&self.pool)
        .await?;
        let mut ids = vec![EndpointId::from(user_id.clone())];
        for row in rows {
            ids.push(row.try_get::<String, _>("endpoint_id")?.into());
        }
        Ok(ids)
    }

    async fn ring_assignments(&self) -> StoreResult<Vec<(EndpointId, UserId)>> {
        let rows = sqlx::query(
            "select endpoint_id, user_id from endpoint_ring_user order by user_id, endpoint_id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut pairs = Vec::with_capacity(rows.len());
        for row in rows {
            pairs.push((
                row.try_get::<String, _>("endpoint_id").map(Into::into)?,
                row.try_get::<String, _>("user_id").map(Into::into)?,
            ));
        }
        Ok(pairs)
    }

    async fn create_user(&self, user: &User, endpoint: &Endpoint) -> StoreResult<()> {
        let roles = serde_json::to_string(&user.roles)
            .map_err(|error| StoreError::Corrupt(error.to_string()))?;
        let mut tx = self.begin_write().await?;
        insert_endpoint(&mut tx, endpoint, format!("endpoint {}", endpoint.id)).await?;
        sqlx::query(&format!(
            "insert into app_user ({USER_COLUMNS}) values ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(user.id.as_str())
        .bind(user.account_id.as_str())
        .bind(&user.email)
        .bind(&user.display_name)
        .bind(&user.password_hash)
        .bind(&roles)
        .execute(&mut *tx)
        .await
        .map_err(duplicate(format!(
            "a user with e-mail address {}",
            user.email
        )))?;
        tx.commit().await?;
        Ok(())
    }

    async fn user(&self, id: &UserId) -> StoreResult<Option<User>> {
        sqlx::query(&format!(
            "select {USER_COLUMNS} from app_user where user_id = $1"
        ))
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(user_from_row)
        .transpose()
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        sqlx::query(&format!(
            "select {USER_COLUMNS} from app_user where lower(email) = lower($1)"
        ))
        .bind(email)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(user_from_row)
        .transpose()
    }

    async fn users(&self, account_id: &AccountId) -> StoreResult<Vec<User>> {
        sqlx::query(&format!(
            "select {USER_COLUMNS} from app_user where account_id = $1 order by email"
        ))
        .bind(account_id.as_str())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(user_from_row)
        .collect()
    }

    async fn create_api_key(&self, key: &ApiKeyRecord) -> StoreResult<()> {
        sqlx::query("insert into api_key (api_key_id, user_id, key_hash, created_at) values ($1, $2, $3, $4)")
            .bind(&key.id)
            .bind(key.user_id.as_str())
            .bind(&key.key_hash)
            .bind(iso(key.created_at))
            .execute(&self.pool)
            .await
            .map_err(duplicate("that API key"))?;
        Ok(())
    }

    async fn api_key_by_hash(&self, key_hash: &str) -> StoreResult<Option<ApiKeyRecord>> {
        let row = sqlx::query(
            "select api_key_id, user_id, key_hash, created_at from api_key where key_hash = $1",
        )
        .bind(key_hash)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => {
                let created: String = row.try_get("created_at")?;
                Ok(Some(ApiKeyRecord {
                    id: row.try_get("api_key_id")?,
                    user_id: row.try_get::<String, _>("user_id").map(Into::into)?,
                    key_hash: row.try_get("key_hash")?,
                    created_at: parse_time(&created)?,
                }))
            }
            None => Ok(None),
        }
    }

    async fn create_auth_session(&self, session: &AuthSession) -> StoreResult<()> {
        sqlx::query("insert into auth_session (auth_session_id, user_id, created_at, expires_at) values ($1, $2, $3, $4)")
            .bind(&session.id)
            .bind(session.user_id.as_str())
            .bind(iso(session.created_at))
            .bind(iso(session.expires_at))
            .execute(&self.pool)
            .await
            .map_err(duplicate("that sign-in session"))?;
        Ok(())
    }

    async fn auth_session(&self, id: &str) -> StoreResult<Option<AuthSession>> {
        sqlx::query("select auth_session_id, user_id, created_at, expires_at from auth_session where auth_session_id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(auth_session_from_row)
            .transpose()
    }

    async fn delete_auth_session(&self, id: &str) -> StoreResult<()> {
        sqlx::query("delete from auth_session where auth_session_id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn auth_sessions_by_ids(&self, ids: &[String]) -> StoreResult<Vec<AuthSession>> {
        select_in_chunks(
            &mut *self.pool.acquire().await?,
            "select auth_session_id, user_id, created_at, expires_at from auth_session where auth_session_id in",
            ids.iter().map(String::as_str),
            auth_session_from_row,
        )
        .await
    }

    async fn users_by_ids(&self, ids: &[UserId]) -> StoreResult<Vec<User>> {
        select_in_chunks(
            &mut *self.pool.acquire().await?,
            &format!("select {USER_COLUMNS} from app_user where user_id in"),
            ids.iter().map(UserId::as_str),
            user_from_row,
        )
        .await
    }

    async fn ring_generation(&self) -> StoreResult<i64> {
        Ok(
            sqlx::query("select value from ring_generation where id = 1")
                .fetch_one(&self.pool)
                .await?
                .try_get("value")?,
        )
    }

    async fn auth_generation(&self) -> StoreResult<i64> {
        Ok(
            sqlx::query("select value from auth_generation where id = 1")
                .fetch_one(&self.pool)
                .await?
                .try_get("value")?,
        )
    }

    async fn setting_or_init(&self, key: &str, initial: &str) -> StoreResult<String> {
        sqlx::query(
            "insert into setting (key, value) values ($1, $2) on conflict (key) do nothing",
        )
        .bind(key)
        .bind(initial)
        .execute(&self.pool)
        .await?;
        let row = sqlx::query("select value from setting where key = $1")
            .bind(key)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("value")?)
    }

    /// Multi-row statements (`bulk`) instead of the reference's commits.
    async fn load_ended_sessions(&self, sessions: &[crate::EndedSession]) -> StoreResult<()> {
        self.load_ended(sessions).await
    }

    async fn commit(&self, changes: &[SessionChange]) -> StoreResult<()> {
        if changes.is_empty() {
            return Ok(());
        }
        if self.backend == Backend::Sqlite {
            return self.commit_sqlite(changes).await;
        }
        let now = iso(Utc::now());
        let timed = crate::timing::enabled();
        let started = std::time::Instant::now();
        let _turn = self.writer_turn().await;
        if timed {
            crate::timing::each(changes, "commit_turn", started);
        }
        let started = std::time::Instant::now();
        let mut tx = self.begin_write().await?;
        for unit in one_change_per_session(changes) {
            let (Some(first), Some(last)) = (unit.first(), unit.last()) else {
                continue;
            };
            let session = &last.session;
            for event in unit.iter().filter_map(|change| change.event.as_ref()) {
                let json = serde_json::to_string(event)
                    .map_err(|error| StoreError::Corrupt(error.to_string()))?;
                // One write statement (no read first): in SQLite a
                // transaction that reads before it writes can fail to take
                // the write lock when another writer got there in between.
                sqlx::query(
                    "insert into session_event (session_id, position, dedupe_key, at, event, committed_at)
                     select $1, coalesce(max(position), 0) + 1, $2, $3, $4, $5
                     from session_event where session_id = $6
                     on conflict do nothing",
                )
                .bind(session.id().as_str())
                .bind(event.dedupe_key())
                .bind(iso(event.at))
                .bind(&json)
                .bind(&now)
                .bind(session.id().as_str())
                .execute(&mut *tx)
                .await?;
            }
            // Without the log: its lines are rows (`crate::log`).
            let snapshot = serde_json::to_string(&session.snapshot())
                .map_err(|error| StoreError::Corrupt(error.to_string()))?;
            let written = match first.expected_version {
                None => sqlx::query(
                    "insert into session (session_id, account_id, ended, version, last_activity, snapshot, written_at, log_rows)
                     values ($1, $2, $3, $4, $5, $6, $7, 1) on conflict do nothing",
                )
                .bind(session.id().as_str())
                .bind(session.header().account_id.as_str())
                .bind(!session.is_active())
                .bind(session.version() as i64)
                .bind(iso(session.last_activity()))
                .bind(&snapshot)
                .bind(&now)
                .execute(&mut *tx)
                .await?
                .rows_affected(),
                Some(expected) => sqlx::query(
                    "update session set ended = $1, version = $2, last_activity = $3, snapshot = $4, written_at = $5, log_rows = 1
                     where session_id = $6 and version = $7",
                )
                .bind(!session.is_active())
                .bind(session.version() as i64)
                .bind(iso(session.last_activity()))
                .bind(&snapshot)
                .bind(&now)
                .bind(session.id().as_str())
                .bind(expected as i64)
                .execute(&mut *tx)
                .await?
                .rows_affected(),
            };
            if written == 0 {
                // Dropping the transaction rolls the whole batch back.
                return Err(StoreError::Conflict(session.id().to_string()));
            }
            crate::log::write(&mut tx, self.backend, session).await?;
            history::write(&mut tx, self.backend, session).await?;
            for key in unit.iter().flat_map(|change| &change.keys) {
                // A key leads to the newest session that claimed it (a chat
                // conversation reopened after its session ended).
                sqlx::query(
                    "insert into session_key (key, session_id) values ($1, $2)
                     on conflict (key) do update set session_id = excluded.session_id",
                )
                .bind(key)
                .bind(session.id().as_str())
                .execute(&mut *tx)
                .await?;
            }
        }
        if self.backend == Backend::Postgres {
            // Delivered by PostgreSQL only if (and when) the transaction
            // commits, so other nodes never hear of a change that is not
            // durable; one notification per payload-sized chunk.
            for payload in crate::feed::payloads(changes.iter().map(|c| &c.session)) {
                sqlx::query("select pg_notify($1, $2)")
                    .bind(CHANGE_CHANNEL)
                    .bind(payload)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        commit_timed(tx, changes, timed, started).await
    }

    async fn session(&self, id: &SessionId) -> StoreResult<Option<Session>> {
        // One read transaction: the snapshot and its log rows agree.
        let mut tx = crate::log::begin_read(&self.pool).await?;
        let Some(stored) = crate::log::read_snapshot(&mut tx, id.as_str()).await? else {
            return Ok(None);
        };
        let session = crate::log::complete(&mut tx, vec![stored]).await?.pop();
        tx.commit().await?;
        Ok(session)
    }

    async fn session_for_event(
        &self,
        id: &SessionId,
        dedupe_key: &str,
    ) -> StoreResult<Option<crate::ForEvent>> {
        // One read transaction: the snapshot, its last log row and the
        // event log agree.
        let mut tx = crate::log::begin_read(&self.pool).await?;
        let Some(stored) = crate::log::read_snapshot(&mut tx, id.as_str()).await? else {
            return Ok(None);
        };
        let found = if stored.log_rows && !stored.session.carries_events() {
            let mut session = stored.session;
            let lines = crate::log::count(&mut tx, id.as_str()).await?;
            session.elide_log(lines);
            let applied = sqlx::query(
                "select 1 as found from session_event where session_id = $1 and dedupe_key = $2",
            )
            .bind(id.as_str())
            .bind(dedupe_key)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
            crate::ForEvent { session, applied }
        } else {
            // An older shape (log inline, or the events carried): whole.
            let session = crate::log::complete(&mut tx, vec![stored])
                .await?
                .pop()
                .ok_or_else(|| StoreError::Corrupt(format!("session {id}: not completed")))?;
            let applied = !evo_core::reducer::is_new_key(&session, dedupe_key);
            crate::ForEvent { session, applied }
        };
        tx.commit().await?;
        Ok(Some(found))
    }

    async fn session_id_by_key(&self, key: &str) -> StoreResult<Option<SessionId>> {
        let row = sqlx::query("select session_id from session_key where key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(row) => Some(row.try_get::<String, _>("session_id").map(Into::into)?),
            None => None,
        })
    }

    async fn active_sessions(&self) -> StoreResult<Vec<Session>> {
        // `not ended` matches the partial index `session_active`.
        let condition = match self.backend {
            Backend::Sqlite => "ended = 0",
            Backend::Postgres => "not ended",
        };
        self.load_sessions(
            &format!("select snapshot, log_rows from session where {condition}"),
            &[],
        )
        .await
    }

    async fn sessions_written_since(&self, since: DateTime<Utc>) -> StoreResult<Vec<Session>> {
        self.load_sessions(
            "select snapshot, log_rows from session where written_at >= $1",
            &[iso(since)],
        )
        .await
    }

    async fn sessions_by_id(&self, ids: &[SessionId]) -> StoreResult<Vec<Session>> {
        let mut sessions = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(IN_LIST_CHUNK) {
            let sql = format!(
                "select snapshot, log_rows from session where session_id in ({})",
                placeholders(chunk.len())
            );
            let args: Vec<String> = chunk.iter().map(|id| id.to_string()).collect();
            sessions.extend(self.load_sessions(&sql, &args).await?);
        }
        Ok(sessions)
    }

    async fn change_listener(&self) -> StoreResult<Option<crate::feed::ChangeListener>> {
        match &self.url {
            Some(url) if self.backend == Backend::Postgres => {
                Ok(Some(crate::feed::ChangeListener::connect(url).await?))
            }
            _ => Ok(None),
        }
    }

    async fn session_events(&self, session_id: &SessionId) -> StoreResult<Vec<SessionEvent>> {
        let rows =
            sqlx::query("select event from session_event where session_id = $1 order by position")
                .bind(session_id.as_str())
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|row| {
                let text: String = row.try_get("event")?;
                serde_json::from_str(&text)
                    .map_err(|error| StoreError::Corrupt(format!("session event: {error}")))
            })
            .collect()
    }

    async fn park_callback(
        &self,
        account_id: &AccountId,
        keys: &[String],
        event: &SessionEvent,
    ) -> StoreResult<()> {
        let json =
            serde_json::to_string(event).map_err(|error| StoreError::Corrupt(error.to_string()))?;
        let now = iso(Utc::now());
        let _turn = self.writer_turn().await;
        let mut tx = self.begin_write().await?;
        for key in keys {
            sqlx::query(
                "insert into pending_callback (account_id, lookup_key, dedupe_key, received_at, event)
                 values ($1, $2, $3, $4, $5) on conflict do nothing",
            )
            .bind(account_id.as_str())
            .bind(key)
            .bind(event.dedupe_key())
            .bind(&now)
            .bind(&json)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn parked_callbacks(
        &self,
        account_id: &AccountId,
        keys: &[String],
    ) -> StoreResult<Vec<SessionEvent>> {
        let mut parked = Parked::default();
        for key in keys {
            let rows = sqlx::query(
                "select dedupe_key, received_at, event from pending_callback
                 where account_id = $1 and lookup_key = $2",
            )
            .bind(account_id.as_str())
            .bind(key)
            .fetch_all(&self.pool)
            .await?;
            for row in &rows {
                parked.add(row)?;
            }
        }
        Ok(parked.events())
    }

    async fn parked_unless_stored(
        &self,
        id: &SessionId,
        account_id: &AccountId,
        keys: &[String],
    ) -> StoreResult<Option<Vec<SessionEvent>>> {
        if keys.len() > IN_LIST_CHUNK {
            if self.session(id).await?.is_some() {
                return Ok(None);
            }
            return self.parked_callbacks(account_id, keys).await.map(Some);
        }
        // One statement: whether the session is stored, beside every row
        // parked under the keys (none: one row of nulls).
        let parked = if keys.is_empty() {
            String::new()
        } else {
            format!(
                " left join pending_callback p on p.account_id = $2 and p.lookup_key in ({}) \
                 order by p.received_at",
                (3..3 + keys.len())
                    .map(|i| format!("${i}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let columns = if keys.is_empty() {
            ""
        } else {
            ", p.dedupe_key, p.received_at, p.event"
        };
        let statement = format!(
            "select (select count(*) from session where session_id = $1) as stored{columns} \
             from (select 1 as one) one{parked}"
        );
        let mut query = sqlx::query(&statement).bind(id.as_str());
        if !keys.is_empty() {
            query = query.bind(account_id.as_str());
            for key in keys {
                query = query.bind(key.as_str());
            }
        }
        let rows = query.fetch_all(&self.pool).await?;
        let Some(first) = rows.first() else {
            return Err(StoreError::Corrupt("open read: no row".into()));
        };
        if first.try_get::<i64, _>("stored")? != 0 {
            return Ok(None);
        }
        let mut parked = Parked::default();
        if !keys.is_empty() {
            for row in &rows {
                if row.try_get::<Option<String>, _>("dedupe_key")?.is_some() {
                    parked.add(row)?;
                }
            }
        }
        Ok(Some(parked.events()))
    }

    async fn drop_parked_callbacks(
        &self,
        account_id: &AccountId,
        keys: &[String],
    ) -> StoreResult<()> {
        let _turn = self.writer_turn().await;
        let mut tx = self.begin_write().await?;
        for key in keys {
            // The same callbacks parked under their other SIDs go too.
            sqlx::query(
                "delete from pending_callback where account_id = $1 and dedupe_key in
                 (select dedupe_key from pending_callback where account_id = $2 and lookup_key = $3)",
            )
            .bind(account_id.as_str())
            .bind(account_id.as_str())
            .bind(key)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn expire_parked_callbacks(&self, received_before: DateTime<Utc>) -> StoreResult<u64> {
        // `received_at` is written by `iso`, whose fixed width makes text
        // order time order.
        Ok(
            sqlx::query("delete from pending_callback where received_at < $1")
                .bind(iso(received_before))
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }

    async fn list_session_infos(&self, query: &SessionQuery) -> StoreResult<SessionInfoPage> {
        // A search reads the FTS5 indexes: what the commits before it
        // queued is indexed first (the indexer's batch, at once).
        if self.backend == Backend::Sqlite && history::searching(query) {
            self.index_queued_search().await?;
        }
        history::list(&self.pool, self.backend, query).await
    }

    async fn session_info(&self, id: &SessionId) -> StoreResult<Option<StoredSessionInfo>> {
        history::one(&self.pool, id).await
    }

    async fn check_ready(&self) -> StoreResult<()> {
        let migrator = self.migrator();
        let row = sqlx::query("select count(*) as applied from _sqlx_migrations where success")
            .fetch_one(&self.pool)
            .await?;
        let applied: i64 = row.try_get("applied")?;
        let known = migrator.iter().count() as i64;
        if applied < known {
            return Err(StoreError::Corrupt(format!(
                "{applied} of {known} migrations applied"
            )));
        }
        Ok(())
    }

    async fn prune_ended_sessions(&self, before: DateTime<Utc>, limit: u32) -> StoreResult<u64> {
        // `ended` and `last_activity` match the partial index of migration 0008.
        let ended = match self.backend {
            Backend::Sqlite => "ended = 1",
            Backend::Postgres => "ended",
        };
        let _turn = self.writer_turn().await;
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(&format!(
            "select session_id from session where {ended} and last_activity < $1 order by last_activity limit $2"
        ))
        .bind(iso(before))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        let mut pruned = 0;
        for row in &rows {
            let id: String = row.try_get("session_id")?;
            // The history rows too (migration 0003): the search index is
            // keyed by the session row's rowid on SQLite, so it goes first.
            if self.backend == Backend::Sqlite {
                // Its search row, indexed or still queued (migration 0025).
                for statement in [
                    "delete from session_search where rowid =
                         (select rowid from session where session_id = $1)",
                    "delete from session_search_pending where row_id =
                         (select rowid from session where session_id = $1)",
                ] {
                    sqlx::query(statement).bind(&id).execute(&mut *tx).await?;
                }
            }
            crate::log::delete(&mut tx, self.backend, &id).await?;
            for table in ["session_event", "session_key", "session_endpoint"] {
                sqlx::query(&format!("delete from {table} where session_id = $1"))
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
            }
            // Checked again here: a session reopened meanwhile is kept.
            pruned += sqlx::query(&format!(
                "delete from session where session_id = $1 and {ended}"
            ))
            .bind(&id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        Ok(pruned)
    }

    async fn backup_into(&self, target: &Path) -> StoreResult<()> {
        if self.backend != Backend::Sqlite {
            return Err(StoreError::Corrupt(
                "online backup is for the embedded store; back PostgreSQL up with pg_dump"
                    .to_string(),
            ));
        }
        if target.exists() {
            return Err(StoreError::Duplicate(format!("{}", target.display())));
        }
        // One read transaction: a consistent snapshot while writers go on (WAL).
        sqlx::query("vacuum into $1")
            .bind(target.display().to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn follow_event_feed(
        &self,
        feed: &crate::events::EventFeed,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<crate::events::FeedPosition> {
        let _turn = self.writer_turn().await;
        crate::events::follow(&self.events_pool, feed, now, until).await
    }

    async fn extend_event_feeds(
        &self,
        user_ids: &[UserId],
        until: DateTime<Utc>,
    ) -> StoreResult<()> {
        let _turn = self.writer_turn().await;
        crate::events::extend(&self.events_pool, user_ids, until).await
    }

    async fn followed_event_feeds(
        &self,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<crate::events::EventFeed>> {
        crate::events::followed(&self.events_pool, now).await
    }

    async fn unfollow_event_feeds(&self, user_ids: &[UserId]) -> StoreResult<()> {
        let _turn = self.writer_turn().await;
        crate::events::unfollow(&self.events_pool, user_ids).await
    }

    async fn append_event_messages(
        &self,
        messages: &[crate::events::NewEventMessage],
        at: DateTime<Utc>,
    ) -> StoreResult<Vec<Option<u64>>> {
        // Short (no fsync on SQLite) and a message waits for it: it may go
        // before queued session commits.
        let timed = crate::timing::enabled();
        let started = std::time::Instant::now();
        let _turn = self.turn_as(Writer::EventLog).await;
        if timed {
            crate::timing::messages(messages, "log_turn", started);
        }
        let started = std::time::Instant::now();
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        let appended = match self.backend {
            Backend::Sqlite => {
                let mut held = self.held_writer().await?;
                let appended = async {
                    crate::events::append_sqlite(held.conn()?, WRITE_NORMAL, messages, at).await
                }
                .await;
                held.keep_unless_broken(&appended);
                appended
            }
            Backend::Postgres => crate::events::append(&self.events_pool, messages, at).await,
        };
        if timed {
            crate::timing::messages(messages, "log_write", started);
        }
        appended
    }

    async fn event_messages_after(
        &self,
        user_id: &UserId,
        after: u64,
        limit: u32,
    ) -> StoreResult<crate::events::EventReplay> {
        crate::events::after(&self.events_pool, user_id, after, limit).await
    }

    async fn prune_event_messages(&self, keep: u64, before: DateTime<Utc>) -> StoreResult<u64> {
        let _turn = self.writer_turn().await;
        crate::events::prune(&self.events_pool, keep, before).await
    }

    async fn event_writer_start(
        &self,
        node_id: &str,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let _turn = self.writer_turn().await;
        crate::events::writer_start(&self.pool, self.backend, node_id, now, stale_before).await
    }

    async fn event_writer_seen(&self, node_id: &str, now: DateTime<Utc>) -> StoreResult<()> {
        let _turn = self.writer_turn().await;
        crate::events::writer_seen(&self.pool, node_id, now).await
    }

    async fn event_writer_renew(
        &self,
        node_id: &str,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let _turn = self.writer_turn().await;
        crate::events::writer_renew(&self.pool, node_id, now, stale_before).await
    }

    async fn event_writer_stop(&self, node_id: &str) -> StoreResult<()> {
        let _turn = self.writer_turn().await;
        crate::events::writer_stop(&self.pool, node_id).await
    }
}

#[cfg(test)]
mod one_change_tests {
    use super::one_change_per_session;
    use crate::SessionChange;
    use chrono::{TimeZone, Utc};
    use evo_core::scenario::{build, Kind, Scenario};

    fn plan(tag: &str) -> Scenario {
        build(
            Kind::HoldUnhold,
            &crate::testing::one_agent_cast(),
            tag,
            Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap(),
        )
    }

    /// The open and `count` events of `plan`, each version from the last.
    fn versions(plan: &Scenario, count: usize) -> Vec<SessionChange> {
        crate::testing::consecutive_versions(plan, count, "CA1".into())
    }

    fn sizes(changes: &[SessionChange]) -> Vec<usize> {
        one_change_per_session(changes)
            .iter()
            .map(|unit| unit.len())
            .collect()
    }

    #[test]
    fn consecutive_versions_of_one_session_are_one_change() {
        let a = versions(&plan("A"), 3);
        assert_eq!(sizes(&a), vec![4]);
        assert_eq!(sizes(&[]), Vec::<usize>::new());
        // Another session between them, or after: its own change.
        let b = versions(&plan("B"), 1);
        let mut mixed = a[..2].to_vec();
        mixed.extend(b.clone());
        mixed.extend(a[2..].to_vec());
        assert_eq!(sizes(&mixed), vec![2, 2, 2]);
    }

    #[test]
    fn a_version_not_computed_from_the_one_before_is_its_own_change() {
        let mut stale = versions(&plan("A"), 3);
        stale[2].expected_version = Some(stale[1].session.version() + 7);
        assert_eq!(sizes(&stale), vec![2, 2]);
        // The same session opened twice (a retried open): two changes, the
        // second refused by the store.
        let twice = [versions(&plan("A"), 1), versions(&plan("A"), 1)].concat();
        assert_eq!(sizes(&twice), vec![2, 2]);
    }

    #[test]
    fn a_version_whose_lines_start_later_than_an_earlier_ones_is_its_own_change() {
        let mut changes = versions(&plan("A"), 3);
        // Stored up to its end: its lines start after those of the
        // versions before, which it would not rewrite.
        changes[2].session.mark_log_stored();
        assert!(changes[2].session.log_stored() > changes[1].session.log_stored());
        assert_eq!(sizes(&changes), vec![2, 2]);
        // Lines starting earlier (or at the same place) are rewritten: one.
        let mut changes = versions(&plan("A"), 3);
        changes[0].session.mark_log_stored();
        changes[2].session.mark_log_stored();
        assert_eq!(sizes(&changes), vec![2, 2]);
    }
}

#[cfg(test)]
mod checkpoint_tests {
    use super::*;
    use crate::Store;
    use evo_core::scenario::{build, Kind};
    use std::sync::atomic::{AtomicBool, Ordering};

    /// How many times the WAL has started over: its header's checkpoint
    /// sequence number (bytes 12-15, big-endian), which SQLite counts up
    /// each time.
    fn wal_restarts(data_dir: &Path) -> u32 {
        let header = std::fs::read(data_dir.join("evo-voice.db-wal")).expect("the WAL file");
        let sequence: [u8; 4] = header[12..16].try_into().expect("a WAL header");
        u32::from_be_bytes(sequence)
    }

    /// Session commits, one after another, until `stop`; returns how many.
    async fn commit_until(store: Arc<SqlStore>, stop: Arc<AtomicBool>) -> usize {
        let at = DateTime::parse_from_rfc3339("2026-03-01T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut commits = 0;
        while !stop.load(Ordering::Relaxed) {
            let tag = format!("W{commits}");
            let plan = build(
                Kind::HoldUnhold,
                &crate::testing::one_agent_cast(),
                &tag,
                at,
            );
            let changes = crate::testing::consecutive_versions(&plan, 2, format!("CA{tag}"));
            store.commit(&changes).await.unwrap();
            commits += 1;
        }
        commits
    }

    /// While session commits go on, each run of the checkpointer ends with
    /// the whole WAL in the database file (the second checkpoint, in the
    /// writers' turn, copies what the commits added during the first), so
    /// the next commit starts the WAL over from its beginning and the WAL
    /// file stays a run or two long, far below the backstop
    /// ([`CONNECTION_PRAGMAS`]) it used to reach.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_checkpoint_run_copies_the_whole_wal_while_commits_go_on() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqlStore::open_sqlite(dir.path()).await.unwrap());
        let writers = store.writers.clone().unwrap();
        let database = Arc::new(std::fs::File::open(sqlite_file(dir.path())).unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let committing = tokio::spawn(commit_until(store.clone(), stop.clone()));
        let restarts_before = wal_restarts(dir.path());
        let (mut written, mut longest) = (0, 0);
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(25)).await;
            let run = checkpoint_run(&store.pool, &writers, &database, None, 0)
                .await
                .unwrap();
            assert_eq!(run.copied, run.frames, "{run:?}");
            written += run.frames;
            longest = longest.max(run.frames);
        }
        stop.store(true, Ordering::Relaxed);
        let commits = committing.await.unwrap();
        let wal = std::fs::metadata(dir.path().join("evo-voice.db-wal"))
            .unwrap()
            .len();
        // A frame is a 24-byte header and a 4 KiB page.
        let wal_frames = (wal as i64 - 32) / (24 + 4096);
        assert!(commits >= 40, "{commits} commits");
        // SQLite started the WAL over after (nearly) every run, where a
        // checkpoint beside the commits alone never reached its end.
        let restarts = wal_restarts(dir.path()) - restarts_before;
        assert!(
            restarts >= 30,
            "the WAL started over {restarts} times in 40 runs"
        );
        // So the file holds about one run's frames (two should a reader
        // have kept it from starting over once), a small part of what was
        // written through it.
        assert!(
            wal_frames <= 2 * longest && 4 * wal_frames < written,
            "{wal_frames} frames in the WAL file, {longest} at most in one run, {written} written"
        );
    }
}
