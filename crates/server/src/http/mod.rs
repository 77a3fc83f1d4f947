//! The HTTP surface: ServiceStack operations (through the contract-driven
//! dispatcher), plus the routes that are not ServiceStack operations.

pub mod call;
pub mod common;
pub mod console;
pub mod dispatch;
pub mod edge;
pub mod error;
pub mod events;
pub mod limits;
pub mod observe;
pub mod ops;
pub mod stack;
pub mod twilio;

pub use stack::{layered_separately, Layer};

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::app::state::AppState;
use crate::http::common::{base_url, query_pairs};
use crate::http::error::ApiError;

/// The whole application router: the routes, the fused per-request layer
/// ([`edge::EdgeLayer`]: request id, trace, metrics, panic catching,
/// `nosniff`, limits) and CORS when origins are configured.
pub fn router(state: AppState) -> Router {
    let limits = limits::RequestLimits::new(&state.config.limits, state.config.max_body_bytes);
    router_with_limits(state, limits)
}

fn router_with_limits(state: AppState, limits: limits::RequestLimits) -> Router {
    let cors = observe::cors(&state.config.ops.cors_origins);
    let router = routes(state).layer(edge::EdgeLayer::new(limits));
    match cors {
        Some(cors) => router.layer(cors),
        None => router,
    }
}

/// What the listener serves (`startup::serve_with_limits`): a service
/// called through a shared reference, once per request.
pub trait Served: Clone + Send + Sync + 'static {
    type Future: Future<Output = Result<Response, Infallible>> + Send + 'static;
    fn serve(&self, request: Request<Body>) -> Self::Future;
}

impl Served for Router {
    type Future = tower::util::Oneshot<Router, Request<Body>>;

    fn serve(&self, request: Request<Body>) -> Self::Future {
        use tower::ServiceExt;
        self.clone().oneshot(request)
    }
}

/// What `serve` serves: [`router`], with `GET /sessions/active` (the read
/// every client repeats) taken before it. That path is no route of the
/// router, so the router would hand it to its fallback, the dispatcher,
/// under the edge layer; here it goes to the same edge steps
/// ([`edge::edge_call`], with the router's own [`limits::RequestLimits`])
/// and the same dispatcher function ([`dispatch::respond`]), but without
/// the router's
/// per-request work: two path lookups, the URL parameters' allocation,
/// three boxed services cloned, two boxed futures, and the state's shared
/// reference counts written by both workers (docs/benchmarks.md, "Read
/// path … (issue 12, session 8, `readfast`)"). With CORS configured
/// (a layer of the router) every request goes to the router.
#[derive(Clone)]
pub struct App {
    router: Router,
    read: Option<Arc<ReadPath>>,
}

struct ReadPath {
    state: AppState,
    limits: limits::RequestLimits,
}

/// The application as `serve` serves it (see [`App`]).
pub fn app(state: AppState) -> App {
    let limits = limits::RequestLimits::new(&state.config.limits, state.config.max_body_bytes);
    let read = observe::cors(&state.config.ops.cors_origins)
        .is_none()
        .then(|| {
            Arc::new(ReadPath {
                state: state.clone(),
                limits: limits.clone(),
            })
        });
    App {
        router: router_with_limits(state, limits),
        read,
    }
}

/// [`App`]'s future: the read path's, or the router's.
pub type AppFuture = futures::future::Either<
    edge::EdgeFuture<dispatch::DispatchFuture>,
    tower::util::Oneshot<Router, Request<Body>>,
>;

impl Served for App {
    type Future = AppFuture;

    fn serve(&self, request: Request<Body>) -> AppFuture {
        use futures::future::Either;
        use tower::ServiceExt;
        match &self.read {
            Some(read)
                if request.method() == Method::GET
                    && Some(request.uri().path()) == dispatch::read_path() =>
            {
                Either::Left(edge::edge_call(&read.limits, request, |request| {
                    dispatch::respond(&read.state, request)
                }))
            }
            _ => Either::Right(self.router.clone().oneshot(request)),
        }
    }
}

/// The application router with the middleware as separate layers, without
/// those in `omit`: a measurement tool only; `serve` always runs
/// [`app`].
pub fn router_with(state: AppState, omit: &[Layer]) -> Router {
    let limits = limits::RequestLimits::new(&state.config.limits, state.config.max_body_bytes);
    let ops = state.config.ops.clone();
    let cors = observe::cors(&ops.cors_origins).filter(|_| !omit.contains(&Layer::Cors));
    let router = layered_separately(routes(state), limits, omit);
    match cors {
        Some(cors) => router.layer(cors),
        None => router,
    }
}

/// Every route, without middleware.
fn routes(state: AppState) -> Router {
    let ops = state.config.ops.clone();
    let mut router = Router::new()
        .route("/health", get(health))
        .route("/health/live", get(observe::live))
        .route("/health/ready", get(observe::ready));
    if ops.metrics_bind.is_none() {
        router = router.route("/metrics", get(observe::metrics));
    }
    router
        .route("/types/{lang}", get(types))
        .route("/openapi.json", get(openapi))
        .route("/event-stream", get(events::event_stream))
        .route("/event-heartbeat", axum::routing::post(events::heartbeat))
        .route("/event-unregister", axum::routing::post(events::unregister))
        .route("/event-subscribers", get(events::subscribers))
        .route(
            "/event-subscribers/{id}",
            axum::routing::post(events::update_subscriber),
        )
        .route("/api/GetEventSubscribers", get(events::subscribers))
        .route(
            "/api/UpdateEventSubscriber",
            axum::routing::post(events::update_event_subscriber),
        )
        .route("/metadata", get(metadata_index))
        .route("/api", get(metadata_index))
        .route("/{format}/metadata", get(metadata_page))
        .merge(twilio::router())
        .merge(console::router())
        .fallback_service(dispatch::Dispatcher::new(state.clone()))
        .with_state(state)
}

/// The router of `--metrics-bind`: `/metrics` alone.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(observe::metrics))
        .with_state(state)
}

async fn health(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    let body = serde_json::json!({
        "status": "ok",
        "activeSessions": state.sessions.index().len(),
    })
    .to_string();
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
        None => {
            // The languages a page exists in, as the docs crate declares them.
            let languages: Vec<&str> = evo_docs::lang::Language::ALL
                .into_iter()
                .filter(|l| l.has_metadata_page())
                .map(|l| l.name())
                .collect();
            ApiError::not_found(format!(
                "No such operation, format (json, xml, csv, jsv) or language ({})",
                languages.join(", ")
            ))
            .into_response()
        }
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
    let lang = lang.to_ascii_lowercase();
    match evo_docs::types::document(&lang, &base_url, &query, &now) {
        Ok(text) => (
            [(header::CONTENT_TYPE, evo_docs::types::content_type(&lang))],
            text,
        )
            .into_response(),
        Err(error @ evo_docs::types::TypesError::UnknownLanguage(_)) => {
            ApiError::not_found(error.to_string()).into_response()
        }
        // Issue 16: an option that is not a type name or glob is refused
        // before it can reach the generated source.
        Err(error @ evo_docs::types::TypesError::InvalidOption(_)) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "ArgumentException",
            error.to_string(),
        )
        .into_response(),
    }
}
