//! The webhook verifier's accounts and tokens in memory
//! (`app::twilio_accounts`, migration 0020's twilio generation): a token
//! rotated or an account changed by another process (plain SQL, as another
//! node or an administration command writes it) is in force within the
//! bound (a reload, every `directory_refresh`; memory unused once not
//! confirmed for two periods), a token or account added elsewhere at once
//! (memory only widens to the store), tenancy holds (a signature by one
//! account's token proves nothing for another AccountSid), and a store
//! failure where memory cannot answer is a 5xx. On SQLite and PostgreSQL.
//!
//! The webhook is a status callback with the parameters of
//! https://www.twilio.com/docs/voice/twiml#request-parameters plus
//! `CallStatus` (https://www.twilio.com/docs/voice/api/call-resource#statuscallback),
//! signed as https://www.twilio.com/docs/usage/security#validating-requests
//! describes, for a call evo-voice does not track (parked, 204).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use evo_server::app::state::AppState;
use evo_twilio::params::FormParams;
use evo_twilio::signature::compute_signature;

use crate::helpers::{build_with, TestDb};

const ACME_SID: &str = "AC0123456789abcdef0123456789abc901";
const GLOBEX_SID: &str = "AC0123456789abcdef0123456789abc902";
const OLD: &str = "0123456789abcdef0123456789abc901";
const NEW: &str = "0123456789abcdef0123456789abc9a1";
const GLOBEX_TOKEN: &str = "0123456789abcdef0123456789abc902";

struct Node {
    address: SocketAddr,
    state: AppState,
}

/// A server on `db` reloading its directory every `refresh`.
async fn node(db: &TestDb, refresh: Duration) -> Node {
    let app = build_with(db, |config| config.directory_refresh = refresh).await;
    let node = Node {
        address: app.local_addr(),
        state: app.state(),
    };
    tokio::spawn(app.run_until_stopped());
    node
}

impl Node {
    /// The HTTP status of a status callback for `account_sid`, signed
    /// with `token` over this server's public URL.
    async fn callback(&self, account_sid: &str, token: &str) -> u16 {
        let params = FormParams::from_pairs(crate::helpers::completed_call_callback(
            account_sid,
            "CA0123456789abcdef0123456789ab9001",
        ));
        let url = format!("http://{}/twilio/status", self.address);
        crate::helpers::post_signed(&url, token, &params)
            .await
            .status()
            .as_u16()
    }

