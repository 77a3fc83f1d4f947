//! `evo-voice demo`: a server on a fresh embedded store, seeded with one
//! account, a customer hierarchy, three agents, a manager and two phone
//! numbers, with simulated calls running through the session service (the
//! same reducer, store and index as real traffic) so that
//! `GET /sessions/active` changes while you watch.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use evo_core::domain::Crumb;
use evo_core::reducer;
use evo_core::scenario::{self, Cast};
use evo_server::config::StoreLocation;
use evo_server::directory::{self, NewNumber, NewUser};
use evo_server::ingest::SessionService;
use evo_server::startup::Application;
use evo_store::Store;

use crate::cli::DemoArgs;

/// The one password of every demo user.
pub const DEMO_PASSWORD: &str = "demo";

/// What the seeding created.
pub struct Seeded {
    pub casts: Vec<Cast>,
    pub users: Vec<(String, String, Vec<String>)>,
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let (data_dir, _temporary) = match &args.data_dir {
        Some(dir) => (dir.clone(), None),
        None => {
            let temporary = tempfile::Builder::new()
                .prefix("evo-voice-demo-")
                .tempdir()
                .context("creating a temporary directory failed")?;
            (temporary.path().to_path_buf(), Some(temporary))
        }
    };
    let location = StoreLocation::DataDir(data_dir.clone());
    let store = evo_store::open_store(&location.as_store_url()).await?;
    let seeded = seed(store.as_ref()).await?;
    let app =
        Application::build_with_store(crate::admin::config(&args.server, location), store).await?;
    let address = app.local_addr();
    print_welcome(
        &seeded,
        &address.to_string(),
        &data_dir.display().to_string(),
    );
    let state = app.state();
    let speed = args.speed.max(0.1);
    let concurrent = args.concurrent_calls.max(1);
    tokio::spawn(async move {
        drive(state, seeded.casts, speed, concurrent).await;
    });
    app.run_until_stopped().await
}

/// Seeds the demo directory.
pub async fn seed(store: &dyn Store) -> anyhow::Result<Seeded> {
    let account = directory::add_account(
        store,
        "Acme Telecom",
        Some("AC00000000000000000000000000000001"),
        Some("demo-twilio-auth-token"),
    )
    .await?;
    let holding = directory::add_customer(store, &account.id, "Acme Holdings", None).await?;
    let west = directory::add_customer(store, &account.id, "Acme West", Some(&holding.id)).await?;
    let user_role = vec!["User".to_string()];
    let mut agents = Vec::new();
    let mut users = Vec::new();
    for (email, name) in [
        ("alice@acme.example", "Alice Agent"),
        ("bob@acme.example", "Bob Agent"),
        ("carol@acme.example", "Carol Agent"),
    ] {
        let user = directory::add_user(
            store,
            NewUser {
                account_id: &account.id,
                email,
                password: DEMO_PASSWORD,
                display_name: Some(name),
                roles: &user_role,
                customer_id: Some(&west.id),
            },
        )
        .await?;
        let identity = email.split('@').next().unwrap_or(email).to_string();
        agents.push((user.id.clone(), identity, name.to_string()));
        users.push((email.to_string(), name.to_string(), user.roles.clone()));
    }
    let manager_roles = vec!["Manager".to_string(), "User".to_string()];
    let manager = directory::add_user(
        store,
        NewUser {
            account_id: &account.id,
            email: "maria@acme.example",
            password: DEMO_PASSWORD,
            display_name: Some("Maria Manager"),
            roles: &manager_roles,
            customer_id: Some(&holding.id),
        },
    )
    .await?;
    users.push((
        "maria@acme.example".into(),
        "Maria Manager".into(),
        manager.roles.clone(),
    ));
    let all_agents: Vec<String> = agents.iter().map(|a| a.0.clone()).collect();
    let main = directory::add_number(
        store,
        NewNumber {
            account_id: &account.id,
            number: "+15550100",
            ring_user_ids: &all_agents,
            queue_name: None,
            display_name: Some("Main line"),
            customer_id: Some(&west.id),
        },
    )
    .await?;
    let support_agents = vec![
        all_agents[1].clone(),
        all_agents[2].clone(),
        manager.id.clone(),
    ];
    let support = directory::add_number(
        store,
        NewNumber {
            account_id: &account.id,
            number: "+15550200",
            ring_user_ids: &support_agents,
            queue_name: Some("support"),
            display_name: Some("Support line"),
            customer_id: Some(&west.id),
        },
    )
    .await?;
    let breadcrumb = vec![
        Crumb {
            id: holding.id.clone(),
            name: holding.name.clone(),
        },
        Crumb {
            id: west.id.clone(),
            name: west.name.clone(),
        },
    ];
    let cast = |number: &evo_core::domain::Endpoint, agents: Vec<(String, String, String)>| Cast {
        account_id: account.id.clone(),
        account_name: account.name.clone(),
        customer: Some(Crumb {
            id: west.id.clone(),
            name: west.name.clone(),
        }),
        breadcrumb: breadcrumb.clone(),
        number: (
            number.id.clone(),
            number.address.clone(),
            number.display_name.clone(),
        ),
        agents,
        caller: String::new(),
    };
    let support_cast_agents = vec![
        agents[1].clone(),
        agents[2].clone(),
        (
            manager.id.clone(),
            "maria".to_string(),
            "Maria Manager".to_string(),
        ),
    ];
    Ok(Seeded {
        casts: vec![
            cast(&main, agents.clone()),
            cast(&support, support_cast_agents),
        ],
        users,
    })
}

