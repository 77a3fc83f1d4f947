//! The load generator: raw hyper HTTP/1.1 client connections (keep-alive,
//! no pool, no redirects), requests built from pre-built header values,
//! latencies in HDR histograms. It shares the machine with the server, so
//! it does as little as it can per request.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use hdrhistogram::Histogram;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use http::{HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use indicatif::ProgressBar;
use tokio::net::TcpStream;

/// Latencies are recorded in microseconds, up to a minute.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("static histogram bounds are valid")
}

/// What one phase measured.
#[derive(Debug)]
pub struct Outcome {
    pub ok: u64,
    pub errors: u64,
    /// The first error, for the report.
    pub first_error: Option<String>,
    pub latency: Histogram<u64>,
    /// Open loop only: how late the generator sent each request after it
    /// was due (included in `latency`).
    pub lateness: Histogram<u64>,
    /// Open loop only: how late the generator noticed each request was
    /// due (its pacing; part of `lateness`, which adds the wait for an
    /// idle connection).
    pub pacing: Histogram<u64>,
    /// Open loop only: from when the request was written to its connection
    /// until its whole response was read (the server's time, the network
    /// and the client reading it, without the generator's lateness).
    pub from_send: Histogram<u64>,
    pub elapsed: Duration,
}

impl Outcome {
    pub fn new() -> Self {
        Outcome {
            ok: 0,
            errors: 0,
            first_error: None,
            latency: histogram(),
            lateness: histogram(),
            pacing: histogram(),
            from_send: histogram(),
            elapsed: Duration::ZERO,
        }
    }

    pub fn per_second(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// A latency percentile in milliseconds.
    pub fn ms(&self, quantile: f64) -> f64 {
        self.latency.value_at_quantile(quantile) as f64 / 1000.0
    }

    pub fn error(&mut self, what: String) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(what);
        }
    }

    /// Adds another run's counts and latencies (not its elapsed time).
    pub fn merge(&mut self, other: Outcome) {
        self.ok += other.ok;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        // Both histograms have the same bounds, so adding cannot fail.
        let _ = self.latency.add(&other.latency);
        let _ = self.lateness.add(&other.lateness);
        let _ = self.pacing.add(&other.pacing);
        let _ = self.from_send.add(&other.from_send);
    }
}

/// One open HTTP/1.1 connection.
pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> anyhow::Result<Conn> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr} failed"))?;
        stream.set_nodelay(true)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Conn { sender })
    }

    /// Sends a request and reads the whole response.
    pub async fn send(
        &mut self,
        request: Request<Full<Bytes>>,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }
}

/// A GET with a bearer token.
pub fn get(host: &HeaderValue, path: &'static str, token: &HeaderValue) -> Request<Full<Bytes>> {
    let mut request = Request::new(Full::new(Bytes::new()));
    *request.uri_mut() = http::Uri::from_static(path);
    let headers = request.headers_mut();
    headers.insert(HOST, host.clone());
    headers.insert(AUTHORIZATION, token.clone());
    request
}

/// A signed Twilio webhook, ready to send.
#[derive(Clone)]
pub struct Hook {
    pub path_and_query: http::Uri,
    pub body: Bytes,
    pub signature: HeaderValue,
}

impl Hook {
    pub fn request(&self, host: &HeaderValue) -> Request<Full<Bytes>> {
        let mut request = Request::new(Full::new(self.body.clone()));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = self.path_and_query.clone();
        let headers = request.headers_mut();
        headers.insert(HOST, host.clone());
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        headers.insert("x-twilio-signature", self.signature.clone());
        request
    }
}

