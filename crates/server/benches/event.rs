//! The whole per-event server path (issue 12: "the cost of one event
//! independent of how many events the session already has"), for a chat
//! that already has 10, 1,000 and 10,000 messages, on SQLite
//! (`synchronous = full`):
//!
//! - `service/{n}`: `SessionService::apply` (what a webhook's handler
//!   calls: read the session, step the reducer, commit through the group
//!   committer, update the live index entry, publish) and the
//!   `SessionInfo` JSON a Server Events message carries
//!   (`LiveSession::json`, assembled once per change and shared by every
//!   user's message).
//! - `replica/{n}`: the same steps as the code before issue 12's session
//!   6 took them, with public APIs: `Store::session` (the session with its
//!   whole log and every dedupe key), one reducer step in place, the same
//!   commit through a `GroupCommitter`, and the entry's JSON rendered whole
//!   (`to_info`, every line), on a second chat of the same length in the
//!   same store.
//!
//! The sizes and both paths are taken in turn, round after round (a loaded
//! machine's noise then falls on all alike), every other round in reverse
//! order; each round adds one message to each chat. Prints the median and quartiles of each.
//!
//! `cargo bench -p evo-server --bench event`; in a debug build:
//! `cargo test -p evo-server --bench event -- --bench`. It uses only APIs
//! that existed before the change, so the same file measures an earlier
//! commit too.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use evo_core::api::sessions::{FlowChannels, SessionDirections, SessionMemberRoles};
use evo_core::event::{Clock, EventKind, EventSource, Party, SessionEvent};
use evo_core::ids::SessionId;
use evo_core::reducer::{apply_in_place, open, try_apply_in_place};
use evo_core::session::{Session, SessionHeader};
use evo_server::app::config::{Config, StoreLocation};
use evo_server::app::sessions::Applied;
use evo_server::app::state::AppState;
use evo_store::group_commit::GroupCommitter;
use evo_store::{SessionChange, Store};

const PRIOR: [usize; 3] = [10, 1_000, 10_000];
/// Rounds (`EVENT_BENCH_ROUNDS` to change).
const ROUNDS: usize = 31;

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
    session.compact();
    session
}

/// The webhook path as `SessionService` takes it, plus the message bytes
/// (and the time their assembly took).
async fn service(state: &AppState, id: &SessionId, event: SessionEvent) -> (Bytes, Duration) {
    match state.sessions.apply(id, event, Vec::new()).await.unwrap() {
        Applied::Changed(live) => {
            let started = Instant::now();
            let json = Bytes::clone(&live.json());
            (json, started.elapsed())
        }
        other => panic!("a new message changes the session: {other:?}"),
    }
}

/// The path before: the whole session read, stepped, committed, rendered.
async fn replica(
    store: &dyn Store,
    committer: &GroupCommitter,
    id: &SessionId,
    event: SessionEvent,
) -> Bytes {
    let mut session = store.session(id).await.unwrap().unwrap();
    session.compact();
    let expected_version = session.version();
    assert!(try_apply_in_place(&mut session, &event).expect("in order"));
    session.compact();
    let committed = committer
        .submit(SessionChange {
            session,
            event: Some(event),
            expected_version: Some(expected_version),
            keys: Vec::new(),
        })
        .await
        .unwrap()
        .session;
    Bytes::copy_from_slice(&evo_wire::json::to_json(&committed.to_info()))
}

fn main() {
    if !std::env::args().any(|arg| arg == "--bench") {
        // `cargo test --all-targets` builds and runs benches as tests.
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    runtime.block_on(async {
        let store: Arc<dyn Store> = evo_store::open_store(&dir.path().display().to_string())
            .await
            .unwrap();
        // Every chat stored before anything is measured.
        // `EVENT_BENCH_PATHS=service` (or `replica`) measures one alone.
        let only = std::env::var("EVENT_BENCH_PATHS").ok();
        let mut chats = Vec::new();
        for prior in PRIOR {
            for path in ["service", "replica"] {
                if only.as_deref().is_some_and(|only| only != path) {
                    continue;
                }
                let session = chat(&format!("ses-acc1-{path}-{prior}"), prior);
                store
                    .commit(&[SessionChange {
                        session: session.clone(),
                        event: None,
                        expected_version: None,
                        keys: Vec::new(),
                    }])
                    .await
                    .unwrap();
                chats.push((path, prior, session.id().clone()));
            }
        }
        let config = Config::for_store(
            "127.0.0.1:0".parse().unwrap(),
            StoreLocation::DataDir(dir.path().to_path_buf()),
        );
        // The live index is rebuilt from the stored chats, as at start.
        let state = AppState::build(config, store.clone()).await.unwrap();
        let committer = GroupCommitter::new(store.clone());
        let rounds: usize = std::env::var("EVENT_BENCH_ROUNDS")
            .ok()
            .and_then(|rounds| rounds.parse().ok())
            .unwrap_or(ROUNDS);
        let mut spent: Vec<Vec<Duration>> = vec![Vec::new(); chats.len()];
        let mut assembly: Vec<Vec<Duration>> = vec![Vec::new(); chats.len()];
        let mut sizes: Vec<usize> = vec![0; chats.len()];
        for round in 0..rounds {
            // Every other round backwards: no case always follows the same.
            let mut order: Vec<usize> = (0..chats.len()).collect();
            if round % 2 == 1 {
                order.reverse();
            }
            for index in order {
                let (path, prior, id) = &chats[index];
                let event = message(prior + round);
                let started = Instant::now();
                let json = match *path {
                    "service" => {
                        let (json, spent) = service(&state, id, event).await;
                        assembly[index].push(spent);
                        json
                    }
                    _ => replica(store.as_ref(), &committer, id, event).await,
                };
                spent[index].push(started.elapsed());
                sizes[index] = json.len();
            }
        }
        for ((((path, prior, _), times), size), assembly) in
            chats.iter().zip(&mut spent).zip(&sizes).zip(&mut assembly)
        {
            times.sort();
            assembly.sort();
            let assembled = assembly
                .get(rounds / 2)
                .map(|median| format!(", of which the message's JSON assembled {median:.2?}"))
                .unwrap_or_default();
            println!(
                "{path}/{prior}: {rounds} events, median {:.2?} (quartiles {:.2?} .. {:.2?}){assembled}; SessionInfo JSON {size} bytes",
                times[rounds / 2],
                times[rounds / 4],
                times[3 * rounds / 4],
            );
        }
    });
}
