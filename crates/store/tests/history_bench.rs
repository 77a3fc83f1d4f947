//! ListSessions at scale (docs/benchmarks.md, "ListSessions"): seeds an
//! embedded SQLite store with ended sessions, then times history queries
//! and prints p50/p99. Ignored by default; run it with
//!
//! ```sh
//! EVO_BENCH_SESSIONS=1000000 cargo test -p evo-store --release --test history_bench -- --ignored --nocapture
//! ```

use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, TimeZone, Utc};
use evo_core::domain::Account;
use evo_core::reducer::{apply, open};
use evo_core::scenario::{build, Cast};
use evo_core::session::Session;
use evo_store::sql::SqlStore;
use evo_store::{SessionChange, SessionQuery, SessionScope, Store};

const ACCOUNTS: usize = 10;
const USERS_PER_ACCOUNT: usize = 100;
const BATCH: usize = 2000;

fn session(n: usize) -> Session {
    let account = n % ACCOUNTS;
    let agent = format!("u{account}-{}", (n / ACCOUNTS) % USERS_PER_ACCOUNT);
    let cast = Cast {
        account_id: format!("acc{account}").into(),
        account_name: format!("Account {account}"),
        customer: None,
        breadcrumb: vec![],
        number: (
            format!("num{account}").into(),
            format!("+1555010{account}"),
            "Main".into(),
        ),
        agents: vec![(agent.clone().into(), agent.clone(), agent)],
        caller: format!("+1777{n:07}"),
    };
    // One session a minute, oldest first.
    let start = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap() + Duration::minutes(n as i64);
    let plan = build(
        evo_core::scenario::Kind::InboundAnswered,
        &cast,
        &format!("B{n}"),
        start,
    );
    let mut session = open(&plan.session_id, plan.header.clone(), plan.opened_at);
    for event in &plan.events {
        session = apply(&session, event);
    }
    session
}

fn percentile(sorted: &[StdDuration], p: f64) -> StdDuration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

async fn time(store: &SqlStore, name: &str, runs: usize, query: &SessionQuery) {
    let mut took = Vec::with_capacity(runs);
    let mut items = 0;
    for _ in 0..runs {
        let at = Instant::now();
        let page = store.list_session_infos(query).await.unwrap();
        took.push(at.elapsed());
        items = page.items.len();
    }
    took.sort();
    println!(
        "| {name} | {items} | {:.2} | {:.2} |",
        percentile(&took, 0.5).as_secs_f64() * 1000.0,
        percentile(&took, 0.99).as_secs_f64() * 1000.0
    );
}

