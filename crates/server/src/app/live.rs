//! The live index: every active session, kept in memory and pre-rendered,
//! so that `GET /sessions/active` never touches the store or the history.
//!
//! The index maps endpoint → its active sessions and session id → the
//! session's entry, its `SessionInfo` JSON rendered once per change. A read is a
//! lookup plus a concatenation of bytes. Ended sessions leave the index.
//! At start the index is rebuilt from `Store::active_sessions`.
//!
//! Each endpoint carries a generation cell, set from one index-wide counter
//! whenever a session visible to it changes: a reader that rendered a
//! user's list keeps the cells of the user's endpoints and knows, by loading
//! a few atomics and no lock, whether its rendering is still current
//! (`crate::app::visibility::ActiveViews`).
//!
//! Only the application layer writes the index (`upsert` and `refresh` are
//! `pub(in crate::app)`); everyone else gets `&LiveIndex`, a read-only view.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockWriteGuard};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use evo_core::api::sessions::{FlowChannels, SessionCallState, SessionInfo};
use evo_core::ids::{AccountId, CallSid, EndpointId, SessionId};
use evo_core::session::{LogEntry, Session};

/// How many ended sessions the index remembers, so that an older active
/// version read from the store cannot bring an ended session back.
const ENDED_REMEMBERED: usize = 100_000;

/// One active session as the index holds it; read-only outside `app`:
/// its `SessionInfo` as JSON (rendered once per change) and the few facts
/// visibility, lookups, the event hub and the reconciler read. The
/// `Session` itself is not kept (it was most of an entry's bytes): a
/// webhook or an action reads it from the store's snapshot, one primary-key
/// read, under the session's lock (`SessionService`).
#[derive(Debug)]
pub struct LiveSession {
    head: LiveHead,
    /// `SessionInfo` rendered with an empty log (`"log":[]`), re-rendered
    /// per change; its lines go at `log_at` (see [`LiveSession::json`]).
    fixed: Bytes,
    log_at: u32,
    /// The rendered log lines, appended to per change (never re-rendered
    /// while the reducer only appends), shared with earlier versions.
    lines: Lines,
    /// Sorted, no duplicates.
    endpoints: Box<[EndpointId]>,
}

/// How many bytes of rendered lines a sealed chunk holds at least: an
/// appended line copies the open chunk (at most about this), and sealing
/// one copies the list of sealed chunks (one pointer each; a 10,000-line
/// chat has about 150), once every few dozen lines.
const CHUNK: usize = 8 * 1024;

/// A session's rendered log lines, as the contract's JSON writes them
/// inside `"log":[…]` (`{"date":…,"message":…}` joined by commas), in
/// immutable chunks: the sealed ones shared by every later version of the
/// entry, the open one copied and extended when lines are appended. So an
/// event renders its own lines only, and a response copies the chunks.
#[derive(Debug, Clone, Default)]
struct Lines {
    sealed: Option<Arc<[Bytes]>>,
    open: Bytes,
    /// Lines in all chunks.
    count: usize,
    /// Bytes in all chunks.
    len: usize,
}

impl Lines {
    /// `self` followed by `new` (rendered here, one by one).
    fn append<'a>(&self, new: impl IntoIterator<Item = &'a LogEntry>) -> Lines {
        let mut sealed: Option<Vec<Bytes>> = None;
        let mut open = Vec::with_capacity(self.open.len() + 256);
        open.extend_from_slice(&self.open);
        let (mut count, mut len) = (self.count, self.len - self.open.len());
        for entry in new {
            if count > 0 {
                open.push(b',');
            }
            open.extend_from_slice(&evo_wire::json::to_json(&entry.to_info()));
            count += 1;
            if open.len() >= CHUNK {
                len += open.len();
                sealed
                    .get_or_insert_with(|| self.sealed.as_deref().unwrap_or_default().to_vec())
                    .push(Bytes::from(std::mem::take(&mut open)));
            }
        }
        len += open.len();
        Lines {
            sealed: match sealed {
                Some(sealed) => Some(sealed.into()),
                None => self.sealed.clone(),
            },
            // Kept until the next change: an allocation of exactly its size.
            open: Bytes::copy_from_slice(&open),
            count,
            len,
        }
    }

    fn write_to(&self, out: &mut Vec<u8>) {
        for chunk in self.sealed.iter().flat_map(|sealed| sealed.iter()) {
            out.extend_from_slice(chunk);
        }
        out.extend_from_slice(&self.open);
    }
}

