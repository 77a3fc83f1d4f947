//! Signed Twilio webhooks drive sessions; unsigned or tampered ones change
//! nothing.

use evo_core::ids::{AccountId, CallSid};
use evo_server::app::directory::{NewNumber, NewUser};
use evo_server::app::sessions::call_session_id;
use evo_twilio::params::FormParams;
use evo_twilio::signature::compute_signature;

use crate::helpers::{active_sessions, bearer, shared, TestApp};

const TOKEN: &str = "twilio-test-token";

#[derive(Clone)]
struct Tenant {
    account_id: String,
    sid: String,
    /// Users of the tenant, rung by its number: (id, e-mail).
    tina: (String, String),
    tom: (String, String),
}

/// An account of its own (so that other tests' exact expectations are not
/// disturbed), with Twilio credentials and a number ringing tina and tom;
/// created once for all tests of this module.
async fn tenant(app: &'static TestApp) -> Tenant {
    static CREATED: tokio::sync::OnceCell<Tenant> = tokio::sync::OnceCell::const_new();
    CREATED
        .get_or_init(|| {
            crate::helpers::on_shared_runtime(async move {
                let sid = "AC0123456789abcdef0123456789abcdef".to_string();
                let account = app
                    .state
                    .directory
                    .add_account("Twilio Co", Some(&sid), Some(TOKEN))
                    .await
                    .unwrap();
                let mut users = Vec::new();
                for email in ["tina@twilio-co.test", "tom@twilio-co.test"] {
                    let user = app
                        .state
                        .directory
                        .add_user(NewUser {
                            account_id: &account.id,
                            email,
                            password: crate::helpers::PASSWORD,
                            display_name: None,
                            roles: &["User".to_string()],
                            customer_id: None,
                        })
                        .await
                        .unwrap();
                    users.push((user.id.to_string(), email.to_string()));
                }
                app.state
                    .directory
                    .add_number(NewNumber {
                        account_id: &account.id,
                        number: "+15558880000",
                        ring_user_ids: &[users[0].0.clone().into(), users[1].0.clone().into()],
                        queue_name: None,
                        display_name: Some("Twilio line"),
                        customer_id: None,
                    })
                    .await
                    .unwrap();
                Tenant {
                    account_id: account.id.to_string(),
                    sid,
                    tina: users[0].clone(),
                    tom: users[1].clone(),
                }
            })
        })
        .await
        .clone()
}

/// Posts a webhook signed with `token` over the URL Twilio would call.
async fn post(
    app: &TestApp,
    path_and_query: &str,
    pairs: &[(&str, &str)],
    token: &str,
) -> reqwest::Response {
    let params = FormParams::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    crate::helpers::post_signed(&app.url(path_and_query), token, &params).await
}

fn find<'a>(body: &'a serde_json::Value, call_sid: &str) -> Option<&'a serde_json::Value> {
    body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["callSid"] == call_sid)
}

