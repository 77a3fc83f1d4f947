//! Typed webhooks ([`crate::webhook`]) → core session events
//! (`evo_core::event`). The adapter's rules live here once: the server's
//! webhook handlers and the corpus tests both call these functions.
//!
//! Rules:
//! - an event is stamped with Twilio's `Timestamp` (`Clock::Twilio`) when
//!   the request has one, else with the time evo-voice received it
//!   (`Clock::Server`);
//! - the voice webhook is the `Voice` source of the root leg; status
//!   callbacks are `Call` with the leg's `SequenceNumber`; conference
//!   callbacks are `Conference` with the conference's `SequenceNumber`;
//!   `<Dial action>` is `Dial`; `<Enqueue action>` and the `<Queue url>`
//!   request of a dequeue are `Queue`;
//! - `hangup` on a `DialAction`/`EnqueueAction` is true only when evo-voice
//!   answers that request with `<Hangup/>` (the caller decides and says so);
//! - conference participants are their leg (`CallSid`) else their
//!   `ParticipantLabel` (`customer`, `agent:<user>`, `transfer:<user>`);
//!   the callback URL's `user` (the first participant's, as Twilio keeps
//!   the first participant's URL) never names them;
//! - a status word this version does not know produces no event (it is
//!   acknowledged and kept out of the way), never an error.
//!
//! Who a party is (a user's display name) needs the directory, so the
//! caller resolves it and passes it in; [`participant_label`] and
//! [`label_user`] are the label convention both directions use.

use chrono::{DateTime, Utc};
use evo_core::api::sessions::SessionMemberRoles;
use evo_core::event::{
    CallProgress, Clock, DialCallStatus, EventKind, EventSource, Media, ParticipantChange, Party,
    QueueResult, SessionEvent,
};
use evo_core::ids::UserId;

use crate::webhook::{
    ConferenceEvent, DequeueRequest, DialAction, InboundMessage, QueueAction, StatusCallback,
    VoiceRequest,
};

/// The label of the caller's leg in a conference.
pub const CUSTOMER_LABEL: &str = "customer";

/// The `ParticipantLabel` evo-voice gives a user's leg when it adds it to a
/// conference: `agent:<user>` (an agent) or `transfer:<user>` (the target
/// of a transfer).
pub fn participant_label(role: SessionMemberRoles, user_id: &UserId) -> String {
    match role {
        SessionMemberRoles::Transfer => format!("transfer:{user_id}"),
        _ => format!("agent:{user_id}"),
    }
}

/// The user and role a `ParticipantLabel` names, if it names one.
pub fn label_user(label: &str) -> Option<(SessionMemberRoles, &str)> {
    if let Some(user) = label.strip_prefix("agent:") {
        return Some((SessionMemberRoles::Agent, user)).filter(|(_, u)| !u.is_empty());
    }
    label
        .strip_prefix("transfer:")
        .filter(|u| !u.is_empty())
        .map(|user| (SessionMemberRoles::Transfer, user))
}

/// Twilio's `Timestamp`, else the server's clock at `received_at`.
pub fn stamp(
    timestamp: Option<DateTime<Utc>>,
    received_at: DateTime<Utc>,
) -> (DateTime<Utc>, Clock) {
    match timestamp {
        Some(at) => (at, Clock::Twilio),
        None => (received_at, Clock::Server),
    }
}

fn event(at: (DateTime<Utc>, Clock), source: EventSource, kind: EventKind) -> SessionEvent {
    SessionEvent {
        at: at.0,
        clock: at.1,
        source,
        kind,
    }
}

fn progress(status: &crate::status::CallStatus) -> Option<CallProgress> {
    CallProgress::parse(status.as_str())
}

fn small(value: Option<u64>) -> Option<u32> {
    value.and_then(|v| u32::try_from(v).ok())
}

/// The voice webhook of the root call: its first observation, ranked first
/// on its leg. `None` when `CallStatus` is a word this version does not know.
pub fn voice(request: &VoiceRequest, received_at: DateTime<Utc>) -> Option<SessionEvent> {
    let call_sid = request.call.call_sid.clone();
    Some(event(
        stamp(None, received_at),
        EventSource::Voice {
            call_sid: call_sid.clone(),
        },
        EventKind::CallStatus {
            call_sid,
            status: progress(&request.call.call_status)?,
            party: None,
            duration: None,
            sip_response_code: None,
        },
    ))
}

