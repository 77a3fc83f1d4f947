//! The HTTP surface: ServiceStack operations (through the contract-driven
//! dispatcher), plus the routes that are not ServiceStack operations.

pub mod console;
pub mod dispatch;
pub mod error;
pub mod ops;
pub mod twilio;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::state::AppState;

/// The whole application router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/types/{lang}", get(types))
        .route("/openapi.json", get(openapi))
        .route("/event-stream", get(crate::events::event_stream))
        .route(
            "/event-heartbeat",
            axum::routing::post(crate::events::heartbeat),
        )
        .route(
            "/event-unregister",
            axum::routing::post(crate::events::unregister),
        )
        .route("/metadata", get(metadata_index))
        .route("/api", get(metadata_index))
        .route("/{format}/metadata", get(metadata_page))
        .merge(twilio::router())
        .merge(console::router())
        .fallback(dispatch::dispatch)
        .with_state(state)
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(TraceLayer::new_for_http())
}

async fn health(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    let body = format!(
        "{{\"status\":\"ok\",\"activeSessions\":{}}}",
        state.sessions.index().len()
    );
    (
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body,
    )
        .into_response()
}

/// `/metadata`: the index of every operation.
async fn metadata_index() -> Response {
    (
        [(header::CONTENT_TYPE, "text/html")],
        evo_docs::metadata::index_page(),
    )
        .into_response()
}

/// `/{format}/metadata?op=Name&lang=fsharp`: one operation's page.
async fn metadata_page(
    axum::extract::State(state): axum::extract::State<AppState>,
    axum::extract::Path(format): axum::extract::Path<String>,
    headers: axum::http::HeaderMap,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    let query = query_pairs(query);
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let host = base_url(&state, &headers)
        .split("://")
        .nth(1)
        .unwrap_or("localhost")
        .to_string();
    let Some(op) = get("op") else {
        return metadata_index().await;
    };
    let lang = get("lang")
        .unwrap_or_else(|| "fsharp".to_string())
        .to_ascii_lowercase();
    match evo_docs::metadata::operation_page(&format.to_ascii_lowercase(), &op, &lang, &host) {
        Some(page) => ([(header::CONTENT_TYPE, "text/html")], page).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            r#"{"responseStatus":{"errorCode":"NotFound","message":"No such operation, format (json, xml, csv, jsv) or language (csharp, fsharp, vbnet, typescript, python, kotlin, java, swift, dart)","errors":[]}}"#,
        )
            .into_response(),
    }
}

/// `/openapi.json`: OpenAPI 3 for the whole API.
async fn openapi(
    axum::extract::State(state): axum::extract::State<AppState>,
    headers: axum::http::HeaderMap,
) -> Response {
    let base_url = base_url(&state, &headers);
    let document = evo_docs::openapi::document(&base_url);
    (
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        document.to_string(),
    )
        .into_response()
}

/// The decoded pairs of a raw query string.
fn query_pairs(query: Option<String>) -> Vec<(String, String)> {
    query
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

/// An error as a JSON `ResponseStatus` (for routes outside the dispatcher).
pub(crate) fn error_response(state: &AppState, error: error::ApiError) -> Response {
    let body = evo_wire::errors::error_body(None, error.response_status(state.config.debug));
    let mut response = (
        error.status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        evo_wire::render_value(&evo_wire::format::Format::Json, &body, "ErrorResponse"),
    )
        .into_response();
    if let Some(challenge) = error
        .www_authenticate
        .as_deref()
        .and_then(|c| axum::http::HeaderValue::from_str(c).ok())
    {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, challenge);
    }
    response
}

/// The public base URL: configured, else from the Host header.
pub(crate) fn base_url(state: &AppState, headers: &axum::http::HeaderMap) -> String {
    state.config.public_url.clone().unwrap_or_else(|| {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        format!("http://{host}")
    })
}

/// `/types/{lang}`: typed DTOs for ServiceStack's client languages.
async fn types(
    axum::extract::State(state): axum::extract::State<AppState>,
    axum::extract::Path(lang): axum::extract::Path<String>,
    headers: axum::http::HeaderMap,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    let query = query_pairs(query);
    let base_url = base_url(&state, &headers);
    if lang.eq_ignore_ascii_case("metadata") {
        return (
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            evo_docs::types::metadata_json(&base_url),
        )
            .into_response();
    }
    let now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string();
    match evo_docs::types::document(&lang.to_ascii_lowercase(), &base_url, &query, &now) {
        Some(text) => {
            // An ES module must be JavaScript for browsers to import it.
            let content_type = if lang.eq_ignore_ascii_case("mjs") {
                "text/javascript; charset=utf-8"
            } else {
                "text/plain; charset=utf-8"
            };
            ([(header::CONTENT_TYPE, content_type)], text).into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            format!(
                r#"{{"responseStatus":{{"errorCode":"NotFound","message":"Unknown language '{}'; available: {}","errors":[]}}}}"#,
                lang.replace(['"', '\\'], ""),
                evo_docs::types::LANGUAGES.join(", ")
            ),
        )
            .into_response(),
    }
}

/// A panic is a bug: log it, and answer like any other 500 without details.
fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(detail, "a request handler panicked");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        r#"{"responseStatus":{"errorCode":"InternalServerError","message":"An internal error occurred","errors":[]}}"#,
    )
        .into_response()
}
