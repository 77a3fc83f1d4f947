//! Nothing stays active forever: quiet calls are checked with Twilio's REST
//! API (`evo_twilio::fake::FakeTwilio`: the documented Call resource JSON,
//! Basic auth checked, programmed faults) and ended when over; sessions
//! Twilio cannot confirm end at the maximum age. Each REST answer has its
//! test: completed (end_time, duration), in-progress, 404, 401, 403, 429
//! with Retry-After, 5xx.

use std::time::Duration;

use axum::http::Method;
use chrono::{DateTime, TimeZone, Utc};
use evo_core::api::sessions::{FlowChannels, SessionDirections};
use evo_core::domain::Account;
use evo_core::ids::TwilioAccountSid;
use evo_core::reducer;
use evo_core::session::{Session, SessionHeader};
use evo_server::app::config::ReconcileConfig;
use evo_server::app::reconcile::{reconcile_once, Reconciler};
use evo_server::app::state::AppState;
use evo_server::startup::Application;
use evo_twilio::fake::{FakeCall, FakeTwilio, Fault};

/// The 34-character account SID shape Twilio documents (`AC` + 32 hex).
const SID: &str = "AC0123456789abcdef0123456789abc999";
const TOKEN: &str = "the-auth-token";

struct World {
    _dir: crate::helpers::TestDb,
    _app: Application,
    state: AppState,
    twilio: FakeTwilio,
    config: ReconcileConfig,
    reconciler: Reconciler,
    account: Account,
    now: DateTime<Utc>,
}

impl World {
    /// A server whose account's token is `stored_token`, and a fake Twilio
    /// that accepts `TOKEN`.
    async fn new(stored_token: &str) -> World {
        let dir = crate::helpers::TestDb::new();
        let app = crate::helpers::build(&dir).await;
        let state = app.state();
        let account = state
            .directory
            .add_account("Reconciled", Some(SID), Some(stored_token))
            .await
            .unwrap();
        let twilio = FakeTwilio::start().await.unwrap();
        twilio.add_account(SID, TOKEN);
        let config = ReconcileConfig {
            idle_after: Duration::from_secs(10 * 60),
            max_age: Duration::from_secs(24 * 60 * 60),
            chat_idle_after: Duration::from_secs(2 * 60 * 60),
            interval: Duration::from_secs(60),
            twilio_api_base: twilio.base_url().to_string(),
        };
        let reconciler = Reconciler::new(&config).unwrap();
        World {
            _dir: dir,
            _app: app,
            state,
            twilio,
            config,
            reconciler,
            account,
            now: Utc::now(),
        }
    }

    /// A voice session on root call `call_sid`, opened `age_minutes` ago.
    async fn open(&self, account: &Account, call_sid: &str, age_minutes: i64) {
        self.open_channel(account, call_sid, age_minutes, FlowChannels::Voice)
            .await
    }

    async fn open_channel(
        &self,
        account: &Account,
        call_sid: &str,
        age_minutes: i64,
        channel: FlowChannels,
    ) {
        let header = SessionHeader {
            account_id: account.id.clone(),
            account_name: account.name.clone(),
            endpoint_id: "num".into(),
            endpoint_name: "Line".into(),
            channel,
            direction: SessionDirections::Incoming,
            call_sid: Some(call_sid.to_string().into()),
            ..SessionHeader::default()
        };
        let session = reducer::open(
            format!("ses-{call_sid}"),
            header,
            self.now - chrono::Duration::minutes(age_minutes),
        );
        self.state.sessions.open(session, vec![]).await.unwrap();
    }

    async fn pass_at(&self, later: Duration) -> evo_server::app::reconcile::ReconcileReport {
        reconcile_once(
            &self.state,
            &self.config,
            &self.reconciler,
            self.now + later,
        )
        .await
    }

    async fn session(&self, call_sid: &str) -> Session {
        self.state
            .sessions
            .stored(&format!("ses-{call_sid}").into())
            .await
            .unwrap()
            .unwrap()
    }

