//! The HTTP surface: ServiceStack operations (through the contract-driven
//! dispatcher), plus the routes that are not ServiceStack operations.

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
        .merge(twilio::router())
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

/// The public base URL: configured, else from the Host header.
fn base_url(state: &AppState, headers: &axum::http::HeaderMap) -> String {
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
    let query: Vec<(String, String)> = query
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let base_url = base_url(&state, &headers);
    let now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string();
    match evo_docs::types::document(&lang.to_ascii_lowercase(), &base_url, &query, &now) {
        Some(text) => ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response(),
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
