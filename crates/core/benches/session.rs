//! Hot paths of a session (issue 12): the projection to `SessionInfo` and
//! its JSON and XML bodies, one reducer step after 10, 1,000 and 10,000
//! prior events (a long SMS chat: one stream that only grows), and that
//! step plus the snapshot encode the store writes per commit, for a session
//! carrying its event map and for a compact one. The store's commit is in
//! `crates/store/benches/commit.rs`.
//!
//! Each step in `reducer_step` and `apply_and_snapshot` runs on a fresh
//! clone of the session, as the server did before issue 12's session 6
//! (it stepped a copy of the whole session): a clone's vectors have no spare capacity, so the step's first
//! push copies the stream's events and the log. That copy, not the fold,
//! is what grows with the prior events here; the snapshot encode grows
//! with the event map it carries, or, compact, with the log only; the
//! snapshot the store writes since migration 0013 (`Session::snapshot`,
//! without the log and the dedupe hashes) does not grow.
//!
//! `step_without_log` is the step the server takes since issue 12's
//! session 6: in place on a session read for one event (no log line, no
//! dedupe key), no clone of anything that grows.
//!
//! `cargo bench -p evo-core --bench session`

use std::hint::black_box;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion};
use evo_core::api::sessions::{FlowChannels, SessionDirections, SessionMemberRoles};
use evo_core::event::{Clock, EventKind, EventSource, Party, SessionEvent};
use evo_core::reducer::{apply_in_place, open, try_apply_in_place};
use evo_core::scenario::{build, Cast, Kind};
use evo_core::session::{Session, SessionHeader};

const PRIOR: [usize; 3] = [10, 1_000, 10_000];

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap()
}

/// A warm transfer with hold, as an agent's list shows it mid-call.
fn typical_session() -> Session {
    let cast = Cast {
        account_id: "acc-1".into(),
        account_name: "Acme".into(),
        customer: None,
        breadcrumb: Vec::new(),
        number: ("num-1".into(), "+15550001000".into(), "Sales line".into()),
        agents: vec![
            ("u1".into(), "alice".into(), "Alice".into()),
            ("u2".into(), "bob".into(), "Bob".into()),
        ],
        caller: "+15557770000".into(),
    };
    let scenario = build(Kind::WarmTransfer, &cast, "0001", start());
    let mut session = open(scenario.session_id, scenario.header, scenario.opened_at);
    for event in &scenario.events {
        apply_in_place(&mut session, event);
    }
    session
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

fn chat(prior: usize) -> Session {
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
    let mut session = open("ses-acc-1-chat", header, start());
    for n in 0..prior {
        apply_in_place(&mut session, &message(n));
    }
    session
}

fn session_info(c: &mut Criterion) {
    let session = typical_session();
    let info = session.to_info();
    let mut group = c.benchmark_group("session_info");
    group.bench_function("to_info", |b| b.iter(|| black_box(&session).to_info()));
    group.bench_function("json", |b| {
        b.iter(|| evo_wire::json::to_json(black_box(&info)))
    });
    group.bench_function("xml", |b| {
        b.iter(|| evo_wire::xml::to_xml(black_box(&info)))
    });
    group.finish();
}

fn reducer_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("reducer_step");
    for prior in PRIOR {
        let session = chat(prior);
        let next = message(prior);
        group.bench_with_input(BenchmarkId::from_parameter(prior), &prior, |b, _| {
            b.iter_batched(
                || session.clone(),
                |mut s| {
                    apply_in_place(&mut s, black_box(&next));
                    s
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

/// The step plus the snapshot encode, for three snapshot formats: the
/// session carrying its event map (`with_events`, the first format),
/// compact (no event list, `Session::compact`) and compact without the log
/// (`Session::snapshot`, what the store writes since migration 0013).
fn apply_and_snapshot(c: &mut Criterion) {
    let mut group = c.benchmark_group("apply_and_snapshot");
    for prior in PRIOR {
        let full = chat(prior);
        let mut compact = full.clone();
        compact.compact();
        let next = message(prior);
        for (format, session) in [
            ("with_events", &full),
            ("compact", &compact),
            ("compact_without_log", &compact),
        ] {
            group.bench_with_input(BenchmarkId::new(format, prior), &prior, |b, _| {
                b.iter_batched(
                    || session.clone(),
                    |mut s| {
                        try_apply_in_place(&mut s, black_box(&next))
                            .expect("an in-order message needs no history");
                        let snapshot = if format == "compact_without_log" {
                            // What the store writes since migration 0013:
                            // the log is rows, appended one line a step.
                            serde_json::to_vec(&s.snapshot()).unwrap()
                        } else {
                            serde_json::to_vec(&s).unwrap()
                        };
                        (snapshot, s)
                    },
                    BatchSize::LargeInput,
                )
            });
        }
    }
    group.finish();
}

/// One step in place on the session the server steps since issue 12's
/// session 6: compact and read for one event (`Session::elide_log`: no log
/// line, no dedupe key held), so nothing in it grows with the prior
/// events; plus the snapshot encode the store writes.
fn step_without_log(c: &mut Criterion) {
    let mut group = c.benchmark_group("step_without_log");
    for prior in PRIOR {
        let mut session = chat(prior);
        session.compact();
        let lines = session.state().log.len();
        session.elide_log(lines);
        let next = message(prior);
        group.bench_with_input(BenchmarkId::from_parameter(prior), &prior, |b, _| {
            b.iter_batched(
                || session.clone(),
                |mut s| {
                    try_apply_in_place(&mut s, black_box(&next))
                        .expect("an in-order message needs no history");
                    (serde_json::to_vec(&s.snapshot()).unwrap(), s)
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = session_info, reducer_step, apply_and_snapshot, step_without_log
}
criterion_main!(benches);
