//! The event hub: who is subscribed to committed session changes, which
//! messages each user gets, and the durable log that lets a reconnecting
//! client resume. The wire framing (ServiceStack Server Events over SSE) is
//! the HTTP layer's (`crate::http::events`).
//!
//! Messages use Evo Voice's push vocabulary (`PushNotificationTypes`):
//! `SessionInfoChanged` for every change of a session the user sees, plus
//! `SessionInvite`, `SessionAnswered`, `SessionHeld`, `SessionDisconnected`
//! when the change is one of those, and `ActiveSessionsChanged` (the user's
//! whole active list) when a session joins or leaves it.
//!
//! Resume: messages are written for every *followed* user (one with a
//! stream open, or closed less than the retention ago) to the store's event
//! log (`evo_store::events`, migration 0010), which numbers them per user,
//! before they are queued on any stream. So a client reconnecting with the
//! id of the last message it got receives exactly the messages after it,
//! from the log, across reconnections and restarts; when they are gone
//! (pruned, the user was not followed, the node crashed between a commit
//! and its messages) the store's floor says so and the client gets one
//! `ActiveSessionsChanged` snapshot instead.
//!
//! Publishing is one task: it takes every queued change, plans the messages
//! under the hub's lock (no I/O), writes them in one store transaction
//! without the lock, then queues each on the user's own streams (a per-user
//! list; each message shared by the user's streams and framed once). Each
//! stream has a bounded queue: a subscriber too slow to take its messages is
//! closed (it can resume) rather than allowed to delay anyone.

use evo_core::ids::{AccountId, SessionId, UserId};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use evo_core::api::sessions::SessionCallState;
use evo_core::domain::Role;
use evo_store::events::{EventFeed, NewEventMessage, SharedParts};
use evo_store::{Store, StoreError};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::app::config::EventsConfig;
use crate::app::directory::Directory;
use crate::app::live::{LiveIndex, LiveSession};
use crate::app::sessions::SessionChanged;
use crate::app::timing;
use crate::app::visibility::{Audience, Viewer};
use crate::auth::Principal;

/// Messages queued for one subscription before it counts as too slow: a
/// client reading as fast as the messages come must never be closed for
/// it. One delivery holds up to `MAX_BATCH` changes' messages (128) plus,
/// with several nodes, the messages other nodes numbered in between, which
/// the hub fills in from the log (`EventHub::fill_gaps`): under a burst of
/// one user's changes written on two nodes (docs/benchmarks.md,
/// "Cross-node propagation", 300 changes a second) such a fill held more
/// than 256 messages and closed streams that were keeping up. Clones of a
/// shared `Message`, allocated as they queue: nothing at rest.
const SUBSCRIPTION_QUEUE: usize = 1024;

/// Limits and intervals of the hub.
#[derive(Debug, Clone)]
pub struct EventsSettings {
    /// How often clients send heartbeats (and idle streams get a comment).
    pub heartbeat: Duration,
    /// A subscription without a heartbeat for this long is closed (3×).
    pub idle_timeout: Duration,
    /// Messages queued for one subscription before it counts as too slow.
    pub queue: usize,
    /// Messages kept per user for resuming.
    pub replay: usize,
    /// Open streams per user; one more is refused (429).
    pub max_streams_per_user: usize,
    /// This node's writer name (`--node-id`), or a random one.
    pub node_id: Option<String>,
    /// How long a user is followed (its messages written) after its last
    /// stream closed; also the longest a message is kept.
    pub retention: Duration,
}

impl Default for EventsSettings {
    fn default() -> Self {
        EventsSettings::from_config(&EventsConfig::default())
    }
}

impl EventsSettings {
    /// The hub's settings from the server's configuration; the idle timeout
    /// is three heartbeat intervals (ServiceStack's ratio).
    pub fn from_config(config: &EventsConfig) -> Self {
        EventsSettings {
            heartbeat: config.heartbeat,
            idle_timeout: config.heartbeat * 3,
            queue: SUBSCRIPTION_QUEUE,
            replay: 256,
            max_streams_per_user: config.max_streams_per_user,
            node_id: config.node_id.clone(),
            retention: Duration::from_secs(10 * 60),
        }
    }
}

/// One frame for a subscriber: `id`, selector (`cmd.X` or `ch@cmd.X`) and
/// JSON body. Cheap to clone: the streams of one user share one message,
/// and its wire form is rendered once ([`Message::rendered`]).
#[derive(Debug, Clone)]
pub struct Message {
    pub id: u64,
    pub selector: Arc<str>,
    pub json: Bytes,
    /// A session message (numbered in the user's log), not a system frame
    /// (`onJoin`, `onHeartbeat`… carry the stream's last id).
    pub data: bool,
    rendered: Arc<OnceLock<Bytes>>,
    /// The session and when its change was published (step timings).
    origin: Option<(Arc<str>, Instant)>,
}

impl Message {
    fn new(id: u64, selector: Arc<str>, json: Bytes, data: bool) -> Self {
        Message {
            id,
            selector,
            json,
            data,
            rendered: Arc::new(OnceLock::new()),
            origin: None,
        }
    }

    /// The session it tells of and when its change was published, for the
    /// step timings (`app::timing`); only while they are recorded.
    pub fn origin(&self) -> Option<(&str, Instant)> {
        self.origin.as_ref().map(|(id, at)| (&**id, *at))
    }

    /// The message's wire form, rendered by `render` for the first stream
    /// that writes it and shared by the others.
    pub fn rendered(&self, render: impl FnOnce(&Message) -> Bytes) -> Bytes {
        self.rendered.get_or_init(|| render(self)).clone()
    }
}

/// Why a subscription request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HubError {
    /// No such subscription is open.
    NotFound,
    /// The subscription belongs to someone else.
    Forbidden,
    /// The user has too many open streams.
    TooManyStreams(usize),
    /// The event log could not be read or written.
    Unavailable,
}

