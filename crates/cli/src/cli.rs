//! The command line, declared with clap. Every flag that configures the
//! server also reads an `EVO_*` environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use evo_core::domain::Secret;
use evo_server::app::config::defaults;

/// evo-voice: the Evo Voice call-session service.
#[derive(Debug, Parser)]
#[command(name = "evo-voice", version, about, long_about = None)]
pub struct Cli {
    /// Log format on stderr: `text` (human; coloured only on a terminal) or
    /// `json` (one object a line).
    #[arg(long, global = true, env = "EVO_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Run the server on a fresh embedded store with demo users and live
    /// simulated calls.
    Demo(DemoArgs),
    /// Manage accounts (tenants).
    Account {
        #[command(subcommand)]
        command: AccountCommand,
    },
    /// Manage customers.
    Customer {
        #[command(subcommand)]
        command: CustomerCommand,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage phone numbers.
    Number {
        #[command(subcommand)]
        command: NumberCommand,
    },
    /// Manage API keys.
    Apikey {
        #[command(subcommand)]
        command: ApikeyCommand,
    },
    /// Measure ingest and read throughput on this machine.
    Bench(BenchArgs),
    /// Copy the embedded store to a file, consistently, while a server runs.
    Backup(BackupArgs),
    /// Replace the embedded store with a backup (no server may be running on it).
    Restore(RestoreArgs),
    /// Apply the store's pending schema migrations and print them (`serve`
    /// applies them too, but refuses a schema newer than it knows).
    Migrate(MigrateArgs),
}

/// Options of `evo-voice migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Options of `evo-voice backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The backup file to write (must not exist).
    #[arg(long)]
    pub to: PathBuf,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Options of `evo-voice restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup file to restore.
    #[arg(long)]
    pub from: PathBuf,
    /// Replace an existing database (never one a running server holds).
    #[arg(long, default_value_t = false)]
    pub force: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Operations settings shared by `serve` and `demo`.
#[derive(Debug, Clone, Args)]
pub struct OpsArgs {
    /// After SIGTERM or Ctrl-C, seconds to let in-flight requests and queued
    /// commits finish before exiting.
    #[arg(long, env = "EVO_SHUTDOWN_GRACE_SECS", default_value_t = defaults::SHUTDOWN_GRACE_SECS)]
    pub shutdown_grace_secs: u64,
    /// Delete ended sessions (and their events) last active more than this
    /// many days ago; unset keeps them forever.
    #[arg(long, env = "EVO_RETAIN_ENDED_DAYS")]
    pub retain_ended_days: Option<u32>,
    /// Serve /metrics on this address instead of the main one.
    #[arg(long, env = "EVO_METRICS_BIND")]
    pub metrics_bind: Option<SocketAddr>,
    /// An origin allowed to call the API from a browser (CORS); repeat or
    /// separate with commas.
    #[arg(long = "cors-origin", env = "EVO_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
}

/// Where the store is.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Directory of the embedded SQLite store (created on first start).
    #[arg(long, env = "EVO_DATA_DIR", default_value = defaults::DATA_DIR)]
    pub data_dir: PathBuf,
    /// A PostgreSQL URL (postgres://…); when set it is used instead of the
    /// embedded store, so several nodes can share it.
    #[arg(long, env = "EVO_DATABASE_URL")]
    pub database_url: Option<String>,
}

/// Server settings shared by `serve` and `demo`.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Address to listen on.
    #[arg(long, env = "EVO_BIND", default_value = defaults::BIND)]
    pub bind: SocketAddr,
    /// HMAC key for bearer tokens; without it a key is generated once and
    /// kept in the store.
    #[arg(long, env = "EVO_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<Secret>,
    /// Lifetime of a bearer token, in seconds.
    #[arg(long, env = "EVO_ACCESS_TOKEN_TTL", default_value_t = defaults::ACCESS_TOKEN_TTL_SECS)]
    pub access_token_ttl: u64,
    /// Lifetime of a refresh token, in seconds.
    #[arg(long, env = "EVO_REFRESH_TOKEN_TTL", default_value_t = defaults::REFRESH_TOKEN_TTL_SECS)]
    pub refresh_token_ttl: u64,
    /// The public base URL Twilio calls (webhook signatures cover it).
    #[arg(long, env = "EVO_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "EVO_MAX_BODY_BYTES", default_value_t = defaults::MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// Include stack traces in error responses.
    #[arg(long, env = "EVO_DEBUG", default_value_t = false)]
    pub debug: bool,
    /// Twilio's REST API base URL, asked about quiet calls.
    #[arg(
        long,
        env = "EVO_TWILIO_API_URL",
        default_value = defaults::TWILIO_API_URL
    )]
    pub twilio_api_url: String,
    /// Seconds without events after which a call is checked with Twilio.
    #[arg(long, env = "EVO_RECONCILE_IDLE_SECS", default_value_t = defaults::RECONCILE_IDLE_SECS)]
    pub reconcile_idle_secs: u64,
    /// Seconds after which a session Twilio cannot confirm is ended.
    #[arg(long, env = "EVO_SESSION_MAX_AGE_SECS", default_value_t = defaults::SESSION_MAX_AGE_SECS)]
    pub session_max_age_secs: u64,
    /// Milliseconds between polls for other nodes' writes: on PostgreSQL
    /// nodes learn them at once (LISTEN/NOTIFY) and poll only while the
    /// listener is down; elsewhere this is the polling interval. 0 turns
    /// polling off. Default: every second with --database-url, off for the
    /// embedded store.
    #[arg(long, env = "EVO_INDEX_REFRESH_MS")]
    pub index_refresh_ms: Option<u64>,
    /// Seconds without messages after which a chat ends.
    #[arg(long, env = "EVO_CHAT_IDLE_SECS", default_value_t = defaults::CHAT_IDLE_SECS)]
    pub chat_idle_secs: u64,
    /// Milliseconds between Server Events heartbeats (idle timeout: three).
    #[arg(
        long,
        env = "EVO_SSE_HEARTBEAT_MS",
        default_value_t = defaults::SSE_HEARTBEAT_MS,
        value_parser = clap::value_parser!(u64).range(defaults::SSE_HEARTBEAT_MIN_MS..)
    )]
    pub sse_heartbeat_ms: u64,
    /// Open Server Events streams per user; one more is refused (429).
    #[arg(
        long,
        env = "EVO_SSE_MAX_STREAMS_PER_USER",
        default_value_t = defaults::SSE_MAX_STREAMS_PER_USER as u64,
        value_parser = clap::value_parser!(u64).range(1_u64..)
    )]
    pub sse_max_streams_per_user: u64,
    /// Connections of the store's pool (at least 2). Default: two per core
    /// (2 to 8) for the embedded store, 16 for PostgreSQL.
    #[arg(
        long,
        env = "EVO_STORE_CONNECTIONS",
        value_parser = clap::value_parser!(u32).range(i64::from(evo_store::PoolOptions::MIN)..)
    )]
    pub store_connections: Option<u32>,
    /// This node's stable name in the Server Events log (e.g. the host or
    /// pod name); restarted under it after a crash, the node knows at once
    /// and resumes from before the crash get a snapshot. Default: random.
    #[arg(long, env = "EVO_NODE_ID")]
    pub node_id: Option<String>,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub ops: OpsArgs,
}

/// Abuse and resource limits (docs/security.md).
#[derive(Debug, Clone, Args)]
pub struct LimitArgs {
    /// Password (argon2) verifications at once; 0 = one per core.
    #[arg(long, env = "EVO_PASSWORD_CHECKS", default_value_t = defaults::PASSWORD_CHECKS)]
    pub password_checks: usize,
    /// Failed sign-ins per user name per minute before 429; 0 = unlimited.
    #[arg(long, env = "EVO_LOGIN_FAILURES_PER_USER", default_value_t = defaults::LOGIN_FAILURES_PER_USER)]
    pub login_failures_per_user: u32,
    /// Failed sign-ins per client address per minute before 429; 0 = unlimited.
    #[arg(long, env = "EVO_LOGIN_FAILURES_PER_ADDRESS", default_value_t = defaults::LOGIN_FAILURES_PER_ADDRESS)]
    pub login_failures_per_address: u32,
    /// Seconds a request may take before 503 (server events streams exempt).
    #[arg(long, env = "EVO_REQUEST_TIMEOUT_SECS", default_value_t = defaults::REQUEST_TIMEOUT_SECS)]
    pub request_timeout_secs: u64,
    /// Requests in progress at once before 503 (server events streams exempt).
    #[arg(long, env = "EVO_MAX_CONCURRENT_REQUESTS", default_value_t = defaults::MAX_CONCURRENT_REQUESTS)]
    pub max_concurrent_requests: usize,
    /// Requests per second per client address before 429; 0 = unlimited.
    #[arg(long, env = "EVO_RATE_LIMIT_PER_ADDRESS", default_value_t = defaults::RATE_LIMIT_PER_ADDRESS)]
    pub rate_limit_per_address: u32,
    /// Seconds for a request's headers to arrive (also the keep-alive idle timeout).
    #[arg(long, env = "EVO_HEADER_READ_TIMEOUT_SECS", default_value_t = defaults::HEADER_READ_TIMEOUT_SECS)]
    pub header_read_timeout_secs: u64,
    /// Open client connections at once.
    #[arg(long, env = "EVO_MAX_CONNECTIONS", default_value_t = defaults::MAX_CONNECTIONS)]
    pub max_connections: usize,
}

impl LimitArgs {
    /// The server's `Limits` from these flags.
    pub fn to_limits(&self) -> evo_server::app::config::Limits {
        use std::time::Duration;
        evo_server::app::config::Limits {
            password_checks: self.password_checks,
            login_failures_per_user: self.login_failures_per_user,
            login_failures_per_address: self.login_failures_per_address,
            login_window: Duration::from_secs(defaults::LOGIN_WINDOW_SECS),
            request_timeout: Duration::from_secs(self.request_timeout_secs.max(1)),
            max_concurrent_requests: self.max_concurrent_requests.max(1),
            rate_limit_per_address: self.rate_limit_per_address,
            header_read_timeout: Duration::from_secs(self.header_read_timeout_secs.max(1)),
            max_connections: self.max_connections.max(1),
        }
    }
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Data directory for the demo store (default: a new temporary directory).
    #[arg(long, env = "EVO_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// How many seconds of simulated time pass per real second.
    #[arg(long, default_value_t = 4.0)]
    pub speed: f64,
    /// How many simulated calls run at the same time.
    #[arg(long, default_value_t = 4)]
    pub concurrent_calls: usize,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Options of `evo-voice bench` (docs/benchmarks.md). Unset sizes take the
/// full profile's values, or `--quick`'s.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// A small, fast profile (CI): 50 users, 2 sessions each, 2,000 ended
    /// sessions, 1-second load runs.
    #[arg(long, default_value_t = false)]
    pub quick: bool,
    /// Users (agents), each with a phone number of their own [2,000].
    #[arg(long)]
    pub users: Option<usize>,
    /// Active (answered) calls per user [3].
    #[arg(long)]
    pub sessions_per_user: Option<usize>,
    /// Ended sessions in the store for the second read run [1,000,000].
    #[arg(long)]
    pub history: Option<usize>,
    /// Calls driven through signed status callbacks in the ingest phase;
    /// they are also the ended sessions of the first read run [1,000].
    #[arg(long)]
    pub ingest_calls: Option<usize>,
    /// Keep-alive HTTP/1.1 connections of the load generator [64].
    #[arg(long)]
    pub connections: Option<usize>,
    /// Seconds of each read run [10].
    #[arg(long)]
    pub duration_secs: Option<f64>,
    /// Connected /event-stream subscribers during fan-out [one per user].
    #[arg(long)]
    pub subscribers: Option<usize>,
    /// Webhooks whose Server Events message is timed [2,000; the report
    /// gives the p99's 95 % interval]. About 5 ms each on an idle 2-core
    /// machine; the subscribers send heartbeats as ServiceStack's clients
    /// do, so the phase may outlast the server's idle timeout.
    #[arg(long)]
    pub fanout_samples: Option<usize>,
    /// Also time each step of the fan-out path inside the server (it logs
    /// them: `RUST_LOG=warn,evo_fanout=debug`) and report each step's
    /// p50/p99; the logging costs the earlier phases a little.
    #[arg(long, default_value_t = false)]
    pub fanout_steps: bool,
    /// Print the report as JSON on stdout (progress and the table go to stderr).
    #[arg(long, default_value_t = false)]
    pub json: bool,
    /// Internal: serve this file's bytes on every path (the static-bytes
    /// server the read figures are compared with).
    #[arg(long, hide = true)]
    pub static_server: Option<PathBuf>,
    /// Internal: the static server's response headers (`name: value` lines,
    /// those `serve` answered).
    #[arg(long, hide = true)]
    pub static_headers: Option<PathBuf>,
    /// Internal: the static server's address.
    #[arg(long, hide = true)]
    pub static_bind: Option<SocketAddr>,
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Add an account; prints its id.
    Add {
        name: String,
        /// The Twilio AccountSid (AC…) whose webhooks belong to this account.
        #[arg(long)]
        twilio_account_sid: Option<String>,
        /// The Twilio auth token that signs those webhooks.
        #[arg(long, hide_env_values = true)]
        twilio_auth_token: Option<Secret>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Manage the account's Twilio auth tokens (rotation).
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

/// Rotation: `add` the new token, promote it in Twilio's console, then
/// `remove` the old one. Webhooks signed with any current token are accepted.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Add an auth token; prints the account id.
    Add {
        #[arg(long)]
        account: String,
        #[arg(long, hide_env_values = true)]
        token: Secret,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Remove an auth token (not the last one); prints the account id.
    Remove {
        #[arg(long)]
        account: String,
        #[arg(long, hide_env_values = true)]
        token: Secret,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum CustomerCommand {
    /// Add a customer; prints its id.
    Add {
        name: String,
        #[arg(long)]
        account: String,
        /// The parent customer, for a hierarchy.
        #[arg(long)]
        parent: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user; prints its id. The user has exactly the roles given.
    Add {
        #[arg(long)]
        account: String,
        #[arg(long)]
        email: String,
        #[arg(long, hide_env_values = true)]
        password: Secret,
        /// Display name (default: the e-mail address).
        #[arg(long)]
        name: Option<String>,
        /// A role (repeat for several): User, Manager, SystemAdministrator, …
        #[arg(long = "role")]
        roles: Vec<String>,
        /// The customer the user belongs to.
        #[arg(long)]
        customer: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum NumberCommand {
    /// Add a phone number; prints its id.
    Add {
        #[arg(long)]
        account: String,
        /// The number in E.164 form (+15551234567).
        #[arg(long)]
        number: String,
        /// A user the number rings (repeat for several, in order).
        #[arg(long = "ring")]
        ring: Vec<String>,
        /// Put callers in this queue instead of ringing directly.
        #[arg(long)]
        queue: Option<String>,
        /// Display name (default: the number).
        #[arg(long)]
        name: Option<String>,
        /// The customer the number belongs to.
        #[arg(long)]
        customer: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Point a Twilio number at evo-voice (Voice URL, status callback,
    /// Messaging URL) through Twilio's REST API; prints the settings, and
    /// the number's SID (PN…) on the last line. With --dry-run, or when the
    /// account has no Twilio credentials, prints what to set instead.
    Configure {
        #[arg(long)]
        account: String,
        /// The number in E.164 form (+15551234567).
        #[arg(long)]
        number: String,
        /// The public base URL Twilio calls (https://voice.example.com).
        #[arg(long, env = "EVO_PUBLIC_URL")]
        public_url: Option<String>,
        /// Print what to configure; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Twilio's REST API base URL.
        #[arg(long, env = "EVO_TWILIO_API_URL", default_value = defaults::TWILIO_API_URL)]
        twilio_api_url: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApikeyCommand {
    /// Create an API key for a user; prints the key (shown only once).
    Add {
        #[arg(long)]
        user: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}
