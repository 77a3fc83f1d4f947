//! `evo-voice bench`: one command that builds a data set of U users, K
//! active calls per user and H ended sessions, then measures, against an
//! `evo-voice serve` child process (the bench is only its client):
//!
//! - reads: `GET /sessions/active`, bearer tokens rotating over all users,
//!   over keep-alive HTTP/1.1 connections, against a static-bytes server on
//!   the same HTTP stack (another child) returning the identical bytes: the
//!   limit, and the ratio; then p99 at half of the peak rate;
//! - history independence: the same ratio with H = the ingest calls (1,000)
//!   and after appending the rest of H (1,000,000), the server restarted;
//! - ingest: signed status callbacks acknowledged per second, against the
//!   rate the same store commits the same rows in large batches;
//! - fan-out: webhook sent → Server Events message read, with one
//!   subscriber per user connected;
//! - memory: the server's resident bytes per active session and per
//!   subscriber (`VmRSS` before and after);
//! - errors of every phase: any error fails the command.
//!
//! docs/benchmarks.md describes the method and records results.

pub mod data;
pub mod load;
pub mod open_loop;
pub mod paired;
pub mod procstat;
pub mod report;
pub mod subscribers;

use evo_core::ids::{AccountId, CallSid};
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use chrono::Utc;
use http::HeaderValue;
use indicatif::{ProgressBar, ProgressStyle};

use crate::bench::data::{BenchUser, DataSet, Signer};
use crate::bench::load::{Conn, Outcome};
use crate::bench::report::{Figures, Plan, Report};
use crate::bench::subscribers::{Subscriber, Subscribers, Waiter};
use crate::cli::BenchArgs;

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if let Some(path) = &args.static_server {
        let bind = args
            .static_bind
            .context("--static-server needs --static-bind")?;
        let headers = args
            .static_headers
            .as_deref()
            .context("--static-server needs --static-headers")?;
        return static_server(path, headers, bind).await;
    }
    let plan = Plan::from_args(&args)?;
    let report = measure(&plan).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        report.print_table(&mut std::io::stderr())?;
    } else {
        report.print_table(&mut std::io::stdout())?;
    }
    if report.errors.total > 0 {
        anyhow::bail!(
            "the run had {} errors (first: {}); its figures are not valid",
            report.errors.total,
            report.errors.first.first().map_or("?", String::as_str)
        );
    }
    Ok(())
}

fn bar(name: &str, len: u64) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix:>14} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} {per_sec}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_prefix(name.to_string());
    bar
}

