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
    match Operation::of(op) {
        Some(Operation::GetActiveSessions) => sessions::get_active_sessions(call).await,
        Some(Operation::Authenticate) => auth::authenticate(call).await,
        Some(Operation::GetAccessToken) => auth::get_access_token(call).await,
        Some(Operation::GetMySessions) => history::get_my_sessions(call).await,
        Some(Operation::GetSession) => history::get_session(call).await,
        Some(Operation::ListSessions) => history::list_sessions(call).await,
        Some(Operation::GetAuthStatus) => history::get_auth_status(call).await,
        Some(Operation::GetActiveCalls) => history::get_active_calls(call).await,
        Some(Operation::HoldSession) => actions::hold_session(call).await,
        Some(Operation::PatchSession) => actions::patch_session(call).await,
        Some(Operation::EndSession) => actions::end_session(call).await,
        Some(Operation::RedirectSession) => actions::redirect_session(call).await,
        Some(Operation::AddConferenceMember) => actions::add_conference_member(call).await,
        None => Err(ApiError::method_not_allowed(format!(
            "The operation '{}' does not exist for this service",
            op.name
        ))),
    }
}
