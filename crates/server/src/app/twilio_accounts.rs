//! The accounts whose webhooks Twilio signs, with every auth token they may
//! be signed with, held in memory for the webhook verifier: a signed
//! webhook's account and tokens without two store reads.
//!
//! Invalidation: a counter in the store (`twilio_generation`, migration
//! 0020) moves, by triggers in the changing transaction, with every insert,
//! update or delete of an account or an auth token, whoever writes it (this
//! node, another node sharing PostgreSQL, an administration command, plain
//! SQL). [`TwilioAccounts::reload`] reads that one row and re-reads the
//! accounts (one statement, with the generation they reflect) only when it
//! moved. The directory reloads it with the ring relation, every
//! `directory_refresh`; this node's own administration reloads it at once.
//!
//! Bound: the map is used only while the last reload that confirmed it
//! *started* less than `max_age` ago; older (the reload task stalled, the
//! store failing), every webhook reads the store as before, and a store
//! failure is an error. So a change committed at time T is in force for
//! every webhook from T + `max_age` on; normally from the next reload's
//! end (at most `directory_refresh` plus one reload later).
//!
//! What memory can only widen, never narrow: an AccountSid not in the map,
//! or a signature none of the held tokens verify, is checked again against
//! the store (the caller does that with [`TwilioAccounts::from_store`]), so
//! a new account or token is accepted at once; what a stale map may still
//! accept for at most the bound is a token removed or an account changed
//! elsewhere. A signature is only ever checked against the tokens of the
//! account its own AccountSid names (tenancy).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use evo_core::domain::{Account, Secret};
use evo_core::ids::TwilioAccountSid;
use evo_store::{Store, StoreError};

/// An account whose webhooks Twilio signs, and every token they may be
/// signed with (primary first).
#[derive(Debug)]
pub struct WebhookAccount {
    pub account: Arc<Account>,
    pub auth_tokens: Vec<Secret>,
}

impl WebhookAccount {
    /// The tokens as `evo_twilio::signature::validate` takes them.
    pub fn tokens(&self) -> Vec<&str> {
        self.auth_tokens.iter().map(Secret::expose).collect()
    }
}

type BySid = HashMap<String, Arc<WebhookAccount>>;

/// The in-memory accounts (see the module documentation).
pub struct TwilioAccounts {
    store: Arc<dyn Store>,
    by_sid: RwLock<Arc<BySid>>,
    /// The store's twilio generation `by_sid` reflects; held across a
    /// reload, so reloads run one at a time.
    stored: tokio::sync::Mutex<i64>,
    /// When the last reload that left `by_sid` current began, in
    /// milliseconds after `epoch` (0: never).
    confirmed_ms: AtomicU64,
    epoch: Instant,
    max_age: Duration,
}

fn by_sid(accounts: evo_store::TwilioAccounts) -> BySid {
    accounts
        .accounts
        .into_iter()
        .filter_map(|credentials| {
            let sid = credentials.account.twilio_account_sid.as_ref()?.to_string();
            Some((
                sid,
                Arc::new(WebhookAccount {
                    account: Arc::new(credentials.account),
                    auth_tokens: credentials.auth_tokens,
                }),
            ))
        })
        .collect()
}

impl TwilioAccounts {
    /// Every account with an AccountSid, read now; the map is used while
    /// its last confirmation is younger than `max_age`.
    pub(in crate::app) async fn load(
        store: Arc<dyn Store>,
        max_age: Duration,
    ) -> Result<Self, StoreError> {
        let epoch = Instant::now();
        let accounts = store.twilio_accounts().await?;
        let generation = accounts.generation;
        let loaded = TwilioAccounts {
            store,
            by_sid: RwLock::new(Arc::new(by_sid(accounts))),
            stored: tokio::sync::Mutex::new(generation),
            confirmed_ms: AtomicU64::new(0),
            epoch,
            max_age,
        };
        loaded.confirm(epoch);
        Ok(loaded)
    }

    fn confirm(&self, started: Instant) {
        // +1: 0 means never confirmed.
        let ms = started.saturating_duration_since(self.epoch).as_millis() as u64 + 1;
        self.confirmed_ms.fetch_max(ms, Ordering::AcqRel);
    }

