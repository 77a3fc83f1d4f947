//! The corpus of Twilio callback sequences (`tests/corpus/*.json`): each
//! case is the list of requests Twilio (and agents) send, with Twilio's
//! documented parameter sets (the doc URLs are in each file's `docs`), and
//! the session it must end with. The files are data so that the server's
//! tests can replay them as signed webhooks; here the adapter's own
//! translation (`evo_twilio::translate`) turns each request into core events.
//!
//! Checked for every case: in-order delivery gives the expected session;
//! every step of `apply` equals the reference fold; any permutation with
//! duplicates and retries converges to the same session; ties in
//! `Timestamp` and a missing `Timestamp` give the same outcome, members,
//! answerer and log lines.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use evo_core::api::sessions::{FlowChannels, SessionDirections, SessionMemberRoles};
use evo_core::event::{Clock, EventKind, EventSource, ParticipantChange, Party, SessionEvent};
use evo_core::reducer::{apply, open, reduce_all, try_apply_in_place, with_history, HistoryNeeded};
use evo_core::session::{Session, SessionHeader};
use evo_twilio::params::FormParams;
use evo_twilio::{translate, webhook};
use proptest::prelude::*;
use serde_json::Value;

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

fn read(path: PathBuf) -> Value {
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

struct Case {
    name: String,
    requests: Vec<Value>,
    expected: Value,
}

fn cases() -> Vec<Case> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("the corpus directory exists")
        .map(|entry| entry.expect("a readable entry").path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && p.file_name().is_some_and(|n| n != "directory.json")
        })
        .collect();
    paths.sort();
    assert!(paths.len() >= 19, "the corpus has its cases");
    paths
        .into_iter()
        .map(|path| {
            let doc = read(path);
            assert!(
                doc["docs"].as_array().is_some_and(|d| !d.is_empty()),
                "every case cites Twilio's docs"
            );
            Case {
                name: doc["name"].as_str().unwrap().to_string(),
                requests: doc["requests"].as_array().unwrap().clone(),
                expected: doc["expected"].clone(),
            }
        })
        .collect()
}

/// The directory the corpus assumes (numbers, users).
struct Directory(Value);

impl Directory {
    fn load() -> Self {
        Directory(read(corpus_dir().join("directory.json")))
    }

    fn number(&self, address: &str) -> Option<&Value> {
        self.0["numbers"]
            .as_array()?
            .iter()
            .find(|n| n["number"] == address)
    }

    fn user(&self, id: &str, role: SessionMemberRoles) -> Party {
        let user = self.0["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["id"] == id)
            .unwrap_or_else(|| panic!("unknown user {id}"));
        Party {
            identity: format!("client:{id}"),
            endpoint_id: Some(id.to_string().into()),
            display_name: user["name"].as_str().map(str::to_string),
            role,
        }
    }
}

fn param<'a>(request: &'a Value, name: &str) -> Option<&'a str> {
    request["params"][name].as_str().filter(|v| !v.is_empty())
}

fn query<'a>(request: &'a Value, name: &str) -> Option<&'a str> {
    request["query"][name].as_str().filter(|v| !v.is_empty())
}

fn received(request: &Value) -> DateTime<Utc> {
    request["receivedAt"].as_str().unwrap().parse().unwrap()
}

/// Twilio's `Timestamp`, else the server's clock.
fn stamp(request: &Value) -> (DateTime<Utc>, Clock) {
    match param(request, "Timestamp") {
        Some(t) => (
            DateTime::parse_from_rfc2822(t).unwrap().with_timezone(&Utc),
            Clock::Twilio,
        ),
        None => (received(request), Clock::Server),
    }
}

