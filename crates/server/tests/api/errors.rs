//! Bad input gets a ServiceStack-shaped error with the right status, never
//! a 500.

use crate::helpers::{bearer, shared};

async fn status_and_body(response: reqwest::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(serde_json::Value::Null);
    (status, body)
}

#[tokio::test]
async fn malformed_json_is_a_400_serialization_error() {
    let app = shared();
    let response = reqwest::Client::new()
        .post(app.url("/auth/credentials"))
        .header("Content-Type", "application/json")
        .body("{\"userName\": ")
        .send()
        .await
        .unwrap();
    let (status, body) = status_and_body(response).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["responseStatus"]["errorCode"],
        "SerializationException"
    );
}

#[tokio::test]
async fn a_wrongly_typed_member_is_a_400_naming_the_field() {
    let app = shared();
    let response = reqwest::Client::new()
        .post(app.url("/auth/credentials"))
        .json(&serde_json::json!({"userName": "a@b.c", "password": "x", "rememberMe": {"no": 1}}))
        .send()
        .await
        .unwrap();
    let (status, body) = status_and_body(response).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["responseStatus"]["errors"][0]["fieldName"],
        "RememberMe"
    );
}

#[tokio::test]
async fn an_unsupported_content_type_is_a_415() {
    let app = shared();
    let response = reqwest::Client::new()
        .post(app.url("/auth/credentials"))
        .header("Content-Type", "image/png")
        .body(vec![0x89, 0x50, 0x4e, 0x47])
        .send()
        .await
        .unwrap();
    let (status, body) = status_and_body(response).await;
    assert_eq!(status, 415);
    assert_eq!(body["responseStatus"]["errorCode"], "NotSupportedException");
}

#[tokio::test]
async fn an_oversized_body_is_a_413() {
    let app = shared();
    let response = reqwest::Client::new()
        .post(app.url("/auth/credentials"))
        .header("Content-Type", "application/json")
        .body(vec![b' '; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    let (status, body) = status_and_body(response).await;
    assert_eq!(status, 413);
    assert_eq!(body["responseStatus"]["errorCode"], "RequestEntityTooLarge");
}

#[tokio::test]
async fn an_unknown_route_is_a_404() {
    let app = shared();
    let (status, body) =
        status_and_body(reqwest::get(app.url("/no/such/route")).await.unwrap()).await;
    assert_eq!(status, 404);
    assert_eq!(body["responseStatus"]["errorCode"], "NotFound");
}

#[tokio::test]
async fn a_verb_the_route_does_not_allow_is_a_405() {
    let app = shared();
    let token = bearer(app, &app.fixture.alice.email).await;
    // No route of this path allows PUT.
    let response = reqwest::Client::new()
        .put(app.url("/sessions/active"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let (status, body) = status_and_body(response).await;
    assert_eq!(status, 405);
    assert_eq!(body["responseStatus"]["errorCode"], "MethodNotAllowed");
    // DELETE is EndSession's verb on `/sessions/{sessionId}`: as in
    // ServiceStack, the route that allows the verb is chosen, and there is
    // no session 'active'.
    let response = reqwest::Client::new()
        .delete(app.url("/sessions/active"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let (status, body) = status_and_body(response).await;
    assert_eq!(status, 404);
    assert_eq!(
        body["responseStatus"]["message"],
        "Session 'active' does not exist"
    );
}

#[tokio::test]
async fn missing_credentials_fields_are_validation_errors() {
    let app = shared();
    let response = reqwest::Client::new()
        .post(app.url("/auth/credentials"))
        .json(&serde_json::json!({"password": "x"}))
        .send()
        .await
        .unwrap();
    let (status, body) = status_and_body(response).await;
    assert_eq!(status, 400);
    assert_eq!(body["responseStatus"]["errorCode"], "NotEmpty");
    assert_eq!(body["responseStatus"]["errors"][0]["fieldName"], "UserName");
}
