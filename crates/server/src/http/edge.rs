//! The per-request middleware of every route, fused into one tower layer.
//!
//! It does, in this order (outermost first), exactly what the six separate
//! layers did (request id, `TraceLayer`, request metrics, `CatchPanicLayer`,
//! `nosniff`/HTML headers, limits; `http::stack` still builds
//! that stack, to measure against): one service call, one future of its
//! own that is not boxed ([`EdgeFuture`]) and no inner service clone per
//! request, where the separate stack built a boxed future, a boxed `Next`
//! and a clone of the service below for each `from_fn` layer
//! (docs/benchmarks.md, "Fused edge layer" and "Read path: one lookup").
//!
//! What each part does is unchanged: a panic response (500) carries the
//! request id but not `nosniff` (the HTML headers were inside the panic
//! catcher), a refusal by the limits (429, 413, 503) carries both, and the
//! trace events are `tower_http`'s own (`DefaultOnRequest`,
//! `DefaultOnResponse`, `DefaultOnFailure` with `ServerErrorsAsFailures`).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request};
use axum::http::{header, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};
use tower_http::classify::{ClassifiedResponse, ClassifyResponse, ServerErrorsAsFailures};
use tower_http::trace::{
    DefaultOnFailure, DefaultOnRequest, DefaultOnResponse, OnFailure, OnRequest, OnResponse,
};

use crate::auth::throttle::CLIENT_ADDR;
use crate::http::limits::{Admission, RequestLimits};
use crate::http::observe;

/// The fused layer (`Router::layer`, so that `MatchedPath` is known).
#[derive(Clone)]
pub struct EdgeLayer {
    limits: RequestLimits,
}

impl EdgeLayer {
    pub fn new(limits: RequestLimits) -> Self {
        EdgeLayer { limits }
    }
}

impl<S> Layer<S> for EdgeLayer {
    type Service = Edge<S>;

    fn layer(&self, inner: S) -> Edge<S> {
        Edge {
            inner,
            limits: self.limits.clone(),
        }
    }
}

/// The fused service around one route.
#[derive(Clone)]
pub struct Edge<S> {
    inner: S,
    limits: RequestLimits,
}

/// What a request does once its response is known: metrics, trace events,
/// the response body's span and the request id.
struct Finish {
    id: HeaderValue,
    /// When the request came in: the trace's and the metrics' start.
    started: Instant,
    method: Method,
    path: Option<String>,
    route: metrics::SharedString,
    /// The request's span, kept for the response body only when there is one.
    body_span: Option<tracing::Span>,
}

/// How an admitted request runs.
enum Run<F> {
    /// Answered by the limits.
    Answer(Response),
    /// The route's `call` panicked.
    Panicked(Box<dyn std::any::Any + Send + 'static>),
    /// Read and drop an oversized body, then 413.
    Drain(Pin<Box<dyn Future<Output = Response> + Send>>),
    /// The route, under the concurrency permit, the time limit and the
    /// client address.
    Route {
        future: F,
        /// Held until the response is ready.
        _permit: Option<crate::http::limits::Permit>,
        /// The time limit, counted from when the route first waits (a
        /// route answering at once reads no clock for it).
        timeout: Option<std::time::Duration>,
        /// Made when the route first waits (most reads never do).
        sleep: Option<Pin<Box<tokio::task::Unconstrained<tokio::time::Sleep>>>>,
        addr: Option<std::net::IpAddr>,
    },
    /// Answered.
    Done,
}

/// The fused layer's future: a plain state machine rather than nested
/// `async` blocks, so that the route's future is held once (the async
/// version, about 2.2 KB, was boxed per request) and nothing is boxed for
/// a request the route answers at once (docs/benchmarks.md, "Read path:
/// one lookup"). Each poll runs inside the request's span (as
/// `Instrument` did), with the client address set (as the task-local
/// scope did) and panics caught; the time limit is `tokio::time::timeout`'s
/// (route first, then the deadline, unconstrained by the task's budget).
pub struct EdgeFuture<F> {
    run: Run<F>,
    finish: Option<Finish>,
    span: tracing::Span,
}

impl<S> Service<Request> for Edge<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send + Unpin + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = EdgeFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> EdgeFuture<S::Future> {
        let inner = &mut self.inner;
        edge_call(&self.limits, request, |request| inner.call(request))
    }
}

