//! Who is calling: credentials in, a [`Principal`] out.
//!
//! Accepted, as ServiceStack clients send them (first match wins):
//! `Authorization: Bearer <jwt>`, `Authorization: Bearer ak-…` or
//! `X-Api-Key: ak-…` (API keys), `Authorization: Basic` (user name and
//! password), the `ss-tok` cookie (a JWT), and the `ss-pid`/`ss-id` cookies
//! (server-side sign-in sessions).
//!
//! A credential that is present but wrong is an error (401), never silently
//! treated as anonymous; but an expired or invalid credential does not hide
//! a valid one the same request carries. An expired or invalid JWT
//! (`Authorization: Bearer` or `ss-tok`) is renewed from the `ss-reftok`
//! cookie on the server, and the new access token is sent back as `ss-tok`
//! (ServiceStack's JwtAuthProviderReader.cs:520-560 `PreAuthenticateAsync`
//! and :620-640 `AuthenticateRefreshTokenAsync`).

pub mod password;
mod records;
pub mod throttle;
pub mod tokens;

use evo_core::ids::{AccountId, UserId};
use std::any::Any;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use base64::Engine;
use evo_core::domain::{Role, User};
use evo_store::Store;
use sha2::{Digest, Sha256};

use crate::cache::{BoundedMap, InlineKey, KeyBytes};
use password::PasswordChecker;
use throttle::{LoginThrottle, ThrottleLimits};
use tokens::{TokenError, TokenKeys};

/// The signed-in user of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: UserId,
    pub account_id: AccountId,
    pub display_name: String,
    pub email: String,
    pub roles: Vec<Role>,
    /// The stored sign-in session, when the request used a session cookie.
    pub auth_session_id: Option<String>,
}

impl Principal {
    /// Whether the user has `role`. ServiceStack's `Admin` passes every
    /// role check.
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.iter().any(|r| *r == role || *r == Role::Admin)
    }

    /// `has_role` for a role named by a contract (`[RequiredRole]`); a
    /// name that is no role evo-voice knows is held by nobody but `Admin`,
    /// as ServiceStack's role check would have it.
    pub fn has_role_named(&self, name: &str) -> bool {
        match name.parse::<Role>() {
            Ok(role) => self.has_role(role),
            Err(_) => self.roles.contains(&Role::Admin),
        }
    }

    /// The role names, as tokens and responses carry them.
    pub fn role_names(&self) -> Vec<String> {
        Role::names(&self.roles)
    }

    /// The principal of a stored user.
    pub fn of_user(user: &User, auth_session_id: Option<String>) -> Self {
        Principal {
            user_id: user.id.clone(),
            account_id: user.account_id.clone(),
            display_name: user.display_name.clone(),
            email: user.email.clone(),
            roles: user.roles.clone(),
            auth_session_id,
        }
    }
}

/// A principal's roles as bits, kept in a verified token's cache entry so
/// that the read path's role check reads the entry's line (already loaded
/// by the lookup) rather than the principal's and its role list's, two
/// cache misses per request with 2,000 users rotating (docs/benchmarks.md,
/// "Read path CPU, again (issue 12, session 10, `readcpu`)"). The same
/// answers as [`Principal::has_role`] and [`Principal::has_role_named`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoleSet(u8);

impl RoleSet {
    /// The set of `roles`.
    pub fn of(roles: &[Role]) -> Self {
        RoleSet(roles.iter().fold(0, |bits, role| bits | Self::bit(*role)))
    }

    fn bit(role: Role) -> u8 {
        1 << (role as u8)
    }

    /// Whether the set holds `role` (or `Admin`, which passes every check).
    pub fn has_role(self, role: Role) -> bool {
        self.0 & (Self::bit(role) | Self::bit(Role::Admin)) != 0
    }

    /// [`RoleSet::has_role`] for a role named by a contract; a name that
    /// is no role is held by `Admin` alone.
    pub fn has_role_named(self, name: &str) -> bool {
        match name.parse::<Role>() {
            Ok(role) => self.has_role(role),
            Err(_) => self.0 & Self::bit(Role::Admin) != 0,
        }
    }
}

/// A request's principal, and the user whose access token was renewed
/// from `ss-reftok` (the caller signs it and sets it as `ss-tok`). The
/// principal is shared with the verified-token cache: a request with a
/// cached token copies no string.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub principal: Arc<Principal>,
    pub renewed_token: Option<User>,
    /// The cached token's entry (for its slot), when a cached token was used.
    pub slot: Option<TokenEntry>,
}

/// A bearer token verified moments ago, as the cache holds it
/// ([`Authenticator::with_cached`]).
#[derive(Clone, Copy)]
pub struct CachedToken<'a> {
    pub principal: &'a Arc<Principal>,
    /// The principal's roles, from the entry itself.
    pub roles: RoleSet,
    pub slot: &'a TokenSlot,
}

/// A place beside a verified access token for what a layer above derives
/// from its principal (the application keeps the user's active-sessions
/// view cell there), so that a request with a cached token reads one cache
/// entry instead of two. Filled once, by the first request that needs it,
/// and carried over when the re-check renews the token; `auth` never looks
/// inside, and whoever fills it validates what it finds on every read (the
/// slot lives no longer than the token's entry, which is never served
/// stale).
#[derive(Default)]
pub struct TokenSlot(OnceLock<Arc<dyn Any + Send + Sync>>);

impl TokenSlot {
    /// What the slot holds, when it holds a `T`.
    pub fn get<T: Any>(&self) -> Option<&T> {
        self.0.get()?.downcast_ref()
    }

    /// Fills the slot, unless it already holds something.
    pub fn fill(&self, value: Arc<dyn Any + Send + Sync>) {
        let _ = self.0.set(value);
    }

    /// A slot holding what this one holds (for the entry that replaces
    /// this one's when the token is extended).
    fn carried(&self) -> TokenSlot {
        match self.0.get() {
            Some(value) => TokenSlot(OnceLock::from(value.clone())),
            None => TokenSlot::default(),
        }
    }
}

/// A cached token's entry, as a request holds it: its slot, in the entry
/// itself (one allocation, so a request reaches the slot with no further
/// pointer to follow).
#[derive(Clone)]
pub struct TokenEntry(Arc<VerifiedToken>);

impl TokenEntry {
    /// The slot beside the token.
    pub fn slot(&self) -> &TokenSlot {
        &self.0.slot
    }
}

impl std::fmt::Debug for TokenEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("TokenEntry").field(&self.0.slot).finish()
    }
}

impl std::fmt::Debug for TokenSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSlot")
            .field("filled", &self.0.get().is_some())
            .finish()
    }
}

/// Why a presented credential was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    #[error("Token has expired")]
    TokenExpired,
    #[error("Invalid bearer token")]
    InvalidToken,
    #[error("Invalid API Key")]
    InvalidApiKey,
    #[error("Invalid Username or Password")]
    InvalidCredentials,
    #[error("Session has expired or was signed out")]
    InvalidSession,
    #[error("the directory could not be read")]
    Unavailable,
    /// Too many failed sign-ins for the user name or from the address;
    /// retry after this many seconds.
    #[error("Too many failed sign-in attempts; try again later")]
    Throttled(u64),
}

/// A credential found on a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    Bearer(String),
    ApiKey(String),
    Basic { user_name: String, password: String },
    TokenCookie(String),
    SessionCookie(String),
}

/// The prefix of ServiceStack API keys (`ak-` + 32 hex digits).
pub const API_KEY_PREFIX: &str = "ak-";

/// A new random API key.
pub fn generate_api_key() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{API_KEY_PREFIX}{}", hex(&bytes))
}

