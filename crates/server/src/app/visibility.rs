//! Who may see which session: the one rule, used by `GET /sessions/active`
//! and by server events alike.

use evo_core::ids::{AccountId, EndpointId, UserId};
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use evo_core::domain::Role;
use evo_store::SessionScope;

use crate::app::directory::Directory;
use crate::app::live::{LiveIndex, LiveSession, Watched};
use crate::auth::{Principal, TokenSlot};
use crate::cache::BoundedMap;

/// What a user sees: sessions of the user's account that one of the user's
/// endpoints (the user itself, or a number that rings the user) is the
/// endpoint, the answerer or a member of.
#[derive(Debug, Clone)]
pub struct Viewer {
    account_id: AccountId,
    endpoints: Vec<EndpointId>,
}

impl Viewer {
    /// The viewer a principal is, with its endpoints from the directory
    /// (held in memory: no store read).
    pub fn of(directory: &Directory, principal: &Principal) -> Self {
        Viewer {
            account_id: principal.account_id.clone(),
            endpoints: directory.endpoint_ids_of_user(&principal.user_id),
        }
    }

    /// The viewer a user is, known by its account and id (a user followed
    /// by the event hub with no request at hand).
    pub fn of_user(directory: &Directory, account_id: &AccountId, user_id: &UserId) -> Self {
        Viewer {
            account_id: account_id.to_string().into(),
            endpoints: directory.endpoint_ids_of_user(user_id),
        }
    }

    /// Whether this viewer may see the session. Tenants never see each
    /// other, whatever the endpoint ids say.
    pub fn may_see(&self, live: &LiveSession) -> bool {
        self.may_see_parts(live.session().account_id(), live.endpoints())
    }

    /// [`Viewer::may_see`] for a session known by its account and the
    /// endpoints it is visible to (a stored, ended session).
    pub fn may_see_parts<'a>(
        &self,
        account_id: &AccountId,
        endpoints: impl IntoIterator<Item = &'a EndpointId>,
    ) -> bool {
        *account_id == self.account_id
            && endpoints
                .into_iter()
                .any(|endpoint| self.endpoints.contains(endpoint))
    }

    /// The active sessions this viewer may see, oldest first.
    pub fn active_sessions(&self, index: &LiveIndex) -> Vec<Arc<LiveSession>> {
        let mut sessions = index.for_endpoints(self.endpoints.iter());
        sessions.retain(|live| self.may_see(live));
        sessions
    }
}

/// Some users' viewers, indexed by endpoint, so that a change is checked
/// only against the users who may see it instead of against every user
/// (the event hub's followed users). [`Audience::who_may_see`] finds the
/// users one of whose endpoints the session names, then applies
/// [`Viewer::may_see`], the rule; a user none of whose endpoints the
/// session names cannot see it. Kept in step with the directory: when its
/// generation changes, every viewer is read again.
#[derive(Debug, Default)]
pub struct Audience {
    /// The directory generation the viewers were read at.
    generation: Option<u64>,
    /// User id → the user's viewer.
    viewers: HashMap<UserId, Viewer>,
    /// Endpoint id → the users who have it.
    by_endpoint: HashMap<EndpointId, Vec<UserId>>,
}

impl Audience {
    /// Adds (or reads again) a user of `account_id`.
    pub fn insert(&mut self, directory: &Directory, account_id: &AccountId, user_id: &UserId) {
        self.remove(user_id);
        let viewer = Viewer::of_user(directory, account_id, user_id);
        for endpoint in &viewer.endpoints {
            self.by_endpoint
                .entry(endpoint.clone())
                .or_default()
                .push(user_id.clone());
        }
        self.viewers.insert(user_id.clone(), viewer);
    }

    /// Forgets a user.
    pub fn remove(&mut self, user_id: &UserId) {
        let Some(viewer) = self.viewers.remove(user_id) else {
            return;
        };
        for endpoint in &viewer.endpoints {
            if let Some(users) = self.by_endpoint.get_mut(endpoint) {
                users.retain(|u| u != user_id);
                if users.is_empty() {
                    self.by_endpoint.remove(endpoint);
                }
            }
        }
    }

    /// Reads every viewer again when the directory changed since.
    pub fn sync(&mut self, directory: &Directory) {
        // Read before the endpoints: a change after this is seen next time.
        let generation = directory.generation();
        if self.generation == Some(generation) {
            return;
        }
        let users: Vec<(UserId, AccountId)> = self
            .viewers
            .iter()
            .map(|(user, viewer)| (user.clone(), viewer.account_id.clone()))
            .collect();
        self.viewers.clear();
        self.by_endpoint.clear();
        for (user, account) in users {
            self.insert(directory, &account, &user);
        }
        self.generation = Some(generation);
    }

    /// A user's viewer.
    pub fn viewer(&self, user_id: &UserId) -> Option<&Viewer> {
        self.viewers.get(user_id)
    }

