//! Each test is an attack, sent as the attacker would send it, and asserts
//! the defence (docs/security.md). Tests that change limits or exhaust them
//! run their own server so that they never throttle the shared one.
//! Resource bounds measured from a separate process (memory, descriptors)
//! are in crates/cli/tests/attacks.rs.

use std::time::{Duration, Instant};

use evo_server::app::config::{Config, Limits};
use evo_server::startup::Application;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{seed, Fixture, TestApp, PASSWORD};

/// A seeded server of its own with these limits (and this JWT secret).
async fn own_server(limits: Limits) -> (TestApp, crate::helpers::TestDb) {
    let dir = crate::helpers::TestDb::new();
    let mut config = Config::for_store("127.0.0.1:0".parse().unwrap(), dir.location());
    config.limits = limits;
    let app = Application::build(config).await.expect("building the app");
    let state = app.state();
    let fixture: Fixture = seed(&state).await;
    let address = app.local_addr();
    tokio::spawn(app.run_until_stopped());
    (
        TestApp {
            address,
            state,
            fixture,
        },
        dir,
    )
}

async fn login(app: &TestApp, user: &str, password: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(app.url("/auth/credentials"))
        .json(&serde_json::json!({"userName": user, "password": password}))
        .send()
        .await
        .unwrap()
}

