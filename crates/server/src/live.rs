//! The live index: every active session, kept in memory and pre-rendered,
//! so that `GET /sessions/active` never touches the store or the history.
//!
//! The index maps endpoint → active session ids and session id → the
//! session with its `SessionInfo` JSON rendered once per change. A read is a
//! lookup plus a concatenation of bytes. Ended sessions leave the index.
//! At start the index is rebuilt from `Store::active_sessions`.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use evo_core::api::sessions::SessionInfo;
use evo_core::session::Session;

/// One active session as the index holds it.
#[derive(Debug)]
pub struct LiveSession {
    pub session: Session,
    pub info: SessionInfo,
    /// `SessionInfo` as JSON, rendered once when the session changed.
    pub json: Bytes,
    /// The endpoints this session is visible to.
    pub endpoints: BTreeSet<String>,
}

impl LiveSession {
    /// Renders a session for the index.
    pub fn new(session: Session) -> Self {
        let info = session.to_info();
        let json = Bytes::from(evo_wire::json::to_json(&info));
        let endpoints = session.endpoint_ids();
        LiveSession {
            session,
            info,
            json,
            endpoints,
        }
    }
}

#[derive(Default)]
struct Inner {
    sessions: HashMap<String, Arc<LiveSession>>,
    by_endpoint: HashMap<String, BTreeSet<String>>,
}

/// The index of active sessions.
#[derive(Default)]
pub struct LiveIndex {
    inner: RwLock<Inner>,
}

impl LiveIndex {
    /// An index holding `sessions` (the active ones are kept).
    pub fn rebuild(sessions: Vec<Session>) -> Self {
        let index = LiveIndex::default();
        for session in sessions {
            index.upsert(session);
        }
        index
    }

    /// Puts the new version of a session in the index (or removes it when it
    /// has ended). Returns the entry for publishing.
    pub fn upsert(&self, session: Session) -> Arc<LiveSession> {
        let live = Arc::new(LiveSession::new(session));
        let mut inner = self
            .inner
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let id = live.session.id.clone();
        if let Some(previous) = inner.sessions.remove(&id) {
            for endpoint in &previous.endpoints {
                if let Some(ids) = inner.by_endpoint.get_mut(endpoint) {
                    ids.remove(&id);
                    if ids.is_empty() {
                        inner.by_endpoint.remove(endpoint);
                    }
                }
            }
        }
        if live.session.is_active() {
            for endpoint in &live.endpoints {
                inner
                    .by_endpoint
                    .entry(endpoint.clone())
                    .or_default()
                    .insert(id.clone());
            }
            inner.sessions.insert(id, live.clone());
        }
        live
    }

    /// Takes a version of a session written elsewhere (another node), if it
    /// is newer than the one held. Returns whether the index changed.
    pub fn refresh(&self, session: Session) -> bool {
        let newer = self
            .get(&session.id)
            .is_none_or(|held| held.session.version < session.version);
        // A session this node does not hold is taken only while active:
        // an ended one it never held changes nothing here.
        let relevant = self.get(&session.id).is_some() || session.is_active();
        if newer && relevant {
            self.upsert(session);
            true
        } else {
            false
        }
    }

    /// The active session with this id.
    pub fn get(&self, id: &str) -> Option<Arc<LiveSession>> {
        let inner = self
            .inner
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        inner.sessions.get(id).cloned()
    }

    /// The active sessions visible to any of `endpoints`, oldest first.
    pub fn for_endpoints<'a>(
        &self,
        endpoints: impl IntoIterator<Item = &'a String>,
    ) -> Vec<Arc<LiveSession>> {
        let inner = self
            .inner
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut ids = BTreeSet::new();
        for endpoint in endpoints {
            if let Some(found) = inner.by_endpoint.get(endpoint) {
                ids.extend(found.iter());
            }
        }
        let mut sessions: Vec<Arc<LiveSession>> = ids
            .into_iter()
            .filter_map(|id| inner.sessions.get(id).cloned())
            .collect();
        sessions.sort_by(|a, b| {
            a.session
                .opened_at
                .cmp(&b.session.opened_at)
                .then_with(|| a.session.id.cmp(&b.session.id))
        });
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

/// Writes `{"sessions":[…]}` from pre-rendered session JSON.
pub fn active_sessions_json(sessions: &[Arc<LiveSession>]) -> Vec<u8> {
    let size = sessions.iter().map(|s| s.json.len() + 1).sum::<usize>() + 16;
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(b"{\"sessions\":[");
    for (index, session) in sessions.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&session.json);
    }
    out.extend_from_slice(b"]}");
    out
}
