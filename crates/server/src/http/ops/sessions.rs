//! `GET /sessions/active`: the caller's live sessions, from the live index.

use std::sync::Arc;

use evo_core::api::sessions::{GetActiveSessions, GetActiveSessionsResponse};
use evo_core::contract::Field;

use crate::app::live::LiveSession;
use crate::http::call::{Call, Reply, ReplyBody};
use crate::http::error::ApiError;

/// GetActiveSessions: the sessions the caller may see
/// (`crate::app::visibility`), oldest first.
pub async fn get_active_sessions(call: Call) -> Result<Reply, ApiError> {
    let _request: GetActiveSessions = call.dto()?;
    let principal = call.principal()?;
    let sessions = call.state.active_sessions_for(principal);
    let json = active_sessions_json(&sessions);
    let value = move || {
        GetActiveSessionsResponse {
            sessions: sessions.iter().map(|live| live.info().clone()).collect(),
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

/// Writes `{"sessions":[…]}` from pre-rendered session JSON.
fn active_sessions_json(sessions: &[Arc<LiveSession>]) -> Vec<u8> {
    let size = sessions.iter().map(|s| s.json().len() + 1).sum::<usize>() + 16;
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(b"{\"sessions\":[");
    for (index, session) in sessions.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        out.extend_from_slice(session.json());
    }
    out.extend_from_slice(b"]}");
    out
}
