//! The action side of sessions (issue 17): hold, unhold and console data
//! (PatchSession), blind transfer, conference members and hang-up. Routes,
//! verbs, roles and fields follow the Evo Voice metadata pages
//! (`shared/reference/evovoice-api.md` §2).

use crate::api::sessions::{SessionCallState, SessionHoldReasons, SessionInfo, SessionQueueStates};
use crate::contract::Contract;

/// Puts a call on hold
#[derive(Contract, Debug, Clone, PartialEq, Default)]
#[contract(
    namespace = "Voice.Api.Sessions",
    route(path = "/sessions/{sessionId}/hold", verbs = "POST"),
    returns = SessionInfo,
    authenticate,
    roles("User"),
    tags("Sessions")
)]
pub struct HoldSession {
    /// The ID of the session
    pub session_id: Option<String>,
    /// The local call SID
    pub call_sid: Option<String>,
    /// The reason for the hold
    pub reason: SessionHoldReasons,
}

/// Updates a session
#[derive(Contract, Debug, Clone, PartialEq, Default)]
#[contract(
    namespace = "Voice.Api.Sessions",
    route(path = "/sessions/{sessionId}", verbs = "PATCH"),
    returns = SessionInfo,
    authenticate,
    tags("Sessions")
)]
pub struct PatchSession {
    /// The ID of the session
    pub session_id: Option<String>,
    /// Data for the agent console
    pub console_data: Option<String>,
    /// The call state
    pub call_state: Option<SessionCallState>,
    /// The hold reason (None takes the call off hold)
    pub hold_reason: Option<SessionHoldReasons>,
    /// The queue state
    pub queue_state: Option<SessionQueueStates>,
}

/// Ends a session
#[derive(Contract, Debug, Clone, PartialEq, Default)]
#[contract(
    namespace = "Voice.Api.Sessions",
    route(path = "/sessions/{sessionId}", verbs = "DELETE"),
    authenticate,
    roles("User"),
    tags("Sessions")
)]
pub struct EndSession {
    /// The ID of the session
    pub session_id: Option<String>,
    /// The local call ID
    pub call_sid: Option<String>,
}

/// Redirects a session (blind transfer)
#[derive(Contract, Debug, Clone, PartialEq, Default)]
#[contract(
    namespace = "Voice.Api.Sessions",
    route(path = "/sessions/{sessionId}/redirect", verbs = "POST"),
    authenticate,
    roles("User"),
    tags("Sessions")
)]
pub struct RedirectSession {
    /// The ID of the session
    pub session_id: Option<String>,
    /// Where to send the call: a user (ID or email), a phone number or a queue
    pub destination: Option<String>,
    /// The caller ID to present when dialing a number
    pub caller_id: Option<String>,
}

/// Adds a member to the conference of a session, converting the call to a conference if needed
#[derive(Contract, Debug, Clone, PartialEq, Default)]
#[contract(
    namespace = "Voice.Api.Sessions",
    route(path = "/sessions/{sessionId}/conference/members", verbs = "POST"),
    returns = SessionInfo,
    authenticate,
    tags("Sessions")
)]
pub struct AddConferenceMember {
    /// The ID of the session
    pub session_id: Option<String>,
    /// The active call SID on the device
    pub call_sid: Option<String>,
    /// Who to add: a user (ID or email) or a phone number
    pub destination: Option<String>,
    /// The number to call from
    pub from_number: Option<String>,
}
