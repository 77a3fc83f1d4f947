//! The session-history part of the store conformance suite, run on SQLite
//! and on a throwaway PostgreSQL cluster: every filter of ListSessions,
//! scopes, paging and order, and query plans that use an index for every
//! filter (never a scan of the session table).

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use evo_core::domain::{Account, Crumb, Customer};
use evo_core::reducer::{apply, open};
use evo_core::scenario::{build, Cast};
use evo_store::sql::SqlStore;
use evo_store::testing::PostgresCluster;
use evo_store::{SessionChange, SessionQuery, SessionScope, Store};

fn cast(account: &str, customer: Option<(&str, &str)>, number: &str, agent: &str) -> Cast {
    Cast {
        account_id: account.into(),
        account_name: account.to_uppercase(),
        customer: customer.map(|(id, name)| Crumb {
            id: id.into(),
            name: name.into(),
        }),
        breadcrumb: vec![],
        number: (number.into(), format!("+1555{number}"), number.into()),
        agents: vec![(agent.into(), agent.into(), agent.into())],
        caller: format!("+1777{agent}"),
    }
}

/// Commits a scenario: `full` applies every event (the session ends),
/// otherwise only the first two (it stays active).
async fn commit(
    store: &dyn Store,
    kind: &'static str,
    cast: &Cast,
    tag: &str,
    day: i64,
    full: bool,
) {
    let start = Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap() + Duration::days(day);
    let kind: evo_core::scenario::Kind = kind.parse().expect("a scenario kind");
    let plan = build(kind, cast, tag, start);
    let mut session = open(&plan.session_id, plan.header.clone(), plan.opened_at);
    store
        .commit(&[SessionChange {
            session: session.clone(),
            event: None,
            expected_version: None,
            keys: vec![],
        }])
        .await
        .unwrap();
    let count = if full { plan.events.len() } else { 2 };
    for event in plan.events.iter().take(count) {
        let next = apply(&session, event);
        store
            .commit(&[SessionChange {
                session: next.clone(),
                event: Some(event.clone()),
                expected_version: Some(session.version()),
                keys: vec![],
            }])
            .await
            .unwrap();
        session = next;
    }
}

async fn seed(store: &dyn Store) {
    for id in ["acc1", "acc2"] {
        store
            .create_account(&Account {
                id: id.into(),
                name: id.into(),
                twilio_account_sid: None,
                twilio_auth_token: None,
            })
            .await
            .unwrap();
    }
    for (id, parent) in [
        ("root", None),
        ("mid", Some("root")),
        ("leaf", Some("mid")),
        ("other", None),
    ] {
        store
            .create_customer(&Customer {
                id: id.into(),
                account_id: "acc1".into(),
                parent_id: parent.map(Into::into),
                name: id.into(),
            })
            .await
            .unwrap();
    }
    // acc1: h0..h3 ended on days 0..3; h4 active on day 4; chat on day 5.
    let a = cast("acc1", Some(("root", "Root")), "n1", "u1");
    let leaf = cast("acc1", Some(("leaf", "Leaf")), "n1", "u1");
    let other = cast("acc1", Some(("other", "Other")), "n2", "u2");
    commit(store, "inbound-answered", &a, "H0", 0, true).await;
    commit(store, "inbound-missed", &leaf, "H1", 1, true).await;
    commit(store, "inbound-answered", &other, "H2", 2, true).await;
    commit(store, "outbound", &a, "H3", 3, true).await;
    commit(store, "inbound-answered", &a, "H4", 4, false).await;
    commit(store, "sms-chat", &other, "H5", 5, true).await;
    // acc2: one ended session.
    let b = cast("acc2", None, "n9", "u9");
    commit(store, "inbound-answered", &b, "Z0", 0, true).await;
}

async fn ids(store: &dyn Store, query: &SessionQuery) -> Vec<String> {
    let page = store.list_session_infos(query).await.unwrap();
    page.items
        .iter()
        .map(|item| {
            let json: serde_json::Value = serde_json::from_str(&item.info_json).unwrap();
            assert_eq!(
                json["id"],
                item.session_id.as_str(),
                "the rendered SessionInfo is the row's"
            );
            item.session_id.to_string()
        })
        .collect()
}

