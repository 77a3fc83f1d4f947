//! The per-request middleware as separate layers: what `edge::EdgeLayer`
//! fuses, kept only to measure each layer's cost
//! (`examples/readload.rs`, `READLOAD_LAYERS=1`) and to test that the
//! fused layer answers alike (`edge::tests`). `serve` never runs it.

use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::http::{limits, observe};

/// The middleware around every route (innermost first), as separate
/// layers. `serve` runs them fused into one (`edge::EdgeLayer`, same
/// behaviour); `http::router_with` builds the separate stack, each layer of
/// which can be left out, to measure what it costs
/// (`examples/readload.rs`, docs/benchmarks.md "Read path").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// `limits::enforce`: rate, body size, concurrency, time, client address.
    Limits,
    /// `observe::html_headers`: `nosniff` and the HTML pages' headers.
    HtmlHeaders,
    /// A panic becomes a 500.
    CatchPanic,
    /// `observe::record`: request metrics.
    Metrics,
    /// The request's tracing span (`TraceLayer`).
    Trace,
    /// `observe::request_id`: `X-Request-Id`.
    RequestId,
    /// CORS (only when origins are configured).
    Cors,
}

impl Layer {
    /// Every layer, innermost first.
    pub const ALL: [Layer; 7] = [
        Layer::Limits,
        Layer::HtmlHeaders,
        Layer::CatchPanic,
        Layer::Metrics,
        Layer::Trace,
        Layer::RequestId,
        Layer::Cors,
    ];
}

/// `router` with the middleware as separate layers (all but CORS), without
/// those in `omit`: what `edge::EdgeLayer` fuses, kept to measure it
/// against and to test that both answer alike.
pub fn layered_separately(router: Router, limits: limits::RequestLimits, omit: &[Layer]) -> Router {
    let keep = |layer: Layer| !omit.contains(&layer);
    let mut router = router;
    if keep(Layer::Limits) {
        router = router.layer(axum::middleware::from_fn_with_state(
            limits,
            limits::enforce,
        ));
    }
    if keep(Layer::HtmlHeaders) {
        router = router.layer(axum::middleware::from_fn(observe::html_headers));
    }
    if keep(Layer::CatchPanic) {
        router = router.layer(CatchPanicLayer::custom(observe::panic_response));
    }
    if keep(Layer::Metrics) {
        router = router.layer(axum::middleware::from_fn(observe::record));
    }
    if keep(Layer::Trace) {
        router = router.layer(TraceLayer::new_for_http().make_span_with(observe::span));
    }
    if keep(Layer::RequestId) {
        router = router.layer(axum::middleware::from_fn(observe::request_id));
    }
    router
}