/// The stored form of an API key (SHA-256, lowercase hex).
pub fn hash_api_key(key: &str) -> String {
    hex(&Sha256::digest(key.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A random opaque id for sign-in sessions (ServiceStack uses 20 random
/// characters for `ss-id`).
pub fn generate_session_id() -> String {
    use rand::distributions::{Alphanumeric, DistString};
    Alphanumeric.sample_string(&mut rand::thread_rng(), 24)
}

/// Finds the credentials on a request, most specific first.
pub fn credentials(headers: &HeaderMap) -> Vec<Credential> {
    let mut found = Vec::new();
    if let Some(value) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let value = value.trim();
        if let Some(token) = strip_scheme(value, "Bearer") {
            if token.starts_with(API_KEY_PREFIX) || token.matches('.').count() != 2 {
                found.push(Credential::ApiKey(token.to_string()));
            } else {
                found.push(Credential::Bearer(token.to_string()));
            }
        } else if let Some(encoded) = strip_scheme(value, "Basic") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok());
            match decoded.as_deref().and_then(|text| text.split_once(':')) {
                // An API key as the Basic user name with an empty password.
                Some((user, "")) if user.starts_with(API_KEY_PREFIX) => {
                    found.push(Credential::ApiKey(user.to_string()))
                }
                Some((user, password)) => found.push(Credential::Basic {
                    user_name: user.to_string(),
                    password: password.to_string(),
                }),
                None => found.push(Credential::Basic {
                    user_name: String::new(),
                    password: String::new(),
                }),
            }
        }
    }
    if let Some(key) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        found.push(Credential::ApiKey(key.trim().to_string()));
    }
    let cookies = cookies(headers);
    if let Some(token) = cookie(&cookies, "ss-tok") {
        found.push(Credential::TokenCookie(token.to_string()));
    }
    // A permanent session (remember me) takes precedence, as ServiceStack's
    // `ss-opt=perm` selects `ss-pid`.
    let permanent = cookie(&cookies, "ss-opt") == Some("perm");
    let order = if permanent {
        ["ss-pid", "ss-id"]
    } else {
        ["ss-id", "ss-pid"]
    };
    for name in order {
        if let Some(id) = cookie(&cookies, name) {
            found.push(Credential::SessionCookie(id.to_string()));
        }
    }
    found
}

fn strip_scheme<'a>(value: &'a str, scheme: &str) -> Option<&'a str> {
    let (head, rest) = value.split_once(' ')?;
    head.eq_ignore_ascii_case(scheme).then(|| rest.trim())
}

/// Parses the `Cookie` headers into name/value pairs.
pub fn cookies(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            Some((name.trim().to_string(), value.trim().to_string()))
        })
        .collect()
}

fn cookie<'a>(cookies: &'a [(String, String)], name: &str) -> Option<&'a str> {
    cookies
        .iter()
        .find(|(n, v)| n == name && !v.is_empty())
        .map(|(_, v)| v.as_str())
}

/// How long a looked-up user (for tokens, API keys and cookies) or sign-in
/// session (for tokens) is reused before the store is asked again: bounds
/// both load and how long a sign-out, role change or deleted user takes to
/// reach bearer tokens.
pub const CACHE_TTL: Duration = Duration::from_secs(5);
const USER_CACHE_TTL: Duration = CACHE_TTL;

/// Half of [`CACHE_TTL`]: the range over which the re-check spreads the
/// tokens' deadlines ([`spread_of`]), so that a token in use is re-checked
/// before it goes stale (requests find it fresh and never wait on the
/// store for it) and not all at once.
pub const REFRESH_PERIOD: Duration = Duration::from_millis(CACHE_TTL.as_millis() as u64 / 2);

/// How often the background re-check runs: a quarter of
/// [`REFRESH_PERIOD`]. Each pass re-checks the tokens in use that would go
/// stale before the next pass (with a pass's margin for a late one); as
/// their deadlines are spread over [`REFRESH_PERIOD`], a pass handles
/// about a quarter of them. Before (session 8), every token was extended
/// from the same instant by each pass every 2.5 s: 2,000 tokens at once.
pub const RECHECK_TICK: Duration = Duration::from_millis(REFRESH_PERIOD.as_millis() as u64 / 4);

/// How much sooner than [`CACHE_TTL`] after its check a re-checked token
/// goes stale: a share of [`REFRESH_PERIOD`] fixed by the token (a hash of
/// it), so that tokens verified together (a cohort of clients signing in
/// at once) are re-checked in different passes from their first re-check
/// on. Shorter only: the revocation bound stays [`CACHE_TTL`].
fn spread_of(token: &[u8]) -> Duration {
    use std::hash::BuildHasher;
    let hash = foldhash::fast::FixedState::with_seed(0x7e57).hash_one(token);
    Duration::from_millis(hash % REFRESH_PERIOD.as_millis() as u64)
}

/// The `fresh_until` of a token re-checked at `checked_at`: [`CACHE_TTL`]
/// after it less the token's [`spread_of`], and never sooner than it was
/// (a re-check does not shorten what an earlier check allowed, which was
/// itself at most [`CACHE_TTL`] after that check).
fn fresh_after_recheck(token: &[u8], checked_at: Instant, current: Instant) -> Instant {
    (checked_at + CACHE_TTL - spread_of(token)).max(current)
}

/// How many cached tokens a re-check pass extends between two yields to
/// the runtime (about 0.1-0.2 ms of a worker's time each, measured with
/// `examples/background`).
const YIELD_EVERY: usize = 256;

/// What one background re-check did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RefreshOutcome {
    /// Tokens whose session and user were still valid: fresh again.
    pub extended: usize,
    /// Tokens whose session ended or expired, or whose user is gone.
    pub evicted: usize,
}

/// The costly parts of authentication and their limits.
#[derive(Debug, Clone, Copy)]
pub struct AuthLimits {
    /// Password verifications at once (0: one per core).
    pub password_checks: usize,
    /// Failed sign-ins allowed per user name and per address.
    pub throttle: ThrottleLimits,
}

/// How many verified access tokens are remembered.
const TOKEN_CACHE_CAPACITY: usize = 100_000;

/// A verified token's key in the cache: held in the cache's entry when it
/// is at most 432 bytes (the entry is then 448 bytes, one of the
/// allocator's size classes; a typical token is about 300), else on the
/// heap ([`InlineKey`]).
type TokenKey = InlineKey<432>;

/// An access token that passed every check, remembered so that the next
/// request with it neither parses nor verifies it again.
struct VerifiedToken {
    principal: Arc<Principal>,
    /// The principal's roles, on the entry's own line ([`RoleSet`]).
    roles: RoleSet,
    /// The token's sign-in session (a sign-out forgets its tokens at once).
    sid: String,
    /// The last second (since the epoch) the token is good for: its `exp`,
    /// or its sign-in session's end when that comes first. Checked on
    /// every use, so a session that runs out needs no re-check.
    exp: u64,
    /// When the older of the session and user records it was checked
    /// against was read (or last known to be current).
    checked_at: Instant,
    /// `checked_at` + [`CACHE_TTL`]: the token is checked again then, so a
    /// sign-out or role change reaches it within [`CACHE_TTL`] as before.
    fresh_until: Instant,
    /// Whether a request used it since it was last checked: only tokens
    /// in use are re-checked in the background, idle ones go stale.
    used: AtomicBool,
    /// What the application keeps beside the token ([`TokenSlot`]).
    slot: TokenSlot,
}

/// Whether `token` has exactly two dots (a JWT's three parts): the first
/// and the last found from either end, then the part between them searched
/// once, so the ~300-byte token is scanned once (`matches('.').count()`
/// searched it whole three times, a byte count without `memchr` was
/// slower still: 0.6 % and 1.3 % of the read path's samples).
fn has_two_dots(token: &str) -> bool {
    match (token.find('.'), token.rfind('.')) {
        (Some(first), Some(last)) if first < last => !token[first + 1..last].contains('.'),
        _ => false,
    }
}

/// The last whole second (since the epoch) before a sign-in session ends,
/// the form `exp` is compared in (`exp >= now`); up to a second early.
fn last_second_before(expires_at: chrono::DateTime<chrono::Utc>) -> u64 {
    u64::try_from(expires_at.timestamp() - 1).unwrap_or(0)
}

/// A sign-in session that has not ended: its user and its last second.
type LiveSession = (UserId, u64);

