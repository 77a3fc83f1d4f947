//! Typed parsing of *verified* webhook parameters, one struct per request
//! kind. Parse only after [`crate::signature::validate`] succeeded: the
//! parsers trust nothing but also check nothing about authenticity.
//!
//! Rules (twilio.md §0 and §7): every value is a string; `""` means absent
//! for optional fields; booleans are `true`/`false`; timestamps are RFC 2822
//! (one-digit days allowed, one-second resolution); status words are the
//! enums of [`crate::status`], which keep unknown values. A missing required
//! parameter or an unparsable value is a [`WebhookError`] naming the
//! parameter, never a panic.

use chrono::{DateTime, Utc};
use evo_core::ids::{CallSid, ConferenceSid, MessageSid, QueueSid, TwilioAccountSid};

use crate::params::FormParams;
use crate::status::{
    AnsweredBy, CallStatus, DialCallStatus, Direction, MessageStatus, QueueResult,
    ReasonConferenceEnded, ReasonParticipantLeft, RecordingStatus, StatusCallbackEvent,
};

/// Why webhook parameters could not be turned into a typed request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("the required parameter {name} is missing")]
    Missing { name: &'static str },
    #[error("the parameter {name} has an invalid value {value:?}: {expected}")]
    Invalid {
        name: String,
        value: String,
        expected: &'static str,
    },
}

impl WebhookError {
    /// The parameter the error is about.
    pub fn parameter(&self) -> &str {
        match self {
            WebhookError::Missing { name } => name,
            WebhookError::Invalid { name, .. } => name,
        }
    }
}

/// The header Twilio adds to tell retry attempts apart (connection
/// overrides, twilio.md §5.6).
pub const IDEMPOTENCY_TOKEN_HEADER: &str = "I-Twilio-Idempotency-Token";

/// The `I-Twilio-Idempotency-Token` of a request, when present and
/// non-empty. Retries of one request carry the same token, so
/// (account, token) identifies a delivery; pair it with the
/// (`CallSid`/`ConferenceSid`, `SequenceNumber`) key, since Twilio does not
/// document the token's lifetime.
pub fn idempotency_token(headers: &http::HeaderMap) -> Option<&str> {
    headers
        .get(IDEMPOTENCY_TOKEN_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|value| !value.is_empty())
}

/// Parses Twilio's RFC 2822 `Timestamp` (e.g. `Thu, 1 Jun 2017 20:48:32 +0000`).
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc2822(text.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Typed access to one request's parameters.
struct Reader<'a>(&'a FormParams);

impl Reader<'_> {
    fn opt<T: From<String>>(&self, name: &str) -> Option<T> {
        self.0
            .get_nonempty(name)
            .map(|text| T::from(text.to_string()))
    }

    fn req<T: From<String>>(&self, name: &'static str) -> Result<T, WebhookError> {
        self.opt(name).ok_or(WebhookError::Missing { name })
    }

    fn invalid(name: &str, value: &str, expected: &'static str) -> WebhookError {
        WebhookError::Invalid {
            name: name.to_string(),
            value: value.to_string(),
            expected,
        }
    }

    fn num<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, WebhookError> {
        match self.0.get_nonempty(name) {
            None => Ok(None),
            Some(text) => text
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| Self::invalid(name, text, "a non-negative integer")),
        }
    }

    fn boolean(&self, name: &str) -> Result<Option<bool>, WebhookError> {
        match self.0.get_nonempty(name).map(str::trim) {
            None => Ok(None),
            Some(text) if text.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(text) if text.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(text) => Err(Self::invalid(name, text, "true or false")),
        }
    }

    fn timestamp(&self, name: &str) -> Result<Option<DateTime<Utc>>, WebhookError> {
        match self.0.get_nonempty(name) {
            None => Ok(None),
            Some(text) => parse_timestamp(text)
                .map(Some)
                .ok_or_else(|| Self::invalid(name, text, "an RFC 2822 date")),
        }
    }

    fn word<T: for<'x> From<&'x str>>(&self, name: &str) -> Option<T> {
        self.0.get_nonempty(name).map(|text| T::from(text.trim()))
    }
}