/// The session a case opens: from its voice webhook, else its first message.
fn opening(dir: &Directory, requests: &[Value]) -> (String, SessionHeader, DateTime<Utc>) {
    let request = requests
        .iter()
        .find(|r| r["endpoint"] == "voice")
        .or_else(|| requests.iter().find(|r| r["endpoint"] == "sms"))
        .expect("a case opens a session");
    let from = param(request, "From").unwrap().to_string();
    let to = param(request, "To").unwrap().to_string();
    let mut header = SessionHeader {
        account_id: dir.0["account"]["id"].as_str().unwrap().into(),
        account_name: dir.0["account"]["name"].as_str().unwrap().into(),
        channel: FlowChannels::Voice,
        from_address: Some(from.clone()),
        to_address: Some(to.clone()),
        ..SessionHeader::default()
    };
    if request["endpoint"] == "sms" {
        let number = dir.number(&to).unwrap();
        let sid = param(request, "MessageSid").unwrap();
        header.channel = FlowChannels::Chat;
        header.direction = SessionDirections::Incoming;
        header.endpoint_id = number["id"].as_str().unwrap().into();
        header.endpoint_name = number["name"].as_str().unwrap().into();
        header.from_phone_number = Some(from.clone());
        header.display_name = Some(format!("{from} → {}", header.endpoint_name));
        header.origin = Some(Party {
            identity: from,
            endpoint_id: None,
            display_name: None,
            role: SessionMemberRoles::Caller,
        });
        return (format!("ses-{sid}"), header, received(request));
    }
    let call_sid = param(request, "CallSid").unwrap().to_string();
    header.call_sid = Some(call_sid.clone().into());
    if let Some(user) = from.strip_prefix("client:") {
        let party = dir.user(user, SessionMemberRoles::Agent);
        header.direction = SessionDirections::Outgoing;
        header.endpoint_id = user.into();
        header.endpoint_name = party.display_name.clone().unwrap();
        header.from_name = party.display_name.clone();
        header.destination = Some(to.clone());
        header.display_name = Some(to);
        header.origin = Some(party);
    } else {
        let number = dir.number(&to).unwrap();
        header.direction = SessionDirections::Incoming;
        header.endpoint_id = number["id"].as_str().unwrap().into();
        header.endpoint_name = number["name"].as_str().unwrap().into();
        header.callback_number = Some(from.clone());
        header.display_name = Some(format!("{from} → {}", header.endpoint_name));
        header.origin = Some(Party {
            identity: from,
            endpoint_id: None,
            display_name: param(request, "CallerName").map(str::to_string),
            role: SessionMemberRoles::Caller,
        });
    }
    (format!("ses-{call_sid}"), header, received(request))
}

fn label_party(dir: &Directory, label: Option<&str>) -> Option<Party> {
    let (role, user) = translate::label_user(label?)?;
    Some(dir.user(user, role))
}

fn form(request: &Value) -> FormParams {
    FormParams::from_pairs(
        request["params"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())),
    )
}