async fn error_code(response: reqwest::Response) -> String {
    let body: serde_json::Value = response.json().await.unwrap();
    body["responseStatus"]["errorCode"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_eleventh_failed_sign_in_for_a_name_is_429_without_hashing_and_others_still_sign_in() {
    let (app, _dir) = own_server(Limits::default()).await;
    let alice = &app.fixture.alice.email;
    for _ in 0..10 {
        assert_eq!(login(&app, alice, "guess").await.status(), 401);
    }
    let before = app.state.auth.password_checks();
    let refused = login(&app, alice, PASSWORD).await;
    assert_eq!(refused.status(), 429, "even the right password is refused");
    let retry: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    assert_eq!(error_code(refused).await, "TooManyRequests");
    assert_eq!(
        app.state.auth.password_checks(),
        before,
        "a refused attempt runs no hash"
    );
    // An unknown name is throttled the same way: the answers do not reveal
    // which names exist.
    for _ in 0..10 {
        assert_eq!(
            login(&app, "nobody@example.com", "guess").await.status(),
            401
        );
    }
    assert_eq!(
        login(&app, "nobody@example.com", "guess").await.status(),
        429
    );
    // Another user from the same address still signs in.
    assert_eq!(
        login(&app, &app.fixture.bob.email, PASSWORD).await.status(),
        200
    );
    // Basic auth is the same password check, under the same throttle.
    let basic = reqwest::Client::new()
        .get(app.url("/sessions/active"))
        .basic_auth(alice, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_trying_many_names_is_throttled() {
    let limits = Limits {
        login_failures_per_address: 5,
        ..Limits::default()
    };
    let (app, _dir) = own_server(limits).await;
    for i in 0..5 {
        let status = login(&app, &format!("user{i}@example.com"), "guess")
            .await
            .status();
        assert_eq!(status, 401);
    }
    let refused = login(&app, "user9@example.com", "guess").await;
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_user_and_a_wrong_password_cost_the_same() {
    let limits = Limits {
        login_failures_per_user: 0,
        login_failures_per_address: 0,
        ..Limits::default()
    };
    let (app, _dir) = own_server(limits).await;
    let alice = app.fixture.alice.email.clone();
    // Structurally: each answer runs exactly one argon2 verification.
    for user in [alice.as_str(), "nobody@example.com"] {
        let before = app.state.auth.password_checks();
        assert_eq!(login(&app, user, "guess").await.status(), 401);
        assert_eq!(app.state.auth.password_checks(), before + 1, "{user}");
    }
    // Statistically: interleaved samples, compared by median (robust to a
    // loaded machine's outliers).
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for _ in 0..30 {
        for (user, samples) in [
            (alice.as_str(), &mut known),
            ("nobody@example.com", &mut unknown),
        ] {
            let started = Instant::now();
            let response = login(&app, user, "guess").await;
            samples.push(started.elapsed());
            assert_eq!(response.status(), 401);
            assert_eq!(error_code(response).await, "Unauthorized");
        }
    }
    let (known, unknown) = (median(known), median(unknown));
    let ratio = known.as_secs_f64() / unknown.as_secs_f64();
    assert!(
        (0.6..=1.6).contains(&ratio),
        "wrong password {known:?} vs unknown user {unknown:?}"
    );
}

#[tokio::test]
async fn after_logout_with_a_bearer_token_its_refresh_token_and_the_token_itself_are_refused() {
    let app = crate::helpers::shared();
    let body = crate::helpers::sign_in(app, &app.fixture.nora.email).await;
    let bearer = body["bearerToken"].as_str().unwrap();
    let refresh = body["refreshToken"].as_str().unwrap();
    let logout = reqwest::Client::new()
        .post(app.url("/auth/logout"))
        .bearer_auth(bearer)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 200);
    let renewed = reqwest::Client::new()
        .post(app.url("/access-token"))
        .json(&serde_json::json!({ "refreshToken": refresh }))
        .send()
        .await
        .unwrap();
    assert_eq!(renewed.status(), 401);
    // The access token dies with its session (at once on this node; within
    // 5 s on others).
    let reuse = reqwest::Client::new()
        .get(app.url("/auth"))
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(reuse.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bearer_token_dies_within_5_s_of_a_logout_on_another_node() {
    let (app, dir) = own_server(Limits::default()).await;
    // A second node on the same store (and so the same signing key).
    let mut config = Config::for_store("127.0.0.1:0".parse().unwrap(), dir.location());
    config.limits = Limits::default();
    // `build` holds the data directory's lock (one server per embedded
    // store); a second node in this process shares the store instead.
    let store = evo_store::open_store(&dir.store_url())
        .await
        .expect("the shared store");
    let other = Application::build_with_store(config, store)
        .await
        .expect("the second node");
    let other_url = format!("http://{}", other.local_addr());
    tokio::spawn(other.run_until_stopped());

    let body = login(&app, &app.fixture.alice.email, PASSWORD)
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let bearer = body["bearerToken"].as_str().unwrap().to_string();
    let get = || {
        reqwest::Client::new()
            .get(app.url("/sessions/active"))
            .bearer_auth(&bearer)
            .send()
    };
    assert_eq!(get().await.unwrap().status(), 200);
    let logout = reqwest::Client::new()
        .post(format!("{other_url}/auth/logout"))
        .bearer_auth(&bearer)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 200);
    let started = Instant::now();
    loop {
        if get().await.unwrap().status() == 401 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "the token outlived its session by more than 5 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_session_without_remember_me_lives_as_long_as_its_12_hour_cookie() {
    let app = crate::helpers::shared();
    for (remember, hours) in [(false, 12), (true, 30 * 24)] {
        let response = reqwest::Client::new()
            .post(app.url("/auth/credentials"))
            .json(&serde_json::json!({
                "userName": app.fixture.zed.email, "password": PASSWORD, "rememberMe": remember
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.unwrap();
        let id = body["sessionId"].as_str().unwrap();
        let session = app.state.auth.auth_session(id).await.unwrap().unwrap();
        assert_eq!(
            (session.expires_at - session.created_at).num_hours(),
            hours,
            "rememberMe {remember}"
        );
        let refresh_expiry =
            chrono::DateTime::parse_from_rfc3339(body["refreshTokenExpiry"].as_str().unwrap())
                .unwrap();
        assert!(refresh_expiry <= session.expires_at + chrono::Duration::seconds(1));
    }
}

#[tokio::test]
async fn a_jwt_secret_shorter_than_32_bytes_is_refused_at_start() {
    let dir = crate::helpers::TestDb::new();
    let mut config = Config::for_store("127.0.0.1:0".parse().unwrap(), dir.location());
    config.jwt_secret = Some(evo_core::domain::Secret::from(
        "only-31-bytes-long-secret-12345",
    ));
    let error = Application::build(config).await.err().expect("refused");
    assert!(
        format!("{error:#}").contains("at least 32 bytes"),
        "{error:#}"
    );
}

#[tokio::test]
async fn an_oversized_body_is_413_with_a_response_status_on_every_route() {
    let app = crate::helpers::shared();
    let max = app.state.config.max_body_bytes;
    let body = vec![b'x'; max + 1];
    for path in [
        "/auth/credentials",
        "/event-heartbeat",
        "/twilio/voice",
        "/health",
    ] {
        let response = reqwest::Client::new()
            .post(app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 413, "{path}");
        assert_eq!(
            error_code(response).await,
            "RequestEntityTooLarge",
            "{path}"
        );
    }
}

/// Sends headers and part of a body, and holds the connection open.
async fn slow_upload(app: &TestApp) -> tokio::net::TcpStream {
    let mut stream = tokio::net::TcpStream::connect(app.address).await.unwrap();
    stream
        .write_all(
            b"POST /auth/credentials HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"userName\":",
        )
        .await
        .unwrap();
    stream
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_beyond_the_concurrency_limit_get_503_with_retry_after() {
    let limits = Limits {
        max_concurrent_requests: 2,
        ..Limits::default()
    };
    let (app, _dir) = own_server(limits).await;
    let _held = [slow_upload(&app).await, slow_upload(&app).await];
    tokio::time::sleep(Duration::from_millis(300)).await;
    let response = reqwest::get(app.url("/health")).await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(error_code(response).await, "ServiceUnavailable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_takes_too_long_is_answered_503() {
    let limits = Limits {
        request_timeout: Duration::from_secs(1),
        ..Limits::default()
    };
    let (app, _dir) = own_server(limits).await;
    let mut stream = slow_upload(&app).await;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        let mut buffer = [0u8; 4096];
        while !String::from_utf8_lossy(&answer).contains("RequestTimeout") {
            let n = stream.read(&mut buffer).await.unwrap();
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buffer[..n]);
        }
    })
    .await;
    assert!(read.is_ok(), "no answer within 5 s");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(text.contains("RequestTimeout"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_flooding_requests_gets_429_with_retry_after() {
    let limits = Limits {
        rate_limit_per_address: 5,
        ..Limits::default()
    };
    let (app, _dir) = own_server(limits).await;
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let response = client.get(app.url("/health")).send().await.unwrap();
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            assert_eq!(response.headers()["retry-after"], "1");
            assert_eq!(error_code(response).await, "TooManyRequests");
        }
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(
        statuses.iter().filter(|s| **s == 200).count() <= 5,
        "{statuses:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_headers_and_idle_connections_are_dropped_after_the_header_timeout() {
    let limits = Limits {
        header_read_timeout: Duration::from_secs(1),
        ..Limits::default()
    };
    let (app, _dir) = own_server(limits).await;
    let connected = Instant::now();
    let mut half = tokio::net::TcpStream::connect(app.address).await.unwrap();
    half.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut idle = tokio::net::TcpStream::connect(app.address).await.unwrap();
    for stream in [&mut half, &mut idle] {
        let mut buffer = [0u8; 1024];
        let closed = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "the connection was not dropped within 5 s");
    }
    // Dropped by the timeout, not at once.
    assert!(connected.elapsed() >= Duration::from_millis(900));
}

/// A sign-in session ended in the store (by another node, or expired) is
/// found by the authenticator's background re-check: the cached token is
/// evicted without any request having to find it stale, and the next
/// request is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ended_in_the_store_evicts_the_cached_token_in_the_background() {
    let (app, dir) = own_server(Limits::default()).await;
    let body = login(&app, &app.fixture.alice.email, PASSWORD)
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let token = body["bearerToken"].as_str().unwrap().to_string();
    let active = || {
        reqwest::Client::new()
            .get(app.url("/sessions/active"))
            .bearer_auth(&token)
            .send()
    };
    assert_eq!(active().await.unwrap().status(), 200);
    let before = app.state.auth.refresh_totals();

    dir.execute("delete from auth_session").await;
    // No request until the background task has evicted it (generous bound:
    // it runs every 2.5 s; the bound only keeps a broken task from hanging).
    let started = Instant::now();
    while app.state.auth.refresh_totals().evicted == before.evicted {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the background re-check never evicted the token"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(active().await.unwrap().status(), 401);
}

/// The background re-check extends tokens in use from the store's auth
/// generation alone while no user or sign-in session changes (one row a
/// pass); a sign-out written to the store by another node after such idle
/// passes still reaches the token within `CACHE_TTL` (5 s) of the change,
/// on SQLite and on PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_out_in_the_store_after_idle_rechecks_ends_the_token_within_5_s() {
    let (app, dir) = own_server(Limits::default()).await;
    let body = login(&app, &app.fixture.alice.email, PASSWORD)
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let token = body["bearerToken"].as_str().unwrap().to_string();
    let active = || {
        reqwest::Client::new()
            .get(app.url("/sessions/active"))
            .bearer_auth(&token)
            .send()
    };
    // In use across at least three passes: the first reads the records,
    // the later ones only the generation.
    let before = app.state.auth.refresh_totals();
    let started = Instant::now();
    while app.state.auth.refresh_totals().extended < before.extended + 3 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the background re-check never extended the token"
        );
        assert_eq!(active().await.unwrap().status(), 200);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    dir.execute("delete from auth_session").await;
    let revoked = Instant::now();
    loop {
        let status = active().await.unwrap().status();
        if status == 401 {
            break;
        }
        assert_eq!(status, 200);
        assert!(
            revoked.elapsed() < Duration::from_secs(6),
            "the token outlived its sign-out by more than 5 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Issue 16: "after a user's roles are removed, existing bearer and `ss-tok`
/// tokens keep working until they expire". The attacker is the user who
/// keeps a token after an administrator took the `User` role away (there is
/// no API for it: administration writes the directory, as the CLI does from
/// another process); within 5 s the token, as a bearer or as the `ss-tok`
/// cookie, no longer passes the role check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_loses_a_removed_role_within_5_s() {
    let (app, dir) = own_server(Limits::default()).await;
    let body = login(&app, &app.fixture.alice.email, PASSWORD)
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let token = body["bearerToken"].as_str().unwrap().to_string();
    let as_bearer = || {
        reqwest::Client::new()
            .get(app.url("/sessions/active"))
            .bearer_auth(&token)
            .send()
    };
    let as_cookie = || {
        reqwest::Client::new()
            .get(app.url("/sessions/active"))
            .header("Cookie", format!("ss-tok={token}"))
            .send()
    };
    assert_eq!(as_bearer().await.unwrap().status(), 200);
    assert_eq!(as_cookie().await.unwrap().status(), 200);

    let mut connection = dir.connect().await;
    sqlx::query("update app_user set roles = '[]' where lower(email) = lower($1)")
        .bind(&app.fixture.alice.email)
        .execute(&mut connection)
        .await
        .unwrap();

    let started = Instant::now();
    loop {
        let (bearer, cookie) = (
            as_bearer().await.unwrap().status(),
            as_cookie().await.unwrap().status(),
        );
        if bearer == 403 && cookie == 403 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "the token kept a removed role for more than 5 s ({bearer}, {cookie})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
