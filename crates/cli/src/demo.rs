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
use evo_core::event::{EventKind, EventSource, Party};
use evo_core::scenario::{self, Cast};
use evo_server::app::config::StoreLocation;
use evo_server::app::directory::{self, NewNumber, NewUser};
use evo_server::app::sessions::SessionService;
use evo_server::startup::Application;
use evo_store::Store;

use crate::cli::DemoArgs;

/// The one password of every demo user.
pub const DEMO_PASSWORD: &str = "demo";

/// The demo account's Twilio credentials (the demo signs its own webhooks).
const DEMO_ACCOUNT_SID: &str = "AC00000000000000000000000000000001";
const DEMO_AUTH_TOKEN: &str = "demo-twilio-auth-token";

/// What the seeding created.
pub struct Seeded {
    pub casts: Vec<Cast>,
    pub users: Vec<(String, String, Vec<evo_core::domain::Role>)>,
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
    let mut config = crate::admin::config(&args.server, location);
    // The driver (and anyone trying the demo) signs webhooks over the public
    // URL the server checks; without EVO_PUBLIC_URL the demo uses its own
    // address, so a port of 0 is made concrete first.
    if config.public_url.is_none() && config.bind.port() == 0 {
        let probe = std::net::TcpListener::bind(config.bind)
            .context("finding a free port for the demo failed")?;
        config.bind = probe.local_addr()?;
    }
    let bind = config.bind;
    let public_url = config
        .public_url
        .get_or_insert_with(|| format!("http://{bind}"))
        .clone();
    let app = Application::build_with_store(config, store).await?;
    let address = app.local_addr();
    print_welcome(
        &seeded,
        &address.to_string(),
        &data_dir.display().to_string(),
    );
    let state = app.state();
    let speed = args.speed.max(0.1);
    let concurrent = args.concurrent_calls.max(1);
    let base_url = format!("http://{address}");
    tokio::spawn(async move {
        drive(state, base_url, public_url, seeded.casts, speed, concurrent).await;
    });
    app.run_until_stopped().await
}

/// Seeds the demo directory.
pub async fn seed(store: &dyn Store) -> anyhow::Result<Seeded> {
    let account = directory::add_account(
        store,
        "Acme Telecom",
        Some(DEMO_ACCOUNT_SID),
        Some(DEMO_AUTH_TOKEN),
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
        let roles: Vec<&str> = roles.iter().map(|role| role.name()).collect();
        println!("  {email:<22} {name:<15} roles: {}", roles.join(", "));
    }
    println!();
    println!("Agent console: http://{address}/ (sign in as any user above)");
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
    state: evo_server::app::state::AppState,
    base_url: String,
    public_url: String,
    casts: Vec<Cast>,
    speed: f64,
    concurrent: usize,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(concurrent));
    let http = reqwest::Client::new();
    let mut counter: u64 = 0;
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        counter += 1;
        let kind = scenario::KINDS[(counter as usize) % scenario::KINDS.len()];
        // Queued calls go to the number that queues (the last cast); the
        // others alternate between the numbers.
        let cast_index = if kind == scenario::Kind::QueuedAnswered {
            casts.len() - 1
        } else {
            (counter as usize / scenario::KINDS.len()) % casts.len()
        };
        let mut cast = casts[cast_index].clone();
        cast.caller = format!("+1555{:07}", 7_000_000 + (counter * 7919) % 999_999);
        let tag = format!("{:08x}{:024x}", std::process::id(), counter);
        let state = state.clone();
        let http = http.clone();
        let base_url = base_url.clone();
        let public_url = public_url.clone();
        tokio::spawn(async move {
            let player = Player {
                http: &http,
                base_url: &base_url,
                public_url: &public_url,
                sessions: &state.sessions,
            };
            if let Err(error) = player.play(kind, &cast, &tag, speed).await {
                tracing::warn!(%error, %kind, "a simulated call failed");
            }
            drop(permit);
        });
        tokio::time::sleep(Duration::from_secs_f64(3.0 / speed.max(0.1) * 2.0)).await;
    }
}

/// Plays scenarios the way production traffic arrives: everything Twilio
/// would report is sent as a correctly signed webhook over HTTP to the
/// server itself; agent actions (hold, transfer), which are API calls and
/// not Twilio callbacks, go to the session service.
struct Player<'a> {
    http: &'a reqwest::Client,
    base_url: &'a str,
    /// `EVO_PUBLIC_URL`: what the server checks signatures against.
    public_url: &'a str,
    sessions: &'a SessionService,
}