/// One request → its events, through the adapter's rules
/// (`evo_twilio::translate`); only the party look-ups (the directory) and
/// agents' requests are the test's own.
fn events_of(dir: &Directory, request: &Value) -> Vec<SessionEvent> {
    let received_at = received(request);
    let params = form(request);
    let ok = |e: Option<SessionEvent>| e.into_iter().collect::<Vec<_>>();
    match request["endpoint"].as_str().unwrap() {
        "voice" => {
            let voice = webhook::VoiceRequest::parse(&params).unwrap();
            let mut events = ok(translate::voice(&voice, received_at));
            let queue = voice
                .call
                .to
                .as_deref()
                .and_then(|to| dir.number(to))
                .and_then(|n| n["queueName"].as_str());
            if let Some(queue) = queue {
                events.push(translate::enqueued(&voice, queue, received_at));
            }
            events
        }
        "status" => {
            let callback = webhook::StatusCallback::parse(&params).unwrap();
            let party = match (query(request, "user"), query(request, "party")) {
                (Some(user), _) => Some(dir.user(user, SessionMemberRoles::Agent)),
                (None, Some("callee")) => translate::callee(&callback),
                _ => None,
            };
            ok(translate::status(&callback, party, received_at))
        }
        // evo-voice answers every Dial action with <Hangup/>.
        "dial" => ok(translate::dial_action(
            &webhook::DialAction::parse(&params).unwrap(),
            None,
            true,
            received_at,
        )),
        "queue" => {
            if param(request, "DequeingCallSid").is_some() {
                let party = query(request, "user").map(|u| dir.user(u, SessionMemberRoles::Agent));
                return vec![translate::dequeued(
                    &webhook::DequeueRequest::parse(&params).unwrap(),
                    party,
                    received_at,
                )];
            }
            // ... and every Enqueue action with <Hangup/>.
            ok(translate::enqueue_action(
                &webhook::QueueAction::parse(&params).unwrap(),
                true,
                received_at,
            ))
        }
        "conference" => {
            let callback = webhook::ConferenceEvent::parse(&params).unwrap();
            // Participants are told apart by CallSid and label; the
            // callback URL's `user` is the first joiner's for all.
            let party = label_party(dir, callback.participant_label.as_deref());
            ok(translate::conference(&callback, party, received_at))
        }
        "sms" => vec![translate::message(
            &webhook::InboundMessage::parse(&params).unwrap(),
            received_at,
        )],
        "agent" => {
            let (at, clock) = stamp(request);
            let event = |source: EventSource, kind: EventKind| SessionEvent {
                at,
                clock,
                source,
                kind,
            };
            let source = EventSource::Agent {
                id: param(request, "Id").unwrap().to_string(),
            };
            let kind = match param(request, "Action").unwrap() {
                "transfer" => EventKind::TransferStarted {
                    by_user_id: param(request, "UserId").map(Into::into),
                    target: dir.user(
                        param(request, "Target").unwrap(),
                        SessionMemberRoles::Transfer,
                    ),
                    blind: param(request, "Blind") == Some("true"),
                },
                other => panic!("unknown agent action {other}"),
            };
            vec![event(source, kind)]
        }
        other => panic!("unknown endpoint {other}"),
    }
}

struct Prepared {
    name: String,
    id: String,
    header: SessionHeader,
    opened_at: DateTime<Utc>,
    events: Vec<SessionEvent>,
    expected: Value,
}

fn prepare(dir: &Directory, case: &Case) -> Prepared {
    let (id, header, opened_at) = opening(dir, &case.requests);
    let events = case
        .requests
        .iter()
        .flat_map(|request| events_of(dir, request))
        .collect();
    Prepared {
        name: case.name.clone(),
        id,
        header,
        opened_at,
        events,
        expected: case.expected.clone(),
    }
}

fn deliver<'a>(p: &Prepared, events: impl IntoIterator<Item = &'a SessionEvent>) -> Session {
    let mut session = open(&p.id, p.header.clone(), p.opened_at);
    for event in events {
        session = apply(&session, event);
        let reference = reduce_all(session.header(), session.opened_at(), session.events());
        assert_eq!(
            *session.state(),
            reference,
            "{}: apply equals the reference fold",
            p.name
        );
    }
    session
}

/// Delivers `events` as the server does: the session is compact, stored
/// (serialised) and read back before every event, and given its history
/// (the distinct events committed so far, the store's event log) only when
/// the reducer asks for it. Each step equals the reference fold. Returns
/// the session and how many steps needed the history.
fn deliver_compact<'a>(
    p: &Prepared,
    events: impl IntoIterator<Item = &'a SessionEvent>,
) -> (Session, usize) {
    let mut session = open(&p.id, p.header.clone(), p.opened_at);
    session.compact();
    let mut log: Vec<SessionEvent> = Vec::new();
    let mut loads = 0;
    for event in events {
        let stored = serde_json::to_string(&session).unwrap();
        session = serde_json::from_str(&stored).unwrap();
        assert!(!session.carries_events(), "{}: stored compact", p.name);
        let new = match try_apply_in_place(&mut session, event) {
            Ok(new) => new,
            Err(HistoryNeeded) => {
                loads += 1;
                with_history(&mut session, log.clone()).unwrap();
                try_apply_in_place(&mut session, event).unwrap()
            }
        };
        if new {
            log.push(event.clone());
        }
        session.compact();
        let reference = reduce_all(session.header(), session.opened_at(), &log);
        assert_eq!(
            *session.state(),
            reference,
            "{}: a compact step equals the reference fold",
            p.name
        );
        assert_eq!(session.version(), log.len() as u64 + 1, "{}", p.name);
    }
    (session, loads)
}