/// Seconds since the epoch, as jsonwebtoken compares `exp`.
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Turns credentials into principals.
///
/// The caches are `std` mutexes, held only for a lookup or an insert (never
/// across an `.await`), and a [`BoundedMap`] of verified tokens: a request
/// whose bearer token was verified in the last [`CACHE_TTL`] takes no lock
/// and writes nothing shared.
pub struct Authenticator {
    store: Arc<dyn Store>,
    keys: TokenKeys,
    /// User id → (checked at, the user).
    users: Mutex<std::collections::HashMap<UserId, (Instant, Option<User>)>>,
    /// Sign-in session id → (checked at, the user id and the session's
    /// last second, while it has not ended).
    sessions: Mutex<std::collections::HashMap<String, (Instant, Option<LiveSession>)>>,
    /// Access token → what it was verified to be. Bounded; an entry is
    /// served only while fresh, and the re-check pass drops stale ones.
    tokens: BoundedMap<TokenKey, Arc<VerifiedToken>>,
    passwords: PasswordChecker,
    throttle: LoginThrottle,
    /// Totals of the background re-checks since start.
    refreshed: [AtomicUsize; 2],
    /// Sign-outs on this node so far: a re-check that overlapped one
    /// extends nothing, so it cannot bring back what the sign-out forgot.
    signouts: AtomicU64,
    /// The store's auth generation as the last re-check read it, and an
    /// instant at which it already had that value: while it has not moved,
    /// no user or sign-in session changed since that instant.
    generation: Mutex<Option<(i64, Instant)>>,
}

impl Authenticator {
    /// An authenticator over the store with the given token keys.
    pub fn new(store: Arc<dyn Store>, keys: TokenKeys, limits: AuthLimits) -> Self {
        Authenticator {
            store,
            keys,
            users: Mutex::new(Default::default()),
            sessions: Mutex::new(Default::default()),
            tokens: BoundedMap::new(TOKEN_CACHE_CAPACITY),
            passwords: PasswordChecker::new(limits.password_checks),
            throttle: LoginThrottle::new(limits.throttle),
            refreshed: Default::default(),
            signouts: AtomicU64::new(0),
            generation: Mutex::new(None),
        }
    }

    /// The token keys (for issuing tokens).
    pub fn keys(&self) -> &TokenKeys {
        &self.keys
    }

    /// How many password verifications ran since start (known and unknown
    /// users alike).
    pub fn password_checks(&self) -> u64 {
        self.passwords.checks()
    }

    /// What the background re-checks did since start (tests, diagnostics):
    /// tokens extended and tokens evicted.
    pub fn refresh_totals(&self) -> RefreshOutcome {
        RefreshOutcome {
            extended: self.refreshed[0].load(Ordering::Relaxed),
            evicted: self.refreshed[1].load(Ordering::Relaxed),
        }
    }

    fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
        mutex
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The user id and last second of a sign-in session that has not
    /// ended, read from the store at most every [`CACHE_TTL`], and when it
    /// was read.
    async fn live_session_user(
        &self,
        id: &str,
    ) -> Result<(Option<LiveSession>, Instant), AuthFailure> {
        let now = Instant::now();
        let cached = Self::lock(&self.sessions).get(id).cloned();
        if let Some((at, user)) = cached {
            if now.duration_since(at) < CACHE_TTL {
                return Ok((user, at));
            }
        }
        let user = self
            .store
            .auth_session(id)
            .await
            .map_err(|error| {
                tracing::error!(%error, "reading a sign-in session failed");
                AuthFailure::Unavailable
            })?
            .filter(|session| session.expires_at > chrono::Utc::now())
            .map(|session| (session.user_id, last_second_before(session.expires_at)));
        let mut cache = Self::lock(&self.sessions);
        if cache.len() > 10_000 {
            cache.retain(|_, (at, _)| now.duration_since(*at) < CACHE_TTL);
            if cache.len() > 10_000 {
                cache.clear();
            }
        }
        cache.insert(id.to_string(), (now, user.clone()));
        Ok((user, now))
    }

    /// Forgets a cached session, and the tokens verified against it, at
    /// once (this node signed it out).
    async fn forget_session(&self, id: &str) {
        self.signouts.fetch_add(1, Ordering::SeqCst);
        Self::lock(&self.sessions).remove(id);
        // Rare (a sign-out); a scan, as the old sharded map's retain was.
        self.tokens.retain(|_, verified| verified.sid != id);
    }

    async fn cached_user(&self, user_id: &UserId) -> Result<Option<User>, AuthFailure> {
        self.cached_user_at(user_id).await.map(|(user, _)| user)
    }

    /// A user read from the store at most every [`CACHE_TTL`], and when it
    /// was read.
    async fn cached_user_at(
        &self,
        user_id: &UserId,
    ) -> Result<(Option<User>, Instant), AuthFailure> {
        let now = Instant::now();
        let cached = Self::lock(&self.users).get(user_id).cloned();
        if let Some((at, user)) = cached {
            if now.duration_since(at) < USER_CACHE_TTL {
                return Ok((user, at));
            }
        }
        let user = self.store.user(user_id).await.map_err(|error| {
            tracing::error!(%error, "reading a user failed");
            AuthFailure::Unavailable
        })?;
        let mut cache = Self::lock(&self.users);
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(user_id.to_string().into(), (now, user.clone()));
        Ok((user, now))
    }

    /// The principal of an access token verified within [`CACHE_TTL`] and
    /// not expired: no parsing, no signature check, no store.
    fn verified_token(&self, token: &str) -> Option<Arc<Principal>> {
        self.verified_entry(token).map(|(principal, _)| principal)
    }

    /// [`Authenticator::verified_token`] with the token's slot.
    fn verified_entry(&self, token: &str) -> Option<(Arc<Principal>, TokenEntry)> {
        self.with_verified(token, |verified| {
            (verified.principal.clone(), TokenEntry(verified.clone()))
        })
    }

    /// What `read` makes of the cache entry of `token`, when it is
    /// servable: before its `fresh_until` and its end (`exp` or the sign-in
    /// session's). Marks it used.
    fn with_verified<R>(
        &self,
        token: &str,
        read: impl FnOnce(&Arc<VerifiedToken>) -> R,
    ) -> Option<R> {
        let now = Instant::now();
        let unix = unix_now();
        self.tokens
            .read(&KeyBytes(token.as_bytes()), |verified| {
                if !(now < verified.fresh_until && verified.exp >= unix) {
                    return None;
                }
                // Read first: a hot token's cache line is not written per request.
                if !verified.used.load(Ordering::Relaxed) {
                    verified.used.store(true, Ordering::Relaxed);
                }
                Some(read(verified))
            })
            .flatten()
    }

    /// Re-checks the cached tokens in use that go stale before `until`.
    ///
    /// First one row: the store's auth generation ([`Store::auth_generation`],
    /// moved by every change or deletion of a user or sign-in session, on
    /// any node). While it has not moved since an instant at or before a
    /// token's records were read, those records are still what the store
    /// holds, and the token is fresh for another [`CACHE_TTL`] without
    /// reading them. Otherwise (it moved, or the token's records are older
    /// than what the pass knows) its sign-in session and user are read in
    /// two batched queries: a still valid token is fresh for another
    /// [`CACHE_TTL`] from the read (its principal rebuilt when the user's
    /// roles or names changed), any other is evicted. On a store error
    /// nothing changes: the tokens go stale and requests check them
    /// synchronously (503 while the store is down), so a token is never
    /// served stale.
    pub async fn refresh_tokens(&self, until: Instant) -> Result<RefreshOutcome, AuthFailure> {
        // Stale entries are never served; dropped here so that idle tokens
        // leave the cache.
        // One walk over the cache: stale entries go, due ones are taken.
        let now = Instant::now();
        let mut due: Vec<(TokenKey, Arc<VerifiedToken>)> = Vec::new();
        self.tokens.retain(|token, verified| {
            if verified.fresh_until <= now {
                return false;
            }
            if verified.fresh_until < until && verified.used.load(Ordering::Relaxed) {
                due.push((token.clone(), verified.clone()));
            }
            true
        });
        if due.is_empty() {
            return Ok(RefreshOutcome::default());
        }
        let unavailable = |error: evo_store::StoreError| {
            tracing::warn!(%error, "re-checking cached access tokens failed");
            AuthFailure::Unavailable
        };
        let signouts = self.signouts.load(Ordering::SeqCst);
        // The generation held at some instant of its query: `asked_at` is
        // before that instant, `read_at` after it.
        let asked_at = Instant::now();
        let generation = self.store.auth_generation().await.map_err(unavailable)?;
        let read_at = Instant::now();
        let since = Self::lock(&self.generation)
            .filter(|(known, _)| *known == generation)
            .map(|(_, since)| since);
        let (current, changed): (Vec<_>, Vec<_>) = due
            .into_iter()
            .partition(|(_, verified)| since.is_some_and(|since| verified.checked_at >= since));
        let mut outcome = RefreshOutcome::default();
        // Unchanged since their records were read: as current at
        // `asked_at` as the store's generation was.
        if !current.is_empty() && !self.signed_out_since(signouts) {
            for (token, verified) in current {
                // A few hundred at a time: with thousands of tokens in use
                // one poll of the pass would hold a runtime worker for a
                // millisecond or two, and the requests queued behind it
                // with it (the half-rate tail). Another worker runs requests
                // beside the pass anyway, so yielding adds no interleaving.
                if outcome.extended % YIELD_EVERY == YIELD_EVERY - 1 {
                    tokio::task::yield_now().await;
                }
                outcome.extended += 1;
                let fresh_until =
                    fresh_after_recheck(token.as_bytes(), asked_at, verified.fresh_until);
                self.replace_checked(
                    token,
                    &verified,
                    Some(VerifiedToken {
                        principal: verified.principal.clone(),
                        roles: verified.roles,
                        sid: verified.sid.clone(),
                        exp: verified.exp,
                        checked_at: asked_at,
                        fresh_until,
                        used: AtomicBool::new(false),
                        slot: verified.slot.carried(),
                    }),
                );
            }
        }
        if !changed.is_empty() {
            // Read after the generation: they hold at least what it counts.
            self.recheck_from_store(changed, read_at, signouts, &mut outcome)
                .await
                .map_err(unavailable)?;
        }
        {
            // The older instant stays: the generation has not moved since.
            let mut known = Self::lock(&self.generation);
            if since.is_none() {
                *known = Some((generation, read_at));
            }
        }
        self.refreshed[0].fetch_add(outcome.extended, Ordering::Relaxed);
        self.refreshed[1].fetch_add(outcome.evicted, Ordering::Relaxed);
        Ok(outcome)
    }

