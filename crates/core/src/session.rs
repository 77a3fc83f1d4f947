//! A session (one call, chat or fax) and its projection to `SessionInfo`.
//!
//! A session is its fixed [`SessionHeader`] (who, where, which channel) plus
//! the set of distinct events applied to it. Its state is a pure function
//! of that set (see `crate::reducer`), which is what makes duplicates and
//! out-of-order delivery harmless.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::api::sessions::{
    CustomerBreadcrumb, EntityInfo, FlowChannels, SessionCallState, SessionDialState,
    SessionDirections, SessionHoldReasons, SessionInfo, SessionLogInfo, SessionMemberCallState,
    SessionMemberInfo, SessionMemberRoles, SessionQueueStates,
};
use crate::domain::Crumb;
use crate::event::SessionEvent;
use crate::ids::{AccountId, CallSid, ConferenceSid, CustomerId, EndpointId, SessionId, UserId};

/// What is fixed when a session opens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SessionHeader {
    pub account_id: AccountId,
    pub account_name: String,
    pub customer_id: Option<CustomerId>,
    pub customer_name: Option<String>,
    /// From the root customer down to the session's customer.
    pub customer_breadcrumb: Vec<Crumb>,
    /// The endpoint the session belongs to (the number called, or the user
    /// who dialled out).
    pub endpoint_id: EndpointId,
    pub endpoint_name: String,
    pub channel: FlowChannels,
    pub direction: SessionDirections,
    /// The root call's SID (voice), or the conversation key (chat).
    pub call_sid: Option<CallSid>,
    pub from_address: Option<String>,
    pub from_name: Option<String>,
    pub to_address: Option<String>,
    pub destination: Option<String>,
    pub from_phone_number: Option<String>,
    pub callback_number: Option<String>,
    pub display_name: Option<String>,
    /// The party on the root leg (the caller for incoming sessions, the
    /// dialling agent for outgoing ones).
    pub origin: Option<crate::event::Party>,
}

/// A member of a session: one call leg (or chat participant).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub call_sid: Option<CallSid>,
    pub identity: String,
    pub endpoint_id: Option<EndpointId>,
    pub display_name: Option<String>,
    pub is_original_member: bool,
    pub avatar_url: Option<String>,
    pub application_data: BTreeMap<String, String>,
    pub call_state: SessionMemberCallState,
    pub role: SessionMemberRoles,
    pub muted: bool,
}

/// One line of a session's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    pub at: DateTime<Utc>,
    pub message: String,
}

impl LogEntry {
    /// The line as the contract shows it.
    pub fn to_info(&self) -> SessionLogInfo {
        SessionLogInfo {
            date: Some(iso(self.at)),
            message: Some(self.message.clone()),
        }
    }
}

/// The state derived from a session's events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SessionState {
    pub dial_state: SessionDialState,
    pub call_state: SessionCallState,
    pub queue_state: SessionQueueStates,
    pub answered_by_id: Option<EndpointId>,
    pub answered_by_name: Option<String>,
    pub queue_member_id: Option<EndpointId>,
    pub ring_queue_id: Option<String>,
    pub ended: bool,
    pub outcome: Option<String>,
    pub completed_at: Option<DateTime<Utc>>,
    pub console_data: Option<String>,
    pub hold_queue_name: Option<String>,
    pub held_by_user_id: Option<UserId>,
    pub hold_reason: SessionHoldReasons,
    pub conference_sid: Option<ConferenceSid>,
    pub most_recent_participant_call_sid: Option<CallSid>,
    pub was_missed: bool,
    pub members: Vec<Member>,
    /// Absent from snapshots written since migration 0013 (the store keeps
    /// the log as rows: [`Session::snapshot`]).
    #[serde(default)]
    pub log: Vec<LogEntry>,
    pub last_event_at: Option<DateTime<Utc>>,
}