impl Player<'_> {
    async fn webhook(
        &self,
        path_and_query: &str,
        pairs: Vec<(String, String)>,
    ) -> anyhow::Result<()> {
        let params = evo_twilio::params::FormParams::from_pairs(pairs);
        let url = format!("{}{path_and_query}", self.base_url);
        let signed_url = format!("{}{path_and_query}", self.public_url);
        let signature =
            evo_twilio::signature::compute_signature(DEMO_AUTH_TOKEN, &signed_url, &params);
        let response = self
            .http
            .post(&url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("X-Twilio-Signature", signature)
            .body(params.encode())
            .send()
            .await?;
        anyhow::ensure!(
            response.status().is_success(),
            "{path_and_query} answered {}",
            response.status()
        );
        Ok(())
    }

    async fn play(
        &self,
        kind: scenario::Kind,
        cast: &Cast,
        tag: &str,
        speed: f64,
    ) -> anyhow::Result<()> {
        let start = Utc::now();
        let plan = scenario::build(kind, cast, tag, start);
        let root = plan.header.call_sid.clone().unwrap_or_default();
        let session_id = evo_server::app::sessions::call_session_id(&cast.account_id, &root);
        let account = ("AccountSid".to_string(), DEMO_ACCOUNT_SID.to_string());
        // The call (or first message) opens the session through its webhook.
        if plan.header.channel == evo_core::api::sessions::FlowChannels::Voice {
            let from = match plan.header.direction {
                evo_core::api::sessions::SessionDirections::Outgoing => {
                    format!("client:{}", cast.agents[0].0)
                }
                _ => cast.caller.clone(),
            };
            let to = plan
                .header
                .destination
                .clone()
                .or(plan.header.to_address.clone())
                .unwrap_or_default();
            self.webhook(
                "/twilio/voice",
                vec![
                    account.clone(),
                    ("CallSid".into(), root.clone()),
                    ("From".into(), from),
                    ("To".into(), to),
                    ("CallStatus".into(), "ringing".into()),
                ],
            )
            .await?;
        }
        let mut previous = start;
        let mut chat_session: Option<String> = None;
        for mut event in plan.events {
            // Scenario time runs `speed` times faster than the clock.
            let offset = (event.at - start)
                .to_std()
                .unwrap_or_default()
                .div_f64(speed);
            event.at = start + chrono::Duration::from_std(offset).unwrap_or_default();
            let gap = (event.at - previous).to_std().unwrap_or_default();
            previous = event.at;
            tokio::time::sleep(gap).await;
            let timestamp = ("Timestamp".to_string(), event.at.to_rfc2822());
            let sequence = match &event.source {
                EventSource::Call { sequence, .. } | EventSource::Conference { sequence, .. } => {
                    sequence.map(|s| ("SequenceNumber".to_string(), s.to_string()))
                }
                _ => None,
            };
            match &event.kind {
                EventKind::CallStatus {
                    call_sid,
                    status,
                    party,
                    ..
                } => {
                    let mut query = format!("/twilio/status?session={session_id}");
                    match party {
                        Some(Party {
                            endpoint_id: Some(user),
                            ..
                        }) => query.push_str(&format!("&user={user}")),
                        Some(_) => query.push_str("&party=callee"),
                        None => {}
                    }
                    let mut pairs = vec![
                        account.clone(),
                        ("CallSid".into(), call_sid.clone()),
                        ("CallStatus".into(), status.as_str().to_string()),
                        ("To".into(), cast.caller.clone()),
                        timestamp,
                    ];
                    if call_sid != &root {
                        pairs.push(("ParentCallSid".into(), root.clone()));
                    }
                    pairs.extend(sequence);
                    self.webhook(&query, pairs).await?;
                }
                EventKind::Participant {
                    conference_sid,
                    change,
                    call_sid,
                    label,
                    party,
                    muted,
                    hold,
                    coaching,
                } => {
                    let mut query = format!("/twilio/conference?session={session_id}");
                    if let Some(Party {
                        endpoint_id: Some(user),
                        ..
                    }) = party
                    {
                        query.push_str(&format!("&user={user}"));
                    }
                    let mut pairs = vec![
                        account.clone(),
                        ("ConferenceSid".into(), conference_sid.clone()),
                        ("StatusCallbackEvent".into(), change.as_str().into()),
                        timestamp,
                    ];
                    let fields = [
                        ("CallSid", call_sid.clone()),
                        ("ParticipantLabel", label.clone()),
                        ("Muted", muted.map(|v| v.to_string())),
                        ("Hold", hold.map(|v| v.to_string())),
                        ("Coaching", coaching.map(|v| v.to_string())),
                    ];
                    for (name, value) in fields {
                        if let Some(value) = value {
                            pairs.push((name.into(), value));
                        }
                    }
                    pairs.extend(sequence);
                    self.webhook(&query, pairs).await?;
                }
                EventKind::ConferenceEnded { conference_sid, .. } => {
                    let mut pairs = vec![
                        account.clone(),
                        ("ConferenceSid".into(), conference_sid.clone()),
                        ("StatusCallbackEvent".into(), "conference-end".into()),
                        timestamp,
                    ];
                    pairs.extend(sequence);
                    self.webhook(&format!("/twilio/conference?session={session_id}"), pairs)
                        .await?;
                }
                EventKind::MessageReceived { from, body, .. } => {
                    let EventSource::Message { message_sid } = &event.source else {
                        continue;
                    };
                    self.webhook(
                        "/twilio/sms",
                        vec![
                            account.clone(),
                            ("MessageSid".into(), message_sid.clone()),
                            ("From".into(), from.clone()),
                            ("To".into(), cast.number.1.clone()),
                            ("Body".into(), body.clone()),
                        ],
                    )
                    .await?;
                    if chat_session.is_none() {
                        chat_session = Some(evo_server::app::sessions::message_session_id(
                            &cast.account_id,
                            message_sid,
                        ));
                    }
                }
                // The voice webhook queues calls to a queueing number itself.
                EventKind::Enqueued { .. } => {}
                // Agent actions: API calls in production, not Twilio callbacks.
                _ => {
                    let target = chat_session.clone().unwrap_or_else(|| session_id.clone());
                    self.sessions.apply(&target, event, Vec::new()).await?;
                }
            }
        }
        Ok(())
    }
}
