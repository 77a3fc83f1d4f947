//! What the store keeps must stay readable: events and snapshots written by
//! this version (`tests/fixtures/*.json`, committed) deserialise, keep their
//! dedupe keys, and serialise back to the same JSON. Every variant of every
//! persisted enum is in the fixture, with its key spelled out, so reordering
//! or renaming Rust declarations cannot silently change a tag or a key.

use std::path::PathBuf;

use chrono::{DateTime, TimeZone, Utc};
use evo_core::api::sessions::{SessionHoldReasons, SessionMemberRoles};
use evo_core::event::{
    CallProgress, Clock, DialCallStatus, EventKind, EventSource, Media, ParticipantChange, Party,
    QueueResult, SessionEvent,
};
use evo_core::reducer::{apply, reduce_all};
use evo_core::session::Session;
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap()
}

/// Which variant an event is, by an exhaustive match: adding a variant
/// fails to compile here until the fixture covers it.
fn kind_number(kind: &EventKind) -> usize {
    match kind {
        EventKind::CallStatus { .. } => 0,
        EventKind::Enqueued { .. } => 1,
        EventKind::EnqueueAction { .. } => 2,
        EventKind::Dequeued { .. } => 3,
        EventKind::DialAction { .. } => 4,
        EventKind::HoldStarted { .. } => 5,
        EventKind::HoldEnded { .. } => 6,
        EventKind::TransferStarted { .. } => 7,
        EventKind::HangupRequested { .. } => 8,
        EventKind::ConferenceStarted { .. } => 9,
        EventKind::Participant { .. } => 10,
        EventKind::ConferenceEnded { .. } => 11,
        EventKind::MessageReceived { .. } => 12,
        EventKind::ConsoleData { .. } => 13,
        EventKind::Ended { .. } => 14,
        EventKind::ActionFailed { .. } => 15,
    }
}
const KINDS: usize = 16;

fn source_number(source: &EventSource) -> usize {
    match source {
        EventSource::Voice { .. } => 0,
        EventSource::Call { .. } => 1,
        EventSource::Conference { .. } => 2,
        EventSource::Dial { .. } => 3,
        EventSource::Queue { .. } => 4,
        EventSource::Message { .. } => 5,
        EventSource::Agent { .. } => 6,
        EventSource::Internal { .. } => 7,
    }
}
const SOURCES: usize = 8;

#[test]
fn stored_events_deserialise_with_the_same_tags_and_keys() {
    let entries = fixture("events-v1.json");
    let entries = entries.as_array().unwrap();
    let mut kinds = [false; KINDS];
    let mut sources = [false; SOURCES];
    for entry in entries {
        let event: SessionEvent = serde_json::from_value(entry["event"].clone())
            .unwrap_or_else(|e| panic!("{entry}: {e}"));
        assert_eq!(
            event.dedupe_key(),
            entry["dedupeKey"].as_str().unwrap(),
            "dedupe key of {entry}"
        );
        assert_eq!(
            serde_json::to_value(&event).unwrap(),
            entry["event"],
            "serialises back unchanged"
        );
        kinds[kind_number(&event.kind)] = true;
        sources[source_number(&event.source)] = true;
    }
    assert!(
        kinds.iter().all(|k| *k),
        "every EventKind is in the fixture"
    );
    assert!(
        sources.iter().all(|s| *s),
        "every EventSource is in the fixture"
    );
}

#[test]
fn status_words_are_spelled_as_twilio_spells_them() {
    let json = |v: Value| v.as_str().unwrap().to_string();
    for progress in CallProgress::ALL {
        assert_eq!(
            json(serde_json::to_value(progress).unwrap()),
            progress.as_str()
        );
        assert_eq!(CallProgress::parse(progress.as_str()), Some(progress));
    }
    for status in DialCallStatus::ALL {
        assert_eq!(json(serde_json::to_value(status).unwrap()), status.as_str());
    }
    for result in QueueResult::ALL {
        assert_eq!(json(serde_json::to_value(result).unwrap()), result.as_str());
    }
    for change in ParticipantChange::ALL {
        assert_eq!(json(serde_json::to_value(change).unwrap()), change.as_str());
    }
    assert_eq!(serde_json::to_value(Clock::Twilio).unwrap(), "twilio");
    assert_eq!(serde_json::to_value(Clock::Server).unwrap(), "server");
}

