//! The open-loop generator of the half-rate run: request `k` is due at
//! `start + k / rate`, and its latency counts from then (coordinated
//! omission corrected, as wrk2 does), so the generator's own lateness is
//! part of the figure and must be far below the server's latency.
//!
//! Why it is built this way (docs/benchmarks.md, "Half-rate latency and
//! paired history comparison"): the first generator ran its 64 connections
//! as tasks of the bench's multi-threaded runtime, woken by a semaphore a
//! pacing thread filled every 250 µs, each request going through hyper's
//! client (a request, a header map, a channel to the connection's task and
//! back). That cost about 44 µs of client CPU per request (twice the
//! server's) and a cross-thread wake-up per request, so at half of the peak
//! rate the bench needed more than a core of the two it shares with the
//! server, and its tasks waited milliseconds for one.
//!
//! This one runs on a thread of its own with a current-thread runtime (every
//! connection's task and I/O on that thread: no cross-thread wake-up per
//! request), sends each request as pre-rendered bytes (one `write` per
//! request, `httparse` reads the response head), and is paced by a thread
//! that sleeps until the next request is due (`nanosleep`: microseconds,
//! where tokio's timer rounds up to the next millisecond) and then spins
//! for the last few microseconds, releasing every request due by then.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use http::HeaderValue;
use indicatif::ProgressBar;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::bench::load::{micros, Outcome};

/// When each request of an open-loop run is due: request `k` (0-based) at
/// `k / rate` seconds after the start, for the requests due before the end.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    rate: f64,
    duration: Duration,
}

impl Schedule {
    pub fn new(rate: f64, duration: Duration) -> Schedule {
        Schedule {
            rate: rate.max(1e-3),
            duration,
        }
    }

    /// How many requests are due within the run.
    pub fn total(&self) -> u64 {
        // Due at 0, 1/rate, …: those strictly before the end.
        (self.duration.as_secs_f64() * self.rate).ceil() as u64
    }

    /// When request `k` is due, from the start.
    pub fn due(&self, k: u64) -> Duration {
        Duration::from_secs_f64(k as f64 / self.rate)
    }

    /// How many requests are due at `elapsed` after the start (those due
    /// at or before it), at most `total()`.
    pub fn due_by(&self, elapsed: Duration) -> u64 {
        let due = (elapsed.as_secs_f64() * self.rate).floor() as u64 + 1;
        // Float rounding must never release a request before its time.
        let due = if due > 0 && self.due(due - 1) > elapsed {
            due - 1
        } else {
            due
        };
        due.min(self.total())
    }
}

/// The pacing thread spins (instead of sleeping) once the next request is
/// due within this: a wake-up from a sleep costs a few microseconds more
/// (timer slack set to 1 ns, then the scheduler). Short, because at tens of
/// thousands of requests a second the next one is always this close: a
/// longer spin would take one of the two cores from the server.
const SPIN: Duration = Duration::from_micros(5);

/// How long the generator waits for one response before counting it as an
/// error (a stalled server must not hang the bench).
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

/// One open-loop run's result.
pub struct Run {
    pub outcome: Outcome,
    /// The thread ids of the generator (connections) and the pacer, for
    /// pinning or priorities (see `Options`).
    pub threads: String,
}

/// How the generator's threads are placed.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Pin the generator's two threads to these CPUs (`taskset`).
    pub cpus: Option<Vec<usize>>,
}

/// `GET /sessions/active` at `rate` requests/s for `duration` over
/// `connections` kept-alive connections to `addr` (opened before the start),
/// bearer tokens rotating over all users. Blocking: it runs on threads of
/// its own and returns when every due request was answered (or failed).
pub fn run(
    addr: SocketAddr,
    connections: usize,
    tokens: &[HeaderValue],
    schedule: Schedule,
    options: &Options,
    bar: &ProgressBar,
) -> Run {
    let requests: Arc<Vec<Vec<u8>>> = Arc::new(
        tokens
            .iter()
            .map(|token| request_bytes(addr, "/sessions/active", token))
            .collect(),
    );
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            let mut outcome = Outcome::new();
            outcome.error(format!("starting the generator's runtime failed: {error}"));
            return Run {
                outcome,
                threads: String::new(),
            };
        }
    };
    let mut threads = Vec::new();
    if let Some(cpus) = &options.cpus {
        threads.push(pin_this_thread(cpus));
    }
    runtime.block_on(generate(
        addr,
        connections.max(1),
        requests,
        schedule,
        options.clone(),
        bar.clone(),
        threads,
    ))
}

