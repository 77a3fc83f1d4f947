//! The shared application state handed to every handler.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::Arc;
use std::time::{Duration, Instant};

use evo_store::{Store, StoreError};
use tokio::sync::Mutex;

use crate::auth::Authenticator;
use crate::config::Config;
use crate::ingest::SessionService;

/// Cheap-to-clone handle on everything a request needs.
#[derive(Clone)]
pub struct AppState(Arc<AppInner>);

/// The parts of the application state.
pub struct AppInner {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub sessions: SessionService,
    pub auth: Authenticator,
    pub directory: DirectoryCache,
    pub events: crate::events::EventHub,
}

impl AppState {
    /// Wraps the parts.
    pub fn new(inner: AppInner) -> Self {
        AppState(Arc::new(inner))
    }
}

impl Deref for AppState {
    type Target = AppInner;

    fn deref(&self) -> &AppInner {
        &self.0
    }
}

/// How long a user's endpoint list is reused: a number newly assigned to a
/// user shows its sessions to that user within this time.
const ENDPOINTS_TTL: Duration = Duration::from_secs(5);

/// When a user's endpoint list was read, and the list.
type CachedEndpoints = (Instant, Arc<Vec<String>>);

/// Caches which endpoints each user sees, so that reading active sessions
/// asks the store at most once per user per few seconds.
pub struct DirectoryCache {
    store: Arc<dyn Store>,
    endpoints: Mutex<HashMap<String, CachedEndpoints>>,
}

impl DirectoryCache {
    /// A cache over the store.
    pub fn new(store: Arc<dyn Store>) -> Self {
        DirectoryCache {
            store,
            endpoints: Mutex::new(HashMap::new()),
        }
    }

    /// The endpoint ids whose sessions `user_id` sees.
    pub async fn endpoint_ids_of_user(
        &self,
        user_id: &str,
    ) -> Result<Arc<Vec<String>>, StoreError> {
        let now = Instant::now();
        if let Some((at, ids)) = self.endpoints.lock().await.get(user_id) {
            if now.duration_since(*at) < ENDPOINTS_TTL {
                return Ok(ids.clone());
            }
        }
        let ids = Arc::new(self.store.endpoint_ids_of_user(user_id).await?);
        let mut cache = self.endpoints.lock().await;
        if cache.len() > 100_000 {
            cache.clear();
        }
        cache.insert(user_id.to_string(), (now, ids.clone()));
        Ok(ids)
    }
}