/// The standard voice parameters, sent on every TwiML-fetching request and
/// on status callbacks (twilio.md §2, §1.4).
/// <https://www.twilio.com/docs/voice/twiml#request-parameters>
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallParams {
    pub call_sid: CallSid,
    pub account_sid: TwilioAccountSid,
    pub call_status: CallStatus,
    /// Caller: E.164, `client:…`, `sip:…`, `anonymous`, … (never assume a number).
    pub from: Option<String>,
    pub to: Option<String>,
    pub direction: Option<Direction>,
    pub api_version: Option<String>,
    pub parent_call_sid: Option<CallSid>,
    pub forwarded_from: Option<String>,
    pub caller_name: Option<String>,
    pub call_token: Option<String>,
    pub stir_verstat: Option<String>,
}

impl CallParams {
    /// Requires `CallSid`, `AccountSid` and `CallStatus`; the rest is
    /// optional because some requests send only part of the set.
    pub fn parse(params: &FormParams) -> Result<Self, WebhookError> {
        let r = Reader(params);
        Ok(CallParams {
            call_sid: r.req("CallSid")?,
            account_sid: r.req("AccountSid")?,
            call_status: CallStatus::parse(r.req::<String>("CallStatus")?.trim()),
            from: r.opt("From"),
            to: r.opt("To"),
            direction: r.word("Direction"),
            api_version: r.opt("ApiVersion"),
            parent_call_sid: r.opt("ParentCallSid"),
            forwarded_from: r.opt("ForwardedFrom"),
            caller_name: r.opt("CallerName"),
            call_token: r.opt("CallToken"),
            stir_verstat: r.opt("StirVerstat"),
        })
    }
}

/// An incoming call or any TwiML fetch for a call (Voice URL, `<Redirect>`,
/// the `Url` of a REST-created call, a `<Dial>` child's whisper `url`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoiceRequest {
    pub call: CallParams,
    /// `AnsweredBy` when synchronous AMD is on.
    pub answered_by: Option<AnsweredBy>,
    /// `Digits` after `<Gather>`.
    pub digits: Option<String>,
}

impl VoiceRequest {
    pub fn parse(params: &FormParams) -> Result<Self, WebhookError> {
        let r = Reader(params);
        Ok(VoiceRequest {
            call: CallParams::parse(params)?,
            answered_by: r.word("AnsweredBy"),
            digits: r.opt("Digits"),
        })
    }
}

/// A call progress status callback (twilio.md §1.4).
/// <https://www.twilio.com/docs/voice/api/call-resource#statuscallback>
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusCallback {
    pub call: CallParams,
    /// When the event fired (one-second resolution; never order by it alone).
    pub timestamp: Option<DateTime<Utc>>,
    /// `call-progress-events` on status callbacks.
    pub callback_source: Option<String>,
    /// Order in which events fired for this leg and subscription, from 0.
    pub sequence_number: Option<u64>,
    /// Seconds; on `completed`.
    pub call_duration: Option<u64>,
    /// Billing minutes, rounded up; on `completed`.
    pub duration: Option<u64>,
    pub sip_response_code: Option<u16>,
    pub answered_by: Option<AnsweredBy>,
    pub recording_url: Option<String>,
    pub recording_sid: Option<String>,
    pub recording_duration: Option<u64>,
}