#[test]
fn a_stored_snapshot_loads_and_takes_new_events() {
    let stored: Session = serde_json::from_value(fixture("session-v1.json")).unwrap();
    assert_eq!(
        serde_json::to_value(&stored).unwrap(),
        fixture("session-v1.json"),
        "a snapshot serialises back unchanged"
    );
    // The reducer's working state is not stored; it is rebuilt on demand.
    assert_eq!(
        *stored.state(),
        reduce_all(stored.header(), stored.opened_at(), stored.events())
    );
    let late = SessionEvent {
        at: stored.opened_at() + chrono::Duration::seconds(90),
        clock: Clock::Server,
        source: EventSource::Agent { id: "late".into() },
        kind: EventKind::ConsoleData {
            data: "notes".into(),
        },
    };
    let next = apply(&stored, &late);
    assert_eq!(next.version(), stored.version() + 1);
    assert_eq!(
        *next.state(),
        reduce_all(next.header(), next.opened_at(), next.events())
    );
}

/// One event of every kind and source, as the fixture holds them.
fn every_variant() -> Vec<SessionEvent> {
    let at: DateTime<Utc> = Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 1).unwrap();
    let agent = Party {
        identity: "client:u1".into(),
        endpoint_id: Some("u1".into()),
        display_name: Some("Alice".into()),
        role: SessionMemberRoles::Agent,
    };
    let e = |clock, source, kind| SessionEvent {
        at,
        clock,
        source,
        kind,
    };
    let root = "CA00000001000000000000000000000000".to_string();
    let leg = "CA00000001000000000000000000000001".to_string();
    let conf = "CF00000001000000000000000000000001".to_string();
    vec![
        e(
            Clock::Server,
            EventSource::Voice {
                call_sid: root.clone().into(),
            },
            EventKind::CallStatus {
                call_sid: root.clone().into(),
                status: CallProgress::Ringing,
                party: None,
                duration: None,
                sip_response_code: None,
            },
        ),
        e(
            Clock::Twilio,
            EventSource::Call {
                call_sid: leg.clone().into(),
                sequence: Some(3),
            },
            EventKind::CallStatus {
                call_sid: leg.clone().into(),
                status: CallProgress::Completed,
                party: Some(agent.clone()),
                duration: Some(95),
                sip_response_code: Some(200),
            },
        ),
        e(
            Clock::Server,
            EventSource::Voice {
                call_sid: root.clone().into(),
            },
            EventKind::Enqueued {
                queue_name: "support".into(),
            },
        ),
        e(
            Clock::Server,
            EventSource::Queue {
                call_sid: root.clone().into(),
            },
            EventKind::Dequeued {
                call_sid: root.clone().into(),
                dequeuing_call_sid: leg.clone().into(),
                queue_sid: Some("QU00000001000000000000000000000001".into()),
                queue_time: Some(20),
                party: Some(agent.clone()),
            },
        ),
        e(
            Clock::Server,
            EventSource::Queue {
                call_sid: root.clone().into(),
            },
            EventKind::EnqueueAction {
                call_sid: root.clone().into(),
                result: QueueResult::RedirectedFromBridged,
                queue_sid: Some("QU00000001000000000000000000000001".into()),
                queue_time: Some(20),
                hangup: true,
            },
        ),
        e(
            Clock::Server,
            EventSource::Dial {
                call_sid: root.clone().into(),
            },
            EventKind::DialAction {
                call_sid: root.clone().into(),
                status: DialCallStatus::NoAnswer,
                dial_call_sid: Some(leg.clone().into()),
                dial_call_duration: Some(0),
                bridged: Some(false),
                party: None,
                hangup: true,
            },
        ),
        e(
            Clock::Server,
            EventSource::Agent { id: "a1".into() },
            EventKind::HoldStarted {
                call_sid: None,
                by_user_id: Some("u1".into()),
                reason: SessionHoldReasons::None,
                queue_name: Some("hold-1".into()),
            },
        ),
        e(
            Clock::Server,
            EventSource::Agent { id: "a2".into() },
            EventKind::HoldEnded { call_sid: None },
        ),
        e(
            Clock::Server,
            EventSource::Agent { id: "a3".into() },
            EventKind::TransferStarted {
                by_user_id: Some("u1".into()),
                target: agent.clone(),
                blind: false,
            },
        ),
        e(
            Clock::Server,
            EventSource::Agent { id: "a4".into() },
            EventKind::HangupRequested {
                by_user_id: Some("u1".into()),
            },
        ),
        e(
            Clock::Twilio,
            EventSource::Conference {
                conference_sid: conf.clone().into(),
                sequence: Some(2),
            },
            EventKind::ConferenceStarted {
                conference_sid: conf.clone().into(),
            },
        ),
        e(
            Clock::Twilio,
            EventSource::Conference {
                conference_sid: conf.clone().into(),
                sequence: None,
            },
            EventKind::Participant {
                conference_sid: conf.clone().into(),
                change: ParticipantChange::Modify,
                call_sid: Some(leg.clone().into()),
                label: Some("agent:u1".into()),
                party: Some(agent.clone()),
                muted: Some(false),
                hold: Some(false),
                coaching: Some(true),
            },
        ),
        e(
            Clock::Twilio,
            EventSource::Conference {
                conference_sid: conf.clone().into(),
                sequence: Some(9),
            },
            EventKind::ConferenceEnded {
                conference_sid: conf.clone().into(),
                reason: Some("last-participant-left".into()),
            },
        ),
        e(
            Clock::Server,
            EventSource::Message {
                message_sid: "MM00000001000000000000000000000001".into(),
            },
            EventKind::MessageReceived {
                from: "+15557770000".into(),
                body: String::new(),
                media: vec![Media {
                    url: "https://api.twilio.com/media/ME1".into(),
                    content_type: Some("image/jpeg".into()),
                }],
            },
        ),
        e(
            Clock::Server,
            EventSource::Agent { id: "a5".into() },
            EventKind::ConsoleData {
                data: "{\"ticket\":42}".into(),
            },
        ),
        e(
            Clock::Server,
            EventSource::Internal {
                id: "reconcile:1".into(),
            },
            EventKind::Ended {
                outcome: "completed".into(),
                reason: "Twilio reports the call completed".into(),
            },
        ),
        e(
            Clock::Server,
            EventSource::Agent { id: "a6".into() },
            EventKind::ActionFailed {
                by_user_id: Some("u1".into()),
                action: "Warm transfer to +15550001111".into(),
                error: "Twilio 21215: Account not authorized to call +15550001111".into(),
            },
        ),
    ]
}

