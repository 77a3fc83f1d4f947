//! The sign-in records the authentication operations read and write,
//! reached through the `Authenticator` so that HTTP code never holds the
//! store.

use evo_core::domain::User;
use evo_core::ids::UserId;
use evo_store::{AuthSession, StoreError};

use super::Authenticator;

impl Authenticator {
    /// Records a sign-in session (cookies, refresh tokens).
    pub async fn create_auth_session(&self, session: &AuthSession) -> Result<(), StoreError> {
        self.store.create_auth_session(session).await
    }

    /// A sign-in session by id.
    pub async fn auth_session(&self, id: &str) -> Result<Option<AuthSession>, StoreError> {
        self.store.auth_session(id).await
    }

    /// Ends a sign-in session (and with it its refresh and access tokens:
    /// at once on this node, within `CACHE_TTL` on others).
    pub async fn delete_auth_session(&self, id: &str) -> Result<(), StoreError> {
        self.store.delete_auth_session(id).await?;
        self.forget_session(id).await;
        Ok(())
    }

    /// A user by id, read from the store (not the short-lived cache).
    pub async fn user(&self, id: &str) -> Result<Option<User>, StoreError> {
        self.store.user(&UserId::new(id)).await
    }
}
