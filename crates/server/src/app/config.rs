//! Server configuration: one typed struct, filled from CLI flags that fall
//! back to `EVO_*` environment variables (see the `evo-voice` binary).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use evo_core::domain::Secret;

/// Every default, once: `Config::for_store`, `ReconcileConfig::default` and
/// the CLI's flags (`default_value_t = defaults::…`) all read these.
pub mod defaults {
    /// `--bind`.
    pub const BIND: &str = "127.0.0.1:8080";
    /// `--data-dir`: the embedded store's directory.
    pub const DATA_DIR: &str = "evo-data";
    /// `--access-token-ttl`, seconds.
    pub const ACCESS_TOKEN_TTL_SECS: u64 = 60 * 60;
    /// `--refresh-token-ttl`, seconds.
    pub const REFRESH_TOKEN_TTL_SECS: u64 = 30 * 24 * 60 * 60;
    /// Lifetime of a temporary cookie session, seconds.
    pub const COOKIE_SESSION_TTL_SECS: u64 = 12 * 60 * 60;
    /// `--max-body-bytes`.
    pub const MAX_BODY_BYTES: usize = 1024 * 1024;
    /// `--twilio-api-url`.
    pub const TWILIO_API_URL: &str = "https://api.twilio.com";
    /// `--reconcile-idle-secs`.
    pub const RECONCILE_IDLE_SECS: u64 = 15 * 60;
    /// `--session-max-age-secs`.
    pub const SESSION_MAX_AGE_SECS: u64 = 24 * 60 * 60;
    /// `--chat-idle-secs`.
    pub const CHAT_IDLE_SECS: u64 = 2 * 60 * 60;
    /// How often the reconciler looks, seconds.
    pub const RECONCILE_INTERVAL_SECS: u64 = 60;
    /// `--index-refresh-ms` when the store is shared (PostgreSQL); a single
    /// node with the embedded store does not refresh.
    pub const SHARED_INDEX_REFRESH_MS: u64 = 1000;
    /// How long a callback parked for a session that has not opened is
    /// kept, seconds. Twilio retries a callback within minutes; a parent
    /// call that has not appeared in a day never will.
    pub const PARKED_CALLBACK_TTL_SECS: u64 = 24 * 60 * 60;
    /// How often expired parked callbacks are removed, seconds.
    pub const PARKED_CALLBACK_SWEEP_SECS: u64 = 60 * 60;
    /// How often the directory's ring relation is reloaded, seconds.
    pub const DIRECTORY_REFRESH_SECS: u64 = 5;

    // Limits (abuse and resource bounds); see `Limits`.
    /// `--password-checks`: argon2 verifications at once; 0 = one per core.
    pub const PASSWORD_CHECKS: usize = 0;
    /// `--login-failures-per-user` in `LOGIN_WINDOW_SECS`.
    pub const LOGIN_FAILURES_PER_USER: u32 = 10;
    /// `--login-failures-per-address` in `LOGIN_WINDOW_SECS`.
    pub const LOGIN_FAILURES_PER_ADDRESS: u32 = 100;
    /// The sign-in throttling window, seconds.
    pub const LOGIN_WINDOW_SECS: u64 = 60;
    /// `--request-timeout-secs` (server events streams are exempt).
    pub const REQUEST_TIMEOUT_SECS: u64 = 30;
    /// `--max-concurrent-requests` (server events streams are exempt).
    pub const MAX_CONCURRENT_REQUESTS: usize = 1024;
    /// `--rate-limit-per-address`: requests per second per client address;
    /// 0 = off, so that tests and the demo are never throttled.
    pub const RATE_LIMIT_PER_ADDRESS: u32 = 0;
    /// `--header-read-timeout-secs`: a request's headers must arrive within.
    pub const HEADER_READ_TIMEOUT_SECS: u64 = 10;
    /// `--max-connections`: open client connections at once.
    pub const MAX_CONNECTIONS: usize = 4096;

    /// `--shutdown-grace-secs`: how long shutdown waits for in-flight
    /// requests and queued commits.
    pub const SHUTDOWN_GRACE_SECS: u64 = 20;