/// A session: header, the state its distinct events produce, and what the
/// reducer needs to take the next event (a set of 64-bit hashes of the
/// dedupe keys applied, and each stream's summary and ordering key).
///
/// The events themselves are the store's event log. A session *carries*
/// them (`events` is `Some`) when it was opened by `reducer::open` (tests,
/// scenarios), read from a snapshot of the first format (which held the
/// whole event map, `tests/fixtures/session-v1.json`), or given its
/// history by `reducer::with_history`; [`Session::compact`] drops them, and
/// the server stores and indexes only compact sessions, so a snapshot no
/// longer grows with every earlier event.
///
/// Fields are private: a session is made by `reducer::open` (or read back
/// from the store) and changed only by `reducer::apply`; everything else
/// reads it through accessors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub(crate) id: SessionId,
    pub(crate) opened_at: DateTime<Utc>,
    pub(crate) header: SessionHeader,
    /// Distinct events by `SessionEvent::dedupe_key`, when carried (see
    /// above); absent from compact snapshots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) events: Option<BTreeMap<String, SessionEvent>>,
    /// Number of distinct events applied, plus one; bumps on every real change.
    pub(crate) version: u64,
    /// Derived from `header` and the events by the reducer; never edited directly.
    pub(crate) state: SessionState,
    /// Hashes of the dedupe keys applied (compact sessions; a carried event
    /// map is its own dedupe set).
    #[serde(default, skip_serializing_if = "crate::reducer::Seen::is_empty")]
    pub(crate) seen: crate::reducer::Seen,
    /// The reducer's per-stream working state. Compact snapshots store its
    /// summaries (`streams`); a first-format snapshot has none, and it is
    /// rebuilt from the carried events.
    #[serde(
        default,
        rename = "reducer",
        skip_serializing_if = "crate::reducer::Cache::is_unknown"
    )]
    pub(crate) cache: crate::reducer::Cache,
    /// How many leading log lines are known to be stored as the store's
    /// log rows (see [`LogMark`]); never serialised.
    #[serde(skip)]
    pub(crate) log_stored: LogMark,
    /// What a session loaded for one event leaves in the store (see
    /// [`Elided`]); never serialised.
    #[serde(skip)]
    pub(crate) elided: Elided,
}

/// What a session loaded for one event does not hold (the store's
/// `Store::session_for_event`, so that one more event does not read the
/// whole log): `lines` leading log lines (`state.log` holds the lines from
/// there on; the log rows have the others), and, when `keys`, the dedupe
/// keys applied before the load (the store's event log has them; it
/// checked the one event the session was loaded for, and its unique key
/// refuses a duplicate at commit). Such a session takes in-order events,
/// and is committed and indexed (the live index appends its new lines to
/// the lines it rendered); anything needing the whole session (a re-fold,
/// `to_info`) reads it complete from the store. Zero for every other
/// session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Elided {
    pub(crate) lines: usize,
    pub(crate) keys: bool,
}

/// How many leading lines of a session's log equal the store's log rows:
/// the store sets it when it reads a session's log from its rows and after
/// it commits them; the reducer lowers it to the first line it changes
/// (an appended line changes none). A commit then rewrites only the lines
/// from there on, so one more event writes its own lines, not the log.
/// Zero (rewrite everything) is always safe; it is never above the truth.
/// Ignored by `==`: it says what the store holds, not what the session is.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogMark(pub(crate) usize);

impl PartialEq for LogMark {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for LogMark {}

/// A session as the store's snapshot keeps it: everything but the log and
/// the dedupe hashes, which grow with every event (see
/// [`Session::snapshot`]). Deserialises as a `Session` with an empty log
/// and no hashes, which [`Session::restore_log`] and
/// [`Session::restore_seen`] then fill from the store's rows.
#[derive(Serialize)]
pub struct SnapshotRef<'a> {
    id: &'a SessionId,
    opened_at: &'a DateTime<Utc>,
    header: &'a SessionHeader,
    #[serde(skip_serializing_if = "Option::is_none")]
    events: &'a Option<BTreeMap<String, SessionEvent>>,
    version: u64,
    state: StateRef<'a>,
    #[serde(
        rename = "reducer",
        skip_serializing_if = "crate::reducer::Cache::is_unknown"
    )]
    cache: &'a crate::reducer::Cache,
}

/// [`SessionState`] without its log, field for field (an exhaustive
/// destructuring in [`Session::snapshot`] keeps them in step).
#[derive(Serialize)]
struct StateRef<'a> {
    dial_state: &'a SessionDialState,
    call_state: &'a SessionCallState,
    queue_state: &'a SessionQueueStates,
    answered_by_id: &'a Option<EndpointId>,
    answered_by_name: &'a Option<String>,
    queue_member_id: &'a Option<EndpointId>,
    ring_queue_id: &'a Option<String>,
    ended: bool,
    outcome: &'a Option<String>,
    completed_at: &'a Option<DateTime<Utc>>,
    console_data: &'a Option<String>,
    hold_queue_name: &'a Option<String>,
    held_by_user_id: &'a Option<UserId>,
    hold_reason: &'a SessionHoldReasons,
    conference_sid: &'a Option<ConferenceSid>,
    most_recent_participant_call_sid: &'a Option<CallSid>,
    was_missed: bool,
    members: &'a [Member],
    last_event_at: &'a Option<DateTime<Utc>>,
}

impl Session {
    /// The session's id (account-scoped, e.g. `ses-{account}-{CallSid}`).
    pub fn id(&self) -> &SessionId {
        &self.id
    }

    /// When the session was opened.
    pub fn opened_at(&self) -> DateTime<Utc> {
        self.opened_at
    }

    /// What was fixed when the session opened.
    pub fn header(&self) -> &SessionHeader {
        &self.header
    }

