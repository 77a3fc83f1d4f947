//! Authentication: credentials, bearer JWTs, API keys, cookies, Basic,
//! refresh tokens, and role checks.

use crate::helpers::{active_sessions, bearer, client, session_ids, shared, sign_in, PASSWORD};
use evo_server::auth::tokens::{AccessClaims, TokenKeys};

#[tokio::test]
async fn signing_in_returns_a_servicestack_authenticate_response() {
    let app = shared();
    let body = sign_in(app, &app.fixture.alice.email).await;
    assert_eq!(body["userId"], app.fixture.alice.id.as_str());
    assert_eq!(body["userName"], "alice@acme.test");
    assert!(body["sessionId"].as_str().unwrap().len() >= 20);
    assert_eq!(body["roles"], serde_json::json!(["User"]));
    let token = body["bearerToken"].as_str().unwrap();
    assert_eq!(token.matches('.').count(), 2, "a JWT");
    assert!(body["refreshToken"].as_str().is_some());
}

#[tokio::test]
async fn auth_with_provider_credentials_works_like_auth_credentials() {
    let app = shared();
    let response = reqwest::Client::new()
        .post(app.url("/auth"))
        .json(&serde_json::json!({"provider": "credentials", "userName": "bob@acme.test", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["userId"], app.fixture.bob.id.as_str());
}

#[tokio::test]
async fn a_wrong_password_is_refused_with_401() {
    let app = shared();
    let response = reqwest::Client::new()
        .post(app.url("/auth/credentials"))
        .json(&serde_json::json!({"userName": "alice@acme.test", "password": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body["responseStatus"]["message"],
        "Invalid Username or Password"
    );
}

#[tokio::test]
async fn without_credentials_active_sessions_is_401_with_a_challenge() {
    let app = shared();
    let response = reqwest::get(app.url("/sessions/active")).await.unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers().contains_key("www-authenticate"));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["responseStatus"]["errorCode"], "Unauthorized");
}

#[tokio::test]
async fn a_user_without_the_user_role_gets_403() {
    let app = shared();
    let token = bearer(app, &app.fixture.nora.email).await;
    let response = reqwest::Client::new()
        .get(app.url("/sessions/active"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["responseStatus"]["message"], "Invalid Role");
}

#[tokio::test]
async fn the_admin_role_passes_every_role_check() {
    let app = shared();
    let token = bearer(app, &app.fixture.root.email).await;
    let body = active_sessions(app, &token).await;
    assert!(body["sessions"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_bearer_jwt_an_api_key_basic_auth_and_the_session_cookie_all_authenticate() {
    let app = shared();
    let expected = vec![
        app.fixture.main_session.clone(),
        app.fixture.shared_session.clone(),
    ];
    let mut expected = expected;
    expected.sort();

    let token = bearer(app, &app.fixture.alice.email).await;
    assert_eq!(session_ids(&active_sessions(app, &token).await), expected);

    for request in [
        reqwest::Client::new()
            .get(app.url("/sessions/active"))
            .bearer_auth(&app.fixture.alice_api_key),
        reqwest::Client::new()
            .get(app.url("/sessions/active"))
            .header("X-Api-Key", &app.fixture.alice_api_key),
        reqwest::Client::new()
            .get(app.url("/sessions/active"))
            .basic_auth(&app.fixture.alice.email, Some(PASSWORD)),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(session_ids(&body), expected);
    }

    // Cookie: sign in with a cookie-keeping client, then drop the ss-tok JWT
    // cookie's role by calling with only the ss-id cookie.
    let http = client();
    let signed_in = http
        .post(app.url("/auth/credentials"))
        .json(&serde_json::json!({"userName": "alice@acme.test", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let session_id = signed_in.json::<serde_json::Value>().await.unwrap()["sessionId"]
        .as_str()
        .unwrap()
        .to_string();
    let response = reqwest::Client::new()
        .get(app.url("/sessions/active"))
        .header("Cookie", format!("ss-id={session_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(session_ids(&response.json().await.unwrap()), expected);
    let via_jar = http.get(app.url("/sessions/active")).send().await.unwrap();
    assert_eq!(via_jar.status(), 200);
}

#[tokio::test]
async fn logging_out_ends_the_cookie_session() {
    let app = shared();
    let body = sign_in(app, &app.fixture.alice.email).await;
    let cookie = format!("ss-id={}", body["sessionId"].as_str().unwrap());
    let http = reqwest::Client::new();
    let before = http
        .get(app.url("/sessions/active"))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(before.status(), 200);
    let logout = http
        .post(app.url("/auth/logout"))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 200);
    let after = http
        .get(app.url("/sessions/active"))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401);
}

#[tokio::test]
async fn a_tampered_or_expired_or_foreign_jwt_is_refused() {
    let app = shared();
    let token = bearer(app, &app.fixture.alice.email).await;
    let mut parts: Vec<String> = token.split('.').map(String::from).collect();
    // Claim to be bob without re-signing.
    let forged = serde_json::json!({"iss":"ssjwt","sub":app.fixture.bob.id,"iat":0,"exp":4102444800i64,"roles":["User"]});
    use base64::Engine;
    parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(forged.to_string());
    let tampered = parts.join(".");

    let expired = app.state.auth.keys().sign_access(&AccessClaims {
        iss: "ssjwt".into(),
        sub: app.fixture.alice.id.clone(),
        iat: 1,
        exp: 2,
        name: None,
        email: None,
        roles: vec!["User".into()],
        account: Some(app.fixture.account_id.clone()),
        sid: None,
    });
    let foreign = TokenKeys::from_secret(b"some other deployment's key 0123456789")
        .expect("a 38-byte secret")
        .sign_access(&AccessClaims {
            iss: "ssjwt".into(),
            sub: app.fixture.alice.id.clone(),
            iat: chrono::Utc::now().timestamp(),
            exp: chrono::Utc::now().timestamp() + 600,
            name: None,
            email: None,
            roles: vec!["User".into()],
            account: Some(app.fixture.account_id.clone()),
            sid: None,
        });
    for (name, token) in [
        ("tampered", tampered),
        ("expired", expired),
        ("foreign", foreign),
    ] {
        let response = reqwest::Client::new()
            .get(app.url("/sessions/active"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{name} token");
    }
}

#[tokio::test]
async fn a_refresh_token_gets_a_new_bearer_token_until_logout() {
    let app = shared();
    let body = sign_in(app, &app.fixture.bob.email).await;
    let refresh = body["refreshToken"].as_str().unwrap();
    let response = reqwest::Client::new()
        .post(app.url("/access-token"))
        .json(&serde_json::json!({ "refreshToken": refresh }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let token: serde_json::Value = response.json().await.unwrap();
    let access = token["accessToken"].as_str().unwrap();
    assert_eq!(
        crate::helpers::session_ids(&active_sessions(app, access).await),
        {
            let mut v = vec![
                app.fixture.shared_session.clone(),
                app.fixture.bob_session.clone(),
            ];
            v.sort();
            v
        }
    );
    // A refresh token is not a bearer token.
    let response = reqwest::Client::new()
        .get(app.url("/sessions/active"))
        .bearer_auth(refresh)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn token_cookies_are_set_with_expires_and_announced_in_x_cookies() {
    // JwtAuthProviderReader.cs:1136-1188: ss-tok and ss-reftok carry
    // Expires, and X-Cookies names them.
    let app = shared();
    let response = reqwest::Client::new()
        .post(app.url("/auth/credentials"))
        .json(&serde_json::json!({"userName": app.fixture.alice.email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cookies: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    for name in ["ss-tok=", "ss-reftok="] {
        let cookie = cookies
            .iter()
            .find(|c| c.starts_with(name))
            .unwrap_or_else(|| panic!("{name} in {cookies:?}"));
        assert!(
            cookie.contains("; Expires=") && cookie.ends_with("GMT; HttpOnly; SameSite=Lax"),
            "{cookie}"
        );
    }
    assert_eq!(response.headers()["x-cookies"], "ss-tok,ss-reftok");
}

#[tokio::test]
async fn an_expired_token_cookie_is_renewed_from_the_refresh_cookie() {
    let app = shared();
    let body = sign_in(app, &app.fixture.alice.email).await;
    let refresh = body["refreshToken"].as_str().unwrap();
    let now = chrono::Utc::now().timestamp();
    let expired = app.state.auth.keys().sign_access(&AccessClaims {
        iss: "ssjwt".into(),
        sub: app.fixture.alice.id.clone(),
        iat: now - 120,
        exp: now - 60,
        name: None,
        email: Some(app.fixture.alice.email.clone()),
        roles: vec!["User".into()],
        account: Some(app.fixture.account_id.clone()),
        sid: None,
    });
    // Without ss-reftok the expired token is the answer, as before.
    let response = reqwest::Client::new()
        .get(app.url("/sessions/active"))
        .header("Cookie", format!("ss-tok={expired}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    // With it the server renews (JwtAuthProviderReader.cs:520-560, 620-640).
    let response = reqwest::Client::new()
        .get(app.url("/sessions/active"))
        .header("Cookie", format!("ss-tok={expired}; ss-reftok={refresh}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let renewed = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        renewed.starts_with("ss-tok=") && renewed.contains("; Expires="),
        "{renewed}"
    );
    let token = renewed
        .trim_start_matches("ss-tok=")
        .split(';')
        .next()
        .unwrap();
    assert_eq!(
        app.state.auth.keys().verify_access(token).unwrap().sub,
        app.fixture.alice.id
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["sessions"].is_array());
    // An invalid refresh token renews nothing.
    let garbage = "ss-reftok=not.a.token";
    let response = reqwest::Client::new()
        .get(app.url("/sessions/active"))
        .header("Cookie", format!("ss-tok={expired}; {garbage}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn an_invalid_credential_does_not_hide_a_valid_one() {
    let app = shared();
    let body = sign_in(app, &app.fixture.alice.email).await;
    let session_id = body["sessionId"].as_str().unwrap();
    let token = body["bearerToken"].as_str().unwrap();
    let cases = [
        // An invalid bearer header, a valid session cookie.
        ("Bearer aaa.bbb.ccc", format!("ss-id={session_id}")),
        // A stale ss-tok cookie, a valid bearer header.
        (
            &*format!("Bearer {token}"),
            "ss-tok=aaa.bbb.ccc".to_string(),
        ),
    ];
    for (authorization, cookie) in cases {
        let response = reqwest::Client::new()
            .get(app.url("/sessions/active"))
            .header("Authorization", authorization)
            .header("Cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{authorization} + {cookie}");
    }
}

#[tokio::test]
async fn get_access_token_answers_a_refresh_cookie_with_a_token_cookie() {
    // JwtAuthProvider.cs:519-530 (GetAccessTokenService): a refresh token
    // read from ss-reftok gets ss-tok back, not a token in the body.
    let app = shared();
    let body = sign_in(app, &app.fixture.alice.email).await;
    let refresh = body["refreshToken"].as_str().unwrap();
    let response = reqwest::Client::new()
        .post(app.url("/access-token"))
        .header("Cookie", format!("ss-reftok={refresh}"))
        .json(&serde_json::json!({"useTokenCookie": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cookie.starts_with("ss-tok=") && cookie.contains("; Expires="),
        "{cookie}"
    );
    let reply: serde_json::Value = response.json().await.unwrap();
    assert!(reply.get("accessToken").is_none(), "{reply}");
    // Given in the body, the new token comes back in the body.
    let response = reqwest::Client::new()
        .post(app.url("/access-token"))
        .json(&serde_json::json!({"refreshToken": refresh}))
        .send()
        .await
        .unwrap();
    let reply: serde_json::Value = response.json().await.unwrap();
    assert!(reply["accessToken"].as_str().is_some_and(|t| !t.is_empty()));
}
