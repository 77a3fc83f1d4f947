//! GET /sessions/active: who sees what, what a session looks like, restarts.

use crate::helpers::{active_sessions, bearer, build, seed, session_ids, shared};
use evo_server::app::sessions::Applied;

#[tokio::test]
async fn each_user_sees_exactly_the_active_sessions_of_their_endpoints() {
    let app = shared();
    let fixture = &app.fixture;
    let mut alice_expected = vec![fixture.main_session.clone(), fixture.shared_session.clone()];
    alice_expected.sort();
    let mut bob_expected = vec![fixture.shared_session.clone(), fixture.bob_session.clone()];
    bob_expected.sort();
    let alice = session_ids(&active_sessions(app, &bearer(app, &fixture.alice.email).await).await);
    let bob = session_ids(&active_sessions(app, &bearer(app, &fixture.bob.email).await).await);
    let zed = session_ids(&active_sessions(app, &bearer(app, &fixture.zed.email).await).await);
    assert_eq!(alice, alice_expected);
    assert_eq!(bob, bob_expected);
    assert_eq!(zed, vec![fixture.other_tenant_session.clone()]);
    for ids in [&alice, &bob] {
        assert!(
            !ids.contains(&fixture.ended_session),
            "ended sessions never appear"
        );
        assert!(
            !ids.contains(&fixture.other_tenant_session),
            "tenants never see each other"
        );
    }
    assert!(!zed.contains(&fixture.main_session));
}

#[tokio::test]
async fn a_session_carries_every_field_its_state_has() {
    let app = shared();
    let body = active_sessions(app, &bearer(app, &app.fixture.alice.email).await).await;
    let session = body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == app.fixture.main_session.as_str())
        .unwrap()
        .clone();
    // Own members first, then the inherited EntityInfo members.
    let keys: Vec<&String> = session.as_object().unwrap().keys().collect();
    assert_eq!(keys.first().map(|k| k.as_str()), Some("dialState"));
    assert_eq!(keys.last().map(|k| k.as_str()), Some("dateLastModified"));
    assert_eq!(session["callState"], "Hold");
    assert_eq!(session["channel"], "Voice");
    assert_eq!(session["direction"], "Incoming");
    assert_eq!(session["ended"], false);
    assert_eq!(session["accountName"], "Acme");
    assert_eq!(session["customerName"], "Acme West");
    assert_eq!(session["customerBreadcrumb"][0]["name"], "Acme Holdings");
    assert_eq!(session["customerBreadcrumb"][1]["name"], "Acme West");
    assert_eq!(session["holdQueueName"], "hold-MAIN");
    assert_eq!(session["heldByUserId"], app.fixture.alice.id.as_str());
    assert_eq!(session["answeredById"], app.fixture.alice.id.as_str());
    assert_eq!(session["callSid"], "CAMAIN");
    assert_eq!(session["fromAddress"], "+15557770000");
    let members = session["members"].as_array().unwrap();
    assert_eq!(members.len(), 2);
    assert_eq!(members[0]["role"], "Caller");
    assert_eq!(members[0]["callState"], "Hold");
    assert_eq!(members[0]["isOriginalMember"], true);
    assert_eq!(members[1]["role"], "Agent");
    assert_eq!(members[1]["callState"], "Connected");
    assert!(session["log"].as_array().unwrap().len() >= 4);
    let created = session["dateCreated"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(created).is_ok(),
        "ISO 8601: {created}"
    );
    assert!(created.ends_with('Z'));
}