/// The voice webhook put the caller in `queue_name` (`<Enqueue>`).
pub fn enqueued(
    request: &VoiceRequest,
    queue_name: &str,
    received_at: DateTime<Utc>,
) -> SessionEvent {
    event(
        stamp(None, received_at),
        EventSource::Voice {
            call_sid: request.call.call_sid.clone(),
        },
        EventKind::Enqueued {
            queue_name: queue_name.to_string(),
        },
    )
}

/// The party a status callback of a `<Dial><Number>` leg reaches: the
/// number dialled (`To`), for the callback URLs marked `party=callee`.
pub fn callee(callback: &StatusCallback) -> Option<Party> {
    callback.call.to.as_ref().map(|to| Party {
        identity: to.clone(),
        endpoint_id: None,
        display_name: None,
        role: SessionMemberRoles::Caller,
    })
}

/// A call-progress status callback of one leg. `party`: who the leg rings,
/// when evo-voice dialled it.
pub fn status(
    callback: &StatusCallback,
    party: Option<Party>,
    received_at: DateTime<Utc>,
) -> Option<SessionEvent> {
    let call_sid = callback.call.call_sid.clone();
    Some(event(
        stamp(callback.timestamp, received_at),
        EventSource::Call {
            call_sid: call_sid.clone(),
            sequence: small(callback.sequence_number),
        },
        EventKind::CallStatus {
            call_sid,
            status: progress(&callback.call.call_status)?,
            party,
            duration: small(callback.call_duration),
            sip_response_code: callback.sip_response_code,
        },
    ))
}

/// A `<Dial action>` request. `hangup`: evo-voice answers it with
/// `<Hangup/>`. `None` for a `DialCallStatus` this version does not know.
pub fn dial_action(
    action: &DialAction,
    party: Option<Party>,
    hangup: bool,
    received_at: DateTime<Utc>,
) -> Option<SessionEvent> {
    let call_sid = action.call.call_sid.clone();
    Some(event(
        stamp(None, received_at),
        EventSource::Dial {
            call_sid: call_sid.clone(),
        },
        EventKind::DialAction {
            call_sid,
            status: DialCallStatus::parse(action.dial_call_status.as_str())?,
            dial_call_sid: action.dial_call_sid.clone(),
            dial_call_duration: small(action.dial_call_duration),
            bridged: action.dial_bridged,
            party,
            hangup,
        },
    ))
}

/// An `<Enqueue action>` request. `hangup`: evo-voice answers it with
/// `<Hangup/>`. `None` for a `QueueResult` this version does not know.
pub fn enqueue_action(
    action: &QueueAction,
    hangup: bool,
    received_at: DateTime<Utc>,
) -> Option<SessionEvent> {
    let call_sid = action.call.call_sid.clone();
    Some(event(
        stamp(None, received_at),
        EventSource::Queue {
            call_sid: call_sid.clone(),
        },
        EventKind::EnqueueAction {
            call_sid,
            result: QueueResult::parse(action.queue_result.as_str())?,
            queue_sid: action.queue_sid.clone(),
            queue_time: small(action.queue_time),
            hangup,
        },
    ))
}

/// The `<Dial><Queue url>` request: the agent's call (`DequeingCallSid`)
/// took the caller (`CallSid`) out of the queue. `party`: the agent.
pub fn dequeued(
    request: &DequeueRequest,
    party: Option<Party>,
    received_at: DateTime<Utc>,
) -> SessionEvent {
    let call_sid = request.call.call_sid.clone();
    event(
        stamp(None, received_at),
        EventSource::Queue {
            call_sid: call_sid.clone(),
        },
        EventKind::Dequeued {
            call_sid,
            dequeuing_call_sid: request.dequeing_call_sid.clone(),
            queue_sid: request.queue_sid.clone(),
            queue_time: small(request.queue_time),
            party,
        },
    )
}