/// [`deliver_compact`] as the server takes each event since issue 12's
/// session 6: the session read for that one event (`Session::elide_log`:
/// none of its stored lines, no dedupe key; the duplicate check is the
/// event log's), stepped in place; when the reducer asks for more, the
/// whole session (and then its events) as before. After every event the
/// stored lines plus the lines the step added, and the rest of the state,
/// equal the reference fold. Returns the session and how many events
/// needed the whole session.
fn deliver_elided<'a>(
    p: &Prepared,
    events: impl IntoIterator<Item = &'a SessionEvent>,
) -> (Session, usize) {
    let mut stored = open(&p.id, p.header.clone(), p.opened_at);
    stored.compact();
    let mut log: Vec<SessionEvent> = Vec::new();
    let mut wholes = 0;
    for event in events {
        if log
            .iter()
            .any(|logged| logged.dedupe_key() == event.dedupe_key())
        {
            continue;
        }
        let mut elided = stored.clone();
        elided.elide_log(stored.state().log.len());
        let next = match try_apply_in_place(&mut elided, event) {
            Ok(new) => {
                assert!(new, "{}: not logged, so new", p.name);
                assert_eq!(elided.log_elided(), stored.state().log.len());
                let mut whole = elided.clone();
                let mut lines = stored.state().log.clone();
                lines.extend(elided.state().log.iter().cloned());
                whole.restore_log(lines);
                // As `Store::session` reads it back: every key logged.
                let keys: Vec<String> = log
                    .iter()
                    .chain(std::iter::once(event))
                    .map(SessionEvent::dedupe_key)
                    .collect();
                whole.restore_seen(keys.iter().map(String::as_str));
                assert!(whole.is_whole());
                whole
            }
            Err(HistoryNeeded) => {
                wholes += 1;
                let mut whole = stored.clone();
                if try_apply_in_place(&mut whole, event).is_err() {
                    with_history(&mut whole, log.clone()).unwrap();
                    assert!(try_apply_in_place(&mut whole, event).unwrap());
                }
                whole
            }
        };
        log.push(event.clone());
        stored = next;
        stored.compact();
        let reference = reduce_all(stored.header(), stored.opened_at(), &log);
        assert_eq!(
            *stored.state(),
            reference,
            "{}: a step read for one event equals the reference fold",
            p.name
        );
        assert_eq!(stored.version(), log.len() as u64 + 1, "{}", p.name);
    }
    (stored, wholes)
}

fn opt(value: &Value) -> Option<String> {
    value.as_str().map(str::to_string)
}

