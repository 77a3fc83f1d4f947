//! Nothing stays "active" forever.
//!
//! Twilio can lose callbacks (a slow endpoint's queued callbacks expire; a
//! call cancelled while queued sends none), so a session can miss its end.
//! The reconciler looks at sessions that have been quiet for a while and
//! fetches their root call's Call resource
//! (`GET /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json`, through
//! [`evo_twilio::rest::TwilioClient::fetch_call`]).
//!
//! - A terminal `status` becomes the root leg's `CallStatus` event stamped
//!   with Twilio's `end_time` (clock Twilio), with `duration` (the reducer
//!   decides what it proves), followed by an `Ended` event whose reason
//!   names the reconciler (and `answered_by`), so the log says why.
//! - Requests use the account's primary auth token; while a rotation is
//!   under way (several tokens), a 401 tries the next one.
//! - A live status changes nothing.
//! - 404 is *unknown*, not failed (a wrong account or a deleted record):
//!   logged once per session; the session stays until the maximum age.
//! - 401/403: warned once per account, then that account is not asked again
//!   until an exponential back-off (capped) has passed.
//! - 429: that account is not asked again before `Retry-After`.
//! - 5xx and transport errors: that account is skipped for this pass and
//!   asked again next pass.
//!
//! When Twilio cannot confirm a session (no credentials, unknown call,
//! refused, unreachable), it is ended once it passes the hard maximum age.
//! Chats end after a quiet period. Every end goes through the reducer like
//! any other event.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use evo_core::api::sessions::FlowChannels;
use evo_core::domain::Secret;
use evo_core::event::{CallProgress, Clock, EventKind, EventSource, SessionEvent};
use evo_core::ids::{CallSid, SessionId, TwilioAccountSid};
use evo_core::session::Session;
use evo_twilio::rest::{CallResource, Credentials, RestError, TwilioClient};

use crate::app::config::ReconcileConfig;
use crate::app::sessions::Applied;
use crate::app::state::AppState;

/// First back-off after Twilio refused an account's credentials.
const AUTH_BACKOFF_START: Duration = Duration::from_secs(60);
/// Longest back-off after refused credentials.
const AUTH_BACKOFF_CAP: Duration = Duration::from_secs(60 * 60);
/// Back-off after a 429 without `Retry-After`.
const RATE_LIMIT_DEFAULT: Duration = Duration::from_secs(60);

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Quiet voice sessions looked at.
    pub checked: usize,
    /// Sessions ended.
    pub ended: usize,
    /// REST requests made.
    pub fetched: usize,
    /// Sessions not asked about because their account is backing off
    /// (refused credentials, rate limit) or failed earlier in this pass.
    pub deferred: usize,
    /// Calls Twilio answered 404 for.
    pub unknown: usize,
}

/// Why an account is not being asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    /// Not before this time.
    pub until: DateTime<Utc>,
    /// Consecutive refusals (401/403), for the exponential back-off.
    pub refusals: u32,
}

/// The reconciler's memory between passes: per-account back-off and the
/// unknown calls already logged. One per server.
#[derive(Debug)]
pub struct Reconciler {
    client: TwilioClient,
    backoff: Mutex<HashMap<TwilioAccountSid, Backoff>>,
    unknown_logged: Mutex<HashSet<String>>,
}

/// What Twilio said about one call.
enum Lookup {
    Call(Box<CallResource>),
    /// Not confirmed; the maximum-age rule applies.
    Unconfirmed(String),
}

impl Reconciler {
    /// A reconciler asking Twilio at `config.twilio_api_base`.
    pub fn new(config: &ReconcileConfig) -> Result<Self, RestError> {
        let client = TwilioClient::new(
            Credentials::new("", ""),
            &evo_twilio::rest::ClientConfig {
                base_url: config.twilio_api_base.clone(),
                ..evo_twilio::rest::ClientConfig::default()
            },
        )?;
        Ok(Reconciler {
            client,
            backoff: Mutex::default(),
            unknown_logged: Mutex::default(),
        })
    }

    /// The back-off of a Twilio account, if any.
    pub fn backoff(&self, twilio_account_sid: &TwilioAccountSid) -> Option<Backoff> {
        lock(&self.backoff).get(twilio_account_sid).cloned()
    }

    fn backing_off(&self, sid: &TwilioAccountSid, now: DateTime<Utc>) -> bool {
        lock(&self.backoff).get(sid).is_some_and(|b| b.until > now)
    }

    fn defer(&self, sid: &TwilioAccountSid, until: DateTime<Utc>, refused: bool) -> u32 {
        let mut all = lock(&self.backoff);
        let entry = all
            .entry(sid.clone())
            .or_insert(Backoff { until, refusals: 0 });
        if refused {
            entry.refusals += 1;
        }
        entry.until = until;
        entry.refusals
    }

