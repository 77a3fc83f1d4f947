//! The session reducer: every transition the demo and the Twilio adapter
//! use, and convergence under duplicates and out-of-order delivery.

use chrono::{DateTime, TimeZone, Utc};
use evo_core::api::sessions::*;
use evo_core::domain::Crumb;
use evo_core::event::{Clock, EventKind, EventSource, SessionEvent};
use evo_core::reducer::{apply, open, reduce_all, try_apply_in_place, with_history, HistoryNeeded};
use evo_core::scenario::{build, Cast, Scenario, KINDS};
use evo_core::session::Session;
use proptest::prelude::*;

fn cast() -> Cast {
    Cast {
        account_id: "acc1".into(),
        account_name: "Acme Telecom".into(),
        customer: Some(Crumb {
            id: "cus2".into(),
            name: "Acme West".into(),
        }),
        breadcrumb: vec![
            Crumb {
                id: "cus1".into(),
                name: "Acme".into(),
            },
            Crumb {
                id: "cus2".into(),
                name: "Acme West".into(),
            },
        ],
        number: ("num1".into(), "+15550100".into(), "Main line".into()),
        agents: vec![
            ("u1".into(), "alice".into(), "Alice".into()),
            ("u2".into(), "bob".into(), "Bob".into()),
            ("u3".into(), "carol".into(), "Carol".into()),
        ],
        caller: "+15557770000".into(),
    }
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap()
}

fn scenario(kind: &str) -> Scenario {
    build(
        kind.parse().expect("a scenario kind"),
        &cast(),
        "T1",
        start(),
    )
}

/// Applies the first `n` events of a scenario in order.
fn run(scenario: &Scenario, n: usize) -> Session {
    let session = open(
        &scenario.session_id,
        scenario.header.clone(),
        scenario.opened_at,
    );
    scenario.events[..n]
        .iter()
        .fold(session, |s, e| apply(&s, e))
}

fn run_all(scenario: &Scenario) -> Session {
    run(scenario, scenario.events.len())
}

fn member<'a>(session: &'a Session, identity: &str) -> Option<&'a evo_core::session::Member> {
    session
        .state()
        .members
        .iter()
        .find(|m| m.identity == identity)
}

#[test]
fn an_opened_incoming_call_is_ringing_with_its_caller_as_original_member() {
    let s = scenario("inbound-answered");
    let session = run(&s, 0);
    let info = session.to_info();
    assert_eq!(info.call_state, SessionCallState::Ringing);
    assert_eq!(info.direction, SessionDirections::Incoming);
    assert!(!info.ended);
    assert_eq!(info.members.len(), 1);
    assert_eq!(info.members[0].role, SessionMemberRoles::Caller);
    assert!(info.members[0].is_original_member);
    assert_eq!(info.customer_breadcrumb.len(), 2);
    assert_eq!(info.customer_breadcrumb[0].name.as_deref(), Some("Acme"));
    assert_eq!(
        info.log[0].message.as_deref(),
        Some("Incoming call from +15557770000 to +15550100")
    );
}

#[test]
fn ringing_agents_become_members_and_the_dial_is_active() {
    let s = scenario("inbound-answered");
    let session = run(&s, 4);
    assert_eq!(session.state().dial_state, SessionDialState::Active);
    assert_eq!(session.state().call_state, SessionCallState::Ringing);
    let alice = member(&session, "client:alice").unwrap();
    assert_eq!(alice.call_state, SessionMemberCallState::Ringing);
    assert_eq!(alice.role, SessionMemberRoles::Agent);
    assert!(member(&session, "client:bob").is_some());
}

