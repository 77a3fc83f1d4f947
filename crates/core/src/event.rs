//! Session events: everything that can happen to a session, in telephony
//! terms but independent of Twilio's wire format. Adapters (the Twilio
//! webhooks, the demo, the reconciler) translate what they see into these.
//!
//! Twilio reports a call as several independent streams (see
//! `docs`/`ARCHITECTURE.md`, "Ordering and duplicates"):
//! - each call leg's progress, ordered by that leg's own `SequenceNumber`;
//! - each conference, ordered by the conference's `SequenceNumber`;
//! - the voice webhook, which opens the session and ranks first on the root leg;
//! - the `<Dial action>` and `<Enqueue action>` requests (and the `<Queue url>`
//!   request of a dequeue), which have no order key but end what they report on;
//! - agents' requests through evo-voice, and evo-voice's own decisions.
//!
//! Sequence numbers are only ever compared within one stream, and a server
//! clock never orders a Twilio stream.
//!
//! Every persisted name is spelled explicitly (`#[serde(rename)]`, and the
//! `tag()` strings used in dedupe keys), so reordering or renaming Rust
//! declarations never changes what is stored.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::api::sessions::{SessionHoldReasons, SessionMemberRoles};
use crate::ids::{CallSid, ConferenceSid, EndpointId, MessageSid, QueueSid, UserId};

/// One thing that happened to a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionEvent {
    /// When it happened: Twilio's `Timestamp` where the request has one
    /// (`clock` = `twilio`), else when evo-voice received it.
    pub at: DateTime<Utc>,
    /// Which clock `at` comes from.
    #[serde(default)]
    pub clock: Clock,
    /// Where it came from; identifies duplicates.
    pub source: EventSource,
    /// What happened.
    pub kind: EventKind,
}

/// Which clock stamped an event. Twilio's has one-second resolution and may
/// be seconds off evo-voice's; the two are never used to order each other's
/// streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Clock {
    /// Twilio's `Timestamp` (RFC 2822, one-second resolution).
    #[serde(rename = "twilio")]
    Twilio,
    /// evo-voice's clock, when the request has no `Timestamp`.
    #[default]
    #[serde(rename = "server")]
    Server,
}

/// The origin of an event: the request (or actor) that reported it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventSource {
    /// The voice webhook (the number's or TwiML App's Voice URL) of the root
    /// call: opens the session and ranks first on the root leg.
    #[serde(rename = "Voice")]
    Voice { call_sid: CallSid },
    /// A call-progress status callback (`CallbackSource=call-progress-events`)
    /// of one leg, root or child, with the leg's `SequenceNumber`.
    #[serde(rename = "Call")]
    Call {
        call_sid: CallSid,
        sequence: Option<u32>,
    },
    /// A conference status callback, with the conference's `SequenceNumber`.
    #[serde(rename = "Conference")]
    Conference {
        conference_sid: ConferenceSid,
        sequence: Option<u32>,
    },
    /// The `<Dial action>` request of the call `call_sid` (the parent).
    #[serde(rename = "Dial")]
    Dial { call_sid: CallSid },
    /// A queue request about the caller `call_sid`: the `<Enqueue action>`,
    /// or the `<Queue url>` request of a dequeue.
    #[serde(rename = "Queue")]
    Queue { call_sid: CallSid },
    /// An inbound message (SMS/MMS).
    #[serde(rename = "Message")]
    Message { message_sid: MessageSid },
    /// An agent's request through evo-voice's API, with a unique id.
    #[serde(rename = "Agent")]
    Agent { id: String },
    /// Something evo-voice itself decided (reconciler after asking Twilio's
    /// REST API, demo), with a unique id.
    #[serde(rename = "Internal")]
    Internal { id: String },
}

impl EventSource {
    /// The explicit, persisted name of the variant.
    pub fn tag(&self) -> &'static str {
        match self {
            EventSource::Voice { .. } => "voice",
            EventSource::Call { .. } => "call",
            EventSource::Conference { .. } => "conf",
            EventSource::Dial { .. } => "dial",
            EventSource::Queue { .. } => "queue",
            EventSource::Message { .. } => "msg",
            EventSource::Agent { .. } => "agent",
            EventSource::Internal { .. } => "int",
        }
    }
}