/// What [`Edge::call`] does, with the route given as the function that
/// calls it: also used by [`crate::http::App`] for the read it answers
/// before the router (the same steps, with no service to clone).
pub(crate) fn edge_call<F>(
    limits: &RequestLimits,
    mut request: Request,
    call_route: impl FnOnce(Request) -> F,
) -> EdgeFuture<F> {
    // Request id (outermost): the client's when sane, else a new one.
    let id = match request.headers().get(&observe::REQUEST_ID) {
        Some(id) if observe::acceptable(id) => id.clone(),
        _ => observe::new_request_id(),
    };
    request
        .headers_mut()
        .insert(observe::REQUEST_ID.clone(), id.clone());

    // Trace: the span (none when INFO is off) and `tower_http`'s event.
    // One clock read for the trace's and the metrics' start (they were
    // microseconds apart).
    let started = Instant::now();
    let span = observe::span(&request);
    // Kept for the response body only when there is a span.
    let body_span = (!span.is_none()).then(|| span.clone());
    let entered = span.enter();
    DefaultOnRequest::new().on_request(&request, &span);

    // Metrics: what the labels need, read before the request moves on.
    let method = request.method().clone();
    let path = (method == Method::POST).then(|| request.uri().path().to_string());
    let route = observe::route_label(request.extensions().get::<MatchedPath>());

    // Panic catching around the HTML headers, the limits and the route:
    // a panic in the route's `call` as well as in its future.
    let addr = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    let run = match limits.admit(addr, request) {
        Admission::Refused(response) => Run::Answer(response),
        Admission::TooLarge(body) => {
            let limits = limits.clone();
            Run::Drain(Box::pin(async move { limits.drain_too_large(body).await }))
        }
        Admission::Admitted {
            request,
            permit,
            timeout,
        } => {
            let called = std::panic::catch_unwind(AssertUnwindSafe(|| match addr {
                Some(addr) => CLIENT_ADDR.sync_scope(addr, || call_route(request)),
                None => call_route(request),
            }));
            match called {
                Ok(future) => Run::Route {
                    future,
                    _permit: permit,
                    timeout,
                    sleep: None,
                    addr,
                },
                Err(panic) => Run::Panicked(panic),
            }
        }
    };
    drop(entered);
    EdgeFuture {
        run,
        finish: Some(Finish {
            id,
            started,
            method,
            path,
            route,
            body_span,
        }),
        span,
    }
}

impl<F> Future for EdgeFuture<F>
where
    F: Future<Output = Result<Response, Infallible>> + Unpin,
{
    type Output = Result<Response, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let _entered = this.span.enter();
        let response = match &mut this.run {
            Run::Answer(_) | Run::Panicked(_) => {
                match std::mem::replace(&mut this.run, Run::Done) {
                    Run::Answer(response) => with_html_headers(response),
                    Run::Panicked(panic) => observe::panic_response(panic),
                    _ => unreachable!("matched above"),
                }
            }
            Run::Drain(drain) => {
                match std::panic::catch_unwind(AssertUnwindSafe(|| drain.as_mut().poll(cx))) {
                    Ok(Poll::Pending) => return Poll::Pending,
                    Ok(Poll::Ready(response)) => with_html_headers(response),
                    Err(panic) => observe::panic_response(panic),
                }
            }
            Run::Route {
                future,
                timeout,
                sleep,
                addr,
                ..
            } => {
                let polled = std::panic::catch_unwind(AssertUnwindSafe(|| {
                    let route = match addr {
                        Some(addr) => {
                            CLIENT_ADDR.sync_scope(*addr, || Pin::new(&mut *future).poll(cx))
                        }
                        None => Pin::new(&mut *future).poll(cx),
                    };
                    match (route, timeout) {
                        (Poll::Ready(Ok(response)), _) => Poll::Ready(response),
                        (Poll::Ready(Err(never)), _) => match never {},
                        (Poll::Pending, None) => Poll::Pending,
                        (Poll::Pending, Some(limit)) => {
                            // Tokio's clock (it may be paused in tests),
                            // read when the route first waits: the limit
                            // counts from then, microseconds after
                            // admission, in the same poll.
                            let sleep = sleep.get_or_insert_with(|| {
                                Box::pin(tokio::task::unconstrained(tokio::time::sleep(*limit)))
                            });
                            sleep
                                .as_mut()
                                .poll(cx)
                                .map(|()| crate::http::limits::timed_out().into_response())
                        }
                    }
                }));
                match polled {
                    Ok(Poll::Pending) => return Poll::Pending,
                    Ok(Poll::Ready(response)) => with_html_headers(response),
                    Err(panic) => observe::panic_response(panic),
                }
            }
            Run::Done => panic!("the edge layer's future was polled after it completed"),
        };
        // The route's future and the permit go now, as they did when the
        // response was ready.
        this.run = Run::Done;
        let Some(finish) = this.finish.take() else {
            panic!("the edge layer's future was polled after it completed")
        };
        // One clock read for the metrics' duration and the trace's latency.
        let latency = finish.started.elapsed();
        observe::record_request_took(latency, finish.method, finish.path, finish.route, &response);

        DefaultOnResponse::new().on_response(&response, latency, &this.span);
        if let ClassifiedResponse::Ready(Err(failure)) =
            ServerErrorsAsFailures::new().classify_response(&response)
        {
            DefaultOnFailure::new().on_failure(failure, latency, &this.span);
        }
        let mut response = match finish.body_span {
            // The body is polled inside the request's span, as
            // `TraceLayer`'s response body was.
            Some(span) => response.map(|body| Body::new(SpanBody { inner: body, span })),
            None => response,
        };
        response
            .headers_mut()
            .insert(observe::REQUEST_ID.clone(), finish.id);
        Poll::Ready(Ok(response))
    }
}