fn all() -> SessionQuery {
    SessionQuery::new(SessionScope::All)
}

async fn history_suite(store: Arc<dyn Store>) {
    seed(store.as_ref()).await;
    let s = store.as_ref();
    let every = [
        "ses-H0", "ses-H1", "ses-H2", "ses-H3", "ses-H4", "ses-H5", "ses-Z0",
    ];

    // Order: oldest first by default (ties by id), newest first on request.
    let mut sorted = every.to_vec();
    sorted.sort_by_key(|id| {
        (
            if id.starts_with("ses-Z") {
                0
            } else {
                id[5..].parse::<i32>().unwrap()
            },
            *id,
        )
    });
    assert_eq!(ids(s, &all()).await, sorted);
    let mut newest = sorted.clone();
    newest.reverse();
    assert_eq!(
        ids(
            s,
            &SessionQuery {
                descending: true,
                ..all()
            }
        )
        .await,
        newest
    );

    // Scopes.
    let acc2 = ids(
        s,
        &SessionQuery::new(SessionScope::Accounts(vec!["acc2".into()])),
    )
    .await;
    assert_eq!(acc2, ["ses-Z0"]);
    assert!(ids(s, &SessionQuery::new(SessionScope::Accounts(vec![])))
        .await
        .is_empty());
    let u2 = ids(
        s,
        &SessionQuery::new(SessionScope::Endpoints {
            account_id: "acc1".into(),
            endpoint_ids: vec!["u2".into()],
        }),
    )
    .await;
    assert_eq!(
        u2,
        ["ses-H2"],
        "u2 answered H2 only (the chat has no agent)"
    );
    let n2_elsewhere = ids(
        s,
        &SessionQuery::new(SessionScope::Endpoints {
            account_id: "acc2".into(),
            endpoint_ids: vec!["n2".into()],
        }),
    )
    .await;
    assert!(
        n2_elsewhere.is_empty(),
        "an endpoint id never crosses accounts"
    );

    // Filters.
    let q = |f: fn(&mut SessionQuery)| {
        let mut query = all();
        f(&mut query);
        query
    };
    assert_eq!(
        ids(s, &q(|q| q.account_ids = vec!["acc2".into()])).await,
        ["ses-Z0"]
    );
    assert_eq!(ids(s, &q(|q| q.ended = Some(false))).await, ["ses-H4"]);
    assert_eq!(ids(s, &q(|q| q.ended = Some(true))).await.len(), 6);
    assert_eq!(
        ids(s, &q(|q| q.customer_ids = vec!["mid".into()])).await,
        ["ses-H1"],
        "a customer includes its descendants"
    );
    assert_eq!(
        ids(s, &q(|q| q.customer_ids = vec!["root".into()])).await,
        ["ses-H0", "ses-H1", "ses-H3", "ses-H4"]
    );
    assert_eq!(
        ids(s, &q(|q| q.endpoint_ids = vec!["n2".into()])).await,
        ["ses-H2", "ses-H5"]
    );
    assert_eq!(
        ids(
            s,
            &q(|q| q.session_ids = vec!["ses-H3".into(), "nope".into()])
        )
        .await,
        ["ses-H3"]
    );
    assert_eq!(
        ids(
            s,
            &q(|q| {
                q.started_from = Some(Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).unwrap());
                q.started_before = Some(Utc.with_ymd_and_hms(2026, 11, 4, 0, 0, 0).unwrap());
            })
        )
        .await,
        ["ses-H1", "ses-H2"]
    );
    // From: the caller of incoming calls, the agent's client of outgoing ones.
    assert_eq!(
        ids(s, &q(|q| q.from_contains = Some("777u2".into()))).await,
        ["ses-H2", "ses-H5"]
    );
    assert_eq!(
        ids(s, &q(|q| q.from_contains = Some("CLIENT:U1".into()))).await,
        ["ses-H3"],
        "case-insensitive"
    );
    assert_eq!(
        ids(s, &q(|q| q.to_contains = Some("555n9".into()))).await,
        ["ses-Z0"]
    );
    assert_eq!(
        ids(s, &q(|q| q.log_contains = Some("order 1234".into()))).await,
        ["ses-H5"]
    );
    assert!(
        ids(s, &q(|q| q.log_contains = Some("no such words".into())))
            .await
            .is_empty()
    );
    assert!(ids(s, &q(|q| q.parent_session_id = Some("ses-H0".into())))
        .await
        .is_empty());

    // Paging: offset and limit, totals, more pages, past the end.
    let page = s
        .list_session_infos(&SessionQuery {
            offset: 2,
            limit: Some(2),
            ..all()
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2);
    assert_eq!(page.total, Some(7));
    assert!(page.has_more);
    let last = s
        .list_session_infos(&SessionQuery {
            offset: 6,
            limit: Some(2),
            ..all()
        })
        .await
        .unwrap();
    assert_eq!(last.items.len(), 1);
    assert!(!last.has_more);
    let past = s
        .list_session_infos(&SessionQuery {
            offset: 40,
            limit: Some(2),
            count_total: false,
            ..all()
        })
        .await
        .unwrap();
    assert!(past.items.is_empty());
    assert_eq!(past.total, None);
    assert!(!past.has_more);

    // One session, with the endpoints it is visible to.
    let one = s.session_info(&"ses-H2".into()).await.unwrap().unwrap();
    assert_eq!(one.account_id, "acc1");
    assert_eq!(one.endpoint_ids, ["n2", "u2"]);
    let info: serde_json::Value = serde_json::from_str(&one.info_json).unwrap();
    assert_eq!(info["ended"], true);
    assert_eq!(info["customerId"], "other");
    assert!(s.session_info(&"nope".into()).await.unwrap().is_none());
}

