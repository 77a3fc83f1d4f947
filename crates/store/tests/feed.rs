//! The change feed (PostgreSQL LISTEN/NOTIFY) and explicit migrations, on
//! both backends where they apply.

use std::time::Duration;

use chrono::Utc;
use evo_core::ids::SessionId;
use evo_core::reducer::{apply, open};
use evo_core::scenario::{build, Cast, Kind};
use evo_store::feed::{ChangeNotice, Heard};
use evo_store::testing::PostgresCluster;
use evo_store::{migrate, open_store, SessionChange, Store, StoreError};
use sqlx::Executor;

fn cast() -> Cast {
    evo_store::testing::one_agent_cast()
}

/// Opens two sessions in one commit, then changes one: returns their ids.
async fn write_sessions(store: &dyn Store) -> (SessionId, SessionId) {
    let a = build(Kind::InboundAnswered, &cast(), "FEEDA", Utc::now());
    let b = build(Kind::InboundAnswered, &cast(), "FEEDB", Utc::now());
    let sa = open(&a.session_id, a.header.clone(), a.opened_at);
    let sb = open(&b.session_id, b.header.clone(), b.opened_at);
    let change = |session: &evo_core::session::Session| SessionChange {
        session: session.clone(),
        event: None,
        expected_version: None,
        keys: vec![],
    };
    store.commit(&[change(&sa), change(&sb)]).await.unwrap();
    let next = apply(&sa, &a.events[0]);
    store
        .commit(&[SessionChange {
            session: next,
            event: Some(a.events[0].clone()),
            expected_version: Some(sa.version()),
            keys: vec![],
        }])
        .await
        .unwrap();
    (a.session_id, b.session_id)
}

async fn next_changes(listener: &mut evo_store::feed::ChangeListener) -> Vec<ChangeNotice> {
    match tokio::time::timeout(Duration::from_secs(5), listener.recv())
        .await
        .expect("a notification within 5 s")
        .expect("listening")
    {
        Heard::Changed(notices) => notices,
        Heard::Lost => panic!("the listener lost its connection"),
    }
}

#[tokio::test]
async fn postgres_commits_notify_listeners_with_ids_and_versions() {
    let cluster = PostgresCluster::start();
    let url = cluster.create_database("evo_feed");
    let store = open_store(&url).await.unwrap();
    let mut listener = store
        .change_listener()
        .await
        .unwrap()
        .expect("PostgreSQL has a change feed");
    let (a, b) = write_sessions(store.as_ref()).await;
    // One notification per commit, in commit order.
    let first = next_changes(&mut listener).await;
    assert_eq!(
        first,
        vec![
            ChangeNotice {
                session_id: a.clone(),
                version: 1
            },
            ChangeNotice {
                session_id: b.clone(),
                version: 1
            }
        ]
    );
    let second = next_changes(&mut listener).await;
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].session_id, a);
    assert!(second[0].version > 0);
    let read = store
        .sessions_by_id(&[a.clone(), "ses-missing".into(), b.clone()])
        .await
        .unwrap();
    let mut ids: Vec<&str> = read.iter().map(|s| s.id().as_str()).collect();
    ids.sort();
    assert_eq!(ids, vec![a.as_str(), b.as_str()]);
    assert_eq!(
        read.iter().find(|s| *s.id() == a).unwrap().version(),
        second[0].version
    );

    // A rolled-back commit (stale version) notifies nobody.
    let stale = store.session(&b).await.unwrap().unwrap();
    let refused = store
        .commit(&[SessionChange {
            session: stale.clone(),
            event: None,
            expected_version: Some(stale.version() + 5),
            keys: vec![],
        }])
        .await;
    assert!(matches!(refused, Err(StoreError::Conflict(_))));
    assert!(
        tokio::time::timeout(Duration::from_millis(300), listener.recv())
            .await
            .is_err(),
        "nothing heard of a rolled-back commit"
    );
}

#[tokio::test]
async fn sqlite_has_no_change_feed_but_reads_sessions_by_id() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir.path().display().to_string()).await.unwrap();
    assert!(store.change_listener().await.unwrap().is_none());
    let (a, b) = write_sessions(store.as_ref()).await;
    assert_eq!(store.sessions_by_id(&[b, a]).await.unwrap().len(), 2);
    assert!(store.sessions_by_id(&[]).await.unwrap().is_empty());
}

/// `migrate` applies everything once, then nothing; a database migrated by
/// a newer build is refused by `migrate` and by `open_store`.
async fn migrations(location: &str, raw_url: &str, bytes: &str) {
    let applied = migrate(location).await.unwrap();
    assert!(applied.len() >= 6, "{applied:?}");
    assert_eq!(applied[0].version, 1);
    assert!(migrate(location).await.unwrap().is_empty());
    open_store(location)
        .await
        .unwrap()
        .check_ready()
        .await
        .unwrap();

    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(raw_url).await.unwrap();
    pool.execute(
        format!(
            "insert into _sqlx_migrations (version, description, success, checksum, execution_time)
             values (99990001, 'from the future', true, {bytes}, 0)"
        )
        .as_str(),
    )
    .await
    .unwrap();
    pool.close().await;
    for refused in [
        migrate(location).await.err(),
        open_store(location).await.err(),
    ] {
        match refused {
            Some(StoreError::SchemaTooNew { found, known }) => {
                assert_eq!(found, 99990001);
                assert!(known < found);
            }
            other => panic!("expected SchemaTooNew, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn migrate_applies_once_and_a_newer_schema_is_refused_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let raw = evo_store::sql::sqlite_url(dir.path());
    migrations(&dir.path().display().to_string(), &raw, "x'00'").await;
}

#[tokio::test]
async fn migrate_applies_once_and_a_newer_schema_is_refused_on_postgres() {
    let cluster = PostgresCluster::start();
    let url = cluster.create_database("evo_migrate");
    migrations(&url, &url, "decode('00', 'hex')").await;
}

/// The database away: commits queued behind a failed one fail at once (not
/// one pool wait each), as `Unavailable`; the store works again when the
/// database is back.
#[tokio::test]
async fn with_postgres_stopped_queued_commits_fail_together_and_fast() {
    let cluster = PostgresCluster::start();
    let url = cluster.create_database("evo_away");
    let store = open_store(&url).await.unwrap();
    let committer = evo_store::group_commit::GroupCommitter::new(store.clone());
    cluster.stop_fast();
    let started = std::time::Instant::now();
    let mut commits = tokio::task::JoinSet::new();
    for i in 0..20 {
        let committer = committer.clone();
        let plan = build(
            Kind::InboundAnswered,
            &cast(),
            &format!("AWAY{i}"),
            Utc::now(),
        );
        commits.spawn(async move {
            committer
                .submit(SessionChange {
                    session: open(&plan.session_id, plan.header.clone(), plan.opened_at),
                    event: None,
                    expected_version: None,
                    keys: vec![],
                })
                .await
        });
    }
    let results = commits.join_all().await;
    let took = started.elapsed();
    for result in &results {
        match result {
            Err(error) => assert!(error.is_unavailable(), "{error}"),
            Ok(_) => panic!("a commit succeeded with the database stopped"),
        }
    }
    assert!(
        took < Duration::from_secs(4),
        "20 commits failed in {took:?}"
    );
    assert!(store.check_ready().await.unwrap_err().is_unavailable());
    cluster.start_again();
    store
        .check_ready()
        .await
        .expect("ready once the database is back");
    let (a, _) = write_sessions(store.as_ref()).await;
    assert!(store.session(&a).await.unwrap().is_some());
}
