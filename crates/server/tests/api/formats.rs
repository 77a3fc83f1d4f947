//! ServiceStack wire compatibility over HTTP: every format by every
//! negotiation mechanism, predefined routes, JSONP, and error bodies.

use crate::helpers::{bearer, shared};

struct Case {
    format: &'static str,
    accept: &'static str,
    content_type: &'static str,
    starts_with: &'static str,
}

const CASES: &[Case] = &[
    Case {
        format: "json",
        accept: "application/json",
        content_type: "application/json; charset=utf-8",
        starts_with: "{\"sessions\":[",
    },
    Case {
        format: "xml",
        accept: "application/xml",
        content_type: "application/xml",
        starts_with:
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><GetActiveSessionsResponse xmlns:i=",
    },
    Case {
        format: "csv",
        accept: "text/csv",
        content_type: "text/csv",
        starts_with: "dialState,callState,queueState,accountId",
    },
    Case {
        format: "jsv",
        accept: "application/jsv",
        content_type: "application/jsv",
        starts_with: "{sessions:[{dialState:",
    },
    Case {
        format: "html",
        accept: "text/html",
        content_type: "text/html",
        starts_with: "<!doctype html>",
    },
];

#[tokio::test]
async fn every_format_is_reachable_by_accept_suffix_and_query_with_its_content_type() {
    let app = shared();
    let token = bearer(app, &app.fixture.alice.email).await;
    let http = reqwest::Client::new();
    for case in CASES {
        let requests = [
            (
                "Accept",
                http.get(app.url("/sessions/active"))
                    .header("Accept", case.accept),
            ),
            (
                "suffix",
                http.get(app.url(&format!("/sessions/active.{}", case.format))),
            ),
            (
                "?format",
                http.get(app.url(&format!("/sessions/active?format={}", case.format))),
            ),
            (
                "/{format}/reply",
                http.get(app.url(&format!("/{}/reply/GetActiveSessions", case.format))),
            ),
        ];
        for (mechanism, request) in requests {
            let response = request.bearer_auth(&token).send().await.unwrap();
            assert_eq!(response.status(), 200, "{} by {mechanism}", case.format);
            assert_eq!(
                response.headers()["content-type"],
                case.content_type,
                "{} by {mechanism}",
                case.format
            );
            if case.format == "csv" {
                assert_eq!(
                    response.headers()["content-disposition"],
                    "attachment;filename=GetActiveSessions.csv"
                );
            }
            let body = response.text().await.unwrap();
            assert!(
                body.starts_with(case.starts_with),
                "{} by {mechanism}: {}",
                case.format,
                &body[..body.len().min(200)]
            );
        }
    }
}

