//! Read-path load harness (issue 12): authenticated `GET /sessions/active`
//! against a static-bytes axum server answering the identical body.
//!
//! ```sh
//! cargo run -p evo-server --release --example readload -- [users] [per_user] [connections] [seconds]
//! ```
//!
//! Seeds `users` users (default 2,000), each with a phone number ringing
//! them and `per_user` (3) answered calls kept active, through
//! `SessionService` (the app API webhooks go through); signs one access token
//! per user; then runs, with the same keep-alive HTTP/1.1 client (hyper,
//! `connections` connections, two client threads sharing the machine with
//! the server as wrk would), closed-loop peak runs against evo-voice
//! (tokens rotating over every user) and against the static server, then
//! an open-loop run at half of evo-voice's peak (latency measured from the
//! intended send time, so queueing is not hidden). Prints req/s, p50/p99,
//! the ratio, and resident memory per active session (`VmRSS`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use evo_core::reducer;
use evo_core::scenario::{self, Kind};
use evo_server::auth::tokens::access_claims;
use http_body_util::{BodyExt, Empty};
use hyper::Request;

// Each example uses part of it.
#[allow(dead_code)]
#[path = "support/load_users.rs"]
mod load_users;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

struct Outcome {
    done: u64,
    errors: u64,
    secs: f64,
    latencies: Vec<Duration>,
    /// Server threads' CPU seconds during the phase.
    server_cpu: f64,
    /// Client threads' CPU seconds during the phase.
    client_cpu: f64,
}

impl Outcome {
    fn rate(&self) -> f64 {
        self.done as f64 / self.secs
    }
    fn pct(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[i].as_secs_f64() * 1e3
    }
    fn print(&self, label: &str) {
        println!(
            "{label:<32} {:>7.0} req/s  p50 {:>7.3} ms  p99 {:>7.3} ms  server {:>5.2} µs CPU/req  client {:>5.2} µs CPU/req  ({} requests, {} errors)",
            self.rate(),
            self.pct(0.5),
            self.pct(0.99),
            self.server_cpu / self.done.max(1) as f64 * 1e6,
            self.client_cpu / self.done.max(1) as f64 * 1e6,
            self.done,
            self.errors
        );
    }
}

/// Runs `connections` keep-alive connections for `secs` seconds. With
/// `rate`, each connection sends on a fixed schedule (open loop) and
/// latency counts from the scheduled time.
fn load(
    address: SocketAddr,
    tokens: Arc<Vec<String>>,
    connections: usize,
    secs: f64,
    rate: Option<f64>,
) -> Outcome {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("cli")
        .enable_all()
        .build()
        .expect("client runtime");
    runtime.block_on(async move {
        let stop = Arc::new(AtomicBool::new(false));
        let errors = Arc::new(AtomicU64::new(0));
        let warmup = Duration::from_millis(500);
        let started = Instant::now() + warmup;
        let mut tasks = Vec::new();
        for c in 0..connections {
            let tokens = tokens.clone();
            let stop = stop.clone();
            let errors = errors.clone();
            tasks.push(tokio::spawn(async move {
                let stream = tokio::net::TcpStream::connect(address).await.unwrap();
                stream.set_nodelay(true).unwrap();
                let io = hyper_util::rt::TokioIo::new(stream);
                let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
                tokio::spawn(conn);
                let mut latencies = Vec::with_capacity(200_000);
                let mut n = c;
                let interval = rate.map(|r| Duration::from_secs_f64(connections as f64 / r));
                // Spread the connections' schedules over one interval.
                let mut next = Instant::now()
                    + interval.map_or(Duration::ZERO, |i| i.mul_f64(c as f64 / connections as f64));
                while !stop.load(Ordering::Relaxed) {
                    let begin = match interval {
                        Some(interval) => {
                            tokio::time::sleep_until(next.into()).await;
                            let at = next;
                            next += interval;
                            at
                        }
                        None => Instant::now(),
                    };
                    let token = &tokens[n % tokens.len()];
                    n = n.wrapping_add(connections);
                    let request = Request::get("/sessions/active")
                        .header("host", "localhost")
                        .header("authorization", format!("Bearer {token}"))
                        .body(Empty::<Bytes>::new())
                        .unwrap();
                    let ok = match sender.send_request(request).await {
                        Ok(response) => {
                            let status = response.status();
                            let body = response.into_body().collect().await;
                            status.is_success() && body.is_ok_and(|b| b.to_bytes().len() > 20)
                        }
                        Err(_) => false,
                    };
                    let end = Instant::now();
                    if end < started {
                        continue;
                    }
                    if ok {
                        latencies.push(end - begin);
                    } else {
                        errors.fetch_add(1, Ordering::Relaxed);
                        if sender.ready().await.is_err() {
                            break;
                        }
                    }
                }
                latencies
            }));
        }
        tokio::time::sleep(warmup).await;
        let (server_cpu, client_cpu) = (load_users::cpu_secs("srv"), load_users::cpu_secs("cli"));
        tokio::time::sleep(Duration::from_secs_f64(secs)).await;
        stop.store(true, Ordering::Relaxed);
        let elapsed = started.elapsed().as_secs_f64();
        let (server_cpu, client_cpu) = (
            load_users::cpu_secs("srv") - server_cpu,
            load_users::cpu_secs("cli") - client_cpu,
        );
        let mut latencies = Vec::new();
        for task in tasks {
            latencies.extend(task.await.unwrap_or_default());
        }
        latencies.sort_unstable();
        Outcome {
            done: latencies.len() as u64,
            errors: errors.load(Ordering::Relaxed),
            secs: elapsed,
            latencies,
            server_cpu,
            client_cpu,
        }
    })
}