impl StatusCallback {
    pub fn parse(params: &FormParams) -> Result<Self, WebhookError> {
        let r = Reader(params);
        Ok(StatusCallback {
            call: CallParams::parse(params)?,
            timestamp: r.timestamp("Timestamp")?,
            callback_source: r.opt("CallbackSource"),
            sequence_number: r.num("SequenceNumber")?,
            call_duration: r.num("CallDuration")?,
            duration: r.num("Duration")?,
            sip_response_code: r.num("SipResponseCode")?,
            answered_by: r.word("AnsweredBy"),
            recording_url: r.opt("RecordingUrl"),
            recording_sid: r.opt("RecordingSid"),
            recording_duration: r.num("RecordingDuration")?,
        })
    }
}

/// A `<Dial action>` request: the dialled leg ended; `CallSid` is the parent
/// (twilio.md §4.3). <https://www.twilio.com/docs/voice/twiml/dial#action>
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialAction {
    pub call: CallParams,
    pub dial_call_status: DialCallStatus,
    /// The child leg; not sent when dialling a conference.
    pub dial_call_sid: Option<CallSid>,
    pub dial_call_duration: Option<u64>,
    /// Whether the caller was actually connected.
    pub dial_bridged: Option<bool>,
    pub recording_url: Option<String>,
    /// Queue parameters when the `<Dial>` dequeued a caller (`<Dial><Queue>`).
    pub queue_sid: Option<QueueSid>,
    pub queue_time: Option<u64>,
}

impl DialAction {
    pub fn parse(params: &FormParams) -> Result<Self, WebhookError> {
        let r = Reader(params);
        Ok(DialAction {
            call: CallParams::parse(params)?,
            dial_call_status: DialCallStatus::parse(r.req::<String>("DialCallStatus")?.trim()),
            dial_call_sid: r.opt("DialCallSid"),
            dial_call_duration: r.num("DialCallDuration")?,
            dial_bridged: r.boolean("DialBridged")?,
            recording_url: r.opt("RecordingUrl"),
            queue_sid: r.opt("QueueSid"),
            queue_time: r.num("QueueTime")?,
        })
    }
}

/// An `<Enqueue action>` request: the caller left the queue (twilio.md §4.1).
/// <https://www.twilio.com/docs/voice/twiml/enqueue#attributes-action>
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueAction {
    pub call: CallParams,
    pub queue_result: QueueResult,
    /// Only if the call was actually enqueued.
    pub queue_sid: Option<QueueSid>,
    /// Seconds in the queue; only if actually enqueued.
    pub queue_time: Option<u64>,
}

impl QueueAction {
    pub fn parse(params: &FormParams) -> Result<Self, WebhookError> {
        let r = Reader(params);
        Ok(QueueAction {
            call: CallParams::parse(params)?,
            queue_result: QueueResult::parse(r.req::<String>("QueueResult")?.trim()),
            queue_sid: r.opt("QueueSid"),
            queue_time: r.num("QueueTime")?,
        })
    }
}

/// An `<Enqueue waitUrl>` request: a live poll of a waiting caller.
/// <https://www.twilio.com/docs/voice/twiml/enqueue#attributes-wait-url>
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueWait {
    pub call: CallParams,
    pub queue_position: u64,
    pub queue_sid: Option<QueueSid>,
    pub queue_time: Option<u64>,
    pub avg_queue_time: Option<u64>,
    pub current_queue_size: Option<u64>,
    pub max_queue_size: Option<u64>,
}

impl QueueWait {
    pub fn parse(params: &FormParams) -> Result<Self, WebhookError> {
        let r = Reader(params);
        Ok(QueueWait {
            call: CallParams::parse(params)?,
            queue_position: r.num("QueuePosition")?.ok_or(WebhookError::Missing {
                name: "QueuePosition",
            })?,
            queue_sid: r.opt("QueueSid"),
            queue_time: r.num("QueueTime")?,
            avg_queue_time: r.num("AvgQueueTime")?,
            current_queue_size: r.num("CurrentQueueSize")?,
            max_queue_size: r.num("MaxQueueSize")?,
        })
    }
}