#[tokio::test]
async fn an_inbound_call_rings_its_users_connects_and_ends_through_webhooks() {
    let app = shared();
    let t = tenant(app).await;
    let call = "CA11111111111111111111111111111111";
    let answer = post(
        app,
        "/twilio/voice",
        &[
            ("AccountSid", &t.sid),
            ("CallSid", call),
            ("From", "+15551230000"),
            ("To", "+15558880000"),
            ("CallStatus", "ringing"),
            ("Direction", "inbound"),
        ],
        TOKEN,
    )
    .await;
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["content-type"], "text/xml");
    let twiml = answer.text().await.unwrap();
    assert!(twiml.contains("<Dial"), "{twiml}");
    assert!(
        twiml.contains(&format!(">{}</Client>", t.tina.0)),
        "{twiml}"
    );

    let alice = bearer(app, &t.tina.1).await;
    let session = active_sessions(app, &alice).await;
    let session = find(&session, call).expect("the call is an active session of alice");
    assert_eq!(session["callState"], "Ringing");
    assert_eq!(session["endpointName"], "Twilio line");

    let leg = "CA22222222222222222222222222222222";
    let status_path = format!(
        "/twilio/status?session={}&user={}",
        call_session_id(&AccountId::new(t.account_id.as_str()), &CallSid::new(call)),
        t.tina.0
    );
    // Out of order: in-progress (sequence 2) arrives before ringing (1).
    for (status, seq) in [
        ("in-progress", "2"),
        ("ringing", "1"),
        ("initiated", "0"),
        ("in-progress", "2"),
    ] {
        let response = post(
            app,
            &status_path,
            &[
                ("AccountSid", &t.sid),
                ("CallSid", leg),
                ("ParentCallSid", call),
                ("CallStatus", status),
                ("SequenceNumber", seq),
                ("Timestamp", "Wed, 25 Nov 2026 10:00:05 +0000"),
            ],
            TOKEN,
        )
        .await;
        assert_eq!(response.status(), 204);
    }
    let body = active_sessions(app, &alice).await;
    let session = find(&body, call).unwrap();
    assert_eq!(session["callState"], "Connected");
    assert_eq!(session["answeredById"], t.tina.0.as_str());
    let members = session["members"].as_array().unwrap();
    assert!(members
        .iter()
        .any(|m| m["callSid"] == leg && m["callState"] == "Connected" && m["role"] == "Agent"));

    let ended = post(
        app,
        "/twilio/status",
        &[
            ("AccountSid", &t.sid),
            ("CallSid", call),
            ("CallStatus", "completed"),
            ("SequenceNumber", "1"),
            ("CallDuration", "42"),
        ],
        TOKEN,
    )
    .await;
    assert_eq!(ended.status(), 204);
    let body = active_sessions(app, &alice).await;
    assert!(
        find(&body, call).is_none(),
        "an ended call is no longer active"
    );
    let stored = app
        .state
        .sessions
        .stored(&call_session_id(
            &AccountId::new(t.account_id.as_str()),
            &CallSid::new(call),
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.state().outcome.as_deref(), Some("completed"));
}

#[tokio::test]
async fn unsigned_or_tampered_webhooks_are_refused_and_change_nothing() {
    let app = shared();
    let t = tenant(app).await;
    let call = "CA33333333333333333333333333333333";
    let pairs = [
        ("AccountSid", t.sid.as_str()),
        ("CallSid", call),
        ("From", "+15551230001"),
        ("To", "+15558880000"),
        ("CallStatus", "ringing"),
    ];
    let params = FormParams::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let url = app.url("/twilio/voice");
    let good = compute_signature(TOKEN, &url, &params);
    let http = reqwest::Client::new();
    let send = |body: String, signature: Option<String>, path: &str| {
        let mut request = http
            .post(app.url(path))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(signature) = signature {
            request = request.header("X-Twilio-Signature", signature);
        }
        request.send()
    };
    let changed = params.encode().replace("%2B15551230001", "%2B15559999999");
    let added = format!("{}&Extra=1", params.encode());
    let wrong_token = compute_signature("not-the-token", &url, &params);
    let cases = [
        (
            "changed parameter",
            send(changed, Some(good.clone()), "/twilio/voice"),
        ),
        (
            "added parameter",
            send(added, Some(good.clone()), "/twilio/voice"),
        ),
        (
            "wrong token",
            send(params.encode(), Some(wrong_token), "/twilio/voice"),
        ),
        (
            "different URL",
            send(params.encode(), Some(good.clone()), "/twilio/voice?x=1"),
        ),
        (
            "missing signature",
            send(params.encode(), None, "/twilio/voice"),
        ),
    ];
    for (name, request) in cases {
        let response = request.await.unwrap();
        assert_eq!(response.status(), 403, "{name}");
    }
    let unknown_account = post(
        app,
        "/twilio/voice",
        &[
            ("AccountSid", "AC99999999999999999999999999999999"),
            ("CallSid", call),
        ],
        TOKEN,
    )
    .await;
    assert_eq!(unknown_account.status(), 403);
    assert!(
        app.state
            .sessions
            .stored(&call_session_id(
                &AccountId::new(t.account_id.as_str()),
                &CallSid::new(call)
            ))
            .await
            .unwrap()
            .is_none(),
        "nothing changed"
    );
}

