//! How a node learns other nodes' commits (several nodes sharing
//! PostgreSQL): the change feed (`LISTEN`; each commit notifies its
//! sessions' ids and versions), read at once into the live index and so to
//! Server Events subscribers. After the listener (re)connects, and whenever
//! a notification could not be acted on, a catch-up read takes everything
//! written since the node was last known in sync (with an overlap, as a
//! commit is stamped before it is durable). Polling
//! (`Store::sessions_written_since` every `poll`) is only the fallback:
//! where the store has no feed (SQLite shared by processes) or while the
//! listener is down.

use std::time::Duration;

use chrono::{DateTime, Utc};
use evo_store::feed::Heard;

use crate::app::state::AppState;

/// How far back a catch-up read reaches before the last moment the node
/// was in sync: a commit stamps `written_at` before it is durable.
const OVERLAP_SECS: i64 = 10;

/// How long a quiet listener waits before checking its connection.
const KEEPALIVE: Duration = Duration::from_secs(30);

/// How long that check may take before the connection is given up.
const PING_TIMEOUT: Duration = Duration::from_secs(5);

/// Pause between attempts to reach the database again.
const RETRY: Duration = Duration::from_millis(250);

fn overlap() -> chrono::Duration {
    chrono::Duration::seconds(OVERLAP_SECS)
}

/// Reads what was written since `since`; on success moves `since` on.
async fn catch_up(state: &AppState, since: &mut DateTime<Utc>) -> bool {
    let started = Utc::now();
    match state.sessions.refresh_from_store(*since).await {
        Ok(changed) => {
            if changed > 0 {
                tracing::info!(changed, "live index caught up with the store");
            }
            *since = started - overlap();
            true
        }
        Err(error) => {
            tracing::warn!(%error, "catching up with the store failed");
            false
        }
    }
}

/// Runs until aborted. `poll`: the fallback polling interval (`None`: no
/// polling where there is no feed).
pub async fn run(state: AppState, poll: Option<Duration>) {
    let mut since = Utc::now() - overlap();
    let fallback = poll.unwrap_or(Duration::from_secs(1));
    let mut down_logged = false;
    let mut last_poll = tokio::time::Instant::now();
    loop {
        match state.sessions.change_listener().await {
            Ok(Some(mut listener)) => {
                if std::mem::take(&mut down_logged) {
                    tracing::info!("change feed listening again");
                }
                // Listening already, so nothing committed from now on is
                // missed; the read covers what came before.
                let mut in_sync = catch_up(&state, &mut since).await;
                loop {
                    // Out of sync, retry the catch-up every `fallback`; in
                    // sync and quiet, check the connection now and then.
                    let wait = if in_sync { KEEPALIVE } else { fallback };
                    let heard = tokio::time::timeout(wait, listener.recv()).await;
                    match heard {
                        Ok(Ok(Heard::Changed(notices))) => {
                            let heard_at = Utc::now();
                            match state.sessions.refresh_changed(&notices).await {
                                Ok(_) if in_sync => since = heard_at - overlap(),
                                Ok(_) => {}
                                Err(error) => {
                                    tracing::warn!(%error, "reading notified sessions failed");
                                    in_sync = false;
                                }
                            }
                            if !in_sync {
                                in_sync = catch_up(&state, &mut since).await;
                            }
                        }
                        Ok(Ok(Heard::Lost)) => {
                            tracing::warn!("change feed connection lost; reconnecting");
                            down_logged = true;
                            break;
                        }
                        Ok(Err(error)) => {
                            tracing::warn!(%error, "change feed failed; reconnecting");
                            down_logged = true;
                            break;
                        }
                        Err(_) if in_sync => {
                            let ping = tokio::time::timeout(PING_TIMEOUT, listener.ping());
                            if !matches!(ping.await, Ok(Ok(()))) {
                                tracing::warn!("change feed connection silent; reconnecting");
                                down_logged = true;
                                break;
                            }
                        }
                        Err(_) => in_sync = catch_up(&state, &mut since).await,
                    }
                }
            }
            Ok(None) => {
                // No feed (SQLite): poll, if asked to.
                let Some(interval) = poll else { return };
                loop {
                    tokio::time::sleep(interval).await;
                    catch_up(&state, &mut since).await;
                }
            }
            Err(error) => {
                if !down_logged {
                    tracing::warn!(%error, "change feed unavailable; polling until it is back");
                    down_logged = true;
                }
                if last_poll.elapsed() >= fallback {
                    last_poll = tokio::time::Instant::now();
                    catch_up(&state, &mut since).await;
                }
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}
