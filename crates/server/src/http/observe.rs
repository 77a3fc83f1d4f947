//! Operations over HTTP: `/health/live`, `/health/ready`, `/metrics`
//! (Prometheus), the request id, request metrics, CORS and the security
//! headers of HTML pages.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::app::state::AppState;
use crate::http::error::ApiError;

/// The request id header: honoured when a client or proxy sends a sane one,
/// generated (UUID v7) otherwise, returned on every response.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Latency buckets, seconds: 0.5 ms … 10 s.
const SECONDS_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Commit batch sizes (the group committer takes up to 256).
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// The process's Prometheus recorder, installed once (several applications
/// in one test process share it).
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = || {
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Suffix("_batch_size".into()), BATCH_BUCKETS)
                })
                .unwrap_or_else(|_| PrometheusBuilder::new())
        };
        builder().install_recorder().unwrap_or_else(|error| {
            // Another recorder is installed (an embedding program): keep a
            // private one so that /metrics still answers.
            tracing::warn!(%error, "installing the Prometheus recorder failed");
            builder().build_recorder().handle()
        })
    })
}

/// Folds the recorded histogram samples into their buckets every 5 s (the
/// exporter's own default period), on a thread of its own started once
/// per process (the recorder is the process's): at 30k requests/s that is
/// about 0.5 ms of CPU in one go (docs/benchmarks.md, "Half-rate tail"),
/// which on a runtime worker held the requests queued behind it. The thread
/// runs at the lowest priority (nice 19): its work can wait for a moment
/// when no worker wants the CPU, and at half the peak read rate a pass at
/// nice 0 took a core from a worker in the middle of a burst
/// (docs/benchmarks.md, "Half-rate tail, again").
pub fn start_upkeep() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        let handle = prometheus();
        let started = std::thread::Builder::new()
            .name("evo-metrics-upkeep".to_string())
            .spawn(move || {
                lowest_priority_for_this_thread();
                loop {
                    std::thread::sleep(std::time::Duration::from_secs(5));
                    handle.run_upkeep();
                }
            });
        if let Err(error) = started {
            tracing::warn!(%error, "starting the metrics upkeep thread failed");
        }
    });
}

/// Nice 19 for the calling thread only (Linux: `setpriority` on a thread
/// id). Best effort: a failure leaves it at the process's priority.
#[cfg(target_os = "linux")]
fn lowest_priority_for_this_thread() {
    let tid = rustix::thread::gettid();
    if let Err(error) = rustix::process::setpriority_process(Some(tid), 19) {
        tracing::debug!(%error, "lowering the metrics upkeep thread's priority failed");
    }
}

#[cfg(not(target_os = "linux"))]
fn lowest_priority_for_this_thread() {}

/// `GET /health/live`: the process is up and serving.
pub async fn live() -> Response {
    json(StatusCode::OK, serde_json::json!({ "status": "live" }))
}

/// `GET /health/ready`: the store answers and is migrated, the live index
/// is built, and the server is not shutting down; else 503 with a
/// ResponseStatus.
pub async fn ready(State(state): State<AppState>) -> Response {
    match crate::app::ops::ready(&state).await {
        Ok(()) => json(
            StatusCode::OK,
            serde_json::json!({
                "status": "ready",
                "activeSessions": state.sessions.index().len(),
            }),
        ),
        Err(error) => {
            tracing::warn!(%error, "not ready");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                error.to_string(),
            )
            .into_response()
        }
    }
}

fn json(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

/// `GET /metrics`: Prometheus text format. Gauges read at scrape time.
pub async fn metrics(State(state): State<AppState>) -> Response {
    metrics::gauge!("evo_active_sessions").set(state.sessions.index().len() as f64);
    metrics::gauge!("evo_event_stream_subscribers").set(state.events.len() as f64);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        prometheus().render(),
    )
        .into_response()
}

