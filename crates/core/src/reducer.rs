//! The session reducer: the only code that changes a session.
//!
//! A session's state is a pure function of its header and its *set* of
//! distinct events, so any delivery order with any duplicates converges.
//! The events are split into Twilio's streams (see `crate::event`):
//!
//! - each call leg (`Leg`): ordered by the leg's own `SequenceNumber` (the
//!   voice webhook first), never moving to a lower progress rank, terminal
//!   final;
//! - each conference: ordered by the conference's `SequenceNumber`;
//! - the queue (enqueue, dequeue, `<Enqueue action>`), the `<Dial action>`s,
//!   the messages, and agents' and evo-voice's own requests (ordered by the
//!   one clock that stamped them).
//!
//! Each stream folds on its own into a summary and its log lines; the
//! session-level fields (members, answerer, outcome, states) are then
//! derived from the summaries, never by comparing one stream's order with
//! another's. `apply` re-folds only the stream the event belongs to;
//! [`reduce_all`] re-folds everything and is the reference the property
//! tests hold `apply` to.
//!
//! A *compact* session (`Session::compact`, what the server stores and
//! indexes) keeps no events: only each stream's summary, its last ordering
//! key and how many log lines it wrote, plus 64-bit hashes of the dedupe
//! keys applied ([`Seen`]). That is enough for an event that comes after
//! its stream's last one and only appends to the log (the common case).
//! Anything else (an out-of-order event that must re-fold its stream, a
//! change to the lines derived from several streams) needs the events:
//! [`try_apply_in_place`] says so ([`HistoryNeeded`]) and leaves the session
//! unchanged, the caller reads the event log and hands it over with
//! [`with_history`], and the step is taken again. No I/O happens here.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use chrono::{DateTime, Duration, Utc};

use crate::api::sessions::{
    FlowChannels, SessionCallState, SessionDialState, SessionDirections, SessionHoldReasons,
    SessionMemberCallState, SessionMemberRoles, SessionQueueStates,
};
use crate::event::{
    CallProgress, DialCallStatus, EventKind, EventSource, ParticipantChange, Party, QueueResult,
    SessionEvent,
};
use crate::ids::{CallSid, ConferenceSid, UserId};
use crate::session::{LogEntry, Member, Session, SessionHeader, SessionState};

/// Opens a session: its header is fixed from here on.
pub fn open(
    id: impl Into<crate::ids::SessionId>,
    header: SessionHeader,
    at: DateTime<Utc>,
) -> Session {
    let mut session = Session {
        id: id.into(),
        opened_at: at,
        header,
        events: Some(BTreeMap::new()),
        version: 1,
        state: SessionState::default(),
        seen: Seen::default(),
        cache: Cache::default(),
        log_stored: crate::session::LogMark::default(),
        elided: crate::session::Elided::default(),
    };
    session.cache.valid = true;
    session.cache.full = true;
    session.state = full_state(&session.header, session.opened_at, &mut session.cache);
    session
}

/// Applies one event. Returns the session unchanged (same `version`) when the
/// event was already applied.
///
/// # Panics
/// When the session is compact and the event needs its history (see
/// [`try_apply_in_place`]); sessions from `open` carry their events.
pub fn apply(session: &Session, event: &SessionEvent) -> Session {
    let mut next = session.clone();
    apply_in_place(&mut next, event);
    next
}

/// [`try_apply_in_place`] on a session that carries its events (or an
/// event that needs none); returns whether it was new.
///
/// # Panics
/// When the session is compact and the event needs its history.
pub fn apply_in_place(session: &mut Session, event: &SessionEvent) -> bool {
    match try_apply_in_place(session, event) {
        Ok(new) => new,
        Err(HistoryNeeded) => {
            panic!("a compact session needs its history for this event: use try_apply_in_place")
        }
    }
}

/// A compact session cannot take this event without its events (see the
/// module documentation); the session was left unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the session's events are needed to apply this event")]
pub struct HistoryNeeded;

/// The event log handed to [`with_history`] is not the set of events the
/// session applied (a hash it recorded is missing, or there are others).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("session {session}: the event log holds {found} events, the snapshot applied {expected}")]
pub struct HistoryMismatch {
    pub session: String,
    pub expected: usize,
    pub found: usize,
}

/// Applies one event in place; returns whether it was new. Work per event:
/// a look-up in the set of dedupe keys, one fold step of the event's own
/// stream when it comes after the stream's last event (else a re-fold of
/// that stream alone, which needs the events), and a derivation over the
/// streams' summaries, never a re-fold of the other streams.
///
/// On a compact session, `Err(HistoryNeeded)` when the step needs the
/// events; the session is unchanged (its working state may be dropped, to
/// be rebuilt from the history).
pub fn try_apply_in_place(
    session: &mut Session,
    event: &SessionEvent,
) -> Result<bool, HistoryNeeded> {
    let key = event.dedupe_key();
    if !is_new_key(session, &key) {
        return Ok(false);
    }
    if !session.cache.valid {
        match &session.events {
            Some(events) => session.cache = Cache::build(&session.header, events.values()),
            None => return Err(HistoryNeeded),
        }
    }
    let full = session.cache.full;
    let appended = session.cache.insert(&session.header, event)?;
    let (mut state, derived) = derive(&session.header, session.opened_at, &session.cache);
    // In-order delivery only appends to the log: no re-merge. Lines derived
    // from several streams may be added too (the end of the call), as long
    // as the earlier ones stay as they were.
    let previous_last = session.cache.last_line.clone();
    let added = match (appended, &previous_last) {
        (Some(mut new), Some(last)) if derived.starts_with(&session.cache.derived) => {
            new.extend(derived[session.cache.derived.len()..].iter().cloned());
            new.iter().all(|line| line > last).then_some(new)
        }
        _ => None,
    };
    let fast = added.is_some();
    if !fast && !full {
        // The log must be merged again from every stream's lines, which a
        // compact session does not keep: its working state is rebuilt from
        // the history.
        session.cache = Cache::default();
        return Err(HistoryNeeded);
    }
    if let Some(mut new) = added {
        new.sort();
        let mut log = std::mem::take(&mut session.state.log);
        log.extend(new.iter().map(|line| LogEntry {
            at: line.at,
            message: line.message.clone(),
        }));
        state.log = log;
        if let Some(last) = new.pop() {
            session.cache.last_line = Some(last);
        }
        session.cache.derived = derived;
        session.state = state;
    } else {
        state.log = assemble(&session.header, session.opened_at, &session.cache, &derived);
        // Lines may have been inserted or changed anywhere: the store
        // rewrites its rows from the first line that differs.
        let same = state
            .log
            .iter()
            .zip(&session.state.log)
            .take_while(|(new, old)| new == old)
            .count();
        session.log_stored.0 = session.log_stored.0.min(same);
        session.cache.last_line = last_line(&session.cache, &derived, session.opened_at);
        session.cache.derived = derived;
        session.state = state;
    }
    match &mut session.events {
        Some(events) => {
            events.insert(key, event.clone());
        }
        None => session.seen.insert(&key),
    }
    session.version += 1;
    Ok(true)
}

/// Whether applying `event` would change the session (it is not a duplicate).
/// A session loaded for one event (`Session::elide_log`) knows only the
/// keys applied since its load: the store checked the event it was loaded
/// for against its event log, whose unique key refuses a duplicate.
pub fn is_new(session: &Session, event: &SessionEvent) -> bool {
    is_new_key(session, &event.dedupe_key())
}

