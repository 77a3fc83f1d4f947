//! The per-request middleware of every route, fused into one tower layer.
//!
//! It does, in this order (outermost first), exactly what the six separate
//! layers did (request id, `TraceLayer`, request metrics, `CatchPanicLayer`,
//! `nosniff`/HTML headers, limits; [`super::router_separate`] still builds
//! that stack, to measure against): one service call, one boxed future and
//! no inner service clone per request, where the separate stack built a
//! boxed future, a boxed `Next` and a clone of the service below for each
//! `from_fn` layer (docs/benchmarks.md, "Fused edge layer").
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
use axum::http::{header, Method};
use axum::response::{IntoResponse, Response};
use futures::FutureExt;
use tower::{Layer, Service};
use tower_http::classify::{ClassifiedResponse, ClassifyResponse, ServerErrorsAsFailures};
use tower_http::trace::{
    DefaultOnFailure, DefaultOnRequest, DefaultOnResponse, OnFailure, OnRequest, OnResponse,
};
use tracing::Instrument;

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

type BoxFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

/// What the limits decided, and the route's future when they let it run.
enum Stage<F> {
    Answer(Response),
    Run(F),
    Panicked(Box<dyn std::any::Any + Send + 'static>),
}

impl<S> Service<Request> for Edge<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> BoxFuture {
        // Request id (outermost): the client's when sane, else a new one.
        let id = match request.headers().get(&observe::REQUEST_ID) {
            Some(id) if observe::acceptable(id) => id.clone(),
            _ => observe::new_request_id(),
        };
        request
            .headers_mut()
            .insert(observe::REQUEST_ID.clone(), id.clone());

        // Trace: the span (none when INFO is off) and `tower_http`'s event.
        let trace_started = Instant::now();
        let span = observe::span(&request);
        // Kept for the response body only when there is a span.
        let body_span = (!span.is_none()).then(|| span.clone());
        let _entered = span.enter();
        DefaultOnRequest::new().on_request(&request, &span);

        // Metrics: what the labels need, read before the request moves on.
        let metrics_started = Instant::now();
        let method = request.method().clone();
        let path = (method == Method::POST).then(|| request.uri().path().to_string());
        let route = observe::route_label(request.extensions().get::<MatchedPath>());

        // Panic catching around the HTML headers, the limits and the route:
        // a panic in the route's `call` as well as in its future.
        let addr = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip());
        let limits = self.limits.clone();
        let inner = &mut self.inner;
        let stage = match limits.admit(addr, request) {
            Admission::Refused(response) => Stage::Answer(response),
            Admission::TooLarge(body) => {
                let limits = limits.clone();
                Stage::Run(Either::Drain(Box::pin(async move {
                    limits.drain_too_large(body).await
                })))
            }
            Admission::Admitted {
                request,
                permit,
                timeout,
            } => {
                let called = std::panic::catch_unwind(AssertUnwindSafe(|| match addr {
                    Some(addr) => CLIENT_ADDR.sync_scope(addr, || inner.call(request)),
                    None => inner.call(request),
                }));
                match called {
                    Ok(future) => Stage::Run(Either::Route {
                        future,
                        permit,
                        timeout,
                        addr,
                    }),
                    Err(panic) => Stage::Panicked(panic),
                }
            }
        };
        drop(_entered);

        let future = async move {
            let response = match stage {
                Stage::Answer(response) => with_html_headers(response),
                Stage::Panicked(panic) => crate::http::panic_response(panic),
                Stage::Run(run) => match AssertUnwindSafe(run.finish()).catch_unwind().await {
                    Ok(response) => with_html_headers(response),
                    Err(panic) => crate::http::panic_response(panic),
                },
            };
            observe::record_request(metrics_started, method, path, route, &response);

            let latency = trace_started.elapsed();
            let span = tracing::Span::current();
            DefaultOnResponse::new().on_response(&response, latency, &span);
            if let ClassifiedResponse::Ready(Err(failure)) =
                ServerErrorsAsFailures::new().classify_response(&response)
            {
                DefaultOnFailure::new().on_failure(failure, latency, &span);
            }
            let mut response = match body_span {
                // The body is polled inside the request's span, as
                // `TraceLayer`'s response body was.
                Some(span) => response.map(|body| Body::new(SpanBody { inner: body, span })),
                None => response,
            };
            response
                .headers_mut()
                .insert(observe::REQUEST_ID.clone(), id);
            Ok(response)
        };
        Box::pin(future.instrument(span))
    }
}

/// The two ways an admitted request runs.
enum Either<F> {
    /// Read and drop an oversized body, then 413.
    Drain(Pin<Box<dyn Future<Output = Response> + Send>>),
    /// The route, under the concurrency permit, the time limit and the
    /// client address.
    Route {
        future: F,
        permit: Option<tokio::sync::OwnedSemaphorePermit>,
        timeout: Option<std::time::Duration>,
        addr: Option<std::net::IpAddr>,
    },
}

impl<F> Either<F>
where
    F: Future<Output = Result<Response, Infallible>> + Send,
{
    async fn finish(self) -> Response {
        match self {
            Either::Drain(drain) => drain.await,
            Either::Route {
                future,
                permit,
                timeout,
                addr,
            } => {
                let run = async move {
                    let _permit = permit;
                    let future = future.map(|result| match result {
                        Ok(response) => response,
                        Err(never) => match never {},
                    });
                    match timeout {
                        None => future.await,
                        Some(limit) => match tokio::time::timeout(limit, future).await {
                            Ok(response) => response,
                            Err(_) => crate::http::limits::timed_out().into_response(),
                        },
                    }
                };
                match addr {
                    Some(addr) => CLIENT_ADDR.scope(addr, run).await,
                    None => run.await,
                }
            }
        }
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