#[test]
fn the_first_agent_to_answer_connects_and_the_others_drop_out() {
    let s = scenario("inbound-answered");
    let session = run(&s, 6);
    assert_eq!(session.state().call_state, SessionCallState::Connected);
    assert_eq!(session.state().dial_state, SessionDialState::None);
    assert_eq!(session.state().answered_by_id.as_deref(), Some("u1"));
    assert_eq!(session.state().answered_by_name.as_deref(), Some("Alice"));
    assert!(member(&session, "client:bob").is_none());
    assert_eq!(
        member(&session, "+15557770000").unwrap().call_state,
        SessionMemberCallState::Connected
    );
    assert!(session
        .state()
        .log
        .iter()
        .any(|l| l.message == "Bob did not answer (canceled)"));
}

#[test]
fn the_root_call_completing_ends_the_session_with_its_outcome() {
    let s = scenario("inbound-answered");
    let session = run_all(&s);
    let info = session.to_info();
    assert!(info.ended);
    assert_eq!(info.outcome.as_deref(), Some("completed"));
    assert_eq!(info.call_state, SessionCallState::Disconnected);
    assert!(info.date_completed.is_some());
    assert!(!info.was_missed);
}

#[test]
fn an_unanswered_incoming_call_is_missed() {
    let session = run_all(&scenario("inbound-missed"));
    assert!(session.state().ended);
    assert!(session.state().was_missed);
    assert!(session.state().answered_by_id.is_none());
}

#[test]
fn a_queued_caller_waits_then_connects_to_the_agent_who_dequeues() {
    let s = scenario("queued-answered");
    let queued = run(&s, 3);
    assert_eq!(queued.state().queue_state, SessionQueueStates::Queued);
    assert_eq!(queued.state().call_state, SessionCallState::Passive);
    assert_eq!(queued.state().ring_queue_id.as_deref(), Some("support"));
    let ringing = run(&s, 4);
    assert_eq!(ringing.state().queue_state, SessionQueueStates::Ringing);
    let connected = run(&s, 5);
    assert_eq!(connected.state().queue_state, SessionQueueStates::Connected);
    assert_eq!(connected.state().queue_member_id.as_deref(), Some("u2"));
    assert_eq!(connected.state().call_state, SessionCallState::Connected);
    let ended = run_all(&s);
    assert_eq!(ended.state().queue_state, SessionQueueStates::Disconnected);
}

#[test]
fn hold_and_unhold_change_the_call_state_and_hold_fields() {
    let s = scenario("hold-unhold");
    let held = run(&s, 5);
    assert_eq!(held.state().call_state, SessionCallState::Hold);
    assert_eq!(held.state().held_by_user_id.as_deref(), Some("u3"));
    assert_eq!(held.state().hold_queue_name.as_deref(), Some("hold-T1"));
    assert_eq!(
        member(&held, "+15557770000").unwrap().call_state,
        SessionMemberCallState::Hold
    );
    let resumed = run(&s, 6);
    assert_eq!(resumed.state().call_state, SessionCallState::Connected);
    assert!(resumed.state().held_by_user_id.is_none());
    assert!(resumed.state().hold_queue_name.is_none());
}

#[test]
fn a_blind_transfer_holds_the_caller_then_hands_over_to_the_target() {
    let s = scenario("blind-transfer");
    let transferring = run(&s, 5);
    assert_eq!(
        transferring.state().hold_reason,
        SessionHoldReasons::Transferring
    );
    assert_eq!(transferring.state().call_state, SessionCallState::Hold);
    let ringing = run(&s, 7);
    let carol = member(&ringing, "client:carol").unwrap();
    assert_eq!(carol.role, SessionMemberRoles::Transfer);
    assert_eq!(carol.call_state, SessionMemberCallState::Ringing);
    let done = run(&s, 8);
    assert_eq!(done.state().hold_reason, SessionHoldReasons::None);
    assert_eq!(done.state().call_state, SessionCallState::Connected);
    assert!(member(&done, "client:alice").is_none());
    assert_eq!(done.state().answered_by_name.as_deref(), Some("Alice"));
}