/// [`is_new`] for an event known by its dedupe key.
pub fn is_new_key(session: &Session, key: &str) -> bool {
    match &session.events {
        Some(events) => !events.contains_key(key),
        None => !session.seen.contains(key),
    }
}

/// Hands a compact session its history (the store's event log), so that
/// the next step can re-fold a stream; the session carries its events
/// until [`Session::compact`]. The log must be exactly the events the
/// session applied: a commit writes the event and the snapshot together.
pub fn with_history(
    session: &mut Session,
    events: impl IntoIterator<Item = SessionEvent>,
) -> Result<(), HistoryMismatch> {
    if session.events.is_some() {
        return Ok(());
    }
    if !session.is_whole() {
        // Loaded for one event: its dedupe set and lines are the store's.
        // The whole session is read to re-fold (the reference path).
        return Err(HistoryMismatch {
            session: session.id.to_string(),
            expected: session.seen.len(),
            found: 0,
        });
    }
    let mut distinct = BTreeMap::new();
    for event in events {
        distinct.entry(event.dedupe_key()).or_insert(event);
    }
    let matches = distinct.len() == session.seen.len()
        && distinct.keys().all(|key| session.seen.contains(key));
    if !matches {
        return Err(HistoryMismatch {
            session: session.id.to_string(),
            expected: session.seen.len(),
            found: distinct.len(),
        });
    }
    session.events = Some(distinct);
    session.seen = Seen::default();
    session.cache = Cache::default();
    Ok(())
}

/// See `Session::compact`.
pub(crate) fn compact(session: &mut Session) {
    if !session.cache.valid {
        match &session.events {
            Some(events) => session.cache = Cache::build(&session.header, events.values()),
            // Nothing to compact from: the history is needed anyway.
            None => return,
        }
    }
    if let Some(events) = session.events.take() {
        for key in events.keys() {
            session.seen.insert(key);
        }
    }
    session.cache.full = false;
    for stream in session.cache.streams.values_mut() {
        stream.events = Vec::new();
        stream.lines = Vec::new();
    }
    // A compact session is kept (in the live index) until its next event:
    // no spare capacity from the step's pushes.
    session.state.members.shrink_to_fit();
    session.state.log.shrink_to_fit();
}

/// The set of dedupe keys a compact session applied, as the first 64 bits
/// of each key's SHA-256 (8 bytes an event instead of the event). Two
/// distinct keys of one session collide with a probability of about
/// n²/2⁶⁵ (10⁻¹¹ at 10,000 events). Stored as one base64 string of the
/// sorted big-endian hashes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen(BTreeSet<u64>);

impl Seen {
    fn hash(key: &str) -> u64 {
        let digest = Sha256::digest(key.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_be_bytes(first)
    }

    fn insert(&mut self, key: &str) {
        self.0.insert(Self::hash(key));
    }

    pub(crate) fn from_keys<'a>(keys: impl IntoIterator<Item = &'a str>) -> Self {
        Seen(keys.into_iter().map(Self::hash).collect())
    }

    fn contains(&self, key: &str) -> bool {
        self.0.contains(&Self::hash(key))
    }

    /// How many keys.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no key was applied (or the session carries its events).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Seen {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use base64::Engine as _;
        let bytes: Vec<u8> = self.0.iter().flat_map(|h| h.to_be_bytes()).collect();
        serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }
}

impl<'de> Deserialize<'de> for Seen {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use base64::Engine as _;
        let text = String::deserialize(deserializer)?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map_err(serde::de::Error::custom)?;
        if bytes.len() % 8 != 0 {
            return Err(serde::de::Error::custom("dedupe hashes are 8 bytes each"));
        }
        Ok(Seen(
            bytes
                .chunks_exact(8)
                .map(|chunk| {
                    let mut word = [0u8; 8];
                    word.copy_from_slice(chunk);
                    u64::from_be_bytes(word)
                })
                .collect(),
        ))
    }
}

/// The reference fold: the state of a session with `header`, opened at
/// `opened_at`, after the set `events`, computed from scratch.
pub fn reduce_all<'a>(
    header: &SessionHeader,
    opened_at: DateTime<Utc>,
    events: impl IntoIterator<Item = &'a SessionEvent>,
) -> SessionState {
    let mut distinct = BTreeMap::new();
    for event in events {
        distinct.entry(event.dedupe_key()).or_insert(event);
    }
    let mut cache = Cache::build(header, distinct.into_values());
    full_state(header, opened_at, &mut cache)
}

/// The state with its whole log assembled.
fn full_state(header: &SessionHeader, opened_at: DateTime<Utc>, cache: &mut Cache) -> SessionState {
    let (mut state, derived) = derive(header, opened_at, cache);
    state.log = assemble(header, opened_at, cache, &derived);
    cache.last_line = last_line(cache, &derived, opened_at);
    cache.derived = derived;
    state
}

/// The key of the log's last line.
fn last_line(cache: &Cache, derived: &[Line], opened_at: DateTime<Utc>) -> Option<Line> {
    let streams = cache
        .streams
        .iter()
        .filter_map(|(id, stream)| stream_lines(id, &stream.lines, 0).max());
    let open = Line {
        phase: PHASE_OPEN,
        at: opened_at,
        origin: LineOrigin::Open,
        index: 0,
        message: String::new(),
    };
    streams.chain(derived.iter().cloned()).chain([open]).max()
}

// ---------------------------------------------------------------------------
// Streams

/// The stream an event belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
enum StreamId {
    Leg(CallSid),
    Queue,
    Dial,
    Conference(ConferenceSid),
    Messages,
    Agent,
}

fn stream_of(event: &SessionEvent) -> StreamId {
    match &event.kind {
        EventKind::CallStatus { call_sid, .. } => StreamId::Leg(call_sid.clone()),
        EventKind::Enqueued { .. }
        | EventKind::EnqueueAction { .. }
        | EventKind::Dequeued { .. } => StreamId::Queue,
        EventKind::DialAction { .. } => StreamId::Dial,
        EventKind::ConferenceStarted { conference_sid }
        | EventKind::ConferenceEnded { conference_sid, .. }
        | EventKind::Participant { conference_sid, .. } => {
            StreamId::Conference(conference_sid.clone())
        }
        EventKind::MessageReceived { .. } => StreamId::Messages,
        EventKind::HoldStarted { .. }
        | EventKind::HoldEnded { .. }
        | EventKind::TransferStarted { .. }
        | EventKind::HangupRequested { .. }
        | EventKind::ActionFailed { .. }
        | EventKind::ConsoleData { .. }
        | EventKind::Ended { .. } => StreamId::Agent,
    }
}

/// An event's place in its stream. Only events of one stream are ever
/// compared: legs by (voice webhook first, `SequenceNumber`, progress rank),
/// conferences by their `SequenceNumber`, the rest by the one clock that
/// stamped them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct StreamOrder {
    phase: u8,
    sequence: u32,
    rank: u8,
    /// `None` (first) in Twilio-numbered streams.
    at: Option<DateTime<Utc>>,
    key: String,
}