/// The public meta of a subscription, as ServiceStack's flat string map.
pub type SubscriberInfo = Vec<(&'static str, String)>;

/// One open subscription (shared by the hub and its stream).
pub struct Subscription {
    id: String,
    principal: Principal,
    created_at: chrono::DateTime<chrono::Utc>,
}

impl Subscription {
    /// The subscription id clients send with heartbeats.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Who subscribed.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }
}

struct Entry {
    subscription: Arc<Subscription>,
    channels: Vec<String>,
    sender: mpsc::Sender<Message>,
    last_seen: Instant,
    /// The id of the last message queued: system frames carry it, so a
    /// client never resumes past a message it has not received.
    cursor: u64,
}

/// A followed user.
struct UserFeed {
    account_id: AccountId,
    manager: bool,
    /// The user's open subscriptions (ids into `HubState::subscriptions`).
    subscribers: Vec<String>,
    last_active: Instant,
    /// The user's active sessions as last told (to know when one joins or
    /// leaves the list, including by a change of visibility).
    active: HashSet<String>,
}

#[derive(Default)]
struct HubState {
    subscriptions: HashMap<String, Entry>,
    users: HashMap<UserId, UserFeed>,
    /// Last seen call state of each active session (for transitions).
    known: HashMap<String, SessionCallState>,
    /// Subscriptions closed in the last minute: a client's `stop()` closes
    /// its stream before it unregisters, and that unregister still succeeds.
    recently_closed: HashMap<String, (Arc<Subscription>, Vec<String>, Instant)>,
    /// Users whose messages may be missing from the log (a write failed, or
    /// the hub lagged): their resumes get a snapshot until the store's
    /// floor is raised.
    broken: HashSet<UserId>,
    /// The followed users' viewers by endpoint: a change is planned only
    /// for the users it may concern, not for every followed user.
    audience: Audience,
    /// Account → its followed managers (the account channel's audience).
    managers: HashMap<AccountId, HashSet<UserId>>,
    /// Session → the followed users whose active list holds it (they are
    /// told when it leaves, also by a change of visibility).
    holding: HashMap<SessionId, HashSet<UserId>>,
}

/// How long an unregister of a closed subscription still succeeds.
const RECENTLY_CLOSED: Duration = Duration::from_secs(60);
/// At most this many recently closed subscriptions are remembered.
const RECENTLY_CLOSED_MAX: usize = 10_000;
/// Most changes planned and written in one log transaction. A change gives
/// a user at most four messages (`SessionInfoChanged`, one call-state
/// message, `ActiveSessionsChanged`, and the account channel's copy), so a
/// batch always fits in an empty subscription queue
/// ([`SUBSCRIPTION_QUEUE`]): a burst of commits must not look like a slow
/// client.
const MAX_BATCH: usize = 32;
/// How often followed users are extended, idle ones dropped and the log
/// pruned.
const MAINTENANCE: Duration = Duration::from_secs(30);
/// A node whose lease was not renewed for this long stopped without
/// cleaning up (on PostgreSQL; on SQLite one server holds the data
/// directory). Several renewals fit in it, so a slow one is not a death.
const WRITER_STALE: Duration = Duration::from_secs(20);
/// How often a node renews its lease and expires other nodes' (so a crash
/// is found within `WRITER_STALE` plus this, even when no node starts).
const WRITER_RENEW: Duration = Duration::from_secs(5);

impl HubState {
    /// Follows a user (or updates its manager flag when followed already).
    fn add_user(&mut self, directory: &Directory, index: &LiveIndex, feed: &EventFeed) {
        if let Some(user) = self.users.get_mut(&feed.user_id) {
            if user.manager != feed.manager {
                user.manager = feed.manager;
                let managers = self.managers.entry(user.account_id.clone()).or_default();
                if feed.manager {
                    managers.insert(feed.user_id.clone());
                } else {
                    managers.remove(&feed.user_id);
                }
            }
            return;
        }
        self.audience
            .insert(directory, &feed.account_id, &feed.user_id);
        let active: HashSet<String> = self
            .audience
            .viewer(&feed.user_id)
            .map(|viewer| {
                viewer
                    .active_sessions(index)
                    .iter()
                    .map(|live| live.session().id().to_string())
                    .collect()
            })
            .unwrap_or_default();
        for session in &active {
            self.holding
                .entry(SessionId::from(session.as_str()))
                .or_default()
                .insert(feed.user_id.clone());
        }
        if feed.manager {
            self.managers
                .entry(feed.account_id.clone())
                .or_default()
                .insert(feed.user_id.clone());
        }
        self.users.insert(
            feed.user_id.clone(),
            UserFeed {
                account_id: feed.account_id.clone(),
                manager: feed.manager,
                subscribers: Vec::new(),
                last_active: Instant::now(),
                active,
            },
        );
    }

    /// Stops following a user.
    fn remove_user(&mut self, user_id: &UserId) {
        let Some(user) = self.users.remove(user_id) else {
            return;
        };
        self.audience.remove(user_id);
        if let Some(managers) = self.managers.get_mut(&user.account_id) {
            managers.remove(user_id);
            if managers.is_empty() {
                self.managers.remove(&user.account_id);
            }
        }
        for session in &user.active {
            unhold(&mut self.holding, session, user_id);
        }
    }

    fn close(&mut self, id: &str) -> Option<Entry> {
        let entry = self.subscriptions.remove(id)?;
        self.recently_closed
            .retain(|_, (_, _, at)| at.elapsed() < RECENTLY_CLOSED);
        if self.recently_closed.len() >= RECENTLY_CLOSED_MAX {
            self.recently_closed.clear();
        }
        self.recently_closed.insert(
            id.to_string(),
            (
                entry.subscription.clone(),
                entry.channels.clone(),
                Instant::now(),
            ),
        );
        if let Some(user) = self.users.get_mut(&entry.subscription.principal.user_id) {
            user.subscribers.retain(|s| s != id);
            user.last_active = Instant::now();
        }
        Some(entry)
    }
}

struct Inner {
    settings: EventsSettings,
    directory: Arc<Directory>,
    index: Arc<LiveIndex>,
    store: Arc<dyn Store>,
    /// This process in the store's `event_writer` table.
    node_id: String,
    state: Mutex<HubState>,
    flush: mpsc::Sender<oneshot::Sender<()>>,
    flushes: Mutex<Option<mpsc::Receiver<oneshot::Sender<()>>>>,
}

/// The open subscriptions and followed users.
#[derive(Clone)]
pub struct EventHub(Arc<Inner>);

/// What a new stream starts with, and where its later messages arrive.
pub struct Opened {
    pub subscription: Arc<Subscription>,
    /// The id `cmd.onConnect` carries (the resume point).
    pub connect_id: u64,
    /// Replayed messages, or one snapshot, to send after the opening frames.
    pub backlog: Vec<Message>,
    /// Whether the backlog is a snapshot because the gap was too old.
    pub snapshot: bool,
    /// Later messages. Session messages with an id at or below the last one
    /// of the backlog (or `connect_id`) were sent already: skip them.
    pub receiver: mpsc::Receiver<Message>,
    /// Removes the subscription when the stream is dropped.
    pub guard: StreamGuard,
}

/// Removes its subscription from the hub when dropped (the connection
/// ended, however it ended).
pub struct StreamGuard {
    hub: EventHub,
    id: String,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.hub.remove(&self.id);
    }
}

