//! The typed parsers against the parameter sets Twilio documents (field
//! sets from /work/shared/reference/twilio.md, which cites the pages named
//! on each fixture). Bodies are form-encoded exactly as Twilio sends them.

use chrono::{TimeZone, Utc};
use evo_twilio::params::FormParams;
use evo_twilio::status::{
    AnsweredBy, CallStatus, DialCallStatus, Direction, MessageStatus, QueueResult,
    ReasonConferenceEnded, ReasonParticipantLeft, StatusCallbackEvent,
};
use evo_twilio::webhook::{
    ConferenceEvent, DequeueRequest, DialAction, InboundMessage, MessageStatusCallback,
    QueueAction, QueueWait, RecordingCallback, StatusCallback, VoiceRequest, WebhookError,
    WebhookKind,
};

const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const CALL: &str = "CA0123456789abcdef0123456789abcdef";
const CHILD: &str = "CAfedcba9876543210fedcba9876543210";
const CONFERENCE: &str = "CFbbe46ff1274e283f7e3ac1df0072ab39";
const QUEUE: &str = "QU0123456789abcdef0123456789abcdef";

fn form(body: &str) -> FormParams {
    FormParams::parse(body.as_bytes())
}

/// The standard voice parameters (https://www.twilio.com/docs/voice/twiml#request-parameters),
/// with the legacy Caller/Called duplicates real payloads carry.
fn voice(status: &str, direction: &str) -> String {
    format!(
        "AccountSid={ACCOUNT}&ApiVersion=2010-04-01&CallSid={CALL}&CallStatus={status}\
         &Called=%2B18005551212&CalledCity=&CalledCountry=US&CalledState=&CalledZip=\
         &Caller=%2B14158675310&CallerCity=SAN+FRANCISCO&CallerCountry=US&CallerState=CA&CallerZip=94107\
         &Direction={direction}&From=%2B14158675310&FromCity=SAN+FRANCISCO&FromCountry=US&FromState=CA\
         &FromZip=94107&To=%2B18005551212&ToCity=&ToCountry=US&ToState=&ToZip="
    )
}

