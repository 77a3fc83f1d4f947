//! The event hub: who is subscribed to committed session changes, which
//! messages each user gets, and the replay buffer that lets a reconnecting
//! client resume. The wire framing (ServiceStack Server Events over SSE) is
//! the HTTP layer's (`crate::http::events`).
//!
//! Messages use Evo Voice's push vocabulary (`PushNotificationTypes`):
//! `SessionInfoChanged` for every change of a session the user sees, plus
//! `SessionInvite`, `SessionAnswered`, `SessionHeld`, `SessionDisconnected`
//! when the change is one of those, and `ActiveSessionsChanged` (the user's
//! whole active list) when a session joins or leaves it.
//!
//! Message ids come from one hub-wide sequence, so they increase per user
//! across connections. The sequence is a hybrid clock (`max(last + 1, now in
//! µs)`): ids keep increasing across a restart without a store write, as long
//! as the wall clock does not step back and fewer than a million messages a
//! second are sent. Each user has a bounded replay buffer; a client resuming
//! from an id older than the buffer (or from before a restart) gets one
//! `ActiveSessionsChanged` snapshot instead.
//!
//! Each subscription has a bounded queue: a subscriber too slow to take its
//! messages is closed (it can resume) rather than allowed to delay anyone.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use evo_core::api::sessions::SessionCallState;
use evo_core::domain::Role;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, mpsc};

use crate::app::directory::Directory;
use crate::app::live::{LiveIndex, LiveSession};
use crate::app::sessions::SessionChanged;
use crate::app::visibility::Viewer;
use crate::auth::Principal;

/// Default interval of client heartbeats (ServiceStack's 10 s).
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(10);

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
    /// How long a user's replay buffer outlives the user's last stream.
    pub retention: Duration,
}

impl Default for EventsSettings {
    fn default() -> Self {
        EventsSettings::with_heartbeat(HEARTBEAT_INTERVAL)
    }
}

impl EventsSettings {
    /// Settings for a heartbeat interval; the idle timeout is three of them.
    pub fn with_heartbeat(heartbeat: Duration) -> Self {
        EventsSettings {
            heartbeat,
            idle_timeout: heartbeat * 3,
            queue: 256,
            replay: 256,
            max_streams_per_user: 10,
            retention: Duration::from_secs(10 * 60),
        }
    }

    /// The defaults, with `EVO_SSE_HEARTBEAT_MS` (tests use short intervals
    /// to run many heartbeat cycles) and `EVO_SSE_MAX_STREAMS_PER_USER` when
    /// set.
    pub fn from_env() -> Self {
        let number = |name: &str| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        let mut settings = match number("EVO_SSE_HEARTBEAT_MS").filter(|ms| *ms >= 50) {
            Some(ms) => EventsSettings::with_heartbeat(Duration::from_millis(ms)),
            None => EventsSettings::default(),
        };
        if let Some(max) = number("EVO_SSE_MAX_STREAMS_PER_USER").filter(|n| *n >= 1) {
            settings.max_streams_per_user = usize::try_from(max).unwrap_or(usize::MAX);
        }
        settings
    }
}

/// One frame for a subscriber: `id`, selector (`cmd.X` or `ch@cmd.X`) and
/// JSON body.
#[derive(Debug, Clone)]
pub struct Message {
    pub id: u64,
    pub selector: Arc<str>,
    pub json: Bytes,
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

struct Buffered {
    message: Message,
    /// Sent on the account channel only (a manager's view).
    account_only: bool,
}

struct UserFeed {
    principal: Principal,
    buffer: VecDeque<Buffered>,
    /// Every message for this user with an id above `floor` is in `buffer`.
    floor: u64,
    streams: usize,
    last_active: Instant,
    /// The user's active sessions as last told (to know when one joins or
    /// leaves the list, including by a change of visibility).
    active: HashSet<String>,
}

#[derive(Default)]
struct HubState {
    subscriptions: HashMap<String, Entry>,
    users: HashMap<String, UserFeed>,
    /// Last seen call state of each active session (for transitions).
    known: HashMap<String, SessionCallState>,
    /// Subscriptions closed in the last minute: a client's `stop()` closes
    /// its stream before it unregisters, and that unregister still succeeds.
    recently_closed: HashMap<String, (Arc<Subscription>, Vec<String>, Instant)>,
    seq: u64,
}

/// How long an unregister of a closed subscription still succeeds.
const RECENTLY_CLOSED: Duration = Duration::from_secs(60);
/// At most this many recently closed subscriptions are remembered.
const RECENTLY_CLOSED_MAX: usize = 10_000;

impl HubState {
    fn next_id(&mut self) -> u64 {
        self.seq = (self.seq + 1).max(now_micros());
        self.seq
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
            user.streams = user.streams.saturating_sub(1);
            user.last_active = Instant::now();
        }
        Some(entry)
    }
}