    /// The HTTP status of the status callback with `extra` parameters
    /// (Twilio adds parameters without notice; the signature covers every
    /// one: https://www.twilio.com/docs/usage/webhooks/webhooks-security),
    /// signed with `token`, or with the body changed after signing.
    async fn callback_with(
        &self,
        account_sid: &str,
        token: &str,
        extra: usize,
        tamper: bool,
    ) -> u16 {
        let mut pairs = crate::helpers::completed_call_callback(
            account_sid,
            "CA0123456789abcdef0123456789ab9002",
        );
        pairs.extend((0..extra).map(|n| (format!("Extra{n}"), "x".repeat(40))));
        let params = FormParams::from_pairs(pairs);
        let url = format!("http://{}/twilio/status", self.address);
        let signature = compute_signature(token, &url, &params);
        let mut body = params.encode();
        if tamper {
            body = body.replace("completed", "busy");
        }
        reqwest::Client::new()
            .post(&url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("X-Twilio-Signature", signature)
            .body(body)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// Waits (at most 5 s) until the callback answers `status`.
    async fn until(&self, account_sid: &str, token: &str, status: u16) {
        let started = Instant::now();
        loop {
            let answered = self.callback(account_sid, token).await;
            if answered == status {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "still {answered}, not {status}: the reload never found the change"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The tokens memory holds for `sid` (`None`: not held or stale).
    fn held(&self, sid: &str) -> Option<Vec<String>> {
        self.state
            .directory
            .twilio_accounts()
            .cached(sid)
            .map(|held| held.tokens().iter().map(|t| t.to_string()).collect())
    }

    /// Waits (at most 5 s) until memory holds `tokens` for `sid`.
    async fn until_held(&self, sid: &str, tokens: Option<&[&str]>) {
        let started = Instant::now();
        let want = tokens.map(|t| t.iter().map(|t| t.to_string()).collect::<Vec<_>>());
        while self.held(sid) != want {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "memory holds {:?} for {sid}, not {want:?}",
                self.held(sid)
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// Two accounts added by plain SQL (another process), as `account add`
/// writes them.
async fn two_accounts(db: &TestDb) {
    db.execute(&format!(
        "insert into account (account_id, name, twilio_account_sid, twilio_auth_token) \
         values ('acc_acme', 'Acme', '{ACME_SID}', '{OLD}')"
    ))
    .await;
    db.execute(&format!(
        "insert into account (account_id, name, twilio_account_sid, twilio_auth_token) \
         values ('acc_globex', 'Globex', '{GLOBEX_SID}', '{GLOBEX_TOKEN}')"
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_rotated_by_another_process_is_in_force_within_the_reload_bound() {
    let db = TestDb::new();
    let node = node(&db, Duration::from_millis(100)).await;
    two_accounts(&db).await;
    // Added elsewhere: accepted at once (the store is asked), then held.
    assert_eq!(node.callback(ACME_SID, OLD).await, 204);
    node.until_held(ACME_SID, Some(&[OLD])).await;
    assert_eq!(node.callback(ACME_SID, OLD).await, 204, "from memory");
    assert_eq!(node.callback(ACME_SID, NEW).await, 403, "not added yet");

    // Rotation, step 1: the new token added (the secondary, next to the
    // primary); accepted at once, then both held.
    db.execute(&format!(
        "insert into account_auth_token (account_id, token, added_at) \
         values ('acc_acme', '{NEW}', '2026-11-26T19:00:00.000000Z')"
    ))
    .await;
    assert_eq!(node.callback(ACME_SID, NEW).await, 204, "added: at once");
    node.until_held(ACME_SID, Some(&[OLD, NEW])).await;
    assert_eq!(node.callback(ACME_SID, OLD).await, 204, "primary, held");
    assert_eq!(node.callback(ACME_SID, NEW).await, 204, "secondary, held");

    // Step 2: the new token promoted, the old one removed: refused once
    // the next reload ran.
    db.execute(&format!(
        "update account set twilio_auth_token = '{NEW}' where account_id = 'acc_acme'"
    ))
    .await;
    db.execute("delete from account_auth_token where account_id = 'acc_acme'")
        .await;
    node.until(ACME_SID, OLD, 403).await;
    node.until_held(ACME_SID, Some(&[NEW])).await;
    assert_eq!(node.callback(ACME_SID, NEW).await, 204);
    assert_eq!(node.callback(ACME_SID, OLD).await, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_account_is_refused_and_no_account_signs_for_another() {
    let db = TestDb::new();
    let node = node(&db, Duration::from_millis(100)).await;
    two_accounts(&db).await;
    node.until_held(ACME_SID, Some(&[OLD])).await;
    node.until_held(GLOBEX_SID, Some(&[GLOBEX_TOKEN])).await;

    // Tenancy, both held: each AccountSid verifies with its own token only.
    assert_eq!(node.callback(ACME_SID, OLD).await, 204);
    assert_eq!(node.callback(GLOBEX_SID, GLOBEX_TOKEN).await, 204);
    assert_eq!(node.callback(GLOBEX_SID, OLD).await, 403, "acme's token");
    assert_eq!(node.callback(ACME_SID, GLOBEX_TOKEN).await, 403);
    assert_eq!(
        node.callback("AC0123456789abcdef0123456789abc999", OLD)
            .await,
        403,
        "an AccountSid nobody has"
    );

    // Globex's AccountSid taken away, then the account deleted: refused
    // once the next reload ran, and no longer held.
    db.execute("update account set twilio_account_sid = null where account_id = 'acc_globex'")
        .await;
    node.until(GLOBEX_SID, GLOBEX_TOKEN, 403).await;
    node.until_held(GLOBEX_SID, None).await;
    db.execute("delete from account where account_id = 'acc_globex'")
        .await;
    assert_eq!(node.callback(GLOBEX_SID, GLOBEX_TOKEN).await, 403);

    // Its AccountSid given to acme (plain SQL): acme's token now signs for
    // it (at once: memory's refusal is checked against the store), and
    // globex's old token never again.
    db.execute(&format!(
        "update account set twilio_account_sid = '{GLOBEX_SID}' where account_id = 'acc_acme'"
    ))
    .await;
    assert_eq!(node.callback(GLOBEX_SID, OLD).await, 204);
    node.until(ACME_SID, OLD, 403).await;
    node.until_held(GLOBEX_SID, Some(&[OLD])).await;
    assert_eq!(node.callback(GLOBEX_SID, GLOBEX_TOKEN).await, 403);
}

/// Where memory cannot answer (an account it does not hold yet), the store
/// is asked, and a failing store is a 503 (Twilio retries), never an
/// acknowledgement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_failure_where_memory_cannot_answer_is_a_5xx() {
    let db = TestDb::new();
    // No reload within the test: memory holds only what this node wrote.
    let node = node(&db, Duration::from_secs(3_600)).await;
    node.state
        .directory
        .add_account("Held Co", Some(ACME_SID), Some(OLD))
        .await
        .unwrap();
    assert_eq!(node.held(ACME_SID).unwrap(), [OLD], "this node's own write");
    db.execute(&format!(
        "insert into account (account_id, name, twilio_account_sid, twilio_auth_token) \
         values ('acc_globex', 'Globex', '{GLOBEX_SID}', '{GLOBEX_TOKEN}')"
    ))
    .await;
    assert_eq!(node.held(GLOBEX_SID), None);
    let cascade = if crate::helpers::on_postgres() {
        " cascade"
    } else {
        ""
    };
    db.execute(&format!("drop table account_auth_token{cascade}"))
        .await;
    assert_eq!(node.callback(GLOBEX_SID, GLOBEX_TOKEN).await, 503);
    // A forged signature for a held account is checked against the store
    // too: also a 503 while it fails, never a 2xx.
    assert_eq!(node.callback(ACME_SID, GLOBEX_TOKEN).await, 503);
}

/// A body over the size verified on the request's task (8 KiB) is verified
/// on the blocking pool, with the same answers: signed, 204; changed after
/// signing or signed by another account's token, 403.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_body_is_verified_as_a_small_one() {
    let db = TestDb::new();
    let node = node(&db, Duration::from_millis(100)).await;
    two_accounts(&db).await;
    node.until_held(ACME_SID, Some(&[OLD])).await;
    for extra in [0, 300] {
        assert_eq!(
            node.callback_with(ACME_SID, OLD, extra, false).await,
            204,
            "{extra}"
        );
        assert_eq!(
            node.callback_with(ACME_SID, OLD, extra, true).await,
            403,
            "{extra}"
        );
        assert_eq!(
            node.callback_with(ACME_SID, GLOBEX_TOKEN, extra, false)
                .await,
            403,
            "{extra}"
        );
    }
}
