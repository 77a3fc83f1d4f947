//! What the tests that spawn `evo-voice serve` share. Each test binary uses
//! part of it, hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod two_nodes;

use std::ffi::OsStr;
use std::process::Command;
use std::time::{Duration, Instant};

/// A port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// POSTs a Twilio webhook: `params` form-encoded, with `signature` in
/// `X-Twilio-Signature` (as Twilio sends it,
/// https://www.twilio.com/docs/usage/security#validating-requests).
pub async fn post_signed(
    http: &reqwest::Client,
    url: &str,
    params: &evo_twilio::params::FormParams,
    signature: &str,
) -> reqwest::Result<reqwest::Response> {
    http.post(url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("X-Twilio-Signature", signature)
        .body(params.encode())
        .send()
        .await
}

/// Waits (at most 30 s) until the server on `port` answers
/// `/health/ready` with a 2xx.
pub async fn wait_until_ready(http: &reqwest::Client, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = http
            .get(format!("http://127.0.0.1:{port}/health/ready"))
            .send()
            .await;
        if matches!(&ready, Ok(response) if response.status().is_success()) {
            return;
        }
        assert!(Instant::now() < deadline, "the server did not become ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs `evo-voice args` on the store `store` names (`("EVO_DATA_DIR",
/// dir)` or `("EVO_DATABASE_URL", url)`), asserts it succeeded, and returns
/// the last line it printed (the id an `add` prints; empty if none).
pub fn evo_ok(store: (&str, &OsStr), args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_evo-voice"))
        .args(args)
        .env(store.0, store.1)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap_or("")
        .trim()
        .to_string()
}

/// What [`seed_agent`] adds: an account with a Twilio account SID and auth
/// token, a user with the `User` role, and a number ringing that user.
pub struct Agent<'a> {
    pub account: &'a str,
    pub twilio_sid: &'a str,
    pub twilio_token: &'a str,
    pub email: &'a str,
    pub password: &'a str,
    pub number: &'a str,
}

/// Adds `agent` to the store `store` names (as [`evo_ok`]) through the
/// administration commands; the account's id.
pub fn seed_agent(store: (&str, &OsStr), agent: &Agent) -> String {
    let account = evo_ok(
        store,
        &[
            "account",
            "add",
            agent.account,
            "--twilio-account-sid",
            agent.twilio_sid,
            "--twilio-auth-token",
            agent.twilio_token,
        ],
    );
    let user = evo_ok(
        store,
        &[
            "user",
            "add",
            "--account",
            &account,
            "--email",
            agent.email,
            "--password",
            agent.password,
            "--role",
            "User",
        ],
    );
    evo_ok(
        store,
        &[
            "number",
            "add",
            "--account",
            &account,
            "--number",
            agent.number,
            "--ring",
            &user,
        ],
    );
    account
}