/// A webhook's outcome, for `evo_webhooks_total{outcome}`. The webhook
/// handler may put one in the response's extensions (`duplicate` cannot be
/// told from the status alone); otherwise it is derived from the status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookOutcome {
    Accepted,
    Duplicate,
    Refused,
    Failed,
}

impl WebhookOutcome {
    fn label(self) -> &'static str {
        match self {
            WebhookOutcome::Accepted => "accepted",
            WebhookOutcome::Duplicate => "duplicate",
            WebhookOutcome::Refused => "refused",
            WebhookOutcome::Failed => "failed",
        }
    }

    fn from_status(status: StatusCode) -> Self {
        if status.is_success() {
            WebhookOutcome::Accepted
        } else if status.is_client_error() {
            WebhookOutcome::Refused
        } else {
            WebhookOutcome::Failed
        }
    }
}

/// Counts every request by route template (never the raw path: bounded
/// labels) and status, with a latency histogram; webhooks by endpoint and
/// outcome; failed sign-ins.
pub async fn record(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    // Only a sign-in (a POST) needs the path afterwards.
    let path = (method == Method::POST).then(|| request.uri().path().to_string());
    let route = route_label(request.extensions().get::<MatchedPath>());
    let response = next.run(request).await;
    record_request(started, method, path, route, &response);
    response
}

/// The metrics label of a request's route. Routes the dispatcher serves
/// (the fallback) have no template: they are labelled by operation family
/// rather than by raw path. Borrowed where it can be: no allocation for a
/// dispatched request.
pub(crate) fn route_label(matched: Option<&MatchedPath>) -> metrics::SharedString {
    matched.map_or(metrics::SharedString::const_str("dispatch"), |matched| {
        matched.as_str().to_string().into()
    })
}

/// Records one answered request (see [`record`]): `path` only for a POST.
pub(crate) fn record_request(
    started: Instant,
    method: Method,
    path: Option<String>,
    route: metrics::SharedString,
    response: &Response,
) {
    record_request_took(started.elapsed(), method, path, route, response);
}

/// [`record_request`] with the request's duration already measured.
pub(crate) fn record_request_took(
    took: std::time::Duration,
    method: Method,
    path: Option<String>,
    route: metrics::SharedString,
    response: &Response,
) {
    let status = response.status();
    let method_label: metrics::SharedString = match method {
        Method::GET => metrics::SharedString::const_str("GET"),
        Method::POST => metrics::SharedString::const_str("POST"),
        ref other => other.as_str().to_string().into(),
    };
    RequestHandles::with(method_label, route.clone(), status, |handles| {
        handles.total.increment(1);
        handles.duration.record(took.as_secs_f64());
    });
    if route.starts_with("/twilio/") {
        let outcome = response
            .extensions()
            .get::<WebhookOutcome>()
            .copied()
            .unwrap_or_else(|| WebhookOutcome::from_status(status));
        metrics::counter!(
            "evo_webhooks_total",
            "endpoint" => route,
            "outcome" => outcome.label(),
        )
        .increment(1);
    }
    let Some(path) = path else { return };
    let auth_path = path.trim_end_matches('/').to_ascii_lowercase();
    if (auth_path == "/auth"
        || auth_path.starts_with("/auth/")
        || auth_path.ends_with("/reply/authenticate"))
        && method == Method::POST
        && status == StatusCode::UNAUTHORIZED
    {
        metrics::counter!("evo_login_failures_total").increment(1);
    }
}

/// The request counter and latency histogram of one (method, route,
/// status), resolved in the recorder once rather than per request (each
/// resolution builds a label vector and hashes it into the registry).
struct RequestHandles {
    total: metrics::Counter,
    duration: metrics::Histogram,
}

type HandleKey = (metrics::SharedString, metrics::SharedString, u16);

/// Distinct label sets cached; more (odd methods) are resolved per request.
const MAX_CACHED_HANDLES: usize = 1024;