/// A conference status callback. `party`: who the participant is, resolved
/// by the caller from the `ParticipantLabel` ([`label_user`]). `None` for
/// events that do not change a session (speech, announcements, unknown).
pub fn conference(
    callback: &ConferenceEvent,
    party: Option<Party>,
    received_at: DateTime<Utc>,
) -> Option<SessionEvent> {
    use crate::status::StatusCallbackEvent as E;
    let conference_sid = callback.conference_sid.clone();
    let kind = match &callback.event {
        E::ConferenceStart => EventKind::ConferenceStarted { conference_sid },
        E::ConferenceEnd => EventKind::ConferenceEnded {
            conference_sid,
            reason: callback
                .reason_conference_ended
                .as_ref()
                .map(|r| r.as_str().to_string()),
        },
        other => EventKind::Participant {
            conference_sid,
            change: ParticipantChange::parse(other.as_str())?,
            call_sid: callback.call_sid.clone(),
            label: callback.participant_label.clone(),
            party,
            muted: callback.muted,
            hold: callback.hold,
            coaching: callback.coaching,
        },
    };
    Some(event(
        stamp(callback.timestamp, received_at),
        EventSource::Conference {
            conference_sid: callback.conference_sid.clone(),
            sequence: small(callback.sequence_number),
        },
        kind,
    ))
}

/// An inbound message, its media kept.
pub fn message(message: &InboundMessage, received_at: DateTime<Utc>) -> SessionEvent {
    event(
        stamp(None, received_at),
        EventSource::Message {
            message_sid: message.message_sid.clone(),
        },
        EventKind::MessageReceived {
            from: message.from.clone(),
            body: message.body.clone(),
            media: message
                .media
                .iter()
                .map(|m| Media {
                    url: m.url.clone(),
                    content_type: m.content_type.clone(),
                })
                .collect(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::FormParams;

    fn params(pairs: &[(&str, &str)]) -> FormParams {
        FormParams::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn labels_round_trip_and_odd_labels_name_nobody() {
        let label = participant_label(SessionMemberRoles::Transfer, &"u2".into());
        assert_eq!(label, "transfer:u2");
        assert_eq!(
            label_user(&label),
            Some((SessionMemberRoles::Transfer, "u2"))
        );
        assert_eq!(
            label_user("agent:u1"),
            Some((SessionMemberRoles::Agent, "u1"))
        );
        assert_eq!(label_user("customer"), None);
        assert_eq!(label_user("agent:"), None);
    }

    // Parameters from https://www.twilio.com/docs/voice/twiml/dial#action
    #[test]
    fn a_dial_action_says_whether_we_hung_up_and_unknown_words_produce_nothing() {
        let now = Utc::now();
        let p = params(&[
            ("AccountSid", "AC1"),
            ("CallSid", "CA1"),
            ("CallStatus", "in-progress"),
            ("DialCallStatus", "no-answer"),
            ("DialCallSid", "CA2"),
            ("DialCallDuration", "0"),
        ]);
        let action = DialAction::parse(&p).unwrap();
        let event = dial_action(&action, None, true, now).unwrap();
        assert_eq!(event.clock, Clock::Server);
        assert!(matches!(
            event.kind,
            EventKind::DialAction {
                status: DialCallStatus::NoAnswer,
                hangup: true,
                ..
            }
        ));
        let p = params(&[
            ("AccountSid", "AC1"),
            ("CallSid", "CA1"),
            ("CallStatus", "in-progress"),
            ("DialCallStatus", "teleported"),
        ]);
        assert_eq!(
            dial_action(&DialAction::parse(&p).unwrap(), None, true, now),
            None
        );
    }

    // Parameters from https://www.twilio.com/docs/voice/twiml/conference#attributes-status-callback-parameters
    #[test]
    fn a_participant_is_its_leg_and_label_with_twilios_clock() {
        let p = params(&[
            ("AccountSid", "AC1"),
            ("ConferenceSid", "CF1"),
            ("FriendlyName", "ses-1"),
            ("StatusCallbackEvent", "participant-hold"),
            ("CallSid", "CA9"),
            ("ParticipantLabel", "agent:u2"),
            ("Hold", "true"),
            ("SequenceNumber", "4"),
            ("Timestamp", "Thu, 1 Jun 2017 20:48:32 +0000"),
        ]);
        let e = conference(&ConferenceEvent::parse(&p).unwrap(), None, Utc::now()).unwrap();
        assert_eq!(e.clock, Clock::Twilio);
        assert_eq!(
            e.source,
            EventSource::Conference {
                conference_sid: "CF1".into(),
                sequence: Some(4)
            }
        );
        match e.kind {
            EventKind::Participant {
                change,
                call_sid,
                label,
                hold,
                ..
            } => {
                assert_eq!(change, ParticipantChange::Hold);
                assert_eq!(call_sid.as_deref(), Some("CA9"));
                assert_eq!(label.as_deref(), Some("agent:u2"));
                assert_eq!(hold, Some(true));
            }
            other => panic!("{other:?}"),
        }
    }
}