/// This version writes exactly the fixture: a change of a tag, a field
/// name or a key format fails here (regenerate the file only for an
/// intended, migrated format change).
#[test]
fn this_version_writes_the_fixture() {
    let written: Vec<Value> = every_variant()
        .into_iter()
        .map(|event| {
            serde_json::json!({
                "dedupeKey": event.dedupe_key(),
                "event": event,
            })
        })
        .collect();
    let written = Value::Array(written);
    assert_eq!(
        written,
        fixture("events-v1.json"),
        "{}",
        serde_json::to_string_pretty(&written).unwrap()
    );
}

/// A snapshot of the compact format (no event list: the dedupe hashes and
/// each stream's summary and ordering key), as the server stores it since
/// the first format. Built from the warm-transfer scenario of
/// `evo_core::scenario` (Twilio's voice, status-callback and conference
/// callbacks, see that module), stopped three events before its end; the
/// fixture keeps the events before (`events`, the store's event log) and
/// after (`next`).
#[test]
fn a_compact_snapshot_loads_takes_events_in_order_and_asks_for_its_log_otherwise() {
    use evo_core::reducer::{try_apply_in_place, with_history, HistoryNeeded};

    let fixture = fixture("session-v2.json");
    let stored: Session = serde_json::from_value(fixture["snapshot"].clone()).unwrap();
    assert_eq!(
        serde_json::to_value(&stored).unwrap(),
        fixture["snapshot"],
        "a snapshot serialises back unchanged"
    );
    assert!(!stored.carries_events());
    let log: Vec<SessionEvent> = serde_json::from_value(fixture["events"].clone()).unwrap();
    let next: Vec<SessionEvent> = serde_json::from_value(fixture["next"].clone()).unwrap();
    assert_eq!(
        *stored.state(),
        reduce_all(stored.header(), stored.opened_at(), &log)
    );
    assert_eq!(stored.version(), log.len() as u64 + 1);

    // Every event already applied is known by its hash alone.
    for event in &log {
        let mut again = stored.clone();
        assert_eq!(try_apply_in_place(&mut again, event), Ok(false));
    }

    // The rest, in order: each step either needs nothing or asks for the
    // log; either way it equals the reference fold.
    let mut session = stored.clone();
    let mut applied = log.clone();
    for event in &next {
        if try_apply_in_place(&mut session, event) == Err(HistoryNeeded) {
            with_history(&mut session, applied.clone()).unwrap();
            assert_eq!(try_apply_in_place(&mut session, event), Ok(true));
        }
        applied.push(event.clone());
        session.compact();
        assert_eq!(
            *session.state(),
            reduce_all(session.header(), session.opened_at(), &applied)
        );
    }

    // The conference's end before its last participant leaves: the leave
    // (an earlier sequence number) re-folds the conference, which needs
    // the log; the session is unchanged until it gets it.
    let (leave, end) = (&next[0], &next[1]);
    let mut session = stored.clone();
    let mut applied = log.clone();
    if try_apply_in_place(&mut session, end) == Err(HistoryNeeded) {
        with_history(&mut session, applied.clone()).unwrap();
        assert_eq!(try_apply_in_place(&mut session, end), Ok(true));
    }
    applied.push(end.clone());
    session.compact();
    let before = session.clone();
    assert_eq!(try_apply_in_place(&mut session, leave), Err(HistoryNeeded));
    assert_eq!(session.state(), before.state());
    assert_eq!(session.version(), before.version());
    with_history(&mut session, applied.clone()).unwrap();
    assert_eq!(try_apply_in_place(&mut session, leave), Ok(true));
    applied.push(leave.clone());
    assert_eq!(
        *session.state(),
        reduce_all(session.header(), session.opened_at(), &applied)
    );
}

/// The upgrade path: a first-format snapshot (with its event map) read by
/// the server is compacted, and its next commit writes the compact format,
/// with the same state and version and every event known by its hash.
#[test]
fn a_first_format_snapshot_compacts_to_the_new_format() {
    use evo_core::reducer::try_apply_in_place;

    let stored: Session = serde_json::from_value(fixture("session-v1.json")).unwrap();
    let events: Vec<SessionEvent> = stored.events().cloned().collect();
    assert!(!events.is_empty());
    let mut compact = stored.clone();
    compact.compact();
    let written = serde_json::to_value(&compact).unwrap();
    assert!(written.get("events").is_none(), "{written}");
    assert!(written["seen"].is_string() && written["reducer"].is_object());
    let read: Session = serde_json::from_value(written).unwrap();
    assert_eq!(read.state(), stored.state());
    assert_eq!(read.version(), stored.version());
    assert!(!read.carries_events());
    for event in &events {
        let mut again = read.clone();
        assert_eq!(try_apply_in_place(&mut again, event), Ok(false));
    }
}
