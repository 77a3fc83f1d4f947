//! `GET /sessions/active`: the caller's live sessions, from the live index.

use evo_core::api::sessions::{GetActiveSessions, GetActiveSessionsResponse};
use evo_core::contract::{Field, Value};

use crate::app::live::LiveSession;
use crate::app::visibility::ActiveView;
use crate::auth::TokenEntry;
use crate::http::call::{Call, LateValue, Reply, ReplyBody};
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
    let _request: GetActiveSessions = call.dto()?;
    let principal = call
        .principal
        .as_ref()
        .ok_or_else(|| ApiError::unauthorized("Not Authenticated"))?;
    let view = call
        .state
        .active_sessions_with_slot(principal, call.slot.as_ref().map(TokenEntry::slot));
    // The user's list, rendered once per change: shared, not copied.
    let json = view.json().clone();
    Ok(Reply {
        status: axum::http::StatusCode::OK,
        body: ReplyBody::Prerendered {
            json,
            value: Some(view),
        },
        headers: Vec::new(),
    })
}