    fn call_requests(&self, call_sid: &str) -> usize {
        let path = format!("/2010-04-01/Accounts/{SID}/Calls/{call_sid}.json");
        self.twilio
            .requests()
            .iter()
            .filter(|r| r.method == "GET" && r.path == path)
            .count()
    }
}

const NOW: Duration = Duration::ZERO;

#[tokio::test]
async fn a_completed_call_ends_the_session_at_twilios_end_time_with_its_duration() {
    let world = World::new(TOKEN).await;
    world.open(&world.account, "CADONE", 60).await;
    let started = Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap();
    let finished = started + chrono::Duration::seconds(42);
    world.twilio.insert_call(
        SID,
        FakeCall {
            start_time: Some(started),
            end_time: Some(finished),
            answered_by: Some("human".into()),
            ..FakeCall::new("CADONE", "completed")
        },
    );

    let report = world.pass_at(NOW).await;
    assert_eq!((report.checked, report.fetched, report.ended), (1, 1, 1));

    // The exact request: GET of the Call resource, Basic auth as the account.
    let requests = world.twilio.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "GET");
    assert_eq!(
        requests[0].path,
        format!("/2010-04-01/Accounts/{SID}/Calls/CADONE.json")
    );
    assert_eq!(requests[0].basic_user.as_deref(), Some(SID));

    let session = world.session("CADONE").await;
    assert!(!session.is_active());
    // dateCompleted is Twilio's end_time, not the server's clock.
    assert_eq!(session.state().completed_at, Some(finished));
    assert!(session.state().outcome.is_some());
    let log: Vec<&str> = session
        .state()
        .log
        .iter()
        .map(|l| l.message.as_str())
        .collect();
    assert!(
        log.contains(
            &"Session ended: Twilio's Call resource reports the call completed after 42 s, answered by human"
        ),
        "{log:?}"
    );
    assert!(world.state.sessions.index().get(session.id()).is_none());

    // A second pass changes nothing more and asks nothing.
    let again = world.pass_at(world.config.interval).await;
    assert_eq!((again.ended, again.fetched), (0, 0));
}

#[tokio::test]
async fn a_terminal_status_other_than_completed_is_the_outcome() {
    let world = World::new(TOKEN).await;
    world.open(&world.account, "CABUSY", 60).await;
    let mut call = FakeCall::new("CABUSY", "busy");
    call.end_time = call.start_time;
    world.twilio.insert_call(SID, call);
    assert_eq!(world.pass_at(NOW).await.ended, 1);
    let session = world.session("CABUSY").await;
    assert!(!session.is_active());
    assert_eq!(session.state().outcome.as_deref(), Some("busy"));
}

#[tokio::test]
async fn a_call_in_progress_changes_nothing() {
    let world = World::new(TOKEN).await;
    world.open(&world.account, "CALIVE", 60).await;
    world
        .twilio
        .insert_call(SID, FakeCall::new("CALIVE", "in-progress"));
    let before = world.session("CALIVE").await;
    let report = world.pass_at(NOW).await;
    assert_eq!((report.checked, report.fetched, report.ended), (1, 1, 0));
    let after = world.session("CALIVE").await;
    assert!(after.is_active());
    assert_eq!(after.version(), before.version());
    assert_eq!(after.state(), before.state());
    // Asked again next pass.
    world.pass_at(world.config.interval).await;
    assert_eq!(world.call_requests("CALIVE"), 2);
}

