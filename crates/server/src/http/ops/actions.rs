//! Agent actions (HoldSession, PatchSession, EndSession, RedirectSession,
//! AddConferenceMember): bind the DTO, call `crate::app::actions::Actions`,
//! answer the session as it now is.

use std::sync::Arc;

use axum::http::StatusCode;
use evo_core::api::actions::{
    AddConferenceMember, EndSession, HoldSession, PatchSession, RedirectSession,
};
use evo_core::api::sessions::SessionHoldReasons;
use evo_core::ids::{CallSid, SessionId};

use crate::app::actions::{ActionError, Actor};
use crate::app::live::LiveSession;
use crate::http::call::{Call, Reply, ReplyBody};
use crate::http::common::base_url;
use crate::http::error::ApiError;

impl From<ActionError> for ApiError {
    fn from(error: ActionError) -> Self {
        let message = error.to_string();
        let twilio = error.twilio_code();
        match error {
            ActionError::NotFound(_) => ApiError::not_found(message),
            ActionError::Ended(_) => ApiError::new(StatusCode::CONFLICT, "Conflict", message),
            ActionError::Invalid { field, message } => {
                ApiError::validation(field, "Invalid", message)
            }
            ActionError::NoTwilioAccount => {
                ApiError::new(StatusCode::CONFLICT, "NoTwilioAccount", message)
            }
            ActionError::Twilio(_) | ActionError::Partial { .. } => {
                tracing::warn!(%message, "a Twilio request for an agent action failed");
                let (code, text) = twilio.unwrap_or_default();
                let code = code.map_or_else(|| "TwilioUnavailable".to_string(), |c| c.to_string());
                ApiError::new(StatusCode::BAD_GATEWAY, &code, text)
            }
            ActionError::Storage(cause) => ApiError::from(cause),
        }
    }
}

fn session_id(id: &Option<String>) -> Result<SessionId, ApiError> {
    id.as_deref()
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(SessionId::new)
        .ok_or_else(|| ApiError::validation("SessionId", "NotEmpty", "SessionId is required"))
}

/// The session as JSON (rendered once by the index) or as the DTO.
fn session_reply(live: Arc<LiveSession>) -> Reply {
    let json = live.json().clone();
    Reply {
        status: StatusCode::OK,
        body: ReplyBody::Prerendered {
            json,
            value: Some(live),
        },
        headers: Vec::new(),
    }
}

fn actor<'a>(call: &'a Call, base: &'a str) -> Result<Actor<'a>, ApiError> {
    Ok(Actor {
        principal: call.principal()?,
        base_url: base,
    })
}

/// HoldSession: holds the caller (or `CallSid`).
pub async fn hold_session(call: Call) -> Result<Reply, ApiError> {
    let request: HoldSession = call.dto()?;
    let id = session_id(&request.session_id)?;
    let base = base_url(&call.state, &call.headers);
    let actor = actor(&call, base.trim_end_matches('/'))?;
    let live = call
        .state
        .actions
        .hold(
            &actor,
            &id,
            request.call_sid.as_deref().map(CallSid::new).as_ref(),
            request.reason,
        )
        .await?;
    Ok(session_reply(live))
}

/// PatchSession: `HoldReason = None` unholds, another reason holds;
/// `ConsoleData` is stored. Call and queue states are Twilio's to report.
pub async fn patch_session(call: Call) -> Result<Reply, ApiError> {
    let request: PatchSession = call.dto()?;
    let id = session_id(&request.session_id)?;
    if request.call_state.is_some() || request.queue_state.is_some() {
        let field = if request.call_state.is_some() {
            "CallState"
        } else {
            "QueueState"
        };
        return Err(ApiError::validation(
            field,
            "NotSupported",
            format!("{field} follows what Twilio reports; hold with HoldReason instead"),
        ));
    }
    let base = base_url(&call.state, &call.headers);
    let actor = actor(&call, base.trim_end_matches('/'))?;
    let actions = &call.state.actions;
    let mut live = None;
    if let Some(data) = &request.console_data {
        live = Some(actions.console_data(&actor, &id, data).await?);
    }
    match request.hold_reason {
        Some(SessionHoldReasons::None) => live = Some(actions.unhold(&actor, &id).await?),
        Some(reason) => live = Some(actions.hold(&actor, &id, None, reason).await?),
        None => {}
    }
    let live = match live {
        Some(live) => live,
        None => call
            .state
            .history
            .reach_of(actor.principal)
            .may_see_live(call.state.sessions.index().get(&id))
            .ok_or_else(|| ApiError::not_found(format!("Session '{id}' does not exist")))?,
    };
    Ok(session_reply(live))
}

/// EndSession: hangs up the caller (or `CallSid`); 204.
pub async fn end_session(call: Call) -> Result<Reply, ApiError> {
    let request: EndSession = call.dto()?;
    let id = session_id(&request.session_id)?;
    let base = base_url(&call.state, &call.headers);
    let actor = actor(&call, base.trim_end_matches('/'))?;
    call.state
        .actions
        .end(
            &actor,
            &id,
            request.call_sid.as_deref().map(CallSid::new).as_ref(),
        )
        .await?;
    Ok(Reply {
        status: StatusCode::NO_CONTENT,
        body: ReplyBody::Empty,
        headers: Vec::new(),
    })
}

/// RedirectSession: blind transfer of the caller; 204.
pub async fn redirect_session(call: Call) -> Result<Reply, ApiError> {
    let request: RedirectSession = call.dto()?;
    let id = session_id(&request.session_id)?;
    let base = base_url(&call.state, &call.headers);
    let actor = actor(&call, base.trim_end_matches('/'))?;
    call.state
        .actions
        .redirect(
            &actor,
            &id,
            request.destination.as_deref(),
            request.caller_id.as_deref(),
        )
        .await?;
    Ok(Reply {
        status: StatusCode::NO_CONTENT,
        body: ReplyBody::Empty,
        headers: Vec::new(),
    })
}

/// AddConferenceMember: the call moves into a conference and the member is dialled.
pub async fn add_conference_member(call: Call) -> Result<Reply, ApiError> {
    let request: AddConferenceMember = call.dto()?;
    let id = session_id(&request.session_id)?;
    let base = base_url(&call.state, &call.headers);
    let actor = actor(&call, base.trim_end_matches('/'))?;
    let live = call
        .state
        .actions
        .add_conference_member(
            &actor,
            &id,
            request.call_sid.as_deref().map(CallSid::new).as_ref(),
            request.destination.as_deref(),
            request.from_number.as_deref(),
        )
        .await?;
    Ok(session_reply(live))
}
