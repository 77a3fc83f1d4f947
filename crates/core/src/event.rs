//! Session events: everything that can happen to a session, in telephony
//! terms but independent of Twilio's wire format. Adapters (the Twilio
//! webhooks, the demo, the reconciler) translate what they see into these.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::api::sessions::{SessionHoldReasons, SessionMemberRoles};

/// One thing that happened to a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionEvent {
    /// When it happened at the source (Twilio's `Timestamp` where it has one).
    pub at: DateTime<Utc>,
    /// Where it came from; identifies duplicates and orders a leg's events.
    pub source: EventSource,
    /// What happened.
    pub kind: EventKind,
}

/// The origin of an event.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventSource {
    /// Call progress of one call leg, with the leg's sequence number when the
    /// source numbers its events (Twilio's `SequenceNumber`).
    Call {
        call_sid: String,
        sequence: Option<u32>,
    },
    /// A conference event, with the conference's sequence number.
    Conference {
        conference_sid: String,
        sequence: Option<u32>,
    },
    /// An inbound message.
    Message { message_sid: String },
    /// Something evo-voice itself decided (reconciler, demo, API), with a
    /// unique id.
    Internal { id: String },
}

/// The progress of one call leg (Twilio's `CallStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum CallProgress {
    Queued,
    Initiated,
    Ringing,
    InProgress,
    Completed,
    Busy,
    NoAnswer,
    Failed,
    Canceled,
}

impl CallProgress {
    /// Whether the leg is over; terminal progress is final.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            CallProgress::Completed
                | CallProgress::Busy
                | CallProgress::NoAnswer
                | CallProgress::Failed
                | CallProgress::Canceled
        )
    }

    /// Order of progress when no sequence number says otherwise:
    /// queued < initiated < ringing < in-progress < terminal.
    pub fn rank(self) -> u8 {
        match self {
            CallProgress::Queued => 0,
            CallProgress::Initiated => 1,
            CallProgress::Ringing => 2,
            CallProgress::InProgress => 3,
            _ => 4,
        }
    }

    /// The outcome text of a terminal status (`completed`, `no-answer`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            CallProgress::Queued => "queued",
            CallProgress::Initiated => "initiated",
            CallProgress::Ringing => "ringing",
            CallProgress::InProgress => "in-progress",
            CallProgress::Completed => "completed",
            CallProgress::Busy => "busy",
            CallProgress::NoAnswer => "no-answer",
            CallProgress::Failed => "failed",
            CallProgress::Canceled => "canceled",
        }
    }
}

/// Who is on a call leg, as far as evo-voice knows (it routes the calls, so
/// it knows which user a child leg rings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    /// The identity on the wire (`client:alice` identity, or a phone number).
    pub identity: String,
    /// The evo-voice endpoint, when the party is one of ours.
    pub endpoint_id: Option<String>,
    pub display_name: Option<String>,
    pub role: SessionMemberRoles,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    /// A call leg's status changed. The root leg is the session's `call_sid`;
    /// any other leg is a member's.
    CallStatus {
        call_sid: String,
        status: CallProgress,
        /// Who is on this leg (for legs evo-voice dialled).
        party: Option<Party>,
    },
    /// The caller was put in a queue to wait for an agent.
    Enqueued { queue_name: String },
    /// The caller left the queue without being bridged (hang-up, redirect…).
    LeftQueue { reason: String },
    /// A call leg was put on hold.
    HoldStarted {
        call_sid: Option<String>,
        by_user_id: Option<String>,
        reason: SessionHoldReasons,
        queue_name: Option<String>,
    },
    /// A held call leg was taken off hold.
    HoldEnded { call_sid: Option<String> },
    /// A transfer to another party began (the caller waits on hold).
    TransferStarted {
        by_user_id: Option<String>,
        target: Party,
        /// Blind transfers drop the transferring agent when the target answers.
        blind: bool,
    },
    /// A participant joined the session's conference.
    ConferenceJoined {
        conference_sid: String,
        call_sid: String,
        party: Option<Party>,
        muted: bool,
        hold: bool,
    },
    /// A participant's mute or hold flag changed.
    ParticipantChanged {
        conference_sid: String,
        call_sid: String,
        muted: Option<bool>,
        hold: Option<bool>,
    },
    /// A participant left the conference.
    ConferenceLeft {
        conference_sid: String,
        call_sid: String,
    },
    /// The conference ended.
    ConferenceEnded { conference_sid: String },
    /// A chat message arrived.
    MessageReceived { from: String, body: String },
    /// The agent console stored data on the session.
    ConsoleData { data: String },
    /// The session was ended from outside (reconciler, maximum age).
    Ended { outcome: String, reason: String },
}

impl SessionEvent {
    /// The identity of the event: two deliveries with the same key are the
    /// same event, and the second changes nothing.
    pub fn dedupe_key(&self) -> String {
        match &self.source {
            EventSource::Call {
                call_sid,
                sequence: Some(sequence),
            } => format!("call:{call_sid}:{sequence}"),
            EventSource::Call {
                call_sid,
                sequence: None,
            } => {
                format!("call:{call_sid}:{}", self.kind_key())
            }
            EventSource::Conference {
                conference_sid,
                sequence: Some(sequence),
            } => format!("conf:{conference_sid}:{sequence}"),
            EventSource::Conference {
                conference_sid,
                sequence: None,
            } => format!("conf:{conference_sid}:{}", self.kind_key()),
            EventSource::Message { message_sid } => format!("msg:{message_sid}"),
            EventSource::Internal { id } => format!("int:{id}"),
        }
    }

    /// A description of the event's content, used to identify events whose
    /// source does not number them.
    fn kind_key(&self) -> String {
        match &self.kind {
            EventKind::CallStatus {
                call_sid, status, ..
            } => format!("status:{call_sid}:{}", status.as_str()),
            EventKind::Enqueued { queue_name } => format!("enqueued:{queue_name}"),
            EventKind::LeftQueue { reason } => format!("left-queue:{reason}"),
            EventKind::ConferenceJoined { call_sid, .. } => format!("join:{call_sid}"),
            EventKind::ConferenceLeft { call_sid, .. } => format!("leave:{call_sid}"),
            EventKind::ConferenceEnded { .. } => "conference-end".to_string(),
            other => format!(
                "{:?}@{}",
                std::mem::discriminant(other),
                self.at.timestamp_millis()
            ),
        }
    }

    /// The canonical order of events: by time at the source, then by the
    /// source's own sequence, then by progress rank, then by key. Whatever
    /// order events arrive in, the reducer folds them in this order, so any
    /// permutation of the same events gives the same session.
    pub fn order_key(&self) -> (DateTime<Utc>, u32, u8, String) {
        let sequence = match &self.source {
            EventSource::Call { sequence, .. } | EventSource::Conference { sequence, .. } => {
                sequence.unwrap_or(0)
            }
            _ => 0,
        };
        let rank = match &self.kind {
            EventKind::CallStatus { status, .. } => status.rank(),
            _ => 0,
        };
        (self.at, sequence, rank, self.dedupe_key())
    }
}