#[tokio::test]
async fn the_api_route_and_json_reply_route_serve_every_operation() {
    let app = shared();
    let http = reqwest::Client::new();
    for path in [
        "/api/Authenticate",
        "/json/reply/Authenticate",
        "/api/authenticate",
    ] {
        let response = http
            .post(app.url(path))
            .json(&serde_json::json!({"provider": "credentials", "userName": app.fixture.bob.email, "password": crate::helpers::PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["userId"], app.fixture.bob.id.as_str());
    }
    let token = bearer(app, &app.fixture.bob.email).await;
    let response = http
        .get(app.url("/api/GetActiveSessions"))
        .bearer_auth(&token)
        .header("Content-Type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn jsonp_wraps_the_json_and_sends_errors_with_200() {
    let app = shared();
    let token = bearer(app, &app.fixture.alice.email).await;
    let http = reqwest::Client::new();
    let response = http
        .get(app.url("/sessions/active?callback=handle"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/javascript");
    let body = response.text().await.unwrap();
    assert!(body.starts_with("handle({\"sessions\":[") && body.ends_with("]})"));
    let error = http
        .get(app.url("/sessions/active?callback=handle"))
        .send()
        .await
        .unwrap();
    assert_eq!(error.status(), 200);
    assert!(error
        .text()
        .await
        .unwrap()
        .starts_with("handle({\"responseStatus\":{\"errorCode\":\"Unauthorized\""));
}

#[tokio::test]
async fn unknown_formats_are_clear_errors() {
    let app = shared();
    let http = reqwest::Client::new();
    let response = http
        .get(app.url("/sessions/active?format=yaml"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["responseStatus"]["message"]
        .as_str()
        .unwrap()
        .contains("yaml"));
    let response = http
        .get(app.url("/sessions/active"))
        .header("Accept", "image/png")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 406);
}

/// (what, request, status, error code)
async fn error_cases(app: &crate::helpers::TestApp, format: &str) -> Vec<(String, u16, String)> {
    let http = reqwest::Client::new();
    let nora = bearer(app, &app.fixture.nora.email).await;
    let alice = bearer(app, &app.fixture.alice.email).await;
    let q = format!("format={format}");
    let mut out = Vec::new();
    let cases = [
        (
            "401",
            http.get(app.url(&format!("/sessions/active?{q}"))),
            401,
        ),
        (
            "403",
            http.get(app.url(&format!("/sessions/active?{q}")))
                .bearer_auth(&nora),
            403,
        ),
        ("404", http.get(app.url(&format!("/nowhere?{q}"))), 404),
        (
            "405",
            http.delete(app.url(&format!("/sessions/active?{q}")))
                .bearer_auth(&alice),
            405,
        ),
        (
            "400",
            http.post(app.url(&format!("/auth/credentials?{q}")))
                .header("Content-Type", "application/json")
                .body("{broken"),
            400,
        ),
    ];
    for (name, request, status) in cases {
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{name} in {format}");
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(content_type.starts_with(if format == "json" {
            "application/json"
        } else {
            "application/xml"
        }));
        out.push((name.to_string(), status, response.text().await.unwrap()));
    }
    out
}

#[tokio::test]
async fn errors_have_servicestacks_response_status_shape_in_json_and_xml() {
    let app = shared();
    for (name, _, body) in error_cases(app, "json").await {
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        let status = &json["responseStatus"];
        assert!(status["errorCode"].is_string(), "{name}: {body}");
        assert!(status["message"].is_string(), "{name}: {body}");
        assert!(status["errors"].is_array(), "{name}: {body}");
        assert!(
            status.get("stackTrace").is_none(),
            "no stack trace outside debug mode"
        );
    }
    for (name, _, body) in error_cases(app, "xml").await {
        assert!(
            body.contains("<ResponseStatus><ErrorCode>") && body.contains("</ErrorCode><Message>"),
            "{name}: {body}"
        );
        let root_ok = body.contains(r#"<ErrorResponse xmlns:i="http://www.w3.org/2001/XMLSchema-instance" xmlns="http://schemas.servicestack.net/types">"#)
            || body.contains(r#"<AuthenticateResponse xmlns:i="http://www.w3.org/2001/XMLSchema-instance" xmlns="http://schemas.servicestack.net/types">"#);
        assert!(root_ok, "{name}: {body}");
    }
}

#[tokio::test]
async fn remember_me_sets_the_permanent_session_cookies() {
    let app = shared();
    let response = reqwest::Client::new()
        .post(app.url("/auth/credentials"))
        .json(&serde_json::json!({"userName": app.fixture.alice.email, "password": crate::helpers::PASSWORD, "rememberMe": true}))
        .send()
        .await
        .unwrap();
    let cookies: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    for name in ["ss-id=", "ss-pid=", "ss-opt=perm", "ss-tok="] {
        assert!(
            cookies.iter().any(|c| c.starts_with(name)),
            "{name} in {cookies:?}"
        );
    }
    let token_cookie = cookies.iter().find(|c| c.starts_with("ss-tok=")).unwrap();
    let jwt = token_cookie
        .trim_start_matches("ss-tok=")
        .split(';')
        .next()
        .unwrap();
    let response = reqwest::Client::new()
        .get(app.url("/sessions/active"))
        .header("Cookie", format!("ss-tok={jwt}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "the ss-tok cookie authenticates");
}
