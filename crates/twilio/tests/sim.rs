//! The fake in simulator mode against a stand-in application: the voice
//! webhook's TwiML rings legs, answering one cancels the others, the
//! answered leg's end asks the `<Dial action>`, whose `<Hangup/>` ends the
//! call; every callback arrives signed with the account's token.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use evo_twilio::fake::{FakeCall, FakeTwilio};
use evo_twilio::params::FormParams;
use evo_twilio::signature::validate;
use evo_twilio::twiml::{Client, TwiML};

const SID: &str = "AC00000000000000000000000000000001";
const TOKEN: &str = "sim-token";

type Seen = Arc<Mutex<Vec<(String, FormParams)>>>;

/// Records each callback after checking its signature; answers the voice
/// webhook with a `<Dial>` of two clients and the `<Dial action>` with
/// `<Hangup/>`, as evo-voice does.
async fn app(
    State((seen, base)): State<(Seen, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> String {
    let params = FormParams::parse(&body);
    let url = format!("{base}{uri}");
    let signature = headers
        .get("X-Twilio-Signature")
        .and_then(|v| v.to_str().ok());
    validate(&[TOKEN], &url, &params, &body, signature).expect("signed by the account");
    seen.lock().unwrap().push((uri.to_string(), params));
    match uri.path() {
        "/voice" => {
            let client = |identity: &str| Client {
                identity: identity.into(),
                status_callback: format!("{base}/status?user={identity}"),
            };
            TwiML::new()
                .dial_clients(&format!("{base}/dial"), 25, &[client("u1"), client("u2")])
                .to_xml()
        }
        "/dial" => TwiML::new().hangup().to_xml(),
        _ => String::new(),
    }
}

#[tokio::test]
async fn a_call_rings_is_answered_and_its_dial_action_hangs_up() {
    let seen: Seen = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = axum::Router::new()
        .fallback(app)
        .with_state((seen.clone(), base.clone()));
    tokio::spawn(async move { axum::serve(listener, router).await });

    let twilio = FakeTwilio::start().await.unwrap();
    twilio.add_account(SID, TOKEN);
    twilio.simulate(reqwest::Client::new());
    let mut call = FakeCall::new("CA00000000000000000000000000000001", "ringing");
    call.status_callback = Some(format!("{base}/status"));
    twilio.incoming_call(SID, call, &format!("{base}/voice"));
    twilio.flush().await;

    let legs = twilio.children(SID, "CA00000000000000000000000000000001");
    assert_eq!(legs.len(), 2);
    assert!(legs.iter().all(|l| l.status == "ringing"));
    assert_eq!(legs[0].to, "client:u1");
    twilio.answer_call(SID, &legs[0].sid);
    twilio.flush().await;
    assert_eq!(twilio.call(SID, &legs[1].sid).unwrap().status, "canceled");
    twilio.hang_up(SID, &legs[0].sid);
    twilio.flush().await;
    assert_eq!(
        twilio
            .call(SID, "CA00000000000000000000000000000001")
            .unwrap()
            .status,
        "completed",
        "the <Dial action> answered <Hangup/>"
    );

    let seen = seen.lock().unwrap();
    let got: Vec<String> = seen
        .iter()
        .map(|(path, p)| {
            let what = p
                .get("DialCallStatus")
                .or(p.get("CallStatus"))
                .unwrap_or("");
            format!("{path} {what}")
        })
        .collect();
    assert_eq!(
        got,
        vec![
            "/voice ringing",
            "/status?user=u1 initiated",
            "/status?user=u1 ringing",
            "/status?user=u2 initiated",
            "/status?user=u2 ringing",
            "/status?user=u1 in-progress",
            "/status?user=u2 canceled",
            "/status?user=u1 completed",
            "/dial completed",
            "/status completed",
        ]
    );
    let dial = &seen[8].1;
    assert_eq!(dial.get("DialCallSid"), Some(legs[0].sid.as_str()));
    assert_eq!(dial.get("DialBridged"), Some("true"));
    assert_eq!(
        seen[1].1.get("ParentCallSid"),
        Some("CA00000000000000000000000000000001")
    );
}
