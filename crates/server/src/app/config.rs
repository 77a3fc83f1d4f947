//! Server configuration: one typed struct, filled from CLI flags that fall
//! back to `EVO_*` environment variables (see the `evo-voice` binary).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port (tests).
    pub bind: SocketAddr,
    /// Where the store lives: a directory for the embedded SQLite store, or a
    /// `postgres://` URL.
    pub store: StoreLocation,
    /// The HMAC key for JWTs. `None`: a key is generated once and kept in the
    /// store, so tokens survive restarts.
    pub jwt_secret: Option<String>,
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
}

/// Where the store lives.
#[derive(Debug, Clone)]
pub enum StoreLocation {
    /// An embedded SQLite database in this directory.
    DataDir(PathBuf),
    /// A PostgreSQL connection URL.
    Postgres(String),
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
            jwt_secret: None,
            access_token_ttl: Duration::from_secs(60 * 60),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 60 * 60),
            cookie_session_ttl: Duration::from_secs(12 * 60 * 60),
            public_url: None,
            max_body_bytes: 1024 * 1024,
            debug: false,
            reconcile: ReconcileConfig::default(),
            index_refresh: None,
            directory_refresh: Duration::from_secs(5),
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
            idle_after: Duration::from_secs(15 * 60),
            max_age: Duration::from_secs(24 * 60 * 60),
            chat_idle_after: Duration::from_secs(2 * 60 * 60),
            interval: Duration::from_secs(60),
            twilio_api_base: "https://api.twilio.com".to_string(),
        }
    }
}
