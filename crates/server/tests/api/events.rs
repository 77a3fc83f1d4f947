//! Server Events as ServiceStack serves them (ServiceStack
//! `ServerEventsFeature.cs`, `MemoryServerEvents.cs`), with Evo Voice's push
//! vocabulary, resume by `Last-Event-ID`, and the stream defences of issue 16.

use std::time::Duration;

use evo_core::event::{EventKind, EventSource, SessionEvent};
use evo_core::ids::{AccountId, SessionId};

use crate::helpers::{bearer, build_with, seed, shared, TestApp};

/// One parsed frame: `id: n\ndata: selector json\n\n`.
#[derive(Debug, Clone)]
struct Frame {
    id: u64,
    selector: String,
    json: serde_json::Value,
    /// The `data:` line as sent.
    raw: String,
}

struct Reader {
    response: reqwest::Response,
    buffer: String,
}

impl Reader {
    async fn open(app: &TestApp, token: &str, query: &str, last_event_id: Option<u64>) -> Self {
        let mut request = reqwest::Client::new()
            .get(app.url(&format!("/event-stream{query}")))
            .bearer_auth(token);
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Reader {
            response,
            buffer: String::new(),
        }
    }

    /// The next frame (comments skipped).
    async fn next(&mut self) -> Frame {
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                while let Some(end) = self.buffer.find("\n\n") {
                    let text: String = self.buffer.drain(..end + 2).collect();
                    if text.starts_with(':') {
                        continue;
                    }
                    let (id_line, data) = text.trim_end().split_once('\n').expect("id and data");
                    let id = id_line
                        .strip_prefix("id: ")
                        .expect("id line")
                        .parse()
                        .unwrap();
                    let data = data.strip_prefix("data: ").expect("data line");
                    let (selector, json) = data.split_once(' ').unwrap_or((data, "null"));
                    return Frame {
                        id,
                        selector: selector.to_string(),
                        json: serde_json::from_str(json).expect("JSON body"),
                        raw: data.to_string(),
                    };
                }
                let chunk = self
                    .response
                    .chunk()
                    .await
                    .unwrap()
                    .expect("the stream stays open");
                self.buffer.push_str(&String::from_utf8_lossy(&chunk));
            }
        })
        .await
        .expect("a frame arrives in time")
    }

    /// The next frame whose selector is `selector`.
    async fn next_named(&mut self, selector: &str) -> Frame {
        loop {
            let frame = self.next().await;
            if frame.selector == selector {
                return frame;
            }
        }
    }

    /// Whether the stream ends within `wait`.
    async fn ends_within(mut self, wait: Duration) -> bool {
        tokio::time::timeout(wait, async {
            loop {
                match self.response.chunk().await {
                    Ok(Some(_)) => continue,
                    _ => return,
                }
            }
        })
        .await
        .is_ok()
    }
}

fn console_data(data: &str) -> SessionEvent {
    SessionEvent {
        at: chrono::Utc::now(),
        clock: evo_core::event::Clock::Server,
        source: EventSource::Internal {
            id: format!("console-{data}-{}", uuid_like()),
        },
        kind: EventKind::ConsoleData {
            data: data.to_string(),
        },
    }
}

fn uuid_like() -> String {
    evo_server::auth::generate_session_id()
}

async fn change(app: &TestApp, session: &str, data: &str) {
    app.state
        .sessions
        .apply(&SessionId::new(session), console_data(data), vec![])
        .await
        .unwrap();
}

/// A server of its own on `dir` (tests that count subscriptions, restart,
/// or need to know every change made).
async fn private_app(
    dir: &crate::helpers::TestDb,
    seeded: Option<crate::helpers::Fixture>,
) -> (TestApp, tokio::task::JoinHandle<anyhow::Result<()>>) {
    private_app_with(dir, seeded, |_| {}).await
}

/// [`private_app`] with a change to the configuration.
async fn private_app_with(
    dir: &crate::helpers::TestDb,
    seeded: Option<crate::helpers::Fixture>,
    tweak: impl FnOnce(&mut evo_server::app::config::Config),
) -> (TestApp, tokio::task::JoinHandle<anyhow::Result<()>>) {
    let built = build_with(dir, tweak).await;
    let fixture = match seeded {
        Some(fixture) => fixture,
        None => seed(&built.state()).await,
    };
    let app = TestApp {
        address: built.local_addr(),
        state: built.state(),
        fixture,
    };
    (app, tokio::spawn(built.run_until_stopped()))
}