fn now_micros() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_micros()).unwrap_or(0)
}

struct Inner {
    settings: EventsSettings,
    directory: Arc<Directory>,
    index: Arc<LiveIndex>,
    state: Mutex<HubState>,
}

/// The open subscriptions and per-user replay buffers.
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
pub fn account_channel(account_id: &str) -> String {
    format!("account:{account_id}")
}

fn message_json(kind: &str, body: &[u8]) -> (Arc<str>, Bytes) {
    (
        Arc::from(format!("cmd.{kind}")),
        Bytes::copy_from_slice(body),
    )
}

impl EventHub {
    pub(in crate::app) fn new(
        directory: Arc<Directory>,
        index: Arc<LiveIndex>,
        settings: EventsSettings,
    ) -> Self {
        let known = index
            .all()
            .iter()
            .map(|live| (live.session().id().to_string(), live.info().call_state))
            .collect();
        EventHub(Arc::new(Inner {
            settings,
            directory,
            index,
            state: Mutex::new(HubState {
                known,
                seq: now_micros(),
                ..HubState::default()
            }),
        }))
    }

    /// Feeds committed changes into the hub until the feed closes.
    pub(in crate::app) fn run(&self, mut changes: broadcast::Receiver<SessionChanged>) {
        let hub = self.clone();
        tokio::spawn(async move {
            loop {
                match changes.recv().await {
                    Ok(change) => hub.publish(change.session()),
                    // Changes were lost: nobody may resume across them.
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "event hub lagged; subscribers resynchronise");
                        hub.reset();
                    }
                    Err(RecvError::Closed) => return,
                }
            }
        });
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

    fn reset(&self) {
        let mut state = self.lock();
        let floor = state.next_id();
        for user in state.users.values_mut() {
            user.buffer.clear();
            user.floor = floor;
        }
        let ids: Vec<String> = state.subscriptions.keys().cloned().collect();
        for id in ids {
            state.close(&id);
        }
    }

    /// Turns one committed change into each interested user's messages.
    pub(in crate::app) fn publish(&self, live: &Arc<LiveSession>) {
        let info = live.info();
        let session_id = live.session().id().to_string();
        let mut state = self.lock();
        let previous = if info.ended {
            state.known.remove(&session_id)
        } else {
            state.known.insert(session_id, info.call_state)
        };
        let mut kinds = vec!["SessionInfoChanged"];
        if info.ended {
            if previous.is_some() {
                kinds.push("SessionDisconnected");
            }
        } else {
            match info.call_state {
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
        let account_id = live.session().header().account_id.clone();
        let settings = self.0.settings.clone();
        let now = Instant::now();
        // Buffers of users gone longer than the retention are dropped: their
        // next stream resumes from a snapshot.
        state
            .users
            .retain(|_, user| user.streams > 0 || now - user.last_active < settings.retention);
        let user_ids: Vec<String> = state.users.keys().cloned().collect();
        for user_id in user_ids {
            let (viewer, is_manager) = {
                let user = &state.users[&user_id];
                (
                    Viewer::of(&self.0.directory, &user.principal),
                    user.principal.has_role(Role::Manager),
                )
            };
            let own = viewer.may_see(live);
            let account_only =
                !own && is_manager && state.users[&user_id].principal.account_id == account_id;
            let listed = own && !info.ended;
            let membership_changed = match state.users.get_mut(&user_id) {
                Some(user) if listed => user.active.insert(live.session().id().to_string()),
                Some(user) => user.active.remove(live.session().id().as_str()),
                None => false,
            };
            if !own && !account_only {
                // No longer visible to this user: only the list changes.
                if membership_changed {
                    let message = Message {
                        id: state.next_id(),
                        selector: Arc::from("cmd.ActiveSessionsChanged"),
                        json: active_sessions_json(&viewer, &self.0.index),
                    };
                    deliver(&mut state, &user_id, vec![message], false, &settings);
                }
                continue;
            }
            let mut messages = Vec::new();
            for kind in &kinds {
                let (selector, json) = message_json(kind, live.json());
                let selector = if account_only {
                    Arc::from(format!("{}@{selector}", account_channel(&account_id)))
                } else {
                    selector
                };
                messages.push(Message {
                    id: state.next_id(),
                    selector,
                    json,
                });
            }
            if membership_changed {
                let json = active_sessions_json(&viewer, &self.0.index);
                messages.push(Message {
                    id: state.next_id(),
                    selector: Arc::from("cmd.ActiveSessionsChanged"),
                    json,
                });
            }
            deliver(&mut state, &user_id, messages, account_only, &settings);
        }
    }

    /// Opens a subscription for `principal` on `channels`, resuming after
    /// `last_event_id` when given.
    pub fn open(
        &self,
        principal: Principal,
        channels: Vec<String>,
        last_event_id: Option<u64>,
    ) -> Result<Opened, HubError> {
        let settings = self.0.settings.clone();
        let mut state = self.lock();
        let seq = state.seq;
        let user_id = principal.user_id.clone();
        let open_streams = state.users.get(&user_id).map_or(0, |u| u.streams);
        if open_streams >= settings.max_streams_per_user {
            return Err(HubError::TooManyStreams(settings.max_streams_per_user));
        }
        let created = !state.users.contains_key(&user_id);
        let feed = state.users.entry(user_id.clone()).or_insert(UserFeed {
            principal: principal.clone(),
            buffer: VecDeque::new(),
            floor: seq,
            streams: 0,
            last_active: Instant::now(),
            active: HashSet::new(),
        });
        if created {
            // The list the user has now: changes from here on are measured
            // against it (the feed follows every change while it lives).
            feed.active = Viewer::of(&self.0.directory, &principal)
                .active_sessions(&self.0.index)
                .iter()
                .map(|live| live.session().id().to_string())
                .collect();
        }
        feed.principal = principal.clone();
        feed.streams += 1;
        feed.last_active = Instant::now();
        let sees_account = channels.contains(&account_channel(&principal.account_id))
            && principal.has_role(Role::Manager);
        let (connect_id, backlog, snapshot) = match last_event_id {
            Some(last) if last >= feed.floor && last <= seq => {
                let backlog: Vec<Message> = feed
                    .buffer
                    .iter()
                    .filter(|b| b.message.id > last && (!b.account_only || sees_account))
                    .map(|b| b.message.clone())
                    .collect();
                (last, backlog, false)
            }
            Some(_) => {
                let viewer = Viewer::of(&self.0.directory, &principal);
                let snapshot = Message {
                    id: seq,
                    selector: Arc::from("cmd.ActiveSessionsChanged"),
                    json: active_sessions_json(&viewer, &self.0.index),
                };
                (seq, vec![snapshot], true)
            }
            None => (seq, Vec::new(), false),
        };
        let (sender, receiver) = mpsc::channel(settings.queue);
        let subscription = Arc::new(Subscription {
            id: crate::auth::generate_session_id(),
            principal,
            created_at: chrono::Utc::now(),
        });
        let cursor = backlog.last().map_or(connect_id, |m| m.id);
        let entry = Entry {
            subscription: subscription.clone(),
            channels: channels.clone(),
            sender,
            last_seen: Instant::now(),
            cursor,
        };
        state.subscriptions.insert(subscription.id.clone(), entry);
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
            guard: StreamGuard {
                hub: self.clone(),
                id: subscription.id.clone(),
            },
            subscription,
            connect_id,
            backlog,
            snapshot,
            receiver,
        })
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
        let message = Message {
            id: entry.cursor,
            selector: Arc::from("cmd.onHeartbeat"),
            json: Bytes::from(info_json(&info)),
        };
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

fn active_sessions_json(viewer: &Viewer, index: &LiveIndex) -> Bytes {
    let sessions = viewer.active_sessions(index);
    let mut json = Vec::from(&b"{\"sessions\":["[..]);
    for (i, live) in sessions.iter().enumerate() {
        if i > 0 {
            json.push(b',');
        }
        json.extend_from_slice(live.json());
    }
    json.extend_from_slice(b"]}");
    Bytes::from(json)
}

/// Records a user's messages in its replay buffer and queues them on its
/// streams; a stream whose queue is full is closed.
fn deliver(
    state: &mut HubState,
    user_id: &str,
    messages: Vec<Message>,
    account_only: bool,
    settings: &EventsSettings,
) {
    if let Some(user) = state.users.get_mut(user_id) {
        for message in &messages {
            user.buffer.push_back(Buffered {
                message: message.clone(),
                account_only,
            });
            while user.buffer.len() > settings.replay {
                if let Some(evicted) = user.buffer.pop_front() {
                    user.floor = evicted.message.id;
                }
            }
        }
    }
    let mut too_slow = Vec::new();
    for (id, entry) in state.subscriptions.iter_mut() {
        if entry.subscription.principal.user_id != user_id {
            continue;
        }
        if account_only
            && !entry
                .channels
                .contains(&account_channel(&entry.subscription.principal.account_id))
        {
            continue;
        }
        for message in &messages {
            if entry.sender.try_send(message.clone()).is_err() {
                too_slow.push(id.clone());
                break;
            }
            entry.cursor = message.id;
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
        ("userId", subscription.principal.user_id.clone()),
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
        let message = Message {
            id: entry.cursor,
            selector: selector.clone(),
            json: json.clone(),
        };
        if entry.sender.try_send(message).is_err() {
            too_slow.push(id.clone());
        }
    }
    for id in too_slow {
        state.close(&id);
    }
}
