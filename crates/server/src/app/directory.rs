//! Administration of the directory (accounts, customers, users, numbers,
//! API keys) with validation, shared by the CLI, the demo and tests.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use anyhow::{bail, Context};
use evo_core::domain::{Account, Customer, Endpoint, EndpointKind, Role, Secret, User};
use evo_core::ids::{AccountId, CustomerId, EndpointId, TwilioAccountSid, UserId};
use evo_store::{ApiKeyRecord, Store, StoreError};

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
}

fn rings_of(pairs: Vec<(EndpointId, UserId)>) -> Rings {
    let mut rings = Rings::new();
    for (endpoint, user) in pairs {
        rings.entry(user).or_default().insert(endpoint);
    }
    rings
}

impl Directory {
    /// The directory over the store, with the ring relation loaded.
    pub(in crate::app) async fn load(store: Arc<dyn Store>) -> Result<Self, StoreError> {
        let rings = rings_of(store.ring_assignments().await?);
        Ok(Directory {
            store,
            rings: RwLock::new(rings),
            generation: AtomicU64::new(0),
        })
    }

    /// Reloads the ring relation (numbers assigned by other processes).
    pub async fn reload(&self) -> Result<(), StoreError> {
        let rings = rings_of(self.store.ring_assignments().await?);
        let mut held = self
            .rings
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if *held != rings {
            *held = rings;
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
        Ok(())
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
    /// the primary and, while rotating, the others. The webhook verifier
    /// passes them all to `evo_twilio::signature::validate`.
    pub async fn twilio_auth_tokens(&self, account: &Account) -> Result<Vec<Secret>, StoreError> {
        if account.twilio_account_sid.is_none() {
            return Ok(Vec::new());
        }
        self.store.account_auth_tokens(&account.id).await
    }

    /// Adds an auth token to an account ([`add_auth_token`]).
    pub async fn add_auth_token(&self, account_id: &AccountId, token: &str) -> anyhow::Result<()> {
        add_auth_token(self.store.as_ref(), account_id, token).await
    }

    /// Removes an auth token from an account ([`remove_auth_token`]).
    pub async fn remove_auth_token(
        &self,
        account_id: &AccountId,
        token: &str,
    ) -> anyhow::Result<()> {
        remove_auth_token(self.store.as_ref(), account_id, token).await
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
        add_account(
            self.store.as_ref(),
            name,
            twilio_account_sid,
            twilio_auth_token,
        )
        .await
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