async fn generate(
    addr: SocketAddr,
    connections: usize,
    requests: Arc<Vec<Vec<u8>>>,
    schedule: Schedule,
    options: Options,
    bar: ProgressBar,
    mut threads: Vec<String>,
) -> Run {
    let mut outcome = Outcome::new();
    // Every connection is open before the first request is due, so no
    // handshake is in the figures.
    let mut conns = Vec::with_capacity(connections);
    for _ in 0..connections {
        match RawConn::open(addr).await {
            Ok(conn) => conns.push(Some(conn)),
            Err(error) => {
                outcome.error(format!("{error:#}"));
                conns.push(None);
            }
        }
    }
    let permits = Arc::new(tokio::sync::Semaphore::new(0));
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let pacer = {
        let permits = permits.clone();
        let cpus = options.cpus.clone();
        std::thread::Builder::new()
            .name("bench-pacer".into())
            .spawn(move || {
                let pinned = cpus.as_deref().map(pin_this_thread);
                precise_sleeps();
                pace(started, schedule, &permits, connections);
                pinned
            })
    };
    let pacer = match pacer {
        Ok(pacer) => pacer,
        Err(error) => {
            outcome.error(format!("starting the pacing thread failed: {error}"));
            return Run {
                outcome,
                threads: String::new(),
            };
        }
    };
    let mut tasks = Vec::with_capacity(connections);
    for (i, conn) in conns.into_iter().enumerate() {
        let permits = permits.clone();
        let next = next.clone();
        let requests = requests.clone();
        let bar = bar.clone();
        tasks.push(tokio::spawn(async move {
            let mut outcome = Outcome::new();
            let mut conn = conn;
            let mut token = i;
            loop {
                match permits.acquire().await {
                    Ok(permit) => permit.forget(),
                    Err(_) => break,
                }
                // Permits are released in order and handed out first come,
                // first served: the k-th taken is request k, due by now.
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= schedule.total() {
                    break;
                }
                let due = started + schedule.due(k);
                let sent = Instant::now();
                let _ = outcome
                    .lateness
                    .record(micros(sent.saturating_duration_since(due)));
                if conn.is_none() {
                    match RawConn::open(addr).await {
                        Ok(opened) => conn = Some(opened),
                        Err(error) => {
                            outcome.error(format!("{error:#}"));
                            continue;
                        }
                    }
                }
                let Some(open) = conn.as_mut() else { continue };
                let request = &requests[token % requests.len()];
                token += connections;
                match tokio::time::timeout(RESPONSE_TIMEOUT, open.exchange(request)).await {
                    Ok(Ok(200)) => {
                        outcome.ok += 1;
                        let now = Instant::now();
                        let _ = outcome.latency.record(micros(now - due));
                        let _ = outcome.from_send.record(micros(now - sent));
                    }
                    Ok(Ok(status)) => {
                        outcome.error(format!("GET /sessions/active answered {status}"));
                    }
                    Ok(Err(error)) => {
                        outcome.error(format!("GET /sessions/active: {error:#}"));
                        conn = None;
                    }
                    Err(_) => {
                        outcome.error(format!(
                            "GET /sessions/active: no response within {RESPONSE_TIMEOUT:?}"
                        ));
                        conn = None;
                    }
                }
                if k % 1024 == 0 {
                    bar.set_position(k);
                }
            }
            outcome
        }));
    }
    for task in tasks {
        match task.await {
            Ok(one) => outcome.merge(one),
            Err(error) => outcome.error(format!("a generator task failed: {error}")),
        }
    }
    outcome.elapsed = started.elapsed();
    bar.set_position(outcome.ok + outcome.errors);
    match pacer.join() {
        Ok(Some(pinned)) => threads.push(pinned),
        Ok(None) => {}
        Err(_) => outcome.error("the pacing thread panicked".into()),
    }
    Run {
        outcome,
        threads: threads.join("; "),
    }
}

