//! The Server Events log write (`Store::append_event_messages`) of the
//! fan-out bench's voice webhook, with bodies stored whole (as before
//! migration 0018) and with shared parts (a session's JSON stored once),
//! on SQLite, interleaved: each round appends the same batch to two stores
//! of the same schema, one per shape, in alternating order, so both see
//! the same machine. The batches are those of the bench's fan-out sample:
//! one user with K=3 active calls, a new call rung (three versions: each
//! `SessionInfoChanged`, `SessionInvite` beside the first, the user's
//! `ActiveSessionsChanged` list of four), then ended (`SessionInfoChanged`,
//! `SessionDisconnected`, the list of three). Each round is another user
//! of 2,000 (all followed). Prints p50/p90/p99 of each batch's write and
//! the database's pages after the run.
//!
//! `cargo bench -p evo-store --bench event_log` (`cargo test -p evo-store
//! --bench event_log` runs a few rounds only).

use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::Utc;
use evo_store::events::{EventFeed, NewEventMessage, SharedParts};
use evo_store::{open_store, Store};

/// Users and rounds under `cargo bench` (which passes `--bench`); a few
/// otherwise (`cargo test --benches` only checks that it runs).
fn sizes() -> (usize, usize) {
    if std::env::args().any(|arg| arg == "--bench") {
        (2_000, 1_000)
    } else {
        (20, 10)
    }
}