/// The progress of one call leg (Twilio's `CallStatus`, spelled as Twilio
/// spells it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum CallProgress {
    #[serde(rename = "queued")]
    Queued,
    #[serde(rename = "initiated")]
    Initiated,
    #[serde(rename = "ringing")]
    Ringing,
    #[serde(rename = "in-progress")]
    InProgress,
    #[serde(rename = "completed")]
    Completed,
    #[serde(rename = "busy")]
    Busy,
    #[serde(rename = "no-answer")]
    NoAnswer,
    #[serde(rename = "failed")]
    Failed,
    #[serde(rename = "canceled")]
    Canceled,
}

impl CallProgress {
    /// Every value, for tests and parsers.
    pub const ALL: [CallProgress; 9] = [
        CallProgress::Queued,
        CallProgress::Initiated,
        CallProgress::Ringing,
        CallProgress::InProgress,
        CallProgress::Completed,
        CallProgress::Busy,
        CallProgress::NoAnswer,
        CallProgress::Failed,
        CallProgress::Canceled,
    ];

    /// Whether the leg is over; terminal progress is final.
    pub fn is_terminal(self) -> bool {
        self.rank() == 4
    }

    /// Order of progress: queued < initiated < ringing < in-progress <
    /// terminal. A leg never moves to a lower rank.
    pub fn rank(self) -> u8 {
        match self {
            CallProgress::Queued => 0,
            CallProgress::Initiated => 1,
            CallProgress::Ringing => 2,
            CallProgress::InProgress => 3,
            CallProgress::Completed
            | CallProgress::Busy
            | CallProgress::NoAnswer
            | CallProgress::Failed
            | CallProgress::Canceled => 4,
        }
    }

    /// Twilio's spelling (`completed`, `no-answer`, …).
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

    /// Parses Twilio's spelling.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == text)
    }
}

/// `DialCallStatus` of a `<Dial action>` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DialCallStatus {
    /// Answered and connected.
    #[serde(rename = "completed")]
    Completed,
    /// Conferences: the called party answered and was connected.
    #[serde(rename = "answered")]
    Answered,
    #[serde(rename = "busy")]
    Busy,
    #[serde(rename = "no-answer")]
    NoAnswer,
    #[serde(rename = "failed")]
    Failed,
    #[serde(rename = "canceled")]
    Canceled,
}

impl DialCallStatus {
    pub const ALL: [DialCallStatus; 6] = [
        DialCallStatus::Completed,
        DialCallStatus::Answered,
        DialCallStatus::Busy,
        DialCallStatus::NoAnswer,
        DialCallStatus::Failed,
        DialCallStatus::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DialCallStatus::Completed => "completed",
            DialCallStatus::Answered => "answered",
            DialCallStatus::Busy => "busy",
            DialCallStatus::NoAnswer => "no-answer",
            DialCallStatus::Failed => "failed",
            DialCallStatus::Canceled => "canceled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether the dialled party answered.
    pub fn answered(self) -> bool {
        matches!(self, DialCallStatus::Completed | DialCallStatus::Answered)
    }
}

/// `QueueResult` of an `<Enqueue action>` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum QueueResult {
    #[serde(rename = "bridged")]
    Bridged,
    #[serde(rename = "bridging-in-process")]
    BridgingInProcess,
    #[serde(rename = "error")]
    Error,
    #[serde(rename = "hangup")]
    Hangup,
    #[serde(rename = "leave")]
    Leave,
    #[serde(rename = "redirected")]
    Redirected,
    #[serde(rename = "redirected-from-bridged")]
    RedirectedFromBridged,
    #[serde(rename = "queue-full")]
    QueueFull,
    #[serde(rename = "system-error")]
    SystemError,
}