#[tokio::test]
async fn a_restart_keeps_every_session_and_rebuilds_the_index() {
    let dir = crate::helpers::TestDb::new();
    let first = build(&dir).await;
    let fixture = seed(&first.state()).await;
    let before = first.state().sessions.index().len();
    assert_eq!(before, 4, "four active sessions were seeded");
    // A bearer token issued before the restart: the signing key was
    // generated once and kept in the store.
    let first_app = crate::helpers::TestApp {
        address: first.local_addr(),
        state: first.state(),
        fixture: fixture.clone(),
    };
    let first_server = tokio::spawn(first.run_until_stopped());
    let issued_before = bearer(&first_app, &fixture.alice.email).await;
    first_server.abort();
    let _ = first_server.await;
    drop(first_app);

    let second = build(&dir).await;
    let address = second.local_addr();
    let state = second.state();
    assert_eq!(state.sessions.index().len(), before);
    let server = tokio::spawn(second.run_until_stopped());
    let app = crate::helpers::TestApp {
        address,
        state,
        fixture: fixture.clone(),
    };
    let alice = session_ids(&active_sessions(&app, &issued_before).await);
    let mut expected = vec![fixture.main_session.clone(), fixture.shared_session.clone()];
    expected.sort();
    assert_eq!(alice, expected);
    server.abort();
}

#[tokio::test]
async fn two_nodes_sharing_a_store_never_lose_each_others_events() {
    let dir = crate::helpers::TestDb::new();
    let node_a = build(&dir).await.state();
    let fixture = seed(&node_a).await;
    // Node B starts after, with its own live index of the same store.
    let node_b = build(&dir).await.state();
    let plan = evo_core::scenario::build(
        evo_core::scenario::Kind::HoldUnhold,
        &evo_core::scenario::Cast {
            account_id: "acc".into(),
            account_name: "Acme".into(),
            customer: None,
            breadcrumb: vec![],
            number: ("num".into(), "+15550100".into(), "Main".into()),
            agents: vec![(
                fixture.alice.id.clone().into(),
                "alice".into(),
                "Alice".into(),
            )],
            caller: "+15557770000".into(),
        },
        "NODES",
        crate::helpers::fixture_start(),
    );
    let session = evo_core::reducer::open(&plan.session_id, plan.header.clone(), plan.opened_at);
    node_a.sessions.open(session.clone(), vec![]).await.unwrap();
    // Node B learns of the session (as after a restart or a read).
    let applied = node_b
        .sessions
        .apply(&plan.session_id, plan.events[0].clone(), vec![])
        .await
        .unwrap();
    assert!(
        matches!(applied, Applied::Changed(_)),
        "node B found the session in the store and changed it: {applied:?}"
    );
    // Alternate nodes: each one's index is stale for every other write.
    let last = plan.events.len() - 1;
    for (n, event) in plan.events.iter().enumerate().take(last).skip(1) {
        let node = if n % 2 == 0 { &node_b } else { &node_a };
        let applied = node
            .sessions
            .apply(&plan.session_id, event.clone(), vec![])
            .await
            .unwrap();
        assert!(
            matches!(applied, Applied::Changed(_)),
            "event {n}: {applied:?}"
        );
    }
    // Reads on the other node catch up when it refreshes its index.
    let since = chrono::Utc::now() - chrono::Duration::minutes(1);
    let version_on = |node: &evo_server::app::state::AppState| {
        node.sessions
            .index()
            .get(&plan.session_id)
            .map(|live| live.session().version())
    };
    node_a.sessions.refresh_from_store(since).await.unwrap();
    node_b.sessions.refresh_from_store(since).await.unwrap();
    assert_eq!(version_on(&node_a), version_on(&node_b));
    node_a
        .sessions
        .apply(&plan.session_id, plan.events[last].clone(), vec![])
        .await
        .unwrap();
    assert!(
        version_on(&node_b).is_some(),
        "node B shows the session until it refreshes"
    );
    node_b.sessions.refresh_from_store(since).await.unwrap();
    assert!(
        version_on(&node_b).is_none(),
        "the ended session left node B's index too"
    );
    let stored = node_a
        .sessions
        .stored(&plan.session_id)
        .await
        .unwrap()
        .unwrap();
    let expected = plan
        .events
        .iter()
        .fold(session, |s, e| evo_core::reducer::apply(&s, e));
    assert_eq!(stored.state(), expected.state());
    assert_eq!(stored.version(), expected.version());
}

