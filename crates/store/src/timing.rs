//! Step timings of the webhook → Server Events path, as `debug` events of
//! the tracing target `evo_fanout` (off unless `RUST_LOG` names it): each
//! names the step, the session (or call) it timed and its duration in
//! microseconds. The server's steps use these functions too
//! (`evo_server::app::timing` re-exports them); inside the store they
//! split the server's `commit` and `log` steps, so `evo-voice bench
//! --fanout-steps` can report them (docs/benchmarks.md, "Commit
//! path (issue 12, session 7, `commitpath`)").

use std::time::Instant;

use crate::SessionChange;

/// The tracing target of the step timings.
pub const TARGET: &str = "evo_fanout";

/// Whether step timings are recorded (so callers skip reading clocks).
pub fn enabled() -> bool {
    tracing::enabled!(target: TARGET, tracing::Level::DEBUG)
}

/// Records that `step` of `subject` took from `since` until now.
pub fn step(subject: &str, step: &'static str, since: Instant) {
    tracing::debug!(
        target: TARGET,
        subject,
        step,
        us = since.elapsed().as_micros() as u64
    );
}

/// Records a step of a WAL checkpoint run (SQLite) started at `since`, as
/// the step `step` (`checkpoint` beside the writers, `checkpoint_flush`
/// the database file's fsync before the turn, `checkpoint_turn` in the
/// writers' turn) of the subject `wal`, with `frames`: the WAL's frames
/// checkpointed so far (the pragma's third column; it restarts with the
/// WAL).
pub fn checkpoint(step: &'static str, frames: i64, since: Instant) {
    tracing::debug!(
        target: TARGET,
        subject = "wal",
        step,
        us = since.elapsed().as_micros() as u64,
        frames
    );
}

/// [`step`] once for each session of a batch (several versions of one
/// session count once).
pub(crate) fn each(changes: &[SessionChange], name: &'static str, since: Instant) {
    let mut last: Option<&str> = None;
    for change in changes {
        let id = change.session.id().as_str();
        if last != Some(id) {
            step(id, name, since);
            last = Some(id);
        }
    }
}

/// [`step`] once for each session the messages tell of.
pub(crate) fn messages(
    messages: &[crate::events::NewEventMessage],
    name: &'static str,
    since: Instant,
) {
    let mut seen: Vec<&str> = Vec::new();
    for message in messages {
        if let Some((id, _)) = &message.session {
            if !seen.contains(&id.as_str()) {
                step(id, name, since);
                seen.push(id);
            }
        }
    }
}