/// The channel a manager joins to see every session of the account.
pub fn account_channel(account_id: &AccountId) -> String {
    format!("account:{account_id}")
}

/// A message planned for one user, before the log numbers it.
struct Draft {
    user_id: UserId,
    /// The session version it tells of (`None`: not about one session).
    session: Option<(String, u64)>,
    dedupe: String,
    selector: Arc<str>,
    json: Bytes,
    /// How the log stores `json`: the sessions' JSON it is made of, each
    /// stored once for every message that carries it (migration 0018).
    parts: Parts,
    account_only: bool,
    origin: Option<(Arc<str>, Instant)>,
}

/// What a message's body is made of.
enum Parts {
    /// One session's JSON (`SessionInfoChanged` and the call-state
    /// messages): the body is the part.
    Session,
    /// `ActiveSessionsChanged`: `{"sessions":[…]}` around the sessions'
    /// JSON.
    List(Vec<Bytes>),
}

const LIST_HEAD: &str = "{\"sessions\":[";
const LIST_TAIL: &str = "]}";

impl Draft {
    /// The message as the log takes it: the text around the shared parts.
    fn to_new(&self) -> NewEventMessage {
        let (body, shared) = match &self.parts {
            Parts::Session => (
                String::new(),
                SharedParts {
                    at: 0,
                    parts: vec![self.json.clone()],
                },
            ),
            Parts::List(parts) => (
                format!("{LIST_HEAD}{LIST_TAIL}"),
                SharedParts {
                    at: LIST_HEAD.len(),
                    parts: parts.clone(),
                },
            ),
        };
        NewEventMessage {
            user_id: self.user_id.clone(),
            dedupe: self.dedupe.clone(),
            selector: self.selector.to_string(),
            account_only: self.account_only,
            body,
            session: self.session.clone(),
            // An empty list has no part: stored whole.
            shared: Some(shared).filter(|shared| !shared.parts.is_empty()),
        }
    }
}

fn feed_of(principal: &Principal) -> EventFeed {
    EventFeed {
        user_id: principal.user_id.clone(),
        account_id: principal.account_id.clone(),
        manager: principal.has_role(Role::Manager),
    }
}