/// Plans that read the session table by an index for each filter, never a
/// full scan (`SCAN session` on SQLite, `Seq Scan on session` on PostgreSQL).
async fn assert_indexed(store: &SqlStore) {
    let scoped = |scope| SessionQuery {
        limit: Some(50),
        descending: true,
        ..SessionQuery::new(scope)
    };
    let account = || SessionScope::Accounts(vec!["acc1".into()]);
    let user = || SessionScope::Endpoints {
        account_id: "acc1".into(),
        endpoint_ids: vec!["u1".into(), "n1".into()],
    };
    let queries = [
        (
            "admin, everything ended",
            SessionQuery {
                ended: Some(true),
                ..scoped(SessionScope::All)
            },
        ),
        ("manager", scoped(account())),
        (
            "manager, ended",
            SessionQuery {
                ended: Some(true),
                ..scoped(account())
            },
        ),
        ("user", scoped(user())),
        (
            "endpoint filter",
            SessionQuery {
                endpoint_ids: vec!["n2".into()],
                ..scoped(SessionScope::All)
            },
        ),
        (
            "customer filter",
            SessionQuery {
                customer_ids: vec!["root".into()],
                ..scoped(SessionScope::All)
            },
        ),
        (
            "dates",
            SessionQuery {
                started_from: Some(Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).unwrap()),
                started_before: Some(Utc.with_ymd_and_hms(2026, 11, 4, 0, 0, 0).unwrap()),
                ..scoped(account())
            },
        ),
        (
            "from",
            SessionQuery {
                from_contains: Some("777u2".into()),
                ..scoped(SessionScope::All)
            },
        ),
        (
            "to",
            SessionQuery {
                to_contains: Some("555n9".into()),
                ..scoped(SessionScope::All)
            },
        ),
        (
            "log",
            SessionQuery {
                log_contains: Some("order 1234".into()),
                ..scoped(SessionScope::All)
            },
        ),
        (
            "parent",
            SessionQuery {
                parent_session_id: Some("ses-H0".into()),
                ..scoped(SessionScope::All)
            },
        ),
        (
            "specific ids",
            SessionQuery {
                session_ids: vec!["ses-H0".into()],
                ..scoped(SessionScope::All)
            },
        ),
    ];
    for (name, query) in queries {
        let plan = store.explain_session_query(&query).await.unwrap();
        let text = plan.join("\n");
        assert!(!plan.is_empty(), "{name}: no plan");
        eprintln!("-- {name}\n{text}");
        let scans_table = plan.iter().any(|line| {
            let line = line.trim();
            // SQLite: "SCAN session" without an index; PostgreSQL: "Seq Scan on session ".
            (line.starts_with("SCAN session") && !line.contains("INDEX"))
                || line.contains("Seq Scan on session ")
                || line.ends_with("Seq Scan on session")
        });
        assert!(!scans_table, "{name} scans the session table:\n{text}");
    }
}

