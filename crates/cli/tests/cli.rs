//! The `evo-voice` binary: administration commands print ids scripts can
//! use, reject bad input clearly, and `serve` sees what they created.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn evo(data_dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_evo-voice"))
        .args(args)
        .env("EVO_DATA_DIR", data_dir)
        .env_remove("EVO_DATABASE_URL")
        .output()
        .expect("running evo-voice")
}

/// Runs an `add` command and returns the last line of stdout.
fn add(data_dir: &std::path::Path, args: &[&str]) -> String {
    let output = evo(data_dir, args);
    assert!(
        output.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .last()
        .expect("an id on the last line")
        .trim()
        .to_string()
}

#[test]
fn admin_commands_print_ids_and_serve_accepts_what_they_created() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let account = add(data, &["account", "add", "Acme"]);
    assert!(account.starts_with("acc_"), "{account}");
    let root = add(
        data,
        &["customer", "add", "--account", &account, "Acme Holdings"],
    );
    let leaf = add(
        data,
        &[
            "customer",
            "add",
            "--account",
            &account,
            "Acme West",
            "--parent",
            &root,
        ],
    );
    assert!(leaf.starts_with("cus_"));
    let alice = add(
        data,
        &[
            "user",
            "add",
            "--account",
            &account,
            "--email",
            "alice@acme.test",
            "--password",
            "s3cret",
            "--role",
            "User",
            "--name",
            "Alice",
        ],
    );
    add(
        data,
        &[
            "user",
            "add",
            "--account",
            &account,
            "--email",
            "nobody@acme.test",
            "--password",
            "s3cret",
        ],
    );
    let number = add(
        data,
        &[
            "number",
            "add",
            "--account",
            &account,
            "--number",
            "+15550100",
            "--ring",
            &alice,
        ],
    );
    assert!(number.starts_with("num_"));
    let key = add(data, &["apikey", "add", "--user", &alice]);
    assert!(key.starts_with("ak-") && key.len() == 35, "{key}");

    // Bad input: clear messages, non-zero exit, nothing created.
    for (args, expected) in [
        (
            vec![
                "user",
                "add",
                "--account",
                "acc_missing",
                "--email",
                "x@y.z",
                "--password",
                "pw12",
            ],
            "no account",
        ),
        (
            vec![
                "user",
                "add",
                "--account",
                &account,
                "--email",
                "not-an-email",
                "--password",
                "pw12",
            ],
            "not an e-mail",
        ),
        (
            vec![
                "user",
                "add",
                "--account",
                &account,
                "--email",
                "alice@ACME.test",
                "--password",
                "pw12",
            ],
            "already exists",
        ),
        (
            vec![
                "user",
                "add",
                "--account",
                &account,
                "--email",
                "r@acme.test",
                "--password",
                "pw12",
                "--role",
                "Wizard",
            ],
            "unknown role",
        ),
        (
            vec![
                "number",
                "add",
                "--account",
                &account,
                "--number",
                "555-0100",
            ],
            "E.164",
        ),
    ] {
        let output = evo(data, &args);
        assert!(!output.status.success(), "{args:?} should fail");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"));
    }

    // The server on the same store accepts the API key; the user without
    // the User role is refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_evo-voice"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env("EVO_DATA_DIR", data)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let http = reqwest::blocking::Client::new();
    let url = format!("http://127.0.0.1:{port}/sessions/active");
    let deadline = Instant::now() + Duration::from_secs(30);
    let response = loop {
        match http.get(&url).bearer_auth(&key).send() {
            Ok(response) => break response,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Err(error) => panic!("the server did not start: {error}"),
        }
    };
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().unwrap(), r#"{"sessions":[]}"#);
    let refused = http
        .get(&url)
        .basic_auth("nobody@acme.test", Some("s3cret"))
        .send()
        .unwrap();
    assert_eq!(refused.status(), 403);
    server.kill().unwrap();
    let _ = server.wait();
}