fn to_chrono(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

impl EventHub {
    /// The hub over the store's event log: registers this node as a writer
    /// (a node that stopped uncleanly has every floor raised) and follows
    /// again the users followed before a restart.
    pub(in crate::app) async fn start(
        directory: Arc<Directory>,
        index: Arc<LiveIndex>,
        store: Arc<dyn Store>,
        settings: EventsSettings,
    ) -> Result<Self, StoreError> {
        let node_id = settings
            .node_id
            .clone()
            .unwrap_or_else(crate::auth::generate_session_id);
        let now = chrono::Utc::now();
        let unclean = store
            .event_writer_start(&node_id, now, now - to_chrono(WRITER_STALE))
            .await?;
        if unclean {
            tracing::warn!("a server stopped without writing all its event messages; resumes from before get a snapshot");
        }
        let feeds = store.followed_event_feeds(now).await?;
        let known = index
            .all()
            .iter()
            .map(|live| (live.session().id().to_string(), live.session().call_state()))
            .collect();
        let mut state = HubState {
            known,
            ..HubState::default()
        };
        state.audience.sync(&directory);
        for feed in &feeds {
            state.add_user(&directory, &index, feed);
        }
        let (flush, flushes) = mpsc::channel(4);
        Ok(EventHub(Arc::new(Inner {
            settings,
            directory,
            index,
            store,
            node_id,
            state: Mutex::new(state),
            flush,
            flushes: Mutex::new(Some(flushes)),
        })))
    }

    /// Feeds committed changes into the hub until the feed closes, and runs
    /// the log's maintenance.
    pub(in crate::app) fn run(&self, mut changes: broadcast::Receiver<SessionChanged>) {
        let hub = self.clone();
        let mut flushes = self
            .0
            .flushes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
            .expect("the hub runs once");
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    biased;
                    received = changes.recv() => {
                        let first = match received {
                            Ok(change) => change,
                            Err(RecvError::Lagged(missed)) => {
                                hub.lagged(missed);
                                continue;
                            }
                            Err(RecvError::Closed) => return,
                        };
                        let batch = hub.take_queued(first, &mut changes);
                        hub.publish_batch(&batch).await;
                    }
                    Some(reply) = flushes.recv() => {
                        // Everything committed before the flush is written.
                        loop {
                            match changes.try_recv() {
                                Ok(first) => {
                                    let batch = hub.take_queued(first, &mut changes);
                                    hub.publish_batch(&batch).await;
                                }
                                Err(TryRecvError::Lagged(missed)) => hub.lagged(missed),
                                Err(_) => break,
                            }
                        }
                        let _ = reply.send(());
                    }
                }
            }
        });
        let hub = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(WRITER_RENEW);
            tick.tick().await;
            loop {
                tick.tick().await;
                let now = chrono::Utc::now();
                match hub
                    .0
                    .store
                    .event_writer_renew(&hub.0.node_id, now, now - to_chrono(WRITER_STALE))
                    .await
                {
                    Ok(true) => tracing::warn!("a server stopped without writing all its event messages; resumes from before get a snapshot"),
                    Ok(false) => {}
                    Err(error) => tracing::warn!(%error, "renewing this node's event log lease failed"),
                }
            }
        });
        let hub = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(MAINTENANCE);
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(error) = hub.maintain().await {
                    tracing::warn!(%error, "event log maintenance failed");
                }
            }
        });
    }

    fn take_queued(
        &self,
        first: SessionChanged,
        changes: &mut broadcast::Receiver<SessionChanged>,
    ) -> Vec<SessionChanged> {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match changes.try_recv() {
                Ok(change) => batch.push(change),
                Err(TryRecvError::Lagged(missed)) => self.lagged(missed),
                Err(_) => break,
            }
        }
        batch
    }

    /// Waits (at most `limit`) until the messages of every change published
    /// so far are written and queued; whether they are.
    pub async fn flush(&self, limit: Duration) -> bool {
        let (reply, done) = oneshot::channel();
        self.0.flush.send(reply).await.is_ok()
            && tokio::time::timeout(limit, done)
                .await
                .is_ok_and(|r| r.is_ok())
    }

    /// Writes every change published so far, then records that this node
    /// stopped cleanly (graceful shutdown, after the commits drained).
    pub async fn stop(&self, limit: Duration) {
        if !self.flush(limit).await {
            tracing::warn!("event messages were not all written before shutdown");
            return;
        }
        if let Err(error) = self.0.store.event_writer_stop(&self.0.node_id).await {
            tracing::warn!(%error, "recording a clean stop of the event log failed");
        }
    }

    /// Extends the followed users, stops following idle ones and prunes the
    /// log (the node's lease is renewed apart, every `WRITER_RENEW`).
    async fn maintain(&self) -> Result<(), StoreError> {
        let settings = &self.0.settings;
        let (keep, dropped): (Vec<UserId>, Vec<UserId>) = {
            let mut state = self.lock();
            let dropped: Vec<UserId> = state
                .users
                .iter()
                .filter(|(_, u)| {
                    u.subscribers.is_empty() && u.last_active.elapsed() >= settings.retention
                })
                .map(|(id, _)| id.clone())
                .collect();
            for id in &dropped {
                state.remove_user(id);
            }
            (state.users.keys().cloned().collect(), dropped)
        };
        let now = chrono::Utc::now();
        let store = &self.0.store;
        store
            .extend_event_feeds(&keep, now + to_chrono(settings.retention + MAINTENANCE * 2))
            .await?;
        store.unfollow_event_feeds(&dropped).await?;
        store
            .prune_event_messages(settings.replay as u64, now - to_chrono(settings.retention))
            .await?;
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, HubState> {
        self.0
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The hub's settings.
    pub fn settings(&self) -> &EventsSettings {
        &self.0.settings
    }

    /// Changes were lost: nobody may resume across them.
    fn lagged(&self, missed: u64) {
        tracing::warn!(missed, "event hub lagged; subscribers resynchronise");
        let mut state = self.lock();
        let users: Vec<UserId> = state.users.keys().cloned().collect();
        state.broken.extend(users);
        let ids: Vec<String> = state.subscriptions.keys().cloned().collect();
        for id in ids {
            state.close(&id);
        }
    }

    /// Plans, writes and queues the messages of committed changes.
    async fn publish_batch(&self, changes: &[SessionChanged]) {
        let timed = timing::enabled();
        if timed {
            for change in changes {
                timing::step(
                    change.session().session().id().as_str(),
                    "hub_wait",
                    change.published,
                );
            }
        }
        let started = Instant::now();
        let (drafts, broken) = {
            let mut state = self.lock();
            let mut drafts = Vec::new();
            for change in changes {
                let first = drafts.len();
                self.plan(&mut state, change.session(), &mut drafts);
                if timed {
                    let origin: Arc<str> = Arc::from(change.session().session().id().as_str());
                    for draft in &mut drafts[first..] {
                        draft.origin = Some((origin.clone(), change.published));
                    }
                }
            }
            let broken: Vec<EventFeed> = state
                .broken
                .iter()
                .filter_map(|id| {
                    state.users.get(id).map(|user| EventFeed {
                        user_id: id.clone(),
                        account_id: user.account_id.clone(),
                        manager: user.manager,
                    })
                })
                .collect();
            (drafts, broken)
        };
        let each = |step: &'static str, since: Instant| {
            if timed {
                for change in changes {
                    timing::step(change.session().session().id().as_str(), step, since);
                }
            }
        };
        each("plan", started);
        if drafts.is_empty() {
            return;
        }
        let started = Instant::now();
        let store = &self.0.store;
        if !broken.is_empty() {
            // Raised floors first (unfollowed, then followed again): the
            // messages missing below them are answered by a snapshot.
            let ids: Vec<UserId> = broken.iter().map(|f| f.user_id.clone()).collect();
            let mut raised = store.unfollow_event_feeds(&ids).await;
            let now = chrono::Utc::now();
            let until = now + to_chrono(self.0.settings.retention + MAINTENANCE * 2);
            for feed in &broken {
                if raised.is_ok() {
                    raised = store.follow_event_feed(feed, now, until).await.map(|_| ());
                }
            }
            match raised {
                Ok(()) => {
                    let mut state = self.lock();
                    for id in &ids {
                        state.broken.remove(id);
                    }
                }
                Err(error) => tracing::warn!(%error, "raising event log floors failed"),
            }
        }
        let new: Vec<NewEventMessage> = drafts.iter().map(Draft::to_new).collect();
        let appended = store.append_event_messages(&new, chrono::Utc::now()).await;
        each("log", started);
        let started = Instant::now();
        match appended {
            Ok(ids) => {
                let mut by_user: Vec<(UserId, bool, Vec<Message>)> = Vec::new();
                for (draft, id) in drafts.into_iter().zip(ids) {
                    // Stale: another node told a later version already.
                    let Some(id) = id else { continue };
                    let mut message = Message::new(id, draft.selector, draft.json, true);
                    message.origin = draft.origin;
                    push_run(&mut by_user, draft.user_id, draft.account_only, message);
                }
                let (by_user, unreadable) = self.fill_gaps(by_user).await;
                let mut state = self.lock();
                for (user_id, account_only, messages) in in_id_order(by_user) {
                    deliver(&mut state, &user_id, &messages, account_only);
                }
                // A hole that could not be filled is not delivered around:
                // the user's streams close and resume from the log.
                for user_id in unreadable {
                    let ids = state
                        .users
                        .get(&user_id)
                        .map(|u| u.subscribers.clone())
                        .unwrap_or_default();
                    for id in ids {
                        state.close(&id);
                    }
                }
                drop(state);
                each("deliver", started);
            }
            Err(error) => {
                tracing::warn!(%error, "writing event messages failed; their users resynchronise");
                let mut state = self.lock();
                for draft in &drafts {
                    state.broken.insert(draft.user_id.clone());
                    let ids = state
                        .users
                        .get(&draft.user_id)
                        .map(|u| u.subscribers.clone())
                        .unwrap_or_default();
                    for id in ids {
                        state.close(&id);
                    }
                }
            }
        }
    }

    /// Another node may have numbered messages for a user between what this
    /// node delivered last and what it just wrote (it learns of the other
    /// node's change later, and a stream never goes back to a lower id).
    /// For such a user the messages are taken from the log instead, from
    /// the lowest id one of its streams lacks, so that every stream gets
    /// every message in id order ([`in_id_order`] sorts the runs and drops
    /// the copies). On one node ids are consecutive and no read happens.
    /// Also returns the users whose log could not be read: their messages
    /// are left out, and the caller closes their streams.
    async fn fill_gaps(
        &self,
        mut by_user: Vec<(UserId, bool, Vec<Message>)>,
    ) -> (Vec<(UserId, bool, Vec<Message>)>, Vec<UserId>) {
        let gaps: Vec<(UserId, u64, u64)> = {
            let state = self.lock();
            let mut gaps: Vec<(UserId, u64, u64)> = Vec::new();
            for (user_id, _, _) in &by_user {
                if gaps.iter().any(|(user, _, _)| user == user_id) {
                    continue;
                }
                // Every id this batch has for the user (across its runs).
                let mut ids: Vec<u64> = by_user
                    .iter()
                    .filter(|(user, _, _)| user == user_id)
                    .flat_map(|(_, _, messages)| messages.iter().map(|m| m.id))
                    .collect();
                ids.sort_unstable();
                ids.dedup();
                let Some(&last) = ids.last() else {
                    continue;
                };
                let Some(lowest) = state.users.get(user_id).and_then(|user| {
                    user.subscribers
                        .iter()
                        .filter_map(|id| state.subscriptions.get(id))
                        .map(|entry| entry.cursor)
                        .min()
                }) else {
                    continue;
                };
                // A hole: an id above what a stream has that this batch
                // does not hold (another node's message).
                let above: Vec<u64> = ids.into_iter().filter(|id| *id > lowest).collect();
                let expected = last.saturating_sub(lowest);
                if above.len() as u64 == expected {
                    continue;
                }
                gaps.push((user_id.clone(), lowest, last));
            }
            gaps
        };
        if gaps.is_empty() {
            return (by_user, Vec::new());
        }
        let mut unreadable = Vec::new();
        for (user_id, after, last) in gaps {
            let limit = u32::try_from(last.saturating_sub(after)).unwrap_or(u32::MAX);
            match self
                .0
                .store
                .event_messages_after(&user_id, after, limit)
                .await
            {
                Ok(replay) => {
                    for m in replay.messages.into_iter().filter(|m| m.id <= last) {
                        let message =
                            Message::new(m.id, Arc::from(m.selector), Bytes::from(m.body), true);
                        by_user.push((user_id.clone(), m.account_only, vec![message]));
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "reading a user's event log failed; their streams resume");
                    by_user.retain(|(user, _, _)| *user != user_id);
                    unreadable.push(user_id);
                }
            }
        }
        (by_user, unreadable)
    }

    /// Plans one committed change's messages for every followed user.
    fn plan(&self, state: &mut HubState, live: &Arc<LiveSession>, drafts: &mut Vec<Draft>) {
        // Only the call state and end matter here: no SessionInfo built.
        let head = live.session();
        let ended = !head.is_active();
        let call_state = head.call_state();
        let session_id = head.id().as_str();
        let previous = if ended {
            state.known.remove(session_id)
        } else {
            state.known.insert(session_id.to_string(), call_state)
        };
        let mut kinds = vec!["SessionInfoChanged"];
        if ended {
            if previous.is_some() {
                kinds.push("SessionDisconnected");
            }
        } else {
            match call_state {
                SessionCallState::Ringing if previous != Some(SessionCallState::Ringing) => {
                    kinds.push("SessionInvite")
                }
                SessionCallState::Connected
                    if !matches!(
                        previous,
                        Some(SessionCallState::Connected | SessionCallState::Hold)
                    ) =>
                {
                    kinds.push("SessionAnswered")
                }
                SessionCallState::Hold if previous != Some(SessionCallState::Hold) => {
                    kinds.push("SessionHeld")
                }
                _ => {}
            }
        }
        let account_id = live.session().account_id();
        let version = live.session().version();
        // Built once per change, shared by every user's message.
        let own: Vec<(&str, Arc<str>)> = kinds
            .iter()
            .map(|kind| (*kind, Arc::from(format!("cmd.{kind}"))))
            .collect();
        let channel: Vec<(&str, Arc<str>)> = kinds
            .iter()
            .map(|kind| {
                (
                    *kind,
                    Arc::from(format!("{}@cmd.{kind}", account_channel(account_id))),
                )
            })
            .collect();
        // Assembled from the entry's parts once, for the first user it
        // concerns (none: no copy), shared by every user's message.
        let mut json: Option<Bytes> = None;
        state.audience.sync(&self.0.directory);
        let HubState {
            users,
            audience,
            managers,
            holding,
            ..
        } = state;
        // Only the users this change may concern: those who may see it,
        // the account's managers, and those whose active list holds it.
        let seers = audience.who_may_see(live);
        let mut concerned: Vec<UserId> = seers.iter().map(|user| (*user).clone()).collect();
        if let Some(managers) = managers.get(account_id) {
            concerned.extend(managers.iter().cloned());
        }
        if let Some(holders) = holding.get(session_id) {
            concerned.extend(holders.iter().cloned());
        }
        concerned.sort_unstable();
        concerned.dedup();
        for user_id in &concerned {
            let (Some(user), Some(viewer)) = (users.get_mut(user_id), audience.viewer(user_id))
            else {
                continue;
            };
            let sees = seers.binary_search(&user_id).is_ok();
            let account_only = !sees && user.manager && user.account_id == *account_id;
            let membership_changed = if sees && !ended {
                let joined = user.active.insert(session_id.to_string());
                if joined {
                    holding
                        .entry(live.session().id().clone())
                        .or_default()
                        .insert(user_id.clone());
                }
                joined
            } else {
                let left = user.active.remove(session_id);
                if left {
                    unhold(holding, session_id, user_id);
                }
                left
            };
            let dedupe = |kind: &str| format!("{session_id}@{version}:{kind}");
            if sees || account_only {
                let selectors = if account_only { &channel } else { &own };
                for (kind, selector) in selectors {
                    drafts.push(Draft {
                        user_id: user_id.clone(),
                        session: Some((session_id.to_string(), version)),
                        dedupe: dedupe(kind),
                        selector: selector.clone(),
                        json: json.get_or_insert_with(|| live.json()).clone(),
                        parts: Parts::Session,
                        account_only,
                        origin: None,
                    });
                }
            }
            if membership_changed {
                // The session's own JSON is the one its other messages
                // carry (the same bytes: one part in the log).
                let sessions: Vec<Bytes> = viewer
                    .active_sessions(&self.0.index)
                    .iter()
                    .map(|other| {
                        if Arc::ptr_eq(other, live) {
                            json.get_or_insert_with(|| live.json()).clone()
                        } else {
                            other.json()
                        }
                    })
                    .collect();
                drafts.push(Draft {
                    user_id: user_id.clone(),
                    session: Some((session_id.to_string(), version)),
                    dedupe: dedupe("ActiveSessionsChanged"),
                    selector: Arc::from("cmd.ActiveSessionsChanged"),
                    json: list_json(&sessions),
                    parts: Parts::List(sessions),
                    account_only: false,
                    origin: None,
                });
            }
        }
    }

    /// Opens a subscription for `principal` on `channels`, resuming after
    /// `last_event_id` when given.
    pub async fn open(
        &self,
        principal: Principal,
        channels: Vec<String>,
        last_event_id: Option<u64>,
    ) -> Result<Opened, HubError> {
        let settings = self.0.settings.clone();
        let user_id = principal.user_id.clone();
        self.check_cap(&user_id)?;
        let feed = feed_of(&principal);
        // Durably followed before the hub plans messages for the user: a
        // user not followed until now has its floor raised. A user followed
        // here already is kept followed by `maintain` (no write per stream).
        let followed = self
            .lock()
            .users
            .get(&user_id)
            .is_some_and(|user| user.manager == feed.manager);
        if !followed {
            let now = chrono::Utc::now();
            self.0
                .store
                .follow_event_feed(
                    &feed,
                    now,
                    now + to_chrono(settings.retention + MAINTENANCE * 2),
                )
                .await
                .map_err(|error| {
                    tracing::warn!(%error, "following a user's events failed");
                    HubError::Unavailable
                })?;
        }
        let (sender, receiver) = mpsc::channel(settings.queue);
        let subscription = Arc::new(Subscription {
            id: crate::auth::generate_session_id(),
            principal: principal.clone(),
            created_at: chrono::Utc::now(),
        });
        // Registered before the log is read: whatever is written after the
        // read is queued here (duplicates of the read are skipped by id).
        {
            let mut state = self.lock();
            let open = state.users.get(&user_id).map_or(0, |u| u.subscribers.len());
            if open >= settings.max_streams_per_user {
                return Err(HubError::TooManyStreams(settings.max_streams_per_user));
            }
            state.add_user(&self.0.directory, &self.0.index, &feed);
            if let Some(user) = state.users.get_mut(&user_id) {
                user.subscribers.push(subscription.id.clone());
                user.last_active = Instant::now();
            }
            state.subscriptions.insert(
                subscription.id.clone(),
                Entry {
                    subscription: subscription.clone(),
                    channels: channels.clone(),
                    sender,
                    last_seen: Instant::now(),
                    cursor: 0,
                },
            );
        }
        let guard = StreamGuard {
            hub: self.clone(),
            id: subscription.id.clone(),
        };
        // Broken before or after the read: the read may miss messages.
        let broken_before = self.lock().broken.contains(&user_id);
        let limit = u32::try_from(settings.replay + 1).unwrap_or(u32::MAX);
        let replay = self
            .0
            .store
            .event_messages_after(&user_id, last_event_id.unwrap_or(u64::MAX), limit)
            .await
            .map_err(|error| {
                tracing::warn!(%error, "reading a user's event log failed");
                HubError::Unavailable
            })?;
        let position = replay.position;
        let sees_account = channels.contains(&account_channel(&principal.account_id))
            && principal.has_role(Role::Manager);
        let broken = broken_before || self.lock().broken.contains(&user_id);
        let (connect_id, backlog, snapshot) = match last_event_id {
            Some(last)
                if !broken
                    && last >= position.floor
                    && last <= position.last_id
                    && replay.messages.len() <= settings.replay =>
            {
                let backlog: Vec<Message> = replay
                    .messages
                    .into_iter()
                    .filter(|m| !m.account_only || sees_account)
                    .map(|m| Message::new(m.id, Arc::from(m.selector), Bytes::from(m.body), true))
                    .collect();
                (last, backlog, false)
            }
            Some(_) => {
                let viewer = Viewer::of(&self.0.directory, &principal);
                let snapshot = Message::new(
                    position.last_id,
                    Arc::from("cmd.ActiveSessionsChanged"),
                    active_sessions_json(&viewer, &self.0.index),
                    true,
                );
                (position.last_id, vec![snapshot], true)
            }
            None => (position.last_id, Vec::new(), false),
        };
        let start = backlog.last().map_or(connect_id, |m| m.id);
        let mut state = self.lock();
        let Some(entry) = state.subscriptions.get_mut(&subscription.id) else {
            // Closed meanwhile (too slow already, or the hub lagged).
            return Err(HubError::Unavailable);
        };
        entry.cursor = entry.cursor.max(start);
        // The channels' other subscribers learn of the newcomer.
        for channel in &channels {
            notify_channel(
                &mut state,
                channel,
                "onJoin",
                &subscription,
                &channels,
                Some(&subscription.id),
            );
        }
        drop(state);
        Ok(Opened {
            guard,
            subscription,
            connect_id,
            backlog,
            snapshot,
            receiver,
        })
    }

    fn check_cap(&self, user_id: &UserId) -> Result<(), HubError> {
        let max = self.0.settings.max_streams_per_user;
        let state = self.lock();
        match state.users.get(user_id) {
            Some(user) if user.subscribers.len() >= max => Err(HubError::TooManyStreams(max)),
            _ => Ok(()),
        }
    }

    fn owned(&self, state: &HubState, id: &str, principal: &Principal) -> Result<(), HubError> {
        match state.subscriptions.get(id) {
            None => Err(HubError::NotFound),
            Some(entry) if entry.subscription.principal.user_id != principal.user_id => {
                Err(HubError::Forbidden)
            }
            Some(_) => Ok(()),
        }
    }

    /// Records a heartbeat from the subscription's own principal and
    /// answers it on the stream with `cmd.onHeartbeat`.
    pub fn heartbeat(&self, id: &str, principal: &Principal) -> Result<(), HubError> {
        let mut state = self.lock();
        self.owned(&state, id, principal)?;
        let entry = state.subscriptions.get_mut(id).ok_or(HubError::NotFound)?;
        entry.last_seen = Instant::now();
        let info = public_info(&entry.subscription, &entry.channels);
        let message = Message::new(
            entry.cursor,
            Arc::from("cmd.onHeartbeat"),
            Bytes::from(info_json(&info)),
            false,
        );
        if entry.sender.try_send(message).is_err() {
            state.close(id);
        }
        Ok(())
    }

    /// Closes a subscription for its own principal; returns its public meta.
    pub fn unregister(&self, id: &str, principal: &Principal) -> Result<SubscriberInfo, HubError> {
        let mut state = self.lock();
        if !state.subscriptions.contains_key(id) {
            // Its connection ended first (the client closed the stream,
            // then unregistered): the owner still gets its meta.
            return match state.recently_closed.get(id) {
                Some((subscription, channels, _))
                    if subscription.principal.user_id == principal.user_id =>
                {
                    Ok(public_info(subscription, channels))
                }
                Some(_) => Err(HubError::Forbidden),
                None => Err(HubError::NotFound),
            };
        }
        self.owned(&state, id, principal)?;
        let entry = state.close(id).ok_or(HubError::NotFound)?;
        for channel in &entry.channels {
            notify_channel(
                &mut state,
                channel,
                "onLeave",
                &entry.subscription,
                &entry.channels,
                None,
            );
        }
        Ok(public_info(&entry.subscription, &entry.channels))
    }

    /// Changes a subscription's channels (ServiceStack's
    /// `UpdateEventSubscriber`); the channels joined, left and both get
    /// `onJoin`, `onLeave` and `onUpdate`.
    pub fn update_channels(
        &self,
        id: &str,
        principal: &Principal,
        subscribe: &[String],
        unsubscribe: &[String],
    ) -> Result<SubscriberInfo, HubError> {
        let mut state = self.lock();
        self.owned(&state, id, principal)?;
        let entry = state.subscriptions.get_mut(id).ok_or(HubError::NotFound)?;
        let before = entry.channels.clone();
        for channel in subscribe {
            if !entry.channels.contains(channel) {
                entry.channels.push(channel.clone());
            }
        }
        entry.channels.retain(|c| !unsubscribe.contains(c));
        let after = entry.channels.clone();
        let subscription = entry.subscription.clone();
        for channel in after.iter().filter(|c| !before.contains(c)) {
            notify_channel(&mut state, channel, "onJoin", &subscription, &after, None);
        }
        for channel in before.iter().filter(|c| !after.contains(c)) {
            notify_channel(&mut state, channel, "onLeave", &subscription, &after, None);
        }
        let mut touched = before.clone();
        touched.extend(after.iter().filter(|c| !before.contains(c)).cloned());
        for channel in &touched {
            notify_channel(&mut state, channel, "onUpdate", &subscription, &after, None);
        }
        Ok(public_info(&subscription, &after))
    }

    /// The subscribers of `channels` (all, when empty) that `principal` may
    /// know of: those of the same account.
    pub fn subscribers(&self, principal: &Principal, channels: &[String]) -> Vec<SubscriberInfo> {
        let state = self.lock();
        let mut found: Vec<&Entry> = state
            .subscriptions
            .values()
            .filter(|e| e.subscription.principal.account_id == principal.account_id)
            .filter(|e| channels.is_empty() || e.channels.iter().any(|c| channels.contains(c)))
            .collect();
        found.sort_by_key(|e| e.subscription.created_at);
        found
            .into_iter()
            .map(|e| public_info(&e.subscription, &e.channels))
            .collect()
    }

    /// Whether the subscription is still open and heard from recently; a
    /// stale one is closed here.
    pub fn check_alive(&self, id: &str) -> bool {
        let idle_timeout = self.0.settings.idle_timeout;
        let mut state = self.lock();
        match state.subscriptions.get(id) {
            Some(entry) if entry.last_seen.elapsed() <= idle_timeout => true,
            Some(_) => {
                state.close(id);
                false
            }
            None => false,
        }
    }

    /// Closes a subscription (its credential expired, or its connection
    /// ended).
    pub fn remove(&self, id: &str) {
        self.lock().close(id);
    }

    /// How many subscriptions are open.
    pub fn len(&self) -> usize {
        self.lock().subscriptions.len()
    }

    /// Whether no subscription is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many messages wait in a subscription's queue (tests: the queue
    /// stays bounded).
    pub fn queued(&self, id: &str) -> Option<usize> {
        let state = self.lock();
        state
            .subscriptions
            .get(id)
            .map(|e| e.sender.max_capacity() - e.sender.capacity())
    }
}