#[tokio::test]
async fn sqlite_history_conforms_and_uses_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqlStore::open_sqlite(dir.path()).await.unwrap());
    history_suite(store.clone()).await;
    assert_indexed(&store).await;
}

#[tokio::test]
async fn postgres_history_conforms_and_uses_indexes() {
    let cluster = PostgresCluster::start();
    let url = cluster.create_database("evo_history");
    let store = Arc::new(SqlStore::connect_postgres(&url).await.unwrap());
    history_suite(store.clone()).await;
    assert_indexed(&store).await;
}

#[tokio::test]
async fn sessions_stored_before_the_history_columns_are_filled_on_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SqlStore::open_sqlite(dir.path()).await.unwrap();
        seed(&store).await;
    }
    // What a store written before migration 0003 looks like after it ran.
    {
        let url = evo_store::sql::sqlite_url(dir.path());
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        sqlx::query("update session set info = null, started_at = ''")
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("delete from session_endpoint")
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("delete from session_search")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }
    let store = SqlStore::open_sqlite(dir.path()).await.unwrap();
    let one = store.session_info(&"ses-H2".into()).await.unwrap().unwrap();
    assert_eq!(one.endpoint_ids, ["n2", "u2"]);
    assert_eq!(
        ids(
            &store,
            &SessionQuery {
                log_contains: Some("order 1234".into()),
                ..all()
            }
        )
        .await,
        ["ses-H5"]
    );
    assert_eq!(ids(&store, &all()).await.len(), 7);
}

/// Above 2,000 trigram matches a SQLite contains-search walks the scope's
/// index instead of reading every match: both ways give the same pages.
#[tokio::test]
async fn a_broad_contains_search_pages_like_a_narrow_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::open_sqlite(dir.path()).await.unwrap();
    for account in ["acc1", "acc2"] {
        store
            .create_account(&Account {
                id: account.into(),
                name: account.into(),
                twilio_account_sid: None,
                twilio_auth_token: None,
            })
            .await
            .unwrap();
    }
    // 2,400 ended sessions, one a minute, alternating accounts; callers
    // +1777u{n} all contain "777u", and "777u1234" only one.
    let start = Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap();
    let sessions: Vec<SessionChange> = (0..2400)
        .map(|n| {
            let account = if n % 2 == 0 { "acc1" } else { "acc2" };
            let cast = cast(account, None, "n1", &format!("u{n}"));
            let plan = build(
                evo_core::scenario::Kind::InboundAnswered,
                &cast,
                &format!("W{n}"),
                start + Duration::minutes(n),
            );
            let mut session = open(&plan.session_id, plan.header.clone(), plan.opened_at);
            for event in &plan.events {
                session = apply(&session, event);
            }
            SessionChange {
                session,
                event: None,
                expected_version: None,
                keys: vec![],
            }
        })
        .collect();
    store.commit(&sessions).await.unwrap();
    let search = |text: &str, offset: u64| SessionQuery {
        from_contains: Some(text.into()),
        ended: Some(true),
        descending: true,
        offset,
        limit: Some(3),
        ..SessionQuery::new(SessionScope::Accounts(vec!["acc2".into()]))
    };
    // Broad: every acc2 session matches; newest first, paged, counted.
    let page = store.list_session_infos(&search("777u", 0)).await.unwrap();
    assert_eq!(page.total, Some(1200));
    assert!(page.has_more);
    assert_eq!(
        ids(&store, &search("777u", 0)).await,
        ["ses-W2399", "ses-W2397", "ses-W2395"]
    );
    assert_eq!(
        ids(&store, &search("777u", 3)).await,
        ["ses-W2393", "ses-W2391", "ses-W2389"]
    );
    // Narrow: one match, in acc2; none of acc1's.
    assert_eq!(ids(&store, &search("777u1235", 0)).await, ["ses-W1235"]);
    assert!(ids(&store, &search("777u1234", 0)).await.is_empty());
    let plan = store
        .explain_session_query(&search("777u", 0))
        .await
        .unwrap()
        .join("\n");
    assert!(plan.contains("session_history_account"), "{plan}");
}