fn stream_order(event: &SessionEvent) -> StreamOrder {
    let (phase, sequence) = match &event.source {
        EventSource::Voice { .. } => (0, 0),
        EventSource::Call { sequence, .. } | EventSource::Conference { sequence, .. } => {
            (1, sequence.unwrap_or(0))
        }
        _ => (1, 0),
    };
    let rank = match &event.kind {
        EventKind::CallStatus { status, .. } => status.rank(),
        EventKind::ConferenceStarted { .. } | EventKind::Enqueued { .. } => 0,
        EventKind::Participant { change, .. } => match change {
            ParticipantChange::Join => 1,
            ParticipantChange::Leave => 3,
            _ => 2,
        },
        EventKind::Dequeued { .. } => 1,
        EventKind::ConferenceEnded { .. } | EventKind::EnqueueAction { .. } => 4,
        _ => 0,
    };
    // Twilio-numbered streams never look at the clock; the others have one clock.
    let at = match &event.source {
        EventSource::Voice { .. } | EventSource::Call { .. } | EventSource::Conference { .. } => {
            None
        }
        _ => Some(event.at),
    };
    StreamOrder {
        phase,
        sequence,
        rank,
        at,
        key: event.dedupe_key(),
    }
}

/// A log line before merging: `phase` keeps the session's first line first
/// and its end last whatever the clocks say.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct Line {
    phase: u8,
    at: DateTime<Utc>,
    origin: LineOrigin,
    index: usize,
    message: String,
}

/// Where a log line comes from; breaks ties between lines of one instant.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
enum LineOrigin {
    Open,
    Stream(StreamId),
    Derived,
}

const PHASE_OPEN: u8 = 0;
const PHASE_BODY: u8 = 1;
const PHASE_END: u8 = 2;

/// One call leg's progress.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Leg {
    party: Option<Party>,
    status: Option<CallProgress>,
    first_at: Option<DateTime<Utc>>,
    answered_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
    duration: Option<u32>,
}

impl Leg {
    fn terminal(&self) -> bool {
        self.status.is_some_and(CallProgress::is_terminal)
    }

