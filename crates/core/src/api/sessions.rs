//! The GetActiveSessions contract, exactly as Evo Voice declares it
//! (`shared/spec/GetActiveSessions.txt`): names, namespaces, field order,
//! descriptions (the doc comments) and enum values.

use std::collections::BTreeMap;

use crate::contract::Contract;

// Fields every Evo Voice entity carries (no `[Api]` description: doc
// comments on contract types are their published descriptions).
#[derive(Contract, Debug, Clone, PartialEq, Default)]
#[contract(namespace = "Voice.Api")]
pub struct EntityInfo {
    /// The ID of the object
    pub id: Option<String>,
    /// The date the object was created
    pub date_created: Option<String>,
    /// The date the object was last modified
    pub date_last_modified: Option<String>,
    /// The user that created this object
    pub created_by: Option<String>,
    /// The user that last modified this object
    pub last_modified_by: Option<String>,
}

#[derive(
    Contract, Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[contract(namespace = "Voice.Api.Sessions")]
pub enum SessionDialState {
    #[default]
    None = 0,
    Active = 1,
}

#[derive(
    Contract, Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[contract(namespace = "Voice.Api.Sessions")]
pub enum SessionCallState {
    #[default]
    Disconnected = 0,
    Ringing = 1,
    Connected = 2,
    Hold = 3,
    Passive = 4,
}

#[derive(
    Contract, Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[contract(namespace = "Voice.Api.Sessions")]
pub enum SessionQueueStates {
    #[default]
    None = 0,
    Queued = 1,
    Ringing = 2,
    Connected = 3,
    Hold = 4,
    Disconnected = 5,
}

#[derive(Contract, Debug, Clone, PartialEq, Eq, Default)]
#[contract(namespace = "Voice.Api.Customers")]
pub struct CustomerBreadcrumb {
    pub id: Option<String>,
    pub name: Option<String>,
}

#[derive(
    Contract, Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[contract(namespace = "Voice.Api.Flows")]
pub enum FlowChannels {
    #[default]
    Voice = 0,
    Chat = 1,
    Fax = 2,
}

#[derive(
    Contract, Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[contract(namespace = "Voice.Api.Sessions")]
pub enum SessionHoldReasons {
    #[default]
    None = 0,
    Transferring = 1,
}

#[derive(Contract, Debug, Clone, PartialEq, Eq, Default)]
#[contract(namespace = "Voice.Api.Sessions")]
pub struct SessionLogInfo {
    pub date: Option<String>,
    pub message: Option<String>,
}

#[derive(
    Contract, Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[contract(namespace = "Voice.Api.Sessions")]
pub enum SessionMemberCallState {
    #[default]
    None = 0,
    Ringing = 1,
    Connected = 2,
    Hold = 3,
}

#[derive(
    Contract, Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[contract(namespace = "Voice.Api.Sessions")]
pub enum SessionMemberRoles {
    #[default]
    None = 0,
    Caller = 1,
    Agent = 2,
    Transfer = 3,
}

#[derive(Contract, Debug, Clone, PartialEq, Eq, Default)]
#[contract(namespace = "Voice.Api.Sessions")]
pub struct SessionMemberInfo {
    pub identity: Option<String>,
    pub endpoint_id: Option<String>,
    pub display_name: Option<String>,
    pub is_original_member: bool,
    pub avatar_url: Option<String>,
    pub application_data: BTreeMap<String, String>,
    pub call_state: SessionMemberCallState,
    pub role: SessionMemberRoles,
    pub call_sid: Option<String>,
    pub muted: bool,
}

#[derive(
    Contract, Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[contract(namespace = "Voice.Api.Sessions")]
pub enum SessionDirections {
    #[default]
    Incoming = 0,
    Outgoing = 1,
}

#[derive(Contract, Debug, Clone, PartialEq, Default)]
#[contract(namespace = "Voice.Api.Sessions")]
pub struct SessionInfo {
    #[contract(base)]
    pub entity: EntityInfo,
    /// The state of the session
    pub dial_state: SessionDialState,
    /// The call state of the session
    pub call_state: SessionCallState,
    /// The queue state of the session
    pub queue_state: SessionQueueStates,
    /// The ID of the account associated with the flow
    pub account_id: Option<String>,
    /// The name of the account associated with the session
    pub account_name: Option<String>,
    /// The ID of the customer this session is associated with
    pub customer_id: Option<String>,
    /// The customer breadcrumb this session is associated with
    pub customer_breadcrumb: Vec<CustomerBreadcrumb>,
    /// The name of the customer this session is associated with
    pub customer_name: Option<String>,
    /// The ID of the endpoint associated with this session
    pub endpoint_id: Option<String>,
    /// The name of the endpoint associated with this session
    pub endpoint_name: Option<String>,
    /// The date the call completed
    pub date_completed: Option<String>,
    /// The destination of the session (e.g. what was entered into the Dial box)
    pub destination: Option<String>,
    /// The to address if any
    pub to_address: Option<String>,
    /// The from address if any
    pub from_address: Option<String>,
    /// The from name if any
    pub from_name: Option<String>,
    /// Answered by name (if any)
    pub answered_by_name: Option<String>,
    /// The ID of the queue member assigned to this call
    pub queue_member_id: Option<String>,
    /// The flow channel
    pub channel: FlowChannels,
    /// Has the session ended
    pub ended: bool,
    /// The outcome of the call
    pub outcome: Option<String>,
    /// The twilio Call SID of this session
    pub call_sid: Option<String>,
    /// Any console data for this session
    pub console_data: Option<String>,
    /// The name of the hold queue for this call
    pub hold_queue_name: Option<String>,
    /// The user ID who put this call on hold
    pub held_by_user_id: Option<String>,
    /// The reason for the hold
    pub hold_reason: SessionHoldReasons,
    /// The SID of the conference if in a conference call
    pub conference_sid: Option<String>,
    /// The display name for this session
    pub display_name: Option<String>,
    /// The log entries for this session
    pub log: Vec<SessionLogInfo>,
    /// The members of this session
    pub members: Vec<SessionMemberInfo>,
    /// The callback number (typically used for SIP to User calls)
    pub callback_number: Option<String>,
    /// The ID of the endpoint that answered
    pub answered_by_id: Option<String>,
    /// Is this session incoming or outgoing?
    pub direction: SessionDirections,
    /// The phone number that this session is coming from (used with SMS chats)
    pub from_phone_number: Option<String>,
    /// The Call SID of the most recently added conference participant
    pub most_recent_participant_call_sid: Option<String>,
    /// Was this session missed?
    pub was_missed: bool,
    /// The ring queue that the call is currently in
    pub ring_queue_id: Option<String>,
}

#[derive(Contract, Debug, Clone, PartialEq, Default)]
#[contract(namespace = "Voice.Api.Sessions")]
pub struct GetActiveSessionsResponse {
    pub sessions: Vec<SessionInfo>,
}

/// Get your active sessions. Will eventually replace GetMySessions
#[derive(Contract, Debug, Clone, PartialEq, Default)]
#[contract(
    namespace = "Voice.Api.Sessions",
    route(path = "/sessions/active", verbs = "GET"),
    returns = GetActiveSessionsResponse,
    authenticate,
    roles("User"),
    tags("Sessions")
)]
pub struct GetActiveSessions {}