#[tokio::test]
async fn fresh_sessions_and_chats_follow_their_own_rules() {
    let world = World::new(TOKEN).await;
    world.open(&world.account, "CAFRESH", 1).await;
    world
        .open_channel(&world.account, "CHATIDLE", 5 * 60, FlowChannels::Chat)
        .await;
    world
        .open_channel(&world.account, "CHATNEW", 30, FlowChannels::Chat)
        .await;
    let report = world.pass_at(NOW).await;
    assert_eq!((report.checked, report.fetched, report.ended), (0, 0, 1));
    assert!(world.session("CAFRESH").await.is_active());
    assert!(world.session("CHATNEW").await.is_active());
    let chat = world.session("CHATIDLE").await;
    assert_eq!(chat.state().outcome.as_deref(), Some("completed"));
    assert_eq!(
        chat.state().log.last().map(|l| l.message.as_str()),
        Some("Session ended: the conversation was idle")
    );
}

#[tokio::test]
async fn an_unknown_call_is_not_failed_but_kept_until_the_maximum_age() {
    let world = World::new(TOKEN).await;
    // 404 from the fake: the call is not in its store.
    world.open(&world.account, "CAGONE", 60).await;
    world.open(&world.account, "CAOLD", 3 * 24 * 60).await;
    let report = world.pass_at(NOW).await;
    assert_eq!(report.unknown, 2, "{report:?}");
    assert_eq!(report.ended, 1, "{report:?}");

    let young = world.session("CAGONE").await;
    assert!(young.is_active(), "404 is unknown, not failed");
    assert_eq!(young.state().outcome, None);

    let old = world.session("CAOLD").await;
    assert!(!old.is_active());
    assert_eq!(old.state().outcome.as_deref(), Some("expired"));
    assert_eq!(
        old.state().log.last().map(|l| l.message.as_str()),
        Some(
            "Session ended: the session passed its maximum age and Twilio could not confirm it \
             (Twilio does not know the call)"
        )
    );
    // A 404 is not a reason to stop asking about the account's other calls.
    assert!(world
        .reconciler
        .backoff(&TwilioAccountSid::new(SID))
        .is_none());
}

#[tokio::test]
async fn sessions_without_credentials_expire_at_the_maximum_age_only() {
    let world = World::new(TOKEN).await;
    let offline = world
        .state
        .directory
        .add_account("Offline", None, None)
        .await
        .unwrap();
    world.open(&offline, "CAOLDX", 3 * 24 * 60).await;
    world.open(&offline, "CAYOUNG", 60).await;
    let report = world.pass_at(NOW).await;
    assert_eq!((report.fetched, report.ended), (0, 1));
    assert_eq!(
        world.session("CAOLDX").await.state().outcome.as_deref(),
        Some("expired")
    );
    assert!(world.session("CAYOUNG").await.is_active());
}

/// 401 and 403 back off per account, exponentially: one request, then
/// none until the back-off has passed, then a longer back-off.
async fn refused(world: &World) {
    world.open(&world.account, "CAONE", 60).await;
    world.open(&world.account, "CATWO", 60).await;
    for sid in ["CAONE", "CATWO"] {
        world
            .twilio
            .insert_call(SID, FakeCall::new(sid, "in-progress"));
    }
    let first = world.pass_at(NOW).await;
    assert_eq!(
        first.fetched, 1,
        "the second call is not asked in the same pass"
    );
    assert_eq!(first.deferred, 1);
    let backoff = world
        .reconciler
        .backoff(&TwilioAccountSid::new(SID))
        .expect("backing off");
    assert_eq!(backoff.refusals, 1);
    assert_eq!(backoff.until, world.now + chrono::Duration::seconds(60));

    let during = world.pass_at(Duration::from_secs(59)).await;
    assert_eq!((during.fetched, during.deferred), (0, 2));

    let after = world.pass_at(Duration::from_secs(60)).await;
    assert_eq!(after.fetched, 1);
    let backoff = world
        .reconciler
        .backoff(&TwilioAccountSid::new(SID))
        .unwrap();
    assert_eq!(backoff.refusals, 2);
    assert_eq!(
        backoff.until,
        world.now + chrono::Duration::seconds(60 + 120)
    );
    assert_eq!(world.twilio.requests().len(), 2);
    assert!(world.session("CAONE").await.is_active());
    assert!(world.session("CATWO").await.is_active());
}

