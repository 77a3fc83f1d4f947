//! Agent actions against a fake Twilio (`evo_twilio::fake::FakeTwilio`):
//! the exact REST request each action sends, the signed callbacks Twilio
//! would send for it replayed as webhooks, and the session that results.
//! Callback parameter sets follow Twilio's docs (conference status
//! callbacks: https://www.twilio.com/docs/voice/api/conference-resource#conference-status-callback ;
//! call status callbacks: https://www.twilio.com/docs/voice/api/call-resource#statuscallback).

use evo_core::ids::{AccountId, CallSid};
use evo_server::app::config::Config;
use evo_server::app::directory::{NewNumber, NewUser};
use evo_server::startup::Application;
use evo_twilio::fake::{FakeCall, FakeConference, FakeParticipant, FakeTwilio, Fault};
use evo_twilio::params::FormParams;
use serde_json::Value;

use crate::helpers::PASSWORD;

const SID: &str = "AC5ea872f6da5a21de157d80997a64bd33";
const TOKEN: &str = "actions-test-token";

struct World {
    base: String,
    /// The account that owns the calls (session ids are scoped by it).
    account: String,
    fake: FakeTwilio,
    tina: String,
    tina_email: &'static str,
}

impl World {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// A server of its own whose REST client talks to a fresh fake Twilio; an
/// account with a number ringing tina; nina (same account, not rung), a
/// manager, and zed in another account.
async fn world() -> World {
    let fake = FakeTwilio::start().await.unwrap();
    fake.add_account(SID, TOKEN);
    let dir = Box::leak(Box::new(crate::helpers::TestDb::new()));
    // A free port chosen up front, so that `EVO_PUBLIC_URL` (which webhook
    // signatures cover) is this server's own address.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let mut config =
        Config::for_store(format!("127.0.0.1:{port}").parse().unwrap(), dir.location());
    config.public_url = Some(format!("http://127.0.0.1:{port}"));
    config.reconcile.twilio_api_base = fake.base_url().to_string();
    let app = Application::build(config).await.unwrap();
    let state = app.state();
    let base = format!("http://{}", app.local_addr());
    let account = state
        .directory
        .add_account("Hold Co", Some(SID), Some(TOKEN))
        .await
        .unwrap();
    let other = state
        .directory
        .add_account("Other Co", None, None)
        .await
        .unwrap();
    let user = |account: String, email: &'static str, roles: &'static [&'static str]| {
        let state = state.clone();
        async move {
            state
                .directory
                .add_user(NewUser {
                    account_id: &AccountId::new(account.as_str()),
                    email,
                    password: PASSWORD,
                    display_name: None,
                    roles: &roles.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
                    customer_id: None,
                })
                .await
                .unwrap()
                .id
        }
    };
    let tina = user(account.id.to_string(), "tina@hold.test", &["User"]).await;
    user(account.id.to_string(), "nina@hold.test", &["User"]).await;
    user(
        account.id.to_string(),
        "boss@hold.test",
        &["User", "Manager"],
    )
    .await;
    user(other.id.to_string(), "zed@other.test", &["User"]).await;
    state
        .directory
        .add_number(NewNumber {
            account_id: &account.id,
            number: "+15557770000",
            ring_user_ids: std::slice::from_ref(&tina),
            queue_name: None,
            display_name: Some("Hold line"),
            customer_id: None,
        })
        .await
        .unwrap();
    tokio::spawn(async move { app.run_until_stopped().await });
    World {
        base,
        account: account.id.to_string(),
        fake,
        tina: tina.to_string(),
        tina_email: "tina@hold.test",
    }
}

async fn webhook(w: &World, path: &str, pairs: &[(&str, &str)]) -> u16 {
    let params = FormParams::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let url = w.url(path);
    crate::helpers::post_signed(&url, TOKEN, &params)
        .await
        .status()
        .as_u16()
}

async fn token(w: &World, email: &str) -> String {
    let body: Value = reqwest::Client::new()
        .post(w.url("/auth/credentials"))
        .json(&serde_json::json!({"userName": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["bearerToken"].as_str().unwrap().to_string()
}

async fn send(
    w: &World,
    email: &str,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method, w.url(path))
        .bearer_auth(token(w, email).await)
        .header("Accept", "application/json");
    if !body.is_null() {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn session(w: &World, id: &str) -> Value {
    send(
        w,
        w.tina_email,
        reqwest::Method::GET,
        &format!("/sessions/{id}"),
        Value::Null,
    )
    .await
    .1
}

/// An inbound call rung to tina, answered on her leg: the signed webhooks
/// Twilio sends (voice request, then the child leg's progress).
async fn answered_call(w: &World, call: &str, leg: &str) -> String {
    let status = webhook(
        w,
        "/twilio/voice",
        &[
            ("AccountSid", SID),
            ("CallSid", call),
            ("From", "+15551230000"),
            ("To", "+15557770000"),
            ("CallStatus", "ringing"),
            ("Direction", "inbound"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let session = evo_server::app::sessions::call_session_id(
        &AccountId::new(w.account.as_str()),
        &CallSid::new(call),
    );
    let path = format!("/twilio/status?session={session}&user={}", w.tina);
    for (status, seq) in [("ringing", "1"), ("in-progress", "2")] {
        let code = webhook(
            w,
            &path,
            &[
                ("AccountSid", SID),
                ("CallSid", leg),
                ("ParentCallSid", call),
                ("CallStatus", status),
                ("SequenceNumber", seq),
                ("CallbackSource", "call-progress-events"),
            ],
        )
        .await;
        assert_eq!(code, 204);
    }
    let mut root = FakeCall::new(call, "in-progress");
    root.status_callback = Some(w.url(&format!("/twilio/status?session={session}")));
    w.fake.insert_call(SID, root);
    session.to_string()
}

/// Reads Server Events frames until `predicate` matches one.
async fn next_frame(
    response: &mut reqwest::Response,
    buffer: &mut String,
    predicate: impl Fn(&str) -> bool,
) -> String {
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            while let Some(end) = buffer.find("\n\n") {
                let frame: String = buffer.drain(..end + 2).collect();
                if predicate(&frame) {
                    return frame;
                }
            }
            let chunk = response
                .chunk()
                .await
                .unwrap()
                .expect("the stream stays open");
            buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .expect("the message arrives in time")
}

fn log(session: &Value) -> Vec<String> {
    session["log"]
        .as_array()
        .unwrap_or_else(|| panic!("no log in {session}"))
        .iter()
        .map(|l| l["message"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_call_in_a_conference_is_held_unheld_and_ended_through_twilio() {
    let w = world().await;
    let call = "CA00000000000000000000000000000a01";
    let leg = "CA00000000000000000000000000000a02";
    let conference = "CF00000000000000000000000000000a03";
    let id = answered_call(&w, call, leg).await;
    // The call is in a conference: Twilio reports the caller joining.
    let conference_path = format!("/twilio/conference?session={id}");
    w.fake.insert_conference(
        SID,
        FakeConference {
            sid: conference.into(),
            friendly_name: format!("evo-{id}"),
            status: "in-progress".into(),
            status_callback: Some(w.url(&conference_path)),
            status_callback_events: vec!["join".into(), "leave".into(), "hold".into()],
            callbacks_sent: 5,
        },
    );
    w.fake
        .insert_participant(SID, FakeParticipant::new(conference, call));
    for (event, seq) in [("conference-start", "1"), ("participant-join", "2")] {
        let code = webhook(
            &w,
            &conference_path,
            &[
                ("AccountSid", SID),
                ("ConferenceSid", conference),
                ("FriendlyName", &format!("evo-{id}")),
                ("StatusCallbackEvent", event),
                ("CallSid", call),
                ("Hold", "false"),
                ("Muted", "false"),
                ("SequenceNumber", seq),
            ],
        )
        .await;
        assert_eq!(code, 204);
    }

    // tina listens to Server Events.
    let mut events = reqwest::Client::new()
        .get(w.url("/event-stream"))
        .bearer_auth(token(&w, w.tina_email).await)
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    let mut buffer = String::new();

    // Hold: one Participants update, Basic auth as the account.
    let before = w.fake.requests().len();
    let (status, body) = send(
        &w,
        w.tina_email,
        reqwest::Method::POST,
        &format!("/sessions/{id}/hold"),
        serde_json::json!({"callSid": call, "reason": "Transferring"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], id.as_str());
    let requests = w.fake.requests();
    assert_eq!(requests.len(), before + 1);
    let hold = &requests[before];
    assert_eq!(hold.method, "POST");
    assert_eq!(
        hold.path,
        format!("/2010-04-01/Accounts/{SID}/Conferences/{conference}/Participants/{call}.json")
    );
    assert_eq!(hold.field("Hold"), Some("true"));
    assert_eq!(
        hold.field("HoldUrl"),
        Some(evo_twilio::twiml::HOLD_MUSIC_URL)
    );
    assert_eq!(hold.basic_user.as_deref(), Some(SID));
    assert!(
        log(&body).iter().any(|l| l.contains("put on hold by")),
        "the request is logged: {body}"
    );

    // Twilio confirms with participant-hold; the session is held.
    let delivered = w.fake.deliver_callbacks(&reqwest::Client::new()).await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(
        delivered[0].0.params.get("StatusCallbackEvent"),
        Some("participant-hold")
    );
    assert_eq!(delivered[0].1, Ok(204));
    let held = session(&w, &id).await;
    assert_eq!(held["callState"], "Hold", "{held}");
    assert_eq!(held["holdReason"], "Transferring");
    assert_eq!(held["heldByUserId"], w.tina.as_str());
    // The agent is told: a session-changed message (its selector is
    // `cmd.sessionChanged` or `cmd.SessionInfoChanged`) carrying the held session.
    let needle = format!("\"heldByUserId\":\"{}\"", w.tina);
    let frame = next_frame(&mut events, &mut buffer, |f| {
        f.contains(&needle) && f.contains("\"callState\":\"Hold\"")
    })
    .await;
    let data = frame
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .unwrap();
    let (selector, json) = data.split_once(' ').unwrap();
    assert!(
        selector.ends_with("cmd.sessionChanged") || selector.ends_with("cmd.SessionInfoChanged"),
        "{selector}"
    );
    let pushed: Value = serde_json::from_str(json).unwrap();
    assert_eq!(pushed["id"], id.as_str());
    assert_eq!(pushed["holdReason"], "Transferring");

    // A retry changes nothing and sends nothing.
    let (status, again) = send(
        &w,
        w.tina_email,
        reqwest::Method::POST,
        &format!("/sessions/{id}/hold"),
        serde_json::json!({"callSid": call, "reason": "Transferring"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(again["log"], held["log"]);
    assert_eq!(w.fake.requests().len(), before + 1);

    // Unhold through PatchSession.
    let (status, body) = send(
        &w,
        w.tina_email,
        reqwest::Method::PATCH,
        &format!("/sessions/{id}"),
        serde_json::json!({"holdReason": "None"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let unhold = w.fake.requests().last().unwrap().clone();
    assert_eq!(unhold.path, hold.path);
    assert_eq!(unhold.form, vec![("Hold".to_string(), "false".to_string())]);
    w.fake.deliver_callbacks(&reqwest::Client::new()).await;
    let unheld = session(&w, &id).await;
    assert_eq!(unheld["callState"], "Connected", "{unheld}");
    assert!(
        unheld.get("holdReason").is_none_or(|r| r == "None"),
        "{unheld}"
    );

    // End: the root call completed; its status callback ends the session.
    let (status, _) = send(
        &w,
        w.tina_email,
        reqwest::Method::DELETE,
        &format!("/sessions/{id}?callSid={call}"),
        Value::Null,
    )
    .await;
    assert_eq!(status, 204);
    let end = w.fake.requests().last().unwrap().clone();
    assert_eq!(
        end.path,
        format!("/2010-04-01/Accounts/{SID}/Calls/{call}.json")
    );
    assert_eq!(
        end.form,
        vec![("Status".to_string(), "completed".to_string())]
    );
    let delivered = w.fake.deliver_callbacks(&reqwest::Client::new()).await;
    assert!(delivered
        .iter()
        .any(|(c, r)| c.params.get("CallStatus") == Some("completed") && *r == Ok(204)));
    let ended = session(&w, &id).await;
    assert_eq!(ended["callState"], "Disconnected", "{ended}");
    assert!(log(&ended)
        .iter()
        .any(|l| l.starts_with("Hang-up requested by")));

    // An ended session: 409, and nothing sent.
    let count = w.fake.requests().len();
    let (status, body) = send(
        &w,
        w.tina_email,
        reqwest::Method::POST,
        &format!("/sessions/{id}/hold"),
        serde_json::json!({"reason": "Transferring"}),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(w.fake.requests().len(), count);
}

#[tokio::test]
async fn a_call_outside_a_conference_waits_in_a_hold_queue_and_rings_the_agent_back() {
    let w = world().await;
    let call = "CA00000000000000000000000000000b01";
    let id = answered_call(&w, call, "CA00000000000000000000000000000b02").await;
    let (status, body) = send(
        &w,
        w.tina_email,
        reqwest::Method::POST,
        &format!("/sessions/{id}/hold"),
        serde_json::json!({"reason": "Transferring"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let redirect = w.fake.requests().last().unwrap().clone();
    assert_eq!(
        redirect.path,
        format!("/2010-04-01/Accounts/{SID}/Calls/{call}.json")
    );
    let twiml = redirect.field("Twiml").unwrap();
    assert!(twiml.contains(&format!(">hold-{id}</Enqueue>")), "{twiml}");
    assert_eq!(body["callState"], "Hold", "{body}");
    assert_eq!(body["holdQueueName"], format!("hold-{id}"));
    assert_eq!(body["heldByUserId"], w.tina.as_str());

    let (status, body) = send(
        &w,
        w.tina_email,
        reqwest::Method::PATCH,
        &format!("/sessions/{id}"),
        serde_json::json!({"holdReason": "None"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let back = w.fake.requests().last().unwrap().clone();
    let twiml = back.field("Twiml").unwrap();
    assert!(twiml.contains(&format!(">{}</Client>", w.tina)), "{twiml}");
    assert_ne!(body["callState"], "Hold", "{body}");

    // The caller hangs up: Twilio's status callback of the root call ends it.
    let code = webhook(
        &w,
        "/twilio/status",
        &[
            ("AccountSid", SID),
            ("CallSid", call),
            ("CallStatus", "completed"),
            ("CallDuration", "42"),
            ("SequenceNumber", "3"),
            ("CallbackSource", "call-progress-events"),
        ],
    )
    .await;
    assert_eq!(code, 204);
    let ended = session(&w, &id).await;
    assert_eq!(ended["callState"], "Disconnected", "{ended}");
}

#[tokio::test]
async fn only_members_and_managers_may_act_and_other_tenants_see_nothing() {
    let w = world().await;
    let call = "CA00000000000000000000000000000c01";
    let id = answered_call(&w, call, "CA00000000000000000000000000000c02").await;
    let hold = serde_json::json!({"reason": "Transferring"});
    for email in ["nina@hold.test", "zed@other.test"] {
        let (status, body) = send(
            &w,
            email,
            reqwest::Method::POST,
            &format!("/sessions/{id}/hold"),
            hold.clone(),
        )
        .await;
        assert_eq!(status, 404, "{email}: {body}");
        assert_eq!(body["responseStatus"]["errorCode"], "NotFound");
    }
    let (status, _) = send(
        &w,
        "zed@other.test",
        reqwest::Method::POST,
        "/sessions/ses-nothing/hold",
        hold.clone(),
    )
    .await;
    assert_eq!(status, 404);
    assert!(w.fake.requests().is_empty(), "nothing reached Twilio");
    // The account's manager may.
    let (status, body) = send(
        &w,
        "boss@hold.test",
        reqwest::Method::POST,
        &format!("/sessions/{id}/hold"),
        hold,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(w.fake.requests().len(), 1);
}

#[tokio::test]
async fn a_twilio_failure_is_a_502_with_twilios_code_and_the_session_unchanged() {
    let w = world().await;
    let call = "CA00000000000000000000000000000d01";
    let id = answered_call(&w, call, "CA00000000000000000000000000000d02").await;
    let before = session(&w, &id).await;
    w.fake.fail(
        reqwest::Method::POST,
        &format!("/Calls/{call}.json"),
        Fault::Status {
            status: 400,
            code: 21220,
        },
        None,
    );
    let (status, body) = send(
        &w,
        w.tina_email,
        reqwest::Method::POST,
        &format!("/sessions/{id}/hold"),
        serde_json::json!({"reason": "Transferring"}),
    )
    .await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["responseStatus"]["errorCode"], "21220");
    assert_eq!(body["responseStatus"]["message"], "Programmed failure");
    let after = session(&w, &id).await;
    assert_eq!(after, before, "the session is unchanged");
}

#[tokio::test]
async fn a_blind_transfer_redirects_the_caller_and_a_member_is_dialled_into_a_conference() {
    let w = world().await;
    let call = "CA00000000000000000000000000000e01";
    let leg = "CA00000000000000000000000000000e02";
    let id = answered_call(&w, call, leg).await;
    let mut agent = FakeCall::new(leg, "in-progress");
    agent.parent_call_sid = Some(call.into());
    w.fake.insert_call(SID, agent);

    let (status, body) = send(
        &w,
        w.tina_email,
        reqwest::Method::POST,
        &format!("/sessions/{id}/conference/members"),
        serde_json::json!({"callSid": leg, "destination": "+15550001111", "fromNumber": "+15557770000"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let requests = w.fake.requests();
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    let name = format!("evo-{id}");
    // The caller's call moves into the conference; that ends its <Dial>,
    // so Twilio drops tina's leg and she is dialled back in, then the member.
    assert_eq!(
        paths,
        vec![
            format!("/2010-04-01/Accounts/{SID}/Calls/{call}.json").as_str(),
            format!("/2010-04-01/Accounts/{SID}/Conferences/{name}/Participants.json").as_str(),
            format!("/2010-04-01/Accounts/{SID}/Conferences/{name}/Participants.json").as_str(),
        ]
    );
    assert!(requests[0]
        .field("Twiml")
        .unwrap()
        .contains(&format!(">{name}</Conference>")));
    let agent = &requests[1];
    assert_eq!(
        agent.field("To"),
        Some(format!("client:{}", w.tina).as_str())
    );
    assert_eq!(
        agent.field("Label"),
        Some(format!("agent:{}", w.tina).as_str())
    );
    assert_eq!(
        agent.field("StatusCallback"),
        Some(
            w.url(&format!("/twilio/status?session={id}&user={}", w.tina))
                .as_str()
        )
    );
    let create = &requests[2];
    assert_eq!(create.field("To"), Some("+15550001111"));
    assert_eq!(create.field("From"), Some("+15557770000"));
    assert_eq!(create.field("Label"), Some("transfer:+15550001111"));
    assert!(
        log(&body).iter().any(|l| l.starts_with("Warm transfer to")),
        "{body}"
    );

    let (status, body) = send(
        &w,
        w.tina_email,
        reqwest::Method::POST,
        &format!("/sessions/{id}/redirect"),
        serde_json::json!({"destination": "+15550002222", "callerId": "+15557770000"}),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let redirect = w.fake.requests().last().unwrap().clone();
    assert_eq!(
        redirect.path,
        format!("/2010-04-01/Accounts/{SID}/Calls/{call}.json")
    );
    let twiml = redirect.field("Twiml").unwrap();
    assert!(twiml.contains("callerId=\"+15557770000\""), "{twiml}");
    assert!(twiml.contains(">+15550002222</Number>"), "{twiml}");
    let after = session(&w, &id).await;
    assert!(
        log(&after)
            .iter()
            .any(|l| l.starts_with("Blind transfer to")),
        "{after}"
    );

    let (status, body) = send(
        &w,
        w.tina_email,
        reqwest::Method::POST,
        &format!("/sessions/{id}/redirect"),
        serde_json::json!({"destination": "nobody"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["responseStatus"]["errors"][0]["fieldName"],
        "Destination"
    );
}

#[tokio::test]
async fn a_member_dial_refused_after_the_move_is_logged_and_a_502_with_twilios_code() {
    let w = world().await;
    let call = "CA00000000000000000000000000000f01";
    let id = answered_call(&w, call, "CA00000000000000000000000000000f02").await;
    // Twilio refuses the new member's dial (21215: the account may not call
    // that number; https://www.twilio.com/docs/errors/21215) after the
    // caller's call moved into the conference.
    w.fake.fail(
        reqwest::Method::POST,
        "/Participants.json",
        Fault::Status {
            status: 400,
            code: 21215,
        },
        None,
    );
    let (status, body) = send(
        &w,
        w.tina_email,
        reqwest::Method::POST,
        &format!("/sessions/{id}/conference/members"),
        serde_json::json!({"destination": "+15550001111", "fromNumber": "+15557770000"}),
    )
    .await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["responseStatus"]["errorCode"], "21215");
    let message = body["responseStatus"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("The call moved into the conference, but Twilio refused the rest"),
        "{message}"
    );
    assert!(message.ends_with("Programmed failure"), "{message}");
    // The move happened (Twilio has the conference TwiML); the session says
    // what failed, stays live, and names no transfer that is not happening.
    let moved = w.fake.call(SID, call).unwrap();
    assert!(moved
        .twiml
        .unwrap()
        .contains(&format!(">evo-{id}</Conference>")));
    let after = session(&w, &id).await;
    assert!(
        log(&after)
            .iter()
            .any(|l| l.contains("failed: Twilio 21215: Programmed failure")),
        "{after}"
    );
    assert!(
        !log(&after)
            .iter()
            .any(|l| l.starts_with("Warm transfer to") && !l.contains(" failed: ")),
        "{after}"
    );
    assert_ne!(after["callState"], "Disconnected", "{after}");
    assert!(after["members"]
        .as_array()
        .is_none_or(|m| m.iter().all(|m| m["role"] != "Transfer")));
}

#[tokio::test]
async fn active_calls_take_twilios_fields_and_the_calls_no_session_holds() {
    let w = world().await;
    let call = "CA00000000000000000000000000000a71";
    let leg = "CA00000000000000000000000000000a72";
    answered_call(&w, call, leg).await;
    // Twilio's view: the root (inserted by `answered_call`), tina's leg,
    // and a call of the account no session holds (another application).
    let mut agent = FakeCall::new(leg, "in-progress");
    agent.parent_call_sid = Some(call.into());
    agent.direction = "outbound-dial".into();
    agent.phone_number_sid = Some("PN00000000000000000000000000000a73".into());
    w.fake.insert_call(SID, agent);
    let mut other = FakeCall::new("CA00000000000000000000000000000a74", "in-progress");
    other.from = "+15550009999".into();
    other.to = "+15557770001".into();
    w.fake.insert_call(SID, other);
    let mut done = FakeCall::new("CA00000000000000000000000000000a75", "completed");
    done.end_time = Some(chrono::Utc::now());
    w.fake.insert_call(SID, done);

    let (status, body) = send(
        &w,
        "boss@hold.test",
        reqwest::Method::GET,
        "/calls/active",
        Value::Null,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let calls = body["calls"].as_array().unwrap();
    let sids: Vec<&str> = calls.iter().map(|c| c["sid"].as_str().unwrap()).collect();
    assert_eq!(
        sids,
        vec![call, leg, "CA00000000000000000000000000000a74"],
        "{body}"
    );
    // The session's own addresses stay; Twilio's fields are added, its
    // RFC 2822 times read into ISO 8601.
    assert_eq!(calls[0]["from"], "+15551230000");
    assert_eq!(calls[0]["priceUnit"], "USD");
    assert_eq!(calls[0]["fromFormatted"], "+14158675308");
    assert!(
        calls[0]["startTime"].as_str().unwrap().ends_with('Z'),
        "{body}"
    );
    assert_eq!(
        calls[1]["phoneNumberSid"],
        "PN00000000000000000000000000000a73"
    );
    assert_eq!(calls[1]["parentCallSid"], call);
    assert_eq!(calls[2]["from"], "+15550009999");
    assert_eq!(calls[2]["to"], "+15557770001");
    assert_eq!(calls[2]["status"], "in-progress");
    assert_eq!(calls[2]["accountSid"], SID);
    // One list request, in-progress calls, Basic auth as the account.
    let list: Vec<_> = w
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.path == format!("/2010-04-01/Accounts/{SID}/Calls.json"))
        .collect();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].method, "GET");
    assert_eq!(list[0].basic_user.as_deref(), Some(SID));
    assert!(list[0]
        .query
        .contains(&("Status".to_string(), "in-progress".to_string())));

    // Twilio failing leaves the answer to the live sessions.
    w.fake.fail(
        reqwest::Method::GET,
        "/Calls.json",
        Fault::Status {
            status: 500,
            code: 20500,
        },
        None,
    );
    let (status, body) = send(
        &w,
        "boss@hold.test",
        reqwest::Method::GET,
        "/calls/active",
        Value::Null,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let sids: Vec<&str> = body["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["sid"].as_str().unwrap())
        .collect();
    assert_eq!(sids, vec![call, leg], "{body}");
}

/// The fake in simulator mode executes what the server asked (TwiML) and
/// sends Twilio's signed callbacks at once: a blind transfer rings the
/// target, who is told over Server Events and answers; a warm transfer
/// moves the caller into the conference and the new member joins it.
#[tokio::test]
async fn transfers_are_confirmed_by_the_callbacks_twilio_sends_for_them() {
    let w = world().await;
    w.fake.simulate(reqwest::Client::new());
    let call = "CA00000000000000000000000000000b71";
    let id = answered_call(&w, call, "CA00000000000000000000000000000b72").await;
    let mut events = reqwest::Client::new()
        .get(w.url("/event-stream"))
        .bearer_auth(token(&w, "nina@hold.test").await)
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    let mut buffer = String::new();

    let (status, body) = send(
        &w,
        w.tina_email,
        reqwest::Method::POST,
        &format!("/sessions/{id}/redirect"),
        serde_json::json!({"destination": "nina@hold.test"}),
    )
    .await;
    assert!(status == 200 || status == 204, "{status} {body}");
    w.fake.flush().await;
    // Twilio rang nina's client from the caller's call, reporting to the session.
    let legs = w.fake.children(SID, call);
    let ringing = legs
        .iter()
        .find(|l| l.status == "ringing")
        .expect("a leg rings the target");
    let nina = ringing.to.strip_prefix("client:").unwrap().to_string();
    assert!(ringing
        .status_callback
        .as_deref()
        .unwrap()
        .ends_with(&format!("/twilio/status?session={id}&user={nina}")));
    let frame = next_frame(&mut events, &mut buffer, |f| f.contains(&id)).await;
    assert!(frame.contains(&nina), "{frame}");
    w.fake.answer_call(SID, &ringing.sid);
    w.fake.flush().await;
    let after = session(&w, &id).await;
    let member = after["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["endpointId"] == nina.as_str())
        .unwrap_or_else(|| panic!("nina is a member: {after}"));
    assert_eq!(member["callState"], "Connected", "{after}");
    assert!(log(&after)
        .iter()
        .any(|l| l.starts_with("Blind transfer to")));

    // A warm transfer on another call: the caller joins the conference.
    let call = "CA00000000000000000000000000000b73";
    let leg = "CA00000000000000000000000000000b74";
    let id = answered_call(&w, call, leg).await;
    let (status, body) = send(
        &w,
        w.tina_email,
        reqwest::Method::POST,
        &format!("/sessions/{id}/conference/members"),
        serde_json::json!({"callSid": leg, "destination": "+15550001111", "fromNumber": "+15557770000"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    w.fake.flush().await;
    let conference = w
        .fake
        .conference_named(SID, &format!("evo-{id}"))
        .expect("the conference exists");
    let participants = w.fake.participants(SID, &conference.sid);
    assert_eq!(participants.len(), 3, "{participants:?}");
    let member = participants
        .iter()
        .find(|p| p.label.as_deref() == Some("transfer:+15550001111"))
        .expect("the member is dialled");
    assert!(w
        .fake
        .join_participant(SID, &conference.sid, &member.call_sid));
    w.fake.flush().await;
    let after = session(&w, &id).await;
    let joined = after["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["callSid"] == member.call_sid.as_str())
        .unwrap_or_else(|| panic!("the member joined: {after}"));
    assert_eq!(joined["role"], "Transfer", "{after}");
    assert_eq!(joined["callState"], "Connected", "{after}");
    assert!(log(&after)
        .iter()
        .any(|l| l.starts_with("Warm transfer to")));
}
