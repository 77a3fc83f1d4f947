//! `GET /sessions/active`: the caller's live sessions, from the live index.

use evo_core::api::sessions::{GetActiveSessions, GetActiveSessionsResponse};
use evo_core::contract::{Field, Value};

use std::sync::Arc;

use evo_wire::format::Format;

use crate::app::live::LiveSession;
use crate::app::state::AppState;
use crate::app::visibility::ActiveView;
use crate::auth::{Principal, TokenEntry, TokenSlot};
use crate::http::call::{dto_of, Call, LateValue, Reply, ReplyBody};
use crate::http::error::ApiError;

impl LateValue for ActiveView {
    fn value(&self) -> Value {
        GetActiveSessionsResponse {
            sessions: self
                .sessions()
                .iter()
                .map(|live| live.info().clone())
                .collect(),
        }
        .to_value()
    }
}

impl LateValue for LiveSession {
    fn value(&self) -> Value {
        self.info().to_value()
    }
}

/// GetActiveSessions: the sessions the caller may see
/// (`crate::app::visibility`), oldest first.
pub async fn get_active_sessions(call: Call) -> Result<Reply, ApiError> {
    get_active_sessions_now(call)
}

/// [`get_active_sessions`] without a future: it reads only memory, so the
/// dispatcher's read path answers it before its `call` returns.
pub fn get_active_sessions_now(call: Call) -> Result<Reply, ApiError> {
    let principal = call
        .principal
        .as_ref()
        .ok_or_else(|| ApiError::unauthorized("Not Authenticated"))?;
    active_sessions_reply(
        &call.state,
        &call.request,
        principal,
        call.slot.as_ref().map(TokenEntry::slot),
        &call.format,
    )
}

/// The operation itself, on borrowed parts (the dispatcher's read path
/// calls it with the verified token's entry borrowed, so no reference
/// count of the token, its principal or the view is written per request).
/// For JSON the reply is the view's pre-rendered bytes alone; other
/// formats get the view too, to build the DTO from.
pub fn active_sessions_reply(
    state: &AppState,
    request: &Value,
    principal: &Arc<Principal>,
    slot: Option<&TokenSlot>,
    format: &Format,
) -> Result<Reply, ApiError> {
    let _request: GetActiveSessions = dto_of(request)?;
    let json_only = matches!(format, Format::Json);
    // The user's list, rendered once per change: shared, not copied.
    let (json, view) = state.active_sessions_with(principal, slot, |json, view| {
        let value: Option<Arc<dyn LateValue>> = (!json_only).then(|| view.clone() as _);
        (json.clone(), value)
    });
    Ok(Reply {
        status: axum::http::StatusCode::OK,
        body: ReplyBody::Prerendered { json, value: view },
        headers: Vec::new(),
    })
}
