//! Issue 13: a commit on one node reaches another node's live index and its
//! subscribers (the broadcast Server Events are built from). On PostgreSQL
//! through the change feed alone (polling off); on SQLite, where there are
//! no notifications, through the fallback polling.

use evo_core::ids::SessionId;
use std::time::{Duration, Instant};

use evo_server::app::config::Config;
use evo_server::app::state::AppState;
use evo_server::startup::Application;

use crate::helpers::{build, on_postgres, seed, TestDb};

/// Starts a second node in this process on the same store.
async fn second_node(db: &TestDb, poll: Option<Duration>) -> AppState {
    let mut config = Config::for_store("127.0.0.1:0".parse().unwrap(), db.location());
    config.index_refresh = poll;
    // `build` holds an embedded store's lock; a second node in this
    // process shares the opened store instead.
    let store = evo_store::open_store(&db.store_url()).await.unwrap();
    let app = Application::build_with_store(config, store).await.unwrap();
    let state = app.state();
    tokio::spawn(app.run_until_stopped());
    state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_on_one_node_reaches_the_other_nodes_index_and_subscribers() {
    let db = TestDb::new();
    let first = build(&db).await;
    let node_a = first.state();
    let fixture = seed(&node_a).await;
    tokio::spawn(first.run_until_stopped());
    // PostgreSQL: no polling at all, the feed must carry the change.
    let poll = if on_postgres() {
        None
    } else {
        Some(Duration::from_millis(100))
    };
    let node_b = second_node(&db, poll).await;
    let mut changes = node_b.sessions.subscribe();
    // Let node B's listener (or first poll) start.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let before = node_b
        .sessions
        .index()
        .get(&SessionId::new(fixture.main_session.as_str()))
        .expect("node B rebuilt its index from the store")
        .session()
        .version();
    let event = evo_core::event::SessionEvent {
        at: chrono::Utc::now(),
        clock: evo_core::event::Clock::Server,
        source: evo_core::event::EventSource::Internal {
            id: "propagation-1".into(),
        },
        kind: evo_core::event::EventKind::ConsoleData {
            data: "from node A".into(),
        },
    };
    let sent = Instant::now();
    let applied = node_a
        .sessions
        .apply(
            &SessionId::new(fixture.main_session.as_str()),
            event,
            Vec::new(),
        )
        .await
        .unwrap();
    let evo_server::app::sessions::Applied::Changed(committed) = applied else {
        panic!("the event changed the session: {applied:?}");
    };
    let version = committed.session().version();
    assert!(version > before);
    let heard = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            let changed = changes.recv().await.expect("node B's broadcast");
            if *changed.session().session().id() == fixture.main_session {
                return changed;
            }
        }
    })
    .await
    .expect("node B published node A's change within 2 s");
    assert_eq!(heard.session().session().version(), version);
    assert_eq!(
        node_b
            .sessions
            .index()
            .get(&SessionId::new(fixture.main_session.as_str()))
            .unwrap()
            .session()
            .version(),
        version
    );
    if on_postgres() {
        assert!(
            sent.elapsed() < Duration::from_millis(500),
            "the feed took {:?}",
            sent.elapsed()
        );
    }
    // Node B publishes it once (not again from a catch-up read or a poll).
    assert!(
        tokio::time::timeout(Duration::from_millis(300), changes.recv())
            .await
            .is_err(),
        "nothing else changed"
    );
}