/// A session's JSON of the bench's size (its reads return 4,385 bytes for
/// three sessions): the shape of `SessionInfo`, `n` making it unique.
fn session_json(id: &str, version: u64, state: &str) -> Bytes {
    let log: Vec<String> = (0..version + 2)
        .map(|i| {
            format!(r#"{{"date":"2026-11-26T16:00:{i:02}.000Z","message":"line {i} of {id}"}}"#)
        })
        .collect();
    Bytes::from(format!(
        r#"{{"dialState":"Active","callState":"{state}","queueState":"None","accountId":"acc_0001","accountName":"Bench","customerId":"cus_0001","customerBreadcrumb":[{{"id":"cus_0001","name":"Bench Customer"}}],"customerName":"Bench Customer","endpointId":"num_{id}","endpointName":"+15550100","toAddress":"+15550100","fromAddress":"+15557770000","channel":"Voice","ended":false,"callSid":"CA{id}","holdReason":"None","displayName":"+15557770000 → +15550100","log":[{}],"members":[{{"identity":"+15557770000","isOriginalMember":true,"applicationData":{{}},"callState":"{state}","role":"Caller","callSid":"CA{id}","muted":false}}],"callbackNumber":"+15557770000","direction":"Incoming","wasMissed":false,"id":"ses-{id}","version":{version},"dateCreated":"2026-11-26T16:00:00.000Z","dateLastModified":"2026-11-26T16:00:0{version}.000Z"}}"#,
        log.join(",")
    ))
}

struct Message {
    selector: &'static str,
    session: (String, u64),
    parts: Vec<Bytes>,
    list: bool,
}

/// The bench's two batches for user `u`, round `r`.
fn batches(u: usize, r: usize) -> [Vec<Message>; 2] {
    let standing: Vec<Bytes> = (0..3)
        .map(|k| session_json(&format!("u{u}k{k}"), 1, "Connected"))
        .collect();
    let id = format!("r{r}");
    let sid = format!("ses-{id}");
    let v: Vec<Bytes> = (1..=3)
        .map(|version| session_json(&id, version, "Ringing"))
        .collect();
    let ended = session_json(&id, 4, "Completed");
    let one = |selector, version, part: &Bytes| Message {
        selector,
        session: (sid.clone(), version),
        parts: vec![part.clone()],
        list: false,
    };
    let mut joined = standing.clone();
    joined.push(v[0].clone());
    let open = vec![
        one("cmd.SessionInfoChanged", 1, &v[0]),
        one("cmd.SessionInvite", 1, &v[0]),
        Message {
            selector: "cmd.ActiveSessionsChanged",
            session: (sid.clone(), 1),
            parts: joined,
            list: true,
        },
        one("cmd.SessionInfoChanged", 2, &v[1]),
        one("cmd.SessionInfoChanged", 3, &v[2]),
    ];
    let end = vec![
        one("cmd.SessionInfoChanged", 4, &ended),
        one("cmd.SessionDisconnected", 4, &ended),
        Message {
            selector: "cmd.ActiveSessionsChanged",
            session: (sid.clone(), 4),
            parts: standing,
            list: true,
        },
    ];
    [open, end]
}

const HEAD: &str = "{\"sessions\":[";
const TAIL: &str = "]}";

fn to_new(user: &str, messages: &[Message], shared: bool) -> Vec<NewEventMessage> {
    messages
        .iter()
        .map(|m| {
            let (body, at) = if m.list {
                (format!("{HEAD}{TAIL}"), HEAD.len())
            } else {
                (String::new(), 0)
            };
            let mut new = NewEventMessage {
                user_id: user.into(),
                dedupe: format!("{}@{}:{}", m.session.0, m.session.1, m.selector),
                selector: m.selector.to_string(),
                account_only: false,
                body,
                session: Some(m.session.clone()),
                shared: Some(SharedParts {
                    at,
                    parts: m.parts.clone(),
                }),
            };
            if !shared {
                new.body = new.full_body();
                new.shared = None;
            }
            new
        })
        .collect()
}

fn quantiles(mut times: Vec<Duration>) -> String {
    times.sort_unstable();
    let q = |p: f64| times[((times.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e3;
    format!(
        "p50 {:.3} ms  p90 {:.3} ms  p99 {:.3} ms",
        q(0.5),
        q(0.9),
        q(0.99)
    )
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (users, rounds) = sizes();
    runtime.block_on(async {
        let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
        let mut stores: Vec<std::sync::Arc<dyn Store>> = Vec::new();
        for dir in &dirs {
            stores.push(open_store(&dir.path().display().to_string()).await.unwrap());
        }
        let now = Utc::now();
        for store in &stores {
            for u in 0..users {
                let feed = EventFeed {
                    user_id: format!("usr-{u}").into(),
                    account_id: "acc_0001".into(),
                    manager: false,
                };
                store
                    .follow_event_feed(&feed, now, now + chrono::Duration::hours(1))
                    .await
                    .unwrap();
            }
        }
        // [shape][batch]: whole bodies, shared parts.
        let mut times: [[Vec<Duration>; 2]; 2] = Default::default();
        for r in 0..rounds {
            let u = (r * 7919) % users;
            let user = format!("usr-{u}");
            let [open, end] = batches(u, r);
            let order = if r % 2 == 0 { [0, 1] } else { [1, 0] };
            for (b, batch) in [open, end].iter().enumerate() {
                for &shape in &order {
                    let messages = to_new(&user, batch, shape == 1);
                    let started = Instant::now();
                    let ids = stores[shape]
                        .append_event_messages(&messages, Utc::now())
                        .await
                        .unwrap();
                    times[shape][b].push(started.elapsed());
                    assert!(ids.iter().all(Option::is_some));
                }
            }
        }
        for (shape, name) in ["whole bodies", "shared parts"].iter().enumerate() {
            for (b, batch) in ["open (5 messages)", "end (3 messages)"].iter().enumerate() {
                println!(
                    "{name:>12}, {batch:<18} {}",
                    quantiles(times[shape][b].clone())
                );
            }
        }
        for (shape, dir) in ["whole bodies", "shared parts"].iter().zip(&dirs) {
            let file = evo_store::sql::sqlite_file(dir.path());
            let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
            let wal = std::fs::metadata(format!("{}-wal", file.display()))
                .map(|m| m.len())
                .unwrap_or(0);
            println!("{shape:>12}: database file {size} bytes, WAL {wal} bytes");
        }
    });
}
