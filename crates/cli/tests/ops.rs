//! Operations, against the real binary: graceful shutdown under a burst of
//! signed webhooks, secrets kept out of debug logs, health, metrics and
//! request ids, and online backup and restore.

mod common;

use common::{free_port, post_signed, wait_until_ready};
use evo_core::ids::{AccountId, CallSid};
use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use evo_twilio::params::FormParams;
use evo_twilio::signature::compute_signature;

const SID: &str = "AC00000000000000000000000000000a95";
const TOKEN: &str = "twilio-token-Zq81x";
const EMAIL: &str = "ops@test.test";
const PASSWORD: &str = "Pw-s3cret-Alpha-9";

fn evo(data: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_evo-voice"))
        .args(args)
        .env("EVO_DATA_DIR", data)
        .output()
        .unwrap()
}

fn evo_ok(data: &Path, args: &[&str]) -> String {
    common::evo_ok(("EVO_DATA_DIR", data.as_os_str()), args)
}

/// An account with a Twilio token, a user and a number ringing the user;
/// returns the account's id.
fn seed(data: &Path) -> String {
    common::seed_agent(
        ("EVO_DATA_DIR", data.as_os_str()),
        &common::Agent {
            account: "Ops",
            twilio_sid: SID,
            twilio_token: TOKEN,
            email: EMAIL,
            password: PASSWORD,
            number: "+15550400",
        },
    )
}

