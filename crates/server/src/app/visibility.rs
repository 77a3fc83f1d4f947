//! Who may see which session: the one rule, used by `GET /sessions/active`
//! and by server events alike.

use std::sync::Arc;

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

    /// Whether this viewer may see the session. Tenants never see each
    /// other, whatever the endpoint ids say.
    pub fn may_see(&self, live: &LiveSession) -> bool {
        live.session().header.account_id == self.account_id
            && live.endpoints().iter().any(|e| self.endpoints.contains(e))
    }

    /// The active sessions this viewer may see, oldest first.
    pub fn active_sessions(&self, index: &LiveIndex) -> Vec<Arc<LiveSession>> {
        let mut sessions = index.for_endpoints(self.endpoints.iter());
        sessions.retain(|live| self.may_see(live));
        sessions
    }
}