#[tokio::test]
async fn inbound_messages_open_and_extend_a_chat_session() {
    let app = shared();
    let t = tenant(app).await;
    for (sid, body) in [
        ("SM1111", "Hello"),
        ("SM2222", "Is anyone there?"),
        ("SM2222", "Is anyone there?"),
    ] {
        let response = post(
            app,
            "/twilio/sms",
            &[
                ("AccountSid", &t.sid),
                ("MessageSid", sid),
                ("From", "+15557654321"),
                ("To", "+15558880000"),
                ("Body", body),
            ],
            TOKEN,
        )
        .await;
        assert_eq!(response.status(), 200);
    }
    let bob = bearer(app, &t.tom.1).await;
    let body = active_sessions(app, &bob).await;
    let chats: Vec<&serde_json::Value> = body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["channel"] == "Chat" && s["fromPhoneNumber"] == "+15557654321")
        .collect();
    assert_eq!(chats.len(), 1, "one conversation, one session");
    let log: Vec<&str> = chats[0]["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        log.iter().filter(|m| m.starts_with("Message from")).count(),
        2,
        "the duplicate is applied once: {log:?}"
    );
}

const OTHER_TOKEN: &str = "other-tenant-token";

/// A second tenant with its own Twilio account and token, and one user.
async fn other_tenant(app: &'static TestApp) -> (String, String) {
    static CREATED: tokio::sync::OnceCell<(String, String)> = tokio::sync::OnceCell::const_new();
    CREATED
        .get_or_init(|| {
            crate::helpers::on_shared_runtime(async move {
                let sid = "ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb".to_string();
                let account = app
                    .state
                    .directory
                    .add_account("Other Co", Some(&sid), Some(OTHER_TOKEN))
                    .await
                    .unwrap();
                let user = app
                    .state
                    .directory
                    .add_user(NewUser {
                        account_id: &account.id,
                        email: "bea@other-co.test",
                        password: crate::helpers::PASSWORD,
                        display_name: None,
                        roles: &["User".to_string()],
                        customer_id: None,
                    })
                    .await
                    .unwrap();
                (sid, user.id.to_string())
            })
        })
        .await
        .clone()
}

/// Opens an inbound call of the first tenant through its voice webhook.
async fn ring(app: &TestApp, t: &Tenant, call: &str) {
    let answer = post(
        app,
        "/twilio/voice",
        &[
            ("AccountSid", &t.sid),
            ("CallSid", call),
            ("From", "+15551239999"),
            ("To", "+15558880000"),
            ("CallStatus", "ringing"),
            ("Direction", "inbound"),
        ],
        TOKEN,
    )
    .await;
    assert_eq!(answer.status(), 200);
}

async fn stored(app: &TestApp, t: &Tenant, call: &str) -> evo_core::session::Session {
    app.state
        .sessions
        .stored(&call_session_id(
            &AccountId::new(t.account_id.as_str()),
            &CallSid::new(call),
        ))
        .await
        .unwrap()
        .expect("the session exists")
}

