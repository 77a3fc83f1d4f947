//! What the server's examples (`readload`, `readallocs`, `background`)
//! share: their command-line numbers, the CPU count of named threads, and
//! the data set:
//! one account, users written straight into the store (no argon2 per
//! user: their tokens are signed by the example, nobody signs in), each
//! with a phone number ringing only them and a stored sign-in session.

use evo_core::domain::{Endpoint, EndpointKind, Role, User};
use evo_core::scenario::Cast;
use std::path::Path;

use evo_server::app::config::{Config, StoreLocation};
use evo_server::startup::Application;
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

/// The `n`th command-line argument as a number, or `default`.
pub fn arg(n: usize, default: u64) -> u64 {
    std::env::args()
        .nth(n)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

/// CPU time (user + system) of this process's threads whose name starts
/// with `prefix`, in seconds: the cost of a phase on a machine shared with
/// other work, where wall-clock rates move with the neighbours' load.
pub fn cpu_secs(prefix: &str) -> f64 {
    let ticks: u64 = std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("stat")).ok())
        .filter_map(|stat| {
            let open = stat.find('(')?;
            let close = stat.rfind(')')?;
            if !stat[open + 1..close].starts_with(prefix) {
                return None;
            }
            let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
            Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
        })
        .sum();
    ticks as f64 / 100.0
}

/// An embedded store in `dir` seeded with `users` users ([`seed_users`])
/// and the server built on it (not yet listening to requests).
pub async fn seeded_app(dir: &Path, users: usize) -> anyhow::Result<(Application, Vec<Seeded>)> {
    let store = evo_store::open_store(&dir.display().to_string()).await?;
    let seeded = seed_users(store.as_ref(), users).await?;
    let mut config = Config::for_store(
        "127.0.0.1:0".parse()?,
        StoreLocation::DataDir(dir.to_path_buf()),
    );
    config.public_url = Some("http://127.0.0.1".into());
    let app = Application::build_with_store(config, store).await?;
    Ok((app, seeded))
}