impl QueueResult {
    pub const ALL: [QueueResult; 9] = [
        QueueResult::Bridged,
        QueueResult::BridgingInProcess,
        QueueResult::Error,
        QueueResult::Hangup,
        QueueResult::Leave,
        QueueResult::Redirected,
        QueueResult::RedirectedFromBridged,
        QueueResult::QueueFull,
        QueueResult::SystemError,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            QueueResult::Bridged => "bridged",
            QueueResult::BridgingInProcess => "bridging-in-process",
            QueueResult::Error => "error",
            QueueResult::Hangup => "hangup",
            QueueResult::Leave => "leave",
            QueueResult::Redirected => "redirected",
            QueueResult::RedirectedFromBridged => "redirected-from-bridged",
            QueueResult::QueueFull => "queue-full",
            QueueResult::SystemError => "system-error",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// Whether the caller was connected to an agent.
    pub fn bridged(self) -> bool {
        matches!(
            self,
            QueueResult::Bridged
                | QueueResult::BridgingInProcess
                | QueueResult::RedirectedFromBridged
        )
    }
}

/// A conference participant event (`StatusCallbackEvent=participant-*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ParticipantChange {
    #[serde(rename = "participant-join")]
    Join,
    #[serde(rename = "participant-leave")]
    Leave,
    #[serde(rename = "participant-mute")]
    Mute,
    #[serde(rename = "participant-unmute")]
    Unmute,
    #[serde(rename = "participant-hold")]
    Hold,
    #[serde(rename = "participant-unhold")]
    Unhold,
    /// `BeepOnExit`, `EndConferenceOnExit`, `Coaching` or `WaitUrl` changed.
    #[serde(rename = "participant-modify")]
    Modify,
}

impl ParticipantChange {
    pub const ALL: [ParticipantChange; 7] = [
        ParticipantChange::Join,
        ParticipantChange::Leave,
        ParticipantChange::Mute,
        ParticipantChange::Unmute,
        ParticipantChange::Hold,
        ParticipantChange::Unhold,
        ParticipantChange::Modify,
    ];

    /// Twilio's `StatusCallbackEvent` value.
    pub fn as_str(self) -> &'static str {
        match self {
            ParticipantChange::Join => "participant-join",
            ParticipantChange::Leave => "participant-leave",
            ParticipantChange::Mute => "participant-mute",
            ParticipantChange::Unmute => "participant-unmute",
            ParticipantChange::Hold => "participant-hold",
            ParticipantChange::Unhold => "participant-unhold",
            ParticipantChange::Modify => "participant-modify",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == text)
    }
}

/// Who is on a call leg, as far as evo-voice knows (it routes the calls, so
/// it knows which user a child leg rings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    /// The identity on the wire (`client:alice` identity, or a phone number).
    pub identity: String,
    /// The evo-voice endpoint, when the party is one of ours.
    pub endpoint_id: Option<EndpointId>,
    pub display_name: Option<String>,
    pub role: SessionMemberRoles,
}

