//! Session history reads (GetSession, ListSessions): the live index for
//! active sessions, the store for the rest, always within the caller's
//! [`Reach`].

use evo_core::ids::SessionId;
use std::sync::Arc;

use evo_store::{SessionInfoPage, SessionQuery, Store, StoreError};

use crate::app::directory::Directory;
use crate::app::live::LiveIndex;
use crate::app::visibility::Reach;
use crate::auth::Principal;

/// Reads of sessions past and present.
pub struct History {
    store: Arc<dyn Store>,
    index: Arc<LiveIndex>,
    directory: Arc<Directory>,
}

impl History {
    pub(in crate::app) fn new(
        store: Arc<dyn Store>,
        index: Arc<LiveIndex>,
        directory: Arc<Directory>,
    ) -> Self {
        History {
            store,
            index,
            directory,
        }
    }

    /// The reach of `principal` (no store read).
    pub fn reach_of(&self, principal: &Principal) -> Reach {
        Reach::of(&self.directory, principal)
    }

    /// One session's `SessionInfo` as JSON, active (live index) or ended
    /// (store); `None` when it does not exist or `principal` may not see it,
    /// which callers must not tell apart.
    pub async fn session_json(
        &self,
        principal: &Principal,
        session_id: &SessionId,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let reach = self.reach_of(principal);
        if let Some(live) = self.index.get(session_id) {
            return Ok(reach.may_see(&live).then(|| Vec::from(live.json())));
        }
        let Some(stored) = self.store.session_info(session_id).await? else {
            return Ok(None);
        };
        Ok(reach
            .may_see_parts(&stored.account_id, &stored.endpoint_ids)
            .then(|| stored.info_json.into_bytes()))
    }

    /// A page of history. The scope is always the caller's reach, whatever
    /// `query.scope` said; the query's filters only narrow it.
    pub async fn list(
        &self,
        principal: &Principal,
        mut query: SessionQuery,
    ) -> Result<SessionInfoPage, StoreError> {
        query.scope = self.reach_of(principal).scope();
        self.store.list_session_infos(&query).await
    }
}