#[tokio::test]
async fn another_tenant_signing_with_its_own_token_cannot_touch_a_tenants_call() {
    let app = shared();
    let t = tenant(app).await;
    let (other_sid, bea) = other_tenant(app).await;
    let call = "CA44444444444444444444444444444444";
    ring(app, &t, call).await;
    let before = stored(app, &t, call).await;
    let a_session = call_session_id(&AccountId::new(t.account_id.as_str()), &CallSid::new(call));

    // End A's call by its CallSid: the SID leads nowhere in B's account.
    let end = [
        ("AccountSid", other_sid.as_str()),
        ("CallSid", call),
        ("CallStatus", "completed"),
        ("CallDuration", "10"),
        ("SequenceNumber", "3"),
    ];
    let by_sid = post(app, "/twilio/status", &end, OTHER_TOKEN).await;
    assert_eq!(by_sid.status(), 204, "kept for B's own (nonexistent) call");
    // ... nor by naming A's session.
    let named = post(
        app,
        &format!("/twilio/status?session={a_session}"),
        &end,
        OTHER_TOKEN,
    )
    .await;
    assert_eq!(named.status(), 403);

    // Add B's agent to A's session through a conference callback.
    let joined = post(
        app,
        &format!("/twilio/conference?session={a_session}&user={bea}"),
        &[
            ("AccountSid", other_sid.as_str()),
            ("ConferenceSid", "CF44444444444444444444444444444444"),
            ("StatusCallbackEvent", "participant-join"),
            ("CallSid", "CA44444444444444444444444444444445"),
            ("ParticipantLabel", &format!("agent:{bea}")),
            ("SequenceNumber", "1"),
        ],
        OTHER_TOKEN,
    )
    .await;
    assert_eq!(joined.status(), 403);

    // Dial out as A's user.
    let dialled = post(
        app,
        "/twilio/voice",
        &[
            ("AccountSid", other_sid.as_str()),
            ("CallSid", "CA44444444444444444444444444444446"),
            ("From", &format!("client:{}", t.tina.0)),
            ("To", "+15550001111"),
            ("CallStatus", "ringing"),
        ],
        OTHER_TOKEN,
    )
    .await;
    assert_eq!(dialled.status(), 403);

    let after = stored(app, &t, call).await;
    assert_eq!(
        after.version(),
        before.version(),
        "A's session is unchanged"
    );
    assert_eq!(after.state(), before.state());
    assert!(!after.state().ended);
}

#[tokio::test]
async fn a_missed_call_ends_when_the_dial_action_reports_no_answer() {
    let app = shared();
    let t = tenant(app).await;
    let call = "CA55555555555555555555555555555555";
    ring(app, &t, call).await;
    // https://www.twilio.com/docs/voice/twiml/dial#action
    let answer = post(
        app,
        &format!(
            "/twilio/dial?session={}",
            call_session_id(&AccountId::new(t.account_id.as_str()), &CallSid::new(call))
        ),
        &[
            ("AccountSid", &t.sid),
            ("CallSid", call),
            ("CallStatus", "in-progress"),
            ("From", "+15551239999"),
            ("To", "+15558880000"),
            ("DialCallStatus", "no-answer"),
            ("DialBridged", "false"),
        ],
        TOKEN,
    )
    .await;
    assert_eq!(answer.status(), 200);
    let twiml = answer.text().await.unwrap();
    assert!(twiml.ends_with("<Hangup/></Response>"), "{twiml}");
    let session = stored(app, &t, call).await;
    assert!(session.state().ended, "Twilio ended it when we hung up");
    assert_eq!(session.state().outcome.as_deref(), Some("no-answer"));
    assert!(session.state().was_missed);
}

#[tokio::test]
async fn an_outbound_call_to_a_busy_number_ends_busy_with_a_plain_hangup() {
    let app = shared();
    let t = tenant(app).await;
    let call = "CA66666666666666666666666666666666";
    let from = format!("client:{}", t.tina.0);
    let opened = post(
        app,
        "/twilio/voice",
        &[
            ("AccountSid", &t.sid),
            ("CallSid", call),
            ("From", &from),
            ("To", "+15550002222"),
            ("CallStatus", "ringing"),
            ("Direction", "inbound"),
        ],
        TOKEN,
    )
    .await;
    assert_eq!(opened.status(), 200);
    assert!(opened.text().await.unwrap().contains("<Number"));
    let answer = post(
        app,
        &format!(
            "/twilio/dial?session={}",
            call_session_id(&AccountId::new(t.account_id.as_str()), &CallSid::new(call))
        ),
        &[
            ("AccountSid", &t.sid),
            ("CallSid", call),
            ("CallStatus", "in-progress"),
            ("From", &from),
            ("To", "+15550002222"),
            ("DialCallStatus", "busy"),
            ("DialCallSid", "CA66666666666666666666666666666667"),
            ("DialCallDuration", "0"),
        ],
        TOKEN,
    )
    .await;
    assert_eq!(answer.status(), 200);
    assert_eq!(
        answer.text().await.unwrap(),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Hangup/></Response>"
    );
    let session = stored(app, &t, call).await;
    assert!(session.state().ended);
    assert_eq!(session.state().outcome.as_deref(), Some("busy"));
}