    /// Whether the map may be used now (confirmed less than `max_age` ago).
    pub fn is_fresh(&self) -> bool {
        let confirmed = self.confirmed_ms.load(Ordering::Acquire);
        if confirmed == 0 {
            return false;
        }
        let now = self.epoch.elapsed().as_millis() as u64 + 1;
        now.saturating_sub(confirmed) < self.max_age.as_millis() as u64
    }

    /// Re-reads the accounts when the store's twilio generation moved
    /// since they were read; otherwise reads that one row. Either way, on
    /// success the map is confirmed current as of this call's start.
    /// Returns whether the accounts were read.
    pub async fn reload(&self) -> Result<bool, StoreError> {
        let mut stored = self.stored.lock().await;
        // Taken under the lock: a reload that began earlier and ends later
        // cannot confirm an older view after a newer one.
        let started = Instant::now();
        let generation = self.store.twilio_generation().await?;
        if generation == *stored {
            self.confirm(started);
            return Ok(false);
        }
        let accounts = self.store.twilio_accounts().await?;
        let generation = accounts.generation;
        let map = Arc::new(by_sid(accounts));
        *self
            .by_sid
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = map;
        *stored = generation;
        self.confirm(started);
        Ok(true)
    }

    /// After a write through this node: read the change now, so that this
    /// node's own administration is in force at once. Should that read
    /// fail, memory is not used again until a reload succeeds.
    pub async fn reload_after_write(&self) {
        if let Err(error) = self.reload().await {
            tracing::warn!(%error, "reading the Twilio accounts after a change failed");
            self.confirmed_ms.store(0, Ordering::Release);
        }
    }

    /// The account Twilio knows by `sid` and its tokens, from memory while
    /// it is fresh; `None` when memory cannot answer (not held, or stale):
    /// then ask [`TwilioAccounts::from_store`].
    pub fn cached(&self, sid: &str) -> Option<Arc<WebhookAccount>> {
        if !self.is_fresh() {
            return None;
        }
        self.by_sid
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(sid)
            .cloned()
    }

