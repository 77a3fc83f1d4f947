//! The data set the read-path examples (`readload`, `readallocs`) share:
//! one account, users written straight into the store (no argon2 per
//! user: their tokens are signed by the example, nobody signs in), each
//! with a phone number ringing only them and a stored sign-in session.

use evo_core::domain::{Endpoint, EndpointKind, Role, User};
use evo_core::scenario::Cast;
use evo_store::{AuthSession, Store};

/// A seeded user: the user, the number ringing them, their sign-in
/// session's id.
pub type Seeded = (User, Endpoint, String);

pub const ACCOUNT_NAME: &str = "Load Telecom";

/// Adds the account and `users` users with their numbers and sign-in
/// sessions.
pub async fn seed_users(store: &dyn Store, users: usize) -> anyhow::Result<Vec<Seeded>> {
    let account = evo_server::app::directory::add_account(
        store,
        ACCOUNT_NAME,
        Some("AC00000000000000000000000000000001"),
        Some("0123456789abcdef0123456789abcdef"),
    )
    .await?;
    let mut seeded = Vec::with_capacity(users);
    for u in 0..users {
        let user = User {
            id: format!("usr-load-{u:05}").into(),
            account_id: account.id.clone(),
            email: format!("agent{u}@load.example"),
            display_name: format!("Agent {u}"),
            password_hash: "unused".into(),
            roles: vec![Role::User],
        };
        let endpoint = Endpoint {
            id: user.id.clone().into(),
            account_id: account.id.clone(),
            customer_id: None,
            kind: EndpointKind::User,
            display_name: user.display_name.clone(),
            address: user.email.clone(),
            ring_user_ids: Vec::new(),
            queue_name: None,
        };
        store.create_user(&user, &endpoint).await?;
        let number = Endpoint {
            id: format!("num-load-{u:05}").into(),
            account_id: account.id.clone(),
            customer_id: None,
            kind: EndpointKind::PhoneNumber,
            display_name: format!("Line {u}"),
            address: format!("+1555{u:07}"),
            ring_user_ids: vec![user.id.clone()],
            queue_name: None,
        };
        store.create_endpoint(&number).await?;
        let sid = format!("sid-load-{u:05}");
        let now = chrono::Utc::now();
        store
            .create_auth_session(&AuthSession {
                id: sid.clone(),
                user_id: user.id.clone(),
                created_at: now,
                expires_at: now + chrono::Duration::hours(2),
            })
            .await?;
        seeded.push((user, number, sid));
    }
    Ok(seeded)
}

/// An inbound call from `caller` to the user's number, answered by user
/// number `agent`.
pub fn cast(user: &User, number: &Endpoint, agent: usize, caller: String) -> Cast {
    Cast {
        account_id: user.account_id.clone(),
        account_name: ACCOUNT_NAME.into(),
        customer: None,
        breadcrumb: Vec::new(),
        number: (
            number.id.clone(),
            number.address.clone(),
            number.display_name.clone(),
        ),
        agents: vec![(
            user.id.clone(),
            format!("agent{agent}"),
            user.display_name.clone(),
        )],
        caller,
    }
}