/// Releases a permit for each request when it is due, then one more per
/// connection so that every connection's task sees the end.
fn pace(
    started: Instant,
    schedule: Schedule,
    permits: &tokio::sync::Semaphore,
    connections: usize,
) {
    let total = schedule.total();
    let mut released = 0u64;
    while released < total {
        let now = Instant::now();
        let due = schedule.due_by(now - started);
        if due > released {
            permits.add_permits((due - released) as usize);
            released = due;
            continue;
        }
        let next = started + schedule.due(released);
        let wait = next.saturating_duration_since(now);
        if wait > SPIN {
            std::thread::sleep(wait - SPIN);
        } else {
            std::hint::spin_loop();
        }
    }
    permits.add_permits(connections);
}

/// A GET as the bytes sent on the wire (HTTP/1.1, keep-alive by default).
pub fn request_bytes(addr: SocketAddr, path: &str, authorization: &HeaderValue) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(64 + authorization.len());
    bytes.extend_from_slice(b"GET ");
    bytes.extend_from_slice(path.as_bytes());
    bytes.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    bytes.extend_from_slice(addr.to_string().as_bytes());
    bytes.extend_from_slice(b"\r\nauthorization: ");
    bytes.extend_from_slice(authorization.as_bytes());
    bytes.extend_from_slice(b"\r\n\r\n");
    bytes
}

/// Where a complete response ends in `buf`, and its status: `None` while
/// the head or the body is still incomplete. Only `content-length` bodies
/// (what both servers send for these responses).
pub fn response_end(buf: &[u8]) -> anyhow::Result<Option<(u16, usize)>> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    let head = match response.parse(buf).context("a malformed response head")? {
        httparse::Status::Partial => return Ok(None),
        httparse::Status::Complete(head) => head,
    };
    let status = response.code.unwrap_or(0);
    let mut length = None;
    for header in response.headers.iter() {
        if header.name.eq_ignore_ascii_case("content-length") {
            let value = std::str::from_utf8(header.value).ok();
            length = Some(
                value
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .context("a malformed content-length")?,
            );
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            anyhow::bail!("a response without content-length (transfer-encoding)");
        }
    }
    let end = head + length.context("a response without content-length")?;
    Ok((buf.len() >= end).then_some((status, end)))
}

/// One kept-alive connection that sends pre-rendered requests.
struct RawConn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl RawConn {
    async fn open(addr: SocketAddr) -> anyhow::Result<RawConn> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr} failed"))?;
        stream.set_nodelay(true)?;
        Ok(RawConn {
            stream,
            buf: Vec::with_capacity(16 * 1024),
        })
    }

    /// Sends one request and reads its whole response; its status.
    async fn exchange(&mut self, request: &[u8]) -> anyhow::Result<u16> {
        self.stream.write_all(request).await?;
        self.buf.clear();
        loop {
            if self.buf.capacity() - self.buf.len() < 4096 {
                self.buf.reserve(16 * 1024);
            }
            let read = self.stream.read_buf(&mut self.buf).await?;
            anyhow::ensure!(read > 0, "the server closed the connection");
            if let Some((status, end)) = response_end(&self.buf)? {
                // One request at a time: nothing may follow the response.
                anyhow::ensure!(end == self.buf.len(), "bytes after the response");
                return Ok(status);
            }
        }
    }
}

