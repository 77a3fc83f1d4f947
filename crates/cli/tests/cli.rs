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

/// Stops the child process when the test ends, also on failure.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `evo-voice demo` runs its calls through a simulated Twilio: the server's
/// REST requests reach the simulator, and the agents' holds and transfers go
/// through the HTTP operations, so the states a user watches appear in
/// `/sessions/active` and the simulator recorded the requests that caused them.
#[test]
fn the_demo_plays_calls_through_its_simulated_twilio_and_the_agents_http_operations() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_evo-voice"))
        .args(["demo", "--bind", "127.0.0.1:0", "--speed", "20"])
        .args(["--concurrent-calls", "8", "--data-dir"])
        .arg(dir.path())
        .env_remove("EVO_DATABASE_URL")
        .env_remove("EVO_PUBLIC_URL")
        .env_remove("EVO_TWILIO_API_URL")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting the demo");
    let mut child = Child(child);
    let stdout = child.0.stdout.take().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = sender.send(line);
        }
    });
    let started = Instant::now();
    let (mut base, mut twilio) = (None, None);
    while base.is_none() || twilio.is_none() {
        let line = receiver
            .recv_timeout(Duration::from_secs(60).saturating_sub(started.elapsed()))
            .expect("the demo prints its addresses");
        if let Some(rest) = line.split("running on ").nth(1) {
            base = rest.split_whitespace().next().map(str::to_string);
        }
        if let Some(rest) = line.strip_prefix("Simulated Twilio REST API: ") {
            twilio = rest.split_whitespace().next().map(str::to_string);
        }
    }
    let (base, twilio) = (base.unwrap(), twilio.unwrap());
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "demo start-up is fast"
    );

    let http = reqwest::blocking::Client::new();
    let sign_in: serde_json::Value = http
        .post(format!("{base}/auth/credentials"))
        .json(&serde_json::json!({"userName": "alice@acme.example", "password": "demo"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let token = sign_in["bearerToken"].as_str().unwrap().to_string();
    // Alice takes calls on the main line: watch her sessions until a call
    // was held by an agent, one waited for a warm transfer, and a transfer
    // member rang.
    let (mut held, mut transferring, mut transfer_member) = (false, false, false);
    let deadline = Instant::now() + Duration::from_secs(90);
    while !(held && transferring && transfer_member) && Instant::now() < deadline {
        let active: serde_json::Value = http
            .get(format!("{base}/sessions/active"))
            .bearer_auth(&token)
            .header("Accept", "application/json")
            .send()
            .unwrap()
            .json()
            .unwrap();
        for session in active["sessions"].as_array().into_iter().flatten() {
            held |= session["callState"] == "Hold" && session["heldByUserId"].is_string();
            transferring |= session["holdReason"] == "Transferring";
            transfer_member |= session["members"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|m| m["role"] == "Transfer");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(held, "a call was held by an agent");
    assert!(transferring, "a caller waited on hold for a warm transfer");
    assert!(transfer_member, "a transfer target joined a call");

    // The simulator recorded what the server asked Twilio (Basic auth as
    // the demo account, crates/cli/src/demo.rs), hang-ups included.
    let field = |request: &serde_json::Value, name: &str| -> Option<String> {
        request["form"]
            .as_array()?
            .iter()
            .find(|pair| pair[0] == name)
            .and_then(|pair| pair[1].as_str().map(str::to_string))
    };
    let recorded = || -> Vec<serde_json::Value> {
        let body: serde_json::Value = http
            .get(format!("{twilio}/sim/requests"))
            .basic_auth(
                "AC00000000000000000000000000000001",
                Some("demo-twilio-auth-token"),
            )
            .send()
            .unwrap()
            .json()
            .unwrap();
        body["requests"].as_array().expect("requests").clone()
    };
    let mut requests = recorded();
    while !requests
        .iter()
        .any(|r| field(r, "Status").as_deref() == Some("completed"))
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(200));
        requests = recorded();
    }
    let updates_with = |needle: &str| {
        requests.iter().any(|r| {
            r["method"] == "POST"
                && r["path"].as_str().unwrap().contains("/Calls/")
                && field(r, "Twiml").is_some_and(|t| t.contains(needle))
        })
    };
    assert!(updates_with("<Enqueue"), "a hold outside a conference");
    assert!(updates_with("<Client"), "a blind transfer or an unhold");
    assert!(updates_with("<Conference"), "a move into a conference");
    assert!(requests.iter().any(
        |r| r["path"].as_str().unwrap().ends_with("/Participants.json")
            && field(r, "Label").is_some_and(|l| l.starts_with("transfer:"))
    ));
    assert!(requests
        .iter()
        .any(|r| field(r, "Hold").as_deref() == Some("true")));
    assert!(
        requests
            .iter()
            .any(|r| field(r, "Status").as_deref() == Some("completed")),
        "an agent hung up"
    );
}