/// Where a `SessionInfo` rendered with an empty log takes its lines: just
/// inside `"log":[]` (a `"` inside a JSON string is escaped, and no other
/// object of `SessionInfo` has a `log` array, so the marker is the field;
/// `None` unless found exactly once).
fn log_offset(fixed: &[u8]) -> Option<usize> {
    const FIELD: &[u8] = b"\"log\":[]";
    let mut found = fixed
        .windows(FIELD.len())
        .enumerate()
        .filter(|(_, window)| *window == FIELD)
        .map(|(at, _)| at + FIELD.len() - 1);
    let at = found.next()?;
    found.next().is_none().then_some(at)
}

/// What the index keeps of a session besides its JSON (named like the
/// `Session` accessors they copy).
#[derive(Debug)]
pub struct LiveHead {
    id: SessionId,
    account_id: AccountId,
    version: u64,
    opened_at: DateTime<Utc>,
    last_activity: DateTime<Utc>,
    call_sid: Option<CallSid>,
    call_state: SessionCallState,
    channel: FlowChannels,
    ended: bool,
}

impl LiveHead {
    /// The session's id.
    pub fn id(&self) -> &SessionId {
        &self.id
    }

    /// The session's account.
    pub fn account_id(&self) -> &AccountId {
        &self.account_id
    }

    /// The committed version this entry renders.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// When the session was opened.
    pub fn opened_at(&self) -> DateTime<Utc> {
        self.opened_at
    }

    /// When anything last happened to the session.
    pub fn last_activity(&self) -> DateTime<Utc> {
        self.last_activity
    }

    /// The root call's SID (voice sessions).
    pub fn call_sid(&self) -> Option<&CallSid> {
        self.call_sid.as_ref()
    }

    /// The session's call state.
    pub fn call_state(&self) -> SessionCallState {
        self.call_state
    }

    /// Voice, chat…
    pub fn channel(&self) -> FlowChannels {
        self.channel
    }

    /// Whether the session is still live.
    pub fn is_active(&self) -> bool {
        !self.ended
    }
}

impl LiveSession {
    /// Renders a whole session for the index (only its JSON and head are
    /// kept): every log line.
    pub(in crate::app) fn new(session: Session) -> Self {
        debug_assert!(session.is_whole(), "a session loaded for one event");
        Self::next(session, None)
            .unwrap_or_else(|| unreachable!("a whole session renders without an earlier entry"))
    }

    /// Renders the next version of an entry: the fixed part again, and the
    /// lines `session` holds appended to those `base` rendered, when the
    /// session holds only its newest lines (loaded for one event:
    /// `Session::log_elided`), which then must be exactly the lines after
    /// `base`'s; `None` otherwise. A whole session renders every line.
    pub(in crate::app) fn next(session: Session, base: Option<&LiveSession>) -> Option<Self> {
        let rendered = evo_wire::json::to_json(&session.to_info_without_log());
        let (fixed, log_at, lines) = match (log_offset(&rendered), session.log_elided()) {
            (Some(at), 0) => (rendered, at, Lines::default().append(&session.state().log)),
            (Some(at), elided) => {
                let base = base.filter(|base| base.lines.count == elided)?;
                (rendered, at, base.lines.append(&session.state().log))
            }
            // Not expected (the contract has one `Log`): the whole rendering.
            (None, 0) => {
                let whole = evo_wire::json::to_json(&session.to_info());
                let at = whole.len();
                (whole, at, Lines::default())
            }
            (None, _) => return None,
        };
        let endpoints: Vec<EndpointId> = session.endpoint_ids().into_iter().collect();
        let last_activity = session.last_activity();
        let header = session.header();
        let state = session.state();
        let head = LiveHead {
            id: session.id().clone(),
            account_id: header.account_id.clone(),
            version: session.version(),
            opened_at: session.opened_at(),
            last_activity,
            call_sid: header.call_sid.clone(),
            call_state: state.call_state,
            channel: header.channel,
            ended: state.ended,
        };
        Some(LiveSession {
            head,
            // Kept as long as the session is active: copied into an
            // allocation of exactly its size, and the rendering buffer
            // freed whole (shrinking it in place left its tail as a free
            // hole between long-lived entries).
            fixed: Bytes::copy_from_slice(&fixed),
            log_at: u32::try_from(log_at).ok()?,
            lines,
            endpoints: endpoints.into_boxed_slice(),
        })
    }

