//! The event hub: who is subscribed to committed session changes, and which
//! changes each subscriber may see. The wire framing (ServiceStack Server
//! Events over SSE) is the HTTP layer's (`crate::http::events`).
//!
//! A subscriber too slow to keep up with the change feed (the bounded
//! broadcast queue overflows) is dropped rather than allowed to delay anyone
//! else; a subscription without a heartbeat for [`IDLE_TIMEOUT`] is closed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

use crate::app::directory::Directory;
use crate::app::live::LiveSession;
use crate::app::sessions::SessionChanged;
use crate::app::visibility::Viewer;
use crate::auth::Principal;

/// How often clients send heartbeats.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(10);
/// A subscription without a heartbeat for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// One open subscription.
pub struct Subscription {
    id: String,
    principal: Principal,
    last_seen: Mutex<Instant>,
    closed: AtomicBool,
    closing: tokio::sync::Notify,
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

type Subscriptions = Arc<Mutex<HashMap<String, Arc<Subscription>>>>;

/// The open subscriptions.
pub struct EventHub {
    subscriptions: Subscriptions,
    directory: Arc<Directory>,
}

fn lock(subscriptions: &Subscriptions) -> MutexGuard<'_, HashMap<String, Arc<Subscription>>> {
    subscriptions
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn remove(subscriptions: &Subscriptions, id: &str) -> Option<Arc<Subscription>> {
    let removed = lock(subscriptions).remove(id);
    if let Some(subscription) = &removed {
        subscription.closed.store(true, Ordering::Relaxed);
        subscription.closing.notify_waiters();
    }
    removed
}

impl EventHub {
    pub(in crate::app) fn new(directory: Arc<Directory>) -> Self {
        EventHub {
            subscriptions: Subscriptions::default(),
            directory,
        }
    }

    /// Opens a subscription for `principal` over the change feed `changes`.
    pub fn open(&self, principal: Principal, changes: broadcast::Receiver<SessionChanged>) -> Feed {
        let subscription = Arc::new(Subscription {
            id: crate::auth::generate_session_id(),
            principal,
            last_seen: Mutex::new(Instant::now()),
            closed: AtomicBool::new(false),
            closing: tokio::sync::Notify::new(),
        });
        lock(&self.subscriptions).insert(subscription.id.clone(), subscription.clone());
        Feed {
            subscriptions: self.subscriptions.clone(),
            directory: self.directory.clone(),
            subscription,
            changes,
        }
    }

    /// Records a heartbeat; false when no such subscription is open.
    pub fn heartbeat(&self, id: &str) -> bool {
        let found = lock(&self.subscriptions).get(id).cloned();
        match found {
            Some(subscription) => {
                if let Ok(mut seen) = subscription.last_seen.lock() {
                    *seen = Instant::now();
                }
                true
            }
            None => false,
        }
    }

    /// Closes a subscription; returns it when it was open.
    pub fn unregister(&self, id: &str) -> Option<Arc<Subscription>> {
        remove(&self.subscriptions, id)
    }

    /// How many subscriptions are open.
    pub fn len(&self) -> usize {
        lock(&self.subscriptions).len()
    }

    /// Whether no subscription is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One subscriber's view of the change feed.
pub struct Feed {
    subscriptions: Subscriptions,
    directory: Arc<Directory>,
    subscription: Arc<Subscription>,
    changes: broadcast::Receiver<SessionChanged>,
}

impl Feed {
    /// The subscription this feed serves.
    pub fn subscription(&self) -> &Arc<Subscription> {
        &self.subscription
    }

    /// The next committed change this subscriber may see; `None` once the
    /// subscription is closed (unregistered, idle, or too slow).
    pub async fn next(&mut self) -> Option<Arc<LiveSession>> {
        let subscription = self.subscription.clone();
        loop {
            if subscription.closed.load(Ordering::Relaxed) {
                return None;
            }
            let idle = subscription
                .last_seen
                .lock()
                .map(|seen| seen.elapsed())
                .unwrap_or_default();
            if idle > IDLE_TIMEOUT {
                remove(&self.subscriptions, &subscription.id);
                return None;
            }
            tokio::select! {
                change = self.changes.recv() => match change {
                    Ok(SessionChanged { session }) => {
                        // Per change: a number newly assigned to the user
                        // shows its sessions from then on.
                        let viewer = Viewer::of(&self.directory, &subscription.principal);
                        if viewer.may_see(&session) {
                            return Some(session);
                        }
                    }
                    // Too slow to keep up: disconnect rather than delay others.
                    Err(RecvError::Lagged(_)) | Err(RecvError::Closed) => {
                        remove(&self.subscriptions, &subscription.id);
                        return None;
                    }
                },
                () = tokio::time::sleep(HEARTBEAT_INTERVAL) => {}
                () = subscription.closing.notified() => return None,
            }
        }
    }
}