    /// Server Events: how often clients send heartbeats (ServiceStack's
    /// 10 s); a stream silent for three intervals is closed.
    pub const SSE_HEARTBEAT_MS: u64 = 10_000;
    /// The shortest heartbeat interval accepted (tests run many cycles).
    pub const SSE_HEARTBEAT_MIN_MS: u64 = 50;
    /// Server Events: open streams per user; one more is refused (429).
    pub const SSE_MAX_STREAMS_PER_USER: usize = 10;
}

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port (tests).
    pub bind: SocketAddr,
    /// Where the store lives: a directory for the embedded SQLite store, or a
    /// `postgres://` URL.
    pub store: StoreLocation,
    /// The store pool's connections (`--store-connections`); `None`: the
    /// backend's default (`evo_store::PoolOptions`).
    pub store_connections: Option<u32>,
    /// The HMAC key for JWTs. `None`: a key is generated once and kept in the
    /// store, so tokens survive restarts.
    pub jwt_secret: Option<Secret>,
    /// Lifetime of a bearer token.
    pub access_token_ttl: Duration,
    /// Lifetime of a refresh token (and of a "remember me" cookie session).
    pub refresh_token_ttl: Duration,
    /// Lifetime of a temporary (`ss-id`) cookie session.
    pub cookie_session_ttl: Duration,
    /// The public base URL Twilio calls (`https://voice.example.com`); webhook
    /// signatures are computed over it.
    pub public_url: Option<String>,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Include stack traces in errors (ServiceStack's DebugMode).
    pub debug: bool,
    /// When and how stale sessions are reconciled and ended.
    pub reconcile: ReconcileConfig,
    /// How often to take other nodes' writes into the live index (several
    /// nodes sharing PostgreSQL); `None` for a single node.
    pub index_refresh: Option<Duration>,
    /// How often the directory's ring relation is reloaded (numbers assigned
    /// by administration commands, which run as other processes).
    pub directory_refresh: Duration,
    /// Abuse and resource bounds.
    pub limits: Limits,
    /// Operations: shutdown grace, retention, metrics address, CORS.
    pub ops: OpsConfig,
    pub events: EventsConfig,
}

/// Server Events settings (`--sse-heartbeat-ms`, `--sse-max-streams-per-user`).
#[derive(Debug, Clone)]
pub struct EventsConfig {
    pub heartbeat: Duration,
    pub max_streams_per_user: usize,
    /// This node's name as a writer of the Server Events log (`--node-id`);
    /// `None`: a new random one each start. A node restarted under the same
    /// name after a crash is known at once to have stopped uncleanly.
    pub node_id: Option<String>,
}

impl Default for EventsConfig {
    fn default() -> Self {
        EventsConfig {
            heartbeat: Duration::from_millis(defaults::SSE_HEARTBEAT_MS),
            max_streams_per_user: defaults::SSE_MAX_STREAMS_PER_USER,
            node_id: None,
        }
    }
}

impl EventsConfig {
    /// Refuses values a server cannot run with: a heartbeat under
    /// [`defaults::SSE_HEARTBEAT_MIN_MS`], or no stream per user.
    pub fn validate(&self) -> Result<(), String> {
        if self.heartbeat < Duration::from_millis(defaults::SSE_HEARTBEAT_MIN_MS) {
            return Err(format!(
                "the Server Events heartbeat must be at least {} ms, not {} ms",
                defaults::SSE_HEARTBEAT_MIN_MS,
                self.heartbeat.as_millis()
            ));
        }
        if self.max_streams_per_user == 0 {
            return Err("at least one Server Events stream per user must be allowed".to_string());
        }
        Ok(())
    }
}

/// Abuse and resource bounds (docs/security.md).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Password verifications at once; 0 = one per core.
    pub password_checks: usize,
    /// Failed sign-ins per user name in `login_window` (0: unlimited).
    pub login_failures_per_user: u32,
    /// Failed sign-ins per client address in `login_window` (0: unlimited).
    pub login_failures_per_address: u32,
    pub login_window: Duration,
    /// A request taking longer is answered 503.
    pub request_timeout: Duration,
    /// Requests in progress at once; more are answered 503.
    pub max_concurrent_requests: usize,
    /// Requests per second per client address; 0 = unlimited.
    pub rate_limit_per_address: u32,
    /// A connection whose request headers do not arrive within this is closed.
    pub header_read_timeout: Duration,
    /// Open client connections at once; more wait in the accept queue.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            password_checks: defaults::PASSWORD_CHECKS,
            login_failures_per_user: defaults::LOGIN_FAILURES_PER_USER,
            login_failures_per_address: defaults::LOGIN_FAILURES_PER_ADDRESS,
            login_window: Duration::from_secs(defaults::LOGIN_WINDOW_SECS),
            request_timeout: Duration::from_secs(defaults::REQUEST_TIMEOUT_SECS),
            max_concurrent_requests: defaults::MAX_CONCURRENT_REQUESTS,
            rate_limit_per_address: defaults::RATE_LIMIT_PER_ADDRESS,
            header_read_timeout: Duration::from_secs(defaults::HEADER_READ_TIMEOUT_SECS),
            max_connections: defaults::MAX_CONNECTIONS,
        }
    }
}

