//! The one path by which sessions change: event in, reduce, persist,
//! index, publish.
//!
//! `SessionService::apply` serialises work per session (a sharded lock),
//! computes the next session with the pure reducer, commits it through the
//! group committer (durable before anything else happens), then updates the
//! live index and publishes the change. A subscriber therefore never sees a
//! state that a crash could undo, and a caller that got `Ok` may acknowledge.

use std::sync::Arc;
use std::time::Instant;

use evo_core::event::SessionEvent;
use evo_core::ids::{AccountId, CallSid, MessageSid, SessionId};
use evo_core::reducer;
use evo_core::session::Session;
use evo_store::feed::{ChangeListener, ChangeNotice};
use evo_store::group_commit::GroupCommitter;
use evo_store::{SessionChange, Store, StoreError};
use tokio::sync::{broadcast, Mutex};

use crate::app::live::{LiveIndex, LiveSession};
use crate::app::timing;

const LOCK_SHARDS: usize = 64;

/// How often a write refused as stale is retried on the stored session.
const CONFLICT_RETRIES: usize = 3;

/// A change that was committed, for server events.
#[derive(Debug, Clone)]
pub struct SessionChanged {
    pub(in crate::app) session: Arc<LiveSession>,
    /// When it was published (step timings, `app::timing`).
    pub(in crate::app) published: Instant,
}

impl SessionChanged {
    /// The session as committed.
    pub fn session(&self) -> &Arc<LiveSession> {
        &self.session
    }
}

/// What applying an event did.
#[derive(Debug, Clone)]
pub enum Applied {
    /// The session changed to this version.
    Changed(Arc<LiveSession>),
    /// The event had been applied before; nothing changed.
    Duplicate,
    /// No session is known for the event.
    UnknownSession,
    /// The session belongs to another account than the one asking;
    /// nothing changed.
    OtherAccount,
}

/// The id of the session a call opens, scoped by account: two tenants'
/// calls never share an id, and one tenant cannot name another's session
/// by its `CallSid` alone.
pub fn call_session_id(account_id: &AccountId, call_sid: &CallSid) -> SessionId {
    SessionId::new(format!("ses-{account_id}-{call_sid}"))
}

/// The id of the chat session a first message opens, scoped by account.
pub fn message_session_id(account_id: &AccountId, message_sid: &MessageSid) -> SessionId {
    SessionId::new(format!("ses-{account_id}-{message_sid}"))
}

/// A lookup key (call SID, conference SID, conversation…) as stored: scoped
/// by account, so a SID only ever leads to a session of the account whose
/// token signed the request. Public for `evo-voice bench`, which appends
/// the rows webhooks write in batches.
pub fn scoped_key(account_id: &AccountId, key: &str) -> String {
    format!("{account_id}:{key}")
}

fn scoped_keys(account_id: &AccountId, keys: &[String]) -> Vec<String> {
    keys.iter().map(|key| scoped_key(account_id, key)).collect()
}

/// Applies events to sessions.
pub struct SessionService {
    store: Arc<dyn Store>,
    committer: GroupCommitter,
    index: Arc<LiveIndex>,
    changes: broadcast::Sender<SessionChanged>,
    locks: Vec<Mutex<()>>,
    /// How many times a whole session (every log line and dedupe key) was
    /// read to change it: what `apply` avoids in the common case.
    whole_reads: std::sync::atomic::AtomicU64,
}

