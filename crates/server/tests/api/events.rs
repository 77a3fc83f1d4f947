//! Server Events: a subscriber gets `cmd.onConnect`, then every committed
//! change of its own sessions, and nothing of others'.

use std::time::Duration;

use evo_core::event::{EventKind, EventSource, SessionEvent};

use crate::helpers::{bearer, shared};

/// Reads frames (`id: n\ndata: …\n\n`) until `predicate` matches one.
async fn next_frame(
    response: &mut reqwest::Response,
    buffer: &mut String,
    predicate: impl Fn(&str) -> bool,
) -> String {
    tokio::time::timeout(Duration::from_secs(10), async {
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
    .expect("the frame arrives in time")
}

#[tokio::test]
async fn a_subscriber_gets_on_connect_then_changes_of_its_own_sessions_only() {
    let app = shared();
    let token = bearer(app, &app.fixture.alice.email).await;
    let mut response = reqwest::Client::new()
        .get(app.url("/event-stream?channels=home"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut buffer = String::new();
    let connect = next_frame(&mut response, &mut buffer, |f| f.contains("cmd.onConnect")).await;
    assert!(
        connect.starts_with("id: 1\ndata: cmd.onConnect {"),
        "{connect}"
    );
    let json: serde_json::Value =
        serde_json::from_str(connect.trim().split_once("cmd.onConnect ").unwrap().1).unwrap();
    assert_eq!(json["userId"], app.fixture.alice.id.as_str());
    assert_eq!(json["isAuthenticated"], "true");
    assert_eq!(json["heartbeatIntervalMs"], "10000");
    let id = json["id"].as_str().unwrap().to_string();
    let join = next_frame(&mut response, &mut buffer, |f| f.contains("@cmd.onJoin")).await;
    assert!(join.contains("data: home@cmd.onJoin {"));

    // A change to bob's own session is not sent to alice; one to hers is.
    for (session, data) in [
        (&app.fixture.bob_session, "not for alice"),
        (&app.fixture.main_session, "for alice"),
    ] {
        let event = SessionEvent {
            at: chrono::Utc::now(),
            clock: evo_core::event::Clock::Server,
            source: EventSource::Internal {
                id: format!("console-{data}"),
            },
            kind: EventKind::ConsoleData {
                data: data.to_string(),
            },
        };
        app.state
            .sessions
            .apply(session, event, vec![])
            .await
            .unwrap();
    }
    let change = next_frame(&mut response, &mut buffer, |f| {
        f.contains("cmd.sessionChanged")
    })
    .await;
    assert!(
        change.contains(&format!("\"id\":\"{}\"", app.fixture.main_session)),
        "{change}"
    );
    assert!(change.contains("\"consoleData\":\"for alice\""));

    let http = reqwest::Client::new();
    let heartbeat = http
        .post(app.url(&format!("/event-heartbeat?id={id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(heartbeat.status(), 200);
    let unknown = http
        .post(app.url("/event-heartbeat?id=nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let unregister = http
        .post(app.url(&format!("/event-unregister?id={id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(unregister.status(), 200);
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match response.chunk().await {
                Ok(Some(_)) => continue,
                _ => return,
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the stream ends after unregistering");
}

#[tokio::test]
async fn the_event_stream_needs_credentials() {
    let app = shared();
    let response = reqwest::get(app.url("/event-stream")).await.unwrap();
    assert_eq!(response.status(), 401);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["responseStatus"]["errorCode"], "Unauthorized");
}
