//! Request limits, as one middleware around the whole router: the client
//! address (for sign-in throttling), per-address request rate, request body
//! size, concurrency and time. Every refusal is a ServiceStack
//! `ResponseStatus` (rendered by `ApiError`), with `Retry-After` where
//! waiting helps. Server events streams (`/event-stream`) are long-lived by
//! design and so exempt from the concurrency and time limits (the event hub
//! bounds them).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::app::config::Limits;
use crate::auth::throttle::CLIENT_ADDR;
use crate::http::error::ApiError;

/// The shared state of the limits.
#[derive(Clone)]
pub struct RequestLimits(Arc<Inner>);

struct Inner {
    limits: Limits,
    max_body_bytes: usize,
    in_flight: Arc<InFlight>,
    rates: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

/// Addresses tracked by the rate limiter before stale ones are dropped.
const MAX_TRACKED_ADDRESSES: usize = 100_000;

impl RequestLimits {
    pub fn new(limits: &Limits, max_body_bytes: usize) -> Self {
        RequestLimits(Arc::new(Inner {
            in_flight: Arc::new(InFlight {
                count: AtomicUsize::new(0),
                max: limits.max_concurrent_requests.max(1),
            }),
            limits: limits.clone(),
            max_body_bytes,
            rates: Mutex::new(HashMap::new()),
        }))
    }

    /// Counts a request from `addr` in the current one-second window, or
    /// says it is one too many.
    fn over_rate(&self, addr: IpAddr) -> bool {
        let limit = self.0.limits.rate_limit_per_address;
        if limit == 0 {
            return false;
        }
        let now = Instant::now();
        let mut rates = self.0.rates.lock().unwrap_or_else(|e| e.into_inner());
        if rates.len() >= MAX_TRACKED_ADDRESSES {
            rates.retain(|_, (start, _)| now.duration_since(*start) < Duration::from_secs(1));
            if rates.len() >= MAX_TRACKED_ADDRESSES {
                rates.clear();
            }
        }
        let (start, count) = rates.entry(addr).or_insert((now, 0));
        if now.duration_since(*start) >= Duration::from_secs(1) {
            *start = now;
            *count = 0;
        }
        *count += 1;
        *count > limit
    }
}

/// The requests running now, against the concurrency limit. A counter
/// rather than tokio's `Semaphore`, whose permit, for a request that never
/// waits for one, wrote four shared cache lines per request (the
/// semaphore's count, its waiters' lock twice, and its `Arc`'s count):
/// here a permit is one add and one subtract on one line, plus the `Arc`'s
/// count beside it (docs/benchmarks.md, "Read path CPU, again (issue 12,
/// session 10, `readcpu`)"). Nothing ever waits for a permit: a request
/// over the limit is refused at once, as before.
struct InFlight {
    count: AtomicUsize,
    max: usize,
}

/// A running request's place under the concurrency limit, given back
/// when dropped.
pub struct Permit(Arc<InFlight>);

impl Permit {
    fn try_acquire(in_flight: &Arc<InFlight>) -> Option<Permit> {
        // Checked and counted in one step: never more than `max` at once,
        // and no request refused while fewer run.
        in_flight
            .count
            .fetch_update(Ordering::Acquire, Ordering::Relaxed, |count| {
                (count < in_flight.max).then_some(count + 1)
            })
            .ok()?;
        Some(Permit(in_flight.clone()))
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.count.fetch_sub(1, Ordering::Release);
    }
}

/// What the limits decide for a request before it runs (the fused layer,
/// `http::edge`; [`enforce`] is the same as a separate middleware).
pub enum Admission {
    /// Answered at once: too many requests from the address, or too many
    /// at once.
    Refused(Response),
    /// A declared body over the limit: read and drop it, then 413
    /// ([`RequestLimits::drain_too_large`]).
    TooLarge(Body),
    /// Runs, holding `permit`, within `timeout` (neither for the
    /// long-lived `/event-stream`).
    Admitted {
        request: Request,
        permit: Option<Permit>,
        timeout: Option<Duration>,
    },
}

impl RequestLimits {
    /// The checks [`enforce`] makes before running the request, in the
    /// same order and with the same answers.
    pub fn admit(&self, addr: Option<IpAddr>, request: Request) -> Admission {
        if addr.is_some_and(|addr| self.over_rate(addr)) {
            return Admission::Refused(
                ApiError::too_many_requests("Too many requests from this address", 1)
                    .into_response(),
            );
        }
        let max = self.0.max_body_bytes;
        if declared_length(&request).is_some_and(|length| length > max as u64) {
            return Admission::TooLarge(request.into_body());
        }
        let request = limit_body(request, max);
        if request.uri().path() == "/event-stream" {
            return Admission::Admitted {
                request,
                permit: None,
                timeout: None,
            };
        }
        match Permit::try_acquire(&self.0.in_flight) {
            Some(permit) => Admission::Admitted {
                request,
                permit: Some(permit),
                timeout: Some(self.0.limits.request_timeout),
            },
            None => Admission::Refused(busy().into_response()),
        }
    }

