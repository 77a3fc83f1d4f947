//! The fan-out phase's Server Events subscribers: `/event-stream` streams
//! read by a few tasks, each sending heartbeats the way ServiceStack's own
//! clients do, so the phase may last longer than the server's idle timeout
//! (3 heartbeat intervals).
//!
//! ServiceStack's JS `ServerEventsClient` (github.com/ServiceStack/
//! servicestack-client, `src/index.ts`, the `onConnect` branch of
//! `onMessage`, commit 7a06bcd): on `cmd.onConnect` it `parseInt`s the
//! string `heartbeatIntervalMs`, then `setInterval`s a `POST` with no body
//! and `Content-Type: text/plain` to the message's `heartbeatUrl` every
//! `heartbeatIntervalMs` (10,000 if absent), the first one interval after
//! the connect; a non-OK answer makes it reconnect. It sends the client's
//! credentials with it (cookies there; the bench's bearer token here: the
//! server checks the subscription's own principal either way). Here one
//! task sends the heartbeats of a share of the streams over one kept-alive
//! connection, so 2,000 subscribers at 10 s cost the bench 200 small
//! requests a second on a few tasks.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use http::{HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::bench::load::{get, host_header, micros, Conn, Outcome};

/// One Server Events subscriber: its waiter. When a waiter is set, the
/// first bytes of the stream containing its needle complete it.
pub struct Subscriber {
    pub waiter: Arc<Mutex<Option<Waiter>>>,
    /// Set when the stream ended: a sample for it fails at once instead of
    /// waiting out its timeout (2,000 of them took hours once).
    pub closed: Arc<std::sync::atomic::AtomicBool>,
    /// What its `cmd.onConnect` said.
    pub connected: Connected,
}

pub struct Waiter {
    pub needle: Vec<u8>,
    pub seen: tokio::sync::oneshot::Sender<Instant>,
}

/// The fields of `cmd.onConnect` a client acts on (ServiceStack's flat map
/// of strings; the JS client `parseInt`s the numbers).
#[derive(Debug, Clone)]
pub struct Connected {
    /// `heartbeatUrl`'s path and query (`/event-heartbeat?id=…`).
    pub heartbeat: http::Uri,
    pub heartbeat_interval: Duration,
    pub idle_timeout: Duration,
}

impl Connected {
    /// The `cmd.onConnect` frame in the first bytes of a stream, once it
    /// is whole (`None` before).
    fn find(head: &[u8]) -> anyhow::Result<Option<Connected>> {
        const MARK: &[u8] = b"data: cmd.onConnect ";
        let Some(at) = find(head, MARK) else {
            return Ok(None);
        };
        let json = &head[at + MARK.len()..];
        let Some(end) = json.iter().position(|b| *b == b'\n') else {
            return Ok(None);
        };
        let body: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&json[..end]).context("cmd.onConnect is not a JSON object")?;
        let text = |name: &str| -> anyhow::Result<String> {
            match body.get(name) {
                Some(serde_json::Value::String(text)) => Ok(text.clone()),
                Some(serde_json::Value::Number(n)) => Ok(n.to_string()),
                _ => anyhow::bail!("cmd.onConnect has no {name}"),
            }
        };
        let ms = |name: &str| -> anyhow::Result<Duration> {
            let value = text(name)?;
            Ok(Duration::from_millis(value.trim().parse().with_context(
                || format!("cmd.onConnect's {name} is not a number: {value}"),
            )?))
        };
        let url: http::Uri = text("heartbeatUrl")?
            .parse()
            .context("cmd.onConnect's heartbeatUrl is not a URL")?;
        let heartbeat = url
            .path_and_query()
            .context("heartbeatUrl has no path")?
            .as_str()
            .parse()?;
        Ok(Some(Connected {
            heartbeat,
            heartbeat_interval: ms("heartbeatIntervalMs")?,
            idle_timeout: ms("idleTimeoutMs")?,
        }))
    }
}

/// Server Events subscribers, read by a few tasks rather than two tasks a
/// stream: each reader task polls its streams (connection and body
/// together) in a `FuturesUnordered`, which polls only the streams whose
/// sockets woke it. So 2,000 idle streams cost the bench a few tasks, and a
/// message costs one wake-up of one reader. With heartbeats, as many tasks
/// send them.
pub struct Subscribers {
    readers: Vec<tokio::sync::mpsc::UnboundedSender<ReadStream>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    beats: Option<Heartbeats>,
    pub list: Vec<Subscriber>,
}

type ReadStream = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