#[tokio::test]
async fn a_401_backs_the_account_off_exponentially() {
    // The stored token is not the one Twilio accepts: a real 401 (20003).
    let world = World::new("a-revoked-token").await;
    refused(&world).await;
}

#[tokio::test]
async fn a_403_backs_the_account_off_exponentially() {
    let world = World::new(TOKEN).await;
    // Twilio error 20403: "Forbidden" (https://www.twilio.com/docs/api/errors/20403).
    world.twilio.fail(
        Method::GET,
        ".json",
        Fault::Status {
            status: 403,
            code: 20403,
        },
        None,
    );
    refused(&world).await;
}

#[tokio::test]
async fn a_429_is_honoured_no_request_before_retry_after() {
    let world = World::new(TOKEN).await;
    world.open(&world.account, "CADONE", 60).await;
    world.open(&world.account, "CATWO", 60).await;
    let mut call = FakeCall::new("CADONE", "completed");
    call.end_time = Some(world.now);
    world.twilio.insert_call(SID, call);
    world
        .twilio
        .insert_call(SID, FakeCall::new("CATWO", "in-progress"));
    // Whichever call is asked first is rate-limited (Twilio error 20429).
    world.twilio.fail(
        Method::GET,
        ".json",
        Fault::RateLimited {
            retry_after: Some("120".into()),
        },
        Some(1),
    );
    let first = world.pass_at(NOW).await;
    assert_eq!((first.fetched, first.ended), (1, 0));
    assert_eq!(
        world
            .reconciler
            .backoff(&TwilioAccountSid::new(SID))
            .map(|b| b.until),
        Some(world.now + chrono::Duration::seconds(120))
    );
    let early = world.pass_at(Duration::from_secs(119)).await;
    assert_eq!(early.fetched, 0, "no request before Retry-After");
    assert_eq!(world.twilio.requests().len(), 1);

    let later = world.pass_at(Duration::from_secs(120)).await;
    assert!(later.fetched >= 1);
    assert!(!world.session("CADONE").await.is_active());
}

#[tokio::test]
async fn a_5xx_is_retried_next_pass() {
    let world = World::new(TOKEN).await;
    world.open(&world.account, "CADONE", 60).await;
    let mut call = FakeCall::new("CADONE", "completed");
    call.end_time = Some(world.now);
    world.twilio.insert_call(SID, call);
    world.twilio.fail(
        Method::GET,
        "/Calls/CADONE.json",
        Fault::Status {
            status: 503,
            code: 20503,
        },
        Some(1),
    );
    let first = world.pass_at(NOW).await;
    assert_eq!((first.fetched, first.ended), (1, 0));
    assert!(world.session("CADONE").await.is_active());
    assert!(
        world
            .reconciler
            .backoff(&TwilioAccountSid::new(SID))
            .is_none(),
        "a server error is not a back-off"
    );

    let next = world.pass_at(world.config.interval).await;
    assert_eq!((next.fetched, next.ended), (1, 1));
    assert!(!world.session("CADONE").await.is_active());
}

#[tokio::test]
async fn while_rotating_a_refused_primary_token_falls_back_to_the_next() {
    // The primary was revoked in Twilio; the new token was added.
    let world = World::new("a-revoked-token").await;
    world
        .state
        .directory
        .add_auth_token(&world.account.id, TOKEN)
        .await
        .unwrap();
    world.open(&world.account, "CADONE", 60).await;
    let mut call = FakeCall::new("CADONE", "completed");
    call.end_time = Some(world.now);
    world.twilio.insert_call(SID, call);
    let report = world.pass_at(NOW).await;
    assert_eq!((report.fetched, report.ended), (2, 1), "{report:?}");
    assert!(world
        .reconciler
        .backoff(&TwilioAccountSid::new(SID))
        .is_none());
    assert!(!world.session("CADONE").await.is_active());
}
