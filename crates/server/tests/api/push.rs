//! The call-state push messages an agent's `/event-stream` gets
//! (`PushNotificationTypes` of ../shared/reference/evovoice-api.md):
//! `cmd.SessionInvite` when a call rings, `cmd.SessionAnswered` when a signed
//! Twilio callback proves the answer, `cmd.SessionHeld` when the agent holds
//! it through the session API, each after the `cmd.SessionInfoChanged` of the
//! same change, with increasing ids.
//! Webhook parameter sets: Twilio's voice request
//! (https://www.twilio.com/docs/usage/webhooks/voice-webhooks) and call
//! status callback (https://www.twilio.com/docs/voice/api/call-resource#statuscallback).

use evo_core::ids::CallSid;
use std::time::Duration;

use evo_server::app::config::Config;
use evo_server::app::directory::{NewNumber, NewUser};
use evo_server::startup::Application;
use evo_twilio::fake::{FakeCall, FakeTwilio};
use evo_twilio::params::FormParams;
use serde_json::Value;

use crate::helpers::PASSWORD;

const SID: &str = "AC5ea872f6da5a21de157d80997a64bd77";
const TOKEN: &str = "push-test-token";

/// One parsed frame.
struct Frame {
    id: u64,
    selector: String,
    json: Value,
}

struct Stream {
    response: reqwest::Response,
    buffer: String,
}

impl Stream {
    async fn next(&mut self) -> Frame {
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                while let Some(end) = self.buffer.find("\n\n") {
                    let text: String = self.buffer.drain(..end + 2).collect();
                    if text.starts_with(':') {
                        continue;
                    }
                    let (id, data) = text.trim_end().split_once('\n').unwrap();
                    let data = data.strip_prefix("data: ").unwrap();
                    let (selector, json) = data.split_once(' ').unwrap();
                    return Frame {
                        id: id.strip_prefix("id: ").unwrap().parse().unwrap(),
                        selector: selector.to_string(),
                        json: serde_json::from_str(json).unwrap(),
                    };
                }
                let chunk = self.response.chunk().await.unwrap().expect("stream open");
                self.buffer.push_str(&String::from_utf8_lossy(&chunk));
            }
        })
        .await
        .expect("a frame arrives in time")
    }

    /// The session frames of one change: `SessionInfoChanged` then the
    /// transition's message (skipping list snapshots).
    async fn change(&mut self) -> (Frame, Frame) {
        let mut frames = Vec::new();
        while frames.len() < 2 {
            let frame = self.next().await;
            if frame.selector.starts_with("cmd.Session") {
                frames.push(frame);
            }
        }
        let second = frames.pop().unwrap();
        (frames.pop().unwrap(), second)
    }
}

async fn webhook(base: &str, path: &str, pairs: &[(&str, &str)]) -> u16 {
    let params = FormParams::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let url = format!("{base}{path}");
    crate::helpers::post_signed(&url, TOKEN, &params)
        .await
        .status()
        .as_u16()
}

