//! The HTTP surface: ServiceStack operations (through the contract-driven
//! dispatcher), plus the routes that are not ServiceStack operations.

pub mod dispatch;
pub mod error;
pub mod ops;

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