    /// The users who may see the session (by [`Viewer::may_see`]), each
    /// once; only the users one of whose endpoints it names are asked.
    pub fn who_may_see(&self, live: &LiveSession) -> Vec<&UserId> {
        let mut users: Vec<&UserId> = live
            .endpoints()
            .iter()
            .filter_map(|endpoint| self.by_endpoint.get(endpoint))
            .flatten()
            .collect();
        users.sort_unstable();
        users.dedup();
        users.retain(|user| self.viewers.get(*user).is_some_and(|v| v.may_see(live)));
        users
    }
}

/// A user's active sessions as `GET /sessions/active` answers them.
pub struct ActiveView {
    sessions: Vec<Arc<LiveSession>>,
    json: Bytes,
}

impl ActiveView {
    fn new(sessions: Vec<Arc<LiveSession>>) -> Self {
        let size = sessions.iter().map(|s| s.json_len() + 1).sum::<usize>() + 16;
        let mut out = Vec::with_capacity(size);
        out.extend_from_slice(b"{\"sessions\":[");
        for (index, session) in sessions.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            session.write_json(&mut out);
        }
        out.extend_from_slice(b"]}");
        ActiveView {
            sessions,
            json: Bytes::from(out),
        }
    }

    /// The sessions, oldest first (for formats other than JSON).
    pub fn sessions(&self) -> &[Arc<LiveSession>] {
        &self.sessions
    }

    /// `{"sessions":[…]}`, the `GetActiveSessionsResponse` JSON.
    pub fn json(&self) -> &Bytes {
        &self.json
    }
}

/// A rendered view and what it was computed from.
struct CachedView {
    view: Arc<ActiveView>,
    /// The view's JSON (a clone of `view.json`, sharing its bytes), here
    /// on the cell's lines: a JSON read takes it without reaching the
    /// view's own allocation, one cache miss fewer per request.
    json: Bytes,
    /// The principal it was rendered for (its account is checked).
    principal: Arc<Principal>,
    directory_generation: u64,
    /// The index's generation when it was rendered.
    index_generation: u64,
    stamp: u64,
    cells: Vec<Arc<AtomicU64>>,
}

impl CachedView {
    /// Whether the view is still what `principal` sees at
    /// `directory_generation` and `index_generation`: the directory has not
    /// moved, the principal is of the same account, and no session visible
    /// to the user's endpoints changed since it was rendered (certainly
    /// not when the index has not changed at all; otherwise the cells say).
    /// Cheapest first: the same principal needs no string compared, an
    /// unchanged index no cell read.
    fn is_current(
        &self,
        principal: &Arc<Principal>,
        directory_generation: u64,
        index_generation: u64,
    ) -> bool {
        self.directory_generation == directory_generation
            && (Arc::ptr_eq(&self.principal, principal)
                || self.principal.account_id == principal.account_id)
            && (self.index_generation == index_generation
                || Watched::is_current(self.stamp, &self.cells))
    }
}

/// One user's latest rendered view, replaced when it is rendered again.
/// The user's entry in [`ActiveViews`] and the slots of the user's
/// verified tokens ([`TokenSlot`]) share it, so that a request with a
/// cached token finds its view without a second map lookup.
#[derive(Default)]
pub struct ViewCell {
    /// Inline, beside the lock: what a read checks is on the lock's cache
    /// lines (a separate allocation was one more miss per request).
    latest: RwLock<Option<CachedView>>,
}

impl ViewCell {
    /// What `read` makes of the view (its JSON and the view), when it is
    /// still current (see [`CachedView::is_current`]); `read` gets it back
    /// otherwise. Read under the lock: no reference count written for it.
    fn current<R, F: FnOnce(&Bytes, &Arc<ActiveView>) -> R>(
        &self,
        principal: &Arc<Principal>,
        directory_generation: u64,
        index_generation: u64,
        read: F,
    ) -> Result<R, F> {
        let latest = self.latest.read().unwrap_or_else(|e| e.into_inner());
        match latest.as_ref() {
            Some(cached)
                if cached.is_current(principal, directory_generation, index_generation) =>
            {
                Ok(read(&cached.json, &cached.view))
            }
            _ => Err(read),
        }
    }

    /// Whether the cell still holds a current view (what the map keeps
    /// first when full).
    fn holds_current(&self, directory_generation: u64) -> bool {
        let latest = self.latest.read().unwrap_or_else(|e| e.into_inner());
        latest.as_ref().is_some_and(|cached| {
            cached.directory_generation == directory_generation
                && Watched::is_current(cached.stamp, &cached.cells)
        })
    }

    fn store(&self, cached: CachedView) {
        *self.latest.write().unwrap_or_else(|e| e.into_inner()) = Some(cached);
    }
}

/// How many users' views are kept.
const VIEWS_CAPACITY: usize = 100_000;

/// Each user's [`ActiveView`], rendered once per change of what the user
/// sees and reused by every request until then. A view is current while
/// the directory's generation (the user's endpoints) and the generation
/// cells of the user's endpoints in the index are what they were when it
/// was rendered: checking that is a few atomic loads after one lock-free
/// lookup in a [`BoundedMap`] (at capacity, users whose views are no
/// longer current go first), or none when the request's verified token
/// already holds the user's [`ViewCell`] in its slot. The rule is still
/// [`Viewer::may_see`]: a view is only ever rendered through it.
pub struct ActiveViews {
    views: BoundedMap<String, Arc<ViewCell>>,
}

