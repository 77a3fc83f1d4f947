//! Signed Twilio webhooks drive sessions; unsigned or tampered ones change
//! nothing.

use evo_server::app::directory::{NewNumber, NewUser};
use evo_server::app::sessions::call_session_id;
use evo_twilio::params::FormParams;
use evo_twilio::signature::compute_signature;

use crate::helpers::{active_sessions, bearer, shared, TestApp, PUBLIC_URL};

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
async fn tenant(app: &TestApp) -> Tenant {
    static CREATED: tokio::sync::OnceCell<Tenant> = tokio::sync::OnceCell::const_new();
    CREATED
        .get_or_init(|| async {
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
                users.push((user.id, email.to_string()));
            }
            app.state
                .directory
                .add_number(NewNumber {
                    account_id: &account.id,
                    number: "+15558880000",
                    ring_user_ids: &[users[0].0.clone(), users[1].0.clone()],
                    queue_name: None,
                    display_name: Some("Twilio line"),
                    customer_id: None,
                })
                .await
                .unwrap();
            Tenant {
                account_id: account.id.clone(),
                sid,
                tina: users[0].clone(),
                tom: users[1].clone(),
            }
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
    let signature = compute_signature(token, &format!("{PUBLIC_URL}{path_and_query}"), &params);
    reqwest::Client::new()
        .post(app.url(path_and_query))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("X-Twilio-Signature", signature)
        .body(params.encode())
        .send()
        .await
        .unwrap()
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
        call_session_id(&t.account_id, call),
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
        .stored(&call_session_id(&t.account_id, call))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.state.outcome.as_deref(), Some("completed"));
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
    let url = format!("{PUBLIC_URL}/twilio/voice");
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
            .stored(&call_session_id(&t.account_id, call))
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