#[test]
fn an_incoming_call_is_a_voice_request() {
    // https://www.twilio.com/docs/voice/twiml#twilios-request-to-your-application
    // (always: CallSid, AccountSid, From, To, CallStatus, ApiVersion, Direction;
    // sometimes ForwardedFrom, CallerName, CallToken).
    let body = format!(
        "{}&ForwardedFrom=%2B16505551234&CallerName=Jane+Doe&CallToken=%7B%22parentCallInfoToken%22%3A%22x%22%7D\
         &StirVerstat=TN-Validation-Passed-A",
        voice("ringing", "inbound")
    );
    let params = form(&body);
    assert_eq!(WebhookKind::classify(&params), WebhookKind::VoiceRequest);
    let request = VoiceRequest::parse(&params).unwrap();
    let call = &request.call;
    assert_eq!(call.call_sid, CALL);
    assert_eq!(call.account_sid, ACCOUNT);
    assert_eq!(call.call_status, CallStatus::Ringing);
    assert_eq!(call.direction, Some(Direction::Inbound));
    assert_eq!(call.from.as_deref(), Some("+14158675310"));
    assert_eq!(call.to.as_deref(), Some("+18005551212"));
    assert_eq!(call.api_version.as_deref(), Some("2010-04-01"));
    assert_eq!(call.forwarded_from.as_deref(), Some("+16505551234"));
    assert_eq!(call.caller_name.as_deref(), Some("Jane Doe"));
    assert_eq!(
        call.call_token.as_deref(),
        Some(r#"{"parentCallInfoToken":"x"}"#)
    );
    assert_eq!(call.stir_verstat.as_deref(), Some("TN-Validation-Passed-A"));
    assert_eq!(call.parent_call_sid, None);
    assert_eq!(request.answered_by, None);
}

#[test]
fn a_client_call_with_empty_called_and_an_anonymous_caller_parses() {
    // twilio.md §0: client calls have been seen with Called=''; From may be
    // a client identity or `anonymous`.
    let body = format!(
        "AccountSid={ACCOUNT}&ApiVersion=2010-04-01&CallSid={CALL}&CallStatus=ringing&Called=\
         &Caller=client%3Aalice&Direction=inbound&From=client%3Aalice&To="
    );
    let request = VoiceRequest::parse(&form(&body)).unwrap();
    assert_eq!(request.call.from.as_deref(), Some("client:alice"));
    assert_eq!(request.call.to, None);
}

#[test]
fn a_completed_status_callback_has_every_documented_field() {
    // https://www.twilio.com/docs/voice/api/call-resource#statuscallback and
    // twilio.md §1.4: the field set of a real `completed` callback
    // (SequenceNumber=3, all four events subscribed), Duration in billing
    // minutes next to CallDuration in seconds, plus a child leg's ParentCallSid.
    let body = format!(
        "{}&AnsweredBy=human&CallDuration=49&CallbackSource=call-progress-events&Duration=1\
         &ParentCallSid={CHILD}&SequenceNumber=3&SipResponseCode=200\
         &Timestamp=Fri%2C+20+Aug+2010+01%3A13%3A42+%2B0000&RecordingUrl=&RecordingSid=",
        voice("completed", "outbound-dial")
    );
    let params = form(&body);
    assert_eq!(WebhookKind::classify(&params), WebhookKind::StatusCallback);
    let callback = StatusCallback::parse(&params).unwrap();
    assert_eq!(callback.call.call_status, CallStatus::Completed);
    assert!(callback.call.call_status.is_terminal());
    assert_eq!(callback.call.direction, Some(Direction::OutboundDial));
    assert_eq!(callback.call.parent_call_sid.as_deref(), Some(CHILD));
    assert_eq!(
        callback.timestamp,
        Some(Utc.with_ymd_and_hms(2010, 8, 20, 1, 13, 42).unwrap())
    );
    assert_eq!(
        callback.callback_source.as_deref(),
        Some("call-progress-events")
    );
    assert_eq!(callback.sequence_number, Some(3));
    assert_eq!(callback.call_duration, Some(49));
    assert_eq!(callback.duration, Some(1));
    assert_eq!(callback.sip_response_code, Some(200));
    assert_eq!(callback.answered_by, Some(AnsweredBy::Human));
    assert_eq!(callback.recording_url, None);
    assert_eq!(callback.recording_sid, None);
}

#[test]
fn a_timestamp_with_a_one_digit_day_parses() {
    // https://www.twilio.com/docs/voice/twiml/conference: `Thu, 1 Jun 2017 20:48:32 +0000`.
    let body = format!(
        "{}&CallbackSource=call-progress-events&SequenceNumber=0\
         &Timestamp=Thu%2C+1+Jun+2017+20%3A48%3A32+%2B0000",
        voice("initiated", "outbound-api")
    );
    let callback = StatusCallback::parse(&form(&body)).unwrap();
    assert_eq!(
        callback.timestamp,
        Some(Utc.with_ymd_and_hms(2017, 6, 1, 20, 48, 32).unwrap())
    );
    assert_eq!(callback.call_duration, None);
}

#[test]
fn bad_values_are_named_errors_not_panics() {
    let bad_timestamp = format!("{}&Timestamp=yesterday", voice("ringing", "inbound"));
    let error = StatusCallback::parse(&form(&bad_timestamp)).unwrap_err();
    assert!(
        matches!(&error, WebhookError::Invalid { name, value, .. } if name == "Timestamp" && value == "yesterday"),
        "{error:?}"
    );
    let bad_sequence = format!("{}&SequenceNumber=-1", voice("ringing", "inbound"));
    assert_eq!(
        StatusCallback::parse(&form(&bad_sequence))
            .unwrap_err()
            .parameter(),
        "SequenceNumber"
    );
    let no_sid = "AccountSid=AC1&CallStatus=ringing&CallSid=";
    assert_eq!(
        VoiceRequest::parse(&form(no_sid)).unwrap_err(),
        WebhookError::Missing { name: "CallSid" }
    );
    assert_eq!(
        VoiceRequest::parse(&FormParams::default()).unwrap_err(),
        WebhookError::Missing { name: "CallSid" }
    );
}

#[test]
fn a_dial_action_reports_the_child_leg() {
    // https://www.twilio.com/docs/voice/twiml/dial#action (DialCallStatus,
    // DialCallSid, DialCallDuration, DialBridged, RecordingUrl).
    let body = format!(
        "{}&DialBridged=true&DialCallDuration=31&DialCallSid={CHILD}&DialCallStatus=completed\
         &RecordingUrl=https%3A%2F%2Fapi.twilio.com%2F2010-04-01%2FAccounts%2F{ACCOUNT}%2FRecordings%2FRE1",
        voice("in-progress", "inbound")
    );
    let params = form(&body);
    assert_eq!(WebhookKind::classify(&params), WebhookKind::DialAction);
    let action = DialAction::parse(&params).unwrap();
    assert_eq!(action.call.call_sid, CALL);
    assert_eq!(action.dial_call_status, DialCallStatus::Completed);
    assert_eq!(action.dial_call_sid.as_deref(), Some(CHILD));
    assert_eq!(action.dial_call_duration, Some(31));
    assert_eq!(action.dial_bridged, Some(true));
    assert!(action.recording_url.unwrap().ends_with("/Recordings/RE1"));

    // Dialling a conference: `answered`, and no DialCallSid/DialCallDuration.
    let conference = format!(
        "{}&DialBridged=false&DialCallStatus=answered",
        voice("in-progress", "inbound")
    );
    let action = DialAction::parse(&form(&conference)).unwrap();
    assert_eq!(action.dial_call_status, DialCallStatus::Answered);
    assert_eq!(action.dial_call_sid, None);
    assert_eq!(action.dial_bridged, Some(false));

    let missing = voice("in-progress", "inbound");
    assert_eq!(
        DialAction::parse(&form(&missing)).unwrap_err(),
        WebhookError::Missing {
            name: "DialCallStatus"
        }
    );
}

#[test]
fn enqueue_action_wait_and_dequeue_requests_parse() {
    // https://www.twilio.com/docs/voice/twiml/enqueue (action: QueueResult,
    // QueueSid, QueueTime; waitUrl: QueuePosition, QueueSid, QueueTime,
    // AvgQueueTime, CurrentQueueSize, MaxQueueSize).
    let action = format!(
        "{}&QueueResult=bridged&QueueSid={QUEUE}&QueueTime=42",
        voice("in-progress", "inbound")
    );
    let params = form(&action);
    assert_eq!(WebhookKind::classify(&params), WebhookKind::QueueAction);
    let action = QueueAction::parse(&params).unwrap();
    assert_eq!(action.queue_result, QueueResult::Bridged);
    assert_eq!(action.queue_sid.as_deref(), Some(QUEUE));
    assert_eq!(action.queue_time, Some(42));

    // Rejected before being enqueued: no QueueSid/QueueTime.
    let full = format!(
        "{}&QueueResult=queue-full&QueueSid=&QueueTime=",
        voice("in-progress", "inbound")
    );
    let full = QueueAction::parse(&form(&full)).unwrap();
    assert_eq!(full.queue_result, QueueResult::QueueFull);
    assert_eq!((full.queue_sid, full.queue_time), (None, None));

    let wait = format!(
        "{}&AvgQueueTime=30&CurrentQueueSize=3&MaxQueueSize=1000&QueuePosition=2&QueueSid={QUEUE}&QueueTime=12",
        voice("in-progress", "inbound")
    );
    let params = form(&wait);
    assert_eq!(WebhookKind::classify(&params), WebhookKind::QueueWait);
    let wait = QueueWait::parse(&params).unwrap();
    assert_eq!(wait.queue_position, 2);
    assert_eq!(wait.current_queue_size, Some(3));
    assert_eq!(wait.max_queue_size, Some(1000));
    assert_eq!(wait.avg_queue_time, Some(30));

    // https://www.twilio.com/docs/voice/twiml/queue#attributes-url-parameters
    // ("Dequeing" is Twilio's spelling).
    let dequeue = format!(
        "{}&DequeingCallSid={CHILD}&QueueSid={QUEUE}&QueueTime=15",
        voice("in-progress", "inbound")
    );
    let params = form(&dequeue);
    assert_eq!(WebhookKind::classify(&params), WebhookKind::DequeueRequest);
    let dequeue = DequeueRequest::parse(&params).unwrap();
    assert_eq!(dequeue.call.call_sid, CALL);
    assert_eq!(dequeue.dequeing_call_sid, CHILD);
    assert_eq!(dequeue.queue_time, Some(15));
}

#[test]
fn conference_events_parse_with_their_own_enum_spellings() {
    // https://www.twilio.com/docs/voice/twiml/conference#attributes-status-callback-parameters
    let join = format!(
        "AccountSid={ACCOUNT}&CallSid={CALL}&Coaching=false&ConferenceSid={CONFERENCE}\
         &EndConferenceOnExit=false&FriendlyName=MyRoom&Hold=false&Muted=false\
         &ParticipantLabel=customer&SequenceNumber=1&StartConferenceOnEnter=true\
         &StatusCallbackEvent=participant-join&Timestamp=Thu%2C+1+Jun+2017+20%3A48%3A32+%2B0000"
    );
    let params = form(&join);
    assert_eq!(WebhookKind::classify(&params), WebhookKind::ConferenceEvent);
    let event = ConferenceEvent::parse(&params).unwrap();
    assert_eq!(event.conference_sid, CONFERENCE);
    assert_eq!(event.event, StatusCallbackEvent::ParticipantJoin);
    assert_eq!(event.friendly_name.as_deref(), Some("MyRoom"));
    assert_eq!(event.call_sid.as_deref(), Some(CALL));
    assert_eq!(
        (event.muted, event.hold, event.coaching),
        (Some(false), Some(false), Some(false))
    );
    assert_eq!(event.start_conference_on_enter, Some(true));
    assert_eq!(event.participant_label.as_deref(), Some("customer"));
    assert_eq!(event.sequence_number, Some(1));
    assert_eq!(
        event.timestamp,
        Some(Utc.with_ymd_and_hms(2017, 6, 1, 20, 48, 32).unwrap())
    );

    // A participant added through the API who never answered (twilio.md §3.3).
    let leave = format!(
        "AccountSid={ACCOUNT}&CallSid={CHILD}&ConferenceSid={CONFERENCE}&FriendlyName=MyRoom\
         &ParticipantCallStatus=no-answer&ReasonParticipantLeft=participant_add_failed\
         &SequenceNumber=4&StatusCallbackEvent=participant-leave\
         &Timestamp=Thu%2C+1+Jun+2017+20%3A49%3A02+%2B0000"
    );
    let event = ConferenceEvent::parse(&form(&leave)).unwrap();
    assert_eq!(event.participant_call_status, Some(CallStatus::NoAnswer));
    assert_eq!(
        event.reason_participant_left,
        Some(ReasonParticipantLeft::ParticipantAddFailed)
    );

    // conference-end carries no CallSid, but who ended it and why.
    let end = format!(
        "AccountSid={ACCOUNT}&CallSidEndingConference={CALL}&ConferenceSid={CONFERENCE}\
         &FriendlyName=MyRoom&ParticipantLabelEndingConference=agent\
         &ReasonConferenceEnded=participant-with-end-conference-on-exit-left\
         &Reason=Participant+{CALL}+with+endConferenceOnExit+left+the+conference\
         &SequenceNumber=9&StatusCallbackEvent=conference-end\
         &Timestamp=Thu%2C+1+Jun+2017+20%3A55%3A00+%2B0000"
    );
    let event = ConferenceEvent::parse(&form(&end)).unwrap();
    assert_eq!(event.event, StatusCallbackEvent::ConferenceEnd);
    assert_eq!(event.call_sid, None);
    assert_eq!(event.call_sid_ending_conference.as_deref(), Some(CALL));
    assert_eq!(
        event.participant_label_ending_conference.as_deref(),
        Some("agent")
    );
    assert_eq!(
        event.reason_conference_ended,
        Some(ReasonConferenceEnded::ParticipantWithEndConferenceOnExitLeft)
    );

    // A value Twilio adds later is kept, not rejected.
    let future = format!(
        "AccountSid={ACCOUNT}&ConferenceSid={CONFERENCE}&StatusCallbackEvent=participant-teleport"
    );
    let event = ConferenceEvent::parse(&form(&future)).unwrap();
    assert_eq!(
        event.event,
        StatusCallbackEvent::Other("participant-teleport".into())
    );
}

#[test]
fn an_inbound_mms_lists_its_media() {
    // https://www.twilio.com/docs/messaging/guides/webhook-request (MessageSid,
    // SmsSid, SmsMessageSid, AccountSid, MessagingServiceSid, From, To, Body,
    // NumMedia, NumSegments, MediaUrl{N}, MediaContentType{N}).
    let sid = "MM0123456789abcdef0123456789abcdef";
    let body = format!(
        "AccountSid={ACCOUNT}&ApiVersion=2010-04-01&Body=Hello+%F0%9F%91%8B&From=%2B14155552345\
         &FromCity=SAN+FRANCISCO&FromCountry=US&MediaContentType0=image%2Fjpeg\
         &MediaContentType1=image%2Fpng\
         &MediaUrl0=https%3A%2F%2Fapi.twilio.com%2F2010-04-01%2FAccounts%2F{ACCOUNT}%2FMessages%2F{sid}%2FMedia%2FME1\
         &MediaUrl1=https%3A%2F%2Fapi.twilio.com%2F2010-04-01%2FAccounts%2F{ACCOUNT}%2FMessages%2F{sid}%2FMedia%2FME2\
         &MessageSid={sid}&MessagingServiceSid=&NumMedia=2&NumSegments=1&SmsMessageSid={sid}\
         &SmsSid={sid}&SmsStatus=received&To=%2B14155551212"
    );
    let params = form(&body);
    assert_eq!(WebhookKind::classify(&params), WebhookKind::InboundMessage);
    let message = InboundMessage::parse(&params).unwrap();
    assert_eq!(message.message_sid, sid);
    assert_eq!(message.sms_sid.as_deref(), Some(sid));
    assert_eq!(message.body, "Hello 👋");
    assert_eq!(message.num_media, 2);
    assert_eq!(message.media.len(), 2);
    assert_eq!(message.media[1].content_type.as_deref(), Some("image/png"));
    assert!(message.media[0].url.ends_with("/Media/ME1"));
    assert_eq!(message.num_segments, Some(1));
    assert_eq!(message.messaging_service_sid, None);
    assert_eq!(message.sms_status, Some(MessageStatus::Received));

    let too_many = format!("AccountSid={ACCOUNT}&MessageSid={sid}&From=a&To=b&NumMedia=9999");
    assert_eq!(
        InboundMessage::parse(&form(&too_many))
            .unwrap_err()
            .parameter(),
        "NumMedia"
    );
}

#[test]
fn recording_and_message_status_callbacks_parse() {
    // https://www.twilio.com/docs/voice/api/call-resource#recordingstatuscallback
    // (twilio.md §1.6; CallSid is the parent leg).
    let recording = format!(
        "AccountSid={ACCOUNT}&CallSid={CALL}&RecordingChannels=2&RecordingDuration=48\
         &RecordingSid=RE0123456789abcdef0123456789abcdef&RecordingSource=DialVerb\
         &RecordingStartTime=Fri%2C+20+Aug+2010+01%3A13%3A42+%2B0000&RecordingStatus=completed\
         &RecordingTrack=both\
         &RecordingUrl=https%3A%2F%2Fapi.twilio.com%2F2010-04-01%2FAccounts%2F{ACCOUNT}%2FRecordings%2FRE0123456789abcdef0123456789abcdef"
    );
    let params = form(&recording);
    assert_eq!(
        WebhookKind::classify(&params),
        WebhookKind::RecordingCallback
    );
    let parsed = RecordingCallback::parse(&params).unwrap();
    assert_eq!(parsed.call_sid.as_deref(), Some(CALL));
    assert_eq!(
        parsed.recording_status,
        evo_twilio::status::RecordingStatus::Completed
    );
    assert_eq!(parsed.recording_duration, Some(48));
    assert_eq!(parsed.recording_channels, Some(2));

    // https://www.twilio.com/docs/messaging/guides/webhook-request (outbound
    // status callbacks: MessageSid, MessageStatus, ErrorCode when relevant).
    let sid = "SM0123456789abcdef0123456789abcdef";
    let status = format!(
        "AccountSid={ACCOUNT}&ApiVersion=2010-04-01&ErrorCode=30003&From=%2B14155551212\
         &MessageSid={sid}&MessageStatus=undelivered&SmsSid={sid}&SmsStatus=undelivered&To=%2B14155552345"
    );
    let params = form(&status);
    assert_eq!(
        WebhookKind::classify(&params),
        WebhookKind::MessageStatusCallback
    );
    let parsed = MessageStatusCallback::parse(&params).unwrap();
    assert_eq!(parsed.message_status, MessageStatus::Undelivered);
    assert_eq!(parsed.error_code.as_deref(), Some("30003"));
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    const NAMES: &[&str] = &[
        "CallSid",
        "AccountSid",
        "CallStatus",
        "Direction",
        "Timestamp",
        "SequenceNumber",
        "CallDuration",
        "SipResponseCode",
        "DialCallStatus",
        "DialBridged",
        "QueueResult",
        "QueuePosition",
        "QueueTime",
        "DequeingCallSid",
        "ConferenceSid",
        "StatusCallbackEvent",
        "Muted",
        "Hold",
        "MessageSid",
        "From",
        "To",
        "NumMedia",
        "MediaUrl0",
        "Body",
        "RecordingSid",
        "RecordingStatus",
        "RecordingDuration",
        "MessageStatus",
    ];

    proptest! {
        // Any parameter set, however malformed, gives Ok or a named error.
        #[test]
        fn every_parser_answers_without_panicking(
            pairs in proptest::collection::vec((0..NAMES.len(), ".{0,40}"), 0..30)
        ) {
            let params = FormParams::from_pairs(pairs.iter().map(|(i, v)| (NAMES[*i], v.as_str())));
            let errors = [
                VoiceRequest::parse(&params).err(),
                StatusCallback::parse(&params).err(),
                DialAction::parse(&params).err(),
                QueueAction::parse(&params).err(),
                QueueWait::parse(&params).err(),
                DequeueRequest::parse(&params).err(),
                ConferenceEvent::parse(&params).err(),
                InboundMessage::parse(&params).err(),
                RecordingCallback::parse(&params).err(),
                MessageStatusCallback::parse(&params).err(),
            ];
            for error in errors.into_iter().flatten() {
                prop_assert!(NAMES.contains(&error.parameter()), "{error:?}");
            }
            let _ = WebhookKind::classify(&params);
        }
    }
}