#[tokio::test]
async fn an_agent_is_told_a_call_rings_is_answered_and_is_held() {
    let fake = FakeTwilio::start().await.unwrap();
    fake.add_account(SID, TOKEN);
    let db = crate::helpers::TestDb::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .unwrap()
        .port();
    let mut config = Config::for_store(format!("127.0.0.1:{port}").parse().unwrap(), db.location());
    let base = format!("http://127.0.0.1:{port}");
    config.public_url = Some(base.clone());
    config.reconcile.twilio_api_base = fake.base_url().to_string();
    let app = Application::build(config).await.unwrap();
    let state = app.state();
    let account = state
        .directory
        .add_account("Push Co", Some(SID), Some(TOKEN))
        .await
        .unwrap();
    let agent = state
        .directory
        .add_user(NewUser {
            account_id: &account.id,
            email: "agent@push.test",
            password: PASSWORD,
            display_name: None,
            roles: &["User".to_string()],
            customer_id: None,
        })
        .await
        .unwrap();
    state
        .directory
        .add_number(NewNumber {
            account_id: &account.id,
            number: "+15557770077",
            ring_user_ids: std::slice::from_ref(&agent.id),
            queue_name: None,
            display_name: Some("Push line"),
            customer_id: None,
        })
        .await
        .unwrap();
    let server = tokio::spawn(app.run_until_stopped());
    let signed_in: Value = reqwest::Client::new()
        .post(format!("{base}/auth/credentials"))
        .json(&serde_json::json!({"userName": "agent@push.test", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = signed_in["bearerToken"].as_str().unwrap().to_string();
    let response = reqwest::Client::new()
        .get(format!("{base}/event-stream"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut stream = Stream {
        response,
        buffer: String::new(),
    };
    assert_eq!(stream.next().await.selector, "cmd.onConnect");

    // The call rings the agent.
    let call = "CA00000000000000000000000000000p01";
    let leg = "CA00000000000000000000000000000p02";
    let status = webhook(
        &base,
        "/twilio/voice",
        &[
            ("AccountSid", SID),
            ("ApiVersion", "2010-04-01"),
            ("CallSid", call),
            ("From", "+15551230000"),
            ("To", "+15557770077"),
            ("CallStatus", "ringing"),
            ("Direction", "inbound"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let session = evo_server::app::sessions::call_session_id(&account.id, &CallSid::new(call));
    let (info, invite) = stream.change().await;
    assert_eq!(info.selector, "cmd.SessionInfoChanged");
    assert_eq!(invite.selector, "cmd.SessionInvite");
    assert_eq!(invite.json["id"], session.as_str());
    assert!(invite.id > info.id);

    // Twilio's status callback of the agent's leg proves the answer.
    let path = format!("/twilio/status?session={session}&user={}", agent.id);
    let mut last = invite.id;
    for (status, seq) in [("ringing", "1"), ("in-progress", "2")] {
        let code = webhook(
            &base,
            &path,
            &[
                ("AccountSid", SID),
                ("ApiVersion", "2010-04-01"),
                ("CallSid", leg),
                ("ParentCallSid", call),
                ("CallStatus", status),
                ("Direction", "outbound-dial"),
                ("SequenceNumber", seq),
                ("CallbackSource", "call-progress-events"),
            ],
        )
        .await;
        assert_eq!(code, 204);
    }
    let answered = loop {
        let frame = stream.next().await;
        assert!(frame.id > last, "ids increase: {} > {last}", frame.id);
        last = frame.id;
        if frame.selector == "cmd.SessionAnswered" {
            break frame;
        }
        // The ringing change's list update, and the leg's changes.
        assert!(
            ["cmd.SessionInfoChanged", "cmd.ActiveSessionsChanged"]
                .contains(&frame.selector.as_str()),
            "{}",
            frame.selector
        );
    };
    assert_eq!(answered.json["id"], session.as_str());
    assert_eq!(answered.json["callState"], "Connected");

    // The agent holds it through the session API (outside a conference:
    // Twilio is asked to redirect the caller into a hold queue).
    let mut root = FakeCall::new(call, "in-progress");
    root.status_callback = Some(format!("{base}/twilio/status?session={session}"));
    fake.insert_call(SID, root);
    let held = reqwest::Client::new()
        .post(format!("{base}/sessions/{session}/hold"))
        .bearer_auth(&token)
        .header("Accept", "application/json")
        .json(&serde_json::json!({"reason": "Transferring"}))
        .send()
        .await
        .unwrap();
    assert_eq!(held.status(), 200);
    let (info, hold) = stream.change().await;
    assert_eq!(info.selector, "cmd.SessionInfoChanged");
    assert_eq!(hold.selector, "cmd.SessionHeld");
    assert_eq!(hold.json["id"], session.as_str());
    assert_eq!(hold.json["callState"], "Hold");
    assert_eq!(hold.json["heldByUserId"], agent.id.as_str());
    assert!(info.id > last && hold.id > info.id);
    server.abort();
}