/// One attachment of an MMS (`MediaUrl{N}`, `MediaContentType{N}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Media {
    pub url: String,
    pub content_type: Option<String>,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    /// A call leg's status (`CallStatus`), from the voice webhook (root leg)
    /// or a status callback. The root leg is the session's `call_sid`; any
    /// other leg is a member's.
    #[serde(rename = "CallStatus")]
    CallStatus {
        call_sid: CallSid,
        status: CallProgress,
        /// Who is on this leg (for legs evo-voice dialled).
        party: Option<Party>,
        /// `CallDuration` (seconds), on terminal callbacks. More than zero
        /// proves the leg was answered, even if its `in-progress` callback
        /// was lost (Twilio error 15002).
        #[serde(default)]
        duration: Option<u32>,
        /// `SipResponseCode` of a terminal callback (487: ring timeout).
        #[serde(default)]
        sip_response_code: Option<u16>,
    },
    /// The voice webhook put the caller in a queue (`<Enqueue>`).
    #[serde(rename = "Enqueued")]
    Enqueued { queue_name: String },
    /// `<Enqueue action>`: the caller left the queue (`QueueResult`,
    /// `QueueSid`, `QueueTime`). With `bridged` it fires when the bridged
    /// call ends. `hangup`: evo-voice answered with `<Hangup/>`, which ends
    /// the root call.
    #[serde(rename = "EnqueueAction")]
    EnqueueAction {
        call_sid: CallSid,
        result: QueueResult,
        queue_sid: Option<QueueSid>,
        queue_time: Option<u32>,
        hangup: bool,
    },
    /// `<Dial><Queue>`: the agent's call `dequeuing_call_sid`
    /// (`DequeingCallSid`) took the caller `call_sid` out of the queue.
    #[serde(rename = "Dequeued")]
    Dequeued {
        call_sid: CallSid,
        dequeuing_call_sid: CallSid,
        queue_sid: Option<QueueSid>,
        queue_time: Option<u32>,
        /// The agent, when evo-voice knows who dequeued.
        party: Option<Party>,
    },
    /// `<Dial action>`: the dialled leg ended (`DialCallStatus`,
    /// `DialCallSid`, `DialCallDuration`, `DialBridged`). `hangup`:
    /// evo-voice answered with `<Hangup/>`, which ends the root call.
    #[serde(rename = "DialAction")]
    DialAction {
        call_sid: CallSid,
        status: DialCallStatus,
        dial_call_sid: Option<CallSid>,
        dial_call_duration: Option<u32>,
        bridged: Option<bool>,
        /// Who the dialled leg reached, when evo-voice knows.
        party: Option<Party>,
        hangup: bool,
    },
    /// An agent put a call leg on hold (`call_sid` None: the caller).
    #[serde(rename = "HoldStarted")]
    HoldStarted {
        call_sid: Option<CallSid>,
        by_user_id: Option<UserId>,
        reason: SessionHoldReasons,
        queue_name: Option<String>,
    },
    /// An agent took a held call leg off hold.
    #[serde(rename = "HoldEnded")]
    HoldEnded { call_sid: Option<CallSid> },
    /// A transfer to another party began (the caller waits on hold).
    #[serde(rename = "TransferStarted")]
    TransferStarted {
        by_user_id: Option<UserId>,
        target: Party,
        /// Blind transfers drop the transferring agent when the target answers.
        blind: bool,
    },
    /// An agent asked evo-voice to end the call (logged; the end itself is
    /// what Twilio then reports).
    #[serde(rename = "HangupRequested")]
    HangupRequested { by_user_id: Option<UserId> },
    /// An agent action Twilio carried out only in part (the call moved into
    /// a conference, the new member's dial refused): logged, nothing else.
    #[serde(rename = "ActionFailed")]
    ActionFailed {
        by_user_id: Option<UserId>,
        /// What was asked (`Warm transfer to +1555…`).
        action: String,
        /// Twilio's code and message.
        error: String,
    },
    /// `conference-start`.
    #[serde(rename = "ConferenceStarted")]
    ConferenceStarted { conference_sid: ConferenceSid },
    /// A `participant-*` conference event. The participant is its leg
    /// (`CallSid`), else its `ParticipantLabel`. Flags are the participant's
    /// state after the event, where Twilio sent them.
    #[serde(rename = "Participant")]
    Participant {
        conference_sid: ConferenceSid,
        change: ParticipantChange,
        call_sid: Option<CallSid>,
        label: Option<String>,
        /// Who the participant is, when evo-voice knows.
        party: Option<Party>,
        muted: Option<bool>,
        hold: Option<bool>,
        coaching: Option<bool>,
    },
    /// `conference-end`.
    #[serde(rename = "ConferenceEnded")]
    ConferenceEnded {
        conference_sid: ConferenceSid,
        /// `ReasonConferenceEnded`.
        reason: Option<String>,
    },
    /// An inbound message; MMS media are kept, not dropped.
    #[serde(rename = "MessageReceived")]
    MessageReceived {
        from: String,
        body: String,
        #[serde(default)]
        media: Vec<Media>,
    },
    /// The agent console stored data on the session.
    #[serde(rename = "ConsoleData")]
    ConsoleData { data: String },
    /// The session was ended from outside (the reconciler after asking
    /// Twilio's REST API, maximum age, a closed conversation).
    #[serde(rename = "Ended")]
    Ended { outcome: String, reason: String },
}

