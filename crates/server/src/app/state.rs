//! The shared application state handed to every handler.

use std::ops::Deref;
use std::sync::Arc;

use anyhow::Context;
use evo_store::Store;

use crate::app::actions::Actions;
use crate::app::config::Config;
use crate::app::directory::Directory;
use crate::app::events::{EventHub, EventsSettings};
use crate::app::history::History;
use crate::app::live::LiveIndex;
use crate::app::sessions::SessionService;
use crate::app::visibility::{ActiveView, ActiveViews};
use crate::auth::throttle::ThrottleLimits;
use crate::auth::tokens::TokenKeys;
use crate::auth::{AuthLimits, Authenticator, Principal, TokenSlot};

/// The settings key of the generated JWT signing key.
const JWT_SECRET_SETTING: &str = "jwt_secret";

/// Cheap-to-clone handle on everything a request needs.
#[derive(Clone)]
pub struct AppState(Arc<AppInner>);

/// The parts of the application state, reachable only by shared reference
/// (through `AppState`), and built only by [`AppState::build`]: the store
/// itself is no field here, so a handler can reach it only through the
/// services' API.
// A private field, not `#[non_exhaustive]`: that would only keep other
// crates from building it, and the point is to keep `http` from doing so.
#[allow(clippy::manual_non_exhaustive)]
pub struct AppInner {
    pub config: Config,
    pub sessions: Arc<SessionService>,
    pub actions: Actions,
    pub auth: Authenticator,
    pub directory: Arc<Directory>,
    pub events: EventHub,
    pub history: History,
    /// Starts graceful shutdown; long-lived responses select on it.
    pub shutdown: crate::app::shutdown::Shutdown,
    /// Each user's rendered active sessions (`GET /sessions/active`).
    views: ActiveViews,
    /// Keeps construction inside `app`.
    _sealed: (),
}

impl AppState {
    /// Builds the state over an opened store: signing key, live index
    /// rebuilt from the store's active sessions, services.
    pub async fn build(config: Config, store: Arc<dyn Store>) -> anyhow::Result<Self> {
        let secret = match &config.jwt_secret {
            Some(secret) => secret.expose().to_string(),
            None => {
                let generated =
                    crate::auth::generate_session_id() + &crate::auth::generate_session_id();
                store
                    .setting_or_init(JWT_SECRET_SETTING, &generated)
                    .await
                    .context("loading the JWT signing key failed")?
            }
        };
        let keys = TokenKeys::from_secret(secret.as_bytes())?;
        let active = store
            .active_sessions()
            .await
            .context("loading the active sessions failed")?;
        tracing::info!(active = active.len(), "live index rebuilt from the store");
        let index = Arc::new(LiveIndex::rebuild(active));
        let directory = Arc::new(
            Directory::load(store.clone(), config.directory_refresh)
                .await
                .context("loading the directory failed")?,
        );
        let sessions = Arc::new(SessionService::new(store.clone(), index.clone()));
        config
            .events
            .validate()
            .map_err(|problem| anyhow::anyhow!("invalid configuration: {problem}"))?;
        let events = EventHub::start(
            directory.clone(),
            index.clone(),
            store.clone(),
            EventsSettings::from_config(&config.events),
        )
        .await
        .context("opening the server events log failed")?;
        events.run(sessions.subscribe());
        let actions = Actions::new(
            sessions.clone(),
            directory.clone(),
            &config.reconcile.twilio_api_base,
        )
        .context("building the Twilio REST client failed")?;
        Ok(AppState(Arc::new(AppInner {
            history: History::new(store.clone(), index, directory.clone()),
            sessions,
            actions,
            auth: Authenticator::new(
                store,
                keys,
                AuthLimits {
                    password_checks: config.limits.password_checks,
                    throttle: ThrottleLimits {
                        per_user: config.limits.login_failures_per_user,
                        per_address: config.limits.login_failures_per_address,
                        window: config.limits.login_window,
                    },
                },
            ),
            events,
            directory,
            config,
            shutdown: crate::app::shutdown::Shutdown::default(),
            views: ActiveViews::default(),
            _sealed: (),
        })))
    }

    /// The active sessions `principal` may see, oldest first, from the live
    /// index and the in-memory directory: never the store. Rendered once
    /// per change of what the user sees (`ActiveViews`).
    pub fn active_sessions_for(&self, principal: &Arc<Principal>) -> Arc<ActiveView> {
        self.views
            .of(&self.directory, self.sessions.index(), principal, None)
    }

    /// [`AppState::active_sessions_for`] for a request authenticated by a
    /// cached token: the user's view cell is kept in the token's slot.
    pub fn active_sessions_with_slot(
        &self,
        principal: &Arc<Principal>,
        slot: Option<&TokenSlot>,
    ) -> Arc<ActiveView> {
        self.views
            .of(&self.directory, self.sessions.index(), principal, slot)
    }

    /// What `read` makes of the view [`AppState::active_sessions_with_slot`]
    /// finds, read where it is kept.
    pub fn active_sessions_with<R>(
        &self,
        principal: &Arc<Principal>,
        slot: Option<&TokenSlot>,
        read: impl FnOnce(&bytes::Bytes, &Arc<ActiveView>) -> R,
    ) -> R {
        self.views.of_with(
            &self.directory,
            self.sessions.index(),
            principal,
            slot,
            read,
        )
    }
}

impl Deref for AppState {
    type Target = AppInner;

    fn deref(&self) -> &AppInner {
        &self.0
    }
}