fn serve(data: &Path, port: u16, extra: &[&str], env: &[(&str, &str)], log: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_evo-voice"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .args(extra)
        .env("EVO_DATA_DIR", data)
        // Webhooks are verified against the public URL only.
        .env("EVO_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::from(File::create(log).unwrap()))
        .spawn()
        .unwrap()
}

fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn wait_with_deadline(child: &mut Child, deadline: Duration) -> ExitStatus {
    let until = Instant::now() + deadline;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > until {
            let _ = child.kill();
            panic!("the server did not exit within {deadline:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A signed ringing webhook (parameters as in Twilio's voice request, see
/// /work/shared/reference/twilio.md) for `call`.
fn ringing(port: u16, call: &str) -> (String, FormParams, String) {
    let url = format!("http://127.0.0.1:{port}/twilio/voice");
    let params = FormParams::from_pairs([
        ("AccountSid", SID),
        ("CallSid", call),
        ("From", "+15557770000"),
        ("To", "+15550400"),
        ("CallStatus", "ringing"),
        ("Direction", "inbound"),
    ]);
    let signature = compute_signature(TOKEN, &url, &params);
    (url, params, signature)
}

async fn send_webhook(
    http: &reqwest::Client,
    port: u16,
    call: &str,
) -> reqwest::Result<reqwest::Response> {
    let (url, params, signature) = ringing(port, call);
    post_signed(http, &url, &params, &signature).await
}

/// Writers sending signed webhooks until stopped or the server is gone;
/// each acknowledged call is recorded.
struct Burst {
    acknowledged: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    writers: Vec<tokio::task::JoinHandle<()>>,
}

impl Burst {
    fn start(http: &reqwest::Client, port: u16, prefix: &str) -> Self {
        let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let writers = (0..6)
            .map(|writer| {
                let (http, acknowledged, stop) = (http.clone(), acknowledged.clone(), stop.clone());
                let prefix = prefix.to_string();
                tokio::spawn(async move {
                    let mut n = 0u32;
                    while !stop.load(Ordering::Relaxed) {
                        n += 1;
                        let call = format!("CA{prefix}{writer:02}{n:028}");
                        match send_webhook(&http, port, &call).await {
                            Ok(response) if response.status().is_success() => {
                                acknowledged.lock().unwrap().push(call)
                            }
                            Ok(_) => {}
                            Err(_) => break,
                        }
                    }
                })
            })
            .collect();
        Burst {
            acknowledged,
            stop,
            writers,
        }
    }

    fn acknowledged(&self) -> Vec<String> {
        self.acknowledged.lock().unwrap().clone()
    }

    async fn finish(mut self) -> Vec<String> {
        self.stop.store(true, Ordering::Relaxed);
        for writer in std::mem::take(&mut self.writers) {
            writer.await.unwrap();
        }
        self.acknowledged()
    }
}

async fn assert_all_stored(data: &Path, account: &str, calls: &[String]) {
    let store = evo_store::open_store(&data.display().to_string())
        .await
        .unwrap();
    for call in calls {
        assert!(
            store
                .session(&evo_server::app::sessions::call_session_id(
                    &AccountId::new(account),
                    &CallSid::new(call)
                ))
                .await
                .unwrap()
                .is_some(),
            "acknowledged call {call} was lost"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_webhook_burst_loses_nothing_acknowledged_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let account = seed(&data);
    let port = free_port();
    let log = dir.path().join("server.log");
    let grace = 10;
    let mut server = serve(
        &data,
        port,
        &["--shutdown-grace-secs", &grace.to_string()],
        &[],
        &log,
    );
    let http = reqwest::Client::new();
    wait_until_ready(&http, port).await;
    let burst = Burst::start(&http, port, "T");
    while burst.acknowledged().len() < 20 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let signalled = Instant::now();
    sigterm(&server);
    let status = tokio::task::spawn_blocking(move || {
        wait_with_deadline(&mut server, Duration::from_secs(grace + 5))
    })
    .await
    .unwrap();
    let took = signalled.elapsed();
    let acknowledged = burst.finish().await;
    assert!(
        status.success(),
        "exit status {status:?}; log:\n{}",
        std::fs::read_to_string(&log).unwrap()
    );
    assert!(took < Duration::from_secs(grace), "stopped in {took:?}");
    assert_all_stored(&data, &account, &acknowledged).await;
    eprintln!(
        "{} webhooks acknowledged; SIGTERM to exit 0 in {took:?}; none lost",
        acknowledged.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_debug_log() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    seed(&data);
    let user_id = {
        let store = evo_store::open_store(&data.display().to_string())
            .await
            .unwrap();
        store.user_by_email(EMAIL).await.unwrap().unwrap().id
    };
    let api_key = evo_ok(&data, &["apikey", "add", "--user", &user_id]);
    // At least 32 bytes, or the server refuses it at start (issue 16).
    let jwt_secret = "jwt-secret-Kd93hf-never-logged-0123456789";
    let wrong_password = "Wrong-Pw-7731-secret";
    let port = free_port();
    let log = dir.path().join("server.log");
    let mut server = serve(
        &data,
        port,
        &[],
        &[("RUST_LOG", "debug"), ("EVO_JWT_SECRET", jwt_secret)],
        &log,
    );
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    wait_until_ready(&http, port).await;

    // Password sign-in (remembered: ss-id, ss-pid cookies; a bearer and a
    // refresh token in the body).
    let signed_in = http
        .post(format!("{base}/auth/credentials"))
        .header("Accept", "application/json")
        .header("X-Request-Id", "secret-test-1")
        .json(&serde_json::json!({"userName": EMAIL, "password": PASSWORD, "rememberMe": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 200);
    let cookies: Vec<String> = signed_in
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|cookie| cookie.split(';').next())
        .filter_map(|pair| pair.split_once('=').map(|(_, value)| value.to_string()))
        .filter(|value| !value.is_empty())
        .collect();
    assert!(!cookies.is_empty(), "the sign-in set cookies");
    let body: serde_json::Value = signed_in.json().await.unwrap();
    let bearer = body["bearerToken"].as_str().unwrap().to_string();
    let refresh = body["refreshToken"].as_str().unwrap().to_string();

    // Cookie, bearer and API key reads; a new access token; a failed sign-in.
    let by_cookie = http
        .get(format!("{base}/sessions/active"))
        .send()
        .await
        .unwrap();
    assert_eq!(by_cookie.status(), 200);
    let plain = reqwest::Client::new();
    for token in [&bearer, &api_key] {
        let read = plain
            .get(format!("{base}/sessions/active"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(read.status(), 200);
    }
    let renewed = plain
        .post(format!("{base}/access-token"))
        .header("Accept", "application/json")
        .json(&serde_json::json!({"refreshToken": refresh}))
        .send()
        .await
        .unwrap();
    assert_eq!(renewed.status(), 200);
    let renewed: serde_json::Value = renewed.json().await.unwrap();
    let renewed_bearer = renewed["accessToken"].as_str().unwrap().to_string();
    let refused = plain
        .post(format!("{base}/auth/credentials"))
        .header("Accept", "application/json")
        .json(&serde_json::json!({"userName": EMAIL, "password": wrong_password}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let refused_key = plain
        .get(format!("{base}/sessions/active"))
        .bearer_auth(format!("{api_key}x"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused_key.status(), 401);

    // A signed webhook, and one with a bad signature.
    let call = "CA0000000000000000000000000000d3b6";
    let (url, params, signature) = ringing(port, call);
    let hook = post_signed(&plain, &url, &params, &signature)
        .await
        .unwrap();
    assert!(hook.status().is_success());
    let forged = compute_signature("another-token-Qx0", &url, &params);
    let bad = post_signed(&plain, &url, &params, &forged).await.unwrap();
    assert_eq!(bad.status(), 403);

    sigterm(&server);
    let status = tokio::task::spawn_blocking(move || {
        wait_with_deadline(&mut server, Duration::from_secs(30))
    })
    .await
    .unwrap();
    assert!(status.success());
    let logged = std::fs::read_to_string(&log).unwrap();
    // The log is the debug log of those very requests.
    assert!(logged.contains("secret-test-1"), "request ids are logged");
    assert!(logged.contains("DEBUG"), "debug lines were written");
    let mut secrets = vec![
        ("password", PASSWORD.to_string()),
        ("wrong password", wrong_password.to_string()),
        ("bearer token", bearer),
        ("renewed bearer token", renewed_bearer),
        ("refresh token", refresh),
        ("API key", api_key),
        ("Twilio auth token", TOKEN.to_string()),
        ("Twilio signature", signature),
        ("forged signature", forged),
        ("JWT secret", jwt_secret.to_string()),
    ];
    secrets.extend(cookies.into_iter().map(|value| ("cookie", value)));
    for (what, secret) in secrets {
        assert!(
            !logged.contains(&secret),
            "the {what} appears in the debug log"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_metrics_and_request_ids() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    seed(&data);
    let port = free_port();
    let log = dir.path().join("server.log");
    let mut server = serve(
        &data,
        port,
        &["--log-format", "json"],
        &[("RUST_LOG", "info,tower_http=debug")],
        &log,
    );
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    wait_until_ready(&http, port).await;

    let live = http
        .get(format!("{base}/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    let generated = live.headers()["x-request-id"].to_str().unwrap().to_string();
    let parsed = uuid::Uuid::parse_str(&generated).unwrap();
    assert_eq!(parsed.get_version_num(), 7, "a generated id is a UUID v7");
    let ready = http
        .get(format!("{base}/health/ready"))
        .header("X-Request-Id", "ops-test-42")
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.headers()["x-request-id"], "ops-test-42");
    // A request id that could forge log lines is replaced.
    let odd = http
        .get(format!("{base}/health/live"))
        .header("X-Request-Id", "a b\"}")
        .send()
        .await
        .unwrap();
    assert_ne!(odd.headers()["x-request-id"], "a b\"}");
    assert!(http
        .get(format!("{base}/health"))
        .send()
        .await
        .unwrap()
        .status()
        .is_success());

    assert!(
        send_webhook(&http, port, "CA00000000000000000000000000000e01")
            .await
            .unwrap()
            .status()
            .is_success()
    );
    let refused = http
        .post(format!("{base}/auth/credentials"))
        .header("Accept", "application/json")
        .json(&serde_json::json!({"userName": EMAIL, "password": "nope-nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);

    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for expected in [
        r#"route="/health/live""#,
        "evo_http_request_duration_seconds_bucket",
        "evo_webhooks_total{endpoint=\"/twilio/voice\",outcome=\"accepted\"} 1",
        "evo_login_failures_total 1",
        "evo_active_sessions 1",
        "evo_event_stream_subscribers 0",
        "evo_store_commit_seconds_bucket",
        "evo_store_commit_batch_size_bucket",
    ] {
        assert!(metrics.contains(expected), "{expected} in:\n{metrics}");
    }
    assert!(
        !metrics.contains("CA00000000000000000000000000000e01"),
        "raw paths and parameters are not labels"
    );

    sigterm(&server);
    let status = tokio::task::spawn_blocking(move || {
        wait_with_deadline(&mut server, Duration::from_secs(30))
    })
    .await
    .unwrap();
    assert!(status.success());
    let logged = std::fs::read_to_string(&log).unwrap();
    let line = logged
        .lines()
        .find(|line| line.contains("ops-test-42"))
        .expect("a log line of the request");
    let json: serde_json::Value = serde_json::from_str(line).expect("JSON log lines");
    assert_eq!(json["span"]["request_id"], "ops-test-42", "{line}");
    assert!(!logged.contains("\u{1b}["), "no colour when not a terminal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_write_load_restores_the_same_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let account = seed(&data);
    let port = free_port();
    let log = dir.path().join("server.log");
    let mut server = serve(&data, port, &[], &[], &log);
    let http = reqwest::Client::new();
    wait_until_ready(&http, port).await;
    let burst = Burst::start(&http, port, "B");
    while burst.acknowledged().len() < 20 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A backup counts when webhooks were acknowledged while it ran; on a
    // loaded machine one may finish between two of them, so take another.
    let mut overlapped = None;
    for attempt in 0..10 {
        let before_backup = burst.acknowledged();
        let file = dir.path().join(format!("backup-{attempt}.db"));
        let backup = {
            let (data, file) = (data.clone(), file.clone());
            tokio::task::spawn_blocking(move || {
                evo(&data, &["backup", "--to", file.to_str().unwrap()])
            })
            .await
            .unwrap()
        };
        assert!(
            backup.status.success(),
            "{}",
            String::from_utf8_lossy(&backup.stderr)
        );
        if burst.acknowledged().len() > before_backup.len() {
            overlapped = Some((file, before_backup));
            break;
        }
    }
    burst.finish().await;
    let (file, before_backup) = overlapped.expect("a backup ran while webhooks were acknowledged");

    // Restoring over the data directory of the running server is refused,
    // even with --force.
    let refused = evo(
        &data,
        &["restore", "--from", file.to_str().unwrap(), "--force"],
    );
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("stop the server"));
    sigterm(&server);
    let status = tokio::task::spawn_blocking(move || {
        wait_with_deadline(&mut server, Duration::from_secs(30))
    })
    .await
    .unwrap();
    assert!(status.success());

    // Restore into a fresh directory; an existing database needs --force.
    let restored = dir.path().join("restored");
    evo_ok(&restored, &["restore", "--from", file.to_str().unwrap()]);
    let again = evo(&restored, &["restore", "--from", file.to_str().unwrap()]);
    assert!(!again.status.success(), "an existing store needs --force");
    evo_ok(
        &restored,
        &["restore", "--from", file.to_str().unwrap(), "--force"],
    );
    assert_all_stored(&restored, &account, &before_backup).await;

    // The restored store serves the sessions it holds.
    let stored = {
        let store = evo_store::open_store(&restored.display().to_string())
            .await
            .unwrap();
        store.active_sessions().await.unwrap().len()
    };
    assert!(stored >= before_backup.len());
    let port = free_port();
    let mut server = serve(&restored, port, &[], &[], &dir.path().join("restored.log"));
    wait_until_ready(&http, port).await;
    let body: serde_json::Value = http
        .get(format!("http://127.0.0.1:{port}/sessions/active"))
        .basic_auth(EMAIL, Some(PASSWORD))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["sessions"].as_array().unwrap().len(), stored);
    sigterm(&server);
    let status = tokio::task::spawn_blocking(move || {
        wait_with_deadline(&mut server, Duration::from_secs(30))
    })
    .await
    .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_security_headers_and_event_streams_closed_by_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    seed(&data);
    let port = free_port();
    let log = dir.path().join("server.log");
    let origin = "https://app.example.com";
    let mut server = serve(
        &data,
        port,
        &[
            "--cors-origin",
            "https://other.example.com,https://app.example.com",
            "--shutdown-grace-secs",
            "10",
        ],
        &[],
        &log,
    );
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    wait_until_ready(&http, port).await;

    // A preflight from an allowed origin, as a browser sends it.
    let preflight = http
        .request(reqwest::Method::OPTIONS, format!("{base}/sessions/active"))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "GET")
        .header(
            "Access-Control-Request-Headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    let headers = preflight.headers();
    assert_eq!(headers["access-control-allow-origin"], origin);
    assert_eq!(headers["access-control-allow-credentials"], "true");
    let allowed = headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("authorization") && allowed.contains("content-type"));
    assert!(headers["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("DELETE"));
    let read = http
        .get(format!("{base}/sessions/active"))
        .header("Origin", origin)
        .basic_auth(EMAIL, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(read.headers()["access-control-allow-origin"], origin);
    let stranger = http
        .get(format!("{base}/sessions/active"))
        .header("Origin", "https://evil.example.net")
        .basic_auth(EMAIL, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert!(stranger
        .headers()
        .get("access-control-allow-origin")
        .is_none());

    // The metadata pages: not sniffed, never framed, no referrer.
    let page = http.get(format!("{base}/metadata")).send().await.unwrap();
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    assert!(page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");

    // An open event stream ends on shutdown with a retry hint.
    let mut stream = http
        .get(format!("{base}/event-stream"))
        .basic_auth(EMAIL, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let first = stream.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("cmd.onConnect"));
    let signalled = Instant::now();
    sigterm(&server);
    let mut rest = String::new();
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(10), stream.chunk())
        .await
        .expect("the stream ends on shutdown")
        .unwrap()
    {
        rest.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(rest.ends_with("retry: 2000\n\n"), "{rest:?}");
    let status = tokio::task::spawn_blocking(move || {
        wait_with_deadline(&mut server, Duration::from_secs(10))
    })
    .await
    .unwrap();
    assert!(status.success());
    assert!(
        signalled.elapsed() < Duration::from_secs(5),
        "an open stream does not hold shutdown for the grace period"
    );
}

/// README's configuration table names every flag of `serve`, its variable
/// and its default, as clap declares them.
#[test]
fn readme_lists_every_serve_flag() {
    let help = Command::new(env!("CARGO_BIN_EXE_evo-voice"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let mut flags = 0;
    let lines: Vec<&str> = help.lines().map(str::trim).collect();
    for (n, line) in lines.iter().enumerate() {
        let Some(flag) = line.strip_prefix("--").and_then(|l| l.split(' ').next()) else {
            continue;
        };
        if flag == "help" {
            continue;
        }
        flags += 1;
        let description = lines.get(n + 1).copied().unwrap_or("");
        let row = readme
            .lines()
            .find(|row| row.starts_with(&format!("| `--{flag}` |")))
            .unwrap_or_else(|| panic!("README has no row for --{flag}"));
        if let Some(env) = description.split("[env: ").nth(1) {
            let env = env.split(['=', ']']).next().unwrap();
            assert!(
                row.contains(&format!("`{env}`")),
                "--{flag}: {env} in {row}"
            );
        }
        if let Some(default) = description.split("[default: ").nth(1) {
            let default = default.split(']').next().unwrap();
            assert!(
                row.contains(&format!("`{default}`")),
                "--{flag}: default {default} in {row}"
            );
        }
    }
    assert!(flags >= 19, "read the flags from --help ({flags})");
}

/// A pool of one connection could deadlock a read inside a write; clap
/// refuses it before anything starts (exit 2, the flag named).
#[test]
fn a_store_pool_below_two_connections_is_refused() {
    let data = tempfile::tempdir().unwrap();
    let refused = evo(data.path(), &["serve", "--store-connections", "1"]);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("--store-connections"), "{stderr}");
    assert!(!data.path().join("evo-voice.db").exists());
}
