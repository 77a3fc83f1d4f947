//! Administration of the directory (accounts, customers, users, numbers,
//! API keys) with validation, shared by the CLI, the demo and tests.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use anyhow::{bail, Context};
use evo_core::domain::{Account, Customer, Endpoint, EndpointKind, Role, Secret, User};
use evo_core::ids::{AccountId, CustomerId, EndpointId, TwilioAccountSid, UserId};
use evo_store::{ApiKeyRecord, Store, StoreError};

use crate::app::twilio_accounts::TwilioAccounts;
use crate::auth::{generate_api_key, hash_api_key, password::hash_password};

/// User id → the phone numbers that ring the user.
type Rings = HashMap<UserId, BTreeSet<EndpointId>>;

/// The directory as the running server sees it: reads for requests and
/// webhooks, and administration (validated) for tests and the demo.
///
/// Which numbers ring which user is held in memory, whole: loaded at start,
/// updated by this node's writes and reloaded by [`Directory::reload`]
/// (administration commands write from other processes), so that reading
/// active sessions never asks the store.
pub struct Directory {
    store: Arc<dyn Store>,
    rings: RwLock<Rings>,
    /// Bumped whenever `rings` changes, so that readers holding a user's
    /// endpoints know when to ask again.
    generation: AtomicU64,
    /// The store's ring generation ([`Store::ring_generation`]) read before
    /// the relation `rings` was last read whole; held across a reload, so
    /// reloads run one at a time.
    stored: tokio::sync::Mutex<i64>,
    /// The accounts whose webhooks Twilio signs and their tokens, in
    /// memory for the webhook verifier; reloaded with the rings.
    twilio: TwilioAccounts,
}

fn rings_of(pairs: Vec<(EndpointId, UserId)>) -> Rings {
    let mut rings = Rings::new();
    for (endpoint, user) in pairs {
        rings.entry(user).or_default().insert(endpoint);
    }
    rings
}

impl Directory {
    /// The directory over the store, with the ring relation and the
    /// Twilio accounts loaded; `refresh` is how often [`Directory::reload`]
    /// runs: the accounts in memory are used while a reload confirmed them
    /// less than two periods ago (`TwilioAccounts`' bound).
    pub(in crate::app) async fn load(
        store: Arc<dyn Store>,
        refresh: std::time::Duration,
    ) -> Result<Self, StoreError> {
        // The generation first: the relation read after it holds at least
        // the changes it counts.
        let stored = store.ring_generation().await?;
        let rings = rings_of(store.ring_assignments().await?);
        let twilio = TwilioAccounts::load(store.clone(), refresh.saturating_mul(2)).await?;
        Ok(Directory {
            store,
            rings: RwLock::new(rings),
            generation: AtomicU64::new(0),
            stored: tokio::sync::Mutex::new(stored),
            twilio,
        })
    }

    /// The Twilio accounts and tokens held for the webhook verifier.
    pub fn twilio_accounts(&self) -> &TwilioAccounts {
        &self.twilio
    }

    /// Reloads the ring relation (numbers assigned by other processes) when
    /// the store's ring generation moved since it was last read; otherwise
    /// reads that one row only (it runs every few seconds, beside the
    /// reads it serves). Returns whether the relation was read.
    pub async fn reload(&self) -> Result<bool, StoreError> {
        // The Twilio accounts too (their own generation, one row when idle);
        // a failure there does not hold the rings back.
        let twilio = self.twilio.reload().await;
        let rings = self.reload_rings().await;
        twilio?;
        rings
    }

