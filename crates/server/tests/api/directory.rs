//! The directory's in-memory ring relation follows the store: a number
//! assigned or unassigned by another process (plain SQL, as an
//! administration command or another node writes it) reaches the reads
//! at the next reload, which between changes reads one row (migration
//! 0016's ring generation), on SQLite and on PostgreSQL.

use std::time::{Duration, Instant};

use evo_server::app::config::Config;
use evo_server::startup::Application;

use crate::helpers::{active_sessions, seed, session_ids, Fixture, TestApp, PASSWORD};

/// Whether alice's `GET /sessions/active` lists `session`.
async fn alice_sees(app: &TestApp, token: &str, session: &str) -> bool {
    session_ids(&active_sessions(app, token).await)
        .iter()
        .any(|id| id == session)
}

/// Waits (at most 5 s) until alice's list does or does not hold `session`.
async fn until_alice_sees(app: &TestApp, token: &str, session: &str, shown: bool) {
    let started = Instant::now();
    while alice_sees(app, token, session).await != shown {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the directory's reload never found the change (shown: {shown})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_number_assigned_by_another_process_reaches_reads_at_the_next_reload() {
    let dir = crate::helpers::TestDb::new();
    let mut config = Config::for_store("127.0.0.1:0".parse().unwrap(), dir.location());
    config.directory_refresh = Duration::from_millis(100);
    let app = Application::build(config).await.expect("building the app");
    let state = app.state();
    let fixture: Fixture = seed(&state).await;
    let address = app.local_addr();
    tokio::spawn(app.run_until_stopped());
    let app = TestApp {
        address,
        state,
        fixture,
    };
    let token = reqwest::Client::new()
        .post(app.url("/auth/credentials"))
        .json(&serde_json::json!({"userName": app.fixture.alice.email, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap()["bearerToken"]
        .as_str()
        .unwrap()
        .to_string();
    // Bob's number rings bob only: alice does not see its call, also after
    // idle reloads (a dozen at this period).
    let sales = app
        .state
        .directory
        .endpoint_ids_of_user(&app.fixture.bob.id.clone().into())
        .into_iter()
        .find(|id| id.as_str() != app.fixture.bob.id)
        .expect("bob's number");
    let session = app.fixture.bob_session.clone();
    assert!(!alice_sees(&app, &token, &session).await);
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert!(!alice_sees(&app, &token, &session).await);

    dir.execute(&format!(
        "insert into endpoint_ring_user (endpoint_id, user_id, position) values ('{sales}', '{}', 1)",
        app.fixture.alice.id
    ))
    .await;
    until_alice_sees(&app, &token, &session, true).await;
    dir.execute(&format!(
        "delete from endpoint_ring_user where endpoint_id = '{sales}' and user_id = '{}'",
        app.fixture.alice.id
    ))
    .await;
    until_alice_sees(&app, &token, &session, false).await;
}