impl Default for ActiveViews {
    fn default() -> Self {
        ActiveViews {
            views: BoundedMap::new(VIEWS_CAPACITY),
        }
    }
}

impl ActiveViews {
    /// The active sessions `principal` may see, oldest first. `slot` is
    /// the request's verified-token slot, when it has one: the user's
    /// cell is kept there, so the next request with that token skips the
    /// lookup by user id (the view is validated the same way either way).
    pub fn of(
        &self,
        directory: &Directory,
        index: &LiveIndex,
        principal: &Arc<Principal>,
        slot: Option<&TokenSlot>,
    ) -> Arc<ActiveView> {
        self.of_with(directory, index, principal, slot, |_, view| view.clone())
    }

    /// What `read` makes of the view [`ActiveViews::of`] finds (its JSON,
    /// and the view): a current view is read where it is kept (the read
    /// path takes its JSON alone, kept in the user's cell, so it neither
    /// writes the view's reference count nor reads the view).
    pub fn of_with<R>(
        &self,
        directory: &Directory,
        index: &LiveIndex,
        principal: &Arc<Principal>,
        slot: Option<&TokenSlot>,
        read: impl FnOnce(&Bytes, &Arc<ActiveView>) -> R,
    ) -> R {
        // Read before the endpoints: a change after this is seen next time.
        let directory_generation = directory.generation();
        let index_generation = index.generation();
        let looked_up;
        let cell = match slot.and_then(|slot| slot.get::<ViewCell>()) {
            Some(cell) => cell,
            None => {
                looked_up = self.cell_of(&principal.user_id, directory_generation);
                if let Some(slot) = slot {
                    slot.fill(looked_up.clone());
                }
                &*looked_up
            }
        };
        let read = match cell.current(principal, directory_generation, index_generation, read) {
            Ok(read) => return read,
            Err(read) => read,
        };
        let viewer = Viewer::of(directory, principal);
        let watched = index.watch(&viewer.endpoints);
        let mut sessions = watched.sessions;
        sessions.retain(|live| viewer.may_see(live));
        let view = Arc::new(ActiveView::new(sessions));
        cell.store(CachedView {
            view: view.clone(),
            json: view.json.clone(),
            principal: principal.clone(),
            directory_generation,
            index_generation: watched.index_generation,
            stamp: watched.stamp,
            cells: watched.cells,
        });
        read(&view.json, &view)
    }

    /// The user's cell, made (empty) when the user has none.
    fn cell_of(&self, user_id: &UserId, directory_generation: u64) -> Arc<ViewCell> {
        if let Some(cell) = self.views.read(user_id.as_str(), Arc::clone) {
            return cell;
        }
        let cell = Arc::new(ViewCell::default());
        self.views
            .insert(user_id.to_string(), cell.clone(), |cell| {
                cell.holds_current(directory_generation)
            });
        cell
    }
}

/// How far a principal reads beyond its own sessions (session history,
/// GetSession, agent actions): system administrators (and `Admin`) every
/// session, managers their account's, everyone else what [`Viewer`] allows.
#[derive(Debug, Clone)]
pub enum Reach {
    All,
    Account(AccountId),
    Own(Viewer),
}

impl Reach {
    /// The reach of `principal`.
    pub fn of(directory: &Directory, principal: &Principal) -> Self {
        if principal.has_role(Role::SystemAdministrator) {
            Reach::All
        } else if principal.has_role(Role::Manager) {
            Reach::Account(principal.account_id.clone())
        } else {
            Reach::Own(Viewer::of(directory, principal))
        }
    }

    /// Whether a session of `account_id` visible to `endpoints` is within reach.
    pub fn may_see_parts<'a>(
        &self,
        account_id: &AccountId,
        endpoints: impl IntoIterator<Item = &'a EndpointId>,
    ) -> bool {
        match self {
            Reach::All => true,
            Reach::Account(account) => account == account_id,
            Reach::Own(viewer) => viewer.may_see_parts(account_id, endpoints),
        }
    }

    /// Whether a live session is within reach.
    pub fn may_see(&self, live: &LiveSession) -> bool {
        self.may_see_parts(live.session().account_id(), live.endpoints())
    }

    /// The live session, if within reach.
    pub fn may_see_live(&self, live: Option<Arc<LiveSession>>) -> Option<Arc<LiveSession>> {
        live.filter(|live| self.may_see(live))
    }

    /// The same rule as a store query scope.
    pub fn scope(&self) -> SessionScope {
        match self {
            Reach::All => SessionScope::All,
            Reach::Account(account) => SessionScope::Accounts(vec![account.clone()]),
            Reach::Own(viewer) => SessionScope::Endpoints {
                account_id: viewer.account_id.clone(),
                endpoint_ids: viewer.endpoints.clone(),
            },
        }
    }
}