    /// Reads and drops up to the limit of an oversized body (bounded in
    /// bytes and time), then answers 413: a client still writing gets the
    /// 413 rather than a reset connection.
    pub async fn drain_too_large(&self, body: Body) -> Response {
        let max = self.0.max_body_bytes;
        let timeout = self.0.limits.request_timeout;
        let _ = tokio::time::timeout(timeout, axum::body::to_bytes(body, max)).await;
        too_large(max).into_response()
    }
}

fn declared_length(request: &Request) -> Option<u64> {
    request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// A body without (or lying about) Content-Length fails once it passes the
/// limit, on every route, whoever reads it. A request with no body (most
/// GETs) needs no wrapper (one allocation fewer per request).
fn limit_body(request: Request, max: usize) -> Request {
    if axum::body::HttpBody::is_end_stream(request.body()) {
        request
    } else {
        request.map(|body| Body::new(http_body_util::Limited::new(body, max)))
    }
}

fn busy() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "ServiceUnavailable",
        "The server is busy; try again shortly",
    )
    .with_retry_after(1)
}

/// The answer when a request ran out of time.
pub fn timed_out() -> ApiError {
    // 503, not 408: RFC 9110 §15.5.9 keeps 408 for a client that did not
    // finish sending its request; here the server ran out of time.
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "RequestTimeout",
        "The request took too long",
    )
    .with_retry_after(1)
}

/// The middleware (`axum::middleware::from_fn_with_state`).
pub async fn enforce(
    State(limits): State<RequestLimits>,
    request: Request,
    next: Next,
) -> Response {
    let addr = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    if let Some(addr) = addr {
        if limits.over_rate(addr) {
            return ApiError::too_many_requests("Too many requests from this address", 1)
                .into_response();
        }
    }
    let max = limits.0.max_body_bytes;
    if declared_length(&request).is_some_and(|length| length > max as u64) {
        return limits.drain_too_large(request.into_body()).await;
    }
    let request = limit_body(request, max);

    let streaming = request.uri().path() == "/event-stream";
    let run = async move {
        if streaming {
            return next.run(request).await;
        }
        let Some(_permit) = Permit::try_acquire(&limits.0.in_flight) else {
            return busy().into_response();
        };
        match tokio::time::timeout(limits.0.limits.request_timeout, next.run(request)).await {
            Ok(response) => response,
            Err(_) => timed_out().into_response(),
        }
    };
    match addr {
        Some(addr) => CLIENT_ADDR.scope(addr, run).await,
        None => run.await,
    }
}

/// 413 as the dispatcher answers an oversized body.
fn too_large(max: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "RequestEntityTooLarge",
        format!("The request body exceeds {max} bytes"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_the_limit_runs_at_once_and_a_finished_request_frees_its_place() {
        let in_flight = Arc::new(InFlight {
            count: AtomicUsize::new(0),
            max: 2,
        });
        let first = Permit::try_acquire(&in_flight).expect("first");
        let second = Permit::try_acquire(&in_flight).expect("second");
        assert!(Permit::try_acquire(&in_flight).is_none(), "over the limit");
        assert_eq!(
            in_flight.count.load(Ordering::Relaxed),
            2,
            "a refusal counts nothing"
        );
        drop(first);
        let third = Permit::try_acquire(&in_flight).expect("a place was freed");
        drop((second, third));
        assert_eq!(in_flight.count.load(Ordering::Relaxed), 0);
    }
}
