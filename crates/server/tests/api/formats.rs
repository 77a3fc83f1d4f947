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
async fn unknown_formats_and_unmatched_accepts_fall_back_to_json() {
    // ServiceStack negotiates on: an unknown ?format selects nothing
    // (HttpRequestExtensions.cs:599) and an Accept it cannot produce gets
    // the default format, not 406 (HttpRequestExtensions.cs:690).
    let app = shared();
    let token = bearer(app, &app.fixture.alice.email).await;
    let http = reqwest::Client::new();
    for request in [
        http.get(app.url("/sessions/active?format=yaml")),
        http.get(app.url("/sessions/active"))
            .header("Accept", "image/png"),
    ] {
        let response = request.bearer_auth(&token).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "application/json; charset=utf-8"
        );
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(body["sessions"].is_array());
    }
    // An unknown ?format leaves the later rules in charge.
    let response = http
        .get(app.url("/sessions/active?format=yaml"))
        .header("Accept", "application/xml")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "application/xml");
}

#[tokio::test]
async fn predefined_routes_answer_like_servicestacks_generic_handler() {
    let app = shared();
    let token = bearer(app, &app.fixture.alice.email).await;
    let http = reqwest::Client::new();
    // An unknown operation: NotImplementedException, 405
    // (ServiceStackHandlerBase.cs:275, HttpRequestExtensions.cs:268).
    for path in ["/api/NoSuchOperation", "/json/reply/NoSuchOperation"] {
        let response = http.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 405, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(
            body["responseStatus"]["errorCode"],
            "NotImplementedException"
        );
        assert_eq!(
            body["responseStatus"]["message"],
            "The operation does not exist for this service"
        );
    }
    // /api/{Op} is the JSON handler: Accept does not change it
    // (ApiHandlers.cs:17), a suffix does (ApiHandlers.cs:62-69).
    let response = http
        .get(app.url("/api/GetActiveSessions"))
        .header("Accept", "application/xml")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
}

#[tokio::test]
async fn the_auto_batched_route_runs_every_request_in_order() {
    // ServiceMetadata.cs:293-298 (`Op[]`), ServiceController.cs:863-905.
    let app = shared();
    let token = bearer(app, &app.fixture.alice.email).await;
    let single: serde_json::Value = crate::helpers::active_sessions(app, &token).await;
    let http = reqwest::Client::new();
    for path in [
        "/api/GetActiveSessions[]",
        "/json/reply/GetActiveSessions%5B%5D",
    ] {
        let response = http
            .post(app.url(path))
            .bearer_auth(&token)
            .json(&serde_json::json!([{}, {}]))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["x-autobatch-completed"], "2");
        let body: serde_json::Value = response.json().await.unwrap();
        let items = body.as_array().expect("an array of responses");
        assert_eq!(items.len(), 2);
        for item in items {
            assert_eq!(
                crate::helpers::session_ids(item),
                crate::helpers::session_ids(&single)
            );
        }
    }
    // The first failure ends the batch: 401 after 0 completed.
    let response = http
        .post(app.url("/api/GetActiveSessions[]"))
        .json(&serde_json::json!([{}, {}]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["x-autobatch-completed"], "0");
    // A body that is not an array is a SerializationException.
    let response = http
        .post(app.url("/api/GetActiveSessions[]"))
        .bearer_auth(&token)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn jsv_request_bodies_are_read() {
    // ServiceStack registers JSV as a request format (ContentTypes.cs):
    // a JSV body binds like a JSON one.
    let app = shared();
    let body = format!(
        "{{provider:credentials,userName:{},password:\"{}\"}}",
        app.fixture.alice.email,
        crate::helpers::PASSWORD
    );
    let response = reqwest::Client::new()
        .post(app.url("/auth"))
        .header("Content-Type", "application/jsv")
        .header("Accept", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let auth: serde_json::Value = response.json().await.unwrap();
    assert!(auth["bearerToken"].as_str().is_some_and(|t| !t.is_empty()));
    let response = reqwest::Client::new()
        .post(app.url("/auth"))
        .header("Content-Type", "text/jsv")
        .header("Accept", "application/json")
        .body("{provider:credentials,userName:\"unterminated")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let error: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        error["responseStatus"]["errorCode"],
        "SerializationException"
    );
}

#[tokio::test]
async fn non_ascii_json_is_utf8() {
    // JsonUtils.cs:48-58: no \\u escapes unless JsConfig.EscapeUnicode.
    let app = shared();
    let directory = &app.state.directory;
    let account = directory
        .add_account("Zoë & Søn", None, None)
        .await
        .unwrap();
    directory
        .add_user(evo_server::app::directory::NewUser {
            account_id: &account.id,
            email: "zoe@utf8.test",
            password: crate::helpers::PASSWORD,
            display_name: Some("Zoë Ñandú ☎ 東京"),
            roles: &["User".to_string()],
            customer_id: None,
        })
        .await
        .unwrap();
    let response = reqwest::Client::new()
        .post(app.url("/auth/credentials"))
        .json(
            &serde_json::json!({"userName": "zoe@utf8.test", "password": crate::helpers::PASSWORD}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = String::from_utf8(response.bytes().await.unwrap().to_vec()).unwrap();
    assert!(
        text.contains("\"displayName\":\"Zoë Ñandú ☎ 東京\""),
        "{text}"
    );
    assert!(!text.contains("\\u"), "{text}");
}