/// The `<Dial><Queue url>` request, played to the dequeued caller before
/// the bridge: `CallSid` is the dequeued caller, `DequeingCallSid` the agent
/// (Twilio's spelling). <https://www.twilio.com/docs/voice/twiml/queue#attributes-url-parameters>
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DequeueRequest {
    pub call: CallParams,
    pub dequeing_call_sid: CallSid,
    pub queue_sid: Option<QueueSid>,
    pub queue_time: Option<u64>,
}

impl DequeueRequest {
    pub fn parse(params: &FormParams) -> Result<Self, WebhookError> {
        let r = Reader(params);
        Ok(DequeueRequest {
            call: CallParams::parse(params)?,
            dequeing_call_sid: r.req("DequeingCallSid")?,
            queue_sid: r.opt("QueueSid"),
            queue_time: r.num("QueueTime")?,
        })
    }
}

/// A conference status callback (twilio.md §3.3).
/// <https://www.twilio.com/docs/voice/twiml/conference#attributes-status-callback-parameters>
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConferenceEvent {
    pub conference_sid: ConferenceSid,
    pub account_sid: TwilioAccountSid,
    pub event: StatusCallbackEvent,
    /// The room name the application chose.
    pub friendly_name: Option<String>,
    pub sequence_number: Option<u64>,
    pub timestamp: Option<DateTime<Utc>>,
    /// The participant's leg; absent on conference-start/end.
    pub call_sid: Option<CallSid>,
    pub muted: Option<bool>,
    pub hold: Option<bool>,
    pub coaching: Option<bool>,
    pub end_conference_on_exit: Option<bool>,
    pub start_conference_on_enter: Option<bool>,
    pub participant_label: Option<String>,
    pub call_sid_ending_conference: Option<CallSid>,
    pub participant_label_ending_conference: Option<String>,
    pub reason_conference_ended: Option<ReasonConferenceEnded>,
    pub reason: Option<String>,
    pub participant_call_status: Option<CallStatus>,
    pub reason_participant_left: Option<ReasonParticipantLeft>,
    pub announce_url: Option<String>,
    pub reason_announcement_failed: Option<String>,
    /// The deprecated `conference-record-end` arrives in `EventName`.
    pub recording_url: Option<String>,
}

impl ConferenceEvent {
    pub fn parse(params: &FormParams) -> Result<Self, WebhookError> {
        let r = Reader(params);
        let event = match r.opt::<String>("StatusCallbackEvent") {
            Some(event) => event,
            None => r.opt("EventName").ok_or(WebhookError::Missing {
                name: "StatusCallbackEvent",
            })?,
        };
        Ok(ConferenceEvent {
            conference_sid: r.req("ConferenceSid")?,
            account_sid: r.req("AccountSid")?,
            event: StatusCallbackEvent::parse(event.trim()),
            friendly_name: r.opt("FriendlyName"),
            sequence_number: r.num("SequenceNumber")?,
            timestamp: r.timestamp("Timestamp")?,
            call_sid: r.opt("CallSid"),
            muted: r.boolean("Muted")?,
            hold: r.boolean("Hold")?,
            coaching: r.boolean("Coaching")?,
            end_conference_on_exit: r.boolean("EndConferenceOnExit")?,
            start_conference_on_enter: r.boolean("StartConferenceOnEnter")?,
            participant_label: r.opt("ParticipantLabel"),
            call_sid_ending_conference: r.opt("CallSidEndingConference"),
            participant_label_ending_conference: r.opt("ParticipantLabelEndingConference"),
            reason_conference_ended: r.word("ReasonConferenceEnded"),
            reason: r.opt("Reason"),
            participant_call_status: r.word("ParticipantCallStatus"),
            reason_participant_left: r.word("ReasonParticipantLeft"),
            announce_url: r.opt("AnnounceUrl"),
            reason_announcement_failed: r.opt("ReasonAnnouncementFailed"),
            recording_url: r.opt("RecordingUrl"),
        })
    }
}

