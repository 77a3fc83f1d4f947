//! `evo-voice demo`: a server on a fresh embedded store, seeded with one
//! account, a customer hierarchy, three agents, a manager and two phone
//! numbers, with simulated calls so that `GET /sessions/active` changes
//! while you watch.
//!
//! Everything goes through the production path: a simulated Twilio
//! (`evo_twilio::fake::FakeTwilio` in simulator mode) answers the REST API
//! on a local port and the server's Twilio API base URL points at it; calls
//! arrive as its signed voice webhooks, it executes the TwiML the server
//! answers (ringing the agents' legs), and the demo's agents answer, hold,
//! unhold, transfer and hang up through the HTTP operations with their own
//! bearer tokens, which the server carries out through the REST API, which
//! the simulator confirms with signed callbacks. Queued calls, outbound
//! calls and chats (which the simulator does not execute) are replayed as
//! the signed webhooks Twilio would send.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use evo_core::domain::Crumb;
use evo_core::event::{EventKind, EventSource, Party};
use evo_core::ids::{CallSid, SessionId, UserId};
use evo_core::scenario::{self, Cast};
use evo_server::app::config::{defaults, StoreLocation};
use evo_server::app::directory::{self, NewNumber, NewUser};
use evo_server::startup::Application;
use evo_store::Store;
use evo_twilio::fake::{FakeCall, FakeTwilio};

use crate::cli::DemoArgs;
use evo_core::api::actions::{
    AddConferenceMember, EndSession, HoldSession, PatchSession, RedirectSession,
};
use evo_core::api::auth::Authenticate;
use evo_core::api::sessions::SessionHoldReasons;
use evo_core::contract::Contract;

/// An operation's verb and path (from the routes its DTO declares) and body (the
/// DTO by the contract's JSON rules, for verbs with a body): field names,
/// enum spellings and paths come from the contract, not from here.
fn request<T: Contract>(dto: &T) -> anyhow::Result<(reqwest::Method, String, Option<Vec<u8>>)> {
    let verb = evo_wire::route::verb_of::<T>()?;
    let method = reqwest::Method::from_bytes(verb.as_bytes())?;
    let path = evo_wire::route::url_of(dto, verb)?;
    let body = matches!(
        method,
        reqwest::Method::POST | reqwest::Method::PUT | reqwest::Method::PATCH
    )
    .then(|| evo_wire::json::to_json(dto));
    Ok((method, path, body))
}

/// The one password of every demo user.
pub const DEMO_PASSWORD: &str = "demo";

/// The demo account's Twilio credentials (the demo signs its own webhooks).
const DEMO_ACCOUNT_SID: &str = "AC00000000000000000000000000000001";
const DEMO_AUTH_TOKEN: &str = "demo-twilio-auth-token";