impl RequestHandles {
    fn with(
        method: metrics::SharedString,
        route: metrics::SharedString,
        status: StatusCode,
        f: impl FnOnce(&RequestHandles),
    ) {
        type Cache = std::sync::RwLock<
            std::collections::HashMap<HandleKey, RequestHandles, foldhash::fast::RandomState>,
        >;
        static CACHE: OnceLock<Cache> = OnceLock::new();
        let cache = CACHE.get_or_init(|| {
            // Handles resolved before the recorder is installed would be
            // no-ops for good.
            prometheus();
            Default::default()
        });
        let key = (method, route, status.as_u16());
        // Each worker thread keeps the handles it used (clones of the
        // shared ones): a request takes no lock whose cache line the other
        // workers write (the shared map's read lock did, every request).
        thread_local! {
            static LOCAL: std::cell::RefCell<
                std::collections::HashMap<HandleKey, RequestHandles, foldhash::fast::RandomState>,
            > = Default::default();
        }
        let mut f = Some(f);
        let found = LOCAL.with(|local| match (local.borrow().get(&key), f.take()) {
            (Some(handles), Some(f)) => {
                f(handles);
                None
            }
            (_, f) => f,
        });
        let Some(f) = found else {
            return;
        };
        let shared = cache
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .map(|handles| RequestHandles {
                total: handles.total.clone(),
                duration: handles.duration.clone(),
            });
        if let Some(handles) = shared {
            f(&handles);
            LOCAL.with(|local| {
                let mut local = local.borrow_mut();
                if local.len() < MAX_CACHED_HANDLES {
                    local.insert(key, handles);
                }
            });
            return;
        }
        let labels = [
            metrics::Label::new("method", key.0.clone()),
            metrics::Label::new("route", key.1.clone()),
            metrics::Label::new("status", status_label(status)),
        ];
        let handles = RequestHandles {
            total: metrics::counter!("evo_http_requests_total", labels.to_vec()),
            duration: metrics::histogram!("evo_http_request_duration_seconds", labels.to_vec()),
        };
        f(&handles);
        let mut cache = cache.write().unwrap_or_else(|e| e.into_inner());
        if cache.len() < MAX_CACHED_HANDLES {
            cache.insert(key, handles);
        }
    }
}

/// A status code as a label (`"200"`), borrowed for the usual ones.
fn status_label(status: StatusCode) -> metrics::SharedString {
    let code = match status.as_u16() {
        200 => "200",
        201 => "201",
        204 => "204",
        304 => "304",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        409 => "409",
        413 => "413",
        429 => "429",
        500 => "500",
        502 => "502",
        503 => "503",
        other => return other.to_string().into(),
    };
    metrics::SharedString::const_str(code)
}

/// A sane request id from a client or proxy: short and printable, so it
/// cannot forge log lines.
pub(crate) fn acceptable(id: &HeaderValue) -> bool {
    let bytes = id.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 128
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// A new UUID v7 (RFC 9562 §5.7: Unix milliseconds, then random bits) as a
/// header value. The random bits come from the thread's RNG rather than
/// `Uuid::now_v7` (a `getrandom` system call and a process-wide lock per
/// id), and the text is formatted on the stack and moved into one shared
/// allocation (`Bytes::from_owner`), so that the copies on the request and
/// the response share it (a `Vec`-backed header value allocates again on
/// its first clone).
pub(crate) fn new_request_id() -> HeaderValue {
    use rand::RngCore;
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut random = [0u8; 10];
    rand::thread_rng().fill_bytes(&mut random);
    let id = uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid();
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    id.hyphenated().encode_lower(&mut text);
    HeaderValue::from_maybe_shared(bytes::Bytes::from_owner(text))
        .unwrap_or_else(|_| HeaderValue::from_static("unknown"))
}

/// Gives every request an `X-Request-Id` and returns it on the response;
/// the request's span (see [`span`]) carries it into every log line.
pub async fn request_id(mut request: Request, next: Next) -> Response {
    let id = match request.headers().get(&REQUEST_ID) {
        Some(id) if acceptable(id) => id.clone(),
        _ => new_request_id(),
    };
    request.headers_mut().insert(REQUEST_ID.clone(), id.clone());
    let mut response = next.run(request).await;
    response.headers_mut().insert(REQUEST_ID.clone(), id);
    response
}

/// The span of one request: method, path (never the query, which may hold
/// a token) and request id.
pub fn span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    // The usual case in production (`warn`): no span, so no field is read.
    if !tracing::enabled!(tracing::Level::INFO) {
        return tracing::Span::none();
    }
    let id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|id| id.to_str().ok())
        .unwrap_or("");
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %id,
    )
}