/// `nosniff` on every response; the HTML pages' security headers.
pub fn with_html_headers(mut response: Response) -> Response {
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/html"));
    observe::add_html_headers(response.headers_mut(), is_html);
    response
}

/// A response body polled inside the request's span.
struct SpanBody {
    inner: Body,
    span: tracing::Span,
}

impl hyper::body::Body for SpanBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        let _entered = this.span.enter();
        Pin::new(&mut this.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::time::Duration;

    use axum::body::Body;
    use axum::extract::ConnectInfo;
    use axum::http::{header, HeaderMap, Request, StatusCode};
    use axum::response::IntoResponse;
    use axum::routing::{get, post};
    use axum::Router;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::EdgeLayer;
    use crate::app::config::Limits;
    use crate::auth::throttle::CLIENT_ADDR;
    use crate::http::limits::RequestLimits;
    use crate::http::observe;

    const MAX_BODY: usize = 64;

    fn routes() -> Router {
        Router::new()
            .route("/edge/ok", get(|| async { "ok" }))
            .route(
                "/edge/page",
                get(|| async {
                    (
                        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                        "<p>hi</p>",
                    )
                        .into_response()
                }),
            )
            .route(
                "/edge/panic",
                get(|| async {
                    if std::hint::black_box(true) {
                        panic!("edge test panic");
                    }
                    "unreachable"
                }),
            )
            .route("/edge/echo", post(|body: String| async move { body }))
            .route(
                "/edge/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    "late"
                }),
            )
            .route(
                "/edge/addr",
                get(|| async {
                    CLIENT_ADDR
                        .try_with(|addr| addr.to_string())
                        .unwrap_or_default()
                }),
            )
    }

    fn limits() -> RequestLimits {
        let limits = Limits {
            request_timeout: Duration::from_millis(200),
            rate_limit_per_address: 3,
            ..Limits::default()
        };
        RequestLimits::new(&limits, MAX_BODY)
    }

    /// The fused layer and the separate layers it replaces, each with its
    /// own limits (the rate limiter counts per stack).
    fn stacks() -> (Router, Router) {
        (
            routes().layer(EdgeLayer::new(limits())),
            crate::http::stack::layered_separately(routes(), limits(), &[]),
        )
    }

    fn request(method: &str, path: &str, peer: &str) -> Request<Body> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .expect("request");
        let peer: SocketAddr = peer.parse().expect("address");
        request.extensions_mut().insert(ConnectInfo(peer));
        request
    }

    async fn send(router: &Router, request: Request<Body>) -> (StatusCode, HeaderMap, Vec<u8>) {
        let response = router.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.expect("body");
        (status, headers, body.to_bytes().to_vec())
    }

    /// Status, body and headers agree; request ids are compared by shape
    /// (each stack makes its own).
    fn assert_alike(
        what: &str,
        fused: &(StatusCode, HeaderMap, Vec<u8>),
        separate: &(StatusCode, HeaderMap, Vec<u8>),
    ) {
        assert_eq!(fused.0, separate.0, "{what}: status");
        assert_eq!(fused.2, separate.2, "{what}: body");
        let names = |headers: &HeaderMap| {
            let mut names: Vec<String> = headers.keys().map(|n| n.to_string()).collect();
            names.sort();
            names
        };
        assert_eq!(names(&fused.1), names(&separate.1), "{what}: header names");
        for (name, value) in fused.1.iter() {
            if name != observe::REQUEST_ID {
                assert_eq!(Some(value), separate.1.get(name), "{what}: {name}");
            }
        }
    }

    fn is_uuid_v7(value: Option<&axum::http::HeaderValue>) -> bool {
        value
            .and_then(|v| v.to_str().ok())
            .and_then(|v| uuid::Uuid::parse_str(v).ok())
            .is_some_and(|id| id.get_version_num() == 7)
    }

    #[tokio::test]
    async fn the_fused_layer_answers_as_the_separate_layers_did() {
        let (fused, separate) = stacks();
        type MakeRequest = Box<dyn Fn() -> Request<Body>>;
        let cases: Vec<(&str, MakeRequest)> = vec![
            ("ok", Box::new(|| request("GET", "/edge/ok", "10.0.0.1:1"))),
            (
                "html page",
                Box::new(|| request("GET", "/edge/page", "10.0.0.1:1")),
            ),
            (
                "panic",
                Box::new(|| request("GET", "/edge/panic", "10.0.0.1:1")),
            ),
            (
                "no route",
                Box::new(|| request("GET", "/edge/none", "10.0.0.2:1")),
            ),
            (
                "time limit",
                Box::new(|| request("GET", "/edge/slow", "10.0.0.2:1")),
            ),
            (
                "declared body too large",
                Box::new(|| {
                    let mut request = request("POST", "/edge/echo", "10.0.0.3:1");
                    *request.body_mut() = Body::from(vec![b'x'; MAX_BODY + 1]);
                    request.headers_mut().insert(
                        header::CONTENT_LENGTH,
                        (MAX_BODY + 1).to_string().parse().expect("length"),
                    );
                    request
                }),
            ),
            (
                "undeclared body too large",
                Box::new(|| {
                    let mut request = request("POST", "/edge/echo", "10.0.0.4:1");
                    let chunks = futures::stream::iter(
                        (0..4).map(|_| Ok::<_, std::io::Error>(vec![b'y'; MAX_BODY / 2])),
                    );
                    *request.body_mut() = Body::from_stream(chunks);
                    request
                }),
            ),
            (
                "client address",
                Box::new(|| request("GET", "/edge/addr", "10.0.0.5:1")),
            ),
        ];
        for (what, make) in &cases {
            let a = send(&fused, make()).await;
            let b = send(&separate, make()).await;
            assert_alike(what, &a, &b);
        }
        // The fourth request in a second from one address: 429 in both.
        for n in 0..4 {
            let a = send(&fused, request("GET", "/edge/ok", "10.0.0.9:1")).await;
            let b = send(&separate, request("GET", "/edge/ok", "10.0.0.9:1")).await;
            assert_alike("rate", &a, &b);
            let expected = if n < 3 {
                StatusCode::OK
            } else {
                StatusCode::TOO_MANY_REQUESTS
            };
            assert_eq!(a.0, expected, "request {n} from one address");
        }
    }

    #[tokio::test]
    async fn every_answer_has_a_request_id_nosniff_and_a_metric() {
        let (fused, _) = stacks();
        let (status, headers, body) = send(&fused, request("GET", "/edge/ok", "10.1.0.1:1")).await;
        assert_eq!((status, body.as_slice()), (StatusCode::OK, &b"ok"[..]));
        assert!(is_uuid_v7(headers.get(&observe::REQUEST_ID)), "{headers:?}");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");

        // A sane id from the client is kept; an unsafe one is replaced.
        let mut with_id = request("GET", "/edge/ok", "10.1.0.1:1");
        with_id.headers_mut().insert(
            observe::REQUEST_ID.clone(),
            "proxy-42.a:b".parse().expect("id"),
        );
        let (_, headers, _) = send(&fused, with_id).await;
        assert_eq!(headers[&observe::REQUEST_ID], "proxy-42.a:b");
        let mut bad_id = request("GET", "/edge/ok", "10.1.0.1:1");
        bad_id
            .headers_mut()
            .insert(observe::REQUEST_ID.clone(), "a b\tc".parse().expect("id"));
        let (_, headers, _) = send(&fused, bad_id).await;
        assert!(is_uuid_v7(headers.get(&observe::REQUEST_ID)), "{headers:?}");

        // HTML pages get their security headers.
        let (_, headers, _) = send(&fused, request("GET", "/edge/page", "10.1.0.2:1")).await;
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
        assert_eq!(
            headers[header::CONTENT_SECURITY_POLICY],
            "frame-ancestors 'none'"
        );

        // Metrics by route template and status.
        let metrics = observe::prometheus().render();
        assert!(
            metrics
                .lines()
                .any(|line| line.starts_with("evo_http_requests_total{")
                    && line.contains(r#"route="/edge/ok""#)
                    && line.contains(r#"status="200""#)),
            "{metrics}"
        );
    }

    #[tokio::test]
    async fn a_panic_is_a_500_with_its_request_id_and_is_counted() {
        let (fused, _) = stacks();
        let (status, headers, body) =
            send(&fused, request("GET", "/edge/panic", "10.2.0.1:1")).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(is_uuid_v7(headers.get(&observe::REQUEST_ID)), "{headers:?}");
        let body: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(
            body["responseStatus"]["errorCode"], "InternalServerError",
            "{body}"
        );
        // The server still serves afterwards.
        let (status, _, _) = send(&fused, request("GET", "/edge/ok", "10.2.0.1:1")).await;
        assert_eq!(status, StatusCode::OK);
        let metrics = observe::prometheus().render();
        assert!(
            metrics
                .lines()
                .any(|line| line.starts_with("evo_http_requests_total{")
                    && line.contains(r#"route="/edge/panic""#)
                    && line.contains(r#"status="500""#)),
            "{metrics}"
        );
    }
}