#[tokio::test]
async fn callbacks_before_the_voice_webhook_are_kept_and_applied_when_it_opens_the_session() {
    let app = shared();
    let t = tenant(app).await;
    let call = "CA77777777777777777777777777777777";
    let leg = "CA77777777777777777777777777777778";
    let early = [
        (leg, Some(call), "in-progress", "2", None),
        (leg, Some(call), "completed", "3", Some("30")),
        (call, None, "completed", "1", Some("31")),
    ];
    for (sid, parent, status, seq, duration) in early {
        let mut pairs = vec![
            ("AccountSid", t.sid.as_str()),
            ("CallSid", sid),
            ("CallStatus", status),
            ("SequenceNumber", seq),
            ("CallbackSource", "call-progress-events"),
            ("Timestamp", "Wed, 25 Nov 2026 10:00:40 +0000"),
        ];
        if let Some(parent) = parent {
            pairs.push(("ParentCallSid", parent));
        }
        if let Some(duration) = duration {
            pairs.push(("CallDuration", duration));
        }
        let path = if parent.is_some() {
            format!("/twilio/status?user={}", t.tina.0)
        } else {
            "/twilio/status".to_string()
        };
        let response = post(app, &path, &pairs, TOKEN).await;
        assert_eq!(response.status(), 204, "durably kept, then acknowledged");
    }
    ring(app, &t, call).await;
    let session = stored(app, &t, call).await;
    assert!(session.state().ended, "{:?}", session.state());
    assert_eq!(session.state().outcome.as_deref(), Some("completed"));
    assert_eq!(
        session.state().answered_by_id.as_deref(),
        Some(t.tina.0.as_str())
    );
}