/// Sends every script (one call's webhooks, in order, on one connection)
/// over `connections` connections; each webhook's latency is recorded and
/// any answer other than 2xx is an error.
pub async fn run_scripts(
    addr: SocketAddr,
    connections: usize,
    scripts: Vec<Vec<Hook>>,
    bar: &ProgressBar,
) -> Outcome {
    let host = host_header(addr);
    let scripts = Arc::new(scripts);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections.max(1) {
        let scripts = scripts.clone();
        let next = next.clone();
        let host = host.clone();
        let bar = bar.clone();
        tasks.push(tokio::spawn(async move {
            let mut outcome = Outcome::new();
            let mut conn = None;
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let Some(script) = scripts.get(n) else { break };
                for hook in script {
                    if conn.is_none() {
                        match Conn::open(addr).await {
                            Ok(opened) => conn = Some(opened),
                            Err(error) => {
                                outcome.error(format!("{error:#}"));
                                continue;
                            }
                        }
                    }
                    let Some(open) = conn.as_mut() else { continue };
                    let begin = Instant::now();
                    match open.send(hook.request(&host)).await {
                        Ok((status, _)) if status.is_success() => {
                            outcome.ok += 1;
                            let _ = outcome.latency.record(micros(begin.elapsed()));
                        }
                        Ok((status, body)) => outcome.error(format!(
                            "{} answered {status}: {}",
                            hook.path_and_query,
                            String::from_utf8_lossy(&body)
                        )),
                        Err(error) => {
                            outcome.error(format!("{}: {error:#}", hook.path_and_query));
                            conn = None;
                        }
                    }
                    bar.inc(1);
                }
            }
            outcome
        }));
    }
    collect(tasks, started).await
}

/// One client connection of a read load and where its token rotation is.
struct ReadConn {
    conn: Option<Conn>,
    /// The next token index; connection `i` of `c` uses `i, i + c, …`.
    next_token: usize,
}

/// Keep-alive connections to one server, reused across the runs (slices)
/// of one comparison, so that each run measures requests, not handshakes.
pub struct ReadLoad {
    addr: SocketAddr,
    host: HeaderValue,
    tokens: Arc<Vec<HeaderValue>>,
    conns: Vec<ReadConn>,
}

impl ReadLoad {
    /// Prepares `connections` connections to `addr` (opened on first use).
    pub fn new(addr: SocketAddr, connections: usize, tokens: Arc<Vec<HeaderValue>>) -> ReadLoad {
        ReadLoad {
            addr,
            host: host_header(addr),
            tokens,
            conns: (0..connections.max(1))
                .map(|i| ReadConn {
                    conn: None,
                    next_token: i,
                })
                .collect(),
        }
    }

    /// GETs `/sessions/active` for `duration` over the connections, as fast
    /// as the server answers (closed loop; the open loop is
    /// `open_loop::run`), with bearer tokens rotating over all users. A
    /// response other than 200 is an error.
    pub async fn run(&mut self, duration: Duration, bar: &ProgressBar) -> Outcome {
        let connections = self.conns.len();
        let started = Instant::now();
        let deadline = started + duration;
        let counter = Arc::new(AtomicU64::new(0));
        let ticker = {
            let bar = bar.clone();
            let counter = counter.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    bar.set_position(counter.load(Ordering::Relaxed));
                }
            })
        };
        let mut tasks = Vec::new();
        for mut slot in self.conns.drain(..) {
            let tokens = self.tokens.clone();
            let host = self.host.clone();
            let counter = counter.clone();
            let addr = self.addr;
            tasks.push(tokio::spawn(async move {
                let mut outcome = Outcome::new();
                loop {
                    let begin = Instant::now();
                    if begin >= deadline {
                        break;
                    }
                    if slot.conn.is_none() {
                        match Conn::open(addr).await {
                            Ok(opened) => slot.conn = Some(opened),
                            Err(error) => {
                                outcome.error(format!("{error:#}"));
                                tokio::time::sleep(Duration::from_millis(10)).await;
                                continue;
                            }
                        }
                    }
                    let Some(open) = slot.conn.as_mut() else {
                        continue;
                    };
                    let token = &tokens[slot.next_token % tokens.len()];
                    slot.next_token += connections;
                    match open.send(get(&host, "/sessions/active", token)).await {
                        Ok((StatusCode::OK, _)) => {
                            outcome.ok += 1;
                            let _ = outcome.latency.record(micros(begin.elapsed()));
                        }
                        Ok((status, body)) => outcome.error(format!(
                            "GET /sessions/active answered {status}: {}",
                            String::from_utf8_lossy(&body)
                        )),
                        Err(error) => {
                            outcome.error(format!("GET /sessions/active: {error:#}"));
                            slot.conn = None;
                        }
                    }
                    counter.fetch_add(1, Ordering::Relaxed);
                }
                (outcome, slot)
            }));
        }
        let mut total = Outcome::new();
        for task in tasks {
            match task.await {
                Ok((outcome, slot)) => {
                    total.merge(outcome);
                    self.conns.push(slot);
                }
                Err(error) => total.error(format!("a load task failed: {error}")),
            }
        }
        // A task that failed loses its connection: open a fresh one next run.
        while self.conns.len() < connections {
            let i = self.conns.len();
            self.conns.push(ReadConn {
                conn: None,
                next_token: i,
            });
        }
        total.elapsed = started.elapsed();
        ticker.abort();
        bar.set_position(counter.load(Ordering::Relaxed));
        total
    }
}