/// `user_id` no longer holds `session` in its active list.
fn unhold(holding: &mut HashMap<SessionId, HashSet<UserId>>, session: &str, user_id: &UserId) {
    if let Some(holders) = holding.get_mut(session) {
        holders.remove(user_id);
        if holders.is_empty() {
            holding.remove(session);
        }
    }
}

/// `{"sessions":[…]}` of the sessions' JSON.
fn list_json(sessions: &[Bytes]) -> Bytes {
    let len = sessions.iter().map(|s| s.len() + 1).sum::<usize>();
    let mut json = Vec::with_capacity(LIST_HEAD.len() + len + LIST_TAIL.len());
    json.extend_from_slice(LIST_HEAD.as_bytes());
    for (i, session) in sessions.iter().enumerate() {
        if i > 0 {
            json.push(b',');
        }
        json.extend_from_slice(session);
    }
    json.extend_from_slice(LIST_TAIL.as_bytes());
    Bytes::from(json)
}

fn active_sessions_json(viewer: &Viewer, index: &LiveIndex) -> Bytes {
    let sessions = viewer.active_sessions(index);
    let mut json = Vec::from(&b"{\"sessions\":["[..]);
    for (i, live) in sessions.iter().enumerate() {
        if i > 0 {
            json.push(b',');
        }
        live.write_json(&mut json);
    }
    json.extend_from_slice(b"]}");
    Bytes::from(json)
}

