//! The REST requests and TwiML evo-voice uses to control a call on an
//! agent's behalf: hold (a conference participant's `Hold`, or a leg outside
//! any conference redirected into a hold queue), the move into a
//! conference, blind transfers and hang-up. The server decides *which*;
//! this module knows *how* Twilio spells it.
//!
//! References: Participant resource `Hold`/`HoldUrl`
//! (<https://www.twilio.com/docs/voice/api/conference-participant-resource#update-a-participant-resource>),
//! Call resource update `Twiml`/`Status=completed`
//! (<https://www.twilio.com/docs/voice/api/call-resource#update-a-call-resource>),
//! `<Enqueue waitUrl>` (<https://www.twilio.com/docs/voice/twiml/enqueue>).

use evo_core::ids::SessionId;

use crate::rest::{CreateParticipant, EndCall, Instructions, UpdateCall, UpdateParticipant};
use crate::status::{CallProgressEvent, ConferenceEventGroup};
use crate::twiml::{Client, TwiML, HOLD_MUSIC_URL};

/// The conference a session's call moves into.
pub fn conference_name(session_id: &SessionId) -> String {
    format!("evo-{session_id}")
}

/// The queue a held call outside a conference waits in.
pub fn hold_queue_name(session_id: &SessionId) -> String {
    format!("hold-{session_id}")
}

/// Holds a conference participant, playing Twilio's hold music.
pub fn hold_participant() -> UpdateParticipant {
    UpdateParticipant {
        hold: Some(true),
        hold_url: Some(HOLD_MUSIC_URL.to_string()),
        hold_method: Some("GET".to_string()),
        ..UpdateParticipant::default()
    }
}

/// Takes a conference participant off hold.
pub fn unhold_participant() -> UpdateParticipant {
    UpdateParticipant {
        hold: Some(false),
        ..UpdateParticipant::default()
    }
}

/// Redirects a leg outside any conference into its hold queue, where it
/// hears hold music until redirected again.
pub fn hold_in_queue(queue: &str) -> UpdateCall {
    let twiml = TwiML::new().enqueue(queue, "", HOLD_MUSIC_URL);
    UpdateCall::redirect(Instructions::Twiml(twiml.to_xml()))
}

/// Redirects a leg to ring users (`<Dial><Client>`), as the voice webhook
/// does: `action` gets the `<Dial>` outcome.
pub fn ring_clients(action: &str, clients: &[Client]) -> UpdateCall {
    let twiml = TwiML::new().dial_clients(action, 25, clients);
    UpdateCall::redirect(Instructions::Twiml(twiml.to_xml()))
}

/// Redirects a leg to dial a phone number.
pub fn dial_number(
    action: &str,
    caller_id: &str,
    number: &str,
    status_callback: &str,
) -> UpdateCall {
    let twiml = TwiML::new().dial_number_as(action, caller_id, number, status_callback);
    UpdateCall::redirect(Instructions::Twiml(twiml.to_xml()))
}

/// Redirects a leg into a queue.
pub fn enqueue(queue: &str, action: &str, wait_url: &str) -> UpdateCall {
    let twiml = TwiML::new().enqueue(queue, action, wait_url);
    UpdateCall::redirect(Instructions::Twiml(twiml.to_xml()))
}

/// Redirects a leg into the named conference. The caller's leg ends the
/// conference when it leaves; an agent's does not.
pub fn join_conference(name: &str, status_callback: &str, end_on_exit: bool) -> UpdateCall {
    let twiml = TwiML::new().join_conference(name, status_callback, end_on_exit);
    UpdateCall::redirect(Instructions::Twiml(twiml.to_xml()))
}

/// Dials a new participant into a conference with the given label,
/// reporting its leg's progress and the conference's events.
pub fn add_participant(
    from: &str,
    to: &str,
    label: &str,
    status_callback: &str,
    conference_callback: &str,
) -> CreateParticipant {
    CreateParticipant {
        from: from.to_string(),
        to: to.to_string(),
        label: Some(label.to_string()),
        status_callback: Some(status_callback.to_string()),
        status_callback_method: Some("POST".to_string()),
        status_callback_events: vec![
            CallProgressEvent::Initiated,
            CallProgressEvent::Ringing,
            CallProgressEvent::Answered,
            CallProgressEvent::Completed,
        ],
        conference_status_callback: Some(conference_callback.to_string()),
        conference_status_callback_method: Some("POST".to_string()),
        conference_status_callback_events: vec![
            ConferenceEventGroup::Start,
            ConferenceEventGroup::End,
            ConferenceEventGroup::Join,
            ConferenceEventGroup::Leave,
            ConferenceEventGroup::Mute,
            ConferenceEventGroup::Hold,
        ],
        end_conference_on_exit: Some(false),
        timeout: Some(25),
        ..CreateParticipant::default()
    }
}

/// Hangs up a call in progress.
pub fn hang_up() -> UpdateCall {
    UpdateCall::end(EndCall::Completed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hold_outside_a_conference_enqueues_with_hold_music() {
        let form = hold_in_queue("hold-ses-1").form();
        let twiml = form
            .iter()
            .find(|(k, _)| k == "Twiml")
            .map(|(_, v)| v.clone())
            .unwrap();
        assert!(twiml.contains(
            "<Enqueue waitUrl=\"http://twimlets.com/holdmusic?Bucket=com.twilio.music.classical\">hold-ses-1</Enqueue>"
        ), "{twiml}");
    }

    #[test]
    fn a_participant_hold_sends_hold_and_its_music() {
        let form = hold_participant().form();
        assert!(form.contains(&("Hold".to_string(), "true".to_string())));
        assert!(form.contains(&("HoldUrl".to_string(), HOLD_MUSIC_URL.to_string())));
        assert_eq!(
            unhold_participant().form(),
            vec![("Hold".to_string(), "false".to_string())]
        );
    }

    #[test]
    fn a_conference_move_reports_the_conference_events() {
        let form =
            join_conference("evo-s", "https://v.test/twilio/conference?session=s", true).form();
        let twiml = &form.iter().find(|(k, _)| k == "Twiml").unwrap().1;
        assert!(
            twiml.contains("statusCallbackEvent=\"start end join leave mute hold\""),
            "{twiml}"
        );
        assert!(twiml.contains(">evo-s</Conference>"), "{twiml}");
    }
}