impl Drop for Subscribers {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Subscribers {
    /// `readers` reader tasks, no stream yet; with `heartbeats`, each
    /// stream is sent heartbeats as its `cmd.onConnect` asks, by as many
    /// tasks as readers, to `addr`.
    pub fn new(readers: usize, heartbeats: Option<SocketAddr>) -> Subscribers {
        let mut senders = Vec::new();
        let mut tasks = Vec::new();
        for _ in 0..readers.max(1) {
            let (sender, mut added) = tokio::sync::mpsc::unbounded_channel::<ReadStream>();
            senders.push(sender);
            tasks.push(tokio::spawn(async move {
                use futures::StreamExt;
                let mut streams = futures::stream::FuturesUnordered::new();
                loop {
                    tokio::select! {
                        stream = added.recv() => match stream {
                            Some(stream) => streams.push(stream),
                            None => return,
                        },
                        Some(()) = streams.next(), if !streams.is_empty() => {}
                    }
                }
            }));
        }
        Subscribers {
            readers: senders,
            tasks,
            beats: heartbeats.map(|addr| Heartbeats::new(addr, readers.max(1))),
            list: Vec::new(),
        }
    }

    /// Connects to `/event-stream` with `token`, waits for the 200 and the
    /// `cmd.onConnect` frame, hands the stream to a reader and, with
    /// heartbeats, its heartbeats to a sender.
    pub async fn connect(&mut self, addr: SocketAddr, token: &HeaderValue) -> anyhow::Result<()> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr} failed"))?;
        stream.set_nodelay(true)?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        // Driven here until `cmd.onConnect` arrives, then by the reader.
        let mut connection = Box::pin(connection);
        let response = tokio::select! {
            response = sender.send_request(get(&host_header(addr), "/event-stream", token)) => response?,
            closed = &mut connection => anyhow::bail!("the connection closed: {closed:?}"),
        };
        anyhow::ensure!(
            response.status() == StatusCode::OK,
            "GET /event-stream answered {}",
            response.status()
        );
        let mut body = response.into_body();
        let mut head: Vec<u8> = Vec::new();
        let connected = loop {
            tokio::select! {
                frame = body.frame() => match frame {
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            head.extend_from_slice(&data);
                            if let Some(connected) = Connected::find(&head)? {
                                break connected;
                            }
                        }
                    }
                    Some(Err(error)) => anyhow::bail!("reading /event-stream failed: {error}"),
                    None => anyhow::bail!("/event-stream ended before cmd.onConnect"),
                },
                closed = &mut connection => anyhow::bail!("the connection closed: {closed:?}"),
            }
        };
        let waiter: Arc<Mutex<Option<Waiter>>> = Arc::new(Mutex::new(None));
        let shared = waiter.clone();
        let closed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let ended = closed.clone();
        let read = async move {
            let _sender = sender;
            // The end of the previous chunk, so a needle split across two
            // chunks is still found.
            let mut carry: Vec<u8> = Vec::new();
            while let Some(Ok(frame)) = body.frame().await {
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                let now = Instant::now();
                let mut slot = shared.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(waiting) = slot.as_ref() {
                    carry.extend_from_slice(&data);
                    if find(&carry, &waiting.needle).is_some() {
                        if let Some(done) = slot.take() {
                            let _ = done.seen.send(now);
                        }
                        carry.clear();
                    } else {
                        let keep = waiting.needle.len().min(carry.len());
                        carry.drain(..carry.len() - keep);
                    }
                } else {
                    carry.clear();
                }
            }
            ended.store(true, std::sync::atomic::Ordering::SeqCst);
            // A waiter already set learns it at once (its sender dropped).
            drop(shared.lock().unwrap_or_else(|e| e.into_inner()).take());
        };
        let both = async move {
            // The body ends when the connection does; the connection future
            // ends when the body is dropped: run them together until both.
            let _ = futures::future::join(connection, read).await;
        };
        let n = self.list.len();
        let reader = &self.readers[n % self.readers.len()];
        reader
            .send(Box::pin(both))
            .map_err(|_| anyhow::anyhow!("the subscribers' reader stopped"))?;
        if let Some(beats) = &self.beats {
            beats.add(n, &connected, token)?;
        }
        self.list.push(Subscriber {
            waiter,
            closed,
            connected,
        });
        Ok(())
    }

    /// The heartbeats sent so far (taken: the next call counts from here);
    /// `elapsed` is left to the caller.
    pub fn heartbeats(&self) -> Outcome {
        let mut all = Outcome::new();
        if let Some(beats) = &self.beats {
            for outcome in &beats.outcomes {
                let taken = std::mem::replace(
                    &mut *outcome.lock().unwrap_or_else(|e| e.into_inner()),
                    Outcome::new(),
                );
                all.merge(taken);
            }
        }
        all
    }
}

