//! The read side of sessions beyond GetActiveSessions (issue 17): my
//! sessions, one session, the session history with ServiceStack's
//! `ListRequest` paging, the caller's auth status and the active calls.
//! Routes, verbs and roles follow the Evo Voice metadata pages
//! (`shared/reference/evovoice-api.md` §2-§5).

use crate::api::sessions::{GetActiveSessionsResponse, SessionInfo};
use crate::contract::Contract;

/// Get all your active sessions
#[derive(Contract, Debug, Clone, PartialEq, Default)]
#[contract(
    namespace = "Voice.Api.Sessions",
    route(path = "/sessions/my", verbs = "GET"),
    returns = GetActiveSessionsResponse,
    authenticate,
    roles("User"),
    tags("Sessions")
)]
pub struct GetMySessions {}

/// Get a specific session
#[derive(Contract, Debug, Clone, PartialEq, Default)]
#[contract(
    namespace = "Voice.Api.Sessions",
    route(path = "/sessions/{sessionId}", verbs = "GET"),
    returns = SessionInfo,
    authenticate,
    tags("Sessions")
)]
pub struct GetSession {
    /// The ID of the session you want to get
    pub session_id: Option<String>,
}

#[derive(
    Contract, Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[contract(namespace = "Voice.Api")]
pub enum SortOrders {
    #[default]
    Ascend = 0,
    Descend = 1,
}

// ServiceStack's `ListRequest<T>`: the registry has no generic types, and
// `T` appears only in `IReturn<ListResponse<T>>`, so the base is declared
// without its type parameter.
#[derive(Contract, Debug, Clone, PartialEq, Default)]
#[contract(namespace = "Voice.Api")]
pub struct ListRequest {
    /// The page of data to retrieve (0 is the first page)
    pub page: i32,
    /// If you want all objects to be returned. This should be used with care
    pub all: bool,
    /// The number per page to retrieve (1 to 1000)
    pub count_per_page: i32,
    /// Specific IDs
    pub specific_ids: Vec<String>,
    /// Specify a sort field
    pub sort_field: Option<String>,
    /// Specify a sort order
    pub sort_order: SortOrders,
    /// Disables total / page counts - improves performance. Returns only data. If there is no more data, Items will be empty array
    pub simplified_paging: bool,
}

// ServiceStack's `ListResponse<SessionInfo>`. Without generics in the
// registry it is a concrete type, named as DataContract names the closed
// generic (`ListResponseOf…`), a valid identifier in every generated language.
#[derive(Contract, Debug, Clone, PartialEq, Default)]
#[contract(namespace = "Voice.Api", name = "ListResponseOfSessionInfo")]
pub struct ListResponseOfSessionInfo {
    /// The items
    pub items: Vec<SessionInfo>,
    /// The total number of items
    pub total_count: i32,
    /// The total number of pages
    pub total_pages: i32,
    /// Are there more pages of items? Used with simplified paging
    pub has_more_pages: bool,
}

/// Lists sessions, including active and ended
#[derive(Contract, Debug, Clone, PartialEq, Default)]
#[contract(
    namespace = "Voice.Api.Sessions",
    route(path = "/sessions", verbs = "GET"),
    returns = ListResponseOfSessionInfo,
    authenticate,
    tags("Sessions")
)]
pub struct ListSessions {
    #[contract(base)]
    pub list: ListRequest,
    /// Filter by account ID
    pub account_ids: Vec<String>,
    /// Search the archive (ended sessions) instead of the live ones
    pub search_archive: bool,
    /// The start date for the sessions you want to retrieve (YYYY-MM-DD)
    pub start_date: Option<String>,
    /// The end date for the sessions you want to retrieve (YYYY-MM-DD)
    pub end_date: Option<String>,
    /// Filter by customer ID (includes child customers)
    pub customer_ids: Vec<String>,
    /// Filter by endpoint ID
    pub endpoint_ids: Vec<String>,
    /// Filter by from address (contains)
    pub from: Option<String>,
    /// Filter by to address (contains)
    pub to: Option<String>,
    /// Filter by text in the log
    pub log: Option<String>,
    /// Filter by parent session ID
    pub parent_session_id: Option<String>,
}

#[derive(
    Contract, Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[contract(namespace = "Voice.Api.Authentication")]
pub enum DashboardPermissions {
    #[default]
    ViewFiles = 0,
    ViewNotifications = 1,
    ViewSessions = 2,
    ViewEndpoints = 3,
    ViewReports = 4,
    ViewCustomers = 5,
    ViewFlows = 6,
}

#[derive(Contract, Debug, Clone, PartialEq, Default)]
#[contract(namespace = "Voice.Api.Authentication")]
pub struct UserInfo {
    /// The ID of the user
    pub id: Option<String>,
    /// Is the user authenticated?
    pub is_authenticated: bool,
    /// The user's first name
    pub first_name: Option<String>,
    /// The user's last name
    pub last_name: Option<String>,
    /// The user's full name
    pub name: Option<String>,
    /// The URL of the user's avatar
    pub avatar_url: Option<String>,
    /// The user's email address
    pub email_address: Option<String>,
    /// The roles of the user
    pub roles: Vec<String>,
    /// The IDs of the accounts the user belongs to
    pub account_ids: Vec<String>,
    /// The names of the accounts the user belongs to
    pub account_names: Vec<String>,
    /// What the user may see in the dashboard
    pub dashboard_permissions: Vec<DashboardPermissions>,
}

/// Gets the current authenticated status or null
#[derive(Contract, Debug, Clone, PartialEq, Default)]
#[contract(
    namespace = "Voice.Api.Authentication",
    route(path = "/auth/status", verbs = "GET"),
    returns = UserInfo,
    tags("Authentication")
)]
pub struct GetAuthStatus {}

// A Twilio call as Twilio's Call resource describes it
// (https://www.twilio.com/docs/voice/api/call-resource), as Evo Voice
// mirrors it on GetActiveCalls. `Price` is a CLR decimal there; the
// registry's nearest type is Double.
#[derive(Contract, Debug, Clone, PartialEq, Default)]
#[contract(namespace = "Voice.Api.Sessions")]
pub struct CallInfo {
    pub account_sid: Option<String>,
    pub annotation: Option<String>,
    pub answered_by: Option<String>,
    pub caller_name: Option<String>,
    pub date_created: Option<String>,
    pub date_updated: Option<String>,
    pub direction: Option<String>,
    pub duration: i32,
    pub end_time: Option<String>,
    pub forwarded_from: Option<String>,
    pub from: Option<String>,
    pub from_formatted: Option<String>,
    pub parent_call_sid: Option<String>,
    pub phone_number_sid: Option<String>,
    pub price: f64,
    pub price_unit: Option<String>,
    pub sid: Option<String>,
    pub start_time: Option<String>,
    pub status: Option<String>,
    pub to: Option<String>,
    pub to_formatted: Option<String>,
    pub uri: Option<String>,
}

#[derive(Contract, Debug, Clone, PartialEq, Default)]
#[contract(namespace = "Voice.Api.Sessions")]
pub struct GetActiveCallsResponse {
    pub calls: Vec<CallInfo>,
}

/// Gets the active calls of an account
#[derive(Contract, Debug, Clone, PartialEq, Default)]
#[contract(
    namespace = "Voice.Api.Sessions",
    route(path = "/calls/active", verbs = "GET"),
    returns = GetActiveCallsResponse,
    authenticate,
    tags("Sessions")
)]
pub struct GetActiveCalls {
    /// The account to get the active calls of
    pub account_id: Option<String>,
}
