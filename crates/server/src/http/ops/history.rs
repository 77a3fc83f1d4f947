//! The session reads beyond `/sessions/active`: GetMySessions, GetSession,
//! ListSessions (history from the store), GetAuthStatus and GetActiveCalls.
//!
//! Who sees what: `crate::app::visibility::Reach` (system administrators
//! every session, managers their account's, everyone else what `Viewer`
//! allows), applied by `crate::app::history::History`. A session the
//! caller may not see is answered exactly like a missing one (404), so ids
//! never leak across users or tenants.

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use evo_core::api::history::{
    CallInfo, DashboardPermissions, GetActiveCalls, GetActiveCallsResponse, GetSession,
    ListResponseOfSessionInfo, ListSessions, SortOrders, UserInfo,
};
use evo_core::api::sessions::{SessionDirections, SessionInfo, SessionMemberCallState};
use evo_core::contract::Field;
use evo_core::domain::Role;
use evo_core::ids::{AccountId, CallSid, SessionId};
use evo_store::{SessionQuery, SessionScope};
use evo_wire::format::Format;

use crate::auth::Principal;
use crate::http::call::{Call, Reply, ReplyBody};
use crate::http::error::ApiError;
use crate::http::ops::sessions::get_active_sessions;

/// The most sessions `All = true` returns; beyond it the caller must page.
pub const ALL_LIMIT: u64 = 10_000;
/// The largest `CountPerPage`.
pub const MAX_COUNT_PER_PAGE: i32 = 1000;
/// Roles that may read the active calls (any one of them).
const ACTIVE_CALLS_ROLES: &[Role] = &[
    Role::SystemAdministrator,
    Role::Manager,
    Role::CallCenterDashboard,
];

/// GetMySessions: the same as GetActiveSessions (Evo Voice says the latter
/// "will eventually replace" it), from the live index.
pub async fn get_my_sessions(call: Call) -> Result<Reply, ApiError> {
    get_active_sessions(call).await
}

fn is_admin(principal: &Principal) -> bool {
    principal.has_role(Role::SystemAdministrator)
}

fn is_manager(principal: &Principal) -> bool {
    principal.has_role(Role::Manager)
}

fn session_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Session '{id}' does not exist"))
}

/// A reply of JSON the store rendered: sent as is in JSON, parsed back to
/// the DTO for every other format.
fn stored_json_reply<T: Field + evo_core::contract::Contract>(
    format: &Format,
    json: Vec<u8>,
) -> Result<Reply, ApiError> {
    let body = if matches!(format, Format::Json) {
        ReplyBody::Prerendered {
            json: json.into(),
            // Only the JSON format is served from this body.
            value: None,
        }
    } else {
        let dto: T = evo_wire::json::from_json(&json).map_err(ApiError::internal)?;
        ReplyBody::Dto(dto.to_value())
    };
    Ok(Reply {
        status: axum::http::StatusCode::OK,
        body,
        headers: Vec::new(),
    })
}

/// GetSession: one session, active (from the live index) or ended (from the
/// store), if the caller may see it.
pub async fn get_session(call: Call) -> Result<Reply, ApiError> {
    let request: GetSession = call.dto()?;
    let principal = call.principal()?;
    let id = request.session_id.unwrap_or_default();
    match call
        .state
        .history
        .session_json(principal, &SessionId::new(id.as_str()))
        .await?
    {
        Some(json) => stored_json_reply::<SessionInfo>(&call.format, json),
        None => Err(session_not_found(&id)),
    }
}

fn parse_date(field: &str, text: &Option<String>) -> Result<Option<NaiveDate>, ApiError> {
    match text.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| {
                ApiError::validation(
                    field,
                    "InvalidDate",
                    format!("{field} must be a date as YYYY-MM-DD, not '{text}'"),
                )
            }),
    }
}

fn non_empty(text: &Option<String>) -> Option<String> {
    text.as_deref()
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .map(String::from)
}