    /// The account Twilio knows by `sid` and its tokens, read from the
    /// store (two reads): for an AccountSid memory does not hold, a stale
    /// map, or a signature the held tokens did not verify.
    pub async fn from_store(&self, sid: &str) -> Result<Option<WebhookAccount>, StoreError> {
        let Some(account) = self
            .store
            .account_by_twilio_sid(&TwilioAccountSid::new(sid))
            .await?
        else {
            return Ok(None);
        };
        let auth_tokens = self.store.account_auth_tokens(&account.id).await?;
        Ok(Some(WebhookAccount {
            account: Arc::new(account),
            auth_tokens,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use evo_core::domain::Account;

    const SID: &str = "AC0123456789abcdef0123456789abcdef";
    const OTHER_SID: &str = "ACfedcba9876543210fedcba9876543210";

    struct Fixture {
        accounts: TwilioAccounts,
        store: Arc<dyn Store>,
        dir: tempfile::TempDir,
    }

    impl Fixture {
        /// Plain SQL on a connection of its own (another process's write).
        async fn execute(&self, statement: &str) {
            evo_store::testing::execute_in_sqlite(self.dir.path(), statement).await;
        }

        fn tokens(&self, sid: &str) -> Option<Vec<String>> {
            self.accounts
                .cached(sid)
                .map(|held| held.tokens().iter().map(|t| t.to_string()).collect())
        }
    }

    async fn fixture(max_age: Duration) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = evo_store::open_store(&dir.path().display().to_string())
            .await
            .unwrap();
        for (id, sid, token) in [
            ("acc1", Some(SID), Some("token-one")),
            ("acc2", Some(OTHER_SID), Some("token-two")),
            ("acc3", None, None),
        ] {
            store
                .create_account(&Account {
                    id: id.into(),
                    name: id.to_uppercase(),
                    twilio_account_sid: sid.map(Into::into),
                    twilio_auth_token: token.map(Into::into),
                })
                .await
                .unwrap();
        }
        let accounts = TwilioAccounts::load(store.clone(), max_age).await.unwrap();
        Fixture {
            accounts,
            store,
            dir,
        }
    }

    /// Held by AccountSid, each account with its own tokens only; an
    /// account without an AccountSid is not held.
    #[tokio::test]
    async fn each_account_sid_holds_its_own_account_and_tokens() {
        let f = fixture(Duration::from_secs(60)).await;
        let one = f.accounts.cached(SID).expect("held");
        assert_eq!(one.account.id.as_str(), "acc1");
        assert_eq!(one.tokens(), ["token-one"]);
        let two = f.accounts.cached(OTHER_SID).expect("held");
        assert_eq!(two.account.id.as_str(), "acc2");
        assert_eq!(two.tokens(), ["token-two"]);
        assert!(f
            .accounts
            .cached("AC00000000000000000000000000000000")
            .is_none());
        assert_eq!(f.accounts.by_sid.read().unwrap().len(), 2);
    }

    /// An idle reload reads the generation only (the account table renamed
    /// away underneath it, which a read of the accounts would fail on).
    #[tokio::test]
    async fn an_idle_reload_reads_the_generation_but_not_the_accounts() {
        let f = fixture(Duration::from_secs(60)).await;
        f.execute("alter table account_auth_token rename to account_auth_token_away")
            .await;
        for _ in 0..3 {
            assert!(!f.accounts.reload().await.unwrap(), "nothing read");
        }
        assert_eq!(f.tokens(SID).unwrap(), ["token-one"]);
        f.execute("update twilio_generation set value = value + 1")
            .await;
        assert!(f.accounts.reload().await.is_err(), "the tokens are read");
    }

    /// Rotation by another process (plain SQL): a token added is held
    /// after the next reload, next to the primary; the primary replaced
    /// and the old one removed, only the new one is held; the account
    /// deleted, its AccountSid is no longer held.
    #[tokio::test]
    async fn changes_by_another_process_are_held_after_the_next_reload() {
        let f = fixture(Duration::from_secs(60)).await;
        f.execute(
            "insert into account_auth_token (account_id, token, added_at) \
             values ('acc1', 'token-new', '2026-11-26T19:00:00Z')",
        )
        .await;
        assert_eq!(f.tokens(SID).unwrap(), ["token-one"], "until the reload");
        assert!(f.accounts.reload().await.unwrap());
        assert_eq!(f.tokens(SID).unwrap(), ["token-one", "token-new"]);
        assert_eq!(f.tokens(OTHER_SID).unwrap(), ["token-two"]);
        f.execute("update account set twilio_auth_token = 'token-new' where account_id = 'acc1'")
            .await;
        f.execute("delete from account_auth_token where account_id = 'acc1'")
            .await;
        assert!(f.accounts.reload().await.unwrap());
        assert_eq!(f.tokens(SID).unwrap(), ["token-new"]);
        assert!(!f.accounts.reload().await.unwrap());
        f.execute("update account set twilio_account_sid = null where account_id = 'acc2'")
            .await;
        assert!(f.accounts.reload().await.unwrap());
        assert!(f.tokens(OTHER_SID).is_none(), "an AccountSid taken away");
        // Through the store's own methods too.
        f.store
            .add_account_auth_token(&"acc1".into(), "token-3", chrono::Utc::now())
            .await
            .unwrap();
        assert!(f.accounts.reload().await.unwrap());
        assert_eq!(f.tokens(SID).unwrap(), ["token-new", "token-3"]);
    }

    /// Not confirmed within `max_age`, memory answers nothing (the caller
    /// reads the store); a reload confirms it again, also when nothing
    /// changed.
    #[tokio::test]
    async fn a_map_not_confirmed_within_its_bound_is_not_used() {
        let f = fixture(Duration::from_millis(50)).await;
        assert!(f.accounts.cached(SID).is_some());
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert!(!f.accounts.is_fresh());
        assert!(f.accounts.cached(SID).is_none(), "stale: not used");
        assert!(!f.accounts.reload().await.unwrap());
        assert!(f.accounts.cached(SID).is_some(), "confirmed again");
        // A failed reload confirms nothing.
        tokio::time::sleep(Duration::from_millis(80)).await;
        f.execute("alter table twilio_generation rename to twilio_generation_away")
            .await;
        assert!(f.accounts.reload().await.is_err());
        assert!(f.accounts.cached(SID).is_none());
        // The store read beside it answers (or fails) as the store does.
        assert_eq!(
            f.accounts
                .from_store(SID)
                .await
                .unwrap()
                .unwrap()
                .account
                .id
                .as_str(),
            "acc1"
        );
    }
}