#[test]
fn a_warm_transfer_in_a_conference_tracks_participants_and_hold() {
    let s = scenario("warm-transfer");
    let agent_joined = run(&s, 4);
    assert_eq!(agent_joined.state().conference_sid.as_deref(), Some("CFT1"));
    assert_eq!(
        agent_joined
            .state()
            .most_recent_participant_call_sid
            .as_deref(),
        Some("CAT1L1")
    );
    assert_eq!(agent_joined.state().call_state, SessionCallState::Connected);
    let caller_held = run(&s, 6);
    assert_eq!(caller_held.state().call_state, SessionCallState::Hold);
    let target_joined = run(&s, 7);
    assert_eq!(
        target_joined
            .state()
            .most_recent_participant_call_sid
            .as_deref(),
        Some("CAT1L2")
    );
    assert_eq!(
        member(&target_joined, "client:bob").unwrap().role,
        SessionMemberRoles::Transfer
    );
    let handed_over = run(&s, 9);
    assert_eq!(handed_over.state().call_state, SessionCallState::Connected);
    assert!(member(&handed_over, "client:alice").is_none());
    assert!(run_all(&s).state().ended);
}

#[test]
fn an_outbound_call_from_a_softphone_connects_when_the_callee_answers() {
    let s = scenario("outbound");
    let dialling = run(&s, 4);
    assert_eq!(dialling.state().call_state, SessionCallState::Ringing);
    assert_eq!(dialling.header().direction, SessionDirections::Outgoing);
    assert_eq!(
        member(&dialling, "client:alice").unwrap().role,
        SessionMemberRoles::Agent
    );
    let talking = run(&s, 5);
    assert_eq!(talking.state().call_state, SessionCallState::Connected);
    let ended = run_all(&s);
    assert!(!ended.state().was_missed);
}

#[test]
fn an_sms_chat_logs_every_message_and_ends_when_closed() {
    let s = scenario("sms-chat");
    let chatting = run(&s, 2);
    assert_eq!(chatting.header().channel, FlowChannels::Chat);
    assert_eq!(chatting.state().call_state, SessionCallState::Connected);
    assert!(chatting
        .state()
        .log
        .iter()
        .any(|l| l.message == "Message from +15557770000: It's order 1234"));
    assert_eq!(
        chatting.to_info().from_phone_number.as_deref(),
        Some("+15557770000")
    );
    assert!(run_all(&s).state().ended);
}

#[test]
fn a_duplicate_event_changes_nothing() {
    let s = scenario("inbound-answered");
    let once = run(&s, 5);
    let twice = apply(&once, &s.events[4]);
    assert_eq!(once, twice);
}

#[test]
fn a_terminal_leg_status_is_final() {
    let s = scenario("inbound-missed");
    let ended = run_all(&s);
    let mut late = s.events[2].clone();
    late.source = EventSource::Call {
        call_sid: "CAT1L1".into(),
        sequence: Some(99),
    };
    late.at = ended.last_activity() + chrono::Duration::seconds(5);
    assert_eq!(apply(&ended, &late).state(), ended.state());
}

#[test]
fn an_ended_session_ignores_events_from_after_its_end() {
    let s = scenario("inbound-answered");
    let ended = run_all(&s);
    let after = SessionEvent {
        at: ended.last_activity() + chrono::Duration::seconds(1),
        clock: Clock::Server,
        source: EventSource::Internal { id: "x".into() },
        kind: EventKind::ConsoleData {
            data: "late".into(),
        },
    };
    assert_eq!(apply(&ended, &after).state(), ended.state());
}

