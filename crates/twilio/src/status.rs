//! Every status word Twilio sends, in one place.
//!
//! Each enum parses with [`std::str::FromStr`] (never failing: a value
//! Twilio adds later is kept as `Other(String)`) and prints back with
//! `as_str`, so a round trip is lossless. Serde (de)serialises the same
//! strings, so REST resources can use these types directly.
//!
//! Sources (see /work/shared/reference/twilio.md): CallStatus
//! <https://www.twilio.com/docs/voice/twiml#callstatus-values>; DialCallStatus
//! <https://www.twilio.com/docs/voice/twiml/dial#dialcallstatus>; QueueResult
//! <https://www.twilio.com/docs/voice/twiml/enqueue>; conference events
//! <https://www.twilio.com/docs/voice/twiml/conference#attributes-status-callback-event>;
//! AMD <https://www.twilio.com/docs/voice/answering-machine-detection>;
//! messaging <https://www.twilio.com/docs/messaging/guides/webhook-request>.

use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;

macro_rules! twilio_enum {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this version does not know (Twilio adds values).
            Other(String),
        }

        impl $name {
            /// Every documented value, in documentation order.
            pub const KNOWN: &'static [&'static str] = &[$($text),+];

            /// Parses a value; unknown values become `Other`.
            pub fn parse(text: &str) -> Self {
                match text {
                    $( $text => $name::$variant, )+
                    other => $name::Other(other.to_string()),
                }
            }

            /// The value as Twilio spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $text, )+
                    $name::Other(other) => other.as_str(),
                }
            }

            /// Whether this is a documented value.
            pub fn is_known(&self) -> bool {
                !matches!(self, $name::Other(_))
            }
        }

        impl FromStr for $name {
            type Err = Infallible;
            fn from_str(text: &str) -> Result<Self, Infallible> {
                Ok($name::parse(text))
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> Self {
                $name::parse(text)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                Ok($name::parse(&text))
            }
        }
    };
}

twilio_enum! {
    /// A call's status (`CallStatus` in webhooks, `status` on the Call
    /// resource, `ParticipantCallStatus` on conference leave events).
    CallStatus {
        Queued = "queued",
        Initiated = "initiated",
        Ringing = "ringing",
        InProgress = "in-progress",
        Completed = "completed",
        Busy = "busy",
        Failed = "failed",
        NoAnswer = "no-answer",
        Canceled = "canceled",
    }
}

impl CallStatus {
    /// The call is over; no later status can follow.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            CallStatus::Completed
                | CallStatus::Busy
                | CallStatus::Failed
                | CallStatus::NoAnswer
                | CallStatus::Canceled
        )
    }

    /// Progress rank for ordering observations that carry no
    /// `SequenceNumber`: queued < initiated < ringing < in-progress <
    /// terminal. Unknown values rank lowest (they never overtake a known
    /// state).
    pub fn rank(&self) -> u8 {
        match self {
            CallStatus::Other(_) => 0,
            CallStatus::Queued => 1,
            CallStatus::Initiated => 2,
            CallStatus::Ringing => 3,
            CallStatus::InProgress => 4,
            _ => 5,
        }
    }
}

twilio_enum! {
    /// `DialCallStatus` on a `<Dial action>` request; `answered` is sent
    /// for conferences.
    DialCallStatus {
        Completed = "completed",
        Answered = "answered",
        Busy = "busy",
        NoAnswer = "no-answer",
        Failed = "failed",
        Canceled = "canceled",
        // Not in the DialCallStatus table, but the same vocabulary as
        // CallStatus is used; kept so they never land in `Other`.
        Queued = "queued",
        Initiated = "initiated",
        Ringing = "ringing",
        InProgress = "in-progress",
    }
}

twilio_enum! {
    /// `QueueResult` on an `<Enqueue action>` request.
    QueueResult {
        Bridged = "bridged",
        BridgingInProcess = "bridging-in-process",
        Error = "error",
        Hangup = "hangup",
        Leave = "leave",
        Redirected = "redirected",
        RedirectedFromBridged = "redirected-from-bridged",
        QueueFull = "queue-full",
        SystemError = "system-error",
    }
}

twilio_enum! {
    /// A conference status callback's `StatusCallbackEvent`.
    StatusCallbackEvent {
        ConferenceStart = "conference-start",
        ConferenceEnd = "conference-end",
        ParticipantJoin = "participant-join",
        ParticipantLeave = "participant-leave",
        ParticipantMute = "participant-mute",
        ParticipantUnmute = "participant-unmute",
        ParticipantHold = "participant-hold",
        ParticipantUnhold = "participant-unhold",
        ParticipantModify = "participant-modify",
        ParticipantSpeechStart = "participant-speech-start",
        ParticipantSpeechStop = "participant-speech-stop",
        AnnouncementEnd = "announcement-end",
        AnnouncementFail = "announcement-fail",
        /// Deprecated; sent in `EventName` when no recordingStatusCallback is set.
        ConferenceRecordEnd = "conference-record-end",
    }
}

impl StatusCallbackEvent {
    /// Events about one participant (they carry `CallSid`).
    pub fn is_participant_event(&self) -> bool {
        self.as_str().starts_with("participant-")
    }
}

twilio_enum! {
    /// Call progress events one subscribes to with `StatusCallbackEvent`
    /// on `POST /Calls` or `statusCallbackEvent` on `<Number>`/`<Client>`/`<Sip>`.
    CallProgressEvent {
        Initiated = "initiated",
        Ringing = "ringing",
        Answered = "answered",
        Completed = "completed",
    }
}

