//! The corpus of Twilio callback sequences (`crates/core/tests/corpus`),
//! replayed over HTTP as signed webhooks to a running server: each request
//! is signed with the corpus account's token over `EVO_PUBLIC_URL` (the
//! test server's own address) + path,
//! posted as Twilio would, and the session the server ends with is compared
//! field by field with the corpus's expectation (state, members with roles
//! and states, outcome, wasMissed, answerer, log lines).
//!
//! The server gives its own ids to users and sessions, so the corpus's
//! (`u1`, `ses-CA…`) are rewritten to the server's before replaying.
//! Requests are stamped by the server's clock where Twilio sends no
//! `Timestamp`, so the log is compared as a set of lines, not in order.

use std::path::PathBuf;

use evo_core::api::sessions::SessionMemberRoles;
use evo_core::event::{EventKind, EventSource, Party, SessionEvent};
use evo_core::ids::{AccountId, CallSid, MessageSid, SessionId};
use evo_server::app::directory::{NewNumber, NewUser};
use evo_server::app::sessions::{call_session_id, message_session_id};
use evo_server::app::state::AppState;
use evo_twilio::params::FormParams;
use evo_twilio::signature::compute_signature;
use serde_json::Value;

use crate::helpers::{build, PASSWORD};

const TOKEN: &str = "corpus-auth-token";

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../core/tests/corpus")
}

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

/// Seeds the corpus directory; returns the account id and (corpus id,
/// server id, name) of each user.
async fn seed(state: &AppState, dir: &Value) -> (String, Vec<(String, String, String)>) {
    let account = state
        .directory
        .add_account(
            dir["account"]["name"].as_str().unwrap(),
            dir["accountSid"].as_str(),
            Some(TOKEN),
        )
        .await
        .unwrap();
    let mut users = Vec::new();
    for user in dir["users"].as_array().unwrap() {
        let id = user["id"].as_str().unwrap();
        let name = user["name"].as_str().unwrap();
        let created = state
            .directory
            .add_user(NewUser {
                account_id: &account.id,
                email: &format!("{id}@corpus.test"),
                password: PASSWORD,
                display_name: Some(name),
                roles: &["User".to_string()],
                customer_id: None,
            })
            .await
            .unwrap();
        users.push((id.to_string(), created.id.to_string(), name.to_string()));
    }
    for number in dir["numbers"].as_array().unwrap() {
        let ring: Vec<String> = number["ringUserIds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| {
                users
                    .iter()
                    .find(|(id, _, _)| u == id.as_str())
                    .unwrap()
                    .1
                    .clone()
            })
            .collect();
        state
            .directory
            .add_number(NewNumber {
                account_id: &account.id,
                number: number["number"].as_str().unwrap(),
                ring_user_ids: &ring.iter().map(Into::into).collect::<Vec<_>>(),
                queue_name: number["queueName"].as_str(),
                display_name: number["name"].as_str(),
                customer_id: None,
            })
            .await
            .unwrap();
    }
    (account.id.to_string(), users)
}

/// The case with the corpus's ids replaced by the server's.
fn rewrite(text: &str, account_id: &str, users: &[(String, String, String)]) -> Value {
    let mut text = text.to_string();
    for (corpus, server, _) in users {
        for (before, after) in [("\"", "\""), (":", "\""), (" ", "\""), (":", " ")] {
            text = text.replace(
                &format!("{before}{corpus}{after}"),
                &format!("{before}{server}{after}"),
            );
        }
    }
    let mut case: Value = serde_json::from_str(&text).unwrap();
    for request in case["requests"].as_array_mut().unwrap() {
        let session = request["query"]["session"].as_str().map(str::to_string);
        if let Some(session) = session {
            let sid = session.strip_prefix("ses-").unwrap();
            request["query"]["session"] = Value::String(
                call_session_id(&AccountId::new(account_id), &CallSid::new(sid)).to_string(),
            );
        }
    }
    case
}

