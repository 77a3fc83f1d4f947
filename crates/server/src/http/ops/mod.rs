//! The operations: one function per request DTO of the contract.

pub mod auth;
pub mod history;
pub mod sessions;

use crate::http::dispatch::{Call, Reply};
use crate::http::error::ApiError;

/// Runs the operation named `op_name`. A declared operation without an
/// implementation is ServiceStack's `NotImplementedException` (405).
pub async fn call(op_name: &str, call: Call) -> Result<Reply, ApiError> {
    match op_name {
        "GetActiveSessions" => sessions::get_active_sessions(call).await,
        "GetMySessions" => history::get_my_sessions(call).await,
        "GetSession" => history::get_session(call).await,
        "ListSessions" => history::list_sessions(call).await,
        "GetAuthStatus" => history::get_auth_status(call).await,
        "GetActiveCalls" => history::get_active_calls(call).await,
        "Authenticate" => auth::authenticate(call).await,
        "GetAccessToken" => auth::get_access_token(call).await,
        other => Err(ApiError::method_not_allowed(format!(
            "The operation '{other}' does not exist for this service"
        ))),
    }
}