    /// Proof the leg was answered: `in-progress`, `completed` (a child leg
    /// completes only once answered), or a `CallDuration` above zero (the
    /// `in-progress` callback may have been lost, Twilio error 15002).
    fn answered(&self) -> bool {
        self.answered_at.is_some()
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Participant {
    call_sid: Option<CallSid>,
    label: Option<String>,
    party: Option<Party>,
    joined: bool,
    left: bool,
    joined_at: Option<DateTime<Utc>>,
    join_order: u32,
    muted: bool,
    hold: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Conference {
    first_at: Option<DateTime<Utc>>,
    joins: u32,
    ended: bool,
    participants: BTreeMap<String, Participant>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Dequeue {
    at: DateTime<Utc>,
    dequeuing_call_sid: CallSid,
    party: Option<Party>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct QueueExit {
    at: DateTime<Utc>,
    result: QueueResult,
    hangup: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Queue {
    name: Option<String>,
    dequeues: Vec<Dequeue>,
    exit: Option<QueueExit>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Dial {
    at: DateTime<Utc>,
    status: DialCallStatus,
    dial_call_sid: Option<CallSid>,
    bridged: Option<bool>,
    party: Option<Party>,
    hangup: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Hold {
    by_user_id: Option<UserId>,
    reason: SessionHoldReasons,
    queue_name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Transfer {
    by_user_id: Option<UserId>,
    target: Party,
    blind: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct External {
    at: DateTime<Utc>,
    outcome: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Agent {
    /// Hold requests by target leg: the last one's hold, if still held.
    holds: BTreeMap<CallSid, Option<Hold>>,
    transfer: Option<Transfer>,
    console: Vec<(DateTime<Utc>, String)>,
    ended: Option<External>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
enum Summary {
    Leg(Leg),
    Conference(Conference),
    Queue(Queue),
    Dial(Vec<Dial>),
    Messages,
    Agent(Agent),
}

/// One stream's working state. Compact: its ordering key, summary, line
/// count and latest time; full: its events and lines too.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stream {
    /// The stream's events in stream order (only with the history).
    #[serde(skip)]
    events: Vec<(StreamOrder, SessionEvent)>,
    /// The place of the stream's last event.
    last: StreamOrder,
    summary: Summary,
    /// The stream's log lines (only with the history).
    #[serde(skip)]
    lines: Vec<(u8, DateTime<Utc>, String)>,
    /// How many log lines the stream wrote (numbers the next ones).
    line_count: usize,
    max_at: Option<DateTime<Utc>>,
}

/// The reducer's working state: every stream's summary and ordering key
/// (stored in compact snapshots), and, while the session carries its
/// events, each stream's events and log lines.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Cache {
    /// Whether the state below is known (stored, or built from events).
    #[serde(skip, default = "known")]
    valid: bool,
    /// Whether streams hold their events and lines (not after loading).
    #[serde(skip)]
    full: bool,
    /// Boxed: a map's node holds room for eleven entries, and a session
    /// has a few streams.
    #[serde(with = "stream_list")]
    streams: BTreeMap<StreamId, Box<Stream>>,
    /// The derived log lines of the last derivation.
    derived: Vec<Line>,
    /// The log's last line (its sort key), for the append fast path.
    last_line: Option<Line>,
}

impl PartialEq for Cache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Cache {}

fn known() -> bool {
    true
}

/// Streams stored as a list of `[id, stream]` pairs (JSON keys are strings).
mod stream_list {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serializer};

    use super::{Stream, StreamId};

    pub(super) fn serialize<S: Serializer>(
        streams: &BTreeMap<StreamId, Box<Stream>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(streams.iter())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<BTreeMap<StreamId, Box<Stream>>, D::Error> {
        Ok(Vec::<(StreamId, Box<Stream>)>::deserialize(deserializer)?
            .into_iter()
            .collect())
    }
}

impl Cache {
    /// Whether nothing is known (a first-format snapshot: rebuilt from its
    /// events, never stored).
    pub fn is_unknown(&self) -> bool {
        !self.valid
    }

    fn build<'a>(
        header: &SessionHeader,
        events: impl IntoIterator<Item = &'a SessionEvent>,
    ) -> Self {
        let mut grouped: BTreeMap<StreamId, Vec<(StreamOrder, SessionEvent)>> = BTreeMap::new();
        for event in events {
            grouped
                .entry(stream_of(event))
                .or_default()
                .push((stream_order(event), event.clone()));
        }
        let streams = grouped
            .into_iter()
            .map(|(id, mut events)| {
                events.sort_by(|a, b| a.0.cmp(&b.0));
                let stream = fold_stream(header, &id, events);
                (id, Box::new(stream))
            })
            .collect();
        Cache {
            valid: true,
            full: true,
            streams,
            ..Cache::default()
        }
    }

    /// Adds an event to its stream: one fold step when it comes after the
    /// stream's last event (in-order delivery), else a re-fold of that
    /// stream alone.
    /// Returns the log lines appended when the event was one fold step,
    /// `None` when its stream was re-folded.
    /// A compact cache takes only the first case and a stream's first
    /// event; otherwise `Err(HistoryNeeded)`, with nothing changed.
    fn insert(
        &mut self,
        header: &SessionHeader,
        event: &SessionEvent,
    ) -> Result<Option<Vec<Line>>, HistoryNeeded> {
        let id = stream_of(event);
        let order = stream_order(event);
        if let Some(stream) = self.streams.get_mut(&id) {
            let names_known = match &stream.summary {
                // A leg's log lines name its party: learning it later re-folds.
                Summary::Leg(leg) => leg.party.is_some() || leg_party([event]).is_none(),
                _ => true,
            };
            if stream.last < order && names_known {
                let mut new_lines = Vec::new();
                step(&mut stream.summary, header, &id, [event], &mut new_lines);
                let appended = numbered_lines(&id, &new_lines, stream.line_count).collect();
                stream.line_count += new_lines.len();
                stream.max_at = Some(stream.max_at.map_or(event.at, |at| at.max(event.at)));
                if self.full {
                    stream.lines.extend(new_lines);
                    stream.events.push((order.clone(), event.clone()));
                }
                stream.last = order;
                return Ok(Some(appended));
            }
            if !self.full {
                return Err(HistoryNeeded);
            }
        }
        let previous = self.streams.remove(&id);
        let new_stream = previous.is_none();
        let mut events = previous.map(|stream| stream.events).unwrap_or_default();
        let position = events.partition_point(|(seen, _)| *seen <= order);
        events.insert(position, (order, event.clone()));
        let mut stream = fold_stream(header, &id, events);
        let lines = stream_lines(&id, &stream.lines, 0).collect();
        if !self.full {
            stream.events = Vec::new();
            stream.lines = Vec::new();
        }
        self.streams.insert(id, Box::new(stream));
        // A stream's first event appends its lines; a re-fold may rewrite them.
        Ok(new_stream.then_some(lines))
    }

    fn leg(&self, call_sid: &str) -> Option<&Leg> {
        match self
            .streams
            .get(&StreamId::Leg(CallSid::new(call_sid)))
            .map(|stream| &**stream)
        {
            Some(Stream {
                summary: Summary::Leg(leg),
                ..
            }) => Some(leg),
            _ => None,
        }
    }
}

fn party_name(party: &Party) -> String {
    party
        .display_name
        .clone()
        .unwrap_or_else(|| party.identity.clone())
}

fn origin_name(header: &SessionHeader) -> String {
    header
        .origin
        .as_ref()
        .map(party_name)
        .or_else(|| header.from_address.clone())
        .unwrap_or_else(|| "Caller".to_string())
}

fn is_root(header: &SessionHeader, call_sid: &str) -> bool {
    header.call_sid.as_deref() == Some(call_sid)
}

/// Folds one stream's events, in stream order.
fn fold_stream(
    header: &SessionHeader,
    id: &StreamId,
    events: Vec<(StreamOrder, SessionEvent)>,
) -> Stream {
    let mut summary = match id {
        StreamId::Leg(_) => Summary::Leg(Leg {
            party: leg_party(events.iter().map(|(_, e)| e)),
            ..Leg::default()
        }),
        StreamId::Conference(_) => Summary::Conference(Conference::default()),
        StreamId::Queue => Summary::Queue(Queue::default()),
        StreamId::Dial => Summary::Dial(Vec::new()),
        StreamId::Messages => Summary::Messages,
        StreamId::Agent => Summary::Agent(Agent::default()),
    };
    let mut lines = Vec::new();
    step(
        &mut summary,
        header,
        id,
        events.iter().map(|(_, e)| e),
        &mut lines,
    );
    Stream {
        max_at: events.iter().map(|(_, e)| e.at).max(),
        last: events
            .last()
            .map(|(order, _)| order.clone())
            .expect("a stream is folded from at least one event"),
        events,
        summary,
        line_count: lines.len(),
        lines,
    }
}

/// Folds `events` (in stream order, all after those already folded) into
/// a stream's summary.
fn step<'a>(
    summary: &mut Summary,
    header: &SessionHeader,
    id: &StreamId,
    events: impl IntoIterator<Item = &'a SessionEvent>,
    lines: &mut Vec<(u8, DateTime<Utc>, String)>,
) {
    match (summary, id) {
        (Summary::Leg(leg), StreamId::Leg(call_sid)) => {
            fold_leg(leg, header, call_sid, events, lines)
        }
        (Summary::Conference(conference), _) => fold_conference(conference, header, events, lines),
        (Summary::Queue(queue), _) => fold_queue(queue, events, lines),
        (Summary::Dial(dials), _) => fold_dial(dials, events, lines),
        (Summary::Agent(agent), _) => fold_agent(agent, header, events, lines),
        (Summary::Messages, _) | (Summary::Leg(_), _) => {
            for event in events {
                if let EventKind::MessageReceived { from, body, media } = &event.kind {
                    lines.push((PHASE_BODY, event.at, message_line(from, body, media)));
                }
            }
        }
    }
}

fn message_line(from: &str, body: &str, media: &[crate::event::Media]) -> String {
    let mut parts = Vec::new();
    if !body.is_empty() {
        parts.push(body.to_string());
    }
    for item in media {
        match &item.content_type {
            Some(content_type) => parts.push(format!("[{content_type} {}]", item.url)),
            None => parts.push(format!("[{}]", item.url)),
        }
    }
    if parts.is_empty() {
        parts.push("(empty message)".to_string());
    }
    format!("Message from {from}: {}", parts.join(" "))
}

/// The party named on any of a leg's events.
fn leg_party<'a>(events: impl IntoIterator<Item = &'a SessionEvent>) -> Option<Party> {
    events.into_iter().find_map(|e| match &e.kind {
        EventKind::CallStatus { party, .. } => party.clone(),
        _ => None,
    })
}

/// Folds `events` (in stream order, after those already folded) into `leg`,
/// whose `party` is known beforehand (log lines name it).
fn fold_leg<'a>(
    leg: &mut Leg,
    header: &SessionHeader,
    call_sid: &str,
    events: impl IntoIterator<Item = &'a SessionEvent>,
    lines: &mut Vec<(u8, DateTime<Utc>, String)>,
) {
    let root = is_root(header, call_sid);
    let name = leg
        .party
        .as_ref()
        .map(party_name)
        .unwrap_or_else(|| call_sid.to_string());
    for event in events {
        leg.first_at = Some(leg.first_at.map_or(event.at, |first| first.min(event.at)));
        let EventKind::CallStatus {
            status, duration, ..
        } = &event.kind
        else {
            continue;
        };
        // Never backwards; terminal is final.
        if leg.status.is_some_and(|now| now.rank() >= status.rank()) {
            continue;
        }
        let before = leg.status;
        leg.status = Some(*status);
        let at = event.at;
        match status.rank() {
            0..=2 => {
                if !root && before.is_none_or(|b| b.rank() < 1) && status.rank() >= 1 {
                    lines.push((PHASE_BODY, at, format!("Ringing {name}")));
                }
            }
            3 => {
                leg.answered_at = Some(at);
                if !root {
                    lines.push((PHASE_BODY, at, format!("{name} answered")));
                }
            }
            _ => {
                leg.ended_at = Some(at);
                leg.duration = *duration;
                let proof =
                    *status == CallProgress::Completed && !root || duration.is_some_and(|d| d > 0);
                if leg.answered_at.is_none() && proof && !root {
                    let seconds = i64::from(duration.unwrap_or(0));
                    leg.answered_at = Some(at - Duration::seconds(seconds));
                }
                if !root {
                    let line = if leg.answered() {
                        format!("{name} left the call")
                    } else {
                        format!("{name} did not answer ({})", status.as_str())
                    };
                    lines.push((PHASE_BODY, at, line));
                }
            }
        }
    }
}

fn fold_conference<'a>(
    conference: &mut Conference,
    header: &SessionHeader,
    events: impl IntoIterator<Item = &'a SessionEvent>,
    lines: &mut Vec<(u8, DateTime<Utc>, String)>,
) {
    for event in events {
        let at = event.at;
        conference.first_at = Some(conference.first_at.map_or(at, |first| first.min(at)));
        match &event.kind {
            EventKind::ConferenceStarted { .. } => {}
            EventKind::ConferenceEnded { .. } if !conference.ended => {
                conference.ended = true;
                lines.push((PHASE_BODY, at, "Conference ended".to_string()));
            }
            EventKind::Participant {
                change,
                call_sid,
                label,
                party,
                muted,
                hold,
                coaching,
                ..
            } => {
                let Some(key) = call_sid.clone().map(String::from).or_else(|| label.clone()) else {
                    continue;
                };
                let participant = conference.participants.entry(key).or_default();
                if participant.call_sid.is_none() {
                    participant.call_sid = call_sid.clone();
                }
                if participant.label.is_none() {
                    participant.label = label.clone();
                }
                if participant.party.is_none() {
                    participant.party = party.clone();
                }
                let name = match (&participant.party, &participant.call_sid) {
                    (Some(party), _) => party_name(party),
                    (None, Some(sid)) if is_root(header, sid) => origin_name(header),
                    _ => participant
                        .label
                        .clone()
                        .or_else(|| participant.call_sid.clone().map(String::from))
                        .unwrap_or_default(),
                };
                let was_held = participant.hold;
                let was_muted = participant.muted;
                if let Some(muted) = muted {
                    participant.muted = *muted;
                }
                match change {
                    ParticipantChange::Hold => participant.hold = hold.unwrap_or(true),
                    ParticipantChange::Unhold => participant.hold = hold.unwrap_or(false),
                    ParticipantChange::Mute => participant.muted = muted.unwrap_or(true),
                    ParticipantChange::Unmute => participant.muted = muted.unwrap_or(false),
                    _ => {
                        if let Some(hold) = hold {
                            participant.hold = *hold;
                        }
                    }
                }
                match change {
                    ParticipantChange::Join => {
                        conference.joins += 1;
                        participant.joined = true;
                        participant.left = false;
                        participant.joined_at = Some(at);
                        participant.join_order = conference.joins;
                        lines.push((PHASE_BODY, at, format!("{name} joined the conference")));
                    }
                    ParticipantChange::Leave if !participant.left => {
                        participant.left = true;
                        lines.push((PHASE_BODY, at, format!("{name} left the conference")));
                    }
                    ParticipantChange::Modify => {
                        if let Some(coaching) = coaching {
                            let verb = if *coaching {
                                "started coaching"
                            } else {
                                "stopped coaching"
                            };
                            lines.push((PHASE_BODY, at, format!("{name} {verb}")));
                        }
                    }
                    _ => {}
                }
                if participant.hold != was_held {
                    let verb = if participant.hold {
                        "put on hold"
                    } else {
                        "taken off hold"
                    };
                    lines.push((PHASE_BODY, at, format!("{name} {verb}")));
                }
                if participant.muted != was_muted {
                    let verb = if participant.muted {
                        "muted"
                    } else {
                        "unmuted"
                    };
                    lines.push((PHASE_BODY, at, format!("{name} {verb}")));
                }
            }
            _ => {}
        }
    }
}

fn fold_queue<'a>(
    queue: &mut Queue,
    events: impl IntoIterator<Item = &'a SessionEvent>,
    lines: &mut Vec<(u8, DateTime<Utc>, String)>,
) {
    for event in events {
        let at = event.at;
        match &event.kind {
            EventKind::Enqueued { queue_name } if queue.name.is_none() => {
                queue.name = Some(queue_name.clone());
                lines.push((PHASE_BODY, at, format!("Queued in {queue_name}")));
            }
            EventKind::Dequeued {
                dequeuing_call_sid,
                party,
                ..
            } => {
                let name = party
                    .as_ref()
                    .map(party_name)
                    .unwrap_or_else(|| dequeuing_call_sid.to_string());
                queue.dequeues.push(Dequeue {
                    at,
                    dequeuing_call_sid: dequeuing_call_sid.clone(),
                    party: party.clone(),
                });
                lines.push((
                    PHASE_BODY,
                    at,
                    format!("{name} took the call from the queue"),
                ));
            }
            EventKind::EnqueueAction {
                result,
                hangup,
                queue_time,
                ..
            } => {
                if queue.exit.is_some() {
                    continue;
                }
                queue.exit = Some(QueueExit {
                    at,
                    result: *result,
                    hangup: *hangup,
                });
                let waited = queue_time
                    .map(|t| format!(" after {t} s"))
                    .unwrap_or_default();
                let line = match result {
                    QueueResult::Hangup => format!("Caller hung up in the queue{waited}"),
                    other => format!("Left the queue ({}){waited}", other.as_str()),
                };
                lines.push((PHASE_BODY, at, line));
            }
            _ => {}
        }
    }
}

fn fold_dial<'a>(
    dials: &mut Vec<Dial>,
    events: impl IntoIterator<Item = &'a SessionEvent>,
    lines: &mut Vec<(u8, DateTime<Utc>, String)>,
) {
    for event in events {
        if let EventKind::DialAction {
            status,
            dial_call_sid,
            bridged,
            party,
            hangup,
            ..
        } = &event.kind
        {
            let dial = Dial {
                at: event.at,
                status: *status,
                dial_call_sid: dial_call_sid.clone(),
                bridged: *bridged,
                party: party.clone(),
                hangup: *hangup,
            };
            if !dial.answered() {
                lines.push((
                    PHASE_BODY,
                    event.at,
                    format!("Dial ended ({})", status.as_str()),
                ));
            }
            dials.push(dial);
        }
    }
}

impl Dial {
    /// `DialBridged=true`, or a status that says the dialled party answered.
    fn answered(&self) -> bool {
        self.bridged.unwrap_or(false) || self.status.answered()
    }
}

fn fold_agent<'a>(
    agent: &mut Agent,
    header: &SessionHeader,
    events: impl IntoIterator<Item = &'a SessionEvent>,
    lines: &mut Vec<(u8, DateTime<Utc>, String)>,
) {
    let root = header.call_sid.clone().unwrap_or_default();
    let target_name = |sid: &str| {
        if sid == root {
            origin_name(header)
        } else {
            sid.to_string()
        }
    };
    for event in events {
        let at = event.at;
        match &event.kind {
            EventKind::HoldStarted {
                call_sid,
                by_user_id,
                reason,
                queue_name,
            } => {
                let target = call_sid.clone().unwrap_or_else(|| root.clone());
                let by = by_user_id
                    .as_deref()
                    .map(|id| format!(" by {id}"))
                    .unwrap_or_default();
                lines.push((
                    PHASE_BODY,
                    at,
                    format!("{} put on hold{by}", target_name(&target)),
                ));
                agent.holds.insert(
                    target,
                    Some(Hold {
                        by_user_id: by_user_id.clone(),
                        reason: *reason,
                        queue_name: queue_name.clone(),
                    }),
                );
            }
            EventKind::HoldEnded { call_sid } => {
                let target = call_sid.clone().unwrap_or_else(|| root.clone());
                if let Some(Some(_)) = agent.holds.get(&target) {
                    lines.push((
                        PHASE_BODY,
                        at,
                        format!("{} taken off hold", target_name(&target)),
                    ));
                    agent.holds.insert(target, None);
                }
            }
            EventKind::TransferStarted {
                by_user_id,
                target,
                blind,
            } => {
                let kind = if *blind { "Blind" } else { "Warm" };
                let by = by_user_id
                    .as_deref()
                    .map(|id| format!(" by {id}"))
                    .unwrap_or_default();
                lines.push((
                    PHASE_BODY,
                    at,
                    format!("{kind} transfer to {} started{by}", party_name(target)),
                ));
                agent.transfer = Some(Transfer {
                    by_user_id: by_user_id.clone(),
                    target: target.clone(),
                    blind: *blind,
                });
            }
            EventKind::HangupRequested { by_user_id } => {
                let by = by_user_id
                    .as_deref()
                    .map(|id| format!(" by {id}"))
                    .unwrap_or_default();
                lines.push((PHASE_BODY, at, format!("Hang-up requested{by}")));
            }
            EventKind::ActionFailed {
                by_user_id,
                action,
                error,
            } => {
                let by = by_user_id
                    .as_deref()
                    .map(|id| format!(" by {id}"))
                    .unwrap_or_default();
                lines.push((PHASE_BODY, at, format!("{action}{by} failed: {error}")));
            }
            EventKind::ConsoleData { data } => agent.console.push((at, data.clone())),
            EventKind::Ended { outcome, reason } if agent.ended.is_none() => {
                agent.ended = Some(External {
                    at,
                    outcome: outcome.clone(),
                });
                lines.push((PHASE_END, at, format!("Session ended: {reason}")));
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------
// Derivation: session fields from the streams' summaries.

/// Someone whose answer is proven.
struct Answer {
    at: DateTime<Utc>,
    key: CallSid,
    party: Option<Party>,
}

/// The session's fields, without its log, and the log lines that follow
/// from several streams.
fn derive(
    header: &SessionHeader,
    opened_at: DateTime<Utc>,
    cache: &Cache,
) -> (SessionState, Vec<Line>) {
    let root = header.call_sid.clone().unwrap_or_default();
    let voice = header.channel == FlowChannels::Voice;
    let incoming = header.direction == SessionDirections::Incoming;
    let outgoing = header.direction == SessionDirections::Outgoing;
    let empty_queue = Queue::default();
    let empty_agent = Agent::default();
    let mut queue = &empty_queue;
    let mut agent = &empty_agent;
    let mut dials: &[Dial] = &[];
    let mut legs: Vec<(&CallSid, &Leg)> = Vec::new();
    let mut conferences: Vec<(&ConferenceSid, &Conference)> = Vec::new();
    for (id, stream) in &cache.streams {
        match (id, &stream.summary) {
            (StreamId::Leg(sid), Summary::Leg(leg)) if *sid != root => legs.push((sid, leg)),
            (StreamId::Conference(sid), Summary::Conference(c)) => conferences.push((sid, c)),
            (_, Summary::Queue(q)) => queue = q,
            (_, Summary::Agent(a)) => agent = a,
            (_, Summary::Dial(d)) => dials = d,
            _ => {}
        }
    }
    let root_leg = cache.leg(&root);
    let party_of_leg = |sid: &str| cache.leg(sid).and_then(|leg| leg.party.clone());

    // Proof of answers.
    let mut answers: Vec<Answer> = Vec::new();
    for (sid, leg) in &legs {
        if let Some(at) = leg.answered_at {
            answers.push(Answer {
                at,
                key: (*sid).clone(),
                party: leg.party.clone(),
            });
        }
    }
    for dial in dials.iter().filter(|d| d.answered()) {
        let leg = dial.dial_call_sid.as_deref().and_then(|sid| cache.leg(sid));
        answers.push(Answer {
            at: leg.and_then(|l| l.answered_at).unwrap_or(dial.at),
            key: dial.dial_call_sid.clone().unwrap_or_default(),
            party: dial
                .party
                .clone()
                .or_else(|| leg.and_then(|l| l.party.clone())),
        });
    }
    for dequeue in &queue.dequeues {
        answers.push(Answer {
            at: dequeue.at,
            key: dequeue.dequeuing_call_sid.clone(),
            party: dequeue
                .party
                .clone()
                .or_else(|| party_of_leg(&dequeue.dequeuing_call_sid)),
        });
    }
    if let Some(exit) = &queue.exit {
        if exit.result.bridged() {
            answers.push(Answer {
                at: exit.at,
                key: CallSid::default(),
                party: None,
            });
        }
    }
    for (_, conference) in &conferences {
        for participant in conference.participants.values() {
            let agentish = participant.party.as_ref().is_some_and(|p| {
                matches!(
                    p.role,
                    SessionMemberRoles::Agent | SessionMemberRoles::Transfer
                )
            });
            let own = participant.call_sid.as_deref() == Some(root.as_str());
            if participant.joined && agentish && !own {
                answers.push(Answer {
                    at: participant.joined_at.unwrap_or(opened_at),
                    key: participant.call_sid.clone().unwrap_or_default(),
                    party: participant.party.clone(),
                });
            }
        }
    }
    answers.retain(|a| {
        outgoing
            || a.party
                .as_ref()
                .is_none_or(|p| p.role != SessionMemberRoles::Caller)
    });
    answers.sort_by(|a, b| (a.at, &a.key).cmp(&(b.at, &b.key)));
    let answered = !answers.is_empty();
    let answerer = answers.iter().find_map(|a| {
        a.party.as_ref().filter(|p| {
            outgoing
                || matches!(
                    p.role,
                    SessionMemberRoles::Agent | SessionMemberRoles::Transfer
                )
        })
    });

    // The end of the root call and its authorities.
    let root_end = root_leg.filter(|leg| leg.terminal());
    let dial_end = dials.iter().rev().find(|d| d.hangup);
    let queue_end = queue.exit.as_ref().filter(|e| e.hangup);
    let twilio_ended = root_end.is_some() || dial_end.is_some() || queue_end.is_some();
    let ended = twilio_ended || agent.ended.is_some();
    let completed_at = if let Some(leg) = root_end {
        leg.ended_at
    } else if let Some(dial) = dial_end {
        let leg_end = dial
            .dial_call_sid
            .as_deref()
            .and_then(|sid| cache.leg(sid))
            .and_then(|leg| leg.ended_at);
        let any_leg_end = legs.iter().filter_map(|(_, l)| l.ended_at).max();
        Some(leg_end.or(any_leg_end).unwrap_or(dial.at))
    } else if let Some(exit) = queue_end {
        Some(exit.at)
    } else {
        agent.ended.as_ref().map(|e| e.at)
    };
    let outcome = if !ended {
        None
    } else if !twilio_ended {
        agent.ended.as_ref().map(|e| e.outcome.clone())
    } else if answered {
        Some("completed".to_string())
    } else {
        Some(unanswered_outcome(queue, dials, &legs, root_leg).to_string())
    };

    // Members.
    let mut members: Vec<Member> = Vec::new();
    if let Some(origin) = &header.origin {
        members.push(Member {
            call_sid: header.call_sid.clone(),
            identity: origin.identity.clone(),
            endpoint_id: origin.endpoint_id.clone(),
            display_name: origin.display_name.clone(),
            is_original_member: true,
            avatar_url: None,
            application_data: BTreeMap::new(),
            call_state: SessionMemberCallState::Ringing,
            role: origin.role,
            muted: false,
        });
    }
    let new_member = |sid: &str, party: Option<&Party>, state| Member {
        call_sid: Some(CallSid::new(sid)),
        identity: party.map_or_else(|| sid.to_string(), |p| p.identity.clone()),
        endpoint_id: party.and_then(|p| p.endpoint_id.clone()),
        display_name: party.and_then(|p| p.display_name.clone()),
        is_original_member: false,
        avatar_url: None,
        application_data: BTreeMap::new(),
        call_state: state,
        role: party.map_or(SessionMemberRoles::None, |p| p.role),
        muted: false,
    };
    let mut ordered_legs = legs.clone();
    ordered_legs.sort_by(|a, b| (a.1.first_at, a.0).cmp(&(b.1.first_at, b.0)));
    for (sid, leg) in &ordered_legs {
        let state = match leg.status {
            Some(status) if status.is_terminal() => continue,
            Some(CallProgress::InProgress) => SessionMemberCallState::Connected,
            _ => SessionMemberCallState::Ringing,
        };
        members.push(new_member(sid, leg.party.as_ref(), state));
    }
    let leg_over = |sid: &str| cache.leg(sid).is_some_and(Leg::terminal);
    if queue.exit.is_none() {
        for dequeue in &queue.dequeues {
            let sid = &dequeue.dequeuing_call_sid;
            if leg_over(sid) || members.iter().any(|m| m.call_sid.as_deref() == Some(sid)) {
                continue;
            }
            let party = dequeue.party.clone().or_else(|| party_of_leg(sid));
            members.push(new_member(
                sid,
                party.as_ref(),
                SessionMemberCallState::Connected,
            ));
        }
    }
    let mut origin_in_conference = None;
    let mut origin_left_conference = false;
    let mut in_conference: Vec<String> = Vec::new();
    let mut ordered_conferences = conferences.clone();
    ordered_conferences.sort_by(|a, b| (a.1.first_at, a.0).cmp(&(b.1.first_at, b.0)));
    for (_, conference) in &ordered_conferences {
        let mut participants: Vec<&Participant> = conference.participants.values().collect();
        participants.sort_by_key(|p| p.join_order);
        for participant in participants {
            let key = participant
                .call_sid
                .clone()
                .map(String::from)
                .or_else(|| participant.label.clone())
                .unwrap_or_default();
            let present = participant.joined && !participant.left && !conference.ended;
            if key == root {
                if present {
                    origin_in_conference = Some(participant);
                } else if participant.joined {
                    origin_left_conference = true;
                }
                continue;
            }
            let position = members
                .iter()
                .position(|m| !m.is_original_member && m.call_sid.as_deref() == Some(&key));
            if !present || leg_over(&key) {
                if let Some(position) = position {
                    if participant.joined {
                        members.remove(position);
                    }
                }
                continue;
            }
            let state = if participant.hold {
                SessionMemberCallState::Hold
            } else {
                SessionMemberCallState::Connected
            };
            let index = match position {
                Some(index) => index,
                None => {
                    let party = participant.party.clone().or_else(|| party_of_leg(&key));
                    members.push(new_member(&key, party.as_ref(), state));
                    members.len() - 1
                }
            };
            members[index].call_state = state;
            members[index].muted = participant.muted;
            in_conference.push(key);
        }
    }

    // Agent holds apply to legs outside conferences (inside one, the
    // conference's own hold events say who is held; the agent's request
    // then only names who held it and why).
    let origin_index = members.iter().position(|m| m.is_original_member);
    let mut agent_hold: Option<&Hold> = None;
    for (target, hold) in &agent.holds {
        let Some(hold) = hold else { continue };
        if *target == root {
            if origin_in_conference.is_none_or(|p| p.hold) {
                agent_hold = Some(hold);
            }
        } else if !in_conference.iter().any(|key| key == target) {
            if let Some(m) = members
                .iter_mut()
                .find(|m| m.call_sid.as_deref() == Some(target))
            {
                m.call_state = SessionMemberCallState::Hold;
                if m.role == SessionMemberRoles::Caller {
                    agent_hold = Some(hold);
                }
            }
        }
    }

    // Transfers: pending until the target answers; failed if its leg ends
    // unanswered.
    let mut extra_lines: Vec<(u8, DateTime<Utc>, String)> = Vec::new();
    let mut transfer_pending: Option<&Transfer> = None;
    if let Some(transfer) = &agent.transfer {
        let by = transfer.by_user_id.as_deref();
        let is_target = |party: Option<&Party>| {
            party.is_some_and(|p| {
                p.role == SessionMemberRoles::Transfer
                    || (p.endpoint_id.is_some()
                        && p.endpoint_id == transfer.target.endpoint_id
                        && p.endpoint_id.as_deref() != by)
            })
        };
        let done = answers
            .iter()
            .filter(|a| is_target(a.party.as_ref()))
            .map(|a| a.at)
            .min();
        let failed = legs
            .iter()
            .filter(|(_, leg)| is_target(leg.party.as_ref()) && leg.terminal() && !leg.answered())
            .filter_map(|(_, leg)| leg.ended_at)
            .max();
        let name = party_name(&transfer.target);
        if let Some(at) = done {
            extra_lines.push((PHASE_BODY, at, format!("Transfer to {name} completed")));
            if transfer.blind {
                if let Some(by) = by {
                    members
                        .retain(|m| m.is_original_member || m.endpoint_id.as_deref() != Some(by));
                }
            }
        } else if let Some(at) = failed {
            extra_lines.push((PHASE_BODY, at, format!("Transfer to {name} failed")));
        } else {
            transfer_pending = Some(transfer);
        }
    }

    // The origin's state.
    let origin_index = origin_index.filter(|&i| i < members.len());
    let others_talking = members.iter().any(|m| {
        !m.is_original_member
            && matches!(
                m.call_state,
                SessionMemberCallState::Connected | SessionMemberCallState::Hold
            )
    });
    if let Some(index) = origin_index {
        let origin = &mut members[index];
        let root_over = root_leg.is_some_and(Leg::terminal);
        origin.call_state = if root_over || origin_left_conference {
            SessionMemberCallState::None
        } else if transfer_pending.is_some()
            || agent_hold.is_some()
            || origin_in_conference.is_some_and(|p| p.hold)
        {
            SessionMemberCallState::Hold
        } else if !voice
            || origin_in_conference.is_some()
            || others_talking
            || root_leg.is_some_and(|l| l.status == Some(CallProgress::InProgress))
        {
            SessionMemberCallState::Connected
        } else {
            SessionMemberCallState::Ringing
        };
        if let Some(participant) = origin_in_conference {
            origin.muted = participant.muted;
        }
    }

    let mut state = SessionState {
        members,
        ..SessionState::default()
    };
    let on_hold = state.members.iter().any(|m| {
        m.call_state == SessionMemberCallState::Hold
            && (m.is_original_member || m.role == SessionMemberRoles::Caller)
    });
    if let Some(transfer) = transfer_pending {
        state.hold_reason = SessionHoldReasons::Transferring;
        state.held_by_user_id = transfer.by_user_id.clone();
    } else if let Some(hold) = agent_hold {
        state.hold_reason = hold.reason;
        state.held_by_user_id = hold.by_user_id.clone();
        state.hold_queue_name = hold.queue_name.clone();
    }
    if let Some(party) = answerer {
        state.answered_by_id = party.endpoint_id.clone();
        state.answered_by_name = Some(party_name(party));
    }

    // Queue.
    if let Some(name) = &queue.name {
        state.ring_queue_id = Some(name.clone());
        let agent_ringing = state.members.iter().any(|m| {
            m.role == SessionMemberRoles::Agent && m.call_state == SessionMemberCallState::Ringing
        });
        state.queue_state = if ended || queue.exit.is_some() {
            SessionQueueStates::Disconnected
        } else if answered {
            if on_hold {
                SessionQueueStates::Hold
            } else {
                SessionQueueStates::Connected
            }
        } else if agent_ringing {
            SessionQueueStates::Ringing
        } else {
            SessionQueueStates::Queued
        };
        if answered {
            state.queue_member_id = state.answered_by_id.clone();
        }
    }

    // Conference fields.
    if let Some((sid, conference)) = ordered_conferences.last() {
        state.conference_sid = Some((*sid).clone());
        state.most_recent_participant_call_sid = conference
            .participants
            .values()
            .filter(|p| p.joined && p.call_sid.is_some())
            .max_by_key(|p| p.join_order)
            .and_then(|p| p.call_sid.clone());
    }

    // Derived session-level states.
    if ended {
        state.ended = true;
        state.outcome = outcome.clone();
        state.completed_at = completed_at;
        state.was_missed = incoming && voice && !answered;
        for member in &mut state.members {
            member.call_state = SessionMemberCallState::None;
        }
        state.call_state = SessionCallState::Disconnected;
        state.dial_state = SessionDialState::None;
        state.hold_reason = SessionHoldReasons::None;
        state.held_by_user_id = None;
        state.hold_queue_name = None;
    } else {
        let others = || state.members.iter().filter(|m| !m.is_original_member);
        let anyone_ringing = others().any(|m| m.call_state == SessionMemberCallState::Ringing);
        let anyone_talking = others().any(|m| m.call_state == SessionMemberCallState::Connected);
        state.dial_state = if anyone_ringing {
            SessionDialState::Active
        } else {
            SessionDialState::None
        };
        state.call_state = if on_hold {
            SessionCallState::Hold
        } else if !voice || anyone_talking {
            SessionCallState::Connected
        } else if anyone_ringing {
            SessionCallState::Ringing
        } else if state.queue_state == SessionQueueStates::Queued || answered {
            SessionCallState::Passive
        } else {
            SessionCallState::Ringing
        };
    }

    // Console data, up to the end.
    let cutoff = completed_at.filter(|_| ended);
    state.console_data = agent
        .console
        .iter()
        .filter(|(at, _)| cutoff.is_none_or(|end| *at <= end))
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, data)| data.clone());

    state.last_event_at = if ended {
        completed_at
    } else {
        cache.streams.values().filter_map(|s| s.max_at).max()
    };

    // Lines that follow from several streams (transfers, the end).
    let mut derived: Vec<Line> = extra_lines
        .into_iter()
        .enumerate()
        .map(|(index, (phase, at, message))| Line {
            phase,
            at,
            origin: LineOrigin::Derived,
            index,
            message,
        })
        .collect();
    if twilio_ended {
        if let (Some(at), Some(outcome)) = (completed_at, &outcome) {
            let what = if voice { "Call" } else { "Session" };
            derived.push(Line {
                phase: PHASE_END,
                at,
                origin: LineOrigin::Derived,
                index: derived.len(),
                message: format!("{what} ended ({outcome})"),
            });
        }
    }
    (state, derived)
}

/// The whole log: the opening line first, the end last, each stream's
/// lines in its own order, streams merged by their clocks.
fn assemble(
    header: &SessionHeader,
    opened_at: DateTime<Utc>,
    cache: &Cache,
    derived: &[Line],
) -> Vec<LogEntry> {
    let mut lines: Vec<Line> = vec![Line {
        phase: PHASE_OPEN,
        at: opened_at,
        origin: LineOrigin::Open,
        index: 0,
        message: open_line(header),
    }];
    for (id, stream) in &cache.streams {
        lines.extend(stream_lines(id, &stream.lines, 0));
    }
    lines.extend(derived.iter().cloned());
    lines.sort();
    lines
        .into_iter()
        .map(|line| LogEntry {
            at: line.at,
            message: line.message,
        })
        .collect()
}

fn stream_lines<'a>(
    id: &'a StreamId,
    lines: &'a [(u8, DateTime<Utc>, String)],
    from: usize,
) -> impl Iterator<Item = Line> + 'a {
    numbered_lines(id, &lines[from.min(lines.len())..], from)
}

/// `lines` as log lines numbered from `first` within their stream.
fn numbered_lines<'a>(
    id: &'a StreamId,
    lines: &'a [(u8, DateTime<Utc>, String)],
    first: usize,
) -> impl Iterator<Item = Line> + 'a {
    lines
        .iter()
        .enumerate()
        .map(move |(index, (phase, at, message))| Line {
            phase: *phase,
            at: *at,
            origin: LineOrigin::Stream(id.clone()),
            index: first + index,
            message: message.clone(),
        })
}