    /// Whether this node signed a session out since `signouts` was
    /// counted: then a re-check extends nothing, as its reads may predate
    /// the sign-out. Asked under the lock [`Authenticator::forget_session`]
    /// takes after counting.
    fn signed_out_since(&self, signouts: u64) -> bool {
        let _sessions = Self::lock(&self.sessions);
        self.signouts.load(Ordering::SeqCst) != signouts
    }

    /// Replaces a token's entry by `next` (or removes it), only when it is
    /// still the entry that was checked: one replaced meanwhile (a request
    /// verified it again) or removed (signed out on this node) is left as
    /// it is.
    fn replace_checked(
        &self,
        token: TokenKey,
        checked: &Arc<VerifiedToken>,
        next: Option<VerifiedToken>,
    ) {
        self.tokens.replace_if(
            token,
            |current| Arc::ptr_eq(current, checked),
            next.map(Arc::new),
        );
    }

    /// Reads the sign-in sessions and users of `due` (two batched queries)
    /// and extends or evicts each token by what they say, fresh from
    /// `read_at` (an instant before the reads).
    async fn recheck_from_store(
        &self,
        due: Vec<(TokenKey, Arc<VerifiedToken>)>,
        read_at: Instant,
        signouts: u64,
        outcome: &mut RefreshOutcome,
    ) -> Result<(), evo_store::StoreError> {
        let sids: Vec<String> = due
            .iter()
            .map(|(_, verified)| verified.sid.clone())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let user_ids: Vec<UserId> = due
            .iter()
            .map(|(_, verified)| verified.principal.user_id.clone())
            .collect::<std::collections::HashSet<_>>()
            .into_iter()
            .collect();
        let sessions = self.store.auth_sessions_by_ids(&sids).await?;
        let users = self.store.users_by_ids(&user_ids).await?;
        let now = chrono::Utc::now();
        let unix = unix_now();
        let sessions: std::collections::HashMap<&str, (&UserId, u64)> = sessions
            .iter()
            .filter(|session| session.expires_at > now)
            .map(|session| {
                (
                    session.id.as_str(),
                    (&session.user_id, last_second_before(session.expires_at)),
                )
            })
            .collect();
        let users: std::collections::HashMap<&UserId, &User> =
            users.iter().map(|user| (&user.id, user)).collect();
        // The lookup caches learn the same answers, so that a token evicted
        // here is not verified again from an older cached record. A sign-out
        // on this node since the reads began (its session read as valid,
        // perhaps) makes this pass extend nothing: checked under the lock
        // `forget_session` takes after counting.
        let signed_out = {
            let mut cache = Self::lock(&self.sessions);
            let signed_out = self.signouts.load(Ordering::SeqCst) != signouts;
            if !signed_out {
                for sid in &sids {
                    let owner = sessions
                        .get(sid.as_str())
                        .map(|(owner, exp)| ((*owner).clone(), *exp));
                    cache.insert(sid.clone(), (read_at, owner));
                }
            }
            signed_out
        };
        if !signed_out {
            let mut cache = Self::lock(&self.users);
            for user_id in &user_ids {
                let user = users.get(user_id).map(|user| (*user).clone());
                cache.insert(user_id.clone(), (read_at, user));
            }
        }
        for (token, verified) in due {
            let principal = &verified.principal;
            let found = sessions
                .get(verified.sid.as_str())
                .map(|(owner, session_exp)| (owner, verified.exp.min(*session_exp)))
                .filter(|(owner, exp)| ***owner == principal.user_id && *exp >= unix)
                .and_then(|(_, exp)| Some((users.get(&principal.user_id)?, exp)));
            let next = match found {
                // Left to go stale; the next pass or the request decides.
                Some(_) if signed_out => continue,
                Some((user, exp)) => {
                    let current = Principal::of_user(user, Some(verified.sid.clone()));
                    let principal = if current == **principal {
                        principal.clone()
                    } else {
                        Arc::new(current)
                    };
                    outcome.extended += 1;
                    Some(VerifiedToken {
                        roles: RoleSet::of(&principal.roles),
                        principal,
                        sid: verified.sid.clone(),
                        exp,
                        checked_at: read_at,
                        fresh_until: fresh_after_recheck(
                            token.as_bytes(),
                            read_at,
                            verified.fresh_until,
                        ),
                        used: AtomicBool::new(false),
                        // The same user (checked above); what the slot
                        // holds is validated on each read.
                        slot: verified.slot.carried(),
                    })
                }
                None => {
                    outcome.evicted += 1;
                    None
                }
            };
            self.replace_checked(token, &verified, next);
        }
        Ok(())
    }