#[tokio::test]
async fn a_subscriber_gets_on_connect_then_changes_of_its_own_sessions_only() {
    let app = shared();
    let token = bearer(app, &app.fixture.alice.email).await;
    let mut stream = Reader::open(app, &token, "?channels=home", None).await;
    let connect = stream.next().await;
    assert_eq!(connect.selector, "cmd.onConnect");
    // ServiceStack's onConnect: a flat map of strings
    // (ServerEventsFeature.cs, ServerEventsHandler: the connect args).
    let map = connect.json.as_object().unwrap();
    assert!(map.values().all(serde_json::Value::is_string), "{map:?}");
    assert_eq!(map["userId"], app.fixture.alice.id.as_str());
    assert_eq!(map["isAuthenticated"], "true");
    assert_eq!(map["heartbeatIntervalMs"], "10000");
    assert_eq!(map["idleTimeoutMs"], "30000");
    let id = map["id"].as_str().unwrap().to_string();
    let join = stream.next().await;
    assert_eq!(join.selector, "home@cmd.onJoin");
    assert_eq!(join.json["userId"], app.fixture.alice.id.as_str());

    // A change to bob's own session is not sent to alice; one to hers is,
    // named with Evo Voice's PushNotificationTypes.
    change(app, &app.fixture.bob_session, "not for alice").await;
    change(app, &app.fixture.main_session, "for alice").await;
    let changed = stream.next_named("cmd.SessionInfoChanged").await;
    assert_eq!(changed.json["id"], app.fixture.main_session.as_str());
    assert_eq!(changed.json["consoleData"], "for alice");
    assert!(changed.id > connect.id, "ids increase");

    let http = reqwest::Client::new();
    let heartbeat = http
        .post(app.url(&format!("/event-heartbeat?id={id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(heartbeat.status(), 200);
    // ServiceStack writes cmd.onHeartbeat to the stream after each
    // heartbeat (ServerEventsFeature.cs, ServerEventsHeartbeatHandler).
    let beat = stream.next_named("cmd.onHeartbeat").await;
    assert_eq!(beat.json["id"], id.as_str());
    let unregister = http
        .post(app.url(&format!("/event-unregister?id={id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(unregister.status(), 200);
    let meta: serde_json::Value = unregister.json().await.unwrap();
    assert_eq!(meta["userId"], app.fixture.alice.id.as_str());
    assert!(
        stream.ends_within(Duration::from_secs(5)).await,
        "the stream ends after unregistering"
    );
}

/// The hub looks up who a change concerns by endpoint; a number assigned
/// after a stream opened must reach that stream too (the lookup follows
/// the directory), and another user's session still must not.
#[tokio::test]
async fn a_number_assigned_after_the_stream_opened_brings_its_sessions() {
    use evo_core::scenario;
    use evo_server::app::directory::NewNumber;
    let dir = crate::helpers::TestDb::new();
    let (app, server) = private_app(&dir, None).await;
    let token = bearer(&app, &app.fixture.bob.email).await;
    let mut stream = Reader::open(&app, &token, "", None).await;
    assert_eq!(stream.next().await.selector, "cmd.onConnect");
    let number = app
        .state
        .directory
        .add_number(NewNumber {
            account_id: &app.fixture.account_id.as_str().into(),
            number: "+15550177",
            ring_user_ids: &[app.fixture.bob.id.as_str().into()],
            queue_name: None,
            display_name: Some("Late line"),
            customer_id: None,
        })
        .await
        .unwrap();
    // Alice's session changes first: not bob's, so his next message must be
    // the new line's session.
    change(&app, &app.fixture.main_session, "not for bob").await;
    let cast = crate::helpers::bob_on(&app, &number, "+15557770001");
    let plan = scenario::build(
        scenario::Kind::InboundMissed,
        &cast,
        "LATE",
        chrono::Utc::now(),
    );
    crate::helpers::play(&app.state, &plan, 0).await;
    let changed = stream.next_named("cmd.SessionInfoChanged").await;
    assert_eq!(changed.json["id"], plan.session_id.as_str());
    let active = stream.next_named("cmd.ActiveSessionsChanged").await;
    let ids: Vec<&str> = active.json["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&plan.session_id.as_str()), "{ids:?}");
    assert!(!ids.contains(&app.fixture.main_session.as_str()), "{ids:?}");
    server.abort();
}

/// The log stores a session's JSON once for every message carrying it
/// (migration 0018: `SessionInfoChanged`, the call-state message beside it,
/// each user's and channel's copy, each `ActiveSessionsChanged` list); a
/// resume must replay exactly the frames the live streams carried, byte
/// for byte, for a user and for a manager on the account channel.
#[tokio::test]
async fn replayed_frames_are_the_live_frames_byte_for_byte() {
    use evo_core::scenario;
    use evo_server::app::directory::NewNumber;
    let dir = crate::helpers::TestDb::new();
    let (app, server) = private_app(&dir, None).await;
    let manager = add_manager(&app).await;
    let bob = bearer(&app, &app.fixture.bob.email).await;
    let boss = bearer(&app, &manager.email).await;
    let channel = format!("account:{}", app.fixture.account_id);
    let query = format!("?channels={channel}");
    let mut bob_live = Reader::open(&app, &bob, "", None).await;
    let bob_connect = bob_live.next().await;
    let mut boss_live = Reader::open(&app, &boss, &query, None).await;
    let boss_connect = boss_live.next().await;
    let number = app
        .state
        .directory
        .add_number(NewNumber {
            account_id: &app.fixture.account_id.as_str().into(),
            number: "+15550178",
            ring_user_ids: &[app.fixture.bob.id.as_str().into()],
            queue_name: None,
            display_name: Some("Shared line"),
            customer_id: None,
        })
        .await
        .unwrap();
    let cast = crate::helpers::bob_on(&app, &number, "+15557770002");
    let plan = scenario::build(
        scenario::Kind::InboundMissed,
        &cast,
        "PARTS",
        chrono::Utc::now(),
    );
    // A session joins bob's list (its JSON in three of bob's messages and
    // the manager's), changes, and bob's other session changes.
    crate::helpers::play(&app.state, &plan, 0).await;
    change(&app, plan.session_id.as_str(), "twice told").await;
    change(&app, &app.fixture.bob_session, "last").await;
    let is_data = |frame: &Frame| !frame.selector.contains("cmd.on");
    let mut bob_frames = Vec::new();
    loop {
        let frame = bob_live.next().await;
        if !is_data(&frame) {
            continue;
        }
        let last = frame.json["consoleData"] == "last";
        bob_frames.push((frame.id, frame.raw));
        if last {
            break;
        }
    }
    let selectors: Vec<&str> = bob_frames
        .iter()
        .map(|(_, raw)| raw.split_once(' ').unwrap().0)
        .collect();
    assert!(
        selectors.contains(&"cmd.ActiveSessionsChanged"),
        "{bob_frames:?}"
    );
    let mut boss_frames = Vec::new();
    loop {
        let frame = boss_live.next().await;
        if !is_data(&frame) {
            continue;
        }
        let last = frame.json["consoleData"] == "last";
        boss_frames.push((frame.id, frame.raw));
        if last {
            break;
        }
    }
    assert!(boss_frames.len() >= 3, "{boss_frames:?}");
    drop((bob_live, boss_live));

    // Resumed from before all of them, and on a node started again on the
    // same store (nothing in memory): the same frames, byte for byte.
    app.state.shutdown.trigger();
    server.await.unwrap().unwrap();
    let (app, server) = private_app(&dir, Some(app.fixture.clone())).await;
    for (email, query, connect, live) in [
        (&app.fixture.bob.email, "", &bob_connect, &bob_frames),
        (&manager.email, query.as_str(), &boss_connect, &boss_frames),
    ] {
        let token = bearer(&app, email).await;
        let mut resumed = Reader::open(&app, &token, query, Some(connect.id)).await;
        let mut replayed = Vec::new();
        while replayed.len() < live.len() {
            let frame = resumed.next().await;
            if is_data(&frame) {
                replayed.push((frame.id, frame.raw));
            }
        }
        assert_eq!(&replayed, live);
    }
    server.abort();
}

#[tokio::test]
async fn unregistering_after_closing_the_stream_succeeds_for_its_owner_only() {
    // ServerEventsClient.stop() closes the EventSource, then posts
    // unRegisterUrl (servicestack-client src/index.ts, stop()): by then the
    // connection has ended and the hub has reaped the subscription.
    let app = shared();
    let alice = bearer(app, &app.fixture.alice.email).await;
    let bob = bearer(app, &app.fixture.bob.email).await;
    let mut stream = Reader::open(app, &alice, "", None).await;
    let id = stream.next().await.json["id"].as_str().unwrap().to_string();
    drop(stream);
    tokio::time::timeout(Duration::from_secs(5), async {
        while app.state.events.queued(&id).is_some() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("reaped");
    let http = reqwest::Client::new();
    let url = app.url(&format!("/event-unregister?id={id}"));
    let other = http.post(&url).bearer_auth(&bob).send().await.unwrap();
    assert_eq!(other.status(), 403);
    let own = http.post(&url).bearer_auth(&alice).send().await.unwrap();
    assert_eq!(own.status(), 200);
    let meta: serde_json::Value = own.json().await.unwrap();
    assert_eq!(meta["id"], id.as_str());
    // A heartbeat for it is 404: the client reconnects.
    let beat = http
        .post(app.url(&format!("/event-heartbeat?id={id}")))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(beat.status(), 404);
}

#[tokio::test]
async fn the_event_stream_needs_credentials_and_the_user_role() {
    let app = shared();
    let response = reqwest::get(app.url("/event-stream")).await.unwrap();
    assert_eq!(response.status(), 401);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["responseStatus"]["errorCode"], "Unauthorized");
    // nora has no roles: GetActiveSessions needs User, and so does the stream.
    let nora = bearer(app, &app.fixture.nora.email).await;
    let response = reqwest::Client::new()
        .get(app.url("/event-stream"))
        .bearer_auth(&nora)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn heartbeat_and_unregister_need_the_subscriptions_own_principal() {
    let app = shared();
    let alice = bearer(app, &app.fixture.alice.email).await;
    let bob = bearer(app, &app.fixture.bob.email).await;
    let mut stream = Reader::open(app, &alice, "", None).await;
    let id = stream.next().await.json["id"].as_str().unwrap().to_string();
    let http = reqwest::Client::new();
    for path in ["/event-heartbeat", "/event-unregister"] {
        let url = app.url(&format!("{path}?id={id}"));
        let anonymous = http.post(&url).send().await.unwrap();
        assert_eq!(anonymous.status(), 401, "{path}");
        let other = http.post(&url).bearer_auth(&bob).send().await.unwrap();
        assert_eq!(other.status(), 403, "{path}");
        let text = other.text().await.unwrap();
        assert!(!text.contains(&app.fixture.alice.id), "{text}");
        assert!(!text.contains("alice"), "{text}");
        let unknown = http
            .post(app.url(&format!("{path}?id=nope")))
            .bearer_auth(&alice)
            .send()
            .await
            .unwrap();
        assert_eq!(unknown.status(), 404, "{path}");
    }
    // Still open for alice.
    let beat = http
        .post(app.url(&format!("/event-heartbeat?id={id}")))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(beat.status(), 200);
}

#[tokio::test]
async fn channels_can_be_joined_and_listed_within_the_account_only() {
    let app = shared();
    let alice = bearer(app, &app.fixture.alice.email).await;
    let bob = bearer(app, &app.fixture.bob.email).await;
    let zed = bearer(app, &app.fixture.zed.email).await;
    let channel = format!("room-{}", uuid_like());
    let mut alice_stream = Reader::open(app, &alice, &format!("?channel={channel}"), None).await;
    let alice_id = alice_stream.next().await.json["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut bob_stream = Reader::open(app, &bob, "?channels=lobby", None).await;
    let bob_id = bob_stream.next().await.json["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut zed_stream = Reader::open(app, &zed, &format!("?channels={channel}"), None).await;
    zed_stream.next().await;

    // bob joins alice's channel the way the JS client's subscribeToChannels
    // does (servicestack-client src/index.ts: POST UpdateEventSubscriber).
    let http = reqwest::Client::new();
    let updated = http
        .post(app.url("/api/UpdateEventSubscriber"))
        .bearer_auth(&bob)
        .json(&serde_json::json!({"id": bob_id, "subscribeChannels": [channel]}))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status(), 200);
    // alice's own onJoin came first, right after her onConnect.
    let own = alice_stream
        .next_named(&format!("{channel}@cmd.onJoin"))
        .await;
    assert_eq!(own.json["userId"], app.fixture.alice.id.as_str());
    let joined = alice_stream
        .next_named(&format!("{channel}@cmd.onJoin"))
        .await;
    assert_eq!(joined.json["userId"], app.fixture.bob.id.as_str());

    // Listed by channel: alice and bob, never zed of the other account.
    let listed: Vec<serde_json::Value> = http
        .get(app.url(&format!("/api/GetEventSubscribers?channels={channel}")))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut users: Vec<&str> = listed
        .iter()
        .map(|s| s["userId"].as_str().unwrap())
        .collect();
    users.sort();
    let mut expected = vec![app.fixture.alice.id.as_str(), app.fixture.bob.id.as_str()];
    expected.sort();
    assert_eq!(users, expected);
    let same: Vec<serde_json::Value> = http
        .get(app.url(&format!("/event-subscribers?channels={channel}")))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(same.len(), 2);

    // bob leaves by the subscriber route; alice sees onLeave.
    let left = http
        .post(app.url(&format!("/event-subscribers/{bob_id}")))
        .bearer_auth(&bob)
        .form(&[("unsubscribeChannels", channel.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(left.status(), 200);
    let leave = alice_stream
        .next_named(&format!("{channel}@cmd.onLeave"))
        .await;
    assert_eq!(leave.json["userId"], app.fixture.bob.id.as_str());
    // Nobody changes another user's subscription.
    let refused = http
        .post(app.url("/api/UpdateEventSubscriber"))
        .bearer_auth(&bob)
        .json(&serde_json::json!({"id": alice_id, "unsubscribeChannels": [channel]}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
}

#[tokio::test]
async fn a_manager_on_the_account_channel_gets_the_accounts_sessions() {
    let dir = crate::helpers::TestDb::new();
    let (app, server) = private_app(&dir, None).await;
    let manager = add_manager(&app).await;
    let token = bearer(&app, &manager.email).await;
    let channel = format!("account:{}", app.fixture.account_id);
    let mut stream = Reader::open(&app, &token, &format!("?channels={channel}"), None).await;
    stream.next().await;
    change(&app, &app.fixture.bob_session, "seen by the manager").await;
    change(&app, &app.fixture.other_tenant_session, "never seen").await;
    let frame = stream
        .next_named(&format!("{channel}@cmd.SessionInfoChanged"))
        .await;
    assert_eq!(frame.json["id"], app.fixture.bob_session.as_str());
    // The user alone (no account channel) does not get bob's session, and
    // no one gets the other tenant's.
    let alice = bearer(&app, &app.fixture.alice.email).await;
    let mut alice_stream = Reader::open(&app, &alice, "", None).await;
    alice_stream.next().await;
    change(&app, &app.fixture.bob_session, "not alice's").await;
    change(&app, &app.fixture.main_session, "alice's").await;
    let next = alice_stream.next_named("cmd.SessionInfoChanged").await;
    assert_eq!(next.json["id"], app.fixture.main_session.as_str());
    let next = stream
        .next_named(&format!("{channel}@cmd.SessionInfoChanged"))
        .await;
    assert_eq!(next.json["id"], app.fixture.bob_session.as_str());
    server.abort();
}

#[tokio::test]
async fn resume_replays_exactly_the_missed_messages_across_a_restart_and_a_snapshot_after_a_crash()
{
    let dir = crate::helpers::TestDb::new();
    let (app, server) = private_app(&dir, None).await;
    let token = bearer(&app, &app.fixture.alice.email).await;
    let mut stream = Reader::open(&app, &token, "", None).await;
    let connect = stream.next().await;
    change(&app, &app.fixture.main_session, "seen").await;
    let seen = stream.next_named("cmd.SessionInfoChanged").await;
    drop(stream);

    // Missed while disconnected: three changes of alice's, one of bob's.
    for data in ["m1", "m2", "m3"] {
        change(&app, &app.fixture.main_session, data).await;
        change(&app, &app.fixture.bob_session, data).await;
    }
    let mut resumed = Reader::open(&app, &token, "", Some(seen.id)).await;
    let again = resumed.next().await;
    assert_eq!(again.selector, "cmd.onConnect");
    assert_eq!(again.id, seen.id, "onConnect carries the resume point");
    let mut ids = vec![seen.id];
    for data in ["m1", "m2", "m3"] {
        let frame = resumed.next().await;
        assert_eq!(frame.selector, "cmd.SessionInfoChanged");
        assert_eq!(frame.json["consoleData"], data);
        assert!(frame.id > *ids.last().unwrap(), "in order, no duplicate");
        ids.push(frame.id);
    }
    // Nothing else was missed: the next frame is the next change.
    change(&app, &app.fixture.main_session, "live").await;
    let live = resumed.next().await;
    assert_eq!(live.json["consoleData"], "live");
    assert!(live.id > *ids.last().unwrap());
    // Also by ?lastEventId= (the JS client's resolveStreamUrl).
    let mut by_query = Reader::open(&app, &token, &format!("?lastEventId={}", ids[1]), None).await;
    assert_eq!(by_query.next().await.selector, "cmd.onConnect");
    assert_eq!(by_query.next().await.json["consoleData"], "m2");
    assert_eq!(by_query.next().await.json["consoleData"], "m3");
    assert_eq!(by_query.next().await.json["consoleData"], "live");
    drop((resumed, by_query));
    let last_before_restart = live.id;
    assert!(connect.id < last_before_restart);

    // Missed across a restart: changes before it, the node stopped and
    // started again on the same store, changes after it.
    change(&app, &app.fixture.main_session, "before restart").await;
    change(&app, &app.fixture.bob_session, "before restart").await;
    app.state.shutdown.trigger();
    server.await.unwrap().unwrap();
    let (app, server) = private_app(&dir, Some(app.fixture.clone())).await;
    change(&app, &app.fixture.main_session, "after restart").await;
    let token = bearer(&app, &app.fixture.alice.email).await;
    let mut after = Reader::open(&app, &token, "", Some(last_before_restart)).await;
    let connect = after.next().await;
    assert_eq!(connect.selector, "cmd.onConnect");
    assert_eq!(connect.id, last_before_restart);
    // Exactly the missed messages, in order, with ids still increasing.
    let mut previous = last_before_restart;
    for data in ["before restart", "after restart"] {
        let frame = after.next().await;
        assert_eq!(frame.selector, "cmd.SessionInfoChanged");
        assert_eq!(frame.json["consoleData"], data);
        assert!(frame.id > previous, "{} > {previous}", frame.id);
        previous = frame.id;
    }
    change(&app, &app.fixture.main_session, "live after restart").await;
    let next = after.next().await;
    assert_eq!(next.json["consoleData"], "live after restart");
    assert!(next.id > previous);
    drop(after);

    // A node that stops without writing its last messages (a crash: no
    // clean stop recorded): resumes from before get one snapshot.
    change(&app, &app.fixture.main_session, "before crash").await;
    server.abort();
    let _ = server.await;
    let (app, server) = private_app(&dir, Some(app.fixture.clone())).await;
    let token = bearer(&app, &app.fixture.alice.email).await;
    let mut crashed = Reader::open(&app, &token, "", Some(next.id)).await;
    assert_eq!(crashed.next().await.selector, "cmd.onConnect");
    let snapshot = crashed.next().await;
    assert_eq!(snapshot.selector, "cmd.ActiveSessionsChanged");
    let mut listed: Vec<&str> = snapshot.json["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    listed.sort();
    let mut expected = vec![
        app.fixture.main_session.as_str(),
        app.fixture.shared_session.as_str(),
    ];
    expected.sort();
    assert_eq!(listed, expected);
    change(&app, &app.fixture.main_session, "after the crash").await;
    let next = crashed.next_named("cmd.SessionInfoChanged").await;
    assert_eq!(next.json["consoleData"], "after the crash");
    assert!(next.id > snapshot.id);
    drop(crashed);

    // A gap older than the buffer (256 messages): one snapshot, no replay.
    let from = next.id;
    for i in 0..300 {
        change(&app, &app.fixture.main_session, &format!("flood {i}")).await;
    }
    // The flood is in the log before the client comes back (the hub writes
    // asynchronously; on a loaded machine it may still be writing).
    assert!(app.state.events.flush(Duration::from_secs(60)).await);
    let mut late = Reader::open(&app, &token, "", Some(from)).await;
    assert_eq!(late.next().await.selector, "cmd.onConnect");
    let snapshot = late.next().await;
    assert_eq!(snapshot.selector, "cmd.ActiveSessionsChanged");
    change(&app, &app.fixture.main_session, "after the snapshot").await;
    let following = late.next().await;
    assert_eq!(following.json["consoleData"], "after the snapshot");
    server.abort();
}

#[tokio::test]
async fn streams_are_capped_per_user_and_reaped_when_their_connection_ends() {
    let dir = crate::helpers::TestDb::new();
    let (app, server) = private_app(&dir, None).await;
    let token = bearer(&app, &app.fixture.alice.email).await;
    for _cycle in 0..3 {
        let mut open = Vec::new();
        for _ in 0..10 {
            let mut stream = Reader::open(&app, &token, "", None).await;
            stream.next().await;
            open.push(stream);
        }
        assert_eq!(app.state.events.len(), 10);
        let refused = reqwest::Client::new()
            .get(app.url("/event-stream"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 429);
        drop(open);
        // Disconnected: removed from the hub.
        tokio::time::timeout(Duration::from_secs(5), async {
            while !app.state.events.is_empty() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("every disconnected stream is removed");
    }
    server.abort();
}

#[tokio::test]
async fn a_subscriber_that_never_reads_is_dropped_without_delaying_others() {
    let dir = crate::helpers::TestDb::new();
    let (app, server) = private_app(&dir, None).await;
    let principal = evo_server::auth::Principal {
        user_id: app.fixture.alice.id.clone().into(),
        account_id: app.fixture.account_id.clone().into(),
        display_name: "alice".to_string(),
        email: app.fixture.alice.email.clone(),
        roles: vec![evo_core::domain::Role::User],
        auth_session_id: None,
    };
    // Straight on the hub: one subscriber never reads its queue, the other
    // reads everything.
    let stuck = app
        .state
        .events
        .open(principal.clone(), vec![], None)
        .await
        .unwrap();
    let stuck_id = stuck.subscription.id().to_string();
    let mut reader = app
        .state
        .events
        .open(principal, vec![], None)
        .await
        .unwrap();
    let queue = app.state.events.settings().queue;
    let total = queue + 20;
    let started = std::time::Instant::now();
    let mut worst = Duration::ZERO;
    for i in 0..total {
        let sent = std::time::Instant::now();
        change(&app, &app.fixture.main_session, &format!("n{i}")).await;
        let message = tokio::time::timeout(Duration::from_secs(5), reader.receiver.recv())
            .await
            .expect("the reader is not delayed")
            .expect("the reader stays subscribed");
        assert_eq!(&*message.selector, "cmd.SessionInfoChanged");
        worst = worst.max(sent.elapsed());
        if let Some(queued) = app.state.events.queued(&stuck_id) {
            assert!(queued <= queue, "bounded: {queued}");
        }
    }
    // The stuck one was closed once its queue filled; the reader was not.
    assert_eq!(app.state.events.queued(&stuck_id), None);
    assert!(app.state.events.queued(reader.subscription.id()).is_some());
    println!(
        "{total} changes in {:?}; slowest {worst:?}",
        started.elapsed()
    );
    drop(stuck);
    server.abort();
}

/// The fan-out figure of docs/benchmarks.md: 2,000 subscribers connected over
/// HTTP, signed `/twilio/voice` webhooks; time from sending the webhook to
/// each subscriber reading its `cmd.SessionInfoChanged`. Run alone:
/// `cargo test -p evo-server --test api -- --ignored fan_out --nocapture`.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark: run on request"]
async fn fan_out_to_2000_subscribers() {
    use evo_server::app::directory::{NewNumber, NewUser};
    use evo_twilio::params::FormParams;
    const SUBSCRIBERS: usize = 2000;
    const WEBHOOKS: usize = 20;
    const SID: &str = "AC00000000000000000000000000fa0001";
    const TOKEN: &str = "fan-out-token";
    // One user holds every stream (the cap is raised for this run only).
    let dir = crate::helpers::TestDb::new();
    let (app, server) = private_app_with(&dir, None, |config| {
        config.events.max_streams_per_user = SUBSCRIBERS + 1;
        // These clients send no heartbeats: keep them past the idle timeout.
        config.events.heartbeat = Duration::from_secs(300);
    })
    .await;
    let account = app
        .state
        .directory
        .add_account("Fan Out", Some(SID), Some(TOKEN))
        .await
        .unwrap();
    let user = app
        .state
        .directory
        .add_user(NewUser {
            account_id: &account.id,
            email: "fan@fan-out.test",
            password: crate::helpers::PASSWORD,
            display_name: None,
            roles: &["User".to_string()],
            customer_id: None,
        })
        .await
        .unwrap();
    app.state
        .directory
        .add_number(NewNumber {
            account_id: &account.id,
            number: "+15557770000",
            ring_user_ids: std::slice::from_ref(&user.id),
            queue_name: None,
            display_name: Some("Fan line"),
            customer_id: None,
        })
        .await
        .unwrap();
    let token = bearer(&app, "fan@fan-out.test").await;
    let (arrivals, mut collected) = tokio::sync::mpsc::unbounded_channel();
    let (ready, mut readied) = tokio::sync::mpsc::unbounded_channel();
    for _ in 0..SUBSCRIBERS {
        let url = app.url("/event-stream");
        let token = token.clone();
        let arrivals = arrivals.clone();
        let ready = ready.clone();
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut response = client.get(url).bearer_auth(token).send().await.unwrap();
            assert_eq!(response.status(), 200);
            let mut buffer = String::new();
            let mut seen = std::collections::HashSet::new();
            let mut connected = false;
            while let Ok(Some(chunk)) = response.chunk().await {
                let now = std::time::Instant::now();
                buffer.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buffer.find("\n\n") {
                    let frame: String = buffer.drain(..end + 2).collect();
                    if !connected && frame.contains("cmd.onConnect") {
                        connected = true;
                        let _ = ready.send(());
                    }
                    if frame.contains("data: cmd.SessionInfoChanged ") {
                        if let Some(start) = frame.find("\"callSid\":\"") {
                            let sid = frame[start + 11..start + 11 + 34].to_string();
                            if seen.insert(sid.clone()) {
                                let _ = arrivals.send((sid, now));
                            }
                        }
                    }
                }
            }
        });
    }
    let connecting = std::time::Instant::now();
    for _ in 0..SUBSCRIBERS {
        readied.recv().await.unwrap();
    }
    println!(
        "{SUBSCRIBERS} subscribers connected in {:?}",
        connecting.elapsed()
    );
    assert_eq!(app.state.events.len(), SUBSCRIBERS);
    // One more subscriber straight on the hub: when the message is queued
    // for every stream (webhook, commit, hub, log write), before any socket.
    let principal = evo_server::auth::Principal {
        user_id: user.id.clone(),
        account_id: account.id.clone(),
        display_name: "fan".to_string(),
        email: "fan@fan-out.test".to_string(),
        roles: vec![evo_core::domain::Role::User],
        auth_session_id: None,
    };
    let mut queued = app
        .state
        .events
        .open(principal, vec![], None)
        .await
        .unwrap();
    let mut hub_times = Vec::new();
    let mut samples = Vec::new();
    // Per webhook, the first subscriber's arrival: the server's part (commit,
    // hub, one stream written) with the least of the clients' queueing.
    let mut firsts = Vec::new();
    for i in 0..WEBHOOKS {
        let call_sid = format!("CA{i:032x}");
        // The parameters of an incoming call to a Voice URL:
        // https://www.twilio.com/docs/usage/webhooks/voice-webhooks
        let pairs = [
            ("AccountSid", SID),
            ("ApiVersion", "2010-04-01"),
            ("CallSid", call_sid.as_str()),
            ("CallStatus", "ringing"),
            ("Direction", "inbound"),
            ("From", "+15551230000"),
            ("To", "+15557770000"),
        ];
        let params =
            FormParams::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let sent = std::time::Instant::now();
        let response = crate::helpers::post_signed(&app.url("/twilio/voice"), TOKEN, &params).await;
        assert_eq!(response.status(), 200);
        loop {
            let message = queued.receiver.recv().await.unwrap();
            if &*message.selector == "cmd.SessionInfoChanged" {
                hub_times.push(sent.elapsed());
                break;
            }
        }
        for n in 0..SUBSCRIBERS {
            let (sid, at) = tokio::time::timeout(Duration::from_secs(30), collected.recv())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "webhook {i}: {n} of {SUBSCRIBERS} subscribers got the change; {} open",
                        app.state.events.len()
                    )
                })
                .unwrap();
            assert_eq!(sid, call_sid);
            if n == 0 {
                firsts.push(at - sent);
            }
            samples.push(at - sent);
        }
    }
    firsts.sort();
    hub_times.sort();
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    println!(
        "fan-out: {SUBSCRIBERS} subscribers x {WEBHOOKS} webhooks: p50 {:?}, p99 {:?}, max {:?}; first arrival: median {:?}, max {:?}; queued on every stream: median {:?}, max {:?}",
        at(0.5),
        at(0.99),
        samples.last().unwrap(),
        firsts[firsts.len() / 2],
        firsts.last().unwrap(),
        hub_times[hub_times.len() / 2],
        hub_times.last().unwrap()
    );
    server.abort();
}

#[tokio::test]
async fn a_stream_closes_once_its_bearer_token_expires() {
    use evo_server::app::config::Config;
    let dir = crate::helpers::TestDb::new();
    let mut config = Config::for_store("127.0.0.1:0".parse().unwrap(), dir.location());
    config.access_token_ttl = Duration::from_secs(2);
    let built = evo_server::startup::Application::build(config)
        .await
        .unwrap();
    let fixture = seed(&built.state()).await;
    let app = TestApp {
        address: built.local_addr(),
        state: built.state(),
        fixture,
    };
    let server = tokio::spawn(built.run_until_stopped());
    let token = bearer(&app, &app.fixture.alice.email).await;
    let mut stream = Reader::open(&app, &token, "", None).await;
    let connect = stream.next().await;
    let interval: u64 = connect.json["heartbeatIntervalMs"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let id = connect.json["id"].as_str().unwrap().to_string();
    // Kept alive by heartbeats while the token is valid, then re-checked at
    // the next heartbeat tick: the stream ends within one interval of expiry.
    let beat = reqwest::Client::new()
        .post(app.url(&format!("/event-heartbeat?id={id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(beat.status(), 200);
    assert!(
        stream
            .ends_within(Duration::from_millis(2000 + interval + 2000))
            .await,
        "the stream ends after its token expired"
    );
    assert!(app.state.events.is_empty());
    server.abort();
}

/// A manager of the fixture's account (roles Manager and User), who may
/// subscribe to the account's channel.
async fn add_manager(app: &crate::helpers::TestApp) -> evo_core::domain::User {
    app.state
        .directory
        .add_user(evo_server::app::directory::NewUser {
            account_id: &AccountId::new(app.fixture.account_id.as_str()),
            email: "manager@acme.example",
            password: crate::helpers::PASSWORD,
            display_name: None,
            roles: &["Manager".to_string(), "User".to_string()],
            customer_id: None,
        })
        .await
        .unwrap()
}