async fn post(address: std::net::SocketAddr, request: &Value) -> reqwest::StatusCode {
    let pairs: Vec<(String, String)> = request["params"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    let params = FormParams::from_pairs(pairs);
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in request["query"].as_object().unwrap() {
        query.append_pair(k, v.as_str().unwrap());
    }
    let query = query.finish();
    let path = format!(
        "/twilio/{}{}{query}",
        request["endpoint"].as_str().unwrap(),
        if query.is_empty() { "" } else { "?" }
    );
    let signature = compute_signature(TOKEN, &format!("http://{address}{path}"), &params);
    let mut http = reqwest::Client::new()
        .post(format!("http://{address}{path}"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("X-Twilio-Signature", signature);
    for (name, value) in request["headers"].as_object().unwrap() {
        http = http.header(name, value.as_str().unwrap());
    }
    http.body(params.encode()).send().await.unwrap().status()
}

/// An agent's request: through the API in production; here straight to
/// the session service, as the demo does.
async fn agent(
    state: &AppState,
    session_id: &str,
    request: &Value,
    users: &[(String, String, String)],
) {
    let p = &request["params"];
    assert_eq!(p["Action"], "transfer", "the corpus's only agent action");
    let target = users
        .iter()
        .find(|(_, server, _)| p["Target"] == server.as_str())
        .unwrap();
    let event = SessionEvent {
        at: chrono::Utc::now(),
        clock: evo_core::event::Clock::Server,
        source: EventSource::Agent {
            id: p["Id"].as_str().unwrap().to_string(),
        },
        kind: EventKind::TransferStarted {
            by_user_id: p["UserId"].as_str().map(str::to_string).map(Into::into),
            target: Party {
                identity: format!("client:{}", target.1),
                endpoint_id: Some(target.1.clone().into()),
                display_name: Some(target.2.clone()),
                role: SessionMemberRoles::Transfer,
            },
            blind: p["Blind"] == "true",
        },
    };
    state
        .sessions
        .apply(&SessionId::new(session_id), event, Vec::new())
        .await
        .unwrap();
}

fn compare(name: &str, info: &Value, expected: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let mut same = |what: &str, got: &Value, want: &Value| {
        if got != want {
            problems.push(format!("{name}: {what}: got {got}, want {want}"));
        }
    };
    same("ended", &info["ended"], &expected["ended"]);
    same("outcome", &info["outcome"], &expected["outcome"]);
    same("wasMissed", &info["wasMissed"], &expected["wasMissed"]);
    same(
        "answeredById",
        &info["answeredById"],
        &expected["answeredById"],
    );
    same(
        "answeredByName",
        &info["answeredByName"],
        &expected["answeredByName"],
    );
    same("callState", &info["callState"], &expected["callState"]);
    for optional in ["queueState", "queueMemberId", "conferenceSid", "holdReason"] {
        if !expected[optional].is_null() {
            same(optional, &info[optional], &expected[optional]);
        }
    }
    let members = |list: &Value| -> Value {
        Value::Array(
            list.as_array()
                .unwrap()
                .iter()
                .map(|m| {
                    serde_json::json!([
                        m["identity"],
                        m["role"],
                        m["callState"],
                        m["muted"].as_bool().unwrap_or(false)
                    ])
                })
                .collect(),
        )
    };
    same(
        "members",
        &members(&info["members"]),
        &members(&expected["members"]),
    );
    let lines = |list: &Value, field: Option<&str>| -> Value {
        let mut lines: Vec<String> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|l| match field {
                Some(f) => l[f].as_str().unwrap_or("").to_string(),
                None => l.as_str().unwrap().to_string(),
            })
            .collect();
        lines.sort();
        serde_json::json!(lines)
    };
    same(
        "log",
        &lines(&info["log"], Some("message")),
        &lines(&expected["log"], None),
    );
    problems
}

/// A midpoint the corpus marks (`expectAfter`): what the user sees in
/// `GET /sessions/active` right after that request was answered.
async fn midpoint(
    address: std::net::SocketAddr,
    name: &str,
    session_id: &str,
    expect: &Value,
    users: &[(String, String, String)],
) -> Vec<String> {
    let user = users
        .iter()
        .find(|(_, server, _)| expect["user"] == server.as_str())
        .unwrap();
    let signed_in: Value = reqwest::Client::new()
        .post(format!("http://{address}/auth/credentials"))
        .json(&serde_json::json!({"userName": format!("{}@corpus.test", user.0), "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let body: Value = reqwest::Client::new()
        .get(format!("http://{address}/sessions/active"))
        .bearer_auth(signed_in["bearerToken"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let found = body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == session_id);
    let mut problems = Vec::new();
    if found.is_some() != expect["active"].as_bool().unwrap() {
        problems.push(format!(
            "{name}: midpoint {expect}: active is {}",
            found.is_some()
        ));
    }
    if let Some(info) = found {
        for field in ["callState", "answeredById"] {
            if !expect[field].is_null() && info[field] != expect[field] {
                problems.push(format!(
                    "{name}: midpoint {expect}: {field} is {}",
                    info[field]
                ));
            }
        }
    }
    problems
}

#[tokio::test]
async fn every_corpus_case_replayed_as_signed_webhooks_ends_as_the_corpus_expects() {
    let dir = crate::helpers::TestDb::new();
    let app = build(&dir).await;
    let address = app.local_addr();
    let state = app.state();
    tokio::spawn(app.run_until_stopped());
    let directory: Value =
        serde_json::from_str(&read(corpus_dir().join("directory.json"))).unwrap();
    let (account_id, users) = seed(&state, &directory).await;

    let mut paths: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && p.file_name().is_some_and(|n| n != "directory.json")
        })
        .collect();
    paths.sort();
    assert!(paths.len() >= 19, "the corpus has its cases");
    let mut problems = Vec::new();
    let mut midpoints = 0;
    for path in paths {
        let case = rewrite(&read(path), &account_id, &users);
        let name = case["name"].as_str().unwrap().to_string();
        let requests = case["requests"].as_array().unwrap();
        let opening = requests
            .iter()
            .find(|r| r["endpoint"] == "voice")
            .or_else(|| requests.iter().find(|r| r["endpoint"] == "sms"))
            .unwrap();
        let session_id = if opening["endpoint"] == "voice" {
            call_session_id(
                &AccountId::new(account_id.as_str()),
                &CallSid::new(opening["params"]["CallSid"].as_str().unwrap()),
            )
        } else {
            message_session_id(
                &AccountId::new(account_id.as_str()),
                &MessageSid::new(opening["params"]["MessageSid"].as_str().unwrap()),
            )
        };
        for request in requests {
            if request["endpoint"] == "agent" {
                agent(&state, &session_id, request, &users).await;
                continue;
            }
            let status = post(address, request).await;
            assert!(
                status.is_success(),
                "{name}: {} answered {status}",
                request["endpoint"]
            );
            if !request["expectAfter"].is_null() {
                let expect = &request["expectAfter"];
                problems.extend(midpoint(address, &name, &session_id, expect, &users).await);
                midpoints += 1;
            }
        }
        let session = state
            .sessions
            .stored(&session_id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{name}: the session exists"));
        let info: Value =
            serde_json::from_slice(&evo_wire::json::to_json(&session.to_info())).unwrap();
        problems.extend(compare(&name, &info, &case["expected"]));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(midpoints >= 10, "the corpus marks its midpoints");
}