    /// Re-checks cached tokens every [`RECHECK_TICK`] until `stop`
    /// resolves (the server's shutdown).
    pub async fn run_token_refresh(&self, stop: impl std::future::Future<Output = ()>) {
        let mut stop = std::pin::pin!(stop);
        let mut ticks = tokio::time::interval(RECHECK_TICK);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                () = &mut stop => return,
            }
            // Everything that would go stale before the next tick, with a
            // tick's margin for a late one.
            let until = Instant::now() + 2 * RECHECK_TICK;
            match self.refresh_tokens(until).await {
                Ok(outcome) => {
                    metrics::counter!("evo_auth_tokens_rechecked_total")
                        .increment(outcome.extended as u64);
                    metrics::counter!("evo_auth_tokens_evicted_total")
                        .increment(outcome.evicted as u64);
                }
                Err(_) => metrics::counter!("evo_auth_token_recheck_failures_total").increment(1),
            }
        }
    }

    /// The bearer token of `Authorization: Bearer <jwt>`, when the request
    /// has one (the first credential [`credentials`] would find).
    fn bearer_jwt(headers: &HeaderMap) -> Option<&str> {
        let value = headers
            .get(axum::http::header::AUTHORIZATION)?
            .to_str()
            .ok()?;
        let token = strip_scheme(value.trim(), "Bearer")?;
        (!token.starts_with(API_KEY_PREFIX) && has_two_dots(token)).then_some(token)
    }

    /// Authenticates a request: `Ok(None)` when it carries no credential.
    pub async fn authenticate(
        &self,
        headers: &HeaderMap,
    ) -> Result<Option<Principal>, AuthFailure> {
        self.authenticate_request(headers)
            .await
            .map(|found| found.map(|auth| Arc::unwrap_or_clone(auth.principal)))
    }

    /// The common case of [`Authenticator::authenticate_request`], without
    /// awaiting: a bearer token verified moments ago. It is the first
    /// credential and valid, so the full walk would answer the same; `None`
    /// means the walk must decide.
    pub fn authenticate_cached(&self, headers: &HeaderMap) -> Option<Authenticated> {
        let (principal, slot) = self.verified_entry(Self::bearer_jwt(headers)?)?;
        Some(Authenticated {
            principal,
            renewed_token: None,
            slot: Some(slot),
        })
    }

    /// [`Authenticator::authenticate_cached`] borrowed: what `read` makes
    /// of the cached token's principal and slot, read in the cache (no
    /// reference count of the entry or the principal is written; the
    /// entry stays valid while `read` runs). `None` means the walk must
    /// decide.
    pub fn with_cached<R>(
        &self,
        headers: &HeaderMap,
        read: impl FnOnce(CachedToken<'_>) -> R,
    ) -> Option<R> {
        self.with_verified(Self::bearer_jwt(headers)?, |verified| {
            read(CachedToken {
                principal: &verified.principal,
                roles: verified.roles,
                slot: &verified.slot,
            })
        })
    }

    /// Authenticates a request, trying each credential it carries in order
    /// until one is valid; a JWT that fails is followed by the `ss-reftok`
    /// cookie when there is one. When every credential fails, the first
    /// failure is the answer.
    pub async fn authenticate_request(
        &self,
        headers: &HeaderMap,
    ) -> Result<Option<Authenticated>, AuthFailure> {
        if let Some(found) = self.authenticate_cached(headers) {
            return Ok(Some(found));
        }
        // Boxed: the walk awaits the store, and its state would otherwise
        // make every request's future larger.
        Box::pin(self.authenticate_walk(headers)).await
    }

    /// Every credential in order, then `ss-reftok` (see
    /// [`Authenticator::authenticate_request`]).
    async fn authenticate_walk(
        &self,
        headers: &HeaderMap,
    ) -> Result<Option<Authenticated>, AuthFailure> {
        let found = credentials(headers);
        if found.is_empty() {
            return Ok(None);
        }
        let mut first_failure = None;
        let mut jwt_failed = false;
        for credential in found {
            let is_jwt = matches!(
                credential,
                Credential::Bearer(_) | Credential::TokenCookie(_)
            );
            match self.verify_shared(credential).await {
                Ok(principal) => {
                    return Ok(Some(Authenticated {
                        principal,
                        renewed_token: None,
                        slot: None,
                    }))
                }
                // A store outage is not a wrong credential: never hide it.
                Err(AuthFailure::Unavailable) => return Err(AuthFailure::Unavailable),
                Err(failure) => {
                    jwt_failed |= is_jwt;
                    first_failure.get_or_insert(failure);
                }
            }
        }
        if jwt_failed {
            if let Some(refresh) = cookie(&cookies(headers), "ss-reftok") {
                match self.renew(refresh).await {
                    Ok(renewed) => return Ok(Some(renewed)),
                    Err(AuthFailure::Unavailable) => return Err(AuthFailure::Unavailable),
                    Err(_) => {}
                }
            }
        }
        Err(first_failure.unwrap_or(AuthFailure::InvalidToken))
    }

    /// A new access token from a refresh token whose sign-in session is
    /// still valid.
    pub async fn renew(&self, refresh_token: &str) -> Result<Authenticated, AuthFailure> {
        let claims = self
            .keys
            .verify_refresh(refresh_token)
            .map_err(|error| match error {
                TokenError::Expired => AuthFailure::TokenExpired,
                TokenError::Invalid => AuthFailure::InvalidToken,
            })?;
        let session = self
            .store
            .auth_session(&claims.jti)
            .await
            .map_err(|_| AuthFailure::Unavailable)?
            .filter(|session| {
                session.expires_at > chrono::Utc::now() && session.user_id == claims.sub
            })
            .ok_or(AuthFailure::InvalidSession)?;
        let user = self
            .cached_user(&session.user_id)
            .await?
            .ok_or(AuthFailure::InvalidSession)?;
        Ok(Authenticated {
            principal: Arc::new(Principal::of_user(&user, Some(claims.jti))),
            renewed_token: Some(user),
            slot: None,
        })
    }

    /// Verifies one credential.
    pub async fn verify(&self, credential: Credential) -> Result<Principal, AuthFailure> {
        self.verify_shared(credential)
            .await
            .map(Arc::unwrap_or_clone)
    }

    /// [`Authenticator::verify`], the principal shared with the token cache.
    async fn verify_shared(&self, credential: Credential) -> Result<Arc<Principal>, AuthFailure> {
        let principal = match credential {
            Credential::Bearer(token) | Credential::TokenCookie(token) => {
                if let Some(principal) = self.verified_token(&token) {
                    return Ok(principal);
                }
                let claims = self
                    .keys
                    .verify_access(&token)
                    .map_err(|error| match error {
                        TokenError::Expired => AuthFailure::TokenExpired,
                        TokenError::Invalid => AuthFailure::InvalidToken,
                    })?;
                // The token is only as good as its sign-in session and its
                // user, both re-read at most every CACHE_TTL: a sign-out, a
                // role change or a deleted user reaches tokens in seconds.
                let sid = claims.sid.ok_or(AuthFailure::InvalidToken)?;
                let (session, session_at) = self.live_session_user(&sid).await?;
                let (session_user, session_exp) = session.ok_or(AuthFailure::InvalidSession)?;
                if session_user != claims.sub {
                    return Err(AuthFailure::InvalidToken);
                }
                let (user, user_at) = self
                    .cached_user_at(&UserId::new(claims.sub.as_str()))
                    .await?;
                let user = user.ok_or(AuthFailure::InvalidSession)?;
                let principal = Arc::new(Principal::of_user(&user, Some(sid.clone())));
                let checked_at = session_at.min(user_at);
                let now = Instant::now();
                self.tokens.insert(
                    TokenKey::new(&token),
                    Arc::new(VerifiedToken {
                        principal: principal.clone(),
                        roles: RoleSet::of(&principal.roles),
                        sid,
                        exp: u64::try_from(claims.exp).unwrap_or(0).min(session_exp),
                        checked_at,
                        fresh_until: checked_at + CACHE_TTL,
                        used: AtomicBool::new(true),
                        slot: TokenSlot::default(),
                    }),
                    // Making room: stale entries first.
                    |verified| verified.fresh_until > now,
                );
                return Ok(principal);
            }
            Credential::ApiKey(key) => {
                let record = self
                    .store
                    .api_key_by_hash(&hash_api_key(&key))
                    .await
                    .map_err(|_| AuthFailure::Unavailable)?
                    .ok_or(AuthFailure::InvalidApiKey)?;
                let user = self
                    .cached_user(&record.user_id)
                    .await?
                    .ok_or(AuthFailure::InvalidApiKey)?;
                Principal::of_user(&user, None)
            }
            Credential::Basic {
                user_name,
                password,
            } => {
                let user = self.check_password(&user_name, &password).await?;
                Principal::of_user(&user, None)
            }
            Credential::SessionCookie(id) => {
                let session = self
                    .store
                    .auth_session(&id)
                    .await
                    .map_err(|_| AuthFailure::Unavailable)?
                    .filter(|session| session.expires_at > chrono::Utc::now())
                    .ok_or(AuthFailure::InvalidSession)?;
                let user = self
                    .cached_user(&session.user_id)
                    .await?
                    .ok_or(AuthFailure::InvalidSession)?;
                Principal::of_user(&user, Some(id))
            }
        };
        Ok(Arc::new(principal))
    }

    /// Checks a user name (e-mail address) and password: refused without
    /// a lookup or a hash when the name or the client address has failed
    /// too often; otherwise exactly one argon2 verification, against a
    /// dummy hash when the user does not exist, so that neither the answer
    /// nor its timing tells which e-mail addresses exist.
    pub async fn check_password(
        &self,
        user_name: &str,
        password: &str,
    ) -> Result<User, AuthFailure> {
        let addr = throttle::client_addr();
        self.throttle
            .check(user_name, addr)
            .map_err(|wait| AuthFailure::Throttled(wait.as_secs().max(1)))?;
        let user = self
            .store
            .user_by_email(user_name.trim())
            .await
            .map_err(|_| AuthFailure::Unavailable)?;
        let matched = match &user {
            Some(user) => {
                self.passwords
                    .verify(password.to_string(), user.password_hash.clone())
                    .await
            }
            None => self.passwords.verify_unknown(password.to_string()).await,
        };
        match user {
            Some(user) if matched => {
                self.throttle.succeeded(user_name);
                Ok(user)
            }
            _ => {
                self.throttle.failed(user_name, addr);
                Err(AuthFailure::InvalidCredentials)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn a_token_has_two_dots_exactly_as_counted() {
        for token in [
            "", ".", "..", "...", "a.b", "a.b.c", "a..c", ".b.", "a.b.c.d", "abc", "a.b.c.",
        ] {
            assert_eq!(
                has_two_dots(token),
                token.matches('.').count() == 2,
                "{token:?}"
            );
        }
    }

    #[test]
    fn a_role_set_answers_as_the_principals_roles_do() {
        // Every subset of the roles, every role name and a name that is no role.
        for bits in 0..(1u32 << Role::ALL.len()) {
            let roles: Vec<Role> = Role::ALL
                .iter()
                .enumerate()
                .filter(|(i, _)| bits & (1 << i) != 0)
                .map(|(_, role)| *role)
                .collect();
            let principal = Principal {
                user_id: "usr1".into(),
                account_id: "acc1".into(),
                display_name: "Ann".into(),
                email: "ann@example.com".into(),
                roles: roles.clone(),
                auth_session_id: None,
            };
            let set = RoleSet::of(&roles);
            for role in Role::ALL {
                assert_eq!(
                    set.has_role(role),
                    principal.has_role(role),
                    "{roles:?} {role:?}"
                );
                let name = role.name();
                assert_eq!(
                    set.has_role_named(name),
                    principal.has_role_named(name),
                    "{roles:?} {name}"
                );
            }
            assert_eq!(
                set.has_role_named("NoSuchRole"),
                principal.has_role_named("NoSuchRole"),
                "{roles:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_verified_token_leaves_the_cache_when_it_stops_being_fresh() {
        let f = fixture().await;
        let now = Instant::now();
        let verified = |fresh_for: Duration| {
            Arc::new(VerifiedToken {
                principal: Arc::new(Principal {
                    user_id: "usr1".into(),
                    account_id: "acc1".into(),
                    display_name: "Ann".into(),
                    email: "ann@example.com".into(),
                    roles: vec![Role::User],
                    auth_session_id: None,
                }),
                roles: RoleSet::of(&[Role::User]),
                sid: "sid1".into(),
                exp: u64::MAX,
                checked_at: now,
                fresh_until: now + fresh_for,
                used: AtomicBool::new(true),
                slot: TokenSlot::default(),
            })
        };
        let token = "a.b.c".to_string();
        let fresh_until = || {
            f.auth
                .tokens
                .read(&KeyBytes(token.as_bytes()), |v| v.fresh_until)
        };
        f.auth
            .tokens
            .insert(TokenKey::new(&token), verified(CACHE_TTL), |_| true);
        assert_eq!(fresh_until(), Some(now + CACHE_TTL));
        assert!(f.auth.verified_token(&token).is_some());
        // A re-verification replaces the entry's expiry rather than keeping the old one.
        f.auth.tokens.insert(
            TokenKey::new(&token),
            verified(Duration::from_secs(1)),
            |_| true,
        );
        assert_eq!(fresh_until(), Some(now + Duration::from_secs(1)));
        // Already stale: never served, and dropped by the next pass.
        f.auth
            .tokens
            .insert(TokenKey::new(&token), verified(Duration::ZERO), |_| true);
        assert!(f.auth.verified_token(&token).is_none());
        f.auth.refresh_tokens(Fixture::horizon()).await.unwrap();
        assert_eq!(fresh_until(), None);
    }

    /// The slot beside a cached token is reached only through a fresh
    /// entry: `authenticate_cached` (the dispatcher's read path) answers
    /// nothing for a token past its `fresh_until` or its end, and the
    /// re-check keeps the slot when it extends the token, so what the
    /// application keeps there lives exactly as long as a servable token.
    #[tokio::test]
    async fn the_slot_beside_a_token_is_served_only_with_a_fresh_token_and_kept_by_the_recheck() {
        let f = fixture().await;
        let headers = || {
            let mut headers = HeaderMap::new();
            headers.insert(
                axum::http::header::AUTHORIZATION,
                HeaderValue::from_str(&format!("Bearer {}", f.token)).unwrap(),
            );
            headers
        };
        assert!(
            f.auth.authenticate_cached(&headers()).is_none(),
            "not verified yet: the walk decides"
        );
        f.request().await.unwrap();
        let found = f.auth.authenticate_cached(&headers()).expect("cached");
        let entry = found.slot.expect("a cached token has a slot");
        let slot = entry.slot();
        assert_eq!(found.principal.user_id.as_str(), "usr1");
        slot.fill(Arc::new(42u32));
        slot.fill(Arc::new(7u32));
        assert_eq!(slot.get::<u32>(), Some(&42), "filled once");
        assert_eq!(slot.get::<u64>(), None, "only as what it holds");
        // Extended by the re-check: the same slot.
        f.auth.refresh_tokens(Fixture::horizon()).await.unwrap();
        let again = f
            .auth
            .authenticate_cached(&headers())
            .unwrap()
            .slot
            .unwrap();
        assert!(std::ptr::eq(
            again.slot().get::<u32>().unwrap(),
            slot.get::<u32>().unwrap()
        ));
        // Past its freshness: neither the principal nor the slot.
        let stale = |fresh_until: Instant, exp: u64| {
            let current = f
                .auth
                .tokens
                .read(&KeyBytes(f.token.as_bytes()), Arc::clone)
                .unwrap();
            f.auth.tokens.insert(
                TokenKey::new(&f.token),
                Arc::new(VerifiedToken {
                    principal: current.principal.clone(),
                    roles: current.roles,
                    sid: current.sid.clone(),
                    exp,
                    checked_at: current.checked_at,
                    fresh_until,
                    used: AtomicBool::new(true),
                    slot: current.slot.carried(),
                }),
                |_| true,
            );
        };
        stale(Instant::now(), u64::MAX);
        assert!(f.auth.authenticate_cached(&headers()).is_none());
        // Fresh, but past its end (`exp` or its sign-in session's).
        stale(Instant::now() + CACHE_TTL, unix_now() - 1);
        assert!(f.auth.authenticate_cached(&headers()).is_none());
        // The walk verifies it from the store again: a new entry, a new slot.
        f.auth.tokens.remove(&KeyBytes(f.token.as_bytes()));
        let walked = f
            .auth
            .authenticate_request(&headers())
            .await
            .unwrap()
            .unwrap();
        assert!(walked.slot.is_none());
        let fresh = f
            .auth
            .authenticate_cached(&headers())
            .unwrap()
            .slot
            .unwrap();
        assert_eq!(fresh.slot().get::<u32>(), None);
    }

    /// An authenticator over a fresh SQLite store holding one user (role
    /// `User`) with one sign-in session, and an access token for it.
    struct Fixture {
        auth: Authenticator,
        store: Arc<dyn Store>,
        dir: tempfile::TempDir,
        token: String,
    }

    async fn fixture() -> Fixture {
        use evo_core::domain::{Account, Endpoint, EndpointKind};
        let dir = tempfile::tempdir().unwrap();
        let store = evo_store::open_store(&dir.path().display().to_string())
            .await
            .unwrap();
        store
            .create_account(&Account {
                id: "acc1".into(),
                name: "Acme".into(),
                twilio_account_sid: None,
                twilio_auth_token: None,
            })
            .await
            .unwrap();
        let user = User {
            id: "usr1".into(),
            account_id: "acc1".into(),
            email: "ann@acme.test".into(),
            display_name: "Ann".into(),
            password_hash: "$argon2id$x".into(),
            roles: vec![Role::User],
        };
        let endpoint = Endpoint {
            id: "usr1".into(),
            account_id: "acc1".into(),
            customer_id: None,
            kind: EndpointKind::User,
            display_name: "Ann".into(),
            address: "ann@acme.test".into(),
            ring_user_ids: vec![],
            queue_name: None,
        };
        store.create_user(&user, &endpoint).await.unwrap();
        let now = chrono::Utc::now();
        store
            .create_auth_session(&evo_store::AuthSession {
                id: "sid1".into(),
                user_id: "usr1".into(),
                created_at: now,
                expires_at: now + chrono::Duration::hours(1),
            })
            .await
            .unwrap();
        let keys = TokenKeys::from_secret(&[7u8; 32]).unwrap();
        let token = keys.sign_access(&tokens::access_claims(&user, "sid1", now.timestamp(), 3600));
        let auth = Authenticator::new(
            store.clone(),
            keys,
            AuthLimits {
                password_checks: 1,
                throttle: ThrottleLimits {
                    per_user: 0,
                    per_address: 0,
                    window: Duration::from_secs(60),
                },
            },
        );
        Fixture {
            auth,
            store,
            dir,
            token,
        }
    }

    impl Fixture {
        async fn request(&self) -> Result<Principal, AuthFailure> {
            self.auth
                .verify(Credential::Bearer(self.token.clone()))
                .await
        }

        fn fresh_until(&self) -> Option<Instant> {
            self.auth
                .tokens
                .read(&KeyBytes(self.token.as_bytes()), |v| v.fresh_until)
        }

        /// Runs one statement on the database underneath the store, as
        /// another node or an administrator would.
        async fn execute(&self, statement: &str) {
            evo_store::testing::execute_in_sqlite(self.dir.path(), statement).await;
        }

        /// Everything cached would go stale before this.
        fn horizon() -> Instant {
            Instant::now() + CACHE_TTL + Duration::from_secs(1)
        }
    }

    #[tokio::test]
    async fn the_background_recheck_extends_a_valid_token_in_use_and_skips_idle_ones() {
        let f = fixture().await;
        assert_eq!(f.request().await.unwrap().roles, vec![Role::User]);
        let first = f.fresh_until().expect("cached");
        let outcome = f.auth.refresh_tokens(Fixture::horizon()).await.unwrap();
        assert_eq!(
            outcome,
            RefreshOutcome {
                extended: 1,
                evicted: 0
            }
        );
        assert!(f.fresh_until().unwrap() >= first);
        // Not used since: left to go stale rather than re-read forever.
        let outcome = f.auth.refresh_tokens(Fixture::horizon()).await.unwrap();
        assert_eq!(outcome, RefreshOutcome::default());
        // Used again: re-checked again.
        f.request().await.unwrap();
        let outcome = f.auth.refresh_tokens(Fixture::horizon()).await.unwrap();
        assert_eq!(outcome.extended, 1);
        // Nothing due before the horizon: nothing read.
        f.request().await.unwrap();
        let outcome = f.auth.refresh_tokens(Instant::now()).await.unwrap();
        assert_eq!(outcome, RefreshOutcome::default());
    }

    #[tokio::test]
    async fn a_session_ended_in_the_store_evicts_its_cached_token_before_it_goes_stale() {
        let f = fixture().await;
        f.request().await.unwrap();
        // Signed out on another node: only the store knows.
        f.store.delete_auth_session("sid1").await.unwrap();
        assert!(
            f.fresh_until().unwrap() > Instant::now(),
            "still fresh: a request would be served from the cache"
        );
        let outcome = f.auth.refresh_tokens(Fixture::horizon()).await.unwrap();
        assert_eq!(
            outcome,
            RefreshOutcome {
                extended: 0,
                evicted: 1
            }
        );
        assert!(f.auth.verified_token(&f.token).is_none());
        assert!(f.fresh_until().is_none(), "evicted by the background check");
        // The next request checks synchronously and agrees.
        assert_eq!(f.request().await, Err(AuthFailure::InvalidSession));
    }

    #[tokio::test]
    async fn a_sign_out_on_this_node_is_not_undone_by_the_background_recheck() {
        let f = fixture().await;
        f.request().await.unwrap();
        f.auth.delete_auth_session("sid1").await.unwrap();
        assert!(f.fresh_until().is_none(), "forgotten at once");
        f.auth.refresh_tokens(Fixture::horizon()).await.unwrap();
        assert!(f.fresh_until().is_none());
        assert_eq!(f.request().await, Err(AuthFailure::InvalidSession));
    }

    #[tokio::test]
    async fn an_expired_session_and_a_deleted_user_evict_too() {
        let f = fixture().await;
        f.request().await.unwrap();
        f.execute("update auth_session set expires_at = '2000-01-01T00:00:00Z'")
            .await;
        let outcome = f.auth.refresh_tokens(Fixture::horizon()).await.unwrap();
        assert_eq!(outcome.evicted, 1);

        let f = fixture().await;
        f.request().await.unwrap();
        f.execute("delete from auth_session").await;
        f.execute("delete from app_user").await;
        let outcome = f.auth.refresh_tokens(Fixture::horizon()).await.unwrap();
        assert_eq!(outcome.evicted, 1);
        assert!(f.fresh_until().is_none());
    }

    #[tokio::test]
    async fn a_role_change_reaches_the_cached_principal_in_the_background() {
        let f = fixture().await;
        assert!(f.request().await.unwrap().has_role(Role::User));
        f.execute(r#"update app_user set roles = '[]', display_name = 'Ann B'"#)
            .await;
        let outcome = f.auth.refresh_tokens(Fixture::horizon()).await.unwrap();
        assert_eq!(outcome.extended, 1);
        // Served from the cache, without a store read, with the new roles.
        let principal = f.auth.verified_token(&f.token).expect("still cached");
        assert!(principal.roles.is_empty());
        assert!(!principal.has_role(Role::User));
        assert_eq!(principal.display_name, "Ann B");
    }

    #[tokio::test]
    async fn when_the_store_fails_tokens_go_stale_and_requests_get_unavailable() {
        let f = fixture().await;
        f.request().await.unwrap();
        let before = f.fresh_until().unwrap();
        f.execute("drop table auth_session").await;
        assert_eq!(
            f.auth.refresh_tokens(Fixture::horizon()).await,
            Err(AuthFailure::Unavailable)
        );
        assert_eq!(f.fresh_until(), Some(before), "not extended");
        // Until it goes stale the token is served as checked.
        assert!(f.request().await.is_ok());
        // CACHE_TTL later (simulated: the entry and the lookup caches aged):
        // the request checks synchronously and the store's failure is a 503.
        f.auth.tokens.remove(&KeyBytes(f.token.as_bytes()));
        Authenticator::lock(&f.auth.sessions).clear();
        Authenticator::lock(&f.auth.users).clear();
        assert_eq!(f.request().await, Err(AuthFailure::Unavailable));
    }

    /// An idle pass (nothing changed in the store) reads one row, the
    /// auth generation, and neither users nor sign-in sessions: shown with
    /// both tables renamed away underneath it (a rename changes no row, so
    /// the generation stays), which any read of them would fail on.
    #[tokio::test]
    async fn an_idle_pass_reads_the_generation_but_no_user_or_session() {
        let f = fixture().await;
        f.request().await.unwrap();
        // The first pass knows no generation yet: it reads the records.
        assert_eq!(
            f.auth.refresh_tokens(Fixture::horizon()).await.unwrap(),
            RefreshOutcome {
                extended: 1,
                evicted: 0
            }
        );
        f.execute("alter table app_user rename to app_user_away")
            .await;
        f.execute("alter table auth_session rename to auth_session_away")
            .await;
        for _ in 0..3 {
            f.request().await.unwrap();
            let before = f.fresh_until().unwrap();
            let outcome = f.auth.refresh_tokens(Fixture::horizon()).await.unwrap();
            assert_eq!(outcome.extended, 1, "extended without reading the tables");
            assert!(f.fresh_until().unwrap() >= before);
        }
        // Once the generation moves, the pass reads them (and here fails).
        f.execute("update auth_generation set value = value + 1")
            .await;
        f.request().await.unwrap();
        assert_eq!(
            f.auth.refresh_tokens(Fixture::horizon()).await,
            Err(AuthFailure::Unavailable)
        );
    }

    /// After idle passes (the token extended from the generation alone), a
    /// sign-out or role change made in the store by another node is still
    /// found by the next pass.
    #[tokio::test]
    async fn a_change_after_idle_passes_is_found_by_the_next_pass() {
        let f = fixture().await;
        for _ in 0..3 {
            f.request().await.unwrap();
            let outcome = f.auth.refresh_tokens(Fixture::horizon()).await.unwrap();
            assert_eq!(outcome.extended, 1);
        }
        f.execute(r#"update app_user set roles = '[]'"#).await;
        f.request().await.unwrap();
        assert_eq!(
            f.auth.refresh_tokens(Fixture::horizon()).await.unwrap(),
            RefreshOutcome {
                extended: 1,
                evicted: 0
            }
        );
        let principal = f.auth.verified_token(&f.token).expect("still cached");
        assert!(principal.roles.is_empty(), "the new roles, from the store");
        // Idle again, then signed out on another node.
        f.request().await.unwrap();
        f.auth.refresh_tokens(Fixture::horizon()).await.unwrap();
        f.request().await.unwrap();
        f.execute("delete from auth_session").await;
        assert_eq!(
            f.auth.refresh_tokens(Fixture::horizon()).await.unwrap(),
            RefreshOutcome {
                extended: 0,
                evicted: 1
            }
        );
        assert!(f.auth.verified_token(&f.token).is_none());
        assert_eq!(f.request().await, Err(AuthFailure::InvalidSession));
    }

    /// A sign-in session that runs out ends its cached tokens by then,
    /// with no store change (the generation stays) and no re-check.
    #[tokio::test]
    async fn a_cached_token_is_not_served_past_its_sign_in_session() {
        let f = fixture().await;
        let now = chrono::Utc::now();
        let ends = now + chrono::Duration::milliseconds(1500);
        f.store
            .create_auth_session(&evo_store::AuthSession {
                id: "sid2".into(),
                user_id: "usr1".into(),
                created_at: now,
                expires_at: ends,
            })
            .await
            .unwrap();
        let user = f.store.user(&"usr1".into()).await.unwrap().unwrap();
        let token =
            f.auth
                .keys()
                .sign_access(&tokens::access_claims(&user, "sid2", now.timestamp(), 3600));
        f.auth
            .verify(Credential::Bearer(token.clone()))
            .await
            .unwrap();
        assert!(f.auth.verified_token(&token).is_some());
        let wait = (ends - chrono::Utc::now()).to_std().unwrap_or_default();
        tokio::time::sleep(wait + Duration::from_millis(50)).await;
        assert!(
            f.auth.verified_token(&token).is_none(),
            "its session ended: not served from the cache"
        );
        // Whole seconds, never late: a session ending at 00:00:00 is good
        // through 23:59:59.
        assert_eq!(
            last_second_before("2000-01-01T00:00:00Z".parse().unwrap()),
            946_684_799
        );
    }

    #[tokio::test]
    async fn the_background_task_stops_with_its_stop_signal() {
        let f = fixture().await;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let run = f.auth.run_token_refresh(async move {
            let _ = rx.await;
        });
        tx.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(10), run)
            .await
            .expect("returns once stopped");
    }

    #[test]
    fn bearer_api_key_basic_and_cookies_are_recognised() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("Bearer a.b.c"));
        assert_eq!(
            credentials(&headers),
            vec![Credential::Bearer("a.b.c".into())]
        );
        headers.insert("authorization", HeaderValue::from_static("bearer ak-0123"));
        assert_eq!(
            credentials(&headers),
            vec![Credential::ApiKey("ak-0123".into())]
        );
        headers.insert(
            "authorization",
            HeaderValue::from_static("Basic YWxpY2VAeC5pbzpwdw=="),
        );
        assert_eq!(
            credentials(&headers),
            vec![Credential::Basic {
                user_name: "alice@x.io".into(),
                password: "pw".into()
            }]
        );
        let mut headers = HeaderMap::new();
        headers.insert(
            "cookie",
            HeaderValue::from_static("ss-id=abc; ss-pid=def; ss-opt=perm"),
        );
        assert_eq!(
            credentials(&headers),
            vec![
                Credential::SessionCookie("def".into()),
                Credential::SessionCookie("abc".into())
            ]
        );
    }

    #[test]
    fn api_keys_look_like_servicestack_ones_and_hash_stably() {
        let key = generate_api_key();
        assert!(key.starts_with("ak-") && key.len() == 35);
        // SHA-256 of "abc", FIPS 180-2 appendix B.1: the stored form is the
        // digest in lowercase hex, the same on every node and every run.
        assert_eq!(
            hash_api_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_ne!(hash_api_key("ak-x"), hash_api_key("ak-y"));
    }

    /// A pass over more tokens in use than it extends between two yields
    /// to the runtime extends every one of them, from the records and then
    /// from the generation alone.
    #[tokio::test]
    async fn a_pass_over_many_tokens_in_use_extends_every_one() {
        let f = fixture().await;
        let user = f.store.user(&"usr1".into()).await.unwrap().unwrap();
        let now = chrono::Utc::now().timestamp();
        let issued: Vec<String> = (0..2 * YIELD_EVERY as i64 + 3)
            .map(|n| {
                f.auth
                    .keys()
                    .sign_access(&tokens::access_claims(&user, "sid1", now, 3600 + n))
            })
            .collect();
        for _ in 0..2 {
            for token in &issued {
                f.auth
                    .verify(Credential::Bearer(token.clone()))
                    .await
                    .unwrap();
            }
            assert_eq!(
                f.auth.refresh_tokens(Fixture::horizon()).await.unwrap(),
                RefreshOutcome {
                    extended: issued.len(),
                    evicted: 0
                }
            );
        }
    }

    /// Tokens verified together (a cohort) have the same deadline; the
    /// re-check spreads them over [`REFRESH_PERIOD`] (each stale up to
    /// that much sooner, never later than [`CACHE_TTL`] after its check),
    /// so that a pass, whose window is two ticks, finds only part of them
    /// due, where every pass used to extend all of them.
    #[tokio::test]
    async fn a_recheck_spreads_a_cohort_of_tokens_over_the_refresh_period() {
        let f = fixture().await;
        let user = f.store.user(&"usr1".into()).await.unwrap().unwrap();
        let now = chrono::Utc::now().timestamp();
        let issued: Vec<String> = (0..400)
            .map(|n| {
                f.auth
                    .keys()
                    .sign_access(&tokens::access_claims(&user, "sid1", now, 3600 + n))
            })
            .collect();
        for token in &issued {
            f.auth
                .verify(Credential::Bearer(token.clone()))
                .await
                .unwrap();
        }
        // The cohort close to its deadline, as a pass finds it.
        let cohort_deadline = Instant::now() + RECHECK_TICK;
        for token in &issued {
            let current = f
                .auth
                .tokens
                .read(&KeyBytes(token.as_bytes()), Arc::clone)
                .unwrap();
            f.auth.tokens.insert(
                TokenKey::new(token),
                Arc::new(VerifiedToken {
                    principal: current.principal.clone(),
                    roles: current.roles,
                    sid: current.sid.clone(),
                    exp: current.exp,
                    checked_at: current.checked_at,
                    fresh_until: cohort_deadline,
                    used: AtomicBool::new(true),
                    slot: current.slot.carried(),
                }),
                |_| true,
            );
        }
        let asked = Instant::now();
        let outcome = f
            .auth
            .refresh_tokens(asked + 2 * RECHECK_TICK)
            .await
            .unwrap();
        let checked = Instant::now();
        assert_eq!(outcome.extended, issued.len());
        let deadlines: Vec<Instant> = issued
            .iter()
            .map(|token| {
                f.auth
                    .tokens
                    .read(&KeyBytes(token.as_bytes()), |v| v.fresh_until)
                    .unwrap()
            })
            .collect();
        for deadline in &deadlines {
            assert!(
                *deadline <= checked + CACHE_TTL,
                "never past its check + CACHE_TTL"
            );
            assert!(*deadline >= asked + CACHE_TTL - REFRESH_PERIOD);
            assert!(*deadline > cohort_deadline, "extended");
        }
        let first = *deadlines.iter().min().unwrap();
        let last = *deadlines.iter().max().unwrap();
        assert!(
            last - first >= REFRESH_PERIOD / 2,
            "spread over {:?} only",
            last - first
        );
        // The next pass (two ticks' window) finds none due; one whose
        // window ends midway through the spread finds some, not all.
        for token in &issued {
            f.auth
                .verify(Credential::Bearer(token.clone()))
                .await
                .unwrap();
        }
        let next = f
            .auth
            .refresh_tokens(Instant::now() + 2 * RECHECK_TICK)
            .await
            .unwrap();
        assert_eq!(next.extended, 0);
        let midway = f
            .auth
            .refresh_tokens(first + (last - first) / 2)
            .await
            .unwrap();
        assert!(
            midway.extended > 0 && midway.extended < issued.len(),
            "{midway:?}"
        );
    }
}
