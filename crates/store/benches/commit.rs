//! The cost of one more event in the server's write path (issue 12), for a
//! session that already has 10, 1,000 and 10,000 events (a long SMS chat:
//! one stream that only grows), on SQLite (`synchronous = full`):
//!
//! - `apply_and_commit/rows/{n}`: what `SessionService::apply` does per
//!   webhook without HTTP and without the group committer's batching:
//!   clone the indexed session, one reducer step, compact it, render its
//!   `SessionInfo` JSON (the live index's copy), and `Store::commit` (the
//!   event appended to the event log, the snapshot and the history row
//!   rewritten without the log, the new log line appended as a row: one
//!   transaction). The same definition as the `compact` case before
//!   migration 0013 (run the bench at an earlier commit for it).
//! - `commit_only/{n}`: `Store::commit` alone (the step done untimed);
//!   `commit_interleaved/{n}` (printed before criterion's cases): the
//!   same, the three sizes in turn for 41 rounds, median and quartiles.
//! - `render_info/{n}`: the `SessionInfo` JSON alone (what the live index
//!   and a Server Events message carry: the whole log, by contract).
//! - `load/{n}`: `Store::session`, the session with its whole log read
//!   back (snapshot plus `n` log rows).
//! - `load_for_event/{n}`: `Store::session_for_event`, what the server
//!   reads per event since issue 12's session 6: the snapshot, the last log
//!   row's position and whether the event is logged (no line, no key).
//!
//! The bytes each commit writes are printed once per size.
//!
//! Each measured commit is undone, untimed, by writing the session back at
//! its earlier version (which deletes the appended log row), so every
//! iteration starts from exactly `prior` events. The event log holds only
//! the events committed while measuring (a log append is one B-tree
//! insert, its cost independent of the rows before it).
//!
//! `cargo bench -p evo-store --bench commit`; in a debug build:
//! `cargo test -p evo-store --bench commit -- --bench`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use evo_core::api::sessions::{FlowChannels, SessionDirections, SessionMemberRoles};
use evo_core::event::{Clock, EventKind, EventSource, Party, SessionEvent};
use evo_core::reducer::{apply_in_place, open, try_apply_in_place};
use evo_core::session::{Session, SessionHeader};
use evo_store::sql::SqlStore;
use evo_store::{SessionChange, Store};

const PRIOR: [usize; 3] = [10, 1_000, 10_000];

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap()
}