/// Compares a session with a case's expectation. `exact` also checks the
/// log's order and `dateCompleted` (which depend on Twilio's Timestamps).
fn check(p: &Prepared, session: &Session, exact: bool) -> Result<(), String> {
    let info = session.to_info();
    let e = &p.expected;
    let mut problems = Vec::new();
    let mut same = |what: &str, got: String, want: String| {
        if got != want {
            problems.push(format!("{what}: got {got}, want {want}"));
        }
    };
    same("ended", info.ended.to_string(), e["ended"].to_string());
    same(
        "outcome",
        format!("{:?}", info.outcome),
        format!("{:?}", opt(&e["outcome"])),
    );
    same(
        "wasMissed",
        info.was_missed.to_string(),
        e["wasMissed"].to_string(),
    );
    same(
        "answeredById",
        format!("{:?}", info.answered_by_id),
        format!("{:?}", opt(&e["answeredById"])),
    );
    same(
        "answeredByName",
        format!("{:?}", info.answered_by_name),
        format!("{:?}", opt(&e["answeredByName"])),
    );
    same(
        "callState",
        format!("{:?}", info.call_state),
        e["callState"].as_str().unwrap().to_string(),
    );
    let optional: [(&str, String); 5] = [
        ("queueState", format!("{:?}", info.queue_state)),
        (
            "queueMemberId",
            info.queue_member_id.clone().unwrap_or_default(),
        ),
        (
            "conferenceSid",
            info.conference_sid.clone().unwrap_or_default(),
        ),
        (
            "mostRecentParticipantCallSid",
            info.most_recent_participant_call_sid
                .clone()
                .unwrap_or_default(),
        ),
        ("holdReason", format!("{:?}", info.hold_reason)),
    ];
    for (name, got) in optional {
        if let Some(want) = e[name].as_str() {
            same(name, got, want.to_string());
        }
    }
    let members: Vec<String> = info
        .members
        .iter()
        .map(|m| {
            format!(
                "{} {:?} {:?} muted={}",
                m.identity.as_deref().unwrap_or(""),
                m.role,
                m.call_state,
                m.muted
            )
        })
        .collect();
    let want_members: Vec<String> = e["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{} {} {} muted={}",
                m["identity"].as_str().unwrap(),
                m["role"].as_str().unwrap(),
                m["callState"].as_str().unwrap(),
                m["muted"].as_bool().unwrap_or(false)
            )
        })
        .collect();
    same(
        "members",
        format!("{members:?}"),
        format!("{want_members:?}"),
    );
    let mut log: Vec<String> = info.log.iter().filter_map(|l| l.message.clone()).collect();
    let mut want_log: Vec<String> = e["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect();
    if exact {
        same(
            "dateCompleted",
            format!("{:?}", info.date_completed),
            format!("{:?}", opt(&e["dateCompleted"])),
        );
    } else {
        log.sort();
        want_log.sort();
    }
    same("log", format!("{log:#?}"), format!("{want_log:#?}"));
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{}:\n{}", p.name, problems.join("\n")))
    }
}

fn prepared() -> Vec<Prepared> {
    let dir = Directory::load();
    cases().iter().map(|case| prepare(&dir, case)).collect()
}

