//! Who may see which session: the one rule, used by `GET /sessions/active`
//! and by server events alike.

use std::sync::Arc;

use evo_core::domain::Role;
use evo_store::SessionScope;

use crate::app::directory::Directory;
use crate::app::live::{LiveIndex, LiveSession};
use crate::auth::Principal;

/// What a user sees: sessions of the user's account that one of the user's
/// endpoints (the user itself, or a number that rings the user) is the
/// endpoint, the answerer or a member of.
#[derive(Debug, Clone)]
pub struct Viewer {
    account_id: String,
    endpoints: Vec<String>,
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
    pub fn of_user(directory: &Directory, account_id: &str, user_id: &str) -> Self {
        Viewer {
            account_id: account_id.to_string(),
            endpoints: directory.endpoint_ids_of_user(user_id),
        }
    }

    /// Whether this viewer may see the session. Tenants never see each
    /// other, whatever the endpoint ids say.
    pub fn may_see(&self, live: &LiveSession) -> bool {
        self.may_see_parts(&live.session().header().account_id, live.endpoints())
    }

    /// [`Viewer::may_see`] for a session known by its account and the
    /// endpoints it is visible to (a stored, ended session).
    pub fn may_see_parts<'a>(
        &self,
        account_id: &str,
        endpoints: impl IntoIterator<Item = &'a String>,
    ) -> bool {
        account_id == self.account_id
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

/// How far a principal reads beyond its own sessions (session history,
/// GetSession, agent actions): system administrators (and `Admin`) every
/// session, managers their account's, everyone else what [`Viewer`] allows.
#[derive(Debug, Clone)]
pub enum Reach {
    All,
    Account(String),
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
        account_id: &str,
        endpoints: impl IntoIterator<Item = &'a String>,
    ) -> bool {
        match self {
            Reach::All => true,
            Reach::Account(account) => account == account_id,
            Reach::Own(viewer) => viewer.may_see_parts(account_id, endpoints),
        }
    }

    /// Whether a live session is within reach.
    pub fn may_see(&self, live: &LiveSession) -> bool {
        self.may_see_parts(&live.session().header().account_id, live.endpoints())
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