twilio_enum! {
    /// Conference event groups one subscribes to (`statusCallbackEvent` on
    /// `<Conference>`, `ConferenceStatusCallbackEvent` on the Participants API).
    ConferenceEventGroup {
        Start = "start",
        End = "end",
        Join = "join",
        Leave = "leave",
        Mute = "mute",
        Hold = "hold",
        Modify = "modify",
        Speaker = "speaker",
        Announcement = "announcement",
    }
}

twilio_enum! {
    /// A call's `Direction`.
    Direction {
        Inbound = "inbound",
        OutboundApi = "outbound-api",
        OutboundDial = "outbound-dial",
        TrunkingOriginating = "trunking-originating",
        TrunkingTerminating = "trunking-terminating",
    }
}

twilio_enum! {
    /// Answering machine detection result (`AnsweredBy`); snake_case.
    AnsweredBy {
        Human = "human",
        MachineStart = "machine_start",
        MachineEndBeep = "machine_end_beep",
        MachineEndSilence = "machine_end_silence",
        MachineEndOther = "machine_end_other",
        Fax = "fax",
        Unknown = "unknown",
    }
}

twilio_enum! {
    /// `ReasonConferenceEnded` on `conference-end`; kebab-case.
    ReasonConferenceEnded {
        ConferenceEndedViaApi = "conference-ended-via-api",
        LastParticipantLeft = "last-participant-left",
        LastParticipantKicked = "last-participant-kicked",
        ParticipantWithEndConferenceOnExitLeft = "participant-with-end-conference-on-exit-left",
        ParticipantWithEndConferenceOnExitKicked = "participant-with-end-conference-on-exit-kicked",
    }
}

twilio_enum! {
    /// `ReasonParticipantLeft` on `participant-leave`; snake_case.
    ReasonParticipantLeft {
        ConferenceEndedViaApi = "conference_ended_via_api",
        ModeratorEndedConference = "moderator_ended_conference",
        ParticipantUpdatedViaApi = "participant_updated_via_api",
        ParticipantHungUp = "participant_hung_up",
        ParticipantAddFailed = "participant_add_failed",
    }
}

twilio_enum! {
    /// A message's status (`SmsStatus`/`MessageStatus` in webhooks).
    MessageStatus {
        Accepted = "accepted",
        Scheduled = "scheduled",
        Queued = "queued",
        Sending = "sending",
        Sent = "sent",
        Delivered = "delivered",
        Undelivered = "undelivered",
        Failed = "failed",
        Read = "read",
        Receiving = "receiving",
        Received = "received",
        PartiallyDelivered = "partially_delivered",
        Canceled = "canceled",
    }
}

twilio_enum! {
    /// `RecordingStatus` on a recording status callback.
    RecordingStatus {
        InProgress = "in-progress",
        Completed = "completed",
        Absent = "absent",
        Failed = "failed",
    }
}

twilio_enum! {
    /// A conference participant's `status` on the REST resource.
    ParticipantStatus {
        Queued = "queued",
        Connecting = "connecting",
        Ringing = "ringing",
        Connected = "connected",
        Complete = "complete",
        Failed = "failed",
    }
}

twilio_enum! {
    /// A conference's `status` on the REST resource.
    ConferenceStatus {
        Init = "init",
        InProgress = "in-progress",
        Completed = "completed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_value_round_trips() {
        fn check<T: FromStr<Err = Infallible> + fmt::Display>(known: &[&str]) {
            for text in known {
                let value: T = text.parse().unwrap();
                assert_eq!(value.to_string(), *text);
            }
        }
        check::<CallStatus>(CallStatus::KNOWN);
        check::<DialCallStatus>(DialCallStatus::KNOWN);
        check::<QueueResult>(QueueResult::KNOWN);
        check::<StatusCallbackEvent>(StatusCallbackEvent::KNOWN);
        check::<Direction>(Direction::KNOWN);
        check::<AnsweredBy>(AnsweredBy::KNOWN);
        check::<ReasonConferenceEnded>(ReasonConferenceEnded::KNOWN);
        check::<ReasonParticipantLeft>(ReasonParticipantLeft::KNOWN);
        check::<MessageStatus>(MessageStatus::KNOWN);
        check::<ParticipantStatus>(ParticipantStatus::KNOWN);
        assert!(CallStatus::parse("no-answer").is_known());
    }

    #[test]
    fn unknown_values_are_kept_not_rejected() {
        let value = CallStatus::parse("answered-by-robot");
        assert_eq!(value, CallStatus::Other("answered-by-robot".into()));
        assert_eq!(value.as_str(), "answered-by-robot");
        assert!(!value.is_known());
        assert!(!value.is_terminal());
        assert_eq!(value.rank(), 0);
    }

    #[test]
    fn terminal_set_and_rank_follow_twilio_md() {
        let terminal: Vec<&str> = CallStatus::KNOWN
            .iter()
            .copied()
            .filter(|s| CallStatus::parse(s).is_terminal())
            .collect();
        assert_eq!(
            terminal,
            ["completed", "busy", "failed", "no-answer", "canceled"]
        );
        assert!(CallStatus::Queued.rank() < CallStatus::Initiated.rank());
        assert!(CallStatus::Ringing.rank() < CallStatus::InProgress.rank());
        assert!(CallStatus::InProgress.rank() < CallStatus::Busy.rank());
    }

    #[test]
    fn serde_uses_twilio_spelling() {
        let json = serde_json::to_string(&AnsweredBy::MachineEndBeep).unwrap();
        assert_eq!(json, "\"machine_end_beep\"");
        let back: CallStatus = serde_json::from_str("\"in-progress\"").unwrap();
        assert_eq!(back, CallStatus::InProgress);
        assert!(StatusCallbackEvent::ParticipantHold.is_participant_event());
        assert!(!StatusCallbackEvent::ConferenceEnd.is_participant_event());
    }
}