    async fn reload_rings(&self) -> Result<bool, StoreError> {
        let mut stored = self.stored.lock().await;
        let generation = self.store.ring_generation().await?;
        if generation == *stored {
            return Ok(false);
        }
        let rings = rings_of(self.store.ring_assignments().await?);
        // Compared under the read lock: requests reading a user's
        // endpoints wait only for the swap.
        let changed = *self
            .rings
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            != rings;
        if changed {
            *self
                .rings
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = rings;
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
        *stored = generation;
        Ok(true)
    }

    /// Changes whenever any user's endpoints may have changed.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The endpoint ids whose sessions `user_id` sees: the user's own
    /// endpoint (same id) and every number that rings the user. From memory.
    pub fn endpoint_ids_of_user(&self, user_id: &UserId) -> Vec<EndpointId> {
        let rings = self
            .rings
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut ids = vec![EndpointId::from(user_id.clone())];
        ids.extend(rings.get(user_id).into_iter().flatten().cloned());
        ids
    }

    /// The account with this id.
    pub async fn account(&self, id: &AccountId) -> Result<Option<Account>, StoreError> {
        self.store.account(id).await
    }

    /// The account Twilio knows by this `AccountSid`.
    pub async fn account_by_twilio_sid(
        &self,
        sid: &TwilioAccountSid,
    ) -> Result<Option<Account>, StoreError> {
        self.store.account_by_twilio_sid(sid).await
    }

    /// Every Twilio auth token the account's webhooks may be signed with:
    /// the primary and, while rotating, the others, read from the store
    /// (the reconciler; the webhook verifier reads them from memory,
    /// [`Directory::twilio_accounts`]).
    pub async fn twilio_auth_tokens(&self, account: &Account) -> Result<Vec<Secret>, StoreError> {
        if account.twilio_account_sid.is_none() {
            return Ok(Vec::new());
        }
        self.store.account_auth_tokens(&account.id).await
    }

    /// Adds an auth token to an account ([`add_auth_token`]).
    pub async fn add_auth_token(&self, account_id: &AccountId, token: &str) -> anyhow::Result<()> {
        add_auth_token(self.store.as_ref(), account_id, token).await?;
        self.twilio.reload_after_write().await;
        Ok(())
    }

    /// Removes an auth token from an account ([`remove_auth_token`]).
    pub async fn remove_auth_token(
        &self,
        account_id: &AccountId,
        token: &str,
    ) -> anyhow::Result<()> {
        remove_auth_token(self.store.as_ref(), account_id, token).await?;
        self.twilio.reload_after_write().await;
        Ok(())
    }

    /// The user with this id.
    pub async fn user(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        self.store.user(id).await
    }

    /// The user with this e-mail address.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        self.store.user_by_email(email).await
    }

    /// The endpoint with this id.
    pub async fn endpoint(&self, id: &EndpointId) -> Result<Option<Endpoint>, StoreError> {
        self.store.endpoint(id).await
    }

    /// The endpoint of an account with this address (phone number, e-mail).
    pub async fn endpoint_by_address(
        &self,
        account_id: &AccountId,
        address: &str,
    ) -> Result<Option<Endpoint>, StoreError> {
        self.store.endpoint_by_address(account_id, address).await
    }

    /// A customer and its parents, for a session's breadcrumb.
    pub async fn customer_breadcrumb(
        &self,
        customer_id: &CustomerId,
    ) -> Result<Vec<evo_core::domain::Crumb>, StoreError> {
        self.store.customer_breadcrumb(customer_id).await
    }

    /// Adds an account ([`add_account`]).
    pub async fn add_account(
        &self,
        name: &str,
        twilio_account_sid: Option<&str>,
        twilio_auth_token: Option<&str>,
    ) -> anyhow::Result<Account> {
        let account = add_account(
            self.store.as_ref(),
            name,
            twilio_account_sid,
            twilio_auth_token,
        )
        .await?;
        self.twilio.reload_after_write().await;
        Ok(account)
    }

    /// Adds a customer ([`add_customer`]).
    pub async fn add_customer(
        &self,
        account_id: &AccountId,
        name: &str,
        parent_id: Option<&CustomerId>,
    ) -> anyhow::Result<Customer> {
        add_customer(self.store.as_ref(), account_id, name, parent_id).await
    }

    /// Adds a user ([`add_user`]).
    pub async fn add_user(&self, new: NewUser<'_>) -> anyhow::Result<User> {
        add_user(self.store.as_ref(), new).await
    }

