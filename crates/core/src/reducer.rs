//! The session reducer: the only code that changes a session.
//!
//! `apply(session, event)` is pure. It adds the event to the session's set of
//! distinct events (a duplicate changes nothing) and recomputes the state by
//! folding the whole set in canonical order (`SessionEvent::order_key`).
//! Because the state is a function of the set, any permutation of the same
//! deliveries, with any duplicates, converges to the same session as
//! in-order delivery. Within the fold, a call leg never goes backwards: an
//! event older than the leg's last (by sequence number, else by progress
//! rank) is ignored, and a terminal status is final.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::api::sessions::{
    FlowChannels, SessionCallState, SessionDialState, SessionDirections, SessionHoldReasons,
    SessionMemberCallState, SessionMemberRoles, SessionQueueStates,
};
use crate::event::{CallProgress, EventKind, EventSource, Party, SessionEvent};
use crate::session::{LogEntry, Member, Session, SessionHeader, SessionState};

/// Opens a session: its header is fixed from here on.
pub fn open(id: impl Into<String>, header: SessionHeader, at: DateTime<Utc>) -> Session {
    let mut session = Session {
        id: id.into(),
        opened_at: at,
        header,
        events: Vec::new(),
        version: 1,
        state: SessionState::default(),
    };
    session.state = project(&session);
    session
}

/// Applies one event. Returns the session unchanged (same `version`) when the
/// event was already applied.
pub fn apply(session: &Session, event: &SessionEvent) -> Session {
    let key = event.dedupe_key();
    if session.events.iter().any(|seen| seen.dedupe_key() == key) {
        return session.clone();
    }
    let mut next = session.clone();
    let position = next
        .events
        .partition_point(|seen| seen.order_key() <= event.order_key());
    next.events.insert(position, event.clone());
    next.version += 1;
    next.state = project(&next);
    next
}

/// Whether applying `event` would change the session (it is not a duplicate).
pub fn is_new(session: &Session, event: &SessionEvent) -> bool {
    let key = event.dedupe_key();
    !session.events.iter().any(|seen| seen.dedupe_key() == key)
}

/// How far one call leg has progressed, for the never-go-backwards rule.
#[derive(Clone, Copy)]
struct LegProgress {
    sequence: Option<u32>,
    rank: u8,
    terminal: bool,
}

/// A transfer in flight.
struct PendingTransfer {
    by_user_id: Option<String>,
    target: Party,
    blind: bool,
}

/// The working state of the fold.
struct Fold<'a> {
    header: &'a SessionHeader,
    state: SessionState,
    legs: BTreeMap<String, LegProgress>,
    on_hold: bool,
    transfer: Option<PendingTransfer>,
}

/// Recomputes a session's state from its header and events.
fn project(session: &Session) -> SessionState {
    let header = &session.header;
    let mut fold = Fold {
        header,
        state: SessionState::default(),
        legs: BTreeMap::new(),
        on_hold: false,
        transfer: None,
    };
    fold.start(session.opened_at);
    for event in &session.events {
        if fold.state.ended {
            // An ended session is final; later deliveries are history only.
            break;
        }
        fold.state.last_event_at = Some(
            fold.state
                .last_event_at
                .map_or(event.at, |last| last.max(event.at)),
        );
        fold.event(event);
        fold.settle();
    }
    fold.state
}