    /// The state the reducer derived from the header and the events.
    pub fn state(&self) -> &SessionState {
        &self.state
    }

    /// Number of distinct events applied, plus one.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The distinct events the session carries, by dedupe key: every event
    /// applied when it carries them, none when it is compact (the store's
    /// event log has them: `Store::session_events`).
    pub fn events(&self) -> impl Iterator<Item = &SessionEvent> + '_ {
        self.events.iter().flat_map(|events| events.values())
    }

    /// Whether the session carries its events (see [`Session`]).
    pub fn carries_events(&self) -> bool {
        self.events.is_some()
    }

    /// Drops the carried events and the per-stream event lists, keeping
    /// what the reducer needs to take in-order events (the dedupe hashes,
    /// each stream's summary and ordering key). Idempotent.
    pub fn compact(&mut self) {
        crate::reducer::compact(self);
    }

    /// The snapshot the store writes: the session without its log (the
    /// store keeps the log as rows) and without the dedupe hashes (the
    /// store's event log has the keys), so its size does not grow with
    /// the events. Serialises like the session, less `state.log` and `seen`.
    pub fn snapshot(&self) -> SnapshotRef<'_> {
        let Session {
            id,
            opened_at,
            header,
            events,
            version,
            state,
            // The store's event log is the set of keys applied: the store
            // rebuilds it from there (`Session::restore_seen`).
            seen: _,
            cache,
            log_stored: _,
            // The log's rows and the event log are the store's already.
            elided: _,
        } = self;
        let SessionState {
            dial_state,
            call_state,
            queue_state,
            answered_by_id,
            answered_by_name,
            queue_member_id,
            ring_queue_id,
            ended,
            outcome,
            completed_at,
            console_data,
            hold_queue_name,
            held_by_user_id,
            hold_reason,
            conference_sid,
            most_recent_participant_call_sid,
            was_missed,
            members,
            log: _,
            last_event_at,
        } = state;
        SnapshotRef {
            id,
            opened_at,
            header,
            events,
            version: *version,
            state: StateRef {
                dial_state,
                call_state,
                queue_state,
                answered_by_id,
                answered_by_name,
                queue_member_id,
                ring_queue_id,
                ended: *ended,
                outcome,
                completed_at,
                console_data,
                hold_queue_name,
                held_by_user_id,
                hold_reason,
                conference_sid,
                most_recent_participant_call_sid,
                was_missed: *was_missed,
                members,
                last_event_at,
            },
            cache,
        }
    }

    /// Puts back the dedupe keys a compact session applied, from the
    /// store's event log (a [`Session::snapshot`] leaves them out: they
    /// grow by one with every event). A session carrying its events keeps
    /// them as its dedupe set.
    pub fn restore_seen<'a>(&mut self, keys: impl IntoIterator<Item = &'a str>) {
        if self.events.is_none() {
            self.seen = crate::reducer::Seen::from_keys(keys);
        }
        // Every key applied: the set is whole again.
        self.elided.keys = false;
    }

    /// Puts back the log the store kept as rows (for a session read from a
    /// [`Session::snapshot`]); the lines are then known to be stored.
    pub fn restore_log(&mut self, log: Vec<LogEntry>) {
        self.state.log = log;
        self.elided.lines = 0;
        self.log_stored = LogMark(self.state.log.len());
    }

    /// Makes a session read from a [`Session::snapshot`] one loaded for a
    /// single event (see [`Elided`]): its first `lines` log lines stay in
    /// the store's rows (they are stored), and so do the dedupe keys it
    /// applied, whose set the store checks instead.
    pub fn elide_log(&mut self, lines: usize) {
        self.state.log = Vec::new();
        self.elided = Elided { lines, keys: true };
        self.seen = crate::reducer::Seen::default();
        self.log_stored = LogMark(lines);
    }

    /// How many leading log lines the session does not hold (see
    /// [`Elided`]); `state().log` holds the lines from there on. Zero
    /// unless loaded for one event.
    pub fn log_elided(&self) -> usize {
        self.elided.lines
    }

    /// Whether the session holds its whole log and its dedupe set (is not
    /// one loaded for a single event).
    pub fn is_whole(&self) -> bool {
        self.elided == Elided::default()
    }

    /// How many lines the session's log has, held or not.
    pub fn log_len(&self) -> usize {
        self.elided.lines + self.state.log.len()
    }

    /// The log lines from `position` on (0-based in the whole log), when
    /// the session holds them all.
    pub fn log_from(&self, position: usize) -> Option<&[LogEntry]> {
        self.state
            .log
            .get(position.checked_sub(self.elided.lines)?..)
    }

    /// How many leading log lines are known to equal the store's log rows
    /// (see [`LogMark`]); a commit writes the lines from there on (never
    /// below [`Session::log_elided`]: those are the rows themselves).
    pub fn log_stored(&self) -> usize {
        self.log_stored.0.min(self.log_len())
    }

    /// Records that the whole log is stored (the store calls it once a
    /// commit writing the log rows succeeded).
    pub fn mark_log_stored(&mut self) {
        self.log_stored = LogMark(self.log_len());
    }

    /// Whether the session is still live.
    pub fn is_active(&self) -> bool {
        !self.state.ended
    }

    /// The endpoints that make this session "theirs": its endpoint, its
    /// answerer, and every member's endpoint.
    pub fn endpoint_ids(&self) -> BTreeSet<EndpointId> {
        let mut ids = BTreeSet::new();
        ids.insert(self.header.endpoint_id.clone());
        if let Some(id) = &self.state.answered_by_id {
            ids.insert(id.clone());
        }
        for member in &self.state.members {
            if let Some(id) = &member.endpoint_id {
                ids.insert(id.clone());
            }
        }
        ids
    }

    /// When anything last happened to the session.
    pub fn last_activity(&self) -> DateTime<Utc> {
        self.state
            .last_event_at
            .map_or(self.opened_at, |at| at.max(self.opened_at))
    }

    /// The session as the GetActiveSessions contract shows it. A session
    /// loaded for one event ([`Elided`]) holds only its newest lines: its
    /// `SessionInfo` is the store's or the live index's, never this.
    pub fn to_info(&self) -> SessionInfo {
        debug_assert_eq!(self.elided.lines, 0, "to_info of a session without its log");
        let mut info = self.to_info_without_log();
        info.log = self.state.log.iter().map(LogEntry::to_info).collect();
        info
    }

    /// [`Session::to_info`] with an empty `Log` (the store renders the
    /// fixed part once per commit and the lines as they are appended).
    pub fn to_info_without_log(&self) -> SessionInfo {
        let header = &self.header;
        let state = &self.state;
        SessionInfo {
            entity: EntityInfo {
                id: Some(self.id.to_string()),
                date_created: Some(iso(self.opened_at)),
                date_last_modified: Some(iso(self.last_activity())),
                created_by: None,
                last_modified_by: None,
            },
            dial_state: state.dial_state,
            call_state: state.call_state,
            queue_state: state.queue_state,
            account_id: Some(header.account_id.to_string()),
            account_name: Some(header.account_name.clone()),
            customer_id: header.customer_id.as_deref().map(String::from),
            customer_breadcrumb: header
                .customer_breadcrumb
                .iter()
                .map(|crumb| CustomerBreadcrumb {
                    id: Some(crumb.id.to_string()),
                    name: Some(crumb.name.clone()),
                })
                .collect(),
            customer_name: header.customer_name.clone(),
            endpoint_id: Some(header.endpoint_id.to_string()),
            endpoint_name: Some(header.endpoint_name.clone()),
            date_completed: state.completed_at.map(iso),
            destination: header.destination.clone(),
            to_address: header.to_address.clone(),
            from_address: header.from_address.clone(),
            from_name: header.from_name.clone(),
            answered_by_name: state.answered_by_name.clone(),
            queue_member_id: state.queue_member_id.as_deref().map(String::from),
            channel: header.channel,
            ended: state.ended,
            outcome: state.outcome.clone(),
            call_sid: header.call_sid.as_deref().map(String::from),
            console_data: state.console_data.clone(),
            hold_queue_name: state.hold_queue_name.clone(),
            held_by_user_id: state.held_by_user_id.as_deref().map(String::from),
            hold_reason: state.hold_reason,
            conference_sid: state.conference_sid.as_deref().map(String::from),
            display_name: header.display_name.clone(),
            log: Vec::new(),
            members: state
                .members
                .iter()
                .map(|member| SessionMemberInfo {
                    identity: Some(member.identity.clone()),
                    endpoint_id: member.endpoint_id.as_deref().map(String::from),
                    display_name: member.display_name.clone(),
                    is_original_member: member.is_original_member,
                    avatar_url: member.avatar_url.clone(),
                    application_data: member.application_data.clone(),
                    call_state: member.call_state,
                    role: member.role,
                    call_sid: member.call_sid.as_deref().map(String::from),
                    muted: member.muted,
                })
                .collect(),
            callback_number: header.callback_number.clone(),
            answered_by_id: state.answered_by_id.as_deref().map(String::from),
            direction: header.direction,
            from_phone_number: header.from_phone_number.clone(),
            most_recent_participant_call_sid: state
                .most_recent_participant_call_sid
                .as_deref()
                .map(String::from),
            was_missed: state.was_missed,
            ring_queue_id: state.ring_queue_id.clone(),
        }
    }
}

/// ISO 8601 in UTC with millisecond precision (`2026-11-25T10:00:00.000Z`).
pub fn iso(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}