    /// How many log lines the entry renders.
    pub fn log_lines(&self) -> usize {
        self.lines.count
    }

    /// What the index keeps of the session (the whole session is the
    /// store's: `SessionService::stored`).
    pub fn session(&self) -> &LiveHead {
        &self.head
    }

    /// Its projection for clients, decoded from the kept JSON (the formats
    /// other than JSON are rare: the JSON is what the index keeps).
    pub fn info(&self) -> SessionInfo {
        match evo_wire::json::from_json(&self.json()) {
            Ok(info) => info,
            Err(error) => {
                // Our own rendering always decodes (tested); never a panic.
                tracing::error!(%error, session = %self.head.id, "a kept SessionInfo did not decode");
                SessionInfo::default()
            }
        }
    }

    /// `SessionInfo` as JSON: the fixed part with the log's lines put in,
    /// each rendered once, when its event came (no copy when the log is
    /// empty; otherwise one copy of the parts, see [`LiveSession::write_json`]).
    pub fn json(&self) -> Bytes {
        if self.lines.count == 0 {
            return self.fixed.clone();
        }
        let mut out = Vec::with_capacity(self.json_len());
        self.write_json(&mut out);
        Bytes::from(out)
    }

    /// The length of [`LiveSession::json`].
    pub fn json_len(&self) -> usize {
        self.fixed.len() + self.lines.len
    }

    /// Appends [`LiveSession::json`] to `out`, copying the parts.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let (head, tail) = self.fixed.split_at(self.log_at as usize);
        out.extend_from_slice(head);
        self.lines.write_to(out);
        out.extend_from_slice(tail);
    }

    /// The endpoints this session is visible to (sorted).
    pub fn endpoints(&self) -> &[EndpointId] {
        &self.endpoints
    }
}

/// The active sessions one endpoint sees, and its generation cell.
#[derive(Default)]
struct EndpointEntry {
    /// The entries themselves (shared with `Inner::sessions`), not their
    /// ids: a few pointers per endpoint, no id copies, no B-tree nodes.
    sessions: Vec<Arc<LiveSession>>,
    /// The index generation of the last change to `sessions` (or to one of
    /// their sessions). Entries are never removed, so a watcher's cell
    /// stays the endpoint's; there are as many as endpoints ever seen.
    generation: Arc<AtomicU64>,
}

/// What a reader needs to render an endpoint set's active sessions and to
/// know later whether the rendering is still current.
pub struct Watched {
    /// The active sessions, oldest first.
    pub sessions: Vec<Arc<LiveSession>>,
    /// The highest generation of the endpoints when `sessions` was read.
    pub stamp: u64,
    /// The endpoints' generation cells.
    pub cells: Vec<Arc<AtomicU64>>,
    /// The index's generation ([`LiveIndex::generation`]) when `sessions`
    /// was read: while it has not moved, no cell has either.
    pub index_generation: u64,
}

impl Watched {
    /// Whether no session visible to the endpoints changed since.
    pub fn is_current(stamp: u64, cells: &[Arc<AtomicU64>]) -> bool {
        cells
            .iter()
            .map(|cell| cell.load(Ordering::Acquire))
            .max()
            .unwrap_or(0)
            == stamp
    }
}

#[derive(Default)]
struct Inner {
    sessions: HashMap<SessionId, Arc<LiveSession>>,
    by_endpoint: HashMap<EndpointId, EndpointEntry>,
    /// The last generation handed out (strictly increasing).
    generation: u64,
    /// Version at which recently ended sessions left the index.
    ended: HashMap<SessionId, u64>,
    ended_order: VecDeque<SessionId>,
}