impl Fold<'_> {
    fn start(&mut self, at: DateTime<Utc>) {
        let header = self.header;
        if let Some(origin) = &header.origin {
            self.state.members.push(Member {
                call_sid: header.call_sid.clone(),
                identity: origin.identity.clone(),
                endpoint_id: origin.endpoint_id.clone(),
                display_name: origin.display_name.clone(),
                is_original_member: true,
                avatar_url: None,
                application_data: BTreeMap::new(),
                call_state: if header.channel == FlowChannels::Voice {
                    SessionMemberCallState::Ringing
                } else {
                    SessionMemberCallState::Connected
                },
                role: origin.role,
                muted: false,
            });
        }
        let from = header.from_address.as_deref().unwrap_or("unknown");
        let to = header
            .destination
            .as_deref()
            .or(header.to_address.as_deref())
            .unwrap_or("unknown");
        let message = match (header.channel, header.direction) {
            (FlowChannels::Voice, SessionDirections::Incoming) => {
                format!("Incoming call from {from} to {to}")
            }
            (FlowChannels::Voice, SessionDirections::Outgoing) => {
                format!("Outgoing call from {from} to {to}")
            }
            (FlowChannels::Chat, _) => format!("Chat started between {from} and {to}"),
            (FlowChannels::Fax, SessionDirections::Incoming) => {
                format!("Incoming fax from {from} to {to}")
            }
            (FlowChannels::Fax, SessionDirections::Outgoing) => {
                format!("Outgoing fax from {from} to {to}")
            }
        };
        self.log(at, message);
        self.settle();
    }

    fn log(&mut self, at: DateTime<Utc>, message: String) {
        self.state.log.push(LogEntry { at, message });
    }

    fn is_root(&self, call_sid: &str) -> bool {
        self.header.call_sid.as_deref() == Some(call_sid)
    }

    fn member_index(&self, call_sid: &str) -> Option<usize> {
        self.state
            .members
            .iter()
            .position(|member| member.call_sid.as_deref() == Some(call_sid))
    }

    fn origin_index(&self) -> Option<usize> {
        self.state
            .members
            .iter()
            .position(|member| member.is_original_member)
    }

    fn name_of(member: &Member) -> String {
        member
            .display_name
            .clone()
            .unwrap_or_else(|| member.identity.clone())
    }

    fn party_name(party: &Party) -> String {
        party
            .display_name
            .clone()
            .unwrap_or_else(|| party.identity.clone())
    }

    /// Finds or adds the member on `call_sid`.
    fn ensure_member(&mut self, call_sid: &str, party: Option<&Party>) -> usize {
        if let Some(index) = self.member_index(call_sid) {
            return index;
        }
        let member = match party {
            Some(party) => Member {
                call_sid: Some(call_sid.to_string()),
                identity: party.identity.clone(),
                endpoint_id: party.endpoint_id.clone(),
                display_name: party.display_name.clone(),
                is_original_member: false,
                avatar_url: None,
                application_data: BTreeMap::new(),
                call_state: SessionMemberCallState::None,
                role: party.role,
                muted: false,
            },
            None => Member {
                call_sid: Some(call_sid.to_string()),
                identity: call_sid.to_string(),
                endpoint_id: None,
                display_name: None,
                is_original_member: false,
                avatar_url: None,
                application_data: BTreeMap::new(),
                call_state: SessionMemberCallState::None,
                role: SessionMemberRoles::None,
                muted: false,
            },
        };
        self.state.members.push(member);
        self.state.members.len() - 1
    }

    /// Whether the leg's new status moves it forward; records it if so.
    fn advance_leg(&mut self, event: &SessionEvent, call_sid: &str, status: CallProgress) -> bool {
        let sequence = match &event.source {
            EventSource::Call {
                call_sid: source_sid,
                sequence,
            } if source_sid == call_sid => *sequence,
            _ => None,
        };
        let next = LegProgress {
            sequence,
            rank: status.rank(),
            terminal: status.is_terminal(),
        };
        if let Some(previous) = self.legs.get(call_sid) {
            if previous.terminal {
                return false;
            }
            let forward = match (previous.sequence, next.sequence) {
                (Some(before), Some(now)) => now > before,
                _ => next.rank > previous.rank || (next.terminal && !previous.terminal),
            };
            if !forward {
                return false;
            }
        }
        self.legs.insert(call_sid.to_string(), next);
        true
    }

    fn event(&mut self, event: &SessionEvent) {
        let at = event.at;
        match &event.kind {
            EventKind::CallStatus {
                call_sid,
                status,
                party,
            } => {
                if !self.advance_leg(event, call_sid, *status) {
                    return;
                }
                if self.is_root(call_sid) {
                    self.root_status(at, *status);
                } else {
                    self.leg_status(at, call_sid, *status, party.as_ref());
                }
            }
            EventKind::Enqueued { queue_name } => {
                self.state.queue_state = SessionQueueStates::Queued;
                self.state.ring_queue_id = Some(queue_name.clone());
                self.log(at, format!("Queued in {queue_name}"));
            }
            EventKind::LeftQueue { reason } => {
                if matches!(
                    self.state.queue_state,
                    SessionQueueStates::Queued | SessionQueueStates::Ringing
                ) {
                    self.state.queue_state = SessionQueueStates::Disconnected;
                }
                self.log(at, format!("Left the queue ({reason})"));
            }
            EventKind::HoldStarted {
                call_sid,
                by_user_id,
                reason,
                queue_name,
            } => {
                self.on_hold = true;
                self.state.held_by_user_id = by_user_id.clone();
                self.state.hold_reason = *reason;
                self.state.hold_queue_name = queue_name.clone();
                let index = call_sid
                    .as_deref()
                    .and_then(|sid| self.member_index(sid))
                    .or_else(|| self.origin_index());
                let name = index.map(|i| {
                    self.state.members[i].call_state = SessionMemberCallState::Hold;
                    Self::name_of(&self.state.members[i])
                });
                if self.state.queue_state == SessionQueueStates::Connected {
                    self.state.queue_state = SessionQueueStates::Hold;
                }
                let by = by_user_id
                    .as_deref()
                    .map(|id| format!(" by {id}"))
                    .unwrap_or_default();
                self.log(
                    at,
                    format!(
                        "{} put on hold{by}",
                        name.unwrap_or_else(|| "Call".to_string())
                    ),
                );
            }
            EventKind::HoldEnded { call_sid } => {
                if !self.on_hold {
                    return;
                }
                self.end_hold();
                let index = call_sid
                    .as_deref()
                    .and_then(|sid| self.member_index(sid))
                    .or_else(|| self.origin_index());
                let name = index.map(|i| Self::name_of(&self.state.members[i]));
                self.log(
                    at,
                    format!(
                        "{} taken off hold",
                        name.unwrap_or_else(|| "Call".to_string())
                    ),
                );
            }
            EventKind::TransferStarted {
                by_user_id,
                target,
                blind,
            } => {
                self.on_hold = true;
                self.state.hold_reason = SessionHoldReasons::Transferring;
                self.state.held_by_user_id = by_user_id.clone();
                if let Some(index) = self.origin_index() {
                    self.state.members[index].call_state = SessionMemberCallState::Hold;
                }
                let kind = if *blind { "Blind" } else { "Warm" };
                let by = by_user_id
                    .as_deref()
                    .map(|id| format!(" by {id}"))
                    .unwrap_or_default();
                self.log(
                    at,
                    format!(
                        "{kind} transfer to {} started{by}",
                        Self::party_name(target)
                    ),
                );
                self.transfer = Some(PendingTransfer {
                    by_user_id: by_user_id.clone(),
                    target: target.clone(),
                    blind: *blind,
                });
            }
            EventKind::ConferenceJoined {
                conference_sid,
                call_sid,
                party,
                muted,
                hold,
            } => {
                self.state.conference_sid = Some(conference_sid.clone());
                self.state.most_recent_participant_call_sid = Some(call_sid.clone());
                let index = self.ensure_member(call_sid, party.as_ref());
                let member = &mut self.state.members[index];
                member.muted = *muted;
                member.call_state = if *hold {
                    SessionMemberCallState::Hold
                } else {
                    SessionMemberCallState::Connected
                };
                let name = Self::name_of(member);
                self.log(at, format!("{name} joined the conference"));
                self.member_connected(at, index);
            }
            EventKind::ParticipantChanged {
                call_sid,
                muted,
                hold,
                ..
            } => {
                let Some(index) = self.member_index(call_sid) else {
                    return;
                };
                let name = Self::name_of(&self.state.members[index]);
                if let Some(muted) = muted {
                    if self.state.members[index].muted != *muted {
                        self.state.members[index].muted = *muted;
                        let verb = if *muted { "muted" } else { "unmuted" };
                        self.log(at, format!("{name} {verb}"));
                    }
                }
                if let Some(hold) = hold {
                    let held = self.state.members[index].call_state == SessionMemberCallState::Hold;
                    if held != *hold {
                        self.state.members[index].call_state = if *hold {
                            SessionMemberCallState::Hold
                        } else {
                            SessionMemberCallState::Connected
                        };
                        if self.state.members[index].is_original_member
                            || self.state.members[index].role == SessionMemberRoles::Caller
                        {
                            self.on_hold = *hold;
                            if !*hold {
                                self.end_hold();
                            }
                        }
                        let verb = if *hold {
                            "put on hold"
                        } else {
                            "taken off hold"
                        };
                        self.log(at, format!("{name} {verb}"));
                    }
                }
            }
            EventKind::ConferenceLeft { call_sid, .. } => {
                if let Some(index) = self.member_index(call_sid) {
                    let name = Self::name_of(&self.state.members[index]);
                    self.remove_member(index);
                    self.log(at, format!("{name} left the conference"));
                }
            }
            EventKind::ConferenceEnded { .. } => {
                self.state
                    .members
                    .retain(|member| member.is_original_member);
                self.log(at, "Conference ended".to_string());
            }
            EventKind::MessageReceived { from, body } => {
                self.log(at, format!("Message from {from}: {body}"));
            }
            EventKind::ConsoleData { data } => {
                self.state.console_data = Some(data.clone());
            }
            EventKind::Ended { outcome, reason } => {
                self.end(at, outcome.clone());
                self.log(at, format!("Session ended: {reason}"));
            }
        }
    }

    fn root_status(&mut self, at: DateTime<Utc>, status: CallProgress) {
        let origin = self.origin_index();
        match status {
            CallProgress::Queued | CallProgress::Initiated | CallProgress::Ringing => {
                if let Some(index) = origin {
                    self.state.members[index].call_state = SessionMemberCallState::Ringing;
                }
            }
            CallProgress::InProgress => {
                if let Some(index) = origin {
                    if self.state.members[index].call_state != SessionMemberCallState::Hold {
                        self.state.members[index].call_state = SessionMemberCallState::Connected;
                    }
                }
            }
            terminal => {
                let outcome = terminal.as_str().to_string();
                self.end(at, outcome.clone());
                self.log(at, format!("Call ended ({outcome})"));
            }
        }
    }

    fn leg_status(
        &mut self,
        at: DateTime<Utc>,
        call_sid: &str,
        status: CallProgress,
        party: Option<&Party>,
    ) {
        if status.is_terminal() {
            let Some(index) = self.member_index(call_sid) else {
                return;
            };
            let member = &self.state.members[index];
            let name = Self::name_of(member);
            let was_connected = matches!(
                member.call_state,
                SessionMemberCallState::Connected | SessionMemberCallState::Hold
            );
            let endpoint = member.endpoint_id.clone();
            self.remove_member(index);
            if was_connected {
                self.log(at, format!("{name} left the call"));
            } else {
                self.log(at, format!("{name} did not answer ({})", status.as_str()));
                let failed_transfer = self.transfer.as_ref().is_some_and(|transfer| {
                    transfer.target.endpoint_id.is_some() && transfer.target.endpoint_id == endpoint
                });
                if failed_transfer {
                    self.transfer = None;
                    self.state.hold_reason = SessionHoldReasons::None;
                    self.log(at, format!("Transfer to {name} failed"));
                }
            }
            return;
        }
        let index = self.ensure_member(call_sid, party);
        match status {
            CallProgress::Queued | CallProgress::Initiated | CallProgress::Ringing => {
                if self.state.members[index].call_state == SessionMemberCallState::None {
                    self.state.members[index].call_state = SessionMemberCallState::Ringing;
                    let name = Self::name_of(&self.state.members[index]);
                    self.log(at, format!("Ringing {name}"));
                }
                if self.state.queue_state == SessionQueueStates::Queued {
                    self.state.queue_state = SessionQueueStates::Ringing;
                }
            }
            _ => {
                self.state.members[index].call_state = SessionMemberCallState::Connected;
                let name = Self::name_of(&self.state.members[index]);
                self.log(at, format!("{name} answered"));
                self.member_connected(at, index);
            }
        }
    }

    /// A member (not the origin) is now talking: answering, dequeuing and
    /// transfer completion follow from that.
    fn member_connected(&mut self, at: DateTime<Utc>, index: usize) {
        let member = self.state.members[index].clone();
        if member.is_original_member {
            return;
        }
        if let Some(origin) = self.origin_index() {
            if self.state.members[origin].call_state == SessionMemberCallState::Ringing {
                self.state.members[origin].call_state = SessionMemberCallState::Connected;
            }
        }
        let answers = matches!(
            member.role,
            SessionMemberRoles::Agent | SessionMemberRoles::Transfer
        ) || self.header.direction == SessionDirections::Outgoing;
        if answers && self.state.answered_by_id.is_none() && self.state.answered_by_name.is_none() {
            self.state.answered_by_id = member.endpoint_id.clone();
            self.state.answered_by_name = Some(Self::name_of(&member));
        }
        if matches!(
            self.state.queue_state,
            SessionQueueStates::Queued | SessionQueueStates::Ringing
        ) && member.role == SessionMemberRoles::Agent
        {
            self.state.queue_state = SessionQueueStates::Connected;
            self.state.queue_member_id = member.endpoint_id.clone();
        }
        let completes_transfer = self.transfer.as_ref().is_some_and(|transfer| {
            member.role == SessionMemberRoles::Transfer
                || (transfer.target.endpoint_id.is_some()
                    && transfer.target.endpoint_id == member.endpoint_id)
        });
        if completes_transfer {
            if let Some(transfer) = self.transfer.take() {
                if transfer.blind {
                    if let Some(by) = &transfer.by_user_id {
                        self.state
                            .members
                            .retain(|m| m.endpoint_id.as_deref() != Some(by.as_str()));
                    }
                }
                self.end_hold();
                self.log(
                    at,
                    format!("Transfer to {} completed", Self::name_of(&member)),
                );
            }
        }
    }

    fn end_hold(&mut self) {
        self.on_hold = false;
        self.state.held_by_user_id = None;
        self.state.hold_reason = SessionHoldReasons::None;
        self.state.hold_queue_name = None;
        for member in &mut self.state.members {
            if member.call_state == SessionMemberCallState::Hold {
                member.call_state = SessionMemberCallState::Connected;
            }
        }
        if self.state.queue_state == SessionQueueStates::Hold {
            self.state.queue_state = SessionQueueStates::Connected;
        }
    }

    fn remove_member(&mut self, index: usize) {
        if self.state.members[index].is_original_member {
            self.state.members[index].call_state = SessionMemberCallState::None;
        } else {
            self.state.members.remove(index);
        }
    }

    fn end(&mut self, at: DateTime<Utc>, outcome: String) {
        self.state.ended = true;
        self.state.outcome = Some(outcome);
        self.state.completed_at = Some(at);
        self.on_hold = false;
        self.transfer = None;
        for member in &mut self.state.members {
            member.call_state = SessionMemberCallState::None;
        }
        if self.state.queue_state != SessionQueueStates::None {
            self.state.queue_state = SessionQueueStates::Disconnected;
        }
        self.state.was_missed = self.header.direction == SessionDirections::Incoming
            && self.header.channel == FlowChannels::Voice
            && self.state.answered_by_name.is_none();
    }

    /// Derives the session-level states from the members after each event.
    fn settle(&mut self) {
        let state = &mut self.state;
        if state.ended {
            state.call_state = SessionCallState::Disconnected;
            state.dial_state = SessionDialState::None;
            return;
        }
        let others = || {
            state
                .members
                .iter()
                .filter(|member| !member.is_original_member)
        };
        let anyone_ringing =
            others().any(|member| member.call_state == SessionMemberCallState::Ringing);
        let anyone_talking =
            others().any(|member| member.call_state == SessionMemberCallState::Connected);
        state.dial_state = if anyone_ringing {
            SessionDialState::Active
        } else {
            SessionDialState::None
        };
        state.call_state = if self.on_hold {
            SessionCallState::Hold
        } else if self.header.channel == FlowChannels::Chat || anyone_talking {
            SessionCallState::Connected
        } else if anyone_ringing {
            SessionCallState::Ringing
        } else if state.queue_state == SessionQueueStates::Queued
            || state.answered_by_name.is_some()
        {
            SessionCallState::Passive
        } else {
            SessionCallState::Ringing
        };
    }
}