/// CORS as ServiceStack's `CorsFeature` with an origin whitelist does it
/// (ServiceStack/src/ServiceStack/CorsFeature.cs: the request's `Origin`
/// echoed only when whitelisted, its default methods GET, POST, PUT,
/// DELETE, PATCH, OPTIONS, HEAD, preflights cached 600 s, OPTIONS answered
/// before any service), plus `Authorization` among the allowed headers and
/// credentials (cookies) allowed, which a browser client of this API needs.
/// `None` without origins: no CORS headers at all.
pub fn cors(origins: &[String]) -> Option<CorsLayer> {
    let allowed: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|origin| HeaderValue::from_str(origin.trim().trim_end_matches('/')).ok())
        .collect();
    if allowed.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(allowed))
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::DELETE,
                Method::PATCH,
                Method::OPTIONS,
                Method::HEAD,
            ])
            .max_age(std::time::Duration::from_secs(600))
            .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION, header::ACCEPT])
            .expose_headers([REQUEST_ID.clone()])
            .allow_credentials(true),
    )
}

/// Security headers for HTML pages (the metadata pages; the console sets
/// its own CSP): no MIME sniffing, never framed, no referrer leaves.
pub async fn html_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/html"));
    add_html_headers(response.headers_mut(), is_html);
    response
}

/// `nosniff` always; for an HTML page also a CSP (unless it has one), no
/// referrer and no framing (see [`html_headers`]).
pub(crate) fn add_html_headers(headers: &mut axum::http::HeaderMap, is_html: bool) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if is_html {
        if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("frame-ancestors 'none'"),
            );
        }
        headers
            .entry(header::REFERRER_POLICY)
            .or_insert(HeaderValue::from_static("no-referrer"));
        headers
            .entry(header::X_FRAME_OPTIONS)
            .or_insert(HeaderValue::from_static("DENY"));
    }
}

/// A panic is a bug: log it, and answer like any other 500 without details.
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(detail, "a request handler panicked");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "InternalServerError",
        "An internal error occurred",
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The upkeep thread's priority is its own: the thread that lowers it
    /// is at nice 19 afterwards, the thread that started it is not.
    #[cfg(target_os = "linux")]
    #[test]
    fn the_upkeep_priority_applies_to_the_calling_thread_only() {
        let before = rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap();
        let lowered = std::thread::spawn(|| {
            lowest_priority_for_this_thread();
            rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap()
        })
        .join()
        .unwrap();
        assert_eq!(lowered, 19);
        let after = rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap();
        assert_eq!(after, before);
    }

    #[test]
    fn generated_request_ids_are_distinct_uuid_v7_of_now() {
        let before = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let ids: Vec<uuid::Uuid> = (0..1000)
            .map(|_| uuid::Uuid::parse_str(new_request_id().to_str().unwrap()).unwrap())
            .collect();
        for id in &ids {
            assert_eq!(id.get_version_num(), 7);
            assert_eq!(id.get_variant(), uuid::Variant::RFC4122);
            let (secs, nanos) = id.get_timestamp().unwrap().to_unix();
            let millis = secs * 1000 + u64::from(nanos) / 1_000_000;
            assert!(millis >= before && millis < before + 60_000, "{id}");
        }
        let distinct: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
    }
}
