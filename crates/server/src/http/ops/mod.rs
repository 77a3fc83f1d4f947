//! The operations: one function per request DTO of the contract.

pub mod actions;
pub mod auth;
pub mod history;
pub mod sessions;

use evo_core::api::actions::{
    AddConferenceMember, EndSession, HoldSession, PatchSession, RedirectSession,
};
use evo_core::api::auth::{Authenticate, GetAccessToken};
use evo_core::api::history::{
    GetActiveCalls, GetAuthStatus, GetMySessions, GetSession, ListSessions,
};
use evo_core::api::sessions::GetActiveSessions;
use evo_core::contract::{Contract, TypeInfo};

use crate::http::call::{Call, Reply};
use crate::http::error::ApiError;

/// The operations this service implements, each named by its request DTO
/// (matched by the contract's type, not by a string).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    GetActiveSessions,
    Authenticate,
    GetAccessToken,
    GetMySessions,
    GetSession,
    ListSessions,
    GetAuthStatus,
    GetActiveCalls,
    HoldSession,
    PatchSession,
    EndSession,
    RedirectSession,
    AddConferenceMember,
}

impl Operation {
    /// Every implemented operation.
    pub const ALL: [Operation; 13] = [
        Operation::GetActiveSessions,
        Operation::Authenticate,
        Operation::GetAccessToken,
        Operation::GetMySessions,
        Operation::GetSession,
        Operation::ListSessions,
        Operation::GetAuthStatus,
        Operation::GetActiveCalls,
        Operation::HoldSession,
        Operation::PatchSession,
        Operation::EndSession,
        Operation::RedirectSession,
        Operation::AddConferenceMember,
    ];

    /// The request DTO of this operation.
    pub fn request_type(self) -> &'static TypeInfo {
        match self {
            Operation::GetActiveSessions => GetActiveSessions::type_info(),
            Operation::Authenticate => Authenticate::type_info(),
            Operation::GetAccessToken => GetAccessToken::type_info(),
            Operation::GetMySessions => GetMySessions::type_info(),
            Operation::GetSession => GetSession::type_info(),
            Operation::ListSessions => ListSessions::type_info(),
            Operation::GetAuthStatus => GetAuthStatus::type_info(),
            Operation::GetActiveCalls => GetActiveCalls::type_info(),
            Operation::HoldSession => HoldSession::type_info(),
            Operation::PatchSession => PatchSession::type_info(),
            Operation::EndSession => EndSession::type_info(),
            Operation::RedirectSession => RedirectSession::type_info(),
            Operation::AddConferenceMember => AddConferenceMember::type_info(),
        }
    }

    /// The implemented operation whose request DTO is `op`, if any.
    pub fn of(op: &'static TypeInfo) -> Option<Operation> {
        Operation::ALL
            .into_iter()
            .find(|operation| operation.request_type() == op)
    }
}

/// Runs the operation whose request DTO is `op`. A declared operation
/// without an implementation is ServiceStack's `NotImplementedException`
/// (405).
pub async fn call(op: &'static TypeInfo, call: Call) -> Result<Reply, ApiError> {
    // The read path's operation runs in place; every other one is boxed,
    // so that each request's future is not as large as the largest
    // operation's (Twilio REST and store calls): a small future is cheaper
    // to allocate and to move on the read path.
    type Boxed =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<Reply, ApiError>> + Send>>;
    let other: Boxed = match Operation::of(op) {
        Some(Operation::GetActiveSessions) => return sessions::get_active_sessions(call).await,
        Some(Operation::Authenticate) => Box::pin(auth::authenticate(call)),
        Some(Operation::GetAccessToken) => Box::pin(auth::get_access_token(call)),
        Some(Operation::GetMySessions) => Box::pin(history::get_my_sessions(call)),
        Some(Operation::GetSession) => Box::pin(history::get_session(call)),
        Some(Operation::ListSessions) => Box::pin(history::list_sessions(call)),
        Some(Operation::GetAuthStatus) => Box::pin(history::get_auth_status(call)),
        Some(Operation::GetActiveCalls) => Box::pin(history::get_active_calls(call)),
        Some(Operation::HoldSession) => Box::pin(actions::hold_session(call)),
        Some(Operation::PatchSession) => Box::pin(actions::patch_session(call)),
        Some(Operation::EndSession) => Box::pin(actions::end_session(call)),
        Some(Operation::RedirectSession) => Box::pin(actions::redirect_session(call)),
        Some(Operation::AddConferenceMember) => Box::pin(actions::add_conference_member(call)),
        None => {
            return Err(ApiError::method_not_allowed(format!(
                "The operation '{}' does not exist for this service",
                op.name
            )))
        }
    };
    other.await
}