    /// Adds a phone number ([`add_number`]); its users see its sessions
    /// at once.
    pub async fn add_number(&self, new: NewNumber<'_>) -> anyhow::Result<Endpoint> {
        let endpoint = add_number(self.store.as_ref(), new).await?;
        let mut rings = self
            .rings
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for user in &endpoint.ring_user_ids {
            rings
                .entry(user.clone())
                .or_default()
                .insert(endpoint.id.clone());
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
        Ok(endpoint)
    }

    /// Creates an API key ([`add_api_key`]).
    pub async fn add_api_key(&self, user_id: &UserId) -> anyhow::Result<String> {
        add_api_key(self.store.as_ref(), user_id).await
    }
}

/// A new random id with a readable prefix (`acc_…`, `usr_…`).
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

/// Adds an account.
pub async fn add_account(
    store: &dyn Store,
    name: &str,
    twilio_account_sid: Option<&str>,
    twilio_auth_token: Option<&str>,
) -> anyhow::Result<Account> {
    if name.trim().is_empty() {
        bail!("the account name must not be empty");
    }
    if let Some(sid) = twilio_account_sid {
        if !(sid.len() == 34
            && sid.starts_with("AC")
            && sid[2..].chars().all(|c| c.is_ascii_hexdigit()))
        {
            bail!("'{sid}' is not a Twilio AccountSid (AC followed by 32 hex digits)");
        }
    }
    if twilio_account_sid.is_some() != twilio_auth_token.is_some() {
        bail!("give both --twilio-account-sid and --twilio-auth-token, or neither");
    }
    let account = Account {
        id: new_id("acc").into(),
        name: name.trim().to_string(),
        twilio_account_sid: twilio_account_sid.map(TwilioAccountSid::new),
        twilio_auth_token: twilio_auth_token.map(Secret::from),
    };
    store.create_account(&account).await?;
    Ok(account)
}

fn check_token(token: &str) -> anyhow::Result<()> {
    if token.is_empty() || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        bail!("an auth token is a non-empty word (Twilio's are 32 hex digits)");
    }
    Ok(())
}

/// Adds a Twilio auth token to an account (rotation: add the new token,
/// promote it in Twilio's console, then remove the old one). Webhooks
/// signed with any of the account's tokens are accepted; REST requests use
/// the primary (the first token the account got).
pub async fn add_auth_token(
    store: &dyn Store,
    account_id: &AccountId,
    token: &str,
) -> anyhow::Result<()> {
    check_token(token)?;
    let account = require_account(store, account_id).await?;
    if account.twilio_account_sid.is_none() {
        bail!("account '{account_id}' has no Twilio AccountSid; give it one first");
    }
    match store
        .add_account_auth_token(account_id, token, chrono::Utc::now())
        .await
    {
        Err(StoreError::Duplicate(_)) => bail!("account '{account_id}' already has that token"),
        other => Ok(other?),
    }
}

/// Removes a Twilio auth token from an account; removing the primary
/// promotes the newest other token. The last token cannot be removed
/// (the account's webhooks would all be refused).
pub async fn remove_auth_token(
    store: &dyn Store,
    account_id: &AccountId,
    token: &str,
) -> anyhow::Result<()> {
    require_account(store, account_id).await?;
    let tokens = store.account_auth_tokens(account_id).await?;
    if !tokens.iter().any(|t| t.expose() == token) {
        bail!("account '{account_id}' has no such token");
    }
    if tokens.len() == 1 {
        bail!("that is the account's only token; add its replacement first");
    }
    match store.remove_account_auth_token(account_id, token).await {
        Err(StoreError::NotFound(_)) => bail!("account '{account_id}' has no such token"),
        other => Ok(other?),
    }
}

async fn require_account(store: &dyn Store, account_id: &AccountId) -> anyhow::Result<Account> {
    store
        .account(account_id)
        .await?
        .with_context(|| format!("no account has the id '{account_id}'; list ids with the output of `evo-voice account add`"))
}

async fn require_customer(
    store: &dyn Store,
    account_id: &AccountId,
    customer_id: &CustomerId,
) -> anyhow::Result<Customer> {
    let customer = store
        .customer(customer_id)
        .await?
        .with_context(|| format!("no customer has the id '{customer_id}'"))?;
    if customer.account_id != *account_id {
        bail!("customer '{customer_id}' belongs to another account");
    }
    Ok(customer)
}

/// Adds a customer, optionally under a parent customer of the same account.
pub async fn add_customer(
    store: &dyn Store,
    account_id: &AccountId,
    name: &str,
    parent_id: Option<&CustomerId>,
) -> anyhow::Result<Customer> {
    require_account(store, account_id).await?;
    if name.trim().is_empty() {
        bail!("the customer name must not be empty");
    }
    if let Some(parent) = parent_id {
        require_customer(store, account_id, parent).await?;
    }
    let customer = Customer {
        id: new_id("cus").into(),
        account_id: account_id.clone(),
        parent_id: parent_id.cloned(),
        name: name.trim().to_string(),
    };
    store.create_customer(&customer).await?;
    Ok(customer)
}

/// What a new user needs.
pub struct NewUser<'a> {
    pub account_id: &'a AccountId,
    pub email: &'a str,
    pub password: &'a str,
    pub display_name: Option<&'a str>,
    pub roles: &'a [String],
    pub customer_id: Option<&'a CustomerId>,
}