/// ListSessions: the caller's sessions from the store, filtered and paged
/// as ServiceStack's `ListRequest` (pages count from 0).
pub async fn list_sessions(call: Call) -> Result<Reply, ApiError> {
    let request: ListSessions = call.dto()?;
    let principal = call.principal()?.clone();
    let list = &request.list;
    if list.page < 0 {
        return Err(ApiError::validation(
            "Page",
            "GreaterThanOrEqual",
            "Page must be 0 or more (the first page is 0)",
        ));
    }
    if !list.all && !(1..=MAX_COUNT_PER_PAGE).contains(&list.count_per_page) {
        return Err(ApiError::validation(
            "CountPerPage",
            "InclusiveBetween",
            format!("CountPerPage must be between 1 and {MAX_COUNT_PER_PAGE} (or set All)"),
        ));
    }
    match list.sort_field.as_deref().map(str::trim) {
        None | Some("") => {}
        Some(field) if field.eq_ignore_ascii_case("DateCreated") => {}
        Some(field) => {
            return Err(ApiError::validation(
                "SortField",
                "NotSupported",
                format!("Sessions can be sorted by DateCreated only, not '{field}'"),
            ))
        }
    }
    let start = parse_date("StartDate", &request.start_date)?;
    let end = parse_date("EndDate", &request.end_date)?;

    let (offset, limit) = if list.all {
        (0, ALL_LIMIT)
    } else {
        let per_page = list.count_per_page as u64;
        (list.page as u64 * per_page, per_page)
    };
    let query = SessionQuery {
        account_ids: request.account_ids.iter().map(Into::into).collect(),
        customer_ids: request.customer_ids.iter().map(Into::into).collect(),
        endpoint_ids: request.endpoint_ids.iter().map(Into::into).collect(),
        session_ids: list.specific_ids.iter().map(Into::into).collect(),
        started_from: start.map(|day| Utc.from_utc_datetime(&day.and_time(Default::default()))),
        // The end date is inclusive: sessions started before the next day.
        started_before: end.map(|day| {
            Utc.from_utc_datetime(&day.and_time(Default::default())) + Duration::days(1)
        }),
        from_contains: non_empty(&request.from),
        to_contains: non_empty(&request.to),
        log_contains: non_empty(&request.log),
        parent_session_id: non_empty(&request.parent_session_id).map(Into::into),
        ended: Some(request.search_archive),
        descending: list.sort_order == SortOrders::Descend,
        offset,
        limit: Some(limit),
        count_total: !list.simplified_paging,
        // The history service puts the caller's reach here.
        ..SessionQuery::new(SessionScope::All)
    };
    let page = call.state.history.list(&principal, query).await?;
    if list.all && page.has_more {
        return Err(ApiError::validation(
            "All",
            "TooManyResults",
            format!("More than {ALL_LIMIT} sessions match; page through them with Page and CountPerPage"),
        ));
    }
    let total = page.total.unwrap_or(0);
    let total_pages = match (page.total, list.all) {
        (None, _) => 0,
        (Some(0), _) => 0,
        (Some(_), true) => 1,
        (Some(total), false) => total.div_ceil(list.count_per_page as u64),
    };
    let total_count = i32::try_from(total).unwrap_or(i32::MAX);
    let total_pages = i32::try_from(total_pages).unwrap_or(i32::MAX);
    let has_more = page.has_more;

    let mut json = Vec::with_capacity(
        page.items
            .iter()
            .map(|i| i.info_json.len() + 1)
            .sum::<usize>()
            + 96,
    );
    json.extend_from_slice(b"{\"items\":[");
    for (index, item) in page.items.iter().enumerate() {
        if index > 0 {
            json.push(b',');
        }
        json.extend_from_slice(item.info_json.as_bytes());
    }
    json.extend_from_slice(
        format!("],\"totalCount\":{total_count},\"totalPages\":{total_pages},\"hasMorePages\":{has_more}}}")
            .as_bytes(),
    );
    let body = if matches!(call.format, Format::Json) {
        ReplyBody::Prerendered {
            json: json.into(),
            // Only the JSON format is served from this body.
            value: None,
        }
    } else {
        let items = page
            .items
            .iter()
            .map(|item| evo_wire::json::from_json::<SessionInfo>(item.info_json.as_bytes()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(ApiError::internal)?;
        ReplyBody::Dto(
            ListResponseOfSessionInfo {
                items,
                total_count,
                total_pages,
                has_more_pages: has_more,
            }
            .to_value(),
        )
    };
    Ok(Reply {
        status: axum::http::StatusCode::OK,
        body,
        headers: Vec::new(),
    })
}

/// What a role may see in the dashboard (evo-voice keeps no per-user
/// permissions): everything for administrators and managers, sessions for users.
fn dashboard_permissions(principal: &Principal) -> Vec<DashboardPermissions> {
    if is_admin(principal) || is_manager(principal) {
        vec![
            DashboardPermissions::ViewFiles,
            DashboardPermissions::ViewNotifications,
            DashboardPermissions::ViewSessions,
            DashboardPermissions::ViewEndpoints,
            DashboardPermissions::ViewReports,
            DashboardPermissions::ViewCustomers,
            DashboardPermissions::ViewFlows,
        ]
    } else if principal.has_role(Role::User) {
        vec![DashboardPermissions::ViewSessions]
    } else {
        Vec::new()
    }
}

/// GetAuthStatus: who the caller is; `IsAuthenticated = false` and nothing
/// else for an anonymous caller.
pub async fn get_auth_status(call: Call) -> Result<Reply, ApiError> {
    let Some(principal) = call.principal.clone() else {
        return Ok(Reply::dto(&UserInfo::default()));
    };
    let account = call.state.directory.account(&principal.account_id).await?;
    let mut names = principal.display_name.split_whitespace();
    let first_name = names.next().map(String::from);
    let rest: Vec<&str> = names.collect();
    let info = UserInfo {
        id: Some(principal.user_id.to_string()),
        is_authenticated: true,
        first_name,
        last_name: (!rest.is_empty()).then(|| rest.join(" ")),
        name: Some(principal.display_name.clone()),
        avatar_url: None,
        email_address: Some(principal.email.clone()),
        roles: principal.role_names(),
        account_ids: vec![principal.account_id.to_string()],
        account_names: account.map(|a| a.name).into_iter().collect(),
        dashboard_permissions: dashboard_permissions(&principal),
    };
    Ok(Reply::dto(&info))
}

/// Twilio's `direction` of a leg: the root call is `inbound` or
/// `outbound-api`; the legs it dials are `outbound-dial`
/// (https://www.twilio.com/docs/voice/api/call-resource#call-properties).
fn twilio_direction(is_root: bool, direction: SessionDirections) -> &'static str {
    match (is_root, direction) {
        (true, SessionDirections::Incoming) => "inbound",
        (true, SessionDirections::Outgoing) => "outbound-api",
        (false, _) => "outbound-dial",
    }
}

/// GetActiveCalls: the live call legs of an account (the caller's unless a
/// system administrator names another), from the live index. Twilio's own
/// fields (price, duration, formatted numbers) are not known here.
pub async fn get_active_calls(call: Call) -> Result<Reply, ApiError> {
    let request: GetActiveCalls = call.dto()?;
    let principal = call.principal()?.clone();
    if !ACTIVE_CALLS_ROLES
        .iter()
        .any(|role| principal.has_role(*role))
    {
        return Err(ApiError::forbidden("Invalid Role"));
    }
    let account_id =
        non_empty(&request.account_id).unwrap_or_else(|| principal.account_id.to_string());
    if account_id != principal.account_id && !is_admin(&principal) {
        return Err(ApiError::forbidden(
            "Only a system administrator may read another account's calls",
        ));
    }
    let account_sid = call
        .state
        .directory
        .account(&AccountId::new(account_id.as_str()))
        .await?
        .and_then(|account| account.twilio_account_sid);
    // What Twilio knows fills what the sessions lack; Twilio unreachable
    // leaves the answer to the sessions (logged), since they are current.
    let mut twilio_calls: std::collections::HashMap<CallSid, evo_twilio::rest::CallResource> =
        match call
            .state
            .actions
            .twilio_calls_in_progress(&AccountId::new(account_id.as_str()))
            .await
        {
            Ok(calls) => calls.into_iter().map(|c| (c.sid.clone(), c)).collect(),
            Err(crate::app::actions::ActionError::Storage(cause)) => return Err(cause.into()),
            Err(error) => {
                tracing::warn!(%error, "Twilio's calls in progress could not be read");
                Default::default()
            }
        };
    let sessions = call
        .state
        .sessions
        .active_stored(&AccountId::new(account_id.as_str()))
        .await?;
    let mut calls = Vec::new();
    for session in &sessions {
        let header = session.header();
        let created = evo_core::session::iso(session.opened_at());
        let updated = evo_core::session::iso(session.last_activity());
        for member in &session.state().members {
            let Some(sid) = &member.call_sid else {
                continue;
            };
            let status = match member.call_state {
                SessionMemberCallState::Ringing => "ringing",
                SessionMemberCallState::Connected | SessionMemberCallState::Hold => "in-progress",
                SessionMemberCallState::None => continue,
            };
            let is_root = header.call_sid.as_deref() == Some(sid.as_str());
            let (from, to) = if is_root {
                (header.from_address.clone(), header.to_address.clone())
            } else {
                (header.to_address.clone(), Some(member.identity.clone()))
            };
            let twilio = twilio_calls.remove(sid.as_str());
            calls.push(from_twilio(
                twilio,
                CallInfo {
                    account_sid: account_sid.as_ref().map(ToString::to_string),
                    date_created: Some(created.clone()),
                    date_updated: Some(updated.clone()),
                    direction: Some(twilio_direction(is_root, header.direction).to_string()),
                    from,
                    parent_call_sid: if is_root {
                        None
                    } else {
                        header.call_sid.as_ref().map(ToString::to_string)
                    },
                    sid: Some(sid.to_string()),
                    start_time: Some(created.clone()),
                    status: Some(status.to_string()),
                    to,
                    uri: account_sid
                        .as_ref()
                        .map(|account| format!("/2010-04-01/Accounts/{account}/Calls/{sid}.json")),
                    ..CallInfo::default()
                },
            ));
        }
    }
    // Calls Twilio reports that no live session holds (another application
    // on the account, or a session not opened yet), oldest first.
    let mut rest: Vec<_> = twilio_calls.into_values().collect();
    rest.sort_by(|a, b| (a.start_time(), &a.sid).cmp(&(b.start_time(), &b.sid)));
    calls.extend(
        rest.into_iter()
            .map(|call| from_twilio(Some(call), CallInfo::default())),
    );
    Ok(Reply::dto(&GetActiveCallsResponse { calls }))
}

/// A call leg with what Twilio's Call resource says about it: Twilio's own
/// fields (price, duration, formatted numbers, caller name) are only known
/// there; times are turned into ISO 8601 like the rest of the API.
/// <https://www.twilio.com/docs/voice/api/call-resource#call-properties>
fn from_twilio(twilio: Option<evo_twilio::rest::CallResource>, known: CallInfo) -> CallInfo {
    let Some(call) = twilio else {
        return known;
    };
    let iso = |text: &Option<String>| {
        text.as_deref()
            .and_then(evo_twilio::webhook::parse_timestamp)
            .map(evo_core::session::iso)
    };
    CallInfo {
        account_sid: Some(call.account_sid.to_string()),
        annotation: call.annotation.clone().or(known.annotation),
        answered_by: call
            .answered_by
            .as_ref()
            .map(|a| a.as_str().to_string())
            .or(known.answered_by),
        caller_name: call.caller_name.clone().or(known.caller_name),
        date_created: iso(&call.date_created).or(known.date_created),
        date_updated: iso(&call.date_updated).or(known.date_updated),
        direction: call
            .direction
            .as_ref()
            .map(|d| d.as_str().to_string())
            .or(known.direction),
        duration: call
            .duration_seconds()
            .and_then(|d| i32::try_from(d).ok())
            .unwrap_or(known.duration),
        end_time: iso(&call.end_time).or(known.end_time),
        forwarded_from: call.forwarded_from.clone().or(known.forwarded_from),
        from: known.from.or(call.from.clone()),
        from_formatted: call.from_formatted.clone().or(known.from_formatted),
        parent_call_sid: call
            .parent_call_sid
            .as_ref()
            .map(ToString::to_string)
            .or(known.parent_call_sid),
        phone_number_sid: call.phone_number_sid.clone().or(known.phone_number_sid),
        price: call
            .price
            .as_deref()
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or(known.price),
        price_unit: call.price_unit.clone().or(known.price_unit),
        sid: Some(call.sid.to_string()),
        start_time: iso(&call.start_time).or(known.start_time),
        // Twilio's word is newer than a callback not yet received.
        status: Some(call.status.as_str().to_string()),
        to: known.to.or(call.to.clone()),
        to_formatted: call.to_formatted.clone().or(known.to_formatted),
        uri: call.uri.clone().or(known.uri),
    }
}