/// What the seeding created.
pub struct Seeded {
    pub casts: Vec<Cast>,
    pub users: Vec<(String, String, Vec<evo_core::domain::Role>)>,
    /// Each user's id and e-mail address (what the demo's agents sign in with).
    pub logins: Vec<(UserId, String)>,
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
    let mut config = crate::admin::config(&args.server, location.clone());
    let store = evo_store::open_store_with(&location.as_store_url(), config.store_pool()).await?;
    let seeded = seed(store.as_ref()).await?;
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
    // Twilio: the simulator, unless --twilio-api-url names another API (then
    // the demo's agents do not act, as that API would not confirm anything).
    let twilio = Arc::new(
        FakeTwilio::start()
            .await
            .context("starting the simulated Twilio failed")?,
    );
    twilio.add_account(DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN);
    twilio.simulate(reqwest::Client::new());
    let simulated = args.server.twilio_api_url == defaults::TWILIO_API_URL;
    if simulated {
        config.reconcile.twilio_api_base = twilio.base_url().to_string();
    }
    let app = Application::build_with_store(config, store).await?;
    let address = app.local_addr();
    print_welcome(
        &seeded,
        &address.to_string(),
        &data_dir.display().to_string(),
        simulated.then(|| twilio.base_url()),
    );
    let state = app.state();
    let speed = args.speed.max(0.1);
    let concurrent = args.concurrent_calls.max(1);
    let base_url = format!("http://{address}");
    let agents = Arc::new(Agents::new(base_url.clone(), seeded.logins.clone()));
    let world = World {
        state,
        base_url,
        public_url,
        twilio,
        agents,
        act: simulated,
    };
    tokio::spawn(async move {
        drive(world, seeded.casts, speed, concurrent).await;
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
    let mut logins = Vec::new();
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
        logins.push((user.id.clone(), email.to_string()));
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
    logins.push((manager.id.clone(), "maria@acme.example".to_string()));
    users.push((
        "maria@acme.example".into(),
        "Maria Manager".into(),
        manager.roles.clone(),
    ));
    let all_agents: Vec<UserId> = agents.iter().map(|a| a.0.clone()).collect();
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
    let cast = |number: &evo_core::domain::Endpoint, agents: Vec<(UserId, String, String)>| Cast {
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
        logins,
    })
}

fn print_welcome(seeded: &Seeded, address: &str, data_dir: &str, twilio: Option<&str>) {
    println!();
    println!("evo-voice demo is running on http://{address} (store: {data_dir})");
    if let Some(twilio) = twilio {
        println!("Simulated Twilio REST API: {twilio} (account {DEMO_ACCOUNT_SID})");
    }
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

/// What the traffic driver works with.
pub struct World {
    pub state: evo_server::app::state::AppState,
    /// The server's own address.
    pub base_url: String,
    /// `EVO_PUBLIC_URL`: what the server checks signatures against.
    pub public_url: String,
    pub twilio: Arc<FakeTwilio>,
    pub agents: Arc<Agents>,
    /// Whether agents act through the HTTP operations (the server's Twilio
    /// API is the simulator).
    pub act: bool,
}

/// Kinds the simulator plays live: a call to a number that rings agents.
fn live(kind: scenario::Kind) -> bool {
    use scenario::Kind::*;
    matches!(
        kind,
        InboundAnswered | InboundMissed | BlindTransfer | WarmTransfer | HoldUnhold
    )
}

/// Keeps `concurrent` simulated calls running, cycling through every
/// scenario kind, forever.
pub async fn drive(world: World, casts: Vec<Cast>, speed: f64, concurrent: usize) {
    let world = Arc::new(world);
    let slots = Arc::new(tokio::sync::Semaphore::new(concurrent));
    let http = reqwest::Client::new();
    let mut counter: u64 = 0;
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        counter += 1;
        let kind = scenario::KINDS[(counter as usize) % scenario::KINDS.len()];
        // Queued calls go to the number that queues (the last cast), live
        // calls to the one that rings agents (the first); the others
        // alternate between the numbers.
        let cast_index = if kind == scenario::Kind::QueuedAnswered {
            casts.len() - 1
        } else if world.act && live(kind) {
            0
        } else {
            (counter as usize / scenario::KINDS.len()) % casts.len()
        };
        let mut cast = casts[cast_index].clone();
        cast.caller = format!("+1555{:07}", 7_000_000 + (counter * 7919) % 999_999);
        let tag = format!("{:08x}{:024x}", std::process::id(), counter);
        let world = world.clone();
        let http = http.clone();
        tokio::spawn(async move {
            let player = Player {
                http: &http,
                world: &world,
                speed,
            };
            let played = if world.act && live(kind) {
                player.play_live(kind, &cast, &tag).await
            } else {
                player.play(kind, &cast, &tag, speed).await
            };
            if let Err(error) = played {
                tracing::warn!(%error, %kind, "a simulated call failed");
            }
            drop(permit);
        });
        tokio::time::sleep(Duration::from_secs_f64(3.0 / speed.max(0.1) * 2.0)).await;
    }
}

/// The demo's agents as HTTP clients: each signs in with its password and
/// acts with its bearer token, signing in again when the token expired.
pub struct Agents {
    base_url: String,
    http: reqwest::Client,
    logins: Vec<(UserId, String)>,
    tokens: tokio::sync::Mutex<std::collections::HashMap<UserId, String>>,
}

impl Agents {
    pub fn new(base_url: String, logins: Vec<(UserId, String)>) -> Self {
        Agents {
            base_url,
            http: reqwest::Client::new(),
            logins,
            tokens: Default::default(),
        }
    }