fn shuffled_with_duplicates(
    events: &[SessionEvent],
    order: &[usize],
    duplicates: &[usize],
) -> Vec<SessionEvent> {
    let mut indexed: Vec<(usize, usize)> = (0..events.len())
        .map(|i| (order.get(i).copied().unwrap_or(i), i))
        .collect();
    indexed.sort();
    let mut delivered: Vec<SessionEvent> = indexed
        .into_iter()
        .map(|(_, i)| events[i].clone())
        .collect();
    for (n, d) in duplicates.iter().enumerate() {
        let event = events[d % events.len()].clone();
        let position = (n * 7 + d) % (delivered.len() + 1);
        delivered.insert(position, event);
    }
    delivered
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any permutation of a scenario's deliveries, with any duplicates,
    /// gives the same session as in-order delivery.
    #[test]
    fn any_delivery_order_with_duplicates_converges_to_the_in_order_session(
        kind in proptest::sample::select(KINDS.to_vec()),
        order in proptest::collection::vec(0usize..1000, 0..20),
        duplicates in proptest::collection::vec(0usize..100, 0..8),
    ) {
        let s = build(kind, &cast(), "P1", start());
        let in_order = run_all(&s);
        let delivered = shuffled_with_duplicates(&s.events, &order, &duplicates);
        let opened = open(&s.session_id, s.header.clone(), s.opened_at);
        let mut converged = opened;
        for event in &delivered {
            converged = apply(&converged, event);
            // The incremental step equals the reference fold at every step.
            let reference = reduce_all(converged.header(), converged.opened_at(), converged.events());
            prop_assert_eq!(converged.state(), &reference);
        }
        prop_assert_eq!(converged, in_order);
    }
}

#[test]
fn an_agent_hold_in_a_conference_shows_once_twilio_reports_the_participant_held() {
    let s = scenario("warm-transfer");
    let in_conference = run(&s, 4);
    let root = s.header.call_sid.clone().unwrap();
    let at = start() + chrono::Duration::seconds(100);
    let asked = apply(
        &in_conference,
        &SessionEvent {
            at,
            clock: Clock::Server,
            source: EventSource::Agent { id: "u1:1".into() },
            kind: EventKind::HoldStarted {
                call_sid: Some(root.clone()),
                by_user_id: Some("u1".into()),
                reason: SessionHoldReasons::Transferring,
                queue_name: None,
            },
        },
    );
    // Asked, logged, not yet done: the conference says who is held.
    assert_eq!(asked.state().call_state, SessionCallState::Connected);
    assert_eq!(asked.state().hold_reason, SessionHoldReasons::None);
    assert!(asked
        .state()
        .log
        .iter()
        .any(|l| l.message.ends_with("put on hold by u1")));
    let held = apply(
        &asked,
        &SessionEvent {
            at: at + chrono::Duration::seconds(1),
            clock: Clock::Twilio,
            source: EventSource::Conference {
                conference_sid: "CFT1".into(),
                sequence: Some(50),
            },
            kind: EventKind::Participant {
                conference_sid: "CFT1".into(),
                change: evo_core::event::ParticipantChange::Hold,
                call_sid: Some(root),
                label: None,
                party: None,
                muted: Some(false),
                hold: Some(true),
                coaching: Some(false),
            },
        },
    );
    assert_eq!(held.state().call_state, SessionCallState::Hold);
    assert_eq!(held.state().hold_reason, SessionHoldReasons::Transferring);
    assert_eq!(held.state().held_by_user_id.as_deref(), Some("u1"));
}

/// A chat message `n` seconds after `s` opened, from the caller.
fn chat_message(s: &Scenario, n: i64) -> SessionEvent {
    SessionEvent {
        at: s.opened_at + chrono::Duration::seconds(n),
        clock: Clock::Server,
        source: EventSource::Message {
            message_sid: format!("SM{n:032x}").into(),
        },
        kind: EventKind::MessageReceived {
            from: "+15557770000".into(),
            body: format!("message {n}"),
            media: Vec::new(),
        },
    }
}