impl SessionService {
    /// A service over the store and index.
    pub(in crate::app) fn new(store: Arc<dyn Store>, index: Arc<LiveIndex>) -> Self {
        let (changes, _) = broadcast::channel(4096);
        SessionService {
            committer: GroupCommitter::new(store.clone()),
            store,
            index,
            changes,
            locks: (0..LOCK_SHARDS).map(|_| Mutex::new(())).collect(),
            whole_reads: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// How many times a session was read whole to be changed (see
    /// `apply_locked`; for tests and benchmarks).
    pub fn whole_reads(&self) -> u64 {
        self.whole_reads.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The live index, read-only: its writers are private to `app`.
    pub fn index(&self) -> &LiveIndex {
        &self.index
    }

    /// The durable copy of a session (the whole session: the index keeps
    /// only its JSON and head).
    pub async fn stored(&self, session_id: &SessionId) -> Result<Option<Session>, StoreError> {
        self.store.session(session_id).await
    }

    /// The durable copies of these sessions (one query), in no order.
    pub async fn stored_many(&self, ids: &[SessionId]) -> Result<Vec<Session>, StoreError> {
        self.store.sessions_by_id(ids).await
    }

    /// A session's events, as the store logged them (the live index and
    /// the snapshots keep compact sessions, without their events).
    pub async fn events(&self, session_id: &SessionId) -> Result<Vec<SessionEvent>, StoreError> {
        self.store.session_events(session_id).await
    }

    /// The whole sessions (members, header) of the account's active
    /// sessions, oldest first: the index names them, the store has them.
    pub async fn active_stored(&self, account_id: &AccountId) -> Result<Vec<Session>, StoreError> {
        let ids: Vec<SessionId> = self
            .index
            .all()
            .iter()
            .filter(|live| live.session().account_id() == account_id)
            .map(|live| live.session().id().clone())
            .collect();
        let mut sessions = self.stored_many(&ids).await?;
        sessions.retain(Session::is_active);
        sessions.sort_by(|a, b| (a.opened_at(), a.id()).cmp(&(b.opened_at(), b.id())));
        Ok(sessions)
    }

    /// The session of `account_id` a lookup key (call SID, conversation…)
    /// belongs to.
    pub async fn session_id_by_key(
        &self,
        account_id: &AccountId,
        key: &str,
    ) -> Result<Option<SessionId>, StoreError> {
        self.store
            .session_id_by_key(&scoped_key(account_id, key))
            .await
    }

    /// Keeps a callback whose session does not exist yet, durably, under
    /// the SIDs it names; the session that claims one of them applies it
    /// (`open`, or `apply_as` with those keys). Returns the session that
    /// exists by now under one of `keys`, if any: the caller then applies
    /// the event itself (the open may have claimed before this park).
    pub async fn park(
        &self,
        account_id: &AccountId,
        keys: &[String],
        event: &SessionEvent,
    ) -> Result<Option<SessionId>, StoreError> {
        self.store.park_callback(account_id, keys, event).await?;
        for key in keys {
            if let Some(id) = self.session_id_by_key(account_id, key).await? {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }

    /// Forgets parked callbacks received before `before` that no session
    /// claimed.
    pub async fn expire_parked(
        &self,
        before: chrono::DateTime<chrono::Utc>,
    ) -> Result<u64, StoreError> {
        self.store.expire_parked_callbacks(before).await
    }

    /// Waits (at most `limit`) until every queued commit is durable;
    /// returns how many are still pending.
    pub async fn drain_commits(&self, limit: std::time::Duration) -> usize {
        self.committer.drain(limit).await
    }

    /// The store's readiness check (cheap query, migrations applied).
    pub async fn check_store_ready(&self) -> Result<(), StoreError> {
        self.store.check_ready().await
    }

    /// Deletes up to `limit` ended sessions last active before `before`.
    /// The live index holds no ended session, so it is not touched.
    pub async fn prune_ended(
        &self,
        before: chrono::DateTime<chrono::Utc>,
        limit: u32,
    ) -> Result<u64, StoreError> {
        self.store.prune_ended_sessions(before, limit).await
    }

    /// Subscribes to committed changes.
    pub fn subscribe(&self) -> broadcast::Receiver<SessionChanged> {
        self.changes.subscribe()
    }

    fn lock_for(&self, session_id: &SessionId) -> &Mutex<()> {
        let hash = session_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        &self.locks[(hash % LOCK_SHARDS as u64) as usize]
    }

    /// Stores a newly opened session. `keys` are lookup keys (call SIDs…),
    /// scoped by the session's account. Callbacks parked under those keys
    /// are applied before this returns, so the open is acknowledged only
    /// once they are durable in the session (and a retried open applies
    /// whatever is still parked).
    pub async fn open(
        &self,
        session: Session,
        keys: Vec<String>,
    ) -> Result<Arc<LiveSession>, StoreError> {
        let _guard = self.lock_for(session.id()).lock().await;
        self.open_locked(session, &keys).await
    }

    /// `open` with the session's lock held.
    async fn open_locked(
        &self,
        mut session: Session,
        keys: &[String],
    ) -> Result<Arc<LiveSession>, StoreError> {
        // Stored and indexed without an event list (the log holds events).
        session.compact();
        let account_id = session.header().account_id.clone();
        let id = session.id().clone();
        let mut live = match self.load(session.id()).await? {
            Some(existing) => self
                .index
                .get(existing.id())
                .unwrap_or_else(|| Arc::new(LiveSession::new(existing))),
            None => {
                let started = Instant::now();
                let committed = self
                    .committer
                    .submit(SessionChange {
                        session,
                        event: None,
                        expected_version: None,
                        keys: scoped_keys(&account_id, keys),
                    })
                    .await?;
                if timing::enabled() {
                    timing::step(&id, "commit", started);
                }
                self.publish(committed.session)
            }
        };
        if let Some(claimed) = self.claim_parked(&account_id, &id, keys).await? {
            live = claimed;
        }
        Ok(live)
    }

    /// `open`, then `events` (those of the request that opens the session)
    /// as `apply_as` for the session's account would apply them. A new
    /// session is committed with the callbacks parked under `keys` and
    /// `events`, in that order, in one transaction (one fsync for the
    /// request, not one per event); each version is then published in
    /// order, so Server Events carry the messages they would if each had
    /// been committed alone. A session that exists (a retried webhook)
    /// takes them one by one.
    pub async fn open_with(
        &self,
        session: Session,
        keys: Vec<String>,
        events: Vec<SessionEvent>,
    ) -> Result<Arc<LiveSession>, StoreError> {
        let entered = Instant::now();
        let _guard = self.lock_for(session.id()).lock().await;
        let account_id = session.header().account_id.clone();
        let id = session.id().clone();
        let started = Instant::now();
        // Whether it is stored and what is parked for it: one read.
        let Some(parked) = self
            .store
            .parked_unless_stored(&id, &account_id, &keys)
            .await?
        else {
            // Stored already (a retried voice webhook): as before.
            let mut live = self.open_locked(session, &keys).await?;
            for event in events {
                if let Applied::Changed(next) = self
                    .apply_locked(&id, event, Vec::new(), Some(&account_id))
                    .await?
                {
                    live = next;
                }
            }
            return Ok(live);
        };
        if timing::enabled() {
            timing::step(&id, "open_read", started);
        }
        let started = Instant::now();
        // `reducer::open`'s session carries its events: no step needs history.
        let mut current = session;
        let mut opened = current.clone();
        opened.compact();
        let mut changes = vec![SessionChange {
            session: opened,
            event: None,
            expected_version: None,
            keys: scoped_keys(&account_id, &keys),
        }];
        for event in parked.into_iter().chain(events) {
            let expected_version = current.version();
            let new = reducer::try_apply_in_place(&mut current, &event).map_err(|_| {
                StoreError::Corrupt(format!(
                    "session {id}: a session that carries its events needed history"
                ))
            })?;
            if new {
                let mut next = current.clone();
                next.compact();
                changes.push(SessionChange {
                    session: next,
                    event: Some(event),
                    expected_version: Some(expected_version),
                    keys: Vec::new(),
                });
            }
        }
        if timing::enabled() {
            timing::step(&id, "reduce", started);
        }
        let started = Instant::now();
        let committed = self.committer.submit_all(changes).await?;
        if timing::enabled() {
            timing::step(&id, "commit", started);
        }
        let mut live = None;
        for version in committed {
            live = Some(self.publish(version.session));
        }
        let mut live =
            live.ok_or_else(|| StoreError::Corrupt(format!("session {id}: no version")))?;
        // Read again now that the keys are durable: a callback parked
        // meanwhile is applied here (`park` looks the keys up after its own
        // write, so one of the two sees the other); those applied above are
        // duplicates. Then the parked callbacks are dropped.
        let started = Instant::now();
        if let Some(claimed) = self.claim_parked(&account_id, &id, &keys).await? {
            live = claimed;
        }
        if timing::enabled() {
            timing::step(&id, "claim", started);
            timing::step(&id, "open_with", entered);
        }
        Ok(live)
    }

    /// Applies the callbacks parked under `keys` to the session, then
    /// forgets them. Called with the session's lock held.
    async fn claim_parked(
        &self,
        account_id: &AccountId,
        session_id: &SessionId,
        keys: &[String],
    ) -> Result<Option<Arc<LiveSession>>, StoreError> {
        if keys.is_empty() {
            return Ok(None);
        }
        let parked = self.store.parked_callbacks(account_id, keys).await?;
        if parked.is_empty() {
            return Ok(None);
        }
        let mut latest = None;
        for event in parked {
            if let Applied::Changed(live) = self
                .apply_locked(session_id, event, Vec::new(), None)
                .await?
            {
                latest = Some(live);
            }
        }
        self.store.drop_parked_callbacks(account_id, keys).await?;
        Ok(latest)
    }

    /// Applies an event to a session and returns once it is durable.
    pub async fn apply(
        &self,
        session_id: &SessionId,
        event: SessionEvent,
        keys: Vec<String>,
    ) -> Result<Applied, StoreError> {
        let _guard = self.lock_for(session_id).lock().await;
        self.apply_locked(session_id, event, keys, None).await
    }

    /// Applies an event on behalf of `account_id` (the account whose token
    /// signed the webhook): a session of another account is left unchanged
    /// (`Applied::OtherAccount`). With `claim`, callbacks parked under
    /// `keys` (a conference SID the session now knows) are applied too.
    pub async fn apply_as(
        &self,
        account_id: &AccountId,
        session_id: &SessionId,
        event: SessionEvent,
        keys: Vec<String>,
        claim: bool,
    ) -> Result<Applied, StoreError> {
        let entered = Instant::now();
        let _guard = self.lock_for(session_id).lock().await;
        let mut applied = self
            .apply_locked(session_id, event, keys.clone(), Some(account_id))
            .await?;
        if claim && matches!(applied, Applied::Changed(_) | Applied::Duplicate) {
            if let Some(live) = self.claim_parked(account_id, session_id, &keys).await? {
                applied = Applied::Changed(live);
            }
        }
        if timing::enabled() {
            timing::step(session_id, "apply_as", entered);
        }
        Ok(applied)
    }

    /// `apply` with the session's lock held.
    ///
    /// The session is read for this one event (`Store::session_for_event`:
    /// no log line, no dedupe key, the duplicate check is the event log's),
    /// stepped in place and committed; the index entry then appends the
    /// new lines to those it rendered. So one more event costs the same
    /// whatever the session's length. The whole session is read instead
    /// when the entry does not render exactly the lines the session leaves
    /// out (no entry, another node's version), when the reducer needs the
    /// history (an out-of-order event re-folding its stream), or after a
    /// conflict.
    async fn apply_locked(
        &self,
        session_id: &SessionId,
        event: SessionEvent,
        keys: Vec<String>,
        account_id: Option<&AccountId>,
    ) -> Result<Applied, StoreError> {
        // Read before the store: an entry newer than the stored session
        // (another node's, refreshed meanwhile) does not match it below.
        let entry = self.index.get(session_id);
        let started = Instant::now();
        let loaded = match self
            .store
            .session_for_event(session_id, &event.dedupe_key())
            .await?
        {
            Some(loaded) => loaded,
            None => return Ok(Applied::UnknownSession),
        };
        if timing::enabled() {
            timing::step(session_id, "read", started);
        }
        let mut current = loaded.session;
        // A snapshot of the first format carries its events.
        current.compact();
        if account_id.is_some_and(|account| *account != current.header().account_id) {
            return Ok(Applied::OtherAccount);
        }
        if loaded.applied {
            return Ok(Applied::Duplicate);
        }
        let keys = scoped_keys(&current.header().account_id, &keys);
        // The entry renders the lines the session leaves out only if it is
        // of the version read and holds exactly those lines.
        let mut base = entry.filter(|entry| {
            entry.session().version() == current.version()
                && entry.log_lines() == current.log_elided()
        });
        if base.is_none() && !current.is_whole() {
            current = match self.load(session_id).await? {
                Some(whole) => whole,
                None => return Ok(Applied::UnknownSession),
            };
        }
        // Another node sharing the store may have changed the session since
        // this node last saw it; the version check refuses the stale write,
        // and the event is applied again to the stored session.
        for attempt in 0..CONFLICT_RETRIES {
            if !reducer::is_new(&current, &event) {
                return Ok(Applied::Duplicate);
            }
            // `current` is already this task's own copy: change it in place
            // rather than clone the whole session once more.
            let mut expected_version = current.version();
            let mut next = current;
            let started = Instant::now();
            if let Err(reducer::HistoryNeeded) = reducer::try_apply_in_place(&mut next, &event) {
                if !next.is_whole() {
                    // The re-fold needs every line and the dedupe set: the
                    // whole session (the reference path).
                    next = match self.load(session_id).await? {
                        Some(whole) => whole,
                        None => return Ok(Applied::UnknownSession),
                    };
                    if !reducer::is_new(&next, &event) {
                        return Ok(Applied::Duplicate);
                    }
                    expected_version = next.version();
                    base = None;
                }
                if let Err(reducer::HistoryNeeded) = reducer::try_apply_in_place(&mut next, &event)
                {
                    // An out-of-order event re-folds its stream: the compact
                    // session needs its events, read from the log (whose
                    // events were committed with the snapshot `next` came
                    // from).
                    let history = self.store.session_events(session_id).await?;
                    reducer::with_history(&mut next, history)
                        .map_err(|mismatch| StoreError::Corrupt(mismatch.to_string()))?;
                    reducer::try_apply_in_place(&mut next, &event).map_err(|_| {
                        StoreError::Corrupt(format!(
                            "session {session_id}: the reducer still needs history after it was loaded"
                        ))
                    })?;
                }
            }
            next.compact();
            if timing::enabled() {
                timing::step(session_id, "reduce", started);
            }
            let started = Instant::now();
            let committed = self
                .committer
                .submit(SessionChange {
                    session: next,
                    event: Some(event.clone()),
                    expected_version: Some(expected_version),
                    keys: keys.clone(),
                })
                .await;
            if timing::enabled() {
                timing::step(session_id, "commit", started);
            }
            match committed {
                Ok(committed) => {
                    let live = self
                        .publish_next(committed.session, base.as_deref())
                        .await?;
                    return Ok(Applied::Changed(live));
                }
                Err(StoreError::Conflict(_)) if attempt + 1 < CONFLICT_RETRIES => {
                    tracing::debug!(
                        session = %session_id,
                        "session changed elsewhere; applying again"
                    );
                    current = match self.load(session_id).await? {
                        Some(whole) => whole,
                        None => return Ok(Applied::UnknownSession),
                    };
                    base = None;
                }
                Err(error) => return Err(error),
            }
        }
        Err(StoreError::Conflict(session_id.to_string()))
    }

    /// Takes other nodes' writes since `since` into the live index.
    /// Returns how many sessions changed here.
    pub async fn refresh_from_store(
        &self,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<usize, StoreError> {
        let sessions = self.store.sessions_written_since(since).await?;
        Ok(self.take_refreshed(sessions))
    }

    /// Takes the sessions the change feed named into the live index (and
    /// so to Server Events), reading only those this node has not seen at
    /// that version (its own commits are skipped). Returns how many changed.
    pub async fn refresh_changed(&self, notices: &[ChangeNotice]) -> Result<usize, StoreError> {
        let mut wanted: Vec<SessionId> = Vec::new();
        for notice in notices {
            let seen = self
                .index
                .get(&notice.session_id)
                .is_some_and(|live| live.session().version() >= notice.version);
            if !seen && !wanted.contains(&notice.session_id) {
                wanted.push(notice.session_id.clone());
            }
        }
        if wanted.is_empty() {
            return Ok(0);
        }
        let mut sessions = self.store.sessions_by_id(&wanted).await?;
        // Publish in the order the commits named them.
        sessions.sort_by_key(|s| wanted.iter().position(|id| *id == *s.id()));
        Ok(self.take_refreshed(sessions))
    }

    /// Takes stored versions (other nodes' writes) into the live index and
    /// publishes those newer than what this node holds; how many were.
    fn take_refreshed(&self, sessions: impl IntoIterator<Item = Session>) -> usize {
        let mut changed = 0;
        for session in sessions {
            if let Some(live) = self.index.refresh(session) {
                changed += 1;
                let _ = self.changes.send(SessionChanged {
                    session: live,
                    published: Instant::now(),
                });
            }
        }
        changed
    }

    /// A listener for other nodes' commits, where the store has one.
    pub async fn change_listener(&self) -> Result<Option<ChangeListener>, StoreError> {
        self.store.change_listener().await
    }

    /// The session to change, from the store's snapshot: the index keeps
    /// only its JSON and head. Called with the session's lock held, after
    /// the previous change's commit returned, so it reads that change.
    async fn load(&self, session_id: &SessionId) -> Result<Option<Session>, StoreError> {
        self.whole_reads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(self.store.session(session_id).await?.map(|mut stored| {
            // A snapshot of the first format carries its events.
            stored.compact();
            stored
        }))
    }

    /// Publishes a committed session that may hold only its newest lines
    /// (`Session::log_elided`): its entry appends them to `base`'s.
    async fn publish_next(
        &self,
        session: Session,
        base: Option<&LiveSession>,
    ) -> Result<Arc<LiveSession>, StoreError> {
        let id = session.id().clone();
        let started = Instant::now();
        let live = match LiveSession::next(session, base) {
            Some(live) => live,
            // Not expected (`apply_locked` checked the entry before the
            // step): the committed session, whole, from the store.
            None => match self.load(&id).await? {
                Some(whole) => LiveSession::new(whole),
                None => return Err(StoreError::Corrupt(format!("session {id}: gone"))),
            },
        };
        Ok(self.publish_live(live, started))
    }

    fn publish(&self, session: Session) -> Arc<LiveSession> {
        let started = Instant::now();
        self.publish_live(LiveSession::new(session), started)
    }

    fn publish_live(&self, live: LiveSession, started: Instant) -> Arc<LiveSession> {
        let (live, taken) = self.index.upsert_live(live);
        // A newer version taken from another node meanwhile was published
        // already; this older one must not follow it. No subscribers is fine.
        if taken {
            let _ = self.changes.send(SessionChanged {
                session: live.clone(),
                published: Instant::now(),
            });
        }
        if timing::enabled() {
            timing::step(live.session().id().as_str(), "index", started);
        }
        live
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use evo_core::scenario::{build, Kind};

    use evo_store::testing::one_agent_cast;

    #[tokio::test]
    async fn a_session_opened_with_parked_callbacks_and_its_events_publishes_each_version_in_order()
    {
        let dir = tempfile::tempdir().unwrap();
        let store = evo_store::open_store(&dir.path().display().to_string())
            .await
            .unwrap();
        let service = SessionService::new(store.clone(), Arc::new(LiveIndex::default()));
        let cast = one_agent_cast();
        let start = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let plan = build(Kind::HoldUnhold, &cast, "ONE", start);
        let account = plan.header.account_id.clone();
        let keys = vec!["CAONE".to_string()];
        // A callback that came before its session.
        assert!(service
            .park(&account, &keys, &plan.events[1])
            .await
            .unwrap()
            .is_none());
        let mut changes = service.subscribe();
        let opened = reducer::open(&plan.session_id, plan.header.clone(), plan.opened_at);
        let first = opened.version();
        let live = service
            .open_with(opened, keys.clone(), vec![plan.events[0].clone()])
            .await
            .unwrap();
        assert_eq!(live.session().version(), first + 2);
        // Each version published, in order: the parked callback, then the
        // request's event.
        for version in first..=first + 2 {
            let change = changes.try_recv().unwrap();
            assert_eq!(change.session().session().version(), version);
        }
        assert!(changes.try_recv().is_err());
        let stored = store.session(&plan.session_id).await.unwrap().unwrap();
        assert_eq!(stored.version(), first + 2);
        assert_eq!(
            store.session_events(&plan.session_id).await.unwrap(),
            vec![plan.events[1].clone(), plan.events[0].clone()]
        );
        assert!(store
            .parked_callbacks(&account, &keys)
            .await
            .unwrap()
            .is_empty());
        // A retry of the same request changes nothing.
        let opened = reducer::open(&plan.session_id, plan.header.clone(), plan.opened_at);
        let again = service
            .open_with(opened, keys, vec![plan.events[0].clone()])
            .await
            .unwrap();
        assert_eq!(again.session().version(), first + 2);
        assert!(changes.try_recv().is_err());
    }

    #[tokio::test]
    async fn a_voice_webhooks_versions_are_stored_as_one_change_the_next_event_builds_on() {
        let dir = tempfile::tempdir().unwrap();
        let store = evo_store::open_store(&dir.path().display().to_string())
            .await
            .unwrap();
        let service = SessionService::new(store.clone(), Arc::new(LiveIndex::default()));
        let start = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let plan = build(Kind::HoldUnhold, &one_agent_cast(), "TWO", start);
        let opened = reducer::open(&plan.session_id, plan.header.clone(), plan.opened_at);
        let mut changes = service.subscribe();
        let live = service
            .open_with(
                opened.clone(),
                vec!["CATWO".into()],
                plan.events[..2].to_vec(),
            )
            .await
            .unwrap();
        // Three versions published, one change stored: the last version,
        // with both events, as the reducer makes it event by event.
        for version in opened.version()..=opened.version() + 2 {
            assert_eq!(
                changes.try_recv().unwrap().session().session().version(),
                version
            );
        }
        let mut reference = opened;
        for event in &plan.events[..2] {
            reference = reducer::apply(&reference, event);
        }
        reference.compact();
        let stored = store.session(&plan.session_id).await.unwrap().unwrap();
        assert_eq!(stored.version(), live.session().version());
        assert_eq!(
            evo_wire::json::to_json(&stored.to_info()),
            evo_wire::json::to_json(&reference.to_info())
        );
        assert_eq!(
            store.session_events(&plan.session_id).await.unwrap(),
            plan.events[..2].to_vec()
        );
        // The next event reads the stored change without its lines and
        // appends to the entry's: the entry and the rows agree.
        let whole = service.whole_reads();
        let applied = service
            .apply(&plan.session_id, plan.events[2].clone(), Vec::new())
            .await
            .unwrap();
        assert!(matches!(applied, Applied::Changed(_)));
        assert_eq!(service.whole_reads(), whole);
        let reference = reducer::apply(&reference, &plan.events[2]);
        let stored = store.session(&plan.session_id).await.unwrap().unwrap();
        assert_eq!(
            evo_wire::json::to_json(&stored.to_info()),
            evo_wire::json::to_json(&reference.to_info())
        );
        assert_eq!(
            store.session_events(&plan.session_id).await.unwrap(),
            plan.events[..3].to_vec()
        );
    }

    fn console_data(n: usize) -> SessionEvent {
        SessionEvent {
            at: chrono::DateTime::from_timestamp(1_700_000_100 + n as i64, 0).unwrap(),
            clock: evo_core::event::Clock::Server,
            source: evo_core::event::EventSource::Internal {
                id: format!("concurrent-{n}"),
            },
            kind: evo_core::event::EventKind::ConsoleData {
                data: format!("update {n}"),
            },
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_events_on_one_session_each_see_the_previous_commit() {
        // The index keeps no Session: each event reads the stored snapshot
        // under the session's lock, after the previous commit returned; a
        // stale read would be refused by the version check (a conflict) or
        // lose an update.
        let dir = tempfile::tempdir().unwrap();
        let store = evo_store::open_store(&dir.path().display().to_string())
            .await
            .unwrap();
        let service = Arc::new(SessionService::new(
            store.clone(),
            Arc::new(LiveIndex::default()),
        ));
        let cast = one_agent_cast();
        let start = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let plan = build(Kind::HoldUnhold, &cast, "MANY", start);
        let opened = reducer::open(&plan.session_id, plan.header.clone(), plan.opened_at);
        let first = service
            .open_with(
                opened,
                vec!["CAMANY".to_string()],
                vec![plan.events[0].clone()],
            )
            .await
            .unwrap()
            .session()
            .version();
        const EVENTS: usize = 40;
        let tasks: Vec<_> = (0..EVENTS)
            .map(|n| {
                let (service, id) = (service.clone(), plan.session_id.clone());
                tokio::spawn(async move { service.apply(&id, console_data(n), Vec::new()).await })
            })
            .collect();
        let mut versions = Vec::new();
        for task in tasks {
            match task.await.unwrap().unwrap() {
                Applied::Changed(live) => versions.push(live.session().version()),
                other => panic!("every event is new: {other:?}"),
            }
        }
        versions.sort_unstable();
        let expected: Vec<u64> = (first + 1..=first + EVENTS as u64).collect();
        assert_eq!(versions, expected, "one version per event, none lost");
        let stored = store.session(&plan.session_id).await.unwrap().unwrap();
        assert_eq!(stored.version(), first + EVENTS as u64);
        assert_eq!(
            service
                .index()
                .get(&plan.session_id)
                .unwrap()
                .session()
                .version(),
            stored.version()
        );
        // A retry of any of them is a duplicate, seen in the stored snapshot.
        assert!(matches!(
            service
                .apply(&plan.session_id, console_data(7), Vec::new())
                .await
                .unwrap(),
            Applied::Duplicate
        ));
    }

    /// Inbound SMS `n` of a chat, `seconds` after the start (Twilio's
    /// MessageSid shape).
    fn sms(n: usize, seconds: i64) -> SessionEvent {
        SessionEvent {
            at: chrono::DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap(),
            clock: evo_core::event::Clock::Server,
            source: evo_core::event::EventSource::Message {
                message_sid: format!("SM{n:032x}").into(),
            },
            kind: evo_core::event::EventKind::MessageReceived {
                from: "+15557770000".into(),
                body: format!("message {n}: when can someone call me back?"),
                media: Vec::new(),
            },
        }
    }

    #[tokio::test]
    async fn events_read_without_the_log_index_the_bytes_of_the_whole_session() {
        let dir = tempfile::tempdir().unwrap();
        let store = evo_store::open_store(&dir.path().display().to_string())
            .await
            .unwrap();
        let service = SessionService::new(store.clone(), Arc::new(LiveIndex::default()));
        let header = evo_core::session::SessionHeader {
            account_id: "acc1".into(),
            endpoint_id: "num1".into(),
            channel: evo_core::api::sessions::FlowChannels::Chat,
            ..Default::default()
        };
        let at = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let id = SessionId::new("ses-acc1-chat");
        service
            .open(reducer::open(&id, header.clone(), at), Vec::new())
            .await
            .unwrap();
        let mut reference = reducer::open(&id, header, at);
        let check = |live: &LiveSession, reference: &Session| {
            assert_eq!(live.session().version(), reference.version());
            assert_eq!(
                live.json().as_ref(),
                evo_wire::json::to_json(&reference.to_info()).as_slice()
            );
        };
        // In order (read without the log), then a late one (the whole
        // session, a re-fold), then in order again, and redeliveries.
        let opened = service.whole_reads();
        let mut events: Vec<SessionEvent> = (0..80).map(|n| sms(n, 10 * n as i64)).collect();
        events.push(sms(80, 15));
        events.extend((81..100).map(|n| sms(n, 10 * n as i64)));
        for (n, event) in events.iter().enumerate() {
            let Applied::Changed(live) =
                service.apply(&id, event.clone(), Vec::new()).await.unwrap()
            else {
                panic!("event {n} is new");
            };
            reducer::apply_in_place(&mut reference, event);
            check(&live, &reference);
            let stored = store.session(&id).await.unwrap().unwrap();
            assert_eq!(stored.state(), reference.state(), "event {n}");
            // Only the late message (a re-fold) read the whole session.
            let whole = u64::from(n >= 80);
            assert_eq!(service.whole_reads() - opened, whole, "event {n}");
        }
        for event in [&events[3], &events[80], &events[99]] {
            assert!(matches!(
                service.apply(&id, event.clone(), Vec::new()).await.unwrap(),
                Applied::Duplicate
            ));
        }
        check(&service.index().get(&id).unwrap(), &reference);
        assert_eq!(
            reference.state(),
            &reducer::reduce_all(reference.header(), reference.opened_at(), &events)
        );
        // A node that lost its entry (restart) reads the whole session once.
        let fresh = SessionService::new(store.clone(), Arc::new(LiveIndex::default()));
        let event = sms(100, 1000);
        let Applied::Changed(live) = fresh.apply(&id, event.clone(), Vec::new()).await.unwrap()
        else {
            panic!("new");
        };
        reducer::apply_in_place(&mut reference, &event);
        check(&live, &reference);
        assert_eq!(fresh.whole_reads(), 1);
    }
}