/// Adds a user (and its user endpoint) with exactly the given roles.
pub async fn add_user(store: &dyn Store, new: NewUser<'_>) -> anyhow::Result<User> {
    require_account(store, new.account_id).await?;
    let email = new.email.trim();
    if !is_plausible_email(email) {
        bail!("'{email}' is not an e-mail address");
    }
    if new.password.len() < 4 {
        bail!("the password must have at least 4 characters");
    }
    let mut unique_roles: Vec<Role> = Vec::new();
    for name in new.roles {
        let role: Role = name.parse().map_err(|_| {
            anyhow::anyhow!(
                "unknown role '{name}'; known roles: {}",
                Role::ALL.map(Role::name).join(", ")
            )
        })?;
        if !unique_roles.contains(&role) {
            unique_roles.push(role);
        }
    }
    if let Some(customer) = new.customer_id {
        require_customer(store, new.account_id, customer).await?;
    }
    let password = new.password.to_string();
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&password)).await??;
    let id = new_id("usr");
    let display_name = new.display_name.unwrap_or(email).trim().to_string();
    let user = User {
        id: id.clone().into(),
        account_id: new.account_id.clone(),
        email: email.to_string(),
        display_name: display_name.clone(),
        password_hash,
        roles: unique_roles,
    };
    let endpoint = Endpoint {
        id: id.into(),
        account_id: new.account_id.clone(),
        customer_id: new.customer_id.cloned(),
        kind: EndpointKind::User,
        display_name,
        address: email.to_string(),
        ring_user_ids: Vec::new(),
        queue_name: None,
    };
    store.create_user(&user, &endpoint).await?;
    Ok(user)
}

fn is_plausible_email(email: &str) -> bool {
    match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !email.contains(char::is_whitespace)
        }
        None => false,
    }
}

/// What a new phone number needs.
pub struct NewNumber<'a> {
    pub account_id: &'a AccountId,
    pub number: &'a str,
    pub ring_user_ids: &'a [UserId],
    pub queue_name: Option<&'a str>,
    pub display_name: Option<&'a str>,
    pub customer_id: Option<&'a CustomerId>,
}

/// Adds a phone number endpoint that rings the given users (or queues).
pub async fn add_number(store: &dyn Store, new: NewNumber<'_>) -> anyhow::Result<Endpoint> {
    require_account(store, new.account_id).await?;
    let number = new.number.trim();
    let digits = number.strip_prefix('+').unwrap_or("");
    if digits.len() < 3 || digits.len() > 15 || !digits.chars().all(|c| c.is_ascii_digit()) {
        bail!("'{number}' is not an E.164 phone number (like +15551234567)");
    }
    for user_id in new.ring_user_ids {
        let user = store
            .user(user_id)
            .await?
            .with_context(|| format!("no user has the id '{user_id}'"))?;
        if user.account_id != *new.account_id {
            bail!("user '{user_id}' belongs to another account");
        }
    }
    if let Some(customer) = new.customer_id {
        require_customer(store, new.account_id, customer).await?;
    }
    if let Some(queue) = new.queue_name {
        if queue.is_empty() || queue.len() > 64 {
            bail!("a queue name has 1 to 64 characters");
        }
    }
    let endpoint = Endpoint {
        id: new_id("num").into(),
        account_id: new.account_id.clone(),
        customer_id: new.customer_id.cloned(),
        kind: EndpointKind::PhoneNumber,
        display_name: new.display_name.unwrap_or(number).to_string(),
        address: number.to_string(),
        ring_user_ids: new.ring_user_ids.to_vec(),
        queue_name: new.queue_name.map(str::to_string),
    };
    store.create_endpoint(&endpoint).await?;
    Ok(endpoint)
}