/// Operations settings (see README "Operating evo-voice").
#[derive(Debug, Clone)]
pub struct OpsConfig {
    /// After SIGTERM/Ctrl-C: how long in-flight requests and queued commits
    /// may take before the process exits anyway.
    pub shutdown_grace: Duration,
    /// Ended sessions last active longer ago than this are deleted; `None`
    /// keeps them forever.
    pub retain_ended: Option<Duration>,
    /// Serve `/metrics` on this address instead of the main listener.
    pub metrics_bind: Option<SocketAddr>,
    /// Origins allowed to call the API from a browser (CORS); empty: none.
    pub cors_origins: Vec<String>,
}

impl Default for OpsConfig {
    fn default() -> Self {
        OpsConfig {
            shutdown_grace: Duration::from_secs(defaults::SHUTDOWN_GRACE_SECS),
            retain_ended: None,
            metrics_bind: None,
            cors_origins: Vec::new(),
        }
    }
}

/// Where the store lives.
#[derive(Debug, Clone)]
pub enum StoreLocation {
    /// An embedded SQLite database in this directory.
    DataDir(PathBuf),
    /// A PostgreSQL connection URL.
    Postgres(String),
}

impl Config {
    /// How the store's pool is sized.
    pub fn store_pool(&self) -> evo_store::PoolOptions {
        evo_store::PoolOptions {
            connections: self.store_connections,
        }
    }
}

impl StoreLocation {
    /// Reads `--store`/`EVO_DATABASE_URL` or a data directory.
    pub fn parse(text: &str) -> Self {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            StoreLocation::Postgres(text.to_string())
        } else {
            StoreLocation::DataDir(PathBuf::from(
                text.strip_prefix("sqlite://").unwrap_or(text),
            ))
        }
    }

    /// The string `evo_store::open_store` understands.
    pub fn as_store_url(&self) -> String {
        match self {
            StoreLocation::DataDir(dir) => dir.display().to_string(),
            StoreLocation::Postgres(url) => url.clone(),
        }
    }
}

impl Config {
    /// A configuration for tests and the demo: the given store, defaults
    /// elsewhere.
    pub fn for_store(bind: SocketAddr, store: StoreLocation) -> Self {
        Config {
            bind,
            store,
            store_connections: None,
            jwt_secret: None,
            access_token_ttl: Duration::from_secs(defaults::ACCESS_TOKEN_TTL_SECS),
            refresh_token_ttl: Duration::from_secs(defaults::REFRESH_TOKEN_TTL_SECS),
            cookie_session_ttl: Duration::from_secs(defaults::COOKIE_SESSION_TTL_SECS),
            public_url: None,
            max_body_bytes: defaults::MAX_BODY_BYTES,
            debug: false,
            reconcile: ReconcileConfig::default(),
            index_refresh: None,
            directory_refresh: Duration::from_secs(defaults::DIRECTORY_REFRESH_SECS),
            limits: Limits::default(),
            ops: OpsConfig::default(),
            events: EventsConfig::default(),
        }
    }
}

/// When sessions are checked and ended.
#[derive(Debug, Clone)]
pub struct ReconcileConfig {
    /// A voice session quiet for this long is checked with Twilio.
    pub idle_after: Duration,
    /// A session older than this is ended when Twilio cannot confirm it.
    pub max_age: Duration,
    /// A chat quiet for this long is ended.
    pub chat_idle_after: Duration,
    /// How often to look.
    pub interval: Duration,
    /// Twilio's REST API base URL (a local fake in tests).
    pub twilio_api_base: String,
}

impl Default for ReconcileConfig {
    fn default() -> Self {
        ReconcileConfig {
            idle_after: Duration::from_secs(defaults::RECONCILE_IDLE_SECS),
            max_age: Duration::from_secs(defaults::SESSION_MAX_AGE_SECS),
            chat_idle_after: Duration::from_secs(defaults::CHAT_IDLE_SECS),
            interval: Duration::from_secs(defaults::RECONCILE_INTERVAL_SECS),
            twilio_api_base: defaults::TWILIO_API_URL.to_string(),
        }
    }
}
