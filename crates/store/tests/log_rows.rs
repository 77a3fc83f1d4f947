//! Conformance of a session's log kept as rows (migration 0013), on the
//! embedded SQLite store and a throwaway PostgreSQL cluster: a long chat's
//! log round-trips in order through every read (the session, its history
//! entry, a page, a log search); a line the reducer inserts mid-log (an
//! out-of-order message re-folding its stream) lands where the reference
//! fold puts it; and a store written before 0013 (snapshots and history
//! rows carrying the whole log) reads the same and moves to rows on the
//! session's next commit.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use evo_core::api::sessions::{FlowChannels, SessionDirections, SessionMemberRoles};
use evo_core::event::{Clock, EventKind, EventSource, Party, SessionEvent};
use evo_core::reducer::{apply, open, reduce_all, try_apply_in_place, with_history};
use evo_core::scenario::{build, Kind};
use evo_core::session::{Session, SessionHeader};
use evo_store::group_commit::GroupCommitter;
use evo_store::testing::PostgresCluster;
use evo_store::{open_store, SessionChange, SessionQuery, SessionScope, Store};
use sqlx::Row;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap()
}

/// Inbound SMS `n` of a chat, `seconds` after the start (Twilio's
/// MessageSid shape: `SM` and 32 hex digits).
fn message(n: usize, seconds: i64) -> SessionEvent {
    SessionEvent {
        at: start() + chrono::Duration::seconds(seconds),
        clock: Clock::Server,
        source: EventSource::Message {
            message_sid: format!("SM{n:032x}").into(),
        },
        kind: EventKind::MessageReceived {
            from: "+15557770000".into(),
            body: format!("message {n}: when can someone call me back?"),
            media: Vec::new(),
        },
    }
}

fn chat(id: &str) -> Session {
    let header = SessionHeader {
        account_id: "acc1".into(),
        endpoint_id: "num1".into(),
        channel: FlowChannels::Chat,
        direction: SessionDirections::Incoming,
        call_sid: Some("+15557770000:+15550100".into()),
        from_address: Some("+15557770000".into()),
        to_address: Some("+15550100".into()),
        origin: Some(Party {
            identity: "+15557770000".into(),
            endpoint_id: None,
            display_name: None,
            role: SessionMemberRoles::Caller,
        }),
        ..SessionHeader::default()
    };
    let mut session = open(id, header, start());
    session.compact();
    session
}

/// One in-order event (it must change the session) applied to `session` as the server does (in place,
/// compacted) and committed through the group committer; the stored session.
async fn commit_in_order(
    committer: &GroupCommitter,
    session: Session,
    event: SessionEvent,
) -> Session {
    let mut next = session.clone();
    assert!(
        try_apply_in_place(&mut next, &event).expect("in order"),
        "a new line"
    );
    next.compact();
    committer
        .submit(SessionChange {
            expected_version: Some(session.version()),
            session: next,
            event: Some(event),
            keys: vec![],
        })
        .await
        .unwrap()
        .session
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap()
}

fn rendered(session: &Session) -> serde_json::Value {
    serde_json::from_slice(&evo_wire::json::to_json(&session.to_info())).unwrap()
}