async fn collect(tasks: Vec<tokio::task::JoinHandle<Outcome>>, started: Instant) -> Outcome {
    let mut total = Outcome::new();
    for task in tasks {
        match task.await {
            Ok(outcome) => total.merge(outcome),
            Err(error) => total.error(format!("a load task failed: {error}")),
        }
    }
    total.elapsed = started.elapsed();
    total
}

pub fn host_header(addr: SocketAddr) -> HeaderValue {
    HeaderValue::from_str(&addr.to_string()).expect("a socket address is a valid header value")
}

pub fn micros(elapsed: Duration) -> u64 {
    (elapsed.as_micros() as u64).max(1)
}

/// CPU affinity of whole processes (every thread), to give the server and
/// the load generator their own cores during the half-rate run. With
/// util-linux's `taskset` (the project forbids `unsafe`, which a direct
/// `sched_setaffinity` call needs); without it nothing is pinned and the
/// report says so.
pub mod affinity {
    use std::process::{Command, Stdio};

    /// The CPUs this process may run on now (`Cpus_allowed_list`).
    pub fn allowed() -> Vec<usize> {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        status
            .lines()
            .find_map(|line| line.strip_prefix("Cpus_allowed_list:"))
            .map(|list| parse_list(list.trim()))
            .unwrap_or_default()
    }

    /// `0-2,4` → `[0, 1, 2, 4]`.
    fn parse_list(list: &str) -> Vec<usize> {
        let mut cpus = Vec::new();
        for part in list.split(',').filter(|p| !p.is_empty()) {
            let (from, to) = part.split_once('-').unwrap_or((part, part));
            if let (Ok(from), Ok(to)) = (from.parse::<usize>(), to.parse::<usize>()) {
                cpus.extend(from..=to);
            }
        }
        cpus
    }

    /// Restricts every thread of `pid` to `cpus` (threads it starts later
    /// inherit it).
    pub fn pin(pid: u32, cpus: &[usize]) -> std::io::Result<()> {
        let list: Vec<String> = cpus.iter().map(usize::to_string).collect();
        let status = Command::new("taskset")
            .args(["-a", "-p", "-c", &list.join(","), &pid.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        if status.success() {
            Ok(())
        } else {
            Err(std::io::Error::other(format!(
                "taskset exited with {status}"
            )))
        }
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn cpu_lists_parse_as_the_kernel_writes_them() {
            assert_eq!(super::parse_list("0-1"), vec![0, 1]);
            assert_eq!(super::parse_list("0-2,4,6-7"), vec![0, 1, 2, 4, 6, 7]);
            assert_eq!(super::parse_list("3"), vec![3]);
        }
    }
}