/// Queues a user's messages on its streams (the user's own list: no scan
/// of the others); a stream whose queue is full is closed.
/// The runs again, each user's messages in id order: a message another
/// node wrote first keeps that node's (lower) id, and a stream never goes
/// back to a lower id, so a batch is delivered sorted.
fn in_id_order(runs: Vec<(UserId, bool, Vec<Message>)>) -> Vec<(UserId, bool, Vec<Message>)> {
    let mut flat: Vec<(UserId, bool, Message)> = runs
        .into_iter()
        .flat_map(|(user, only, messages)| {
            messages
                .into_iter()
                .map(move |message| (user.clone(), only, message))
        })
        .collect();
    flat.sort_by(|a, b| a.0.cmp(&b.0).then(a.2.id.cmp(&b.2.id)));
    flat.dedup_by(|a, b| a.0 == b.0 && a.2.id == b.2.id);
    let mut out = Vec::new();
    for (user, only, message) in flat {
        push_run(&mut out, user, only, message);
    }
    out
}

/// Appends `message` to the last run when it is the same user's with the
/// same audience, else starts a run (runs keep the id order).
fn push_run(
    runs: &mut Vec<(UserId, bool, Vec<Message>)>,
    user_id: UserId,
    account_only: bool,
    message: Message,
) {
    match runs.last_mut() {
        Some((user, only, list)) if *user == user_id && *only == account_only => list.push(message),
        _ => runs.push((user_id, account_only, vec![message])),
    }
}

