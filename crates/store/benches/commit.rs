//! The cost of one more event in the server's write path (issue 12), for a
//! session that already has 10, 1,000 and 10,000 events (a long SMS chat:
//! one stream that only grows): what `SessionService::apply` does per
//! webhook without HTTP and without the group committer's batching: clone
//! the indexed session, one reducer step, compact it, render its
//! `SessionInfo` JSON (the live index's copy), and `Store::commit` on
//! SQLite (the event appended to the log, the snapshot and the history row
//! rewritten, one transaction).
//!
//! Two snapshot formats side by side, in one run: `compact` (what the
//! server writes: no event list) and `with_events` (the first format, the
//! session carrying its whole event map, as before the compact snapshots).
//! The bytes each commit writes are printed once per case.
//!
//! Each measured commit is undone, untimed, by writing the session back at
//! its earlier version, so every iteration starts from exactly `prior`
//! events. The event log holds only the events committed while measuring
//! (a log append is one B-tree insert, its cost independent of the rows
//! before it).
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
        account_id: "acc-1".into(),
        endpoint_id: "num-1".into(),
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
fn step(base: &Session, event: &SessionEvent, compact: bool) -> (Session, Vec<u8>) {
    let mut next = base.clone();
    try_apply_in_place(&mut next, event).expect("an in-order message needs no history");
    if compact {
        next.compact();
    }
    let json = evo_wire::json::to_json(&next.to_info());
    (next, json)
}

fn apply_and_commit(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = runtime.block_on(SqlStore::open_sqlite(dir.path())).unwrap();
    let mut group = c.benchmark_group("apply_and_commit");
    for prior in PRIOR {
        for (format, compact) in [("compact", true), ("with_events", false)] {
            // A session of its own per case, stored at `prior` events.
            let mut base = chat(&format!("ses-acc-1-chat-{prior}-{format}"), prior);
            if compact {
                base.compact();
            }
            runtime
                .block_on(store.commit(&[SessionChange {
                    session: base.clone(),
                    event: None,
                    expected_version: None,
                    keys: Vec::new(),
                }]))
                .unwrap();
            let (probe, json) = step(&base, &message(prior), compact);
            eprintln!(
                "apply_and_commit/{format}/{prior}: bytes per commit: snapshot {}, event {}, history info {}",
                serde_json::to_string(&probe).unwrap().len(),
                serde_json::to_string(&message(prior)).unwrap().len(),
                json.len(),
            );
            let mut next_message = prior;
            group.bench_with_input(BenchmarkId::new(format, prior), &prior, |b, _| {
                b.iter_custom(|iters| {
                    let mut spent = Duration::ZERO;
                    for _ in 0..iters {
                        let event = message(next_message);
                        next_message += 1;
                        let started = Instant::now();
                        let (next, json) = step(&base, &event, compact);
                        runtime
                            .block_on(store.commit(&[SessionChange {
                                session: next,
                                event: Some(event),
                                expected_version: Some(base.version()),
                                keys: Vec::new(),
                            }]))
                            .unwrap();
                        spent += started.elapsed();
                        black_box(json);
                        // Back to `prior` events, untimed.
                        runtime
                            .block_on(store.commit(&[SessionChange {
                                session: base.clone(),
                                event: None,
                                expected_version: Some(base.version() + 1),
                                keys: Vec::new(),
                            }]))
                            .unwrap();
                    }
                    spent
                })
            });
        }
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