impl Inner {
    /// The version held for `id`, active or recently ended.
    fn held_version(&self, id: &str) -> Option<u64> {
        self.sessions
            .get(id)
            .map(|live| live.head.version)
            .or_else(|| self.ended.get(id).copied())
    }

    fn put(&mut self, live: Arc<LiveSession>) {
        let id = live.head.id.clone();
        self.generation += 1;
        let generation = self.generation;
        if let Some(previous) = self.sessions.remove(&id) {
            for endpoint in &previous.endpoints {
                if let Some(entry) = self.by_endpoint.get_mut(endpoint) {
                    entry.sessions.retain(|held| held.head.id != id);
                    entry.generation.store(generation, Ordering::Release);
                }
            }
        }
        if live.head.is_active() {
            self.ended.remove(&id);
            for endpoint in &live.endpoints {
                let entry = self.by_endpoint.entry(endpoint.clone()).or_default();
                entry.sessions.push(live.clone());
                entry.generation.store(generation, Ordering::Release);
            }
            self.sessions.insert(id, live);
        } else {
            if self.ended.insert(id.clone(), live.head.version).is_none() {
                self.ended_order.push_back(id);
            }
            while self.ended_order.len() > ENDED_REMEMBERED {
                if let Some(oldest) = self.ended_order.pop_front() {
                    self.ended.remove(&oldest);
                }
            }
        }
    }
}

/// The index of active sessions.
#[derive(Default)]
pub struct LiveIndex {
    inner: RwLock<Inner>,
    /// `Inner::generation`, stored under the write lock after each change:
    /// one load tells a reader that nothing changed since (the view
    /// cache's first check, before the cells).
    changed: AtomicU64,
}

impl LiveIndex {
    /// An index holding `sessions` (the active ones are kept).
    pub(in crate::app) fn rebuild(sessions: Vec<Session>) -> Self {
        let index = LiveIndex::default();
        for session in sessions {
            index.upsert(session);
        }
        index
    }