#[tokio::test]
async fn forty_thousand_unsigned_parameters_are_refused_with_413_before_any_signature_work() {
    let app = shared();
    let body = "a&".repeat(40_000);
    let response = reqwest::Client::new()
        .post(app.url("/twilio/status"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    // A signature check first would have answered 403 (no signature).
    assert_eq!(response.status(), 413);
    let text = response.text().await.unwrap();
    let typed = evo_twilio::params::ParamsError::BodyTooLarge {
        len: 65_537,
        limit: 65_536,
    };
    assert_eq!(text, typed.to_string());
    // Within the size cap, the parameter cap answers the same way.
    let many = "a&".repeat(1_001);
    let response = reqwest::Client::new()
        .post(app.url("/twilio/status"))
        .body(many)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(
        response.text().await.unwrap(),
        evo_twilio::params::ParamsError::TooManyParams { limit: 1_000 }.to_string()
    );
}

/// Drops a table of a running test server's embedded store, so that the
/// next statement touching it fails as a broken database would.
async fn break_table(db: &crate::helpers::TestDb, table: &str) {
    // PostgreSQL refuses to drop a table others reference without cascade.
    let cascade = if crate::helpers::on_postgres() {
        " cascade"
    } else {
        ""
    };
    db.execute(&format!("drop table {table}{cascade}")).await;
}

#[tokio::test]
async fn a_store_failure_on_any_webhook_path_is_a_5xx_never_a_2xx() {
    let dir = crate::helpers::TestDb::new();
    let app = crate::helpers::build(&dir).await;
    let address = app.local_addr();
    let state = app.state();
    tokio::spawn(app.run_until_stopped());
    let sid = "ACcccccccccccccccccccccccccccccccc";
    let account = state
        .directory
        .add_account("Broken Co", Some(sid), Some(TOKEN))
        .await
        .unwrap();
    state
        .directory
        .add_number(NewNumber {
            account_id: &account.id,
            number: "+15558881111",
            ring_user_ids: &[],
            queue_name: None,
            display_name: None,
            customer_id: None,
        })
        .await
        .unwrap();
    let send = |path: &'static str, pairs: Vec<(&'static str, &'static str)>| async move {
        let params = FormParams::from_pairs(pairs);
        crate::helpers::post_signed(&format!("http://{address}{path}"), TOKEN, &params)
            .await
            .status()
    };
    let early_leg = vec![
        ("AccountSid", sid),
        ("CallSid", "CA88888888888888888888888888888881"),
        ("ParentCallSid", "CA88888888888888888888888888888880"),
        ("CallStatus", "ringing"),
        ("SequenceNumber", "1"),
    ];
    // Parking fails: the callback is not durable, so it is not acknowledged.
    break_table(&dir, "pending_callback").await;
    assert_eq!(send("/twilio/status", early_leg.clone()).await, 503);
    // The lookup fails: never taken for "no session" (204).
    break_table(&dir, "session_key").await;
    assert_eq!(send("/twilio/status", early_leg).await, 503);
    let dial = vec![
        ("AccountSid", sid),
        ("CallSid", "CA88888888888888888888888888888880"),
        ("CallStatus", "in-progress"),
        ("DialCallStatus", "no-answer"),
    ];
    assert_eq!(send("/twilio/dial", dial).await, 503);
    let enqueue_action = vec![
        ("AccountSid", sid),
        ("CallSid", "CA88888888888888888888888888888880"),
        ("CallStatus", "in-progress"),
        ("QueueResult", "hangup"),
    ];
    assert_eq!(send("/twilio/queue", enqueue_action).await, 503);
    let conference = vec![
        ("AccountSid", sid),
        ("ConferenceSid", "CF88888888888888888888888888888880"),
        ("StatusCallbackEvent", "conference-start"),
        ("SequenceNumber", "1"),
    ];
    assert_eq!(send("/twilio/conference", conference).await, 503);
    let voice = vec![
        ("AccountSid", sid),
        ("CallSid", "CA88888888888888888888888888888882"),
        ("From", "+15551230000"),
        ("To", "+15558881111"),
        ("CallStatus", "ringing"),
    ];
    assert_eq!(send("/twilio/voice", voice).await, 503);
    let sms = vec![
        ("AccountSid", sid),
        ("MessageSid", "SM88888888888888888888888888888888"),
        ("From", "+15551230000"),
        ("To", "+15558881111"),
        ("Body", "hello"),
    ];
    assert_eq!(send("/twilio/sms", sms).await, 503);
}

#[tokio::test]
async fn without_evo_public_url_a_webhook_signed_over_the_host_url_is_refused() {
    let dir = crate::helpers::TestDb::new();
    let config =
        evo_server::app::config::Config::for_store("127.0.0.1:0".parse().unwrap(), dir.location());
    assert!(config.public_url.is_none());
    let app = evo_server::startup::Application::build(config)
        .await
        .unwrap();
    let address = app.local_addr();
    let state = app.state();
    tokio::spawn(app.run_until_stopped());
    let sid = "ACdddddddddddddddddddddddddddddddd";
    let account = state
        .directory
        .add_account("No URL Co", Some(sid), Some(TOKEN))
        .await
        .unwrap();
    state
        .directory
        .add_number(NewNumber {
            account_id: &account.id,
            number: "+15558882222",
            ring_user_ids: &[],
            queue_name: None,
            display_name: None,
            customer_id: None,
        })
        .await
        .unwrap();
    let call = "CA99999999999999999999999999999999";
    let params = FormParams::from_pairs([
        ("AccountSid", sid),
        ("CallSid", call),
        ("From", "+15551230000"),
        ("To", "+15558882222"),
        ("CallStatus", "ringing"),
    ]);
    // Signed over exactly the URL the request is sent to (its Host).
    let url = format!("http://{address}/twilio/voice");
    let response = reqwest::Client::new()
        .post(&url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header(
            "X-Twilio-Signature",
            compute_signature(TOKEN, &url, &params),
        )
        .body(params.encode())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert!(state
        .sessions
        .stored(&call_session_id(&account.id, &CallSid::new(call)))
        .await
        .unwrap()
        .is_none());
}
