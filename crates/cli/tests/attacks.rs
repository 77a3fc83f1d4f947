//! Attacks whose defence is a resource bound of the server process, measured
//! from outside it (/proc/<pid>/status and /proc/<pid>/fd) on the real
//! binary. Status-level attacks are in crates/server/tests/api/attacks.rs.

mod common;

use common::free_port;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server {
    child: Child,
    port: u16,
    _data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// Starts `evo-voice serve` with extra flags on a fresh data directory.
async fn serve(flags: &[&str]) -> Server {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_evo-voice"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .args(flags)
        .env("EVO_DATA_DIR", data.path())
        .env_remove("EVO_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server {
        child,
        port,
        _data: data,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::get(server.url("/health")).await.is_err() {
        assert!(Instant::now() < deadline, "the server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server
}

/// Resident memory of a process, in KiB (`VmRSS` in /proc/<pid>/status).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/<pid>/status")
}

/// Open descriptors of a process.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_wrong_logins_grow_resident_memory_by_a_bounded_amount() {
    // Two verifications at once: at most two 19 MiB argon2 buffers.
    let server = serve(&[
        "--password-checks",
        "2",
        "--login-failures-per-address",
        "0",
    ])
    .await;
    let before = rss_kib(server.pid());
    let client = reqwest::Client::new();
    for burst in [64, 400] {
        let attempts = (0..burst).map(|i| {
            let client = client.clone();
            let url = server.url("/auth/credentials");
            async move {
                client
                    .post(url)
                    .json(&serde_json::json!({
                        "userName": format!("victim{burst}-{i}@example.com"),
                        "password": "guess"
                    }))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }
        });
        let started = Instant::now();
        let statuses = futures_join(attempts).await;
        // 401, or 503 for attempts still waiting for a password check when
        // the request timeout (30 s) ends them.
        assert!(
            statuses.iter().all(|s| *s == 401 || *s == 503) && statuses.contains(&401),
            "{statuses:?}"
        );
        let timed_out = statuses.iter().filter(|s| **s == 503).count();
        let after = rss_kib(server.pid());
        let growth_mib = after.saturating_sub(before) as f64 / 1024.0;
        eprintln!(
            "{burst} concurrent wrong logins in {:?} ({timed_out} timed out): RSS {before} KiB -> {after} KiB (+{growth_mib:.1} MiB)",
            started.elapsed()
        );
        // Unbounded, 64 verifications at once would need 64 × 19 MiB = 1.2 GiB.
        assert!(
            growth_mib < 64.0,
            "resident memory grew by {growth_mib:.1} MiB after {burst} concurrent wrong logins"
        );
    }
}

/// Runs the futures concurrently (on this runtime) and collects their outputs.
async fn futures_join<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut outputs = Vec::new();
    for handle in handles {
        outputs.push(handle.await.unwrap());
    }
    outputs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_idle_connections_do_not_open_descriptors_beyond_the_limit() {
    let server = serve(&[
        "--max-connections",
        "16",
        "--header-read-timeout-secs",
        "60",
    ])
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = open_fds(server.pid());
    let mut idle = Vec::new();
    let started = Instant::now();
    // 120: beyond the limit, yet within the kernel's accept queue (128,
    // the listen backlog tokio uses), so that connecting does not stall.
    for _ in 0..120 {
        idle.push(
            tokio::net::TcpStream::connect(("127.0.0.1", server.port))
                .await
                .unwrap(),
        );
    }
    eprintln!("connected in {:?}", started.elapsed());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let during = open_fds(server.pid());
    eprintln!("120 idle connections: server descriptors {before} -> {during}");
    assert!(
        during <= before + 16,
        "descriptors grew from {before} to {during} with a limit of 16 connections"
    );
    // Once the idle clients leave, the server serves again.
    drop(idle);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ok = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap()
            .get(server.url("/health"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        if ok {
            eprintln!("recovered after {:?}", started.elapsed());
            break;
        }
        assert!(Instant::now() < deadline, "the server did not recover");
    }
}