impl EventKind {
    /// The explicit, persisted name of the variant (same as its serde tag).
    pub fn tag(&self) -> &'static str {
        match self {
            EventKind::CallStatus { .. } => "CallStatus",
            EventKind::Enqueued { .. } => "Enqueued",
            EventKind::EnqueueAction { .. } => "EnqueueAction",
            EventKind::Dequeued { .. } => "Dequeued",
            EventKind::DialAction { .. } => "DialAction",
            EventKind::HoldStarted { .. } => "HoldStarted",
            EventKind::HoldEnded { .. } => "HoldEnded",
            EventKind::TransferStarted { .. } => "TransferStarted",
            EventKind::HangupRequested { .. } => "HangupRequested",
            EventKind::ActionFailed { .. } => "ActionFailed",
            EventKind::ConferenceStarted { .. } => "ConferenceStarted",
            EventKind::Participant { .. } => "Participant",
            EventKind::ConferenceEnded { .. } => "ConferenceEnded",
            EventKind::MessageReceived { .. } => "MessageReceived",
            EventKind::ConsoleData { .. } => "ConsoleData",
            EventKind::Ended { .. } => "Ended",
        }
    }
}

impl SessionEvent {
    /// The identity of the event: two deliveries with the same key are the
    /// same event (a retry), and the second changes nothing. Built from
    /// explicit strings only.
    pub fn dedupe_key(&self) -> String {
        let source = self.source.tag();
        match &self.source {
            EventSource::Call {
                call_sid,
                sequence: Some(sequence),
            } => format!("{source}:{call_sid}:{sequence}"),
            EventSource::Conference {
                conference_sid,
                sequence: Some(sequence),
            } => format!("{source}:{conference_sid}:{sequence}"),
            EventSource::Call { call_sid, .. }
            | EventSource::Voice { call_sid }
            | EventSource::Dial { call_sid }
            | EventSource::Queue { call_sid } => {
                format!("{source}:{call_sid}:{}", self.content_key())
            }
            EventSource::Conference { conference_sid, .. } => {
                format!("{source}:{conference_sid}:{}", self.content_key())
            }
            EventSource::Message { message_sid } => format!("{source}:{message_sid}"),
            EventSource::Agent { id } | EventSource::Internal { id } => format!("{source}:{id}"),
        }
    }

    /// The event's content, identifying events whose source does not number
    /// them (one per thing that can happen once per source).
    fn content_key(&self) -> String {
        let tag = self.kind.tag();
        match &self.kind {
            EventKind::CallStatus {
                call_sid, status, ..
            } => format!("{tag}:{call_sid}:{}", status.as_str()),
            EventKind::Enqueued { queue_name } => format!("{tag}:{queue_name}"),
            EventKind::EnqueueAction { result, .. } => format!("{tag}:{}", result.as_str()),
            EventKind::Dequeued {
                dequeuing_call_sid, ..
            } => format!("{tag}:{dequeuing_call_sid}"),
            EventKind::DialAction {
                status,
                dial_call_sid,
                ..
            } => format!(
                "{tag}:{}:{}",
                dial_call_sid.as_deref().unwrap_or(""),
                status.as_str()
            ),
            EventKind::Participant {
                change,
                call_sid,
                label,
                ..
            } => format!(
                "{tag}:{}:{}:{}",
                change.as_str(),
                call_sid.as_deref().unwrap_or(""),
                label.as_deref().unwrap_or("")
            ),
            EventKind::ConferenceStarted { .. } | EventKind::ConferenceEnded { .. } => {
                tag.to_string()
            }
            // Agent and internal events carry unique ids; messages their SID.
            _ => format!("{tag}@{}", self.at.timestamp_millis()),
        }
    }
}
