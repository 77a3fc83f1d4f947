//! Two `evo-voice serve` processes on one PostgreSQL database: what the
//! scale-out test (`tests/scale_out.rs`) and the cross-node propagation
//! benchmark (`benches/cross_node.rs`) share: the seeded account, a running
//! node, signed webhooks, a node's Server Events stream, and the load run
//! whose latencies the benchmark reports and whose order the test checks.

use super::free_port;
use std::collections::{BTreeSet, HashMap};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use evo_twilio::params::FormParams;
use evo_twilio::signature::compute_signature;
use tokio::sync::mpsc;

pub const SID: &str = "AC00000000000000000000000000005ca1";
pub const TOKEN: &str = "scale-token";
pub const NUMBER: &str = "+15550400";

pub const EMAIL: &str = "agent@scale.test";
pub const PASSWORD: &str = "pw-scale-12";

/// Seeds an account, a user and a number ringing the user; returns the
/// account id.
pub fn seed(url: &str) -> String {
    super::seed_agent(
        ("EVO_DATABASE_URL", url.as_ref()),
        &super::Agent {
            account: "Scale",
            twilio_sid: SID,
            twilio_token: TOKEN,
            email: EMAIL,
            password: PASSWORD,
            number: NUMBER,
        },
    )
}

/// A running node.
pub struct Node {
    pub port: u16,
    child: Child,
}