/// Creates an API key for a user and returns the key (stored only hashed).
pub async fn add_api_key(store: &dyn Store, user_id: &UserId) -> anyhow::Result<String> {
    store
        .user(user_id)
        .await?
        .with_context(|| format!("no user has the id '{user_id}'"))?;
    let key = generate_api_key();
    store
        .create_api_key(&ApiKeyRecord {
            id: new_id("key"),
            user_id: user_id.to_string().into(),
            key_hash: hash_api_key(&key),
            created_at: chrono::Utc::now(),
        })
        .await?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use evo_core::domain::{Account, Endpoint, EndpointKind, Role, User};

    struct Fixture {
        directory: Directory,
        dir: tempfile::TempDir,
    }

    impl Fixture {
        /// Plain SQL on a connection of its own (another process's write).
        async fn execute(&self, statement: &str) {
            evo_store::testing::execute_in_sqlite(self.dir.path(), statement).await;
        }

        fn endpoints(&self) -> Vec<String> {
            self.directory
                .endpoint_ids_of_user(&"usr1".into())
                .iter()
                .map(|id| id.to_string())
                .collect()
        }
    }

    /// A store with one user, rung by one number, and its directory.
    async fn fixture() -> Fixture {
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
        let endpoint = |id: &str, kind, rings: Vec<UserId>| Endpoint {
            id: id.into(),
            account_id: "acc1".into(),
            customer_id: None,
            kind,
            display_name: id.into(),
            address: format!("+1555010{}", id.len()),
            ring_user_ids: rings,
            queue_name: None,
        };
        store
            .create_user(
                &User {
                    id: "usr1".into(),
                    account_id: "acc1".into(),
                    email: "ann@acme.test".into(),
                    display_name: "Ann".into(),
                    password_hash: "$argon2id$x".into(),
                    roles: vec![Role::User],
                },
                &endpoint("usr1", EndpointKind::User, vec![]),
            )
            .await
            .unwrap();
        store
            .create_endpoint(&endpoint(
                "num1",
                EndpointKind::PhoneNumber,
                vec!["usr1".into()],
            ))
            .await
            .unwrap();
        let directory = Directory::load(store, std::time::Duration::from_secs(5))
            .await
            .unwrap();
        Fixture { directory, dir }
    }

    /// An idle reload (no ring assignment changed) reads one row, the ring
    /// generation, and not the assignments: shown with their table renamed
    /// away underneath it (a rename changes no row), which a read of them
    /// would fail on. Once the generation moves, the reload reads them.
    #[tokio::test]
    async fn an_idle_reload_reads_the_generation_but_not_the_assignments() {
        let f = fixture().await;
        f.execute("alter table endpoint_ring_user rename to endpoint_ring_user_away")
            .await;
        for _ in 0..3 {
            assert!(!f.directory.reload().await.unwrap(), "nothing read");
        }
        assert_eq!(f.endpoints(), ["usr1", "num1"]);
        f.execute("update ring_generation set value = value + 1")
            .await;
        assert!(f.directory.reload().await.is_err(), "the table is read");
    }

    /// A number assigned or unassigned by another process (plain SQL) is
    /// seen after the next reload, which moves the in-memory generation;
    /// a reload after that reads nothing.
    #[tokio::test]
    async fn a_ring_change_by_another_process_is_found_by_the_next_reload() {
        let f = fixture().await;
        let before = f.directory.generation();
        assert!(!f.directory.reload().await.unwrap());
        f.execute(
            "insert into endpoint (endpoint_id, account_id, kind, display_name, address) \
             values ('num2', 'acc1', 'PhoneNumber', 'Second', '+15550199')",
        )
        .await;
        assert!(!f.directory.reload().await.unwrap(), "no ring row yet");
        f.execute(
            "insert into endpoint_ring_user (endpoint_id, user_id, position) \
             values ('num2', 'usr1', 0)",
        )
        .await;
        assert!(f.directory.reload().await.unwrap());
        assert_eq!(f.endpoints(), ["usr1", "num1", "num2"]);
        let assigned = f.directory.generation();
        assert!(assigned > before);
        assert!(!f.directory.reload().await.unwrap());
        f.execute("delete from endpoint_ring_user where endpoint_id = 'num1'")
            .await;
        assert!(f.directory.reload().await.unwrap());
        assert_eq!(f.endpoints(), ["usr1", "num2"]);
        assert!(f.directory.generation() > assigned);
    }

    /// A number added through this directory is seen at once; the store's
    /// generation moved with it, so the next reload reads the assignments
    /// once (finding what memory holds already: the generation stays).
    #[tokio::test]
    async fn a_number_added_here_is_seen_at_once_and_reloaded_once() {
        let f = fixture().await;
        f.directory
            .add_number(NewNumber {
                account_id: &"acc1".into(),
                number: "+15550177",
                ring_user_ids: &["usr1".into()],
                queue_name: None,
                display_name: None,
                customer_id: None,
            })
            .await
            .unwrap();
        assert_eq!(f.endpoints().len(), 3);
        let generation = f.directory.generation();
        assert!(f.directory.reload().await.unwrap());
        assert_eq!(f.directory.generation(), generation, "nothing new");
        assert!(!f.directory.reload().await.unwrap());
        assert_eq!(f.endpoints().len(), 3);
    }
}