#[test]
fn every_corpus_case_ends_as_twilio_reported_it() {
    let mut failures = Vec::new();
    for p in prepared() {
        let session = deliver(&p, &p.events);
        if let Err(problem) = check(&p, &session, true) {
            failures.push(problem);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn retries_with_the_same_idempotency_token_are_one_event() {
    let dir = Directory::load();
    let case = cases()
        .into_iter()
        .find(|c| c.name == "inbound-answered")
        .unwrap();
    let tokens: Vec<&str> = case
        .requests
        .iter()
        .map(|r| r["headers"]["I-Twilio-Idempotency-Token"].as_str().unwrap())
        .collect();
    let retried: Vec<&Value> = case
        .requests
        .iter()
        .filter(|r| {
            let token = r["headers"]["I-Twilio-Idempotency-Token"].as_str().unwrap();
            tokens.iter().filter(|t| **t == token).count() > 1
        })
        .collect();
    assert_eq!(retried.len(), 2, "the case holds one retried request");
    let keys: Vec<String> = retried
        .iter()
        .flat_map(|r| events_of(&dir, r))
        .map(|e| e.dedupe_key())
        .collect();
    assert_eq!(keys[0], keys[1]);
}

#[test]
fn unholding_one_participant_leaves_another_held_and_a_held_caller_who_leaves_is_not_on_hold() {
    let all = prepared();
    let p = all
        .iter()
        .find(|p| p.name == "caller-leaves-while-held")
        .unwrap();
    let position = |change: ParticipantChange, who: &str| {
        p.events
            .iter()
            .position(|e| {
                matches!(&e.kind, EventKind::Participant { change: c, label: Some(l), .. }
                    if *c == change && l == who)
            })
            .unwrap()
    };
    let caller = |s: &Session| {
        s.state()
            .members
            .iter()
            .find(|m| m.is_original_member)
            .unwrap()
            .call_state
    };
    let bob = |s: &Session| {
        s.state()
            .members
            .iter()
            .find(|m| m.endpoint_id.as_deref() == Some("u2"))
            .unwrap()
            .call_state
    };
    use evo_core::api::sessions::{SessionCallState, SessionMemberCallState};
    let unheld = position(ParticipantChange::Unhold, "agent:u2");
    let after_unhold = deliver(p, &p.events[..=unheld]);
    assert_eq!(caller(&after_unhold), SessionMemberCallState::Hold);
    assert_eq!(bob(&after_unhold), SessionMemberCallState::Connected);
    assert_eq!(after_unhold.state().call_state, SessionCallState::Hold);
    let held_caller = position(ParticipantChange::Hold, "customer");
    let only_bob_held = deliver(p, &p.events[..held_caller]);
    assert_eq!(bob(&only_bob_held), SessionMemberCallState::Hold);
    assert_eq!(caller(&only_bob_held), SessionMemberCallState::Connected);
    assert_eq!(
        only_bob_held.state().call_state,
        SessionCallState::Connected
    );
    let left = deliver(p, &p.events);
    assert_eq!(caller(&left), SessionMemberCallState::None);
    assert_ne!(left.state().call_state, SessionCallState::Hold);
}

#[test]
fn a_missed_call_stays_ringing_until_twilio_ends_it_then_ends_at_twilios_time() {
    let all = prepared();
    let p = all.iter().find(|p| p.name == "missed-by-timeout").unwrap();
    let dial = p
        .events
        .iter()
        .position(|e| matches!(e.kind, EventKind::DialAction { .. }))
        .unwrap();
    let before = deliver(p, &p.events[..dial]);
    assert!(!before.state().ended);
    // The Dial action alone (no root status callback) ends the call, at the
    // legs' end as Twilio stamped it, not when evo-voice noticed.
    let mut without_root: Vec<SessionEvent> = p.events[..=dial].to_vec();
    without_root.retain(|e| !matches!(&e.source, EventSource::Call { call_sid, .. } if Some(call_sid) == p.header.call_sid.as_ref()));
    let ended = deliver(p, &without_root);
    assert!(ended.state().ended);
    assert_eq!(ended.state().outcome.as_deref(), Some("no-answer"));
    assert!(ended.state().was_missed);
    assert_eq!(
        ended.to_info().date_completed.as_deref(),
        Some("2026-11-25T10:00:26.000Z")
    );
}

/// Ties in Timestamp: every Twilio-stamped event in the same second.
fn tied(events: &[SessionEvent]) -> Vec<SessionEvent> {
    let second = events
        .iter()
        .filter(|e| e.clock == Clock::Twilio)
        .map(|e| e.at)
        .min();
    events
        .iter()
        .cloned()
        .map(|mut e| {
            if let (Clock::Twilio, Some(at)) = (e.clock, second) {
                e.at = at;
            }
            e
        })
        .collect()
}

/// No Timestamp: every event on the server's clock, when it was received.
fn unstamped(p: &Prepared, events: &[SessionEvent]) -> Vec<SessionEvent> {
    let dir = Directory::load();
    let case = cases().into_iter().find(|c| c.name == p.name).unwrap();
    let mut received_at = BTreeMap::new();
    for request in &case.requests {
        for event in events_of(&dir, request) {
            received_at.insert(event.dedupe_key(), received(request));
        }
    }
    events
        .iter()
        .cloned()
        .map(|mut e| {
            e.at = received_at[&e.dedupe_key()];
            e.clock = Clock::Server;
            e
        })
        .collect()
}

fn shuffled(events: &[SessionEvent], order: &[usize], duplicates: &[usize]) -> Vec<SessionEvent> {
    let mut indexed: Vec<(usize, usize)> = (0..events.len())
        .map(|i| (order.get(i).copied().unwrap_or(i), i))
        .collect();
    indexed.sort();
    let mut delivered: Vec<SessionEvent> = indexed
        .into_iter()
        .map(|(_, i)| events[i].clone())
        .collect();
    for (n, d) in duplicates.iter().enumerate() {
        let position = (n * 7 + d) % (delivered.len() + 1);
        delivered.insert(position, events[d % events.len()].clone());
    }
    delivered
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Every permutation with duplicates and retries converges to the
    /// in-order session; with ties in Timestamp or no Timestamp at all, to
    /// the same outcome, members, answerer and log lines.
    #[test]
    fn any_delivery_of_a_corpus_case_converges(
        case in 0usize..19,
        order in proptest::collection::vec(0usize..1000, 0..40),
        duplicates in proptest::collection::vec(0usize..100, 0..10),
        clocks in 0u8..3,
    ) {
        let all = prepared();
        let p = &all[case % all.len()];
        let (events, exact) = match clocks {
            0 => (p.events.clone(), true),
            1 => (tied(&p.events), false),
            _ => (unstamped(p, &p.events), false),
        };
        let in_order = deliver(p, &events);
        let converged = deliver(p, &shuffled(&events, &order, &duplicates));
        prop_assert_eq!(&converged, &in_order);
        if let Err(problem) = check(p, &converged, exact) {
            prop_assert!(false, "{}", problem);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// The same deliveries to a compact session, stored and read back
    /// before every event and given the event log only when the reducer
    /// asks for it, give the same session as the full reducer; in-order
    /// delivery asks for the log only to re-merge lines derived from
    /// several streams, never more often than it has events.
    #[test]
    fn a_compact_session_takes_any_delivery_like_the_full_reducer(
        case in 0usize..19,
        order in proptest::collection::vec(0usize..1000, 0..40),
        duplicates in proptest::collection::vec(0usize..100, 0..10),
        clocks in 0u8..3,
    ) {
        let all = prepared();
        let p = &all[case % all.len()];
        let events = match clocks {
            0 => p.events.clone(),
            1 => tied(&p.events),
            _ => unstamped(p, &p.events),
        };
        let full = deliver(p, &events);
        let delivered = shuffled(&events, &order, &duplicates);
        let (compact, _) = deliver_compact(p, &delivered);
        prop_assert_eq!(compact.state(), full.state());
        prop_assert_eq!(compact.version(), full.version());
        let (in_order, loads) = deliver_compact(p, &events);
        prop_assert_eq!(in_order.state(), full.state());
        prop_assert!(loads < events.len().max(1), "{}: {} loads", p.name, loads);
    }

    /// The same deliveries, each event applied to the session read without
    /// its log and dedupe keys (the server's path), give the full reducer's
    /// session; in order, the whole session is read no more often than the
    /// compact session asks for its log.
    #[test]
    fn a_session_read_for_one_event_takes_any_delivery_like_the_full_reducer(
        case in 0usize..19,
        order in proptest::collection::vec(0usize..1000, 0..40),
        duplicates in proptest::collection::vec(0usize..100, 0..10),
        clocks in 0u8..3,
    ) {
        let all = prepared();
        let p = &all[case % all.len()];
        let events = match clocks {
            0 => p.events.clone(),
            1 => tied(&p.events),
            _ => unstamped(p, &p.events),
        };
        let full = deliver(p, &events);
        let delivered = shuffled(&events, &order, &duplicates);
        let (elided, _) = deliver_elided(p, &delivered);
        prop_assert_eq!(elided.state(), full.state());
        prop_assert_eq!(elided.version(), full.version());
        let (in_order, wholes) = deliver_elided(p, &events);
        prop_assert_eq!(in_order.state(), full.state());
        let (_, loads) = deliver_compact(p, &events);
        prop_assert!(wholes <= loads, "{}: {} whole reads, {} loads", p.name, wholes, loads);
    }
}