impl Node {
    pub fn start(url: &str) -> Node {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_evo-voice"))
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .env("EVO_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
            .env("EVO_DATABASE_URL", url)
            .env("EVO_JWT_SECRET", "scale-out-test-secret-0123456789abcdef")
            .stdout(Stdio::null())
            .stderr(match std::env::var_os("EVO_SCALE_LOG") {
                Some(dir) => Stdio::from(
                    std::fs::File::create(std::path::Path::new(&dir).join(format!("{port}.log")))
                        .unwrap(),
                ),
                None => Stdio::null(),
            })
            .spawn()
            .unwrap();
        Node { port, child }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn bearer(http: &reqwest::Client, node: &Node) -> String {
    let response = http
        .post(node.url("/auth/credentials"))
        .json(&serde_json::json!({"userName": EMAIL, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    body["bearerToken"].as_str().unwrap().to_string()
}

/// A `SessionInfoChanged` frame as a node's stream delivered it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub at: Instant,
    pub id: String,
    pub state: String,
}

/// Reads a node's Server Events stream into a channel of
/// `SessionInfoChanged` frames (other messages are skipped).
pub async fn watch(node: &Node, token: &str) -> mpsc::UnboundedReceiver<Seen> {
    // No overall timeout: it would cut the stream.
    let mut response = reqwest::Client::new()
        .get(node.url("/event-stream"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (sender, receiver) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        // Frames can be large (`ActiveSessionsChanged` carries the whole
        // list): search only the bytes not searched yet, so that reading
        // keeps up and the server never drops this stream as too slow.
        let mut buffer: Vec<u8> = Vec::new();
        let mut searched: usize = 0;
        while let Ok(Some(chunk)) = response.chunk().await {
            let at = Instant::now();
            buffer.extend_from_slice(&chunk);
            loop {
                let from = searched.saturating_sub(1);
                let Some(end) = buffer[from..]
                    .windows(2)
                    .position(|w| w == b"\n\n")
                    .map(|i| from + i)
                else {
                    searched = buffer.len();
                    break;
                };
                let frame = String::from_utf8_lossy(&buffer[..end + 2]).to_string();
                buffer.drain(..end + 2);
                searched = 0;
                let Some(data) = frame.lines().find_map(|l| l.strip_prefix("data: ")) else {
                    continue;
                };
                let Some(json) = data.strip_prefix("cmd.SessionInfoChanged ") else {
                    continue;
                };
                let json: serde_json::Value = serde_json::from_str(json).unwrap();
                let seen = Seen {
                    at,
                    id: json["id"].as_str().unwrap_or_default().to_string(),
                    state: json["callState"].as_str().unwrap_or_default().to_string(),
                };
                if sender.send(seen).is_err() {
                    return;
                }
            }
        }
    });
    receiver
}

/// Sends one signed webhook; the status, or `None` when no answer came.
pub async fn webhook(
    http: &reqwest::Client,
    node: &Node,
    path: &str,
    pairs: &[(&str, &str)],
) -> Option<u16> {
    let url = node.url(path);
    let params = FormParams::from_pairs(pairs.iter().copied());
    let signature = compute_signature(TOKEN, &url, &params);
    super::post_signed(http, &url, &params, &signature)
        .await
        .ok()
        .map(|r| r.status().as_u16())
}

/// The voice webhook of a new inbound call (Twilio's parameters,
/// https://www.twilio.com/docs/voice/twiml#request-parameters).
pub async fn ring(http: &reqwest::Client, node: &Node, call: &str) -> Option<u16> {
    webhook(
        http,
        node,
        "/twilio/voice",
        &[
            ("AccountSid", SID),
            ("CallSid", call),
            ("From", "+15557770000"),
            ("To", NUMBER),
            ("CallStatus", "ringing"),
            ("Direction", "inbound"),
        ],
    )
    .await
}

/// The root call's final status callback
/// (https://www.twilio.com/docs/voice/api/call-resource#statuscallback).
pub async fn hang_up(http: &reqwest::Client, node: &Node, call: &str) -> Option<u16> {
    webhook(
        http,
        node,
        "/twilio/status",
        &[
            ("AccountSid", SID),
            ("CallSid", call),
            ("CallStatus", "completed"),
            ("SequenceNumber", "1"),
            ("CallDuration", "0"),
        ],
    )
    .await
}

pub async fn active_ids(
    http: &reqwest::Client,
    node: &Node,
    token: &str,
) -> Option<BTreeSet<String>> {
    let response = http
        .get(node.url("/sessions/active"))
        .bearer_auth(token)
        .send()
        .await
        .ok()?;
    if response.status() != 200 {
        return None;
    }
    let body: serde_json::Value = response.json().await.ok()?;
    Some(
        body["sessions"]
            .as_array()?
            .iter()
            .filter_map(|s| s["id"].as_str().map(String::from))
            .collect(),
    )
}

/// Whether a frame in `shown` shows a session at least as far as `wanted`:
/// a node that reads a session after two commits shows only the later
/// state (the index takes the newest version).
pub fn reached(shown: &str, wanted: &str) -> bool {
    let rank = |state: &str| usize::from(state == "Disconnected");
    shown == wanted || rank(shown) > rank(wanted)
}

/// What one stream showed, in order, with each session's frames indexed:
/// looking a commit up must not scan everything the stream showed before
/// (over the bench's 2,400 commits a scan per commit held a runtime worker
/// for seconds, beside the tasks stamping the frames' arrival).
#[derive(Default)]
pub struct Log {
    seen: Vec<Seen>,
    by_session: HashMap<String, Vec<usize>>,
}

impl Log {
    pub fn push(&mut self, seen: Seen) {
        self.by_session
            .entry(seen.id.clone())
            .or_default()
            .push(self.seen.len());
        self.seen.push(seen);
    }

    /// When the stream first showed `id` in `state` (or later).
    pub fn shown(&self, id: &str, state: &str) -> Option<Instant> {
        self.by_session
            .get(id)?
            .iter()
            .map(|&i| &self.seen[i])
            .find(|s| reached(&s.state, state))
            .map(|s| s.at)
    }

    /// Every frame, in the order shown.
    pub fn seen(&self) -> &[Seen] {
        &self.seen
    }
}

/// Waits for the frame showing `id` in `state` (or later) on a stream; its
/// arrival time.
pub async fn arrival(
    stream: &mut mpsc::UnboundedReceiver<Seen>,
    log: &mut Log,
    id: &str,
    state: &str,
    wait: Duration,
) -> Instant {
    if let Some(at) = log.shown(id, state) {
        return at;
    }
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let seen = tokio::time::timeout_at(deadline, stream.recv())
            .await
            .unwrap_or_else(|_| panic!("{id} never reached {state} within {wait:?}"))
            .expect("the stream stays open");
        let found = seen.id == id && reached(&seen.state, state);
        let at = seen.at;
        log.push(seen);
        if found {
            return at;
        }
    }
}

/// The order in which a stream showed each session's states must be the
/// order they happened in: never `Disconnected` before `Ringing`.
pub fn assert_in_order(log: &[Seen], node: &str) {
    let mut ended: BTreeSet<&str> = BTreeSet::new();
    for seen in log {
        if seen.state == "Disconnected" {
            ended.insert(&seen.id);
        } else {
            assert!(
                !ended.contains(seen.id.as_str()),
                "{node} showed {} as {} after it ended",
                seen.id,
                seen.state
            );
        }
    }
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

/// Each node's stream and what it has shown so far.
pub struct Watched {
    pub streams: [mpsc::UnboundedReceiver<Seen>; 2],
    pub logs: [Log; 2],
}

impl Watched {
    pub async fn open(nodes: &[Node; 2], token: &str) -> Watched {
        Watched {
            streams: [watch(&nodes[0], token).await, watch(&nodes[1], token).await],
            logs: [Log::default(), Log::default()],
        }
    }
}

/// What one load run measured, one entry per commit (in no order).
pub struct Propagation {
    /// From the webhook being sent to the *other* node's stream showing it.
    pub latencies: Vec<Duration>,
    /// From the committing node's stream showing it to the other node's.
    pub hops: Vec<Duration>,
}

/// `writers` concurrent writers each place `calls` calls: a voice webhook
/// (the call rings the user's number) to one node, then its final status
/// callback to the other (so lists stay short, as in a real contact
/// centre); every commit is then awaited on both streams. `round` keeps the
/// call SIDs of repeated runs apart. Panics if a webhook is refused or a
/// stream does not show a commit within 10 s.
pub async fn load(
    http: &reqwest::Client,
    nodes: &Arc<[Node; 2]>,
    account: &str,
    watched: &mut Watched,
    round: u8,
    writers: u32,
    calls: u32,
) -> Propagation {
    type Sent = (String, &'static str, Instant, usize);
    let sent_at: Arc<Mutex<Vec<Sent>>> = Arc::default();
    let mut tasks = Vec::new();
    for writer in 0..writers {
        let http = http.clone();
        let nodes = nodes.clone();
        let sent_at = sent_at.clone();
        let account = account.to_string();
        tasks.push(tokio::spawn(async move {
            for n in 0..calls {
                let call = format!("CA{round:02x}{writer:02}{n:028}");
                let id = format!("ses-{account}-{call}");
                let target = ((writer + n) % 2) as usize;
                let sent = Instant::now();
                assert_eq!(ring(&http, &nodes[target], &call).await, Some(200));
                sent_at
                    .lock()
                    .unwrap()
                    .push((id.clone(), "Ringing", sent, 1 - target));
                let sent = Instant::now();
                assert_eq!(hang_up(&http, &nodes[1 - target], &call).await, Some(204));
                sent_at
                    .lock()
                    .unwrap()
                    .push((id, "Disconnected", sent, target));
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let sent_at = sent_at.lock().unwrap().clone();
    let (mut latencies, mut hops) = (Vec::new(), Vec::new());
    let Watched { streams, logs } = watched;
    for (id, state, sent, other) in &sent_at {
        let remote = arrival(
            &mut streams[*other],
            &mut logs[*other],
            id,
            state,
            Duration::from_secs(10),
        )
        .await;
        let local = arrival(
            &mut streams[1 - *other],
            &mut logs[1 - *other],
            id,
            state,
            Duration::from_secs(10),
        )
        .await;
        latencies.push(remote.saturating_duration_since(*sent));
        hops.push(remote.saturating_duration_since(local));
    }
    latencies.sort();
    hops.sort();
    Propagation { latencies, hops }
}
