//! Step timings of the webhook → Server Events path, as `debug` events of
//! the target `evo_fanout` (off unless `RUST_LOG` names it): each names
//! the step, the session (or call) it timed and its duration in
//! microseconds. `scripts/fanout-steps.py` turns a server log into a
//! per-step p50/p99 table (docs/benchmarks.md, "Server Events fan-out").

use std::time::Instant;

/// The tracing target of the step timings.
pub const TARGET: &str = "evo_fanout";

/// Whether step timings are recorded (so callers skip reading clocks).
pub fn enabled() -> bool {
    tracing::enabled!(target: TARGET, tracing::Level::DEBUG)
}

/// Records that `step` of `subject` (a session id or a call SID) took
/// from `since` until now.
pub fn step(subject: &str, step: &'static str, since: Instant) {
    tracing::debug!(
        target: TARGET,
        subject,
        step,
        us = since.elapsed().as_micros() as u64
    );
}
