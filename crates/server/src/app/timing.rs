//! Step timings of the webhook → Server Events path, as `debug` events of
//! the target `evo_fanout` (off unless `RUST_LOG` names it): each names
//! the step, the session (or call) it timed and its duration in
//! microseconds. `evo-voice bench --fanout-steps` turns them into a
//! per-step p50/p99 table (docs/benchmarks.md, "Server Events fan-out").

// Defined once in the store (the lowest crate that times steps), so the
// server's steps and the store's share one target and one record shape.
pub use evo_store::timing::{enabled, step, TARGET};