/// A recording status callback (twilio.md §1.6).
/// <https://www.twilio.com/docs/voice/api/call-resource#recordingstatuscallback>
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingCallback {
    pub account_sid: TwilioAccountSid,
    /// The parent leg of a two-leg call.
    pub call_sid: Option<CallSid>,
    pub recording_sid: String,
    pub recording_status: RecordingStatus,
    pub recording_url: Option<String>,
    pub recording_duration: Option<u64>,
    pub recording_channels: Option<u8>,
    pub recording_source: Option<String>,
}

impl RecordingCallback {
    pub fn parse(params: &FormParams) -> Result<Self, WebhookError> {
        let r = Reader(params);
        Ok(RecordingCallback {
            account_sid: r.req("AccountSid")?,
            call_sid: r.opt("CallSid"),
            recording_sid: r.req("RecordingSid")?,
            recording_status: RecordingStatus::parse(r.req::<String>("RecordingStatus")?.trim()),
            recording_url: r.opt("RecordingUrl"),
            recording_duration: r.num("RecordingDuration")?,
            recording_channels: r.num("RecordingChannels")?,
            recording_source: r.opt("RecordingSource"),
        })
    }
}

/// One media attachment of an inbound MMS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    pub url: String,
    pub content_type: Option<String>,
}

/// An inbound message (SMS/MMS/WhatsApp) (twilio.md §4.4).
/// <https://www.twilio.com/docs/messaging/guides/webhook-request>
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundMessage {
    pub message_sid: MessageSid,
    pub account_sid: TwilioAccountSid,
    pub from: String,
    pub to: String,
    /// May be empty (a media-only message).
    pub body: String,
    pub num_media: u32,
    /// `MediaUrl{N}`/`MediaContentType{N}` for N in 0..NumMedia.
    pub media: Vec<Media>,
    pub num_segments: Option<u32>,
    pub messaging_service_sid: Option<String>,
    /// Deprecated copies of `MessageSid`.
    pub sms_sid: Option<String>,
    pub sms_message_sid: Option<String>,
    pub sms_status: Option<MessageStatus>,
    pub api_version: Option<String>,
    /// WhatsApp display name.
    pub profile_name: Option<String>,
}

/// The most media Twilio attaches to one message; bounds the `MediaUrl{N}` scan.
const MAX_MEDIA: u32 = 10;

impl InboundMessage {
    pub fn parse(params: &FormParams) -> Result<Self, WebhookError> {
        let r = Reader(params);
        let num_media: u32 = r.num("NumMedia")?.unwrap_or(0);
        if num_media > MAX_MEDIA {
            return Err(Reader::invalid(
                "NumMedia",
                &num_media.to_string(),
                "at most 10",
            ));
        }
        let mut media = Vec::new();
        for n in 0..num_media {
            let url_name = format!("MediaUrl{n}");
            if let Some(url) = r.opt(&url_name) {
                media.push(Media {
                    url,
                    content_type: r.opt(&format!("MediaContentType{n}")),
                });
            }
        }
        Ok(InboundMessage {
            message_sid: r.req("MessageSid")?,
            account_sid: r.req("AccountSid")?,
            from: r.req("From")?,
            to: r.req("To")?,
            body: params.get("Body").unwrap_or("").to_string(),
            num_media,
            media,
            num_segments: r.num("NumSegments")?,
            messaging_service_sid: r.opt("MessagingServiceSid"),
            sms_sid: r.opt("SmsSid"),
            sms_message_sid: r.opt("SmsMessageSid"),
            sms_status: r.word("SmsStatus"),
            api_version: r.opt("ApiVersion"),
            profile_name: r.opt("ProfileName"),
        })
    }
}

/// An outbound message's status callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageStatusCallback {
    pub message_sid: MessageSid,
    pub account_sid: TwilioAccountSid,
    pub message_status: MessageStatus,
    pub error_code: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