#[tokio::test]
#[ignore = "a benchmark: seeds up to a million sessions"]
async fn list_sessions_at_scale() {
    let count: usize = std::env::var("EVO_BENCH_SESSIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    // EVO_BENCH_DIR keeps the seeded store there, and a store already
    // there is reused (the queries again, without seeding again).
    let temporary = tempfile::tempdir().unwrap();
    let path = std::env::var_os("EVO_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| temporary.path().to_path_buf());
    let seeded_before = path.join("evo-voice.db").exists();
    let store = SqlStore::open_sqlite(&path).await.unwrap();
    if !seeded_before {
        seed(&store, count).await;
    }
    let bytes = std::fs::metadata(path.join("evo-voice.db"))
        .map(|m| m.len())
        .unwrap_or(0);
    println!("database {} MB", bytes / 1_000_000);
    queries(&store, count).await;
}

async fn seed(store: &SqlStore, count: usize) {
    for account in 0..ACCOUNTS {
        store
            .create_account(&Account {
                id: format!("acc{account}").into(),
                name: format!("Account {account}"),
                twilio_account_sid: None,
                twilio_auth_token: None,
            })
            .await
            .unwrap();
    }
    let seeding = Instant::now();
    let mut n = 0;
    while n < count {
        let batch: Vec<SessionChange> = (n..(n + BATCH).min(count))
            .map(|i| SessionChange {
                session: session(i),
                event: None,
                expected_version: None,
                keys: vec![],
            })
            .collect();
        n += batch.len();
        store.commit(&batch).await.unwrap();
    }
    let seeded = seeding.elapsed();
    println!(
        "seeded {count} ended sessions in {:.0} s ({:.0}/s)",
        seeded.as_secs_f64(),
        count as f64 / seeded.as_secs_f64(),
    );
}

async fn queries(store: &SqlStore, count: usize) {
    let per_page = 50;
    let manager = |offset: u64, count_total: bool| SessionQuery {
        ended: Some(true),
        descending: true,
        offset,
        limit: Some(per_page),
        count_total,
        ..SessionQuery::new(SessionScope::Accounts(vec!["acc3".into()]))
    };
    let admin = |offset: u64| SessionQuery {
        ended: Some(true),
        descending: true,
        offset,
        limit: Some(per_page),
        count_total: false,
        ..SessionQuery::new(SessionScope::All)
    };
    let user = SessionQuery {
        ended: Some(true),
        descending: true,
        limit: Some(per_page),
        ..SessionQuery::new(SessionScope::Endpoints {
            account_id: "acc3".into(),
            endpoint_ids: vec!["u3-7".into()],
        })
    };
    let account_size = (count / ACCOUNTS) as u64;
    println!("| query (50 per page, newest first) | items | p50 ms | p99 ms |");
    println!("|---|---|---|---|");
    time(
        store,
        "manager, first page, with totalCount",
        50,
        &manager(0, true),
    )
    .await;
    time(
        store,
        "manager, first page, simplifiedPaging",
        200,
        &manager(0, false),
    )
    .await;
    time(
        store,
        "manager, middle page (simplifiedPaging)",
        50,
        &manager(account_size / 2, false),
    )
    .await;
    time(
        store,
        "admin, first page (simplifiedPaging)",
        200,
        &admin(0),
    )
    .await;
    time(
        store,
        "admin, page at offset count/2 (simplifiedPaging)",
        20,
        &admin(count as u64 / 2),
    )
    .await;
    time(
        store,
        "user (their endpoints), first page, with totalCount",
        200,
        &user,
    )
    .await;
    time(
        store,
        "manager, from contains 7 digits, with totalCount",
        200,
        &SessionQuery {
            from_contains: Some(format!("{:07}", count / 2 + 3)),
            ..manager(0, true)
        },
    )
    .await;
    let user_page = |endpoint_ids: Vec<String>, offset: u64| SessionQuery {
        ended: Some(true),
        descending: true,
        offset,
        limit: Some(per_page),
        count_total: false,
        ..SessionQuery::new(SessionScope::Endpoints {
            account_id: "acc3".into(),
            endpoint_ids: endpoint_ids.into_iter().map(Into::into).collect(),
        })
    };
    time(
        store,
        "user, page at offset 500 (simplifiedPaging)",
        200,
        &user_page(vec!["u3-7".into()], 500),
    )
    .await;
    // A user rung by the account's number sees all of its sessions.
    time(
        store,
        "user and their number, first page (simplifiedPaging)",
        200,
        &user_page(vec!["u3-7".into(), "num3".into()], 0),
    )
    .await;
    time(
        store,
        "user and their number, page at offset 5000 (simplifiedPaging)",
        50,
        &user_page(vec!["u3-7".into(), "num3".into()], 5000),
    )
    .await;
    // Callers are +1777nnnnnnn: "77705" is a tenth of all sessions.
    let search = |offset: u64, count_total: bool| SessionQuery {
        from_contains: Some("77705".into()),
        ..manager(offset, count_total)
    };
    time(
        store,
        "manager, from contains (a tenth matches), first page (simplifiedPaging)",
        50,
        &search(0, false),
    )
    .await;
    time(
        store,
        "manager, from contains (a tenth matches), page at offset 2000 (simplifiedPaging)",
        50,
        &search(2000, false),
    )
    .await;
    time(
        store,
        "manager, one day (startDate = endDate), with totalCount",
        200,
        &SessionQuery {
            started_from: Some(Utc.with_ymd_and_hms(2024, 3, 1, 0, 0, 0).unwrap()),
            started_before: Some(Utc.with_ymd_and_hms(2024, 3, 2, 0, 0, 0).unwrap()),
            ..manager(0, true)
        },
    )
    .await;
}