/// Nanoseconds this thread has run (`/proc/thread-self/schedstat`).
fn thread_run_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// `READLOAD_LAYERS=1`: the cost of each middleware layer on
/// `GET /sessions/active`, without the network: the router is called in
/// process (`tower::ServiceExt::oneshot`, one request at a time, tokens
/// rotating over every user), with every layer, without each one in turn,
/// and with none; configurations interleaved over `rounds` rounds, the
/// median of this thread's CPU time per request reported for each.
async fn layer_costs(state: evo_server::app::state::AppState, tokens: &[String], rounds: usize) {
    use evo_server::http::{router_with, Layer};
    use tower::ServiceExt;

    const PER_RUN: usize = 40_000;
    // `None`: `serve`'s router (the fused edge layer); `Some(omit)`: the
    // separate layers without `omit`.
    let mut configs: Vec<(String, Option<Vec<Layer>>)> =
        vec![("every layer".into(), Some(Vec::new()))];
    for layer in Layer::ALL.into_iter().filter(|l| *l != Layer::Cors) {
        configs.push((format!("without {layer:?}"), Some(vec![layer])));
    }
    configs.push(("no layer".into(), Some(Layer::ALL.to_vec())));
    configs.push(("fused (serve)".into(), None));
    let headers: Vec<axum::http::HeaderValue> = tokens
        .iter()
        .map(|t| axum::http::HeaderValue::from_str(&format!("Bearer {t}")).expect("token header"))
        .collect();
    let peer: SocketAddr = "127.0.0.1:40000".parse().expect("address");
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); configs.len()];
    let mut n = 0usize;
    for round in 0..=rounds {
        for (i, (_, omit)) in configs.iter().enumerate() {
            let router = match omit {
                Some(omit) => router_with(state.clone(), omit),
                None => evo_server::http::router(state.clone()),
            };
            let began = thread_run_ns();
            for _ in 0..PER_RUN {
                let mut request = axum::http::Request::get("/sessions/active")
                    .header(axum::http::header::HOST, "127.0.0.1")
                    .header(
                        axum::http::header::AUTHORIZATION,
                        headers[n % headers.len()].clone(),
                    )
                    .body(axum::body::Body::empty())
                    .expect("request");
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                n += 1;
                let response = router.clone().oneshot(request).await.expect("infallible");
                assert_eq!(response.status(), 200);
                let body = response.into_body().collect().await.expect("body");
                std::hint::black_box(body);
            }
            // Round 0 warms every configuration up (token cache, views).
            if round > 0 {
                samples[i].push((thread_run_ns() - began) as f64 / PER_RUN as f64 / 1000.0);
            }
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let full = median(&mut samples[0].clone());
    println!("layer cost, CPU µs per request in process (median of {rounds} rounds of {PER_RUN}):");
    for ((label, _), mut v) in configs.iter().zip(samples) {
        let m = median(&mut v);
        println!(
            "{label:<24} {m:>7.2} µs   (every layer minus this: {:>+6.2} µs)",
            full - m
        );
    }
}

fn main() -> anyhow::Result<()> {
    let users = load_users::arg(1, 2000) as usize;
    let per_user = load_users::arg(2, 3) as usize;
    let connections = load_users::arg(3, 64) as usize;
    let secs = load_users::arg(4, 5) as f64;

    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("srv")
        .enable_all()
        .build()?;
    let dir = tempfile::tempdir()?;
    let (evo, fixed, tokens, rss_empty, rss_full, active, ingest, state) =
        server.block_on(async {
            let (app, seeded) = load_users::seeded_app(dir.path(), users).await?;
            let address = app.local_addr();
            let state = app.state();
            tokio::spawn(app.run_until_stopped());
            tokio::time::sleep(Duration::from_millis(200)).await;
            let rss_empty = rss_kib();

            let now = chrono::Utc::now().timestamp();
            let tokens: Vec<String> = seeded
                .iter()
                .map(|(user, _, sid)| {
                    state
                        .auth
                        .keys()
                        .sign_access(&access_claims(user, sid, now, 7200))
                })
                .collect();

            // Sessions through the app API, a few calls at once.
            let seeded = Arc::new(seeded);
            let next = Arc::new(AtomicU64::new(0));
            let began = Instant::now();
            let mut writers = Vec::new();
            for _ in 0..16 {
                let (state, seeded, next) = (state.clone(), seeded.clone(), next.clone());
                writers.push(tokio::spawn(async move {
                    let mut events = 0u64;
                    loop {
                        let n = next.fetch_add(1, Ordering::Relaxed) as usize;
                        if n >= seeded.len() * per_user {
                            break;
                        }
                        let (user, number, _) = &seeded[n / per_user];
                        let cast =
                            load_users::cast(user, number, n / per_user, format!("+1666{n:07}"));
                        let plan = scenario::build(
                            Kind::InboundAnswered,
                            &cast,
                            &format!("L{n:08}"),
                            chrono::Utc::now(),
                        );
                        let session =
                            reducer::open(&plan.session_id, plan.header.clone(), plan.opened_at);
                        state
                            .sessions
                            .open(
                                session,
                                plan.header
                                    .call_sid
                                    .iter()
                                    .map(ToString::to_string)
                                    .collect(),
                            )
                            .await
                            .expect("open");
                        events += 1;
                        // All but the hang-up: the call stays answered and active.
                        let keep = plan.events.len().saturating_sub(2);
                        for event in plan.events.into_iter().take(keep) {
                            state
                                .sessions
                                .apply(&plan.session_id, event, Vec::new())
                                .await
                                .expect("apply");
                            events += 1;
                        }
                    }
                    events
                }));
            }
            let mut events = 0;
            for writer in writers {
                events += writer.await?;
            }
            let ingest = events as f64 / began.elapsed().as_secs_f64();
            tokio::time::sleep(Duration::from_millis(500)).await;
            let rss_full = rss_kib();
            let active = state.sessions.index().len();

            // The static server: the first user's exact response, same stack.
            let body = reqwest::Client::new()
                .get(format!("http://{address}/sessions/active"))
                .bearer_auth(&tokens[0])
                .send()
                .await?
                .bytes()
                .await?;
            println!("response body: {} bytes", body.len());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let fixed = listener.local_addr()?;
            let router = axum::Router::new().fallback(move || {
                let body = body.clone();
                async move {
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "application/json; charset=utf-8",
                        )],
                        body,
                    )
                }
            });
            tokio::spawn(async move { axum::serve(listener, router).await });
            anyhow::Ok((
                address, fixed, tokens, rss_empty, rss_full, active, ingest, state,
            ))
        })?;

    println!(
        "{users} users x {per_user} sessions: {active} active; ingest {ingest:.0} commits/s (16 writers)"
    );
    println!(
        "resident: {rss_empty} KiB empty, {rss_full} KiB with the sessions: {:.2} KiB per active session",
        (rss_full.saturating_sub(rss_empty)) as f64 / active.max(1) as f64
    );
    if std::env::var("READLOAD_LAYERS").is_ok() {
        let rounds = load_users::arg(5, 5) as usize;
        server.block_on(layer_costs(state, &tokens, rounds));
        return Ok(());
    }
    let tokens = Arc::new(tokens);
    if std::env::var("READLOAD_ONLY").as_deref() == Ok("evo") {
        // For a profiler: evo-voice alone.
        load(evo, tokens, connections, secs, None).print("evo-voice GET /sessions/active");
        return Ok(());
    }
    let fixed_tokens = Arc::new(vec!["x".repeat(tokens[0].len())]);
    let limit = load(fixed, fixed_tokens.clone(), connections, secs, None);
    limit.print("static bytes (the limit)");
    let peak = load(evo, tokens.clone(), connections, secs, None);
    peak.print("evo-voice GET /sessions/active");
    println!(
        "ratio: {:.3} by throughput, {:.3} by server CPU per request",
        peak.rate() / limit.rate(),
        (limit.server_cpu / limit.done.max(1) as f64) / (peak.server_cpu / peak.done.max(1) as f64)
    );
    // Server and client share the cores, as wrk would: when CPU-bound, the
    // rate is inverse to the whole CPU time per request.
    let whole = |o: &Outcome| (o.server_cpu + o.client_cpu) / o.done.max(1) as f64;
    println!(
        "ratio by server + client CPU per request (the rate on two dedicated cores): {:.3}",
        whole(&limit) / whole(&peak)
    );
    let half = load(
        evo,
        tokens.clone(),
        connections,
        secs,
        Some(peak.rate() / 2.0),
    );
    half.print("evo-voice at half of its peak");
    let half_static = load(
        fixed,
        fixed_tokens,
        connections,
        secs,
        Some(limit.rate() / 2.0),
    );
    half_static.print("static at half of its peak");
    Ok(())
}