fn deliver(state: &mut HubState, user_id: &UserId, messages: &[Message], account_only: bool) {
    let Some(user) = state.users.get(user_id) else {
        return;
    };
    let mut too_slow = Vec::new();
    for id in &user.subscribers {
        let Some(entry) = state.subscriptions.get_mut(id) else {
            continue;
        };
        if account_only
            && !entry
                .channels
                .contains(&account_channel(&entry.subscription.principal.account_id))
        {
            continue;
        }
        for message in messages {
            if entry.sender.try_send(message.clone()).is_err() {
                too_slow.push(id.clone());
                break;
            }
            entry.cursor = entry.cursor.max(message.id);
        }
    }
    for id in too_slow {
        tracing::info!(subscription = %id, "closing a server events subscriber too slow to keep up");
        state.close(&id);
    }
}

fn public_info(subscription: &Subscription, channels: &[String]) -> SubscriberInfo {
    vec![
        ("id", subscription.id.clone()),
        ("userId", subscription.principal.user_id.to_string()),
        ("displayName", subscription.principal.display_name.clone()),
        ("profileUrl", String::new()),
        ("channels", channels.join(",")),
        (
            "createdAt",
            subscription.created_at.timestamp_millis().to_string(),
        ),
    ]
}

/// A flat string map as JSON.
pub fn info_json(info: &SubscriberInfo) -> String {
    let map: serde_json::Map<String, serde_json::Value> = info
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.clone())))
        .collect();
    serde_json::Value::Object(map).to_string()
}

/// Sends `{channel}@cmd.{op}` with `who`'s meta to the channel's
/// subscribers of the same account (a tenant never learns of another's
/// users), except `skip`.
fn notify_channel(
    state: &mut HubState,
    channel: &str,
    op: &str,
    who: &Subscription,
    channels: &[String],
    skip: Option<&str>,
) {
    let json = Bytes::from(info_json(&public_info(who, channels)));
    let selector: Arc<str> = Arc::from(format!("{channel}@cmd.{op}"));
    let mut too_slow = Vec::new();
    for (id, entry) in state.subscriptions.iter_mut() {
        if Some(id.as_str()) == skip
            || entry.subscription.principal.account_id != who.principal.account_id
            || !entry.channels.iter().any(|c| c == channel)
        {
            continue;
        }
        let message = Message::new(entry.cursor, selector.clone(), json.clone(), false);
        if entry.sender.try_send(message).is_err() {
            too_slow.push(id.clone());
        }
    }
    for id in too_slow {
        state.close(&id);
    }
}