#[test]
fn a_compact_chat_takes_messages_in_order_without_its_history_and_a_late_one_with_it() {
    let s = scenario("sms-chat");
    let mut session = open(&s.session_id, s.header.clone(), s.opened_at);
    session.compact();
    let mut log = Vec::new();
    for n in 1..=50 {
        let message = chat_message(&s, n);
        assert_eq!(try_apply_in_place(&mut session, &message), Ok(true));
        // A redelivery is known by its hash alone.
        assert_eq!(try_apply_in_place(&mut session, &message), Ok(false));
        log.push(message);
    }
    assert!(!session.carries_events());
    assert_eq!(
        *session.state(),
        reduce_all(session.header(), session.opened_at(), &log)
    );
    let stored = serde_json::to_string(&session).unwrap();
    // The message appears once, as its log line; the event is not stored.
    assert_eq!(
        stored.matches("message 7\"").count(),
        1,
        "the snapshot carries the log, not the events: {stored}"
    );

    // A message older than the last one re-folds the stream: the reducer
    // asks for the history and leaves the session as it was.
    let late = chat_message(&s, 0);
    let before = session.clone();
    assert_eq!(try_apply_in_place(&mut session, &late), Err(HistoryNeeded));
    assert_eq!(session.state(), before.state());
    assert_eq!(session.version(), before.version());
    // A log that is not the session's events is refused.
    assert!(with_history(&mut session, log[1..].to_vec()).is_err());
    with_history(&mut session, log.clone()).unwrap();
    assert_eq!(try_apply_in_place(&mut session, &late), Ok(true));
    log.push(late);
    session.compact();
    assert_eq!(
        *session.state(),
        reduce_all(session.header(), session.opened_at(), &log)
    );
    assert_eq!(session.version(), 52);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The store rewrites a session's log rows from `log_stored()` on: in
    /// any delivery order (compact sessions taking their history when a
    /// step needs it), the lines before it are the ones last stored.
    #[test]
    fn the_log_lines_below_the_stored_mark_are_the_stored_ones(
        kind in proptest::sample::select(KINDS.to_vec()),
        order in proptest::collection::vec(0usize..1000, 0..20),
        duplicates in proptest::collection::vec(0usize..100, 0..8),
    ) {
        let s = build(kind, &cast(), "M1", start());
        let delivered = shuffled_with_duplicates(&s.events, &order, &duplicates);
        let mut session = open(&s.session_id, s.header.clone(), s.opened_at);
        prop_assert_eq!(session.log_stored(), 0, "nothing stored yet");
        session.compact();
        session.mark_log_stored();
        let mut stored = session.state().log.clone();
        let mut applied: Vec<SessionEvent> = Vec::new();
        for event in &delivered {
            if try_apply_in_place(&mut session, event).is_err() {
                with_history(&mut session, applied.clone()).unwrap();
                try_apply_in_place(&mut session, event).unwrap();
            }
            session.compact();
            applied.push(event.clone());
            let mark = session.log_stored();
            prop_assert!(mark <= stored.len());
            prop_assert_eq!(&session.state().log[..mark], &stored[..mark]);
            // What a commit does: rows from the mark on rewritten.
            stored.truncate(mark);
            stored.extend_from_slice(&session.state().log[mark..]);
            prop_assert_eq!(&stored, &session.state().log);
            session.mark_log_stored();
        }
    }
}

/// The store's snapshot is the session less its log and dedupe hashes;
/// read back and given its log rows and its event log's keys, it is the
/// session again.
#[test]
fn a_snapshot_is_the_session_without_its_log() {
    for kind in KINDS {
        let mut session = run_all(&build(*kind, &cast(), "N1", start()));
        session.compact();
        let mut whole = serde_json::to_value(&session).unwrap();
        whole["state"].as_object_mut().unwrap().remove("log");
        whole.as_object_mut().unwrap().remove("seen");
        let snapshot = serde_json::to_value(session.snapshot()).unwrap();
        assert_eq!(snapshot, whole, "{kind:?}");
        let mut back: Session = serde_json::from_value(snapshot).unwrap();
        assert!(back.state().log.is_empty());
        back.restore_log(session.state().log.clone());
        let s = build(*kind, &cast(), "N1", start());
        back.restore_seen(
            s.events
                .iter()
                .map(|e| e.dedupe_key())
                .collect::<Vec<_>>()
                .iter()
                .map(String::as_str),
        );
        assert_eq!(back.log_stored(), session.state().log.len());
        assert_eq!(back, session, "{kind:?}");
    }
}
