//! The documentation endpoints: metadata pages, typed DTOs, OpenAPI.

use crate::helpers::shared;

async fn get(path: &str) -> (u16, String, String) {
    let response = reqwest::get(shared().url(path)).await.unwrap();
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    (status, content_type, response.text().await.unwrap())
}

#[tokio::test]
async fn the_metadata_pages_and_the_api_index_are_served() {
    for path in ["/metadata", "/api"] {
        let (status, content_type, body) = get(path).await;
        assert_eq!(
            (status, content_type.as_str()),
            (200, "text/html"),
            "{path}"
        );
        assert!(
            body.contains("/json/metadata?op=GetActiveSessions"),
            "{path}"
        );
    }
    let (status, _, body) = get("/xml/metadata?op=GetActiveSessions&lang=fsharp").await;
    assert_eq!(status, 200);
    assert!(body.contains("Required role:User"));
    assert!(body.contains("&lt;GetActiveSessionsResponse xmlns:i="));
    let (status, _, _) = get("/xml/metadata?op=Nope").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn every_language_is_served_under_types() {
    for lang in [
        "csharp",
        "fsharp",
        "vbnet",
        "typescript",
        "mjs",
        "python",
        "kotlin",
        "java",
        "swift",
        "dart",
    ] {
        let (status, _, body) = get(&format!("/types/{lang}")).await;
        assert_eq!(status, 200, "{lang}");
        assert!(
            body.contains("Options:") && body.contains("BaseUrl: http://127.0.0.1:"),
            "{lang}"
        );
        assert!(body.contains("GetActiveSessions"), "{lang}");
    }
    let (status, content_type, body) = get("/types/metadata").await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("application/json"));
    let metadata: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(metadata["types"].as_array().unwrap().len() >= 15);
    let (status, _, _) = get("/types/cobol").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_openapi_document_describes_every_route_and_security_scheme() {
    let (status, _, body) = get("/openapi.json").await;
    assert_eq!(status, 200);
    let document: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(document["openapi"], "3.0.3");
    for path in [
        "/sessions/active",
        "/auth",
        "/auth/{provider}",
        "/access-token",
    ] {
        assert!(document["paths"].get(path).is_some(), "{path}");
    }
    assert!(document["paths"]["/sessions/active"]["get"]["security"].is_array());
    assert!(document["paths"]["/sessions/active"]["get"]["responses"]
        .get("409")
        .is_none());
    // EndSession and RedirectSession return nothing (IReturnVoid): the server
    // answers 204, and the document says so, as ServiceStack's own
    // OpenApiService.cs does for a void response (204 "Success" when
    // HostConfig.Return204NoContentForEmptyResponse, its default).
    // Schemathesis' ST103 caught a 204 documented as 200.
    for (path, verb) in [
        ("/sessions/{sessionId}", "delete"),
        ("/sessions/{sessionId}/redirect", "post"),
    ] {
        let responses = &document["paths"][path][verb]["responses"];
        assert_eq!(responses["204"]["description"], "Success", "{path}");
        assert!(responses.get("200").is_none(), "{path}");
        // An action on an ended session is a 409 (schemathesis' ST103 caught
        // it undocumented); a Twilio failure a 502.
        assert!(responses.get("409").is_some(), "{path}");
        assert!(responses.get("502").is_some(), "{path}");
    }
    assert_eq!(
        document["components"]["schemas"]["SessionInfo"]["properties"]["dialState"]["description"],
        "The state of the session"
    );
}

#[tokio::test]
async fn types_are_served_with_servicestacks_content_types_and_checked_options() {
    // NativeTypesService.cs:318 serves mjs as MimeTypes.JavaScript, the
    // others as MimeTypes.PlainText.
    let (status, content_type, _) = get("/types/mjs").await;
    assert_eq!(status, 200);
    assert!(
        content_type.starts_with("text/javascript"),
        "{content_type}"
    );
    let (_, content_type, _) = get("/types/csharp").await;
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    // Issue 16: option values that would inject code are a 400 ResponseStatus.
    for query in [
        "/types/python?GlobalNamespace=x%22%22%22%0Aimport%20os",
        "/types/csharp?GlobalNamespace=Evil%3B%7Dpublic%20class%20Pwn%7B",
    ] {
        let (status, content_type, body) = get(query).await;
        assert_eq!(status, 400, "{query}");
        assert!(content_type.starts_with("application/json"));
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["responseStatus"]["errorCode"], "ArgumentException");
        assert!(body["responseStatus"]["message"]
            .as_str()
            .unwrap()
            .contains("GlobalNamespace"));
    }
}
