//! Durable before acknowledged: a burst of signed webhooks while the server
//! is killed with SIGKILL at an arbitrary moment; after a restart every
//! webhook that had been answered 2xx is reflected in the sessions.

mod common;

use common::{free_port, post_signed, wait_until_ready};
use evo_core::ids::{AccountId, CallSid};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use evo_twilio::params::FormParams;
use evo_twilio::signature::compute_signature;

const SID: &str = "AC00000000000000000000000000000c4a";
const TOKEN: &str = "crash-token";

fn serve(data: &std::path::Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_evo-voice"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        // Webhooks are verified only against the configured public URL.
        .env("EVO_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
        .env("EVO_DATA_DIR", data)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_webhook_survives_a_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let account = common::seed_agent(
        ("EVO_DATA_DIR", data.as_os_str()),
        &common::Agent {
            account: "Crash",
            twilio_sid: SID,
            twilio_token: TOKEN,
            email: "crash@test.test",
            password: "pw12",
            number: "+15550300",
        },
    );

    let port = free_port();
    let mut server = serve(data, port);
    let http = reqwest::Client::new();
    wait_until_ready(&http, port).await;

    // Writers send signed webhooks until the server dies; each records the
    // calls whose webhook was acknowledged.
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for writer in 0..8 {
        let http = http.clone();
        let acknowledged = acknowledged.clone();
        let stop = stop.clone();
        writers.push(tokio::spawn(async move {
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let call = format!("CA{writer:02}{n:030}");
                let url = format!("http://127.0.0.1:{port}/twilio/voice");
                let params = FormParams::from_pairs([
                    ("AccountSid", SID),
                    ("CallSid", call.as_str()),
                    ("From", "+15557770000"),
                    ("To", "+15550300"),
                    ("CallStatus", "ringing"),
                ]);
                let signature = compute_signature(TOKEN, &url, &params);
                let sent = post_signed(&http, &url, &params, &signature).await;
                match sent {
                    Ok(response) if response.status().is_success() => {
                        acknowledged.lock().unwrap().push(call)
                    }
                    Ok(_) => {}
                    Err(_) => break, // the server is gone
                }
            }
        }));
    }
    // Kill at an arbitrary moment once some traffic has been acknowledged.
    let jitter = u64::from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
            % 400,
    );
    tokio::time::sleep(Duration::from_millis(300 + jitter)).await;
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 10,
        "the burst got going ({} acknowledged)",
        acknowledged.len()
    );

    // Restart on the same store: every acknowledged call is there.
    let store = evo_store::open_store(&data.display().to_string())
        .await
        .unwrap();
    for call in &acknowledged {
        let session = store
            .session(&evo_server::app::sessions::call_session_id(
                &AccountId::new(account.as_str()),
                &CallSid::new(call),
            ))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("acknowledged call {call} was lost"));
        assert!(
            session.version() >= 2,
            "the ringing event of {call} was kept"
        );
    }
    drop(store);
    let port = free_port();
    let mut restarted = serve(data, port);
    wait_until_ready(&http, port).await;
    let body: serde_json::Value = http
        .get(format!("http://127.0.0.1:{port}/sessions/active"))
        .basic_auth("crash@test.test", Some("pw12"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let visible = body["sessions"].as_array().unwrap().len();
    assert!(
        visible >= acknowledged.len(),
        "{visible} sessions for {} acknowledged calls",
        acknowledged.len()
    );
    restarted.kill().unwrap();
    let _ = restarted.wait();
    eprintln!(
        "{} webhooks acknowledged before SIGKILL; all survived",
        acknowledged.len()
    );
}