    async fn token(&self, user_id: &UserId, fresh: bool) -> anyhow::Result<String> {
        let mut tokens = self.tokens.lock().await;
        if !fresh {
            if let Some(token) = tokens.get(user_id) {
                return Ok(token.clone());
            }
        }
        let email = self
            .logins
            .iter()
            .find(|(id, _)| id == user_id)
            .map(|(_, email)| email.clone())
            .with_context(|| format!("no demo login for {user_id}"))?;
        let sign_in = Authenticate {
            provider: Some("credentials".to_string()),
            user_name: Some(email.to_string()),
            password: Some(DEMO_PASSWORD.to_string()),
            ..Authenticate::default()
        };
        let response = self
            .http
            .post(format!(
                "{}{}",
                self.base_url,
                evo_wire::route::url_of(&sign_in, "POST")?
            ))
            .header("Accept", "application/json")
            .header("Content-Type", "application/json")
            .body(evo_wire::json::to_json(&sign_in))
            .send()
            .await?;
        anyhow::ensure!(
            response.status().is_success(),
            "signing in as {email} answered {}",
            response.status()
        );
        let body: serde_json::Value = response.json().await?;
        let token = body["bearerToken"]
            .as_str()
            .context("the sign-in answer has no bearerToken")?
            .to_string();
        tokens.insert(user_id.clone(), token.clone());
        Ok(token)
    }

    /// Calls an operation as `user_id` (JSON body unless `Null`).
    pub async fn act(
        &self,
        user_id: &UserId,
        method: reqwest::Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> anyhow::Result<()> {
        for fresh in [false, true] {
            let token = self.token(user_id, fresh).await?;
            let mut request = self
                .http
                .request(method.clone(), format!("{}{path}", self.base_url))
                .bearer_auth(token)
                .header("Accept", "application/json");
            if let Some(body) = &body {
                request = request
                    .header("Content-Type", "application/json")
                    .body(body.clone());
            }
            let response = request.send().await?;
            let status = response.status();
            if status == reqwest::StatusCode::UNAUTHORIZED && !fresh {
                continue;
            }
            let text = response.text().await.unwrap_or_default();
            anyhow::ensure!(
                status.is_success(),
                "{method} {path} answered {status}: {text}"
            );
            return Ok(());
        }
        anyhow::bail!("{method} {path}: signing in again did not help")
    }
}

/// Plays one scenario: live through the simulator and the agents' HTTP
/// operations, or replayed as the signed webhooks Twilio would send.
struct Player<'a> {
    http: &'a reqwest::Client,
    world: &'a World,
    speed: f64,
}

impl Player<'_> {
    async fn webhook(
        &self,
        path_and_query: &str,
        pairs: Vec<(String, String)>,
    ) -> anyhow::Result<()> {
        let params = evo_twilio::params::FormParams::from_pairs(pairs);
        let url = format!("{}{path_and_query}", self.world.base_url);
        let signed_url = format!("{}{path_and_query}", self.world.public_url);
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
                    ("CallSid".into(), root.to_string()),
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
                        ("CallSid".into(), call_sid.to_string()),
                        ("CallStatus".into(), status.as_str().to_string()),
                        ("To".into(), cast.caller.clone()),
                        timestamp,
                    ];
                    if call_sid != &root {
                        pairs.push(("ParentCallSid".into(), root.to_string()));
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
                        ("ConferenceSid".into(), conference_sid.to_string()),
                        ("StatusCallbackEvent".into(), change.as_str().into()),
                        timestamp,
                    ];
                    let fields = [
                        ("CallSid", call_sid.clone()),
                        ("ParticipantLabel", label.clone().map(Into::into)),
                        ("Muted", muted.map(|v| v.to_string()).map(Into::into)),
                        ("Hold", hold.map(|v| v.to_string()).map(Into::into)),
                        ("Coaching", coaching.map(|v| v.to_string()).map(Into::into)),
                    ];
                    for (name, value) in fields {
                        if let Some(value) = value {
                            pairs.push((name.into(), value.to_string()));
                        }
                    }
                    pairs.extend(sequence);
                    self.webhook(&query, pairs).await?;
                }
                EventKind::ConferenceEnded { conference_sid, .. } => {
                    let mut pairs = vec![
                        account.clone(),
                        ("ConferenceSid".into(), conference_sid.to_string()),
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
                            ("MessageSid".into(), message_sid.to_string()),
                            ("From".into(), from.clone()),
                            ("To".into(), cast.number.1.clone()),
                            ("Body".into(), body.clone()),
                        ],
                    )
                    .await?;
                    if chat_session.is_none() {
                        chat_session = Some(
                            evo_server::app::sessions::message_session_id(
                                &cast.account_id,
                                message_sid,
                            )
                            .to_string(),
                        );
                    }
                }
                // The voice webhook queues calls to a queueing number itself.
                EventKind::Enqueued { .. } => {}
                // Agent actions: API calls in production, not Twilio callbacks.
                _ => {
                    let target = chat_session
                        .clone()
                        .unwrap_or_else(|| session_id.to_string());
                    self.world
                        .state
                        .sessions
                        .apply(&SessionId::new(target.as_str()), event, Vec::new())
                        .await?;
                }
            }
        }
        Ok(())
    }
}

