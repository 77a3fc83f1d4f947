//! The server's periodic background passes, timed alone (issue 12, the
//! half-rate tail): what each takes of a runtime worker and of SQLite's
//! connection threads while reads are served beside it.
//!
//! ```sh
//! cargo run -p evo-server --release --example background -- [users] [passes]
//! ```
//!
//! Seeds `users` users (default 2,000), each with a phone number ringing
//! them and a sign-in session, as `evo-voice bench` does; then times, on a
//! current-thread runtime (so the worker's CPU is this thread's):
//! - `Directory::reload` when nothing changed (one row: the ring
//!   generation) and when the generation moved (the 2,000 assignments read,
//!   rebuilt and compared: what every reload did before migration 0016);
//! - the token re-check pass (`Authenticator::refresh_tokens`) with every
//!   user's token cached and in use, and nothing changed in the store;
//! - the metrics upkeep (every 5 s) after 5 s of reads at 30,000 a second.
//!
//! Prints, per pass, the median and maximum wall time and the CPU time of
//! the runtime's thread and of SQLite's threads.

use std::time::{Duration, Instant};

use evo_server::auth::tokens::access_claims;

// Each example uses part of it.
#[allow(dead_code)]
#[path = "support/load_users.rs"]
mod load_users;

/// The CPU time of the calling thread (the current-thread runtime); the
/// yield brings the kernel's account of the running thread up to date.
fn thread_cpu() -> Duration {
    std::thread::yield_now();
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    Duration::from_nanos(
        stat.split_whitespace()
            .next()
            .and_then(|ns| ns.parse().ok())
            .unwrap_or(0),
    )
}

struct Timings {
    wall: Vec<Duration>,
    cpu: Duration,
    sqlite: f64,
}

impl Timings {
    fn print(mut self, name: &str) {
        self.wall.sort();
        let n = self.wall.len() as u32;
        println!(
            "{name:<44} wall median {:>8.1} µs, max {:>8.1} µs; runtime thread CPU {:>8.1} µs a pass; SQLite threads {:>6.0} µs a pass (10 ms ticks)",
            self.wall[self.wall.len() / 2].as_secs_f64() * 1e6,
            self.wall[self.wall.len() - 1].as_secs_f64() * 1e6,
            (self.cpu / n).as_secs_f64() * 1e6,
            self.sqlite * 1e6 / f64::from(n),
        );
    }
}

async fn time<F, Fut>(passes: usize, mut pass: F) -> Timings
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut timings = Timings {
        wall: Vec::new(),
        cpu: Duration::ZERO,
        sqlite: 0.0,
    };
    for _ in 0..passes {
        let (sqlite, cpu, started) = (load_users::cpu_secs("sqlx"), thread_cpu(), Instant::now());
        pass().await;
        timings.wall.push(started.elapsed());
        timings.cpu += thread_cpu().saturating_sub(cpu);
        timings.sqlite += load_users::cpu_secs("sqlx") - sqlite;
    }
    timings
}

fn main() -> anyhow::Result<()> {
    let users = load_users::arg(1, 2_000) as usize;
    let passes = load_users::arg(2, 40) as usize;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let dir = tempfile::tempdir()?;
    runtime.block_on(async {
        let (app, seeded) = load_users::seeded_app(dir.path(), users).await?;
        let state = app.state();

        // Another process's write, as plain SQL: moves the ring generation.
        sqlx::any::install_default_drivers();
        let url = evo_store::sql::sqlite_url(dir.path());
        let sql = sqlx::AnyPool::connect(&url).await?;
        let directory = state.directory.clone();
        time(passes, || async {
            directory.reload().await.expect("reload");
        })
        .await
        .print("directory reload, nothing changed");
        let mut full = Timings {
            wall: Vec::new(),
            cpu: Duration::ZERO,
            sqlite: 0.0,
        };
        for _ in 0..passes {
            sqlx::query("update ring_generation set value = value + 1")
                .execute(&sql)
                .await?;
            let mut one = time(1, || async {
                assert!(directory.reload().await.expect("reload"), "read whole");
            })
            .await;
            full.wall.append(&mut one.wall);
            full.cpu += one.cpu;
            full.sqlite += one.sqlite;
        }
        full.print("directory reload, generation moved (whole)");

        // Every user's token verified once (cached) and in use.
        let now = chrono::Utc::now().timestamp();
        let headers: Vec<axum::http::HeaderMap> = seeded
            .iter()
            .map(|(user, _, sid)| {
                let token = state
                    .auth
                    .keys()
                    .sign_access(&access_claims(user, sid, now, 7200));
                let mut headers = axum::http::HeaderMap::new();
                headers.insert(
                    axum::http::header::AUTHORIZATION,
                    format!("Bearer {token}").parse().expect("header"),
                );
                headers
            })
            .collect();
        for h in &headers {
            state.auth.authenticate(h).await.expect("verified");
        }
        // The first pass reads the records (no generation known yet).
        let horizon = || Instant::now() + 2 * evo_server::auth::REFRESH_PERIOD;
        state.auth.refresh_tokens(horizon()).await.expect("pass");
        let auth = &state.auth;
        let mut timings = Timings {
            wall: Vec::new(),
            cpu: Duration::ZERO,
            sqlite: 0.0,
        };
        for _ in 0..passes {
            for h in &headers {
                state.auth.authenticate(h).await.expect("cached");
            }
            let mut one = time(1, || async {
                let outcome = auth.refresh_tokens(horizon()).await.expect("pass");
                assert_eq!(outcome.extended, users, "every token extended");
            })
            .await;
            timings.wall.append(&mut one.wall);
            timings.cpu += one.cpu;
            timings.sqlite += one.sqlite;
        }
        timings.print(&format!(
            "token re-check, {users} tokens in use, idle store"
        ));

        // The metrics upkeep after 5 s of reads at 30,000 a second: the
        // request histogram's samples folded into its buckets.
        let handle = evo_server::http::observe::prometheus();
        let histogram = metrics::histogram!(
            "evo_http_request_duration_seconds",
            "method" => "GET", "route" => "/sessions/active", "status" => "200"
        );
        let mut timings = Timings {
            wall: Vec::new(),
            cpu: Duration::ZERO,
            sqlite: 0.0,
        };
        for _ in 0..passes {
            for n in 0..150_000u32 {
                histogram.record(f64::from(n % 1000) * 1e-6);
            }
            let mut one = time(1, || async { handle.run_upkeep() }).await;
            timings.wall.append(&mut one.wall);
            timings.cpu += one.cpu;
        }
        timings.print("metrics upkeep, 150,000 samples");
        anyhow::Ok(())
    })
}