impl MessageStatusCallback {
    pub fn parse(params: &FormParams) -> Result<Self, WebhookError> {
        let r = Reader(params);
        Ok(MessageStatusCallback {
            message_sid: r.req("MessageSid")?,
            account_sid: r.req("AccountSid")?,
            message_status: MessageStatus::parse(r.req::<String>("MessageStatus")?.trim()),
            error_code: r.opt("ErrorCode"),
            from: r.opt("From"),
            to: r.opt("To"),
        })
    }
}

/// What kind of request a parameter set is, by its distinguishing
/// parameters (twilio.md §7.5). Prefer one URL path per kind; this is the
/// fallback for a shared URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookKind {
    ConferenceEvent,
    StatusCallback,
    QueueAction,
    QueueWait,
    DequeueRequest,
    DialAction,
    RecordingCallback,
    MessageStatusCallback,
    InboundMessage,
    VoiceRequest,
}

impl WebhookKind {
    pub fn classify(params: &FormParams) -> WebhookKind {
        let has = |name: &str| params.get_nonempty(name).is_some();
        if has("ConferenceSid") && (has("StatusCallbackEvent") || has("EventName")) {
            WebhookKind::ConferenceEvent
        } else if params.get_nonempty("CallbackSource") == Some("call-progress-events") {
            WebhookKind::StatusCallback
        } else if has("QueueResult") {
            WebhookKind::QueueAction
        } else if has("QueuePosition") {
            WebhookKind::QueueWait
        } else if has("DequeingCallSid") {
            WebhookKind::DequeueRequest
        } else if has("DialCallStatus") {
            WebhookKind::DialAction
        } else if has("RecordingStatus") {
            WebhookKind::RecordingCallback
        } else if has("MessageStatus") {
            WebhookKind::MessageStatusCallback
        } else if has("MessageSid") {
            WebhookKind::InboundMessage
        } else {
            WebhookKind::VoiceRequest
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> FormParams {
        FormParams::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn empty_optional_values_are_absent_and_bad_values_are_named() {
        let p = params(&[
            ("CallSid", "CA1"),
            ("AccountSid", "AC1"),
            ("CallStatus", "completed"),
            ("Called", ""),
            ("ParentCallSid", ""),
            ("CallDuration", "forty"),
        ]);
        assert_eq!(CallParams::parse(&p).unwrap().parent_call_sid, None);
        let error = StatusCallback::parse(&p).unwrap_err();
        assert_eq!(error.parameter(), "CallDuration");
        let missing =
            CallParams::parse(&params(&[("CallSid", "CA1"), ("CallStatus", "")])).unwrap_err();
        assert_eq!(missing, WebhookError::Missing { name: "AccountSid" });
    }

    #[test]
    fn booleans_are_strict() {
        let base = [
            ("ConferenceSid", "CF1"),
            ("AccountSid", "AC1"),
            ("StatusCallbackEvent", "participant-mute"),
        ];
        let mut pairs = base.to_vec();
        pairs.push(("Muted", "yes"));
        let error = ConferenceEvent::parse(&params(&pairs)).unwrap_err();
        assert_eq!(error.parameter(), "Muted");
        let mut pairs = base.to_vec();
        pairs.push(("Muted", "true"));
        assert_eq!(
            ConferenceEvent::parse(&params(&pairs)).unwrap().muted,
            Some(true)
        );
    }

    #[test]
    fn idempotency_token_is_read_from_its_header() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(idempotency_token(&headers), None);
        headers.insert(
            "i-twilio-idempotency-token",
            http::HeaderValue::from_static("ab12-cd34"),
        );
        assert_eq!(idempotency_token(&headers), Some("ab12-cd34"));
        headers.insert(
            "i-twilio-idempotency-token",
            http::HeaderValue::from_static(" "),
        );
        assert_eq!(idempotency_token(&headers), None);
    }
}