/// The server under test, a child process.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    /// With `steps`, the server logs the step timings of the fan-out path
    /// (`evo_server::app::timing`) into `log`.
    async fn start(data_dir: &Path, log: &Path, steps: bool) -> anyhow::Result<Server> {
        let addr = free_port()?;
        let log_file = std::fs::File::create(log)?;
        let child = Command::new(serve_binary()?)
            .arg("serve")
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--bind", &addr.to_string()])
            .args(["--public-url", &format!("http://{addr}")])
            // The bench is one client address sending everything.
            .args(["--rate-limit-per-address", "0"])
            .args(["--max-connections", "100000"])
            .args(["--max-concurrent-requests", "100000"])
            // No reconciler traffic to Twilio during the run.
            .args(["--reconcile-idle-secs", "864000"])
            .args(["--session-max-age-secs", "8640000"])
            .args(["--twilio-api-url", "http://127.0.0.1:9"])
            .env("EVO_JWT_SECRET", data::JWT_SECRET)
            .env_remove("EVO_DATABASE_URL")
            .env(
                "RUST_LOG",
                if steps {
                    format!("warn,{}=debug", evo_server::app::timing::TARGET)
                } else {
                    "warn".to_string()
                },
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .context("starting `evo-voice serve` failed")?;
        let mut server = Server { child, addr };
        server.wait_ready(log).await?;
        Ok(server)
    }

    async fn wait_ready(&mut self, log: &Path) -> anyhow::Result<()> {
        let url = format!("http://{}/health/ready", self.addr);
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!(
                    "`evo-voice serve` exited ({status}): {}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
            if let Ok(response) = client.get(&url).send().await {
                if response.status().is_success() {
                    return Ok(());
                }
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "`evo-voice serve` was not ready within 5 minutes"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The server's resident memory, in bytes (`VmRSS`).
    fn rss(&self) -> anyhow::Result<u64> {
        rss_of(self.child.id())
    }

    /// The server's resident memory by kind.
    fn rss_split(&self) -> anyhow::Result<report::RssSplit> {
        let field = |name| status_kib(self.child.id(), name).map(|kib| (kib * 1024) as i64);
        Ok(report::RssSplit {
            anon: field("RssAnon:")?,
            file: field("RssFile:")?,
            shmem: field("RssShmem:")?,
        })
    }

    /// SIGKILL: every acknowledged write is already durable, which is what
    /// the server promises; a graceful stop would wait for the streams.
    fn stop(mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The static-bytes server, a child process (`bench --static-server`).
struct StaticServer {
    child: Child,
    addr: SocketAddr,
}

impl StaticServer {
    async fn start(dir: &Path, body: &Bytes, headers: &str) -> anyhow::Result<StaticServer> {
        let file = dir.join("static-body");
        std::fs::write(&file, body)?;
        let headers_file = dir.join("static-headers");
        std::fs::write(&headers_file, headers)?;
        let addr = free_port()?;
        let child = Command::new(std::env::current_exe()?)
            .arg("bench")
            .arg("--static-server")
            .arg(&file)
            .arg("--static-headers")
            .arg(&headers_file)
            .args(["--static-bind", &addr.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .context("starting the static-bytes server failed")?;
        let server = StaticServer { child, addr };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Conn::open(addr).await.is_err() {
            anyhow::ensure!(
                Instant::now() < deadline,
                "the static-bytes server did not start"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(server)
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Serves one file's bytes, with the headers listed in another (one
/// `name: value` a line: those evo-voice sent, request id included, so the
/// responses have the same size), on every path with the same HTTP stack
/// as `serve`: its listener (`evo_server::startup::serve_with_limits`:
/// hyper's HTTP/1.1 builder with the same settings, the connection limit,
/// the client address) in front of an axum router; no authentication, no
/// lookup, no middleware.
async fn static_server(path: &Path, headers: &Path, bind: SocketAddr) -> anyhow::Result<()> {
    let body = Bytes::from(std::fs::read(path)?);
    let mut header_map = http::HeaderMap::new();
    for line in std::fs::read_to_string(headers)?.lines() {
        let Some((name, value)) = line.split_once(": ") else {
            continue;
        };
        header_map.append(
            http::HeaderName::from_bytes(name.as_bytes())?,
            HeaderValue::from_str(value)?,
        );
    }
    let app = axum::Router::new().fallback(move || {
        let body = body.clone();
        let headers = header_map.clone();
        async move { (headers, body) }
    });
    let listener = tokio::net::TcpListener::bind(bind).await?;
    let limits = evo_server::app::config::Limits {
        max_connections: 100_000,
        ..Default::default()
    };
    evo_server::startup::serve_with_limits(listener, app, &limits, std::future::pending()).await?;
    Ok(())
}

/// The `evo-voice` binary whose `serve` is measured: this one, or the one
/// `EVO_BENCH_SERVE_BIN` names (another build, for a before/after
/// comparison against the same static server and client).
/// Set (to anything), the bench stops after the active calls' memory
/// figure (printed as one JSON line): for profiling the server's heap.
const MEMORY_ONLY: &str = "EVO_BENCH_MEMORY_ONLY";
/// Set to a rate (requests/s), the bench runs the half-rate phase at that
/// fixed rate right after the ingest, `EVO_BENCH_HALF_RUNS` times (default
/// 1, unpinned), prints those runs' figures as one JSON line and stops: a
/// one-minute loop for the half-rate tail (docs/benchmarks.md, "Half-rate
/// tail, again"), at the same rate for every binary compared.
const HALF_ONLY: &str = "EVO_BENCH_HALF_ONLY";
/// Set to slice counts (`6,12,12,6`), the bench runs one read comparison
/// per count right after the ingest, each with that many slices of each
/// server, prints their figures as one JSON line and stops: to compare
/// methods against the same server and machine, alternately
/// (docs/benchmarks.md, "Read ratio and the machine's slow spells").
const READS_ONLY: &str = "EVO_BENCH_READS_ONLY";

/// How a diagnostic run (`EVO_BENCH_MEMORY_ONLY`, `…_READS_ONLY`,
/// `…_HALF_ONLY`) ends: its figures as one JSON line on stdout, the server
/// stopped, and an error saying why the run is not a whole one.
fn stopped_early(server: Server, figures: serde_json::Value, why: &str) -> anyhow::Result<Report> {
    println!("{figures}");
    server.stop()?;
    Err(anyhow::anyhow!("{why}"))
}

fn serve_binary() -> anyhow::Result<std::path::PathBuf> {
    match std::env::var_os("EVO_BENCH_SERVE_BIN") {
        Some(path) => Ok(path.into()),
        None => Ok(std::env::current_exe()?),
    }
}

/// Copies the regular files of `from` into a new directory `to` (a
/// store's directory: the database, its WAL and shared-memory index).
fn copy_files(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            let copy = to.join(entry.file_name());
            std::fs::copy(entry.path(), &copy)
                .with_context(|| format!("copying {} failed", entry.path().display()))?;
            // On disk before a server or store uses the copy: else the first
            // checkpoint's fsync writes the whole file back, in a measured
            // round.
            std::fs::File::open(&copy)?.sync_all()?;
        }
    }
    Ok(())
}

fn free_port() -> anyhow::Result<SocketAddr> {
    let probe = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(probe.local_addr()?)
}

fn rss_of(pid: u32) -> anyhow::Result<u64> {
    Ok(status_kib(pid, "VmRSS:")? * 1024)
}

/// A `kB` field of `/proc/<pid>/status`.
fn status_kib(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status failed"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("no {field} in /proc/<pid>/status"))
}

/// One user's `GET /sessions/active`: the body, and the response headers
/// the static server is to send too (all but those hyper writes itself).
async fn one_read(addr: SocketAddr, user: &BenchUser) -> anyhow::Result<(Bytes, String)> {
    let response = reqwest::Client::new()
        .get(format!("http://{addr}/sessions/active"))
        .header(http::header::AUTHORIZATION, user.authorization.clone())
        .send()
        .await?;
    anyhow::ensure!(
        response.status().is_success(),
        "GET /sessions/active answered {}",
        response.status()
    );
    let mut headers = String::new();
    for (name, value) in response.headers() {
        let generated = [
            http::header::DATE,
            http::header::CONTENT_LENGTH,
            http::header::TRANSFER_ENCODING,
            http::header::CONNECTION,
        ];
        if generated.contains(name) {
            continue;
        }
        headers.push_str(name.as_str());
        headers.push_str(": ");
        headers.push_str(value.to_str()?);
        headers.push('\n');
    }
    Ok((response.bytes().await?, headers))
}

/// Alternating slices per server in one read comparison (ABBA pairs; each
/// pair gives a ratio): 12, each a sixth of the run's duration long, so
/// each server is measured for twice the duration. The machine has slow
/// spells of a few seconds that raise either server's CPU per request by
/// a third; with 6 slices one spell on two of evo-voice's adjacent slices
/// and none of the static server's took a run's ratio to 0.770 (session
/// 11). Twice the slices halve what one spell can take; shorter slices
/// would split it between the servers too, but measured the switch
/// between them more than either server (docs/benchmarks.md, "Read ratio
/// and the machine's slow spells").
const READ_SLICES: usize = 12;

/// A read comparison's slice is the run's duration over this.
const READ_SLICE_FRACTION: f64 = 6.0;

/// One slice of a read comparison on one server.
async fn read_slice(
    load: &mut load::ReadLoad,
    server_pid: u32,
    duration: Duration,
    server: &'static str,
    bar: &ProgressBar,
) -> (Outcome, report::ReadSlice) {
    let (server_before, client_before) = (
        procstat::Sample::take(server_pid),
        procstat::cpu_secs(std::process::id()),
    );
    let outcome = load.run(duration, bar).await;
    let (server_after, client_after) = (
        procstat::Sample::take(server_pid),
        procstat::cpu_secs(std::process::id()),
    );
    let server_use = procstat::ProcessUse::between(&server_before, &server_after, outcome.ok);
    let figures = Figures::of(&outcome);
    let slice = report::ReadSlice {
        server,
        per_sec: figures.per_sec,
        p50_ms: figures.p50_ms,
        p99_ms: figures.p99_ms,
        server_cpu_us_per_request: server_use.user_us_per_request
            + server_use.system_us_per_request,
        client_cpu_us_per_request: (client_after - client_before) * 1e6
            / (outcome.ok.max(1) as f64),
        load_average: report::load_average(),
        server_use,
    };
    (outcome, slice)
}

/// One read comparison: evo-voice and the static-bytes server (serving the
/// bytes and headers evo-voice answered) measured in alternating slices
/// (evo, static, static, evo, …), each over its own kept-alive
/// connections, after the same warm-up, by the same client code; so
/// whatever else runs on the machine weighs on both alike. The ratio is
/// evo-voice's requests over the static server's, summed over the slices.
async fn read_pair(
    plan: &Plan,
    server: &Server,
    set: &DataSet,
    dir: &Path,
    label: &str,
    slice_count: usize,
    errors: &mut report::Errors,
) -> anyhow::Result<report::ReadRun> {
    let tokens: Arc<Vec<HeaderValue>> =
        Arc::new(set.users.iter().map(|u| u.authorization.clone()).collect());
    let duration = Duration::from_secs_f64(plan.duration_secs);
    let warm = duration.mul_f64(0.2);
    let slice = duration.div_f64(READ_SLICE_FRACTION);
    let (body, headers) = one_read(server.addr, &set.users[0]).await?;
    let sessions = serde_json::from_slice::<serde_json::Value>(&body)?["sessions"]
        .as_array()
        .map_or(0, Vec::len);
    if sessions != plan.sessions_per_user {
        errors.add(
            label,
            1,
            Some(format!(
                "user 0 sees {sessions} active sessions, not {}",
                plan.sessions_per_user
            )),
        );
    }
    let limit_server = StaticServer::start(dir, &body, &headers).await?;
    let mut evo_load = load::ReadLoad::new(server.addr, plan.connections, tokens.clone());
    let mut limit_load = load::ReadLoad::new(limit_server.addr, plan.connections, tokens);
    let hidden = ProgressBar::hidden();
    let warmed = evo_load.run(warm, &hidden).await;
    errors.outcome(&format!("reads {label} (warm-up)"), &warmed);
    let warmed = limit_load.run(warm, &hidden).await;
    errors.outcome(&format!("static {label} (warm-up)"), &warmed);

    let progress = bar(&format!("reads {label}"), 0);
    let (mut evo, mut limit) = (Outcome::new(), Outcome::new());
    let mut slices = Vec::with_capacity(2 * slice_count);
    for i in 0..slice_count {
        // ABBA order: a drift within the run cancels between the two.
        let evo_first = i % 2 == 0;
        for evo_turn in [evo_first, !evo_first] {
            let (load, pid, name) = if evo_turn {
                (&mut evo_load, server.child.id(), "evo")
            } else {
                (&mut limit_load, limit_server.child.id(), "static")
            };
            let (outcome, figures) = read_slice(load, pid, slice, name, &progress).await;
            let total = if evo_turn { &mut evo } else { &mut limit };
            total.elapsed += outcome.elapsed;
            total.merge(outcome);
            slices.push(figures);
        }
    }
    progress.finish();
    drop(limit_server);
    errors.outcome(&format!("reads {label}"), &evo);
    errors.outcome(&format!("static {label}"), &limit);
    Ok(read_run(&evo, &limit, "evo", slices, body.len(), sessions))
}

/// A comparison's figures: `evo` against `limit`, the slices of both
/// (`evo_label` names the evo-voice server's in `slices`).
fn read_run(
    evo: &Outcome,
    limit: &Outcome,
    evo_label: &str,
    slices: Vec<report::ReadSlice>,
    response_bytes: usize,
    sessions: usize,
) -> report::ReadRun {
    let cpu = |server: &str| {
        let of: Vec<&report::ReadSlice> = slices.iter().filter(|s| s.server == server).collect();
        of.iter().map(|s| s.server_cpu_us_per_request).sum::<f64>() / of.len().max(1) as f64
    };
    let (evo_cpu, limit_cpu) = (cpu(evo_label), cpu("static"));
    let evo = Figures::of(evo);
    let limit = Figures::of(limit);
    // Slices come in adjacent pairs (ABBA here; one round of each server
    // in the history comparison, whose subset keeps one of each a round).
    let pair_ratios: Vec<f64> = slices
        .chunks_exact(2)
        .filter_map(|pair| {
            let evo = pair.iter().find(|s| s.server == evo_label)?;
            let limit = pair.iter().find(|s| s.server == "static")?;
            Some(evo.per_sec / limit.per_sec.max(1e-9))
        })
        .collect();
    report::ReadRun {
        pair_ratio: paired::Spread::quantile(&pair_ratios, 0.5),
        pair_ratios,
        ratio: evo.per_sec / limit.per_sec.max(1e-9),
        evo,
        limit,
        response_bytes,
        sessions_per_response: sessions,
        evo_server_cpu_us_per_request: evo_cpu,
        limit_server_cpu_us_per_request: limit_cpu,
        cpu_ratio: limit_cpu / evo_cpu.max(1e-9),
        slices,
    }
}

/// Rounds of the history comparison (one slice of each server a round).
const HISTORY_ROUNDS: usize = 6;

/// The history comparison, paired: evo-voice on a copy of the store taken
/// before the growth (H = the ingest calls) and on the grown store (H),
/// both started afresh for it and running at once, and the static-bytes
/// server serving the grown store's bytes. Each gets its own kept-alive
/// connections and the same warm-up; then `HISTORY_ROUNDS` rounds of one
/// slice each, in rotating order (`paired::round_order`), so that the
/// machine's drift and a neighbour's bursts weigh on all three alike. The
/// figure is the median of each round's ratio to the static server.
async fn history_pair(
    plan: &Plan,
    small: &Server,
    large: &Server,
    set: &DataSet,
    dir: &Path,
    errors: &mut report::Errors,
) -> anyhow::Result<report::HistoryPair> {
    let tokens: Arc<Vec<HeaderValue>> =
        Arc::new(set.users.iter().map(|u| u.authorization.clone()).collect());
    let duration = Duration::from_secs_f64(plan.duration_secs);
    let warm = duration.mul_f64(0.2);
    let slice = duration.div_f64(HISTORY_ROUNDS as f64);
    let mut sessions = 0;
    let mut body_bytes = Vec::new();
    let mut large_read = None;
    for (label, server) in [("H small (paired)", small), ("H large (paired)", large)] {
        let (body, headers) = one_read(server.addr, &set.users[0]).await?;
        sessions = serde_json::from_slice::<serde_json::Value>(&body)?["sessions"]
            .as_array()
            .map_or(0, Vec::len);
        if sessions != plan.sessions_per_user {
            errors.add(
                label,
                1,
                Some(format!(
                    "user 0 sees {sessions} active sessions, not {}",
                    plan.sessions_per_user
                )),
            );
        }
        body_bytes.push(body.len());
        large_read = Some((body, headers));
    }
    let (body, headers) = large_read.context("no read")?;
    let limit_server = StaticServer::start(dir, &body, &headers).await?;
    const LABELS: [&str; 3] = ["evo-small", "evo-large", "static"];
    let pids = [small.child.id(), large.child.id(), limit_server.child.id()];
    let mut loads = [small.addr, large.addr, limit_server.addr]
        .map(|addr| load::ReadLoad::new(addr, plan.connections, tokens.clone()));
    // The same warm-up for each, interleaved: two turns each.
    let hidden = ProgressBar::hidden();
    for turn in 0..2 {
        for i in paired::round_order(turn, 3) {
            let warmed = loads[i].run(warm / 2, &hidden).await;
            errors.outcome(&format!("history {} (warm-up)", LABELS[i]), &warmed);
        }
    }
    let progress = bar("reads H pair", 0);
    let mut totals = [Outcome::new(), Outcome::new(), Outcome::new()];
    let mut rounds = Vec::with_capacity(HISTORY_ROUNDS);
    let mut slices = Vec::with_capacity(3 * HISTORY_ROUNDS);
    for r in 0..HISTORY_ROUNDS {
        let mut rates = [0.0; 3];
        for i in paired::round_order(r, 3) {
            // An unmeasured lead-in first: the server just sat idle while
            // the others ran (parked threads, cold caches).
            let lead = loads[i].run(slice / 10, &hidden).await;
            errors.outcome(&format!("history {} (lead-in)", LABELS[i]), &lead);
            let (outcome, figures) =
                read_slice(&mut loads[i], pids[i], slice, LABELS[i], &progress).await;
            rates[i] = figures.per_sec;
            totals[i].elapsed += outcome.elapsed;
            totals[i].merge(outcome);
            slices.push(figures);
        }
        rounds.push(paired::Round {
            small: rates[0],
            large: rates[1],
            limit: rates[2],
        });
    }
    progress.finish();
    drop(limit_server);
    let [small_total, large_total, limit_total] = totals;
    errors.outcome("history evo-small", &small_total);
    errors.outcome("history evo-large", &large_total);
    errors.outcome("history static", &limit_total);
    let subset = |label: &str| -> Vec<report::ReadSlice> {
        slices
            .iter()
            .filter(|s| s.server == label || s.server == "static")
            .cloned()
            .collect()
    };
    let small_run = read_run(
        &small_total,
        &limit_total,
        "evo-small",
        subset("evo-small"),
        body_bytes[0],
        sessions,
    );
    let large_run = read_run(
        &large_total,
        &limit_total,
        "evo-large",
        subset("evo-large"),
        body_bytes[1],
        sessions,
    );
    let cpu_change = large_run.evo_server_cpu_us_per_request
        / small_run.evo_server_cpu_us_per_request.max(1e-9)
        - 1.0;
    Ok(report::HistoryPair {
        rounds: HISTORY_ROUNDS,
        history_small: plan.ingest_calls,
        history_large: plan.history,
        summary: paired::summarize(&rounds),
        cpu_change,
        small: small_run,
        large: large_run,
        order: (0..HISTORY_ROUNDS)
            .map(|r| {
                paired::round_order(r, 3)
                    .into_iter()
                    .map(|i| LABELS[i])
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect(),
    })
}

/// One open-loop run at `rate` requests/s (`open_loop`: its own threads);
/// with `pin`, the server's threads on the first CPUs and the generator's
/// on the second for the run (the caller restores the server's).
async fn half_rate_run(
    plan: &Plan,
    server: &Server,
    tokens: Arc<Vec<HeaderValue>>,
    rate: f64,
    pin: Option<(Vec<usize>, Vec<usize>)>,
) -> (report::HalfRate, Outcome) {
    let mut options = open_loop::Options {
        cpus: None,
        realtime: true,
    };
    let mut pinning = match &pin {
        None => "none (server and generator share every CPU)".to_string(),
        Some((server_cpus, bench_cpus)) => {
            match load::affinity::pin(server.child.id(), server_cpus) {
                Ok(()) => {
                    options.cpus = Some(bench_cpus.clone());
                    format!("server on CPUs {server_cpus:?}")
                }
                Err(error) => format!("pinning the server failed ({error}): none"),
            }
        }
    };
    let progress = bar(
        if pin.is_some() {
            "reads at half, pinned"
        } else {
            "reads at half"
        },
        0,
    );
    let schedule = open_loop::Schedule::new(rate, Duration::from_secs_f64(plan.duration_secs));
    progress.set_length(schedule.total());
    let cpu_before = (
        procstat::cpu_secs(server.child.id()),
        procstat::cpu_secs(std::process::id()),
    );
    let steal_before = procstat::steal_ms();
    let (addr, connections) = (server.addr, plan.connections);
    // The generator only counts; this task draws the bar (since session 8:
    // drawing from the real-time thread could block it on a slow terminal).
    let answered = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = answered.clone();
    // A thread of its own (not tokio's blocking pool, whose threads are
    // reused): its priority and CPUs end with it.
    let (done, mut finished) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("bench-generator".into())
        .spawn(move || {
            let _ = done.send(open_loop::run(
                addr,
                connections,
                &tokens,
                schedule,
                &options,
                &counter,
            ));
        });
    let run = match spawned {
        Ok(_) => loop {
            tokio::select! {
                run = &mut finished => break run.map_err(|e| e.to_string()),
                () = tokio::time::sleep(Duration::from_millis(200)) => {
                    progress.set_position(answered.load(std::sync::atomic::Ordering::Relaxed));
                }
            }
        },
        Err(error) => Err(error.to_string()),
    };
    let cpu_after = (
        procstat::cpu_secs(server.child.id()),
        procstat::cpu_secs(std::process::id()),
    );
    let steal = procstat::steal_ms() - steal_before;
    progress.finish();
    let mut sched = open_loop::ThreadSched::default();
    let mut slow_windows = None;
    let half = match run {
        Ok(run) => {
            if !run.threads.is_empty() {
                pinning = format!("{pinning}; {}", run.threads);
            }
            sched = run.sched;
            slow_windows = open_loop::slow_windows(
                &run.samples,
                0.99,
                report::SLOW_WINDOW,
                report::SLOW_WINDOWS_KEPT,
            );
            run.outcome
        }
        Err(error) => {
            let mut outcome = Outcome::new();
            outcome.error(format!("the open-loop generator failed: {error}"));
            outcome
        }
    };
    let ms = |h: &hdrhistogram::Histogram<u64>, q: f64| {
        if h.is_empty() {
            0.0
        } else {
            h.value_at_quantile(q) as f64 / 1000.0
        }
    };
    let figures = report::HalfRate {
        target_per_sec: rate,
        figures: Figures::of(&half),
        send_late_p50_ms: ms(&half.lateness, 0.5),
        send_late_p99_ms: ms(&half.lateness, 0.99),
        send_late_max_ms: ms(&half.lateness, 1.0),
        pacing_late_p50_ms: ms(&half.pacing, 0.5),
        pacing_late_p99_ms: ms(&half.pacing, 0.99),
        pacing_late_max_ms: ms(&half.pacing, 1.0),
        from_send_p50_ms: ms(&half.from_send, 0.5),
        from_send_p99_ms: ms(&half.from_send, 0.99),
        pinning,
        generator_late: ms(&half.pacing, 0.99) > report::GENERATOR_LATE_MS,
        generator_wait_ms: sched.wait_ms,
        generator_involuntary_switches: sched.involuntary_switches,
        steal_ms: steal,
        server_cpu_us_per_request: (cpu_after.0 - cpu_before.0) * 1e6 / half.ok.max(1) as f64,
        client_cpu_us_per_request: (cpu_after.1 - cpu_before.1) * 1e6 / half.ok.max(1) as f64,
        load_average: report::load_average(),
        slow_windows,
    };
    (figures, half)
}

/// Rounds of the interleaved ingest comparison (ABBA: server, store,
/// store, server, …).
pub const INGEST_ROUNDS: usize = 6;

/// Ingest against the store's batch limit, measured side by side: a fresh
/// `serve` on one copy of the store (taken at rest) and the bench's own
/// `Store::commit` on another, in `INGEST_ROUNDS` alternating rounds. In
/// each, the server gets `ingest_calls` new calls (voice webhooks, not
/// timed) and then their signed status callbacks, timed; the store gets
/// the rows of as many other calls (rebuilt from `templates` by the same
/// reducer), one commit a step of `ingest_calls` calls, the event steps
/// timed. Each round gives a ratio (callbacks/s over rows/s, a minute
/// apart at most); the figure is their median. Until session 8 the limit
/// was timed minutes after the callbacks, during the history's growth
/// (while the next bulk batch was being built on every core).
async fn ingest_rounds(
    plan: &Plan,
    (server_dir, store_dir): &(std::path::PathBuf, std::path::PathBuf),
    dir: &Path,
    set: &DataSet,
    templates: &[data::Template],
    errors: &mut report::Errors,
) -> anyhow::Result<report::Ingest> {
    let server = Server::start(server_dir, &dir.join("serve-ingest.log"), false).await?;
    let signer = Signer {
        public_url: format!("http://{}", server.addr),
        account_id: set.account_id.clone(),
    };
    let store = evo_store::open_store(&store_dir.display().to_string()).await?;
    let calls = plan.ingest_calls;
    let progress = bar("ingest rounds", (INGEST_ROUNDS * calls * 8) as u64);
    let mut callbacks = Outcome::new();
    let mut total_rows = 0;
    let mut rounds = Vec::with_capacity(INGEST_ROUNDS);
    for r in 0..INGEST_ROUNDS {
        let range = r * calls..(r + 1) * calls;
        let user = |n: usize| &set.users[n % plan.users];
        // Everything either side sends or writes is built before either is
        // timed.
        let opens: Vec<Vec<load::Hook>> = range
            .clone()
            .map(|n| {
                let root = data::call_sid(0x50, 0, n as u64);
                vec![signer.voice(&root, &data::caller(n as u64), user(n))]
            })
            .collect();
        let now = Utc::now();
        let hooks: Vec<Vec<load::Hook>> = range
            .clone()
            .map(|n| {
                let (root, leg) = (
                    data::call_sid(0x50, 0, n as u64),
                    data::call_sid(0x50, 1, n as u64),
                );
                vec![
                    signer.agent_leg(&root, &leg, user(n), "ringing", 0, now),
                    signer.agent_leg(&root, &leg, user(n), "in-progress", 1, now),
                    signer.agent_leg(&root, &leg, user(n), "completed", 2, now),
                    signer.root_completed(&root, &data::caller(n as u64), user(n), now),
                ]
            })
            .collect();
        let mut steps = Some(data::steps(
            templates,
            &set.account_id,
            0x60,
            range.clone(),
        )?);
        let (mut opens, mut hooks) = (Some(opens), Some(hooks));
        let (mut rate, mut limit) = (0.0, 0.0);
        let order = paired::round_order(r, 2);
        for &side in &order {
            if side == 0 {
                let opens = opens.take().unwrap_or_default();
                let opened =
                    load::run_scripts(server.addr, plan.connections, opens, &progress).await;
                errors.outcome("ingest rounds: open", &opened);
                let hooks = hooks.take().unwrap_or_default();
                let round =
                    load::run_scripts(server.addr, plan.connections, hooks, &progress).await;
                rate = round.per_second();
                callbacks.elapsed += round.elapsed;
                callbacks.merge(round);
            } else {
                let steps = steps.take().unwrap_or_default();
                let (rows, time) = data::commit_steps(store.as_ref(), steps).await?;
                progress.inc(rows);
                total_rows += rows;
                limit = rows as f64 / time.as_secs_f64().max(1e-9);
            }
        }
        rounds.push(report::IngestRound {
            callbacks_per_sec: rate,
            limit_rows_per_sec: limit,
            ratio: rate / limit.max(1e-9),
            order: if order[0] == 0 {
                "server,store"
            } else {
                "store,server"
            },
            load_average: report::load_average(),
        });
    }
    progress.finish();
    errors.outcome("ingest rounds", &callbacks);
    server.stop()?;
    drop(store);
    let _ = std::fs::remove_dir_all(server_dir);
    let _ = std::fs::remove_dir_all(store_dir);
    let ratios: Vec<f64> = rounds.iter().map(|r| r.ratio).collect();
    let limits: Vec<f64> = rounds.iter().map(|r| r.limit_rows_per_sec).collect();
    let spread = paired::Spread::quantile(&ratios, 0.5);
    let limit = paired::median(&limits);
    Ok(report::Ingest {
        ratio: (limit > 0.0).then_some(spread.value),
        ratio_spread: spread,
        callbacks: Figures::of(&callbacks),
        store_batch_limit_per_sec: (limit > 0.0).then_some(limit),
        store_batch_rows: total_rows,
        rounds,
        first_phase: Figures::of(&Outcome::new()),
    })
}

async fn measure(plan: &Plan) -> anyhow::Result<Report> {
    let dir = tempfile::Builder::new()
        .prefix("evo-voice-bench-")
        .tempdir()
        .context("creating a temporary directory failed")?;
    let data_dir = dir.path().join("data");
    let log = dir.path().join("serve.log");
    let mut errors = report::Errors::default();
    let mut notes = Vec::new();
    let load_at_start = report::load_average();

    // 1. Directory and tokens, in the store, before the server starts.
    let started = Instant::now();
    let store = evo_store::open_store(&data_dir.display().to_string()).await?;
    let progress = bar("users", plan.users as u64);
    let set = data::seed(store.as_ref(), plan.users, &progress).await?;
    progress.finish();
    drop(store);
    let seed_secs = started.elapsed().as_secs_f64();
    notes.push(format!(
        "{} users, each with a number that rings only them, written with the store's directory calls (one argon2 hash shared; bearer tokens issued for stored sign-in sessions with the server's JWT key)",
        plan.users
    ));

    let server = Server::start(&data_dir, &log, plan.fanout_steps).await?;
    let signer = Signer {
        public_url: format!("http://{}", server.addr),
        account_id: set.account_id.clone(),
    };
    let rss_empty = server.rss()?;
    let split_empty = server.rss_split()?;

    // 2. Active calls through the signed webhooks: voice, then the agent's
    //    leg ringing and answered.
    let now = Utc::now();
    let total_active = plan.users * plan.sessions_per_user;
    let scripts: Vec<Vec<load::Hook>> = (0..total_active)
        .map(|n| {
            let user = &set.users[n % plan.users];
            let (root, leg) = (
                data::call_sid(0x10, 0, n as u64),
                data::call_sid(0x10, 1, n as u64),
            );
            let caller = data::caller(n as u64);
            vec![
                signer.voice(&root, &caller, user),
                signer.agent_leg(&root, &leg, user, "ringing", 0, now),
                signer.agent_leg(&root, &leg, user, "in-progress", 1, now),
            ]
        })
        .collect();
    let progress = bar("active calls", (total_active * 3) as u64);
    let active = load::run_scripts(server.addr, plan.connections, scripts, &progress).await;
    progress.finish();
    errors.outcome("active calls", &active);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_active = server.rss()?;
    let split_active = server.rss_split()?;
    if std::env::var_os(MEMORY_ONLY).is_some() {
        // For a heap profiler attached to the server (docs/benchmarks.md):
        // stop it while it holds exactly the active calls.
        return stopped_early(
            server,
            serde_json::json!({
                "active_sessions": total_active,
                "rss_empty": rss_empty,
                "rss_active": rss_active,
                "bytes_per_active_session": rss_active.saturating_sub(rss_empty) as f64 / total_active.max(1) as f64,
                "anon": split_active.anon - split_empty.anon,
                "file": split_active.file - split_empty.file,
                "shmem": split_active.shmem - split_empty.shmem,
                "errors": errors.total,
            }),
            &format!("{MEMORY_ONLY} is set: stopped after the active calls"),
        );
    }

    // 3. Ingest: open the calls (voice webhooks), then time their status
    //    callbacks: the agent's leg ringing, answered, completed, and the
    //    root call completed. These calls are the first ended sessions.
    let ingest_users = |n: usize| &set.users[n % plan.users];
    let opens: Vec<Vec<load::Hook>> = (0..plan.ingest_calls)
        .map(|n| {
            let root = data::call_sid(0x20, 0, n as u64);
            vec![signer.voice(&root, &data::caller(n as u64), ingest_users(n))]
        })
        .collect();
    let progress = bar("ingest: open", plan.ingest_calls as u64);
    let opened = load::run_scripts(server.addr, plan.connections, opens, &progress).await;
    progress.finish();
    errors.outcome("ingest: open", &opened);
    let now = Utc::now();
    let callbacks: Vec<Vec<load::Hook>> = (0..plan.ingest_calls)
        .map(|n| {
            let user = ingest_users(n);
            let (root, leg) = (
                data::call_sid(0x20, 0, n as u64),
                data::call_sid(0x20, 1, n as u64),
            );
            vec![
                signer.agent_leg(&root, &leg, user, "ringing", 0, now),
                signer.agent_leg(&root, &leg, user, "in-progress", 1, now),
                signer.agent_leg(&root, &leg, user, "completed", 2, now),
                signer.root_completed(&root, &data::caller(n as u64), user, now),
            ]
        })
        .collect();
    let progress = bar("ingest", (plan.ingest_calls * 4) as u64);
    let ingest = load::run_scripts(server.addr, plan.connections, callbacks, &progress).await;
    progress.finish();
    errors.outcome("ingest", &ingest);

    if let Ok(counts) = std::env::var(READS_ONLY) {
        let counts = counts
            .split(',')
            .map(|n| n.trim().parse::<usize>().ok().filter(|&n| n > 0))
            .collect::<Option<Vec<usize>>>()
            .with_context(|| format!("{READS_ONLY} must be slice counts, e.g. 6,12"))?;
        let mut runs = Vec::new();
        for slices in counts {
            let label = format!("{slices} slices");
            let run =
                read_pair(plan, &server, &set, dir.path(), &label, slices, &mut errors).await?;
            runs.push(serde_json::json!({ "slices": slices, "run": run }));
        }
        return stopped_early(
            server,
            serde_json::json!({ "reads": runs, "errors": errors.total }),
            &format!("{READS_ONLY} is set: stopped after the read comparisons"),
        );
    }

    if let Ok(rate) = std::env::var(HALF_ONLY) {
        let rate: f64 = rate
            .parse()
            .map_err(|_| anyhow::anyhow!("{HALF_ONLY} must be a rate in requests/s"))?;
        let runs: usize = std::env::var("EVO_BENCH_HALF_RUNS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        let tokens: Arc<Vec<HeaderValue>> =
            Arc::new(set.users.iter().map(|u| u.authorization.clone()).collect());
        let mut figures = Vec::new();
        for _ in 0..runs {
            let (half, outcome) = half_rate_run(plan, &server, tokens.clone(), rate, None).await;
            errors.outcome("reads at half rate", &outcome);
            figures.push(half);
        }
        return stopped_early(
            server,
            serde_json::json!({ "half_rate": figures, "errors": errors.total }),
            &format!("{HALF_ONLY} is set: stopped after the half-rate runs"),
        );
    }

    // 4. Reads with H = the ingest calls, and at half of the peak rate.
    let small = read_pair(
        plan,
        &server,
        &set,
        dir.path(),
        "H small",
        READ_SLICES,
        &mut errors,
    )
    .await?;
    let tokens: Arc<Vec<HeaderValue>> =
        Arc::new(set.users.iter().map(|u| u.authorization.clone()).collect());
    let half_rate = small.evo.per_sec / 2.0;
    let half = half_rate_run(plan, &server, tokens.clone(), half_rate, None).await;
    errors.outcome("reads at half rate", &half.1);
    // The same rate again with the server and the generator on separate
    // cores: the generator's lateness then no longer comes from waiting
    // for a core the server holds (see docs/benchmarks.md, "Half rate").
    let allowed = load::affinity::allowed();
    let half_pinned = if allowed.len() >= 2 {
        let (server_cpus, bench_cpus) = allowed.split_at(allowed.len().div_ceil(2));
        let split = (server_cpus.to_vec(), bench_cpus.to_vec());
        let pinned = half_rate_run(plan, &server, tokens, half_rate, Some(split)).await;
        // The server back on every CPU, whatever happened (the generator's
        // threads are gone).
        let _ = load::affinity::pin(server.child.id(), &allowed);
        errors.outcome("reads at half rate, pinned", &pinned.1);
        Some(pinned.0)
    } else {
        None
    };

    // 5. Fan-out: one subscriber per user (cycling when there are more),
    //    then webhooks opening a call to one subscriber's user, timed until
    //    that stream carries the new session's id. The subscribers send
    //    heartbeats as ServiceStack's clients do (`subscribers`), so the
    //    phase may outlast the server's idle timeout.
    let rss_before_subscribers = server.rss()?;
    let progress = bar("subscribers", plan.subscribers as u64);
    let fanout_started = Instant::now();
    let mut subscribers = Subscribers::new(SUBSCRIBER_READERS, Some(server.addr));
    let mut subscribe_errors = Outcome::new();
    for i in 0..plan.subscribers {
        match subscribers
            .connect(server.addr, &set.users[i % plan.users].authorization)
            .await
        {
            Ok(()) => subscribe_errors.ok += 1,
            Err(error) => subscribe_errors.error(format!("subscribe: {error:#}")),
        }
        progress.inc(1);
    }
    progress.finish();
    errors.outcome("subscribe", &subscribe_errors);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_subscribers = server.rss()?;
    // Diagnostics: `EVO_BENCH_FANOUT_TRACE=<dir>` keeps each sample (index,
    // call SID, sent at in µs since the epoch, acknowledged and seen after,
    // µs) in `<dir>/samples.tsv`, and the server's log beside it, to tell
    // which step made a slow sample slow (docs/benchmarks.md, "Fan-out
    // tail (issue 12, session 10, `fantail`)"). Asked for and not
    // writable is an error, not a run without it.
    let mut trace = match trace_dir() {
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("creating {} failed", dir.display()))?;
            let file = dir.join("samples.tsv");
            let created = std::fs::File::create(&file)
                .with_context(|| format!("creating {} failed", file.display()))?;
            Some(std::io::BufWriter::new(created))
        }
        None => None,
    };
    let fanout = fan_out(
        plan,
        &server,
        &set,
        &signer,
        &subscribers.list,
        trace.as_mut(),
    )
    .await;
    if let Some(trace) = trace.as_mut() {
        trace.flush().context("writing the fan-out trace failed")?;
    }
    errors.outcome("fan-out", &fanout.seen);
    errors.outcome("fan-out webhooks", &fanout.acked);
    let fanout_secs = fanout_started.elapsed();
    let mut heartbeats = subscribers.heartbeats();
    heartbeats.elapsed = fanout_secs;
    errors.outcome("fan-out heartbeats", &heartbeats);
    let connected = subscribers.list.len();
    let intervals = subscribers.list.first().map(|s| {
        (
            s.connected.heartbeat_interval.as_millis() as u64,
            s.connected.idle_timeout.as_millis() as u64,
        )
    });
    drop(subscribers);
    server.stop()?;
    if let Some(dir) = trace_dir() {
        std::fs::copy(&log, dir.join("server.log"))
            .with_context(|| format!("copying the server's log into {} failed", dir.display()))?;
    }
    let fanout_steps = if plan.fanout_steps {
        fan_out_steps(&log)?
    } else {
        Vec::new()
    };

    // Copies of the store while it is at rest (before any store is opened
    // on it again: closing one removes its WAL file in the background):
    // with H = the ingest calls (a few MB: the directory, the active calls,
    // the ended ones so far) for the paired history comparison, and two for
    // the interleaved ingest rounds.
    let small_dir = dir.path().join("data-small");
    copy_files(&data_dir, &small_dir)?;
    let ingest_dirs = (
        dir.path().join("ingest-server"),
        dir.path().join("ingest-store"),
    );
    copy_files(&data_dir, &ingest_dirs.0)?;
    copy_files(&data_dir, &ingest_dirs.1)?;

    // The ingest calls as the webhooks left them: the rows of the store's
    // batch limit and of the history are rebuilt from them.
    let store = evo_store::open_store(&data_dir.display().to_string()).await?;
    let mut templates = Vec::new();
    for n in 0..plan.ingest_calls.min(data::BATCH_SESSIONS) {
        let root = data::call_sid(0x20, 0, n as u64);
        let leg = data::call_sid(0x20, 1, n as u64);
        match data::template(store.as_ref(), &set.account_id, &root, &leg).await {
            Ok(template) => templates.push(template),
            Err(error) => errors.add("history", 1, Some(format!("{error:#}"))),
        }
    }
    drop(store);

    // 5b. Ingest against the store's batch limit, interleaved: a server on
    //     one copy of the store and the bench's own `Store::commit` on
    //     another, in alternating rounds (`ingest_rounds`).
    let ingest_rounds = ingest_rounds(
        plan,
        &ingest_dirs,
        dir.path(),
        &set,
        &templates,
        &mut errors,
    )
    .await?;

    // 6. Grow the history to H with the rows the ingest webhooks wrote:
    //    the first batch through the store's commit, the rest loaded in
    //    bulk (`data::grow`).
    let store = evo_store::open_store(&data_dir.display().to_string()).await?;
    let more = plan.history - plan.ingest_calls;
    let progress = bar("history", more as u64);
    let growth = data::grow(
        store.as_ref(),
        &set.account_id,
        templates,
        more,
        plan.ingest_calls,
        &progress,
    )
    .await?;
    progress.finish();
    drop(store);
    let store_bytes = std::fs::read_dir(&data_dir)?
        .filter_map(|entry| entry.ok()?.metadata().ok())
        .map(|metadata| metadata.len())
        .sum();

    // 7. The paired history comparison: a server on the grown store and
    //    one on the copy kept before the growth, both started now.
    let restarted = Instant::now();
    let server = Server::start(&data_dir, &log, plan.fanout_steps).await?;
    let server_start_secs = restarted.elapsed().as_secs_f64();
    let small_server =
        Server::start(&small_dir, &dir.path().join("serve-small.log"), false).await?;
    let history_reads =
        history_pair(plan, &small_server, &server, &set, dir.path(), &mut errors).await?;
    server.stop()?;
    small_server.stop()?;

    Ok(Report {
        command: match std::env::var("EVO_BENCH_SERVE_BIN") {
            Ok(bin) => format!("EVO_BENCH_SERVE_BIN={bin} "),
            Err(_) => String::new(),
        } + &std::env::args().collect::<Vec<_>>().join(" "),
        machine: report::Machine::detect(load_at_start),
        plan: plan.clone(),
        method: report::method(&notes),
        setup: report::Setup {
            seed_secs,
            active: Figures::of(&active),
            ingest_opens: Figures::of(&opened),
        },
        reads: report::Reads {
            ratio: small.ratio,
            ratio_pairs: small.pair_ratio.clone(),
            history_small: plan.ingest_calls,
            history_large: plan.history,
            half_rate: half.0,
            half_rate_pinned: half_pinned,
            ratio_change: history_reads.summary.ratio_change,
            small,
            large: history_reads.large.clone(),
            history: history_reads,
        },
        ingest: report::Ingest {
            first_phase: Figures::of(&ingest),
            ..ingest_rounds
        },
        fanout: report::FanOut {
            subscribers: connected,
            message: Figures::of(&fanout.seen),
            message_p99: paired::Spread::quantile(&fanout.samples, 0.99),
            webhook_ack: Figures::of(&fanout.acked),
            steps: fanout_steps,
            phase_secs: fanout_secs.as_secs_f64(),
            heartbeats: Figures::of(&heartbeats),
            heartbeat_interval_ms: intervals.map(|i| i.0),
            idle_timeout_ms: intervals.map(|i| i.1),
        },
        memory: report::Memory {
            rss_empty,
            rss_active,
            rss_before_subscribers,
            rss_subscribers,
            bytes_per_active_session: rss_active.saturating_sub(rss_empty) as f64
                / total_active.max(1) as f64,
            bytes_per_subscriber: rss_subscribers.saturating_sub(rss_before_subscribers) as f64
                / connected.max(1) as f64,
            active_delta: report::RssSplit {
                anon: split_active.anon - split_empty.anon,
                file: split_active.file - split_empty.file,
                shmem: split_active.shmem - split_empty.shmem,
            },
        },
        history: report::History {
            sessions_appended: growth.sessions,
            full_sessions: growth.limit_sessions,
            bulk_sessions: growth.bulk_sessions,
            bulk_sessions_per_sec: growth.bulk_sessions as f64
                / growth.bulk_load_time.as_secs_f64().max(1e-9),
            bulk_load_secs: growth.bulk_load_time.as_secs_f64(),
            build_wait_secs: growth.build_wait.as_secs_f64(),
            store_bytes,
            server_start_secs,
            secs: growth.elapsed.as_secs_f64(),
        },
        errors,
    })
}

struct FanOutOutcome {
    /// Webhook sent → message containing the session id read.
    seen: Outcome,
    /// The same, each sample in ms (for the p99's interval).
    samples: Vec<f64>,
    /// Webhook sent → acknowledged.
    acked: Outcome,
}

/// Opens a call to one subscriber's user per sample (the voice webhook),
/// times the message on that user's stream, then ends the call.
async fn fan_out(
    plan: &Plan,
    server: &Server,
    set: &DataSet,
    signer: &Signer,
    subscribers: &[Subscriber],
    mut trace: Option<&mut std::io::BufWriter<std::fs::File>>,
) -> FanOutOutcome {
    let mut seen = Outcome::new();
    let mut acked = Outcome::new();
    let mut samples = Vec::with_capacity(plan.fanout_samples);
    let progress = bar("fan-out", plan.fanout_samples as u64);
    let host = load::host_header(server.addr);
    let started = Instant::now();
    let mut conn: Option<Conn> = None;
    let usable = subscribers.len().min(plan.users);
    for n in 0..plan.fanout_samples {
        progress.inc(1);
        if usable == 0 {
            seen.error("no subscriber is connected".into());
            continue;
        }
        let target = (n * 7919) % usable;
        let user = &set.users[target % plan.users];
        let root = data::call_sid(0x30, 0, n as u64);
        let caller = data::caller(n as u64);
        let session_id = evo_server::app::sessions::call_session_id(
            &AccountId::new(set.account_id.as_str()),
            &CallSid::new(root.as_str()),
        );
        if subscribers[target]
            .closed
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            seen.error(format!("the stream of user {target} had closed"));
            continue;
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        *subscribers[target]
            .waiter
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(Waiter {
            needle: session_id.into_string().into_bytes(),
            seen: tx,
        });
        let begin = Instant::now();
        let wall = std::time::SystemTime::now();
        send_hook(
            &mut conn,
            server.addr,
            &host,
            &signer.voice(&root, &caller, user),
            &mut acked,
        )
        .await;
        let acked_after = begin.elapsed();
        match tokio::time::timeout(Duration::from_secs(5), rx).await {
            Ok(Ok(at)) => {
                seen.ok += 1;
                let micros = load::micros(at.saturating_duration_since(begin));
                let _ = seen.latency.record(micros);
                samples.push(micros as f64 / 1000.0);
                if let Some(trace) = trace.as_mut() {
                    let sent = wall
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap_or_default()
                        .as_micros();
                    if let Err(error) = writeln!(
                        trace,
                        "{n}\t{root}\t{sent}\t{}\t{micros}",
                        acked_after.as_micros()
                    ) {
                        seen.error(format!("writing the fan-out trace failed: {error}"));
                    }
                }
            }
            Ok(Err(_)) => seen.error(format!("the stream of user {target} closed")),
            Err(_) => {
                seen.error(format!("no message for {root} within 5 s"));
                subscribers[target]
                    .waiter
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .take();
            }
        }
        // End the call, so the active set stays as it was.
        let end = signer.root_completed(&root, &caller, user, Utc::now());
        send_hook(&mut conn, server.addr, &host, &end, &mut acked).await;
    }
    progress.finish();
    seen.elapsed = started.elapsed();
    acked.elapsed = started.elapsed();
    FanOutOutcome {
        seen,
        samples,
        acked,
    }
}

/// Where `EVO_BENCH_FANOUT_TRACE` asks the fan-out phase's samples and the
/// server's log to be kept, if it does.
fn trace_dir() -> Option<PathBuf> {
    std::env::var_os("EVO_BENCH_FANOUT_TRACE").map(PathBuf::from)
}

/// Tasks reading the subscribers' streams (the bench's runtime has one
/// worker a core).
const SUBSCRIBER_READERS: usize = 4;

/// The steps of the fan-out path in the order a change takes them.
/// `commit_*` and `log_*` split `commit` and `log` (evo-store's
/// `timing`): waiting for the commit writer task, for the writers' turn,
/// the statements, the COMMIT (fsync).
const STEPS: [&str; 15] = [
    "signature",
    "reduce",
    "commit",
    "commit_queue",
    "commit_turn",
    "commit_write",
    "commit_sync",
    "index",
    "hub_wait",
    "plan",
    "log",
    "log_turn",
    "log_write",
    "deliver",
    "written",
];

/// Each step's latency over the fan-out samples' sessions, from the step
/// timings the server logged (`evo_server::app::timing`: one line per step
/// with `subject=`, `step=` and `us=`).
fn fan_out_steps(log: &Path) -> anyhow::Result<Vec<report::Step>> {
    let text = std::fs::read_to_string(log).context("reading the server's log failed")?;
    // The fan-out calls' SIDs (and so their session ids) share this prefix.
    let marker = data::call_sid(0x30, 0, 0)[..6].to_string();
    let mut found: Vec<Outcome> = STEPS.iter().map(|_| Outcome::new()).collect();
    for line in text.lines() {
        let Some(at) = line.find("subject=") else {
            continue;
        };
        let field = |name: &str| {
            line[at..]
                .split_whitespace()
                .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
                .map(|value| value.trim_matches('"'))
        };
        let (Some(subject), Some(step), Some(us)) = (field("subject"), field("step"), field("us"))
        else {
            continue;
        };
        let (Some(index), Ok(us)) = (STEPS.iter().position(|s| *s == step), us.parse::<u64>())
        else {
            continue;
        };
        if subject.contains(&marker) {
            found[index].ok += 1;
            let _ = found[index].latency.record(us.max(1));
        }
    }
    Ok(STEPS
        .iter()
        .zip(found)
        .filter(|(_, outcome)| outcome.ok > 0)
        .map(|(step, outcome)| {
            let figures = Figures::of(&outcome);
            report::Step {
                step: step.to_string(),
                samples: outcome.ok,
                p50_ms: figures.p50_ms,
                p99_ms: figures.p99_ms,
                max_ms: figures.max_ms,
            }
        })
        .collect())
}

/// Sends one webhook on `conn` (opened when needed); records its
/// acknowledgement.
async fn send_hook(
    conn: &mut Option<Conn>,
    addr: SocketAddr,
    host: &HeaderValue,
    hook: &load::Hook,
    acked: &mut Outcome,
) {
    if conn.is_none() {
        match Conn::open(addr).await {
            Ok(opened) => *conn = Some(opened),
            Err(error) => {
                acked.error(format!("{error:#}"));
                return;
            }
        }
    }
    let Some(open) = conn.as_mut() else { return };
    let begin = Instant::now();
    match open.send(hook.request(host)).await {
        Ok((status, _)) if status.is_success() => {
            acked.ok += 1;
            let _ = acked.latency.record(load::micros(begin.elapsed()));
        }
        Ok((status, body)) => acked.error(format!(
            "{} answered {status}: {}",
            hook.path_and_query,
            String::from_utf8_lossy(&body)
        )),
        Err(error) => {
            acked.error(format!("{}: {error:#}", hook.path_and_query));
            *conn = None;
        }
    }
}