fn print_welcome(seeded: &Seeded, address: &str, data_dir: &str) {
    println!();
    println!("evo-voice demo is running on http://{address} (store: {data_dir})");
    println!();
    println!("Demo users (password for all: {DEMO_PASSWORD}):");
    for (email, name, roles) in &seeded.users {
        println!("  {email:<22} {name:<15} roles: {}", roles.join(", "));
    }
    println!();
    println!("Try it:");
    println!(
        "  TOKEN=$(curl -s http://{address}/auth/credentials -H 'Content-Type: application/json' \\\n    -d '{{\"userName\":\"alice@acme.example\",\"password\":\"{DEMO_PASSWORD}\"}}' | sed -E 's/.*\"bearerToken\":\"([^\"]+)\".*/\\1/')"
    );
    println!("  curl -s http://{address}/sessions/active -H \"Authorization: Bearer $TOKEN\"");
    println!("  curl -s -u alice@acme.example:{DEMO_PASSWORD} 'http://{address}/sessions/active?format=xml'");
    println!();
    println!("Simulated calls start now; press Ctrl+C to stop.");
}

/// Keeps `concurrent` simulated calls running, cycling through every
/// scenario kind, forever.
pub async fn drive(
    state: evo_server::state::AppState,
    casts: Vec<Cast>,
    speed: f64,
    concurrent: usize,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(concurrent));
    let mut counter: u64 = 0;
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        counter += 1;
        let kind = scenario::KINDS[(counter as usize) % scenario::KINDS.len()];
        // Queued calls go to the number that queues (the last cast); the
        // others alternate between the numbers.
        let cast_index = if kind == "queued-answered" {
            casts.len() - 1
        } else {
            (counter as usize / scenario::KINDS.len()) % casts.len()
        };
        let mut cast = casts[cast_index].clone();
        cast.caller = format!("+1555{:07}", 7_000_000 + (counter * 7919) % 999_999);
        let tag = format!("{:08x}{:024x}", std::process::id(), counter);
        let state = state.clone();
        tokio::spawn(async move {
            if let Err(error) = play(&state.sessions, kind, &cast, &tag, speed).await {
                tracing::warn!(%error, kind, "a simulated call failed");
            }
            drop(permit);
        });
        tokio::time::sleep(Duration::from_secs_f64(3.0 / speed.max(0.1) * 2.0)).await;
    }
}

/// Plays one scenario in (scaled) real time through the session service.
async fn play(
    sessions: &SessionService,
    kind: &'static str,
    cast: &Cast,
    tag: &str,
    speed: f64,
) -> anyhow::Result<()> {
    let start = Utc::now();
    let scenario = scenario::build(kind, cast, tag, start);
    let session = reducer::open(
        &scenario.session_id,
        scenario.header.clone(),
        scenario.opened_at,
    );
    let mut keys: Vec<String> = scenario.header.call_sid.iter().cloned().collect();
    keys.push(scenario.session_id.clone());
    sessions.open(session, keys).await?;
    let mut previous = start;
    for mut event in scenario.events {
        // Scenario time runs `speed` times faster than the clock; stamp each
        // event with the real time it is played at.
        let offset = (event.at - start)
            .to_std()
            .unwrap_or_default()
            .div_f64(speed);
        event.at = start + chrono::Duration::from_std(offset).unwrap_or_default();
        let gap = (event.at - previous).to_std().unwrap_or_default();
        previous = event.at;
        tokio::time::sleep(gap).await;
        sessions
            .apply(&scenario.session_id, event, Vec::new())
            .await?;
    }
    Ok(())
}
