//! `evo-voice bench`: measures the two hot paths on this machine.
//!
//! 1. Ingest: events applied through the session service (reduce, group
//!    commit to the embedded store, index, publish) from many concurrent
//!    writers: events per second and latency percentiles of a durable apply.
//! 2. Reads: `GET /sessions/active` over loopback HTTP with a bearer token,
//!    from concurrent clients, against a populated live index.
//!
//! Numbers depend on the machine; the command prints them, it asserts
//! nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use evo_core::reducer;
use evo_core::scenario::{self, Cast};
use evo_server::app::config::{Config, StoreLocation};
use evo_server::startup::Application;

use crate::cli::BenchArgs;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn print_latencies(label: &str, mut samples: Vec<Duration>, elapsed: Duration) {
    samples.sort();
    let count = samples.len();
    println!(
        "{label}: {count} in {:.2} s = {:.0}/s; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        elapsed.as_secs_f64(),
        count as f64 / elapsed.as_secs_f64().max(1e-9),
        percentile(&samples, 0.50).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
        samples.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let dir = tempfile::tempdir().context("creating a temporary directory failed")?;
    let store = evo_store::open_store(&dir.path().display().to_string()).await?;
    let seeded = crate::demo::seed(store.as_ref()).await?;
    let config = Config::for_store(
        "127.0.0.1:0".parse()?,
        StoreLocation::DataDir(dir.path().to_path_buf()),
    );
    let app = Application::build_with_store(config, store).await?;
    let address = app.local_addr();
    let state = app.state();
    tokio::spawn(app.run_until_stopped());
    println!(
        "evo-voice bench ({} cores)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    // Ingest: open every call and apply all but its last events (so the
    // sessions stay active for the read benchmark), many calls at once.
    let casts: Arc<Vec<Cast>> = Arc::new(seeded.casts.clone());
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut writers = Vec::new();
    for _ in 0..args.writers.max(1) {
        let state = state.clone();
        let casts = casts.clone();
        let next = next.clone();
        let total = args.calls;
        writers.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= total {
                    break;
                }
                let kind = scenario::KINDS[n % scenario::KINDS.len()];
                let mut cast = casts[n % casts.len()].clone();
                cast.caller = format!("+1555{:07}", n);
                let plan = scenario::build(kind, &cast, &format!("B{n:08}"), Utc::now());
                let session = reducer::open(&plan.session_id, plan.header.clone(), plan.opened_at);
                let begin = Instant::now();
                if state
                    .sessions
                    .open(session, plan.header.call_sid.iter().cloned().collect())
                    .await
                    .is_err()
                {
                    continue;
                }
                samples.push(begin.elapsed());
                let keep_active = plan.events.len().saturating_sub(2);
                for event in plan.events.into_iter().take(keep_active) {
                    let begin = Instant::now();
                    if state
                        .sessions
                        .apply(&plan.session_id, event, Vec::new())
                        .await
                        .is_ok()
                    {
                        samples.push(begin.elapsed());
                    }
                }
            }
            samples
        }));
    }
    let mut samples = Vec::new();
    for writer in writers {
        samples.extend(writer.await.unwrap_or_default());
    }
    print_latencies(
        &format!("ingest (durable apply, {} writers)", args.writers),
        samples,
        started.elapsed(),
    );
    println!(
        "active sessions in the live index: {}",
        state.sessions.index().len()
    );

    // Reads over HTTP.
    let http = reqwest::Client::new();
    let token: serde_json::Value = http
        .post(format!("http://{address}/auth/credentials"))
        .json(&serde_json::json!({"userName": "alice@acme.example", "password": crate::demo::DEMO_PASSWORD}))
        .send()
        .await?
        .json()
        .await?;
    let token = token["bearerToken"]
        .as_str()
        .context("no bearer token")?
        .to_string();
    let first = http
        .get(format!("http://{address}/sessions/active"))
        .bearer_auth(&token)
        .send()
        .await?
        .bytes()
        .await?;
    let visible = serde_json::from_slice::<serde_json::Value>(&first)?["sessions"]
        .as_array()
        .map_or(0, Vec::len);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut readers = Vec::new();
    for _ in 0..args.readers.max(1) {
        let http = http.clone();
        let token = token.clone();
        let next = next.clone();
        let total = args.reads;
        readers.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < total {
                let begin = Instant::now();
                let ok = match http
                    .get(format!("http://{address}/sessions/active"))
                    .bearer_auth(&token)
                    .send()
                    .await
                {
                    Ok(response) => {
                        response.status().is_success() && response.bytes().await.is_ok()
                    }
                    Err(_) => false,
                };
                if ok {
                    samples.push(begin.elapsed());
                }
            }
            samples
        }));
    }
    let mut samples = Vec::new();
    for reader in readers {
        samples.extend(reader.await.unwrap_or_default());
    }
    print_latencies(
        &format!(
            "GET /sessions/active ({} clients, {visible} sessions, {} KiB per response)",
            args.readers,
            first.len() / 1024
        ),
        samples,
        started.elapsed(),
    );
    Ok(())
}