/// SQLite: a commit queues its search rows (migration 0025) instead of
/// writing the FTS5 indexes in its transaction; a search indexes what is
/// queued first, so it finds every session committed before it, exactly as
/// a LIKE over the rows does; pruning takes the queued rows of the sessions
/// it deletes.
#[tokio::test]
async fn sqlite_search_finds_what_the_commits_queued() {
    let dir = tempfile::tempdir().unwrap();
    // Without `open_sqlite`'s indexer task, so that the queue stays put.
    let store = SqlStore::open_sqlite_unmigrated(dir.path()).await.unwrap();
    store.migrate().await.unwrap();
    seed(&store).await;
    let pool = sqlx::SqlitePool::connect(&evo_store::sql::sqlite_url(dir.path()))
        .await
        .unwrap();
    let count = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let sessions = count("select count(*) from session").await;
    let lines = count("select count(*) from session_log").await;
    assert!(sessions > 0 && lines > 0);
    assert_eq!(count("select count(*) from session_search").await, 0);
    assert_eq!(count("select count(*) from session_log_search").await, 0);
    assert_eq!(
        count("select count(*) from session_search_pending").await,
        sessions
    );
    assert_eq!(
        count("select count(*) from session_log_search_pending").await,
        lines
    );

    // What a LIKE over the rows finds, by From and by a log line's text.
    let line: String = sqlx::query_scalar("select message from session_log order by rowid limit 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    let text: String = line.chars().skip(2).take(6).collect();
    let like = |sql: &'static str, pattern: String| {
        let pool = pool.clone();
        async move {
            let mut found: Vec<String> = sqlx::query_scalar(sql)
                .bind(pattern)
                .fetch_all(&pool)
                .await
                .unwrap();
            found.sort();
            found.dedup();
            found
        }
    };
    let by_from = like(
        "select session_id from session where from_address like $1",
        "%777u2%".to_string(),
    )
    .await;
    let by_log = like(
        "select session_id from session_log where message like $1",
        format!("%{text}%"),
    )
    .await;
    assert!(!by_from.is_empty() && !by_log.is_empty());
    let sorted = |mut ids: Vec<String>| {
        ids.sort();
        ids
    };
    let from_query = SessionQuery {
        from_contains: Some("777u2".into()),
        ..all()
    };
    assert_eq!(sorted(ids(&store, &from_query).await), by_from);
    // Indexed now: nothing queued, every row in the indexes.
    assert_eq!(
        count("select count(*) from session_search_pending").await,
        0
    );
    assert_eq!(
        count("select count(*) from session_log_search_pending").await,
        0
    );
    assert_eq!(count("select count(*) from session_search").await, sessions);
    assert_eq!(
        count("select count(*) from session_log_search").await,
        lines
    );
    let log_query = SessionQuery {
        log_contains: Some(text.clone()),
        ..all()
    };
    assert_eq!(sorted(ids(&store, &log_query).await), by_log);

    // One more session, queued; a search finds it at once.
    let late = cast("acc1", None, "n1", "u2");
    commit(&store, "inbound-missed", &late, "Q0", 6, true).await;
    assert_eq!(
        count("select count(*) from session_search_pending").await,
        1
    );
    assert!(sorted(ids(&store, &from_query).await).contains(&"ses-Q0".to_string()));

    // Pruning a session takes its queued rows too.
    commit(&store, "inbound-missed", &late, "Q1", 6, true).await;
    assert!(count("select count(*) from session_log_search_pending").await > 0);
    let cutoff = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
    assert!(store.prune_ended_sessions(cutoff, 500).await.unwrap() > 0);
    assert_eq!(
        count("select count(*) from session where session_id = 'ses-Q1'").await,
        0
    );
    assert_eq!(
        count("select count(*) from session_search_pending").await,
        0
    );
    assert_eq!(
        count("select count(*) from session_log_search_pending").await,
        0
    );
    pool.close().await;
}