impl Player<'_> {
    /// Waits `seconds` of scenario time.
    async fn pause(&self, seconds: f64) {
        tokio::time::sleep(Duration::from_secs_f64(seconds / self.speed)).await;
    }

    /// The live leg Twilio placed to `user_id` for this call: a leg the
    /// root call dialled, or a participant dialled into `conference`.
    fn leg_to(
        &self,
        root: &str,
        conference: Option<&str>,
        user_id: &UserId,
    ) -> anyhow::Result<String> {
        let twilio = &self.world.twilio;
        let to = format!("client:{user_id}");
        let candidates: Vec<FakeCall> = match conference {
            None => twilio.children(DEMO_ACCOUNT_SID, root),
            Some(conference) => twilio
                .participants(DEMO_ACCOUNT_SID, conference)
                .into_iter()
                .filter_map(|p| twilio.call(DEMO_ACCOUNT_SID, &p.call_sid))
                .collect(),
        };
        candidates
            .into_iter()
            .rev()
            .find(|call| {
                call.to == to
                    && !matches!(
                        call.status.as_str(),
                        "completed" | "busy" | "failed" | "no-answer" | "canceled"
                    )
            })
            .map(|call| call.sid)
            .with_context(|| format!("Twilio placed no call to {to} for {root}"))
    }

    /// The device of `user_id` answers the leg ringing it for this call.
    async fn answer(&self, root: &str, user_id: &UserId) -> anyhow::Result<String> {
        let leg = self.leg_to(root, None, user_id)?;
        self.world.twilio.answer_call(DEMO_ACCOUNT_SID, &leg);
        self.world.twilio.flush().await;
        Ok(leg)
    }

    /// `user_id` calls an operation over HTTP; then Twilio's callbacks land.
    async fn act<T: Contract>(&self, user_id: &UserId, dto: T) -> anyhow::Result<()> {
        let (method, path, body) = request(&dto)?;
        self.world.agents.act(user_id, method, &path, body).await?;
        self.world.twilio.flush().await;
        Ok(())
    }

    /// An agent holds a leg of the session (`HoldSession`).
    async fn hold(
        &self,
        agent: &UserId,
        id: &SessionId,
        leg: &str,
        reason: SessionHoldReasons,
    ) -> anyhow::Result<()> {
        let hold = HoldSession {
            session_id: Some(id.to_string()),
            call_sid: Some(leg.to_string()),
            reason,
        };
        self.act(agent, hold).await
    }

    /// An agent takes the session off hold (`PatchSession`, hold reason
    /// `None`): Twilio rings the agent again.
    async fn unhold(&self, agent: &UserId, id: &SessionId) -> anyhow::Result<()> {
        let unhold = PatchSession {
            session_id: Some(id.to_string()),
            hold_reason: Some(SessionHoldReasons::None),
            ..PatchSession::default()
        };
        self.act(agent, unhold).await
    }

    /// A call to the main line, through the simulator: Twilio requests the
    /// voice webhook and rings the legs the answer names; agents answer on
    /// their devices and act through the HTTP operations.
    async fn play_live(&self, kind: scenario::Kind, cast: &Cast, tag: &str) -> anyhow::Result<()> {
        let twilio = &self.world.twilio;
        let public = &self.world.public_url;
        let root = format!("CA{tag}");
        let id = evo_server::app::sessions::call_session_id(
            &cast.account_id,
            &CallSid::new(root.as_str()),
        );
        let mut call = FakeCall::new(root.clone(), "ringing");
        call.from = cast.caller.clone();
        call.to = cast.number.1.clone();
        // A number's status callback reports the end of the call.
        call.status_callback = Some(format!("{public}/twilio/status"));
        twilio.incoming_call(DEMO_ACCOUNT_SID, call, &format!("{public}/twilio/voice"));
        twilio.flush().await;
        let agent = |i: usize| cast.agents[i % cast.agents.len()].0.clone();
        let (a0, a1, a2) = (agent(0), agent(1), agent(2));
        match kind {
            scenario::Kind::InboundMissed => {
                self.pause(20.0).await;
                for leg in twilio.children(DEMO_ACCOUNT_SID, &root) {
                    twilio.ring_out(DEMO_ACCOUNT_SID, &leg.sid);
                }
                twilio.flush().await;
                return Ok(());
            }
            scenario::Kind::InboundAnswered => {
                self.pause(5.0).await;
                let leg = self.answer(&root, &a0).await?;
                self.pause(40.0).await;
                // The agent hangs up; Twilio asks the <Dial action>, which ends the call.
                self.act(
                    &a0,
                    EndSession {
                        session_id: Some(id.to_string()),
                        call_sid: Some(leg.clone()),
                    },
                )
                .await?;
                return Ok(());
            }
            scenario::Kind::HoldUnhold => {
                self.pause(3.0).await;
                self.answer(&root, &a2).await?;
                self.pause(15.0).await;
                self.hold(&a2, &id, &root, SessionHoldReasons::None).await?;
                self.pause(20.0).await;
                // Unhold rings the agent again; the agent answers.
                self.unhold(&a2, &id).await?;
                self.pause(2.0).await;
                self.answer(&root, &a2).await?;
                self.pause(30.0).await;
            }
            scenario::Kind::BlindTransfer => {
                self.pause(4.0).await;
                self.answer(&root, &a0).await?;
                self.pause(20.0).await;
                self.act(
                    &a0,
                    RedirectSession {
                        session_id: Some(id.to_string()),
                        destination: Some(a2.to_string()),
                        ..RedirectSession::default()
                    },
                )
                .await?;
                self.pause(4.0).await;
                self.answer(&root, &a2).await?;
                self.pause(60.0).await;
            }
            scenario::Kind::WarmTransfer => {
                self.pause(4.0).await;
                let leg = self.answer(&root, &a0).await?;
                self.pause(20.0).await;
                // The caller moves into a conference; the agent is dialled
                // back in, then the colleague.
                self.act(
                    &a0,
                    AddConferenceMember {
                        session_id: Some(id.to_string()),
                        call_sid: Some(leg.clone()),
                        destination: Some(a1.to_string()),
                        from_number: Some(cast.number.1.to_string()),
                    },
                )
                .await?;
                let conference = twilio
                    .conference_named(DEMO_ACCOUNT_SID, &format!("evo-{id}"))
                    .context("Twilio has no conference for the warm transfer")?;
                self.pause(2.0).await;
                let back = self.leg_to(&root, Some(&conference.sid), &a0)?;
                twilio.join_participant(DEMO_ACCOUNT_SID, &conference.sid, &back);
                twilio.flush().await;
                self.hold(&a0, &id, &root, SessionHoldReasons::Transferring)
                    .await?;
                self.pause(5.0).await;
                let colleague = self.leg_to(&root, Some(&conference.sid), &a1)?;
                twilio.join_participant(DEMO_ACCOUNT_SID, &conference.sid, &colleague);
                twilio.flush().await;
                self.pause(10.0).await;
                self.unhold(&a0, &id).await?;
                self.pause(5.0).await;
                self.act(
                    &a0,
                    EndSession {
                        session_id: Some(id.to_string()),
                        call_sid: Some(back.clone()),
                    },
                )
                .await?;
                self.pause(60.0).await;
            }
            other => anyhow::bail!("{other} is not played live"),
        }
        // The caller hangs up.
        twilio.hang_up(DEMO_ACCOUNT_SID, &root);
        twilio.flush().await;
        Ok(())
    }
}
