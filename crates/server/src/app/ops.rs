//! Operations: readiness and retention of ended sessions (the shutdown
//! signal is `app::shutdown`). Metrics go through the `metrics` facade;
//! the HTTP layer owns the exporter.

use std::time::Duration;

use crate::app::state::AppState;
use chrono::Utc;

/// How long the readiness check waits for the store.
pub const READY_TIMEOUT: Duration = Duration::from_secs(2);
/// Sessions deleted per retention transaction: small, so a batch holds the
/// write lock briefly and webhooks are never stalled behind it.
pub const RETENTION_BATCH: u32 = 500;
/// Pause between retention batches (the group committer gets the writer).
pub const RETENTION_PAUSE: Duration = Duration::from_millis(200);
/// How often retention looks for old ended sessions.
pub const RETENTION_INTERVAL: Duration = Duration::from_secs(10 * 60);

/// Why the server is not ready.
#[derive(Debug, thiserror::Error)]
pub enum NotReady {
    #[error("the server is shutting down")]
    ShuttingDown,
    #[error("the store did not answer within {0:?}")]
    StoreTimeout(Duration),
    #[error("the store is not ready: {0}")]
    Store(String),
}

/// Ready: not shutting down, the store answers a cheap query within
/// [`READY_TIMEOUT`] and has every migration. (The live index exists once
/// `AppState` does: it is built before the state.)
pub async fn ready(state: &AppState) -> Result<(), NotReady> {
    if state.shutdown.is_triggered() {
        return Err(NotReady::ShuttingDown);
    }
    match tokio::time::timeout(READY_TIMEOUT, state.sessions.check_store_ready()).await {
        Err(_) => Err(NotReady::StoreTimeout(READY_TIMEOUT)),
        Ok(Err(error)) => Err(NotReady::Store(error.to_string())),
        Ok(Ok(())) => Ok(()),
    }
}

/// Deletes ended sessions older than `retain` in batches of
/// [`RETENTION_BATCH`], pausing between batches; returns how many went.
pub async fn prune_once(state: &AppState, retain: Duration) -> anyhow::Result<u64> {
    let before = Utc::now() - chrono::Duration::from_std(retain)?;
    let mut total = 0;
    loop {
        let pruned = state.sessions.prune_ended(before, RETENTION_BATCH).await?;
        total += pruned;
        metrics::counter!("evo_retention_pruned_sessions_total").increment(pruned);
        if pruned < u64::from(RETENTION_BATCH) || state.shutdown.is_triggered() {
            return Ok(total);
        }
        tokio::time::sleep(RETENTION_PAUSE).await;
    }
}

/// Runs retention every [`RETENTION_INTERVAL`] until shutdown.
pub async fn run_retention(state: AppState, retain: Duration) {
    loop {
        match prune_once(&state, retain).await {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(pruned, "pruned old ended sessions"),
            Err(error) => tracing::warn!(%error, "pruning old ended sessions failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(RETENTION_INTERVAL) => {}
            () = state.shutdown.wait() => return,
        }
    }
}

/// Removes parked callbacks older than
/// [`defaults::PARKED_CALLBACK_TTL_SECS`](crate::app::config::defaults::PARKED_CALLBACK_TTL_SECS)
/// every sweep interval until shutdown, so callbacks for calls that never
/// open do not accumulate.
pub async fn run_parked_expiry(state: AppState) {
    use crate::app::config::defaults::{PARKED_CALLBACK_SWEEP_SECS, PARKED_CALLBACK_TTL_SECS};
    let ttl = chrono::Duration::seconds(PARKED_CALLBACK_TTL_SECS as i64);
    loop {
        match state.sessions.expire_parked(Utc::now() - ttl).await {
            Ok(0) => {}
            Ok(expired) => {
                metrics::counter!("evo_parked_callbacks_expired_total").increment(expired);
                tracing::info!(expired, "expired parked callbacks that no session claimed");
            }
            Err(error) => tracing::warn!(%error, "expiring parked callbacks failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(PARKED_CALLBACK_SWEEP_SECS)) => {}
            () = state.shutdown.wait() => return,
        }
    }
}
