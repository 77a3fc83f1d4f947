//! evo-store: persistence behind one trait, [`Store`], with an embedded
//! SQLite implementation (the default) and a PostgreSQL one (several nodes).
//!
//! What is stored: the directory (accounts, customers, endpoints, users,
//! API keys, sign-in sessions, settings) and, for call sessions, an
//! append-only event log plus the current snapshot of each session and its
//! log lines as rows (the snapshot leaves them out, migration 0013), written
//! in one transaction per batch of changes.
//!
//! Invariants:
//! - a [`SessionChange`] is durable when `commit` returns `Ok` (the server
//!   acknowledges webhooks only after that);
//! - the snapshot and its events are written in the same transaction, so a
//!   crash never leaves one without the other;
//! - listing active sessions reads only rows of live sessions (a partial
//!   index), never the ended history;
//! - history reads (`list_session_infos`, `session_info`) are served by
//!   indexes and return the `SessionInfo` JSON rendered at commit time
//!   (with evo-wire, the one place this crate touches a wire format);
//! - this crate knows nothing of HTTP or Twilio.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use evo_core::domain::{Account, Crumb, Customer, Endpoint, Secret, User};
use evo_core::event::SessionEvent;
use evo_core::ids::{AccountId, CustomerId, EndpointId, SessionId, TwilioAccountSid, UserId};
use evo_core::session::Session;
pub use history::{SessionInfoPage, SessionQuery, SessionScope, StoredSessionInfo};

/// A per-user API key, stored by the SHA-256 of the key (the key itself is
/// shown once and never stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub id: String,
    pub user_id: UserId,
    /// Lowercase hex SHA-256 of the full key text.
    pub key_hash: String,
    pub created_at: DateTime<Utc>,
}

/// A server-side sign-in session (the `ss-id`/`ss-pid` cookie, or a refresh
/// token's id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSession {
    pub id: String,
    pub user_id: UserId,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// An account whose webhooks Twilio signs, with every auth token they may
/// be signed with: the primary first, then the added ones, oldest first
/// (what [`Store::account_auth_tokens`] returns).
#[derive(Debug, Clone)]
pub struct TwilioCredentials {
    pub account: Account,
    pub auth_tokens: Vec<Secret>,
}

/// Every account with a Twilio `AccountSid` and its tokens, read in one
/// statement together with the twilio generation they reflect
/// ([`Store::twilio_accounts`]).
#[derive(Debug, Clone)]
pub struct TwilioAccounts {
    /// [`Store::twilio_generation`] as the same statement saw it.
    pub generation: i64,
    pub accounts: Vec<TwilioCredentials>,
}

/// A session read for one event (`Store::session_for_event`).
#[derive(Debug)]
pub struct ForEvent {
    /// The session, without its log lines and dedupe keys unless it is
    /// stored in an older shape (then complete).
    pub session: Session,
    /// Whether the event log holds the event already (a duplicate).
    pub applied: bool,
}

/// One change to one call session: its new snapshot, the event that produced
/// it (none when the session is opened), and lookup keys (call SIDs,
/// conference SIDs, conversation keys) that lead to it.
#[derive(Debug, Clone)]
pub struct SessionChange {
    pub session: Session,
    pub event: Option<SessionEvent>,
    /// The snapshot version this change was computed from (`None` when the
    /// session is new). A commit fails with [`StoreError::Conflict`] when the
    /// stored version differs, so two writers never lose each other's events.
    pub expected_version: Option<u64>,
    pub keys: Vec<String>,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique value (e-mail address, phone number, key) is already taken.
    #[error("{0} already exists")]
    Duplicate(String),
    /// A referenced row (account, customer, user) does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// A session changed underneath the writer; reload and apply again.
    #[error("session {0} was changed concurrently")]
    Conflict(String),
    /// The database was migrated by a newer evo-voice (it has migration
    /// `found`; this build knows up to `known`).
    #[error("the database schema is newer than this build of evo-voice knows (it has migration {found}, this build knows up to {known}): upgrade evo-voice, or restore a backup taken before the upgrade")]
    SchemaTooNew { found: i64, known: i64 },
    /// The database could not be reached (a copy of such a `Database`
    /// error, for the several callers of one failed grouped commit).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A stored document could not be read back.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Whether the database could not be reached (no connection within
    /// the pool's wait, connection lost) rather than refused a statement.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Unavailable(_) => true,
            StoreError::Database(error) => unreachable_database(error),
            _ => false,
        }
    }
}