/// One stream's heartbeat, due at `due`.
struct Beat {
    due: tokio::time::Instant,
    path: http::Uri,
    token: HeaderValue,
    every: Duration,
}

/// Tasks sending the streams' heartbeats, each over one kept-alive
/// connection, each for the streams given to it, each heartbeat when due.
struct Heartbeats {
    senders: Vec<tokio::sync::mpsc::UnboundedSender<Beat>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    outcomes: Vec<Arc<Mutex<Outcome>>>,
}

impl Drop for Heartbeats {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Heartbeats {
    fn new(addr: SocketAddr, tasks: usize) -> Heartbeats {
        let mut beats = Heartbeats {
            senders: Vec::new(),
            tasks: Vec::new(),
            outcomes: Vec::new(),
        };
        for _ in 0..tasks {
            let (sender, added) = tokio::sync::mpsc::unbounded_channel::<Beat>();
            let outcome = Arc::new(Mutex::new(Outcome::new()));
            beats.senders.push(sender);
            beats.outcomes.push(outcome.clone());
            beats
                .tasks
                .push(tokio::spawn(send_heartbeats(addr, added, outcome)));
        }
        beats
    }

    /// Stream `n`'s heartbeats: the first one interval from now, as the JS
    /// client's `setInterval` from its `onConnect`.
    fn add(&self, n: usize, connected: &Connected, token: &HeaderValue) -> anyhow::Result<()> {
        // The JS client's fallback when the interval is missing or 0.
        let every = if connected.heartbeat_interval.is_zero() {
            Duration::from_secs(10)
        } else {
            connected.heartbeat_interval
        };
        self.senders[n % self.senders.len()]
            .send(Beat {
                due: tokio::time::Instant::now() + every,
                path: connected.heartbeat.clone(),
                token: token.clone(),
                every,
            })
            .map_err(|_| anyhow::anyhow!("the heartbeat sender stopped"))
    }
}

/// The heartbeat request: `POST`, no body, `Content-Type: text/plain`, the
/// subscriber's credentials.
fn heartbeat_request(host: &HeaderValue, beat: &Beat) -> Request<Full<Bytes>> {
    let mut request = Request::new(Full::new(Bytes::new()));
    *request.method_mut() = Method::POST;
    *request.uri_mut() = beat.path.clone();
    let headers = request.headers_mut();
    headers.insert(HOST, host.clone());
    headers.insert(AUTHORIZATION, beat.token.clone());
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    request
}

/// Sends each beat when due, then schedules its next; a beat the server
/// refuses (its subscription is gone) is an error and is not sent again.
async fn send_heartbeats(
    addr: SocketAddr,
    mut added: tokio::sync::mpsc::UnboundedReceiver<Beat>,
    outcome: Arc<Mutex<Outcome>>,
) {
    let host = host_header(addr);
    let mut conn: Option<Conn> = None;
    // Due times, earliest first; the beats themselves by index.
    let mut queue: BinaryHeap<Reverse<(tokio::time::Instant, usize)>> = BinaryHeap::new();
    let mut beats: Vec<Beat> = Vec::new();
    loop {
        let next = queue.peek().map(|Reverse((due, _))| *due);
        tokio::select! {
            beat = added.recv() => match beat {
                Some(beat) => {
                    queue.push(Reverse((beat.due, beats.len())));
                    beats.push(beat);
                }
                None => return,
            },
            () = tokio::time::sleep_until(next.unwrap_or_else(tokio::time::Instant::now)), if next.is_some() => {
                let Some(Reverse((_, index))) = queue.pop() else { continue };
                let beat = &mut beats[index];
                let sent = send_one(&mut conn, addr, &host, beat).await;
                let mut outcome = outcome.lock().unwrap_or_else(|e| e.into_inner());
                match sent {
                    Ok(took) => {
                        outcome.ok += 1;
                        let _ = outcome.latency.record(micros(took));
                        beat.due += beat.every;
                        queue.push(Reverse((beat.due, index)));
                    }
                    Err(error) => outcome.error(format!("heartbeat {}: {error:#}", beat.path)),
                }
            }
        }
    }
}

async fn send_one(
    conn: &mut Option<Conn>,
    addr: SocketAddr,
    host: &HeaderValue,
    beat: &Beat,
) -> anyhow::Result<Duration> {
    if conn.is_none() {
        *conn = Some(Conn::open(addr).await?);
    }
    let Some(open) = conn.as_mut() else {
        anyhow::bail!("no connection");
    };
    let begin = Instant::now();
    match open.send(heartbeat_request(host, beat)).await {
        Ok((status, _)) if status.is_success() => Ok(begin.elapsed()),
        Ok((status, body)) => {
            anyhow::bail!("answered {status}: {}", String::from_utf8_lossy(&body))
        }
        Err(error) => {
            *conn = None;
            Err(error)
        }
    }
}

/// Where `needle` starts in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::data;
    use evo_server::app::config::{Config, StoreLocation};
    use evo_server::startup::Application;