    async fn fetch(
        &self,
        sid: &TwilioAccountSid,
        tokens: &[Secret],
        call_sid: &CallSid,
        now: DateTime<Utc>,
        skip: &mut HashSet<TwilioAccountSid>,
        report: &mut ReconcileReport,
    ) -> Lookup {
        // The primary first; while rotating, a 401 tries the next token.
        let mut outcome = Err(RestError::Unauthorized);
        for token in tokens {
            report.fetched += 1;
            let client = self
                .client
                .for_account(Credentials::new(sid, token.expose()));
            outcome = client.fetch_call(call_sid).await;
            if !matches!(outcome, Err(RestError::Unauthorized)) {
                break;
            }
        }
        let error = match outcome {
            Ok(call) => {
                if let Some(previous) = lock(&self.backoff).remove(sid) {
                    if previous.refusals > 0 {
                        tracing::info!(account = %sid, "Twilio accepts the credentials again");
                    }
                }
                return Lookup::Call(Box::new(call));
            }
            Err(error) => error,
        };
        match &error {
            RestError::NotFound { .. } => {
                report.unknown += 1;
                if lock(&self.unknown_logged).insert(call_sid.to_string()) {
                    tracing::info!(
                        account = %sid,
                        call = %call_sid,
                        "Twilio does not know the call (wrong account or deleted record); \
                         keeping the session until its maximum age"
                    );
                }
                return Lookup::Unconfirmed("Twilio does not know the call".to_string());
            }
            RestError::Unauthorized | RestError::Forbidden => {
                let refusals = lock(&self.backoff).get(sid).map_or(0, |b| b.refusals);
                let wait = AUTH_BACKOFF_START
                    .saturating_mul(2u32.saturating_pow(refusals.min(16)))
                    .min(AUTH_BACKOFF_CAP);
                let refusals = self.defer(sid, now + wait, true);
                if refusals == 1 {
                    tracing::warn!(
                        account = %sid,
                        %error,
                        "Twilio refused the account's credentials; not reconciling its calls \
                         until they work (check the account's auth token)"
                    );
                }
            }
            RestError::RateLimited { retry_after } => {
                let wait = retry_after.unwrap_or(RATE_LIMIT_DEFAULT);
                self.defer(sid, now + wait, false);
                tracing::info!(account = %sid, ?wait, "Twilio rate-limited the reconciler");
            }
            _ => tracing::info!(account = %sid, %error, "Twilio unavailable; retrying next pass"),
        }
        skip.insert(sid.to_string().into());
        Lookup::Unconfirmed(error.to_string())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Plain maps; a panic elsewhere leaves them usable.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs passes forever.
pub async fn run(state: AppState, config: ReconcileConfig) {
    let reconciler = match Reconciler::new(&config) {
        Ok(reconciler) => reconciler,
        Err(error) => {
            tracing::error!(%error, "the reconciler cannot start");
            return;
        }
    };
    loop {
        tokio::time::sleep(config.interval).await;
        let report = reconcile_once(&state, &config, &reconciler, Utc::now()).await;
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
    reconciler: &Reconciler,
    now: DateTime<Utc>,
) -> ReconcileReport {
    let mut report = ReconcileReport::default();
    // Accounts that failed in this pass are not asked again in it.
    let mut skip = HashSet::new();
    let stale = |since: DateTime<Utc>, limit: Duration| {
        (now - since)
            .to_std()
            .map(|quiet| quiet >= limit)
            .unwrap_or(false)
    };
    let sessions = state.sessions.index().all();
    {
        // Forget logged unknown calls whose sessions are gone.
        let live: HashSet<&str> = sessions
            .iter()
            .filter_map(|l| l.session().call_sid().map(|sid| sid.as_str()))
            .collect();
        lock(&reconciler.unknown_logged).retain(|sid| live.contains(sid.as_str()));
    }
    for live in sessions {
        let head = live.session();
        let events = if head.channel() == FlowChannels::Chat {
            if stale(head.last_activity(), config.chat_idle_after) {
                vec![ended(
                    head.id(),
                    now,
                    Clock::Server,
                    "completed",
                    "the conversation was idle",
                )]
            } else {
                Vec::new()
            }
        } else if stale(head.last_activity(), config.idle_after) {
            report.checked += 1;
            let too_old = stale(head.opened_at(), config.max_age);
            // The index keeps only the head: Twilio is asked about the
            // stored session's calls.
            let session = match state.sessions.stored(head.id()).await {
                Ok(Some(session)) if session.is_active() => session,
                Ok(_) => continue,
                Err(error) => {
                    tracing::warn!(%error, session = %head.id(), "reconciler could not read the session");
                    continue;
                }
            };
            match decide_voice(state, reconciler, &session, now, &mut skip, &mut report).await {
                Ok(Some(events)) => events,
                Ok(None) => Vec::new(),
                Err(why) if too_old => vec![ended(
                    head.id(),
                    now,
                    Clock::Server,
                    "expired",
                    &format!(
                        "the session passed its maximum age and Twilio could not confirm it ({why})"
                    ),
                )],
                Err(why) => {
                    tracing::debug!(session = %head.id(), why, "not reconciled yet");
                    Vec::new()
                }
            }
        } else {
            Vec::new()
        };
        let mut changed = false;
        for event in events {
            match state.sessions.apply(head.id(), event, Vec::new()).await {
                Ok(Applied::Changed(_)) => changed = true,
                Ok(Applied::Duplicate | Applied::UnknownSession | Applied::OtherAccount) => {}
                Err(error) => {
                    tracing::warn!(%error, session = %head.id(), "ending a stale session failed");
                    break;
                }
            }
        }
        if changed {
            report.ended += 1;
        }
    }
    report
}

fn ended(
    session_id: &SessionId,
    at: DateTime<Utc>,
    clock: Clock,
    outcome: &str,
    reason: &str,
) -> SessionEvent {
    SessionEvent {
        at,
        clock,
        source: EventSource::Internal {
            id: format!("reconcile:{session_id}"),
        },
        kind: EventKind::Ended {
            outcome: outcome.to_string(),
            reason: reason.to_string(),
        },
    }
}

/// The events that end a voice session Twilio reports over; `Ok(None)`
/// when Twilio says it is live; `Err(why)` when Twilio did not confirm.
async fn decide_voice(
    state: &AppState,
    reconciler: &Reconciler,
    session: &Session,
    now: DateTime<Utc>,
    skip: &mut HashSet<TwilioAccountSid>,
    report: &mut ReconcileReport,
) -> Result<Option<Vec<SessionEvent>>, String> {
    let account = match state.directory.account(&session.header().account_id).await {
        Ok(account) => account,
        Err(error) => {
            // A store failure decides nothing; try again next pass.
            tracing::warn!(%error, session = %session.id(), "reconciler could not read the account");
            return Ok(None);
        }
    };
    let Some(account) = account else {
        return Err("the account is gone".to_string());
    };
    let tokens = match state.directory.twilio_auth_tokens(&account).await {
        Ok(tokens) => tokens,
        Err(error) => {
            tracing::warn!(%error, session = %session.id(), "reconciler could not read the account's tokens");
            return Ok(None);
        }
    };
    let (Some(sid), false, Some(call_sid)) = (
        account.twilio_account_sid,
        tokens.is_empty(),
        &session.header().call_sid,
    ) else {
        return Err("no Twilio credentials for the account".to_string());
    };
    if skip.contains(&sid) || reconciler.backing_off(&sid, now) {
        report.deferred += 1;
        return Err("Twilio is not being asked about this account for now".to_string());
    }
    let call = match reconciler
        .fetch(&sid, &tokens, call_sid, now, skip, report)
        .await
    {
        Lookup::Call(call) => call,
        Lookup::Unconfirmed(why) => return Err(why),
    };
    let Some(status) = CallProgress::parse(call.status.as_str()) else {
        tracing::info!(status = call.status.as_str(), call = %call_sid, "unknown Twilio call status");
        return Ok(None);
    };
    if !status.is_terminal() {
        return Ok(None);
    }
    let (at, clock) = match call.end_time() {
        Some(end) => (end, Clock::Twilio),
        None => (now, Clock::Server),
    };
    let duration = call
        .duration_seconds()
        .map(|d| u32::try_from(d).unwrap_or(u32::MAX));
    let mut reason = format!(
        "Twilio's Call resource reports the call {}",
        status.as_str()
    );
    if let Some(seconds) = duration {
        reason.push_str(&format!(" after {seconds} s"));
    }
    if let Some(by) = &call.answered_by {
        reason.push_str(&format!(", answered by {}", by.as_str()));
    }
    let leg = SessionEvent {
        at,
        clock,
        source: EventSource::Internal {
            id: format!("reconcile:{call_sid}:status"),
        },
        kind: EventKind::CallStatus {
            call_sid: call_sid.clone(),
            status,
            party: None,
            duration,
            sip_response_code: None,
        },
    };
    Ok(Some(vec![
        leg,
        ended(session.id(), at, clock, status.as_str(), &reason),
    ]))
}
