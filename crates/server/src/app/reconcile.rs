//! Nothing stays "active" forever.
//!
//! Twilio can lose callbacks (a slow endpoint's queued callbacks expire; a
//! call cancelled while queued sends none), so a session can miss its end.
//! The reconciler looks at sessions that have been quiet for a while and
//! asks Twilio's REST API about their root call
//! (`GET /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json`). When
//! Twilio says the call is over, the session is ended with that outcome and
//! a log entry. When Twilio cannot be asked (no credentials, unreachable)
//! a session is ended once it passes a hard maximum age. Chats end after a
//! quiet period. Every end goes through the reducer like any other event.

use std::time::Duration;

use chrono::{DateTime, Utc};
use evo_core::api::sessions::FlowChannels;
use evo_core::event::{EventKind, EventSource, SessionEvent};
use evo_core::session::Session;
use serde::Deserialize;

use crate::app::config::ReconcileConfig;
use crate::app::state::AppState;

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReconcileReport {
    pub checked: usize,
    pub ended: usize,
}

/// Twilio's view of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallLookup {
    /// Twilio answered with this status (`in-progress`, `completed`, …).
    Status(String),
    /// Twilio does not know the call.
    NotFound,
    /// Twilio could not be asked.
    Unavailable(String),
}

#[derive(Deserialize)]
struct CallResource {
    status: String,
}

/// Asks Twilio for a call's status.
pub async fn lookup_call(
    http: &reqwest::Client,
    base: &str,
    account_sid: &str,
    auth_token: &str,
    call_sid: &str,
) -> CallLookup {
    let url = format!(
        "{}/2010-04-01/Accounts/{account_sid}/Calls/{call_sid}.json",
        base.trim_end_matches('/')
    );
    let response = match http
        .get(&url)
        .basic_auth(account_sid, Some(auth_token))
        .timeout(Duration::from_secs(10))
        .send()
        .await
    {
        Ok(response) => response,
        Err(error) => return CallLookup::Unavailable(error.to_string()),
    };
    match response.status().as_u16() {
        200 => match response.json::<CallResource>().await {
            Ok(call) => CallLookup::Status(call.status),
            Err(error) => CallLookup::Unavailable(format!("unreadable call resource: {error}")),
        },
        404 => CallLookup::NotFound,
        other => CallLookup::Unavailable(format!("Twilio answered {other}")),
    }
}

const TERMINAL: &[&str] = &["completed", "busy", "failed", "no-answer", "canceled"];

/// Runs passes forever.
pub async fn run(state: AppState, config: ReconcileConfig) {
    let http = reqwest::Client::new();
    loop {
        tokio::time::sleep(config.interval).await;
        let report = reconcile_once(&state, &config, &http, Utc::now()).await;
        metrics::counter!("evo_reconciler_runs_total").increment(1);
        metrics::counter!("evo_reconciler_checked_total").increment(report.checked as u64);
        metrics::counter!("evo_reconciler_ended_total").increment(report.ended as u64);
        if report.ended > 0 {
            tracing::info!(
                checked = report.checked,
                ended = report.ended,
                "reconciled stale sessions"
            );
        }
    }
}

/// One pass over the active sessions, as of `now`.
pub async fn reconcile_once(
    state: &AppState,
    config: &ReconcileConfig,
    http: &reqwest::Client,
    now: DateTime<Utc>,
) -> ReconcileReport {
    let mut report = ReconcileReport::default();
    let stale = |since: DateTime<Utc>, limit: Duration| {
        (now - since)
            .to_std()
            .map(|quiet| quiet >= limit)
            .unwrap_or(false)
    };
    for live in state.sessions.index().all() {
        let session = live.session();
        let decision = if session.header.channel == FlowChannels::Chat {
            stale(session.last_activity(), config.chat_idle_after).then(|| {
                (
                    "completed".to_string(),
                    "the conversation was idle".to_string(),
                )
            })
        } else if stale(session.last_activity(), config.idle_after) {
            report.checked += 1;
            decide_voice(
                state,
                config,
                http,
                session,
                stale(session.opened_at, config.max_age),
            )
            .await
        } else {
            None
        };
        if let Some((outcome, reason)) = decision {
            let event = SessionEvent {
                at: now,
                clock: evo_core::event::Clock::Server,
                source: EventSource::Internal {
                    id: format!("reconcile:{}", session.id),
                },
                kind: EventKind::Ended { outcome, reason },
            };
            match state.sessions.apply(&session.id, event, Vec::new()).await {
                Ok(_) => report.ended += 1,
                Err(error) => {
                    tracing::warn!(%error, session = %session.id, "ending a stale session failed")
                }
            }
        }
    }
    report
}

async fn decide_voice(
    state: &AppState,
    config: &ReconcileConfig,
    http: &reqwest::Client,
    session: &Session,
    too_old: bool,
) -> Option<(String, String)> {
    let account = state
        .directory
        .account(&session.header.account_id)
        .await
        .ok()
        .flatten();
    let credentials = account.and_then(|a| Some((a.twilio_account_sid?, a.twilio_auth_token?)));
    let lookup = match (&credentials, &session.header.call_sid) {
        (Some((sid, token)), Some(call_sid)) => {
            lookup_call(http, &config.twilio_api_base, sid, token.expose(), call_sid).await
        }
        _ => CallLookup::Unavailable("no Twilio credentials for the account".to_string()),
    };
    match lookup {
        CallLookup::Status(status) if TERMINAL.contains(&status.as_str()) => {
            Some((status.clone(), format!("Twilio reports the call {status}")))
        }
        CallLookup::Status(_) => None,
        CallLookup::NotFound => Some((
            "failed".to_string(),
            "Twilio does not know the call".to_string(),
        )),
        CallLookup::Unavailable(why) if too_old => Some((
            "expired".to_string(),
            format!("the session passed its maximum age and Twilio could not confirm it ({why})"),
        )),
        CallLookup::Unavailable(why) => {
            tracing::debug!(session = %session.id, why, "could not reconcile with Twilio yet");
            None
        }
    }
}