    #[test]
    fn on_connect_is_read_as_the_js_client_reads_it() {
        // The frame `GET /event-stream` starts with (ServiceStack's flat
        // map of strings), split where a read may split it.
        let frame = b"id: 3\ndata: cmd.onConnect {\"id\":\"sub1\",\"userId\":\"usr1\",\"heartbeatUrl\":\"http://127.0.0.1:8080/event-heartbeat?id=sub1\",\"heartbeatIntervalMs\":\"10000\",\"idleTimeoutMs\":\"30000\"}\n\n";
        assert!(Connected::find(&frame[..40]).unwrap().is_none());
        assert!(Connected::find(&frame[..frame.len() - 3])
            .unwrap()
            .is_none());
        let connected = Connected::find(frame).unwrap().unwrap();
        assert_eq!(connected.heartbeat, "/event-heartbeat?id=sub1");
        assert_eq!(connected.heartbeat_interval, Duration::from_secs(10));
        assert_eq!(connected.idle_timeout, Duration::from_secs(30));
        let bad = b"data: cmd.onConnect {\"id\":\"sub1\",\"heartbeatUrl\":\"/event-heartbeat?id=sub1\",\"heartbeatIntervalMs\":\"ten\",\"idleTimeoutMs\":\"30000\"}\n";
        assert!(Connected::find(bad).is_err());
    }

    /// A bench subscriber outlives the server's idle timeout because of its
    /// heartbeats: the real server in this process with a 100 ms interval
    /// (idle timeout 300 ms), one subscriber that beats and, connected
    /// after it, one stream that sends none. The silent one is closed by
    /// the server; then the beating one is still open, its heartbeats were
    /// all answered, and the server still knows its subscription.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn heartbeats_keep_a_subscriber_past_the_idle_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let store = evo_store::open_store(&dir.path().display().to_string())
            .await
            .unwrap();
        let set = data::seed(store.as_ref(), 2, &indicatif::ProgressBar::hidden())
            .await
            .unwrap();
        drop(store);
        let mut config = Config::for_store(
            "127.0.0.1:0".parse().unwrap(),
            StoreLocation::DataDir(dir.path().to_path_buf()),
        );
        config.jwt_secret = Some(data::JWT_SECRET.into());
        config.events.heartbeat = Duration::from_millis(100);
        let app = Application::build(config).await.unwrap();
        let addr = app.local_addr();
        let server = tokio::spawn(app.run_until_stopped());

        let mut beating = Subscribers::new(1, Some(addr));
        beating
            .connect(addr, &set.users[0].authorization)
            .await
            .unwrap();
        let connected = beating.list[0].connected.clone();
        assert_eq!(connected.heartbeat_interval, Duration::from_millis(100));
        assert_eq!(connected.idle_timeout, Duration::from_millis(300));

        let mut silent = Subscribers::new(1, None);
        silent
            .connect(addr, &set.users[1].authorization)
            .await
            .unwrap();
        // Until the server closes the silent stream (the bound only keeps a
        // broken server from hanging the test).
        let waited = Instant::now();
        while !silent.list[0]
            .closed
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            assert!(
                waited.elapsed() < Duration::from_secs(60),
                "the server never closed a stream that sent no heartbeats"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(silent.heartbeats().ok == 0, "the silent stream sent none");

        assert!(
            !beating.list[0]
                .closed
                .load(std::sync::atomic::Ordering::SeqCst),
            "the server closed a stream that sent its heartbeats"
        );
        let beats = beating.heartbeats();
        assert_eq!(beats.errors, 0, "{:?}", beats.first_error);
        assert!(beats.ok >= 1, "no heartbeat was sent");
        // The server still holds the subscription: one more heartbeat of
        // its own is answered 200 (404 once it is gone).
        let mut conn = Conn::open(addr).await.unwrap();
        let beat = Beat {
            due: tokio::time::Instant::now(),
            path: connected.heartbeat.clone(),
            token: set.users[0].authorization.clone(),
            every: connected.heartbeat_interval,
        };
        let (status, _) = conn
            .send(heartbeat_request(&host_header(addr), &beat))
            .await
            .unwrap();
        assert_eq!(status, StatusCode::OK);
        server.abort();
    }
}