    /// Moves with every change of the index (strictly increasing).
    pub fn generation(&self) -> u64 {
        self.changed.load(Ordering::Acquire)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Puts a version of a session this node just committed in the index (or
    /// removes it when it has ended), unless a newer version is held already
    /// (taken from another node meanwhile). Returns the entry, and whether
    /// the index took it (only then is it published).
    pub(in crate::app) fn upsert(&self, session: Session) -> (Arc<LiveSession>, bool) {
        self.upsert_live(LiveSession::new(session))
    }

    /// [`LiveIndex::upsert`] of an entry rendered already
    /// ([`LiveSession::next`]).
    pub(in crate::app) fn upsert_live(&self, live: LiveSession) -> (Arc<LiveSession>, bool) {
        let live = Arc::new(live);
        let mut inner = self.write();
        let taken = inner
            .held_version(&live.head.id)
            .is_none_or(|version| version <= live.head.version);
        if taken {
            inner.put(live.clone());
            self.changed.store(inner.generation, Ordering::Release);
        }
        (live, taken)
    }

    /// Takes a version of a session written elsewhere (another node) if it
    /// is newer than the one held, checked and written under one lock so a
    /// concurrent local commit is never overwritten by an older version.
    /// Returns the new entry when the index changed.
    pub(in crate::app) fn refresh(&self, session: Session) -> Option<Arc<LiveSession>> {
        // Rendered outside the lock; most refreshes do change the index.
        let live = Arc::new(LiveSession::new(session));
        let mut inner = self.write();
        let held = inner.held_version(&live.head.id);
        let newer = held.is_none_or(|version| version < live.head.version);
        // A session this node never held is taken only while active: an
        // ended one it never held changes nothing here.
        let relevant = held.is_some() || live.head.is_active();
        if newer && relevant {
            inner.put(live.clone());
            self.changed.store(inner.generation, Ordering::Release);
            Some(live)
        } else {
            None
        }
    }

    /// The active session with this id.
    pub fn get(&self, id: &SessionId) -> Option<Arc<LiveSession>> {
        let inner = self
            .inner
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        inner.sessions.get(id).cloned()
    }

    /// The active sessions visible to any of `endpoints`, oldest first.
    pub fn for_endpoints<'a>(
        &self,
        endpoints: impl IntoIterator<Item = &'a EndpointId>,
    ) -> Vec<Arc<LiveSession>> {
        let inner = self
            .inner
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Self::collect(&inner, endpoints)
    }

    /// [`LiveIndex::for_endpoints`] with the endpoints' generation cells
    /// and stamp, read under the same lock (so the stamp is the one of
    /// exactly these sessions).
    pub fn watch(&self, endpoints: &[EndpointId]) -> Watched {
        let read = |inner: &Inner| {
            let cells: Option<Vec<Arc<AtomicU64>>> = endpoints
                .iter()
                .map(|e| {
                    inner
                        .by_endpoint
                        .get(e)
                        .map(|entry| entry.generation.clone())
                })
                .collect();
            cells.map(|cells| Watched {
                index_generation: inner.generation,
                stamp: cells
                    .iter()
                    .map(|cell| cell.load(Ordering::Acquire))
                    .max()
                    .unwrap_or(0),
                cells,
                sessions: Self::collect(inner, endpoints),
            })
        };
        let found = read(
            &self
                .inner
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        if let Some(watched) = found {
            return watched;
        }
        // An endpoint seen for the first time gets its (empty) entry.
        let mut inner = self.write();
        for endpoint in endpoints {
            inner
                .by_endpoint
                .entry(endpoint.to_string().into())
                .or_default();
        }
        read(&inner).unwrap_or_else(|| Watched {
            sessions: Vec::new(),
            stamp: 0,
            cells: Vec::new(),
            index_generation: inner.generation,
        })
    }

    fn collect<'a>(
        inner: &Inner,
        endpoints: impl IntoIterator<Item = &'a EndpointId>,
    ) -> Vec<Arc<LiveSession>> {
        let mut sessions: Vec<Arc<LiveSession>> = Vec::new();
        for endpoint in endpoints {
            if let Some(found) = inner.by_endpoint.get(endpoint) {
                sessions.extend(found.sessions.iter().cloned());
            }
        }
        sessions.sort_by(|a, b| {
            a.head
                .opened_at
                .cmp(&b.head.opened_at)
                .then_with(|| a.head.id.cmp(&b.head.id))
        });
        // A session visible to several of the endpoints is listed once.
        sessions.dedup_by(|a, b| a.head.id == b.head.id);
        sessions
    }

    /// Every active session (for the reconciler).
    pub fn all(&self) -> Vec<Arc<LiveSession>> {
        let inner = self
            .inner
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        inner.sessions.values().cloned().collect()
    }

    /// How many sessions are active.
    pub fn len(&self) -> usize {
        let inner = self
            .inner
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        inner.sessions.len()
    }

    /// Whether no session is active.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use evo_core::reducer;
    use evo_core::session::SessionHeader;

    fn version(n: u64, ended: bool) -> Session {
        let header = SessionHeader {
            account_id: "acc".into(),
            endpoint_id: "num".into(),
            ..SessionHeader::default()
        };
        let at = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        // Only the reducer changes a session; a stored snapshot (what a
        // refresh reads) can carry any version.
        let mut stored = serde_json::to_value(reducer::open("ses-1", header, at)).unwrap();
        stored["version"] = n.into();
        stored["state"]["ended"] = ended.into();
        serde_json::from_value(stored).unwrap()
    }

    fn held(index: &LiveIndex) -> Option<u64> {
        index
            .get(&"ses-1".into())
            .map(|live| live.session().version())
    }

    #[test]
    fn a_refresh_of_an_older_version_after_a_local_commit_changes_nothing() {
        let index = LiveIndex::rebuild(vec![version(1, false)]);
        // This node commits version 3 while a refresh read version 2.
        assert!(index.upsert(version(3, false)).1);
        assert!(index.refresh(version(2, false)).is_none());
        assert_eq!(held(&index), Some(3));
        // A local commit that lost the race to a newer remote version is not
        // put back over it.
        assert!(index.refresh(version(5, false)).is_some());
        assert!(!index.upsert(version(4, false)).1);
        assert_eq!(held(&index), Some(5));
    }

    #[test]
    fn an_ended_session_is_not_brought_back_by_an_older_active_version() {
        let index = LiveIndex::rebuild(vec![version(1, false)]);
        assert!(index.upsert(version(3, true)).1);
        assert_eq!(held(&index), None);
        assert!(index.refresh(version(2, false)).is_none());
        assert_eq!(held(&index), None);
        assert!(index.for_endpoints(&[EndpointId::new("num")]).is_empty());
    }

    #[test]
    fn a_watched_rendering_goes_stale_exactly_when_a_session_of_its_endpoints_changes() {
        let index = LiveIndex::rebuild(vec![version(1, false)]);
        let num = index.watch(&["num".to_string().into()]);
        assert_eq!(num.sessions.len(), 1);
        // An endpoint never seen yet gets a cell too.
        let other = index.watch(&["usr-x".to_string().into()]);
        assert!(other.sessions.is_empty());
        assert!(Watched::is_current(num.stamp, &num.cells));
        assert!(Watched::is_current(other.stamp, &other.cells));
        index.upsert(version(2, false));
        assert!(!Watched::is_current(num.stamp, &num.cells));
        assert!(Watched::is_current(other.stamp, &other.cells));
        let again = index.watch(&["num".to_string().into()]);
        assert!(Watched::is_current(again.stamp, &again.cells));
        // Leaving the index (ended) is a change too.
        index.upsert(version(3, true));
        assert!(!Watched::is_current(again.stamp, &again.cells));
        assert!(index.watch(&["num".to_string().into()]).sessions.is_empty());
    }

    /// The index's generation (the view cache's first check) is the one a
    /// watch read, and moves with every change the index takes, a local
    /// commit or a refresh, and with nothing else: while it holds, no cell
    /// can have moved.
    #[test]
    fn the_index_generation_moves_with_every_change_and_only_then() {
        let index = LiveIndex::rebuild(vec![version(1, false)]);
        let watched = index.watch(&["num".to_string().into()]);
        assert_eq!(watched.index_generation, index.generation());
        let before = index.generation();
        // Refused (older than held): no change, no move.
        assert!(index.refresh(version(1, false)).is_none());
        assert_eq!(index.generation(), before);
        assert!(Watched::is_current(watched.stamp, &watched.cells));
        index.upsert(version(2, false));
        let after_commit = index.generation();
        assert!(after_commit > before);
        assert!(!Watched::is_current(watched.stamp, &watched.cells));
        assert!(index.refresh(version(3, false)).is_some());
        assert!(index.generation() > after_commit);
        assert_eq!(
            index.watch(&["num".to_string().into()]).index_generation,
            index.generation()
        );
    }

    #[test]
    fn concurrent_local_commits_and_refreshes_never_move_a_session_backwards() {
        const COMMITS: u64 = 20_000;
        let index = Arc::new(LiveIndex::rebuild(vec![version(0, false)]));
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let refresher = {
            let (index, done) = (index.clone(), done.clone());
            std::thread::spawn(move || {
                // A poll reads the version after the one held; by the time it
                // is written here, local commits may have gone further.
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    let current = held(&index).unwrap_or(0);
                    if current < COMMITS {
                        index.refresh(version(current + 1, false));
                    }
                }
            })
        };
        for n in 1..=COMMITS {
            index.upsert(version(n, false));
            let now = held(&index).unwrap_or(0);
            assert!(now >= n, "version {now} held after committing {n}");
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        refresher.join().unwrap();
        assert_eq!(held(&index), Some(COMMITS));
    }

    #[test]
    fn an_entry_keeps_the_json_and_head_of_every_scenario_step_and_decodes_it_back() {
        use evo_core::scenario::{build, Cast, KINDS};
        let cast = Cast {
            account_id: "acc1".into(),
            account_name: "Acme".into(),
            customer: None,
            breadcrumb: vec![],
            number: ("num1".into(), "+15550100".into(), "Main".into()),
            agents: vec![
                ("usr1".into(), "alice".into(), "Alice".into()),
                ("usr2".into(), "bob".into(), "Bob".into()),
            ],
            caller: "+15557770000".into(),
        };
        let start = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        for (n, kind) in KINDS.iter().enumerate() {
            let plan = build(*kind, &cast, &format!("K{n}"), start);
            let mut session = reducer::open(&plan.session_id, plan.header.clone(), plan.opened_at);
            for event in &plan.events {
                reducer::apply_in_place(&mut session, event);
                let live = LiveSession::new(session.clone());
                // The formats other than JSON decode the kept JSON: the
                // same SessionInfo the session projects.
                assert_eq!(live.info(), session.to_info(), "{}", kind.name());
                assert_eq!(
                    live.json().as_ref(),
                    evo_wire::json::to_json(&session.to_info()).as_slice()
                );
                let head = live.session();
                assert_eq!(head.id(), session.id());
                assert_eq!(head.account_id(), &session.header().account_id);
                assert_eq!(head.version(), session.version());
                assert_eq!(head.opened_at(), session.opened_at());
                assert_eq!(head.last_activity(), session.last_activity());
                assert_eq!(head.call_sid(), session.header().call_sid.as_ref());
                assert_eq!(head.call_state(), session.state().call_state);
                assert_eq!(head.channel(), session.header().channel);
                assert_eq!(head.is_active(), session.is_active());
                let endpoints: Vec<EndpointId> = session.endpoint_ids().into_iter().collect();
                assert_eq!(live.endpoints(), endpoints.as_slice());
            }
        }
    }

    /// Inbound SMS `n` of a long chat (Twilio's MessageSid shape), with a
    /// body that needs escaping in JSON.
    fn sms(n: usize) -> evo_core::event::SessionEvent {
        evo_core::event::SessionEvent {
            at: chrono::DateTime::from_timestamp(1_700_000_000 + n as i64, 0).unwrap(),
            clock: evo_core::event::Clock::Server,
            source: evo_core::event::EventSource::Message {
                message_sid: format!("SM{n:032x}").into(),
            },
            kind: evo_core::event::EventKind::MessageReceived {
                from: "+15557770000".into(),
                body: format!("message {n}: \"quoted\", \\ and \"log\":[] é"),
                media: Vec::new(),
            },
        }
    }

    #[test]
    fn an_entry_appending_lines_renders_the_bytes_of_the_whole_session() {
        let header = SessionHeader {
            account_id: "acc1".into(),
            endpoint_id: "num1".into(),
            channel: evo_core::api::sessions::FlowChannels::Chat,
            display_name: Some("\"log\":[]".into()),
            ..SessionHeader::default()
        };
        let at = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let mut whole = reducer::open("ses-chat", header, at);
        whole.compact();
        let mut entry = LiveSession::new(whole.clone());
        // Past several sealed chunks (a line is about 150 bytes).
        for n in 0..300 {
            // What the store hands the service: the session without the
            // lines the entry renders already.
            let mut elided = whole.clone();
            elided.elide_log(whole.state().log.len());
            assert!(LiveSession::next(elided.clone(), None).is_none());
            assert!(reducer::try_apply_in_place(&mut elided, &sms(n)).unwrap());
            reducer::apply_in_place(&mut whole, &sms(n));
            let next = LiveSession::next(elided, Some(&entry)).expect("the base fits");
            let expected = evo_wire::json::to_json(&whole.to_info());
            assert_eq!(next.json().as_ref(), expected.as_slice(), "line {n}");
            assert_eq!(next.json_len(), expected.len());
            assert_eq!(
                LiveSession::new(whole.clone()).json().as_ref(),
                expected.as_slice()
            );
            assert_eq!(next.log_lines(), whole.state().log.len());
            assert_eq!(next.info(), whole.to_info());
            entry = next;
        }
        assert!(entry.lines.sealed.as_ref().is_some_and(|s| s.len() > 3));
        // The previous entry is still whole and unchanged (chunks shared).
        let mut before = whole.clone();
        before.elide_log(whole.state().log.len());
        assert!(LiveSession::next(before, Some(&entry)).is_some());
    }
}
