//! `GET /sessions/active`: the caller's live sessions, from the live index.

use evo_core::api::sessions::{GetActiveSessions, GetActiveSessionsResponse};
use evo_core::contract::Field;

use crate::http::call::{Call, Reply, ReplyBody};
use crate::http::error::ApiError;

/// GetActiveSessions: the sessions the caller may see
/// (`crate::app::visibility`), oldest first.
pub async fn get_active_sessions(call: Call) -> Result<Reply, ApiError> {
    let _request: GetActiveSessions = call.dto()?;
    let principal = call.principal()?;
    let view = call.state.active_sessions_for(principal);
    // The user's list, rendered once per change: shared, not copied.
    let json = view.json().clone();
    let value = move || {
        GetActiveSessionsResponse {
            sessions: view
                .sessions()
                .iter()
                .map(|live| live.info().clone())
                .collect(),
        }
        .to_value()
    };
    Ok(Reply {
        status: axum::http::StatusCode::OK,
        body: ReplyBody::Prerendered {
            json,
            value: Box::new(value),
        },
        headers: Vec::new(),
    })
}