/// Inbound message `n` of a chat, in order (Twilio's MessageSid shape).
fn message(n: usize) -> SessionEvent {
    SessionEvent {
        at: start() + chrono::Duration::seconds(n as i64),
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

fn chat(id: &str, prior: usize) -> Session {
    let header = SessionHeader {
        account_id: "acc1".into(),
        endpoint_id: "num1".into(),
        channel: FlowChannels::Chat,
        direction: SessionDirections::Incoming,
        call_sid: Some("+15557770000:+15550001000".into()),
        from_address: Some("+15557770000".into()),
        to_address: Some("+15550001000".into()),
        origin: Some(Party {
            identity: "+15557770000".into(),
            endpoint_id: None,
            display_name: None,
            role: SessionMemberRoles::Caller,
        }),
        ..SessionHeader::default()
    };
    let mut session = open(id, header, start());
    for n in 0..prior {
        apply_in_place(&mut session, &message(n));
    }
    session
}

/// One webhook's work on `base` with `event`, as the server does it.
fn step(base: &Session, event: &SessionEvent) -> (Session, Vec<u8>) {
    let mut next = base.clone();
    try_apply_in_place(&mut next, event).expect("an in-order message needs no history");
    next.compact();
    let json = evo_wire::json::to_json(&next.to_info());
    (next, json)
}

/// Commits `next` (computed from `base`), timed, then writes `base` back,
/// untimed.
fn commit_and_undo(
    runtime: &tokio::runtime::Runtime,
    store: &SqlStore,
    base: &Session,
    next: Session,
    event: SessionEvent,
) -> Duration {
    let changes = [SessionChange {
        session: next,
        event: Some(event),
        expected_version: Some(base.version()),
        keys: Vec::new(),
    }];
    let started = Instant::now();
    runtime.block_on(store.commit(&changes)).unwrap();
    let spent = started.elapsed();
    // Dropping the session (its n log lines) is the caller's, not timed.
    drop(changes);
    runtime
        .block_on(store.commit(&[SessionChange {
            session: base.clone(),
            event: None,
            expected_version: Some(base.version() + 1),
            keys: Vec::new(),
        }]))
        .unwrap();
    spent
}

/// `Store::commit` alone, the sizes taken in turn round after round (a
/// loaded machine's noise then falls on every size alike); prints each
/// size's median and quartiles.
fn commit_interleaved(
    runtime: &tokio::runtime::Runtime,
    store: &SqlStore,
    bases: &[(usize, Session)],
) {
    const ROUNDS: usize = 41;
    let mut spent: Vec<Vec<Duration>> = vec![Vec::new(); bases.len()];
    for round in 0..ROUNDS {
        for (index, (prior, base)) in bases.iter().enumerate() {
            let event = message(1_000_000 + prior * 1_000 + round);
            let mut next = base.clone();
            try_apply_in_place(&mut next, &event).expect("in order");
            next.compact();
            spent[index].push(commit_and_undo(runtime, store, base, next, event));
        }
    }
    for ((prior, _), times) in bases.iter().zip(&mut spent) {
        times.sort();
        eprintln!(
            "commit_interleaved/{prior}: {ROUNDS} commits, median {:.2?} (quartiles {:.2?} .. {:.2?})",
            times[ROUNDS / 2],
            times[ROUNDS / 4],
            times[3 * ROUNDS / 4],
        );
    }
}

fn apply_and_commit(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = runtime.block_on(SqlStore::open_sqlite(dir.path())).unwrap();
    // Every size stored before any is measured: each is measured on the
    // same database (its tables and indexes hold all three chats).
    let bases: Vec<(usize, Session)> = PRIOR
        .into_iter()
        .map(|prior| {
            let mut base = chat(&format!("ses-acc1-chat-{prior}"), prior);
            base.compact();
            runtime
                .block_on(store.commit(&[SessionChange {
                    session: base.clone(),
                    event: None,
                    expected_version: None,
                    keys: Vec::new(),
                }]))
                .unwrap();
            // As the group committer does once a commit succeeded: the
            // next commit writes only the lines added after.
            base.mark_log_stored();
            (prior, base)
        })
        .collect();
    commit_interleaved(&runtime, &store, &bases);
    let mut group = c.benchmark_group("apply_and_commit");
    for (prior, base) in bases {
        let (probe, json) = step(&base, &message(prior));
        let fixed = evo_wire::json::to_json(&probe.to_info_without_log());
        let new_lines: usize = probe.state().log[probe.log_stored()..]
            .iter()
            .map(|line| 24 + line.message.len())
            .sum();
        eprintln!(
            "apply_and_commit/{prior}: bytes per commit: snapshot {}, event {}, history info {} (without the log; {} with it), log rows {} ({} line(s) of {}); SessionInfo JSON rendered for the live index {}",
            serde_json::to_string(&probe.snapshot()).unwrap().len(),
            serde_json::to_string(&message(prior)).unwrap().len(),
            fixed.len(),
            json.len(),
            new_lines,
            probe.state().log.len() - probe.log_stored(),
            probe.state().log.len(),
            json.len(),
        );
        let mut next_message = prior;
        let mut next_event = || {
            let event = message(next_message);
            next_message += 1;
            event
        };
        group.bench_with_input(BenchmarkId::new("rows", prior), &prior, |b, _| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    let event = next_event();
                    let started = Instant::now();
                    let (next, json) = step(&base, &event);
                    spent += started.elapsed();
                    spent += commit_and_undo(&runtime, &store, &base, next, event);
                    black_box(json);
                }
                spent
            })
        });
        group.bench_with_input(BenchmarkId::new("commit_only", prior), &prior, |b, _| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    let event = next_event();
                    let mut next = base.clone();
                    try_apply_in_place(&mut next, &event).expect("in order");
                    next.compact();
                    spent += commit_and_undo(&runtime, &store, &base, next, event);
                }
                spent
            })
        });
        group.bench_with_input(BenchmarkId::new("render_info", prior), &prior, |b, _| {
            b.iter(|| evo_wire::json::to_json(&black_box(&probe).to_info()))
        });
        group.bench_with_input(BenchmarkId::new("load_for_event", prior), &prior, |b, _| {
            let key = message(prior).dedupe_key();
            b.iter(|| {
                runtime
                    .block_on(store.session_for_event(black_box(base.id()), &key))
                    .unwrap()
                    .unwrap()
            })
        });
        group.bench_with_input(BenchmarkId::new("load", prior), &prior, |b, _| {
            b.iter(|| {
                runtime
                    .block_on(store.session(black_box(base.id())))
                    .unwrap()
                    .unwrap()
            })
        });
    }
    group.finish();
}
fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = apply_and_commit
}
criterion_main!(benches);