/// Restricts the calling thread to `cpus`; what was done, for the report.
#[cfg(target_os = "linux")]
fn pin_this_thread(cpus: &[usize]) -> String {
    let name = std::thread::current()
        .name()
        .unwrap_or("generator")
        .to_string();
    let mut set = rustix::thread::CpuSet::new();
    for &cpu in cpus {
        set.set(cpu);
    }
    match rustix::thread::sched_setaffinity(None, &set) {
        Ok(()) => format!("{name} on CPUs {cpus:?}"),
        Err(error) => format!("{name}: pinning failed ({error})"),
    }
}

#[cfg(not(target_os = "linux"))]
fn pin_this_thread(_cpus: &[usize]) -> String {
    "not pinned (Linux only)".to_string()
}

/// Sleeps of the calling thread end when asked, not up to 50 µs later (the
/// kernel's default timer slack for an ordinary thread).
#[cfg(target_os = "linux")]
fn precise_sleeps() {
    let _ = rustix::thread::set_current_timer_slack(std::num::NonZeroU64::new(1));
}

#[cfg(not(target_os = "linux"))]
fn precise_sleeps() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_releases_each_request_at_its_due_time_and_none_after_the_end() {
        // 1,000/s for 10 ms: requests 0..10, due at 0, 1, …, 9 ms.
        let schedule = Schedule::new(1000.0, Duration::from_millis(10));
        assert_eq!(schedule.total(), 10);
        assert_eq!(schedule.due(0), Duration::ZERO);
        assert_eq!(schedule.due(3), Duration::from_millis(3));
        assert_eq!(schedule.due_by(Duration::ZERO), 1);
        assert_eq!(schedule.due_by(Duration::from_micros(999)), 1);
        assert_eq!(schedule.due_by(Duration::from_millis(1)), 2);
        assert_eq!(schedule.due_by(Duration::from_micros(9_500)), 10);
        assert_eq!(schedule.due_by(Duration::from_secs(5)), 10);
        // A rate that does not divide the run: 3/s for 1 s → due at 0,
        // 1/3 and 2/3 s.
        let thirds = Schedule::new(3.0, Duration::from_secs(1));
        assert_eq!(thirds.total(), 3);
        assert_eq!(thirds.due_by(Duration::from_millis(333)), 1);
        assert_eq!(thirds.due_by(Duration::from_millis(334)), 2);
    }

    #[test]
    fn due_by_never_counts_a_request_whose_time_has_not_come() {
        let schedule = Schedule::new(29_123.7, Duration::from_secs(2));
        for micros in (0..2_000_000u64).step_by(997) {
            let elapsed = Duration::from_micros(micros);
            let due = schedule.due_by(elapsed);
            assert!(due >= 1);
            assert!(schedule.due(due - 1) <= elapsed, "at {micros} µs");
            if due < schedule.total() {
                assert!(schedule.due(due) > elapsed, "at {micros} µs");
            }
        }
    }

    #[test]
    fn a_request_is_the_bytes_a_client_would_send() {
        let addr: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let token = HeaderValue::from_static("Bearer abc");
        assert_eq!(
            request_bytes(addr, "/sessions/active", &token),
            b"GET /sessions/active HTTP/1.1\r\nhost: 127.0.0.1:8080\r\nauthorization: Bearer abc\r\n\r\n"
        );
    }

    #[test]
    fn a_response_ends_after_its_content_length() {
        let whole =
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nContent-Length: 4\r\n\r\n{\"a\"";
        let head = whole.len() - 4;
        assert_eq!(response_end(&whole[..10]).unwrap(), None);
        assert_eq!(response_end(&whole[..head]).unwrap(), None);
        assert_eq!(response_end(&whole[..head + 3]).unwrap(), None);
        assert_eq!(response_end(whole).unwrap(), Some((200, whole.len())));
        let unauthorized = b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(
            response_end(unauthorized).unwrap(),
            Some((401, unauthorized.len()))
        );
        assert!(response_end(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n").is_err());
        assert!(response_end(b"HTTP/1.1 200 OK\r\n\r\n").is_err());
        assert!(response_end(b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n").is_err());
    }
}
