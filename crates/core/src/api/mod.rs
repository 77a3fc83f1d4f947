//! The DTOs evo-voice serves, declared once with `#[derive(Contract)]`.
//!
//! Everything a client sees of them (JSON, XML, CSV, JSV, HTML, metadata
//! pages, typed DTOs in every language, OpenAPI) is derived from these
//! declarations and nothing else.

pub mod actions;
pub mod auth;
pub mod history;
pub mod sessions;

use crate::contract::{Contract, TypeRef};

/// Every operation evo-voice serves, in documentation order.
pub const OPERATIONS: &[TypeRef] = &[
    sessions::GetActiveSessions::type_info,
    history::GetMySessions::type_info,
    history::GetSession::type_info,
    history::ListSessions::type_info,
    history::GetActiveCalls::type_info,
    history::GetAuthStatus::type_info,
    actions::PatchSession::type_info,
    actions::EndSession::type_info,
    actions::HoldSession::type_info,
    actions::RedirectSession::type_info,
    actions::AddConferenceMember::type_info,
    auth::Authenticate::type_info,
    auth::GetAccessToken::type_info,
];