/// The outcome of a root call nobody answered, from what Twilio reported:
/// the queue result, else the last `<Dial action>`, else the dialled legs,
/// else the root's own status. A root `completed` alone means the caller
/// was connected to evo-voice's TwiML, not to anyone: `no-answer`.
fn unanswered_outcome(
    queue: &Queue,
    dials: &[Dial],
    legs: &[(&CallSid, &Leg)],
    root: Option<&Leg>,
) -> &'static str {
    if let Some(exit) = &queue.exit {
        match exit.result {
            QueueResult::Hangup => return "abandoned",
            QueueResult::QueueFull | QueueResult::Error | QueueResult::SystemError => {
                return "failed"
            }
            _ => {}
        }
    }
    if let Some(dial) = dials.last() {
        return dial.status.as_str();
    }
    if queue.name.is_some() {
        return "abandoned";
    }
    let ends: Vec<CallProgress> = legs
        .iter()
        .filter_map(|(_, leg)| leg.status.filter(|s| s.is_terminal()))
        .collect();
    for status in [
        CallProgress::NoAnswer,
        CallProgress::Busy,
        CallProgress::Failed,
        CallProgress::Canceled,
    ] {
        if ends.contains(&status) {
            return status.as_str();
        }
    }
    match root.and_then(|leg| leg.status) {
        Some(status) if status.is_terminal() && status != CallProgress::Completed => {
            status.as_str()
        }
        _ => "no-answer",
    }
}

fn open_line(header: &SessionHeader) -> String {
    let from = header.from_address.as_deref().unwrap_or("unknown");
    let to = header
        .destination
        .as_deref()
        .or(header.to_address.as_deref())
        .unwrap_or("unknown");
    match (header.channel, header.direction) {
        (FlowChannels::Voice, SessionDirections::Incoming) => {
            format!("Incoming call from {from} to {to}")
        }
        (FlowChannels::Voice, SessionDirections::Outgoing) => {
            format!("Outgoing call from {from} to {to}")
        }
        (FlowChannels::Chat, _) => format!("Chat started between {from} and {to}"),
        (FlowChannels::Fax, SessionDirections::Incoming) => {
            format!("Incoming fax from {from} to {to}")
        }
        (FlowChannels::Fax, SessionDirections::Outgoing) => {
            format!("Outgoing fax from {from} to {to}")
        }
    }
}
