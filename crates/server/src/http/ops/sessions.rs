//! `GET /sessions/active`: the caller's live sessions, from the live index.

use evo_core::api::sessions::{GetActiveSessions, GetActiveSessionsResponse};
use evo_core::contract::Field;

use crate::auth::Principal;
use crate::http::dispatch::{Call, Reply, ReplyBody};
use crate::http::error::ApiError;
use crate::live::active_sessions_json;

/// GetActiveSessions: sessions whose endpoint, answerer or members include
/// one of the caller's endpoints, within the caller's account only.
pub async fn get_active_sessions(call: Call) -> Result<Reply, ApiError> {
    let _request: GetActiveSessions = call.dto()?;
    let principal = call.principal()?;
    let endpoints = call
        .state
        .directory
        .endpoint_ids_of_user(&principal.user_id)
        .await?;
    let mut sessions = call.state.sessions.index().for_endpoints(endpoints.iter());
    sessions.retain(|live| {
        user_sees(
            principal,
            &endpoints,
            &live.session.header.account_id,
            &live.endpoints,
        )
    });
    let json = active_sessions_json(&sessions);
    let value = move || {
        GetActiveSessionsResponse {
            sessions: sessions.iter().map(|live| live.info.clone()).collect(),
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

/// The visibility rule for users: a session is theirs when one of their
/// endpoints is among the session's (endpoint, answerer, members) and it
/// belongs to their account. Tenants never see each other, whatever the
/// endpoint ids say.
pub fn user_sees<'a>(
    principal: &Principal,
    user_endpoints: &[String],
    session_account_id: &str,
    session_endpoints: impl IntoIterator<Item = &'a String>,
) -> bool {
    session_account_id == principal.account_id
        && session_endpoints
            .into_iter()
            .any(|endpoint| user_endpoints.contains(endpoint))
}