/// One bearer token, many reads: the token's cached entry keeps the
/// user's view cell beside it (`auth::TokenSlot`), and what it holds is
/// never served stale. A change of a session on one of the user's
/// endpoints (the endpoint's generation cell), and then a number assigned
/// to the user with no session changing (the directory's generation
/// alone), each show in the very next read with the same token.
#[tokio::test]
async fn the_view_kept_beside_a_token_follows_session_and_directory_changes() {
    use evo_core::domain::{Endpoint, EndpointKind};
    use evo_core::event::{Clock, EventKind, EventSource, SessionEvent};
    use evo_core::ids::SessionId;
    let dir = crate::helpers::TestDb::new();
    let built = build(&dir).await;
    let fixture = seed(&built.state()).await;
    let app = crate::helpers::TestApp {
        address: built.local_addr(),
        state: built.state(),
        fixture: fixture.clone(),
    };
    let server = tokio::spawn(built.run_until_stopped());
    let token = bearer(&app, &fixture.bob.email).await;
    let first = active_sessions(&app, &token).await;
    // The second read goes through the slot the first one filled.
    assert_eq!(active_sessions(&app, &token).await, first);
    let console_of = |body: &serde_json::Value, id: &str| {
        body["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .map(|s| s["consoleData"].clone())
    };

    // A session on bob's number changes: the directory does not move.
    let generation = app.state.directory.generation();
    app.state
        .sessions
        .apply(
            &SessionId::new(fixture.bob_session.as_str()),
            SessionEvent {
                at: chrono::Utc::now(),
                clock: Clock::Server,
                source: EventSource::Internal {
                    id: "slot-console-1".into(),
                },
                kind: EventKind::ConsoleData {
                    data: "after the slot".into(),
                },
            },
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(app.state.directory.generation(), generation);
    let second = active_sessions(&app, &token).await;
    assert_eq!(
        console_of(&second, &fixture.bob_session),
        Some(serde_json::json!("after the slot")),
        "{second}"
    );

    // A session on a number nobody has yet: not bob's, no change of his
    // endpoints' cells.
    let later = "num-slot-later";
    let plan = evo_core::scenario::build(
        evo_core::scenario::Kind::InboundMissed,
        &evo_core::scenario::Cast {
            account_id: fixture.account_id.as_str().into(),
            account_name: "Acme".into(),
            customer: None,
            breadcrumb: vec![],
            number: (later.into(), "+15550199".into(), "Later".into()),
            agents: vec![(
                fixture.nora.id.as_str().into(),
                "nora".into(),
                "Nora".into(),
            )],
            caller: "+15557770002".into(),
        },
        "SLOTLATER",
        chrono::Utc::now(),
    );
    let session = evo_core::reducer::open(&plan.session_id, plan.header.clone(), plan.opened_at);
    app.state.sessions.open(session, vec![]).await.unwrap();
    let third = active_sessions(&app, &token).await;
    assert_eq!(session_ids(&third), session_ids(&second));
    // The number is assigned to bob in the store (as an administration
    // command would) and the directory reloaded: only its generation moves.
    let store = evo_store::open_store(&dir.store_url()).await.unwrap();
    store
        .create_endpoint(&Endpoint {
            id: later.into(),
            account_id: fixture.account_id.as_str().into(),
            customer_id: None,
            kind: EndpointKind::PhoneNumber,
            display_name: "Later".into(),
            address: "+15550199".into(),
            ring_user_ids: vec![fixture.bob.id.as_str().into()],
            queue_name: None,
        })
        .await
        .unwrap();
    app.state.directory.reload().await.unwrap();
    assert_ne!(app.state.directory.generation(), generation);
    let fourth = session_ids(&active_sessions(&app, &token).await);
    assert!(
        fourth.contains(&plan.session_id.to_string()),
        "the number's session shows at once: {fourth:?}"
    );
    server.abort();
}

/// `serve` answers `GET /sessions/active` before the router
/// (`evo_server::http::App`); the answer must be byte for byte what the
/// router gives (its fallback, the dispatcher, under the edge layer and
/// axum's route futures): status, every header in order (the request id
/// is the client's, so it is the same), body. Each case is asked of both
/// in turn with the same token (cached after the first read: the path
/// that borrows it) or credential, in each format.
#[tokio::test]
async fn the_read_answered_before_the_router_is_what_the_router_answers() {
    use axum::body::Body;
    use evo_server::http::Served;
    use http_body_util::BodyExt;

    let app = shared();
    let token = bearer(app, &app.fixture.alice.email).await;
    // Cached: the read path borrows the verified token from here on.
    active_sessions(app, &token).await;
    let api_key = app.fixture.alice_api_key.clone();
    let cases: Vec<(&str, Option<String>, Option<&str>)> = vec![
        ("/sessions/active", Some(format!("Bearer {token}")), None),
        (
            "/sessions/active",
            Some(format!("Bearer {token}")),
            Some("application/xml"),
        ),
        (
            "/sessions/active?format=csv",
            Some(format!("Bearer {token}")),
            None,
        ),
        (
            "/sessions/active?format=jsv",
            Some(format!("Bearer {token}")),
            None,
        ),
        (
            "/sessions/active?callback=show",
            Some(format!("Bearer {token}")),
            None,
        ),
        ("/sessions/active", Some(format!("Bearer {api_key}")), None),
        ("/sessions/active", None, None),
        ("/sessions/active", Some("Bearer a.b.c".to_string()), None),
        (
            "/sessions/active?callback=a%3Cb",
            Some(format!("Bearer {token}")),
            None,
        ),
    ];
    let state = app.state.clone();
    let answers = crate::helpers::on_shared_runtime(async move {
        let router = evo_server::http::router(state.clone());
        let served = evo_server::http::app(state);
        let request = |path: &str, auth: &Option<String>, accept: Option<&str>| {
            let mut request = axum::http::Request::get(path).header("x-request-id", "same-id-1");
            if let Some(auth) = auth {
                request = request.header("authorization", auth);
            }
            if let Some(accept) = accept {
                request = request.header("accept", accept);
            }
            let mut request = request.body(Body::empty()).unwrap();
            let remote: std::net::SocketAddr = "127.0.0.1:40000".parse().unwrap();
            request
                .extensions_mut()
                .insert(axum::extract::ConnectInfo(remote));
            request
        };
        let mut answers = Vec::new();
        for (path, auth, accept) in cases {
            let mut pair = Vec::new();
            for before_router in [true, false] {
                let response = if before_router {
                    served.serve(request(path, &auth, accept)).await
                } else {
                    Served::serve(&router, request(path, &auth, accept)).await
                }
                .unwrap();
                let status = response.status();
                let headers: Vec<(String, Vec<u8>)> = response
                    .headers()
                    .iter()
                    .map(|(name, value)| (name.to_string(), value.as_bytes().to_vec()))
                    .collect();
                let body = response.into_body().collect().await.unwrap().to_bytes();
                pair.push((status, headers, body));
            }
            answers.push((path, pair));
        }
        answers
    })
    .await;
    for (path, pair) in &answers {
        assert_eq!(pair[0].0, pair[1].0, "{path}: status");
        assert_eq!(pair[0].1, pair[1].1, "{path}: headers");
        assert_eq!(
            String::from_utf8_lossy(&pair[0].2),
            String::from_utf8_lossy(&pair[1].2),
            "{path}: body"
        );
    }
    // The cases did reach what they meant to.
    let statuses: Vec<u16> = answers.iter().map(|(_, p)| p[0].0.as_u16()).collect();
    assert_eq!(statuses, [200, 200, 200, 200, 200, 200, 401, 401, 400]);
    let (_, headers, body) = &answers[0].1[0];
    assert!(headers
        .iter()
        .any(|(n, v)| n == "x-request-id" && v.as_slice() == b"same-id-1"));
    assert!(body.starts_with(b"{\"sessions\":["));
}