/// Whether a driver error means the database could not be reached.
pub(crate) fn unreachable_database(error: &sqlx::Error) -> bool {
    match error {
        // SQLSTATE classes 08 (connection exception) and 57 (operator
        // intervention: shutdown, terminated connection).
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57")),
        other => matches!(
            other,
            sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::Protocol(_)
                | sqlx::Error::WorkerCrashed
        ),
    }
}

/// Result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// Everything evo-voice persists. Implementations: [`sqlite::SqliteStore`]
/// and [`postgres::PostgresStore`].
#[async_trait]
pub trait Store: Send + Sync + 'static {
    // --- directory ---------------------------------------------------------
    async fn create_account(&self, account: &Account) -> StoreResult<()>;
    async fn update_account_twilio(
        &self,
        account_id: &AccountId,
        twilio_account_sid: Option<&TwilioAccountSid>,
        twilio_auth_token: Option<&str>,
    ) -> StoreResult<()>;
    async fn account(&self, id: &AccountId) -> StoreResult<Option<Account>>;
    async fn account_by_twilio_sid(
        &self,
        twilio_account_sid: &TwilioAccountSid,
    ) -> StoreResult<Option<Account>>;
    async fn accounts(&self) -> StoreResult<Vec<Account>>;
    /// Every Twilio auth token currently accepted for the account's
    /// webhooks: the primary (`Account::twilio_auth_token`, used for REST)
    /// first, then the added ones, oldest first. Empty for an account
    /// without Twilio credentials; `NotFound` for an unknown account.
    async fn account_auth_tokens(&self, account_id: &AccountId) -> StoreResult<Vec<Secret>>;
    /// Adds a token (rotation: the new one, before Twilio promotes it). It
    /// becomes the primary when the account has none. `Duplicate` when the
    /// account already has it.
    async fn add_account_auth_token(
        &self,
        account_id: &AccountId,
        token: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Removes a token (rotation: the old one, once Twilio no longer signs
    /// with it). Removing the primary promotes the newest added token.
    /// `NotFound` when the account does not have it.
    async fn remove_account_auth_token(
        &self,
        account_id: &AccountId,
        token: &str,
    ) -> StoreResult<()>;
    /// Every account with a Twilio `AccountSid` and its auth tokens, with
    /// the twilio generation, in one statement (one snapshot: the accounts
    /// are exactly those of that generation). The server's webhook
    /// verifier holds them in memory.
    async fn twilio_accounts(&self) -> StoreResult<TwilioAccounts>;
    /// A counter that moves whenever an account or an auth token is
    /// inserted, changed or deleted, by this node, another node or plain
    /// SQL (triggers, migration 0020), in the changing transaction: one
    /// row, read by the server's directory reload, which re-reads
    /// [`Store::twilio_accounts`] only when the value moved.
    async fn twilio_generation(&self) -> StoreResult<i64>;

    async fn create_customer(&self, customer: &Customer) -> StoreResult<()>;
    async fn customer(&self, id: &CustomerId) -> StoreResult<Option<Customer>>;
    /// The path from the root customer down to `customer_id` (inclusive).
    async fn customer_breadcrumb(&self, customer_id: &CustomerId) -> StoreResult<Vec<Crumb>>;

    /// Creates a phone number (or other non-user) endpoint.
    async fn create_endpoint(&self, endpoint: &Endpoint) -> StoreResult<()>;
    async fn endpoint(&self, id: &EndpointId) -> StoreResult<Option<Endpoint>>;
    /// A phone number endpoint by its E.164 address, within an account.
    async fn endpoint_by_address(
        &self,
        account_id: &AccountId,
        address: &str,
    ) -> StoreResult<Option<Endpoint>>;
    async fn endpoints(&self, account_id: &AccountId) -> StoreResult<Vec<Endpoint>>;
    /// The endpoints whose sessions a user sees: the user's own endpoint
    /// and every phone number that rings the user.
    async fn endpoint_ids_of_user(&self, user_id: &UserId) -> StoreResult<Vec<EndpointId>>;
    /// Every (phone number endpoint, user it rings) pair: the server keeps
    /// the whole relation in memory so that reads never ask the store.
    async fn ring_assignments(&self) -> StoreResult<Vec<(EndpointId, UserId)>>;
    /// A counter that moves whenever a ring assignment (what
    /// [`Store::ring_assignments`] returns) is inserted, changed or
    /// deleted, by this node, another node or plain SQL (triggers,
    /// migration 0016), in the changing transaction: one row, read by the
    /// server's directory reload, which re-reads the assignments only when
    /// the value moved.
    async fn ring_generation(&self) -> StoreResult<i64>;

    /// Creates a user together with its user endpoint (same id), atomically.
    async fn create_user(&self, user: &User, endpoint: &Endpoint) -> StoreResult<()>;
    async fn user(&self, id: &UserId) -> StoreResult<Option<User>>;
    /// Case-insensitive lookup by e-mail address.
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>>;
    async fn users(&self, account_id: &AccountId) -> StoreResult<Vec<User>>;

    async fn create_api_key(&self, key: &ApiKeyRecord) -> StoreResult<()>;
    async fn api_key_by_hash(&self, key_hash: &str) -> StoreResult<Option<ApiKeyRecord>>;

    async fn create_auth_session(&self, session: &AuthSession) -> StoreResult<()>;
    async fn auth_session(&self, id: &str) -> StoreResult<Option<AuthSession>>;
    async fn delete_auth_session(&self, id: &str) -> StoreResult<()>;
    /// The stored sign-in sessions among `ids` (missing ones left out, in
    /// no particular order), read in a few queries however many ids: the
    /// authenticator re-checks its cached tokens' sessions in batches.
    async fn auth_sessions_by_ids(&self, ids: &[String]) -> StoreResult<Vec<AuthSession>>;
    /// The stored users among `ids` (missing ones left out, in no
    /// particular order), read in a few queries however many ids.
    async fn users_by_ids(&self, ids: &[UserId]) -> StoreResult<Vec<User>>;
    /// A counter that moves whenever a user or a sign-in session is
    /// changed or deleted, by this node, another node or plain SQL
    /// (triggers, migration 0015), in the changing transaction: one row,
    /// read by the authenticator's re-check pass, which re-reads its
    /// tokens' users and sessions only when the value moved.
    async fn auth_generation(&self) -> StoreResult<i64>;

    /// Returns the setting, first storing `initial` if it has none (used for
    /// the generated JWT signing key, so tokens survive restarts).
    async fn setting_or_init(&self, key: &str, initial: &str) -> StoreResult<String>;

    // --- call sessions -----------------------------------------------------
    /// Commits a batch of session changes in one transaction: for each, the
    /// event appended to the log (ignored if its dedupe key is already
    /// logged for the session), the snapshot upserted (checked against
    /// `expected_version`), the session's log lines from
    /// `Session::log_stored()` on rewritten as rows (one row for an
    /// appended line; see the `log` module), and the lookup keys recorded.
    /// The caller's sessions are not changed: `GroupCommitter` marks the
    /// ones it hands back as stored (`Session::mark_log_stored`), so their
    /// next commit writes only the lines added after. Consecutive
    /// versions of one session, each computed from the one before, are
    /// written as one change (their events, the last one's rows:
    /// `sql::one_change_per_session`), leaving the rows they would leave
    /// one by one.
    async fn commit(&self, changes: &[SessionChange]) -> StoreResult<()>;
    /// The stored session, complete: its log read back from the rows.
    async fn session(&self, id: &SessionId) -> StoreResult<Option<Session>>;
    /// The stored session to apply one event to, without reading what
    /// grows with its events: its log lines and dedupe keys stay in the
    /// rows (`Session::elide_log`; the number of lines is the last row's
    /// position, one index seek), and whether the event log already holds
    /// `dedupe_key` (one unique-key lookup), in one read transaction. A
    /// session stored before migration 0013 or carrying its events is
    /// returned complete (`Session::is_whole`).
    async fn session_for_event(
        &self,
        id: &SessionId,
        dedupe_key: &str,
    ) -> StoreResult<Option<ForEvent>>;
    /// The session a lookup key (call SID, conference SID, …) leads to.
    async fn session_id_by_key(&self, key: &str) -> StoreResult<Option<SessionId>>;
    /// Every session that has not ended (for rebuilding the live index).
    async fn active_sessions(&self) -> StoreResult<Vec<Session>>;
    /// Sessions written at or after `since` (by any node), so a node
    /// sharing the database can refresh its live index.
    async fn sessions_written_since(&self, since: DateTime<Utc>) -> StoreResult<Vec<Session>>;
    /// The stored sessions among `ids` (missing ones left out), for a node
    /// told by the change feed that they changed.
    async fn sessions_by_id(&self, ids: &[SessionId]) -> StoreResult<Vec<Session>>;
    /// A listener for other nodes' commits (PostgreSQL `LISTEN`); `None`
    /// where the database has no notifications (SQLite: poll instead).
    async fn change_listener(&self) -> StoreResult<Option<feed::ChangeListener>>;
    /// The logged events of a session, in the order they were committed.
    async fn session_events(&self, session_id: &SessionId) -> StoreResult<Vec<SessionEvent>>;

    // --- callbacks that arrived before their session ------------------------
    /// Keeps `event` durably under each of `keys` (SIDs the callback names)
    /// for `account_id`, until a session of that account claims one of the
    /// keys. A redelivery (same dedupe key) is kept once.
    async fn park_callback(
        &self,
        account_id: &AccountId,
        keys: &[String],
        event: &SessionEvent,
    ) -> StoreResult<()>;
    /// The events parked under any of `keys` for `account_id`, oldest first,
    /// each once.
    async fn parked_callbacks(
        &self,
        account_id: &AccountId,
        keys: &[String],
    ) -> StoreResult<Vec<SessionEvent>>;
    /// What opening session `id` needs to read before its commit, in one
    /// statement (one round trip, one snapshot): `None` when a session
    /// with that id is stored already; else the events parked under any of
    /// `keys` for `account_id`, as [`Store::parked_callbacks`] returns them.
    async fn parked_unless_stored(
        &self,
        id: &SessionId,
        account_id: &AccountId,
        keys: &[String],
    ) -> StoreResult<Option<Vec<SessionEvent>>>;
    /// Forgets the events parked under `keys` (after they were applied),
    /// and the same events parked under other keys.
    async fn drop_parked_callbacks(
        &self,
        account_id: &AccountId,
        keys: &[String],
    ) -> StoreResult<()>;
    /// Forgets callbacks parked before `received_before` that no session
    /// claimed; returns how many rows went.
    async fn expire_parked_callbacks(&self, received_before: DateTime<Utc>) -> StoreResult<u64>;

    // --- session history ---------------------------------------------------
    /// One page of sessions (active and ended) matching `query`, as their
    /// rendered `SessionInfo`, served by indexes (see [`history`]).
    async fn list_session_infos(&self, query: &SessionQuery) -> StoreResult<SessionInfoPage>;
    /// One session's rendered `SessionInfo`, with its account and the
    /// endpoints it is visible to (for the caller's visibility check).
    async fn session_info(&self, id: &SessionId) -> StoreResult<Option<StoredSessionInfo>>;

    // --- operations --------------------------------------------------------
    /// A cheap readiness check: the database answers and every migration
    /// this build knows is applied.
    async fn check_ready(&self) -> StoreResult<()>;
    /// Deletes up to `limit` ended sessions whose last activity is before
    /// `before`, with their events and lookup keys, in one transaction;
    /// returns how many sessions went. Active sessions are never touched.
    async fn prune_ended_sessions(&self, before: DateTime<Utc>, limit: u32) -> StoreResult<u64>;
    /// Writes a consistent copy of the embedded store to `target` while it
    /// is in use (SQLite `VACUUM INTO`). PostgreSQL: use `pg_dump`.
    async fn backup_into(&self, target: &std::path::Path) -> StoreResult<()>;

    // --- server events log (migration 0010, see [`events`]) ---------------
    /// Follows `feed` until `until` (messages are written for it). A user not
    /// followed at `now` gets its floor raised first (nothing was written).
    async fn follow_event_feed(
        &self,
        feed: &events::EventFeed,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<events::FeedPosition>;
    /// Keeps following these users until `until`.
    async fn extend_event_feeds(
        &self,
        user_ids: &[UserId],
        until: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// The users followed at `now`.
    async fn followed_event_feeds(&self, now: DateTime<Utc>)
        -> StoreResult<Vec<events::EventFeed>>;
    /// Stops following these users, raising their floors.
    async fn unfollow_event_feeds(&self, user_ids: &[UserId]) -> StoreResult<()>;
    /// Numbers and stores messages of followed users in one transaction;
    /// returns their ids in order (a message written already keeps its
    /// id), `None` for a message left out as stale (a later version of
    /// its session was told already).
    async fn append_event_messages(
        &self,
        messages: &[events::NewEventMessage],
        at: DateTime<Utc>,
    ) -> StoreResult<Vec<Option<u64>>>;
    /// A user's messages with ids above `after` (at most `limit`), oldest
    /// first, and the log's position.
    async fn event_messages_after(
        &self,
        user_id: &UserId,
        after: u64,
        limit: u32,
    ) -> StoreResult<events::EventReplay>;
    /// Keeps each user's last `keep` messages and none created before
    /// `before`; returns how many went.
    async fn prune_event_messages(&self, keep: u64, before: DateTime<Utc>) -> StoreResult<u64>;
    /// Registers a node writing the log. Returns whether a node had stopped
    /// without [`Store::event_writer_stop`] (every floor is then raised).
    /// On PostgreSQL a node is dead once not seen since `stale_before`.
    async fn event_writer_start(
        &self,
        node_id: &str,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Records that the node is alive.
    async fn event_writer_seen(&self, node_id: &str, now: DateTime<Utc>) -> StoreResult<()>;
    /// Renews the node's lease (registering it again if another node took
    /// it for dead) and expires every other writer not seen since
    /// `stale_before`, raising every floor when one is; returns whether one
    /// was. Nodes call it every few seconds, so a crash is found within the
    /// lease even when no node starts.
    async fn event_writer_renew(
        &self,
        node_id: &str,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// The node stopped cleanly: everything it numbered is written.
    async fn event_writer_stop(&self, node_id: &str) -> StoreResult<()>;

    // --- bulk loading (benchmarks) -----------------------------------------
    /// Writes sessions that are not stored yet, in one transaction, with
    /// the rows `commit` would have left after each one's life: its final
    /// snapshot and history row, every event of its log, its lookup keys
    /// ([`bulk_changes`] is that life as commits). For loading many ended
    /// sessions (`evo-voice bench` grows its history with it); the server
    /// never calls it and no live index hears of these sessions. `Conflict`
    /// when one is stored already. This default is the reference: those
    /// commits. `SqlStore` writes the same rows in multi-row statements
    /// (`sql::bulk`), which the conformance suite compares with it.
    async fn load_ended_sessions(&self, sessions: &[EndedSession]) -> StoreResult<()> {
        self.commit(&bulk_changes(sessions)).await
    }
}

/// A session to load with [`Store::load_ended_sessions`].
#[derive(Debug, Clone)]
pub struct EndedSession {
    /// Its final snapshot (as the server stores it: compact).
    pub session: Session,
    /// Its event log, in order (an event whose dedupe key came before is
    /// not logged again, as in `commit`).
    pub events: Vec<SessionEvent>,
    /// The lookup keys leading to it (call SIDs, …).
    pub keys: Vec<String>,
}

/// The commits that leave the rows [`Store::load_ended_sessions`] writes:
/// per session, its final snapshot inserted with its first event and its
/// keys, then each further event with the same snapshot.
pub fn bulk_changes(sessions: &[EndedSession]) -> Vec<SessionChange> {
    let mut changes = Vec::new();
    for ended in sessions {
        let mut events = ended.events.iter().map(Some);
        let first = events.next().unwrap_or(None);
        changes.push(SessionChange {
            session: ended.session.clone(),
            event: first.cloned(),
            expected_version: None,
            keys: ended.keys.clone(),
        });
        for event in events {
            changes.push(SessionChange {
                session: ended.session.clone(),
                event: event.cloned(),
                expected_version: Some(ended.session.version()),
                keys: Vec::new(),
            });
        }
    }
    changes
}

pub mod events;
pub mod feed;
pub mod group_commit;
pub mod history;
pub mod lock;
mod log;
pub mod sql;
#[cfg(feature = "testing")]
pub mod testing;
pub mod timing;
mod turns;

/// Applies the migrations the store at `location` lacks, without opening
/// it for service; returns what it applied. Refuses a newer schema.
pub async fn migrate(location: &str) -> StoreResult<Vec<sql::AppliedMigration>> {
    if location.starts_with("postgres://") || location.starts_with("postgresql://") {
        sql::SqlStore::connect_postgres_unmigrated(location)
            .await?
            .migrate()
            .await
    } else {
        let dir = location.strip_prefix("sqlite://").unwrap_or(location);
        sql::SqlStore::open_sqlite_unmigrated(std::path::Path::new(dir))
            .await?
            .migrate()
            .await
    }
}

/// Opens the store a location names: a `postgres://` or `postgresql://` URL
/// selects PostgreSQL; anything else is a data directory (optionally
/// `sqlite://dir`) for the embedded SQLite store.
pub async fn open_store(location: &str) -> StoreResult<std::sync::Arc<dyn Store>> {
    open_store_with(location, PoolOptions::default()).await
}

/// [`open_store`] with the pool sized by `options`.
pub async fn open_store_with(
    location: &str,
    options: PoolOptions,
) -> StoreResult<std::sync::Arc<dyn Store>> {
    if location.starts_with("postgres://") || location.starts_with("postgresql://") {
        Ok(std::sync::Arc::new(
            sql::SqlStore::connect_postgres_with(location, options).await?,
        ))
    } else {
        let dir = location.strip_prefix("sqlite://").unwrap_or(location);
        Ok(std::sync::Arc::new(
            sql::SqlStore::open_sqlite_with(std::path::Path::new(dir), options).await?,
        ))
    }
}

/// How large the store's connection pool may grow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolOptions {
    /// Connections of the main pool (sessions, directory, history; the
    /// Server Events log has its own two on SQLite). `None`: the backend's
    /// default, [`PoolOptions::sqlite_default`] or
    /// [`PoolOptions::POSTGRES_DEFAULT`]. At least [`PoolOptions::MIN`].
    pub connections: Option<u32>,
}

impl PoolOptions {
    /// The fewest connections a pool is given: one may be writing while
    /// another reads.
    pub const MIN: u32 = 2;
    /// PostgreSQL's default: the database server does the work, so a node
    /// keeps more requests in flight than it has cores.
    pub const POSTGRES_DEFAULT: u32 = 16;

    /// SQLite's default: two connections per core, between 2 and 8. Each
    /// SQLite connection has its own thread (sqlx), so its own malloc
    /// arena and page cache (up to 2 MB); SQLite writes one at a time and
    /// its reads are CPU work, so more connections than that only add
    /// memory (docs/benchmarks.md, "Allocator and memory per session").
    pub fn sqlite_default() -> u32 {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        u32::try_from(cores * 2)
            .unwrap_or(u32::MAX)
            .clamp(Self::MIN, 8)
    }

    pub(crate) fn sqlite_connections(&self) -> u32 {
        self.connections
            .map_or_else(Self::sqlite_default, |n| n.max(Self::MIN))
    }

    pub(crate) fn postgres_connections(&self) -> u32 {
        self.connections
            .unwrap_or(Self::POSTGRES_DEFAULT)
            .max(Self::MIN)
    }
}

#[cfg(test)]
mod pool_tests {
    use super::PoolOptions;

    #[test]
    fn the_pool_is_sized_from_the_cores_within_bounds_unless_set() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
        let default = PoolOptions::default();
        assert_eq!(default.sqlite_connections(), (cores * 2).clamp(2, 8));
        assert_eq!(default.postgres_connections(), 16);
        let set = |n| PoolOptions {
            connections: Some(n),
        };
        assert_eq!(set(5).sqlite_connections(), 5);
        assert_eq!(set(5).postgres_connections(), 5);
        assert_eq!(set(0).sqlite_connections(), PoolOptions::MIN);
        assert_eq!(set(1).postgres_connections(), PoolOptions::MIN);
    }
}