/// Every read of `session` agrees with it, log included.
async fn assert_reads(store: &dyn Store, session: &Session) {
    let id = session.id();
    let loaded = store.session(id).await.unwrap().expect("stored");
    assert_eq!(loaded.state().log, session.state().log, "{id}: log");
    assert_eq!(&loaded, session, "{id}: session");
    let info = store.session_info(id).await.unwrap().expect("history");
    assert_eq!(
        json(&info.info_json),
        rendered(session),
        "{id}: SessionInfo"
    );
    let page = store
        .list_session_infos(&SessionQuery {
            session_ids: vec![id.clone()],
            ..SessionQuery::new(SessionScope::All)
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(
        json(&page.items[0].info_json),
        rendered(session),
        "{id}: page"
    );
    let by_id = store
        .sessions_by_id(std::slice::from_ref(id))
        .await
        .unwrap();
    assert_eq!(by_id, vec![session.clone()]);
    if session.is_active() {
        let active = store.active_sessions().await.unwrap();
        let found = active.iter().find(|s| s.id() == id).expect("active");
        assert_eq!(found, session);
    }
}

async fn log_search(store: &dyn Store, text: &str) -> Vec<String> {
    store
        .list_session_infos(&SessionQuery {
            log_contains: Some(text.into()),
            ..SessionQuery::new(SessionScope::All)
        })
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|item| item.session_id.to_string())
        .collect()
}

/// A chat of 600 messages, one commit each through the group committer
/// (as the server commits): the log reads back whole and in order.
async fn a_long_chat_round_trips(store: Arc<dyn Store>, url: &str) {
    let committer = GroupCommitter::new(store.clone());
    let mut session = chat("ses-acc1-long");
    session = committer
        .submit(SessionChange {
            session,
            event: None,
            expected_version: None,
            keys: vec![],
        })
        .await
        .unwrap()
        .session;
    for n in 0..600 {
        let event = message(n, n as i64);
        session = commit_in_order(&committer, session, event).await;
        if n % 150 == 0 {
            assert_reads(store.as_ref(), &session).await;
        }
    }
    assert_eq!(session.state().log.len(), 601, "the opening line and 600");
    assert_reads(store.as_ref(), &session).await;
    assert_eq!(log_rows_of(url, "ses-acc1-long").await, (1, true, 601));
    // The dedupe hashes, rebuilt from the event log on load, refuse a
    // redelivery.
    let mut loaded = store.session(session.id()).await.unwrap().unwrap();
    assert_eq!(try_apply_in_place(&mut loaded, &message(10, 10)), Ok(false));
    assert_eq!(
        try_apply_in_place(&mut loaded, &message(600, 600)),
        Ok(true)
    );
    let messages: Vec<&str> = session.state().log[1..]
        .iter()
        .map(|line| line.message.as_str())
        .collect();
    assert!(messages[0].contains("message 0:"), "{}", messages[0]);
    assert!(messages[599].contains("message 599:"), "{}", messages[599]);
    assert_eq!(
        log_search(store.as_ref(), "message 437:").await,
        ["ses-acc1-long"]
    );
}

/// A message that arrives after later ones re-folds the message stream:
/// its line goes mid-log, the rows after it are rewritten, and the next
/// in-order message appends after them again.
async fn a_line_inserted_mid_log_lands_in_place(store: Arc<dyn Store>) {
    let committer = GroupCommitter::new(store.clone());
    let mut session = committer
        .submit(SessionChange {
            session: chat("ses-acc1-late"),
            event: None,
            expected_version: None,
            keys: vec![],
        })
        .await
        .unwrap()
        .session;
    for n in 0..10 {
        let event = message(n, 10 * n as i64);
        session = commit_in_order(&committer, session, event).await;
    }
    // Sent at 45 s, delivered after the one sent at 90 s.
    let late = message(100, 45);
    let mut next = store.session(session.id()).await.unwrap().unwrap();
    assert!(
        try_apply_in_place(&mut next, &late).is_err(),
        "a compact session needs its history to re-fold a stream"
    );
    with_history(&mut next, store.session_events(session.id()).await.unwrap()).unwrap();
    assert!(try_apply_in_place(&mut next, &late).unwrap());
    next.compact();
    session = committer
        .submit(SessionChange {
            expected_version: Some(session.version()),
            session: next,
            event: Some(late.clone()),
            keys: vec![],
        })
        .await
        .unwrap()
        .session;
    let events = store.session_events(session.id()).await.unwrap();
    let reference = reduce_all(session.header(), session.opened_at(), &events);
    assert_eq!(session.state().log, reference.log);
    let position = session
        .state()
        .log
        .iter()
        .position(|line| line.message.contains("message 100:"))
        .expect("the late line");
    assert!(session.state().log[position - 1]
        .message
        .contains("message 4:"));
    assert!(session.state().log[position + 1]
        .message
        .contains("message 5:"));
    assert_reads(store.as_ref(), &session).await;

    let after = message(11, 200);
    session = commit_in_order(&committer, session, after).await;
    assert!(session
        .state()
        .log
        .last()
        .unwrap()
        .message
        .contains("message 11:"));
    assert_reads(store.as_ref(), &session).await;
}

/// Sessions as a build before migration 0013 left them: the snapshot and
/// the history row carry the whole log, no log rows, the log's text in the
/// per-session search column.
async fn rewrite_as_before_0013(url: &str, sqlite: bool, sessions: &[&Session]) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    for session in sessions {
        let id = session.id().as_str();
        let info = String::from_utf8(evo_wire::json::to_json(&session.to_info())).unwrap();
        sqlx::query(
            "update session set snapshot = $1, log_rows = 0, info = $2, info_log_at = null
             where session_id = $3",
        )
        .bind(serde_json::to_string(session).unwrap())
        .bind(info)
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
        let text = session
            .state()
            .log
            .iter()
            .map(|line| line.message.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        if sqlite {
            sqlx::query(
                "delete from session_log_search where rowid in
                     (select rowid from session_log where session_id = $1)",
            )
            .bind(id)
            .execute(&pool)
            .await
            .unwrap();
            // Its search row written at commit, whole (before 0025 no
            // row waited in `session_search_pending`), in one transaction
            // beside the store's indexer.
            let mut tx = pool.begin().await.unwrap();
            for statement in [
                "delete from session_search where rowid = (select rowid from session where session_id = $1)",
                "delete from session_search_pending where row_id = (select rowid from session where session_id = $1)",
                "delete from session_log_search_pending where row_id in
                     (select rowid from session_log where session_id = $1)",
            ] {
                sqlx::query(statement)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
            }
            sqlx::query(
                "insert into session_search (rowid, from_address, to_address, log_text)
                 select rowid, from_address, to_address, $1 from session where session_id = $2",
            )
            .bind(text)
            .bind(id)
            .execute(&mut *tx)
            .await
            .unwrap();
            tx.commit().await.unwrap();
        } else {
            sqlx::query("update session set log_text = $1 where session_id = $2")
                .bind(text)
                .bind(id)
                .execute(&pool)
                .await
                .unwrap();
        }
        sqlx::query("delete from session_log where session_id = $1")
            .bind(id)
            .execute(&pool)
            .await
            .unwrap();
    }
    pool.close().await;
}

/// The session row's `log_rows` flag, whether its history row has a log
/// offset (`info_log_at`), and how many log rows it has.
async fn log_rows_of(url: &str, id: &str) -> (i64, bool, i64) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let row = sqlx::query("select log_rows, info_log_at from session where session_id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    let flag: i64 = row.try_get("log_rows").unwrap();
    let offset: Option<i64> = row.try_get("info_log_at").unwrap();
    let rows: i64 = sqlx::query("select count(*) as n from session_log where session_id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap()
        .try_get("n")
        .unwrap();
    pool.close().await;
    (flag, offset.is_some(), rows)
}

/// A pre-0013 store opens and reads the same sessions and SessionInfo; a
/// log search still finds its sessions; the next commit moves the log to
/// rows.
async fn a_store_from_before_0013_reads_the_same(location: &str, url: &str, sqlite: bool) {
    let store = open_store(location).await.unwrap();
    let cast = evo_store::testing::one_agent_cast();
    let plan = build(Kind::InboundAnswered, &cast, "OLD", start());
    let mut call = open(&plan.session_id, plan.header.clone(), plan.opened_at);
    store
        .commit(&[SessionChange {
            session: call.clone(),
            event: None,
            expected_version: None,
            keys: vec![],
        }])
        .await
        .unwrap();
    // All but the last event: the call stays live.
    let (last, events) = plan.events.split_last().unwrap();
    for event in events {
        let next = apply(&call, event);
        store
            .commit(&[SessionChange {
                session: next.clone(),
                event: Some(event.clone()),
                expected_version: Some(call.version()),
                keys: vec![],
            }])
            .await
            .unwrap();
        call = next;
    }
    let mut text = chat("ses-acc1-oldchat");
    store
        .commit(&[SessionChange {
            session: text.clone(),
            event: None,
            expected_version: None,
            keys: vec![],
        }])
        .await
        .unwrap();
    for n in 0..5 {
        let event = message(n, n as i64);
        let next = apply(&text, &event);
        store
            .commit(&[SessionChange {
                session: next.clone(),
                event: Some(event),
                expected_version: Some(text.version()),
                keys: vec![],
            }])
            .await
            .unwrap();
        text = next;
    }
    drop(store);
    rewrite_as_before_0013(url, sqlite, &[&call, &text]).await;

    let store = open_store(location).await.unwrap();
    assert_eq!(log_rows_of(url, call.id().as_str()).await, (0, false, 0));
    assert_reads(store.as_ref(), &call).await;
    assert_reads(store.as_ref(), &text).await;
    assert_eq!(
        log_search(store.as_ref(), "message 3:").await,
        ["ses-acc1-oldchat"]
    );

    // The next commit writes every line as rows.
    let loaded = store.session(call.id()).await.unwrap().unwrap();
    let next = apply(&loaded, last);
    store
        .commit(&[SessionChange {
            session: next.clone(),
            event: Some(last.clone()),
            expected_version: Some(call.version()),
            keys: vec![],
        }])
        .await
        .unwrap();
    assert_eq!(
        log_rows_of(url, call.id().as_str()).await,
        (1, true, next.state().log.len() as i64)
    );
    assert_reads(store.as_ref(), &next).await;
    let mut more = store.session(text.id()).await.unwrap().unwrap();
    try_apply_in_place(&mut more, &message(5, 5)).expect("in order");
    store
        .commit(&[SessionChange {
            session: more.clone(),
            event: Some(message(5, 5)),
            expected_version: Some(text.version()),
            keys: vec![],
        }])
        .await
        .unwrap();
    assert_reads(store.as_ref(), &more).await;
    assert_eq!(
        log_search(store.as_ref(), "message 3:").await,
        ["ses-acc1-oldchat"]
    );
}

/// A session read for one event (`Store::session_for_event`) holds none of
/// its lines and dedupe keys, knows whether the event is logged already,
/// and, stepped and committed as the server does, leaves exactly the rows
/// and the session the whole session's step leaves; an out-of-order event
/// needs the whole session (the reference path).
async fn a_session_read_for_one_event_steps_like_the_whole_one(store: Arc<dyn Store>) {
    let committer = GroupCommitter::new(store.clone());
    let mut whole = committer
        .submit(SessionChange {
            session: chat("ses-acc1-oneevent"),
            event: None,
            expected_version: None,
            keys: vec![],
        })
        .await
        .unwrap()
        .session;
    for n in 0..40 {
        whole = commit_in_order(&committer, whole, message(n, 10 * n as i64)).await;
    }
    let id = whole.id().clone();
    for n in 40..70 {
        let event = message(n, 10 * n as i64);
        let read = store
            .session_for_event(&id, &event.dedupe_key())
            .await
            .unwrap()
            .expect("stored");
        assert!(!read.applied, "message {n} is new");
        let mut elided = read.session;
        assert!(!elided.is_whole());
        assert_eq!(elided.log_elided(), whole.state().log.len());
        assert!(elided.state().log.is_empty(), "no line read");
        assert_eq!(elided.version(), whole.version());
        assert!(try_apply_in_place(&mut elided, &event).expect("in order"));
        elided.compact();
        assert_eq!(elided.log_len(), whole.state().log.len() + 1);
        let committed = committer
            .submit(SessionChange {
                expected_version: Some(whole.version()),
                session: elided,
                event: Some(event.clone()),
                keys: vec![],
            })
            .await
            .unwrap()
            .session;
        // The whole session's step, the reference.
        whole = apply(&whole, &event);
        whole.compact();
        let lines = whole.state().log.len();
        assert_eq!(committed.log_elided(), lines - 1);
        assert_eq!(committed.state().log, whole.state().log[lines - 1..]);
        assert_eq!(committed.log_len(), whole.state().log.len());
        assert_reads(store.as_ref(), &whole).await;
    }
    // Duplicates: every logged event is known, an unknown one is not.
    for n in [0, 39, 40, 69] {
        let key = message(n, 10 * n as i64).dedupe_key();
        let read = store.session_for_event(&id, &key).await.unwrap().unwrap();
        assert!(read.applied, "message {n} is logged");
    }
    let late = message(70, 5);
    let read = store
        .session_for_event(&id, &late.dedupe_key())
        .await
        .unwrap()
        .unwrap();
    assert!(!read.applied);
    // An out-of-order message re-folds its stream: not without the whole
    // session, which is then read and stepped as before.
    let mut elided = read.session;
    assert!(try_apply_in_place(&mut elided, &late).is_err());
    assert!(with_history(&mut elided, store.session_events(&id).await.unwrap()).is_err());
    let mut reread = store.session(&id).await.unwrap().unwrap();
    assert!(reread.is_whole());
    if try_apply_in_place(&mut reread, &late).is_err() {
        with_history(&mut reread, store.session_events(&id).await.unwrap()).unwrap();
        assert!(try_apply_in_place(&mut reread, &late).unwrap());
    }
    let events = store.session_events(&id).await.unwrap();
    let reference = reduce_all(
        whole.header(),
        whole.opened_at(),
        events.iter().chain(std::iter::once(&late)),
    );
    assert_eq!(reread.state(), &reference, "the late line lands mid-log");
    assert!(store
        .session_for_event(&"ses-acc1-none".into(), &late.dedupe_key())
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn sqlite_keeps_the_log_as_rows() {
    let dir = tempfile::tempdir().unwrap();
    let location = dir.path().display().to_string();
    let file = evo_store::sql::sqlite_url(dir.path());
    a_long_chat_round_trips(open_store(&location).await.unwrap(), &file).await;
    a_line_inserted_mid_log_lands_in_place(open_store(&location).await.unwrap()).await;
    a_session_read_for_one_event_steps_like_the_whole_one(open_store(&location).await.unwrap())
        .await;
    let dir = tempfile::tempdir().unwrap();
    let url = evo_store::sql::sqlite_url(dir.path());
    a_store_from_before_0013_reads_the_same(&dir.path().display().to_string(), &url, true).await;
}

#[tokio::test]
async fn postgres_keeps_the_log_as_rows() {
    let cluster = PostgresCluster::start();
    let url = cluster.create_database("evo_log_rows");
    a_long_chat_round_trips(open_store(&url).await.unwrap(), &url).await;
    a_line_inserted_mid_log_lands_in_place(open_store(&url).await.unwrap()).await;
    a_session_read_for_one_event_steps_like_the_whole_one(open_store(&url).await.unwrap()).await;
    let url = cluster.create_database("evo_log_rows_old");
    a_store_from_before_0013_reads_the_same(&url, &url, false).await;
}
