//! `serve` and the administration commands. Each `add` prints the new id
//! (for `apikey`, the key) alone on the last line of stdout.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use evo_core::domain::Secret;
use evo_core::ids::{AccountId, CustomerId, UserId};
use evo_server::app::config::{defaults, Config, StoreLocation};
use evo_server::app::directory::{self, NewNumber, NewUser};
use evo_server::startup::Application;
use evo_store::Store;
use evo_twilio::rest::{ClientConfig, Credentials, TwilioClient, UpdateIncomingPhoneNumber};
use evo_twilio::twiml::{with_connection_overrides, ConnectionOverrides};

use crate::cli::{
    AccountCommand, ApikeyCommand, CustomerCommand, NumberCommand, ServeArgs, ServerArgs,
    StoreArgs, TokenCommand, UserCommand,
};

/// The store location the flags name.
pub fn store_location(args: &StoreArgs) -> StoreLocation {
    match &args.database_url {
        Some(url) => StoreLocation::parse(url),
        None => StoreLocation::DataDir(args.data_dir.clone()),
    }
}

/// `evo-voice migrate`: applies what the schema lacks, one line each.
pub async fn migrate(args: crate::cli::MigrateArgs) -> anyhow::Result<()> {
    let location = store_location(&args.store);
    let applied = evo_store::migrate(&location.as_store_url())
        .await
        .with_context(|| format!("migrating the store at {} failed", location.as_store_url()))?;
    if applied.is_empty() {
        println!("the schema is up to date");
    }
    for migration in applied {
        println!("applied {:04} {}", migration.version, migration.description);
    }
    Ok(())
}

async fn open(args: &StoreArgs) -> anyhow::Result<Arc<dyn Store>> {
    let location = store_location(args);
    evo_store::open_store(&location.as_store_url())
        .await
        .with_context(|| format!("opening the store at {} failed", location.as_store_url()))
}

/// The server configuration from the flags.
pub fn config(server: &ServerArgs, store: StoreLocation) -> Config {
    let mut config = Config::for_store(server.bind, store);
    config.jwt_secret = server
        .jwt_secret
        .clone()
        .filter(|secret| !secret.expose().is_empty());
    config.access_token_ttl = Duration::from_secs(server.access_token_ttl.max(1));
    config.refresh_token_ttl = Duration::from_secs(server.refresh_token_ttl.max(1));
    config.public_url = server
        .public_url
        .clone()
        .map(|url| url.trim_end_matches('/').to_string());
    config.max_body_bytes = server.max_body_bytes;
    config.debug = server.debug;
    config.store_connections = server.store_connections;
    config.limits = server.limits.to_limits();
    let shared_store = matches!(config.store, StoreLocation::Postgres(_));
    config.index_refresh = match server.index_refresh_ms {
        Some(0) => None,
        Some(ms) => Some(Duration::from_millis(ms)),
        None if shared_store => Some(Duration::from_millis(defaults::SHARED_INDEX_REFRESH_MS)),
        None => None,
    };
    config.reconcile = evo_server::app::config::ReconcileConfig {
        idle_after: Duration::from_secs(server.reconcile_idle_secs.max(1)),
        max_age: Duration::from_secs(server.session_max_age_secs.max(1)),
        chat_idle_after: Duration::from_secs(server.chat_idle_secs.max(1)),
        interval: Duration::from_secs(defaults::RECONCILE_INTERVAL_SECS),
        twilio_api_base: server.twilio_api_url.clone(),
    };
    config.ops = ops_config(&server.ops);
    // clap refused values out of range already.
    config.events = evo_server::app::config::EventsConfig {
        heartbeat: Duration::from_millis(server.sse_heartbeat_ms),
        max_streams_per_user: usize::try_from(server.sse_max_streams_per_user)
            .unwrap_or(usize::MAX),
        node_id: server.node_id.clone(),
    };
    config
}

/// The operations settings from the flags.
fn ops_config(ops: &crate::cli::OpsArgs) -> evo_server::app::config::OpsConfig {
    evo_server::app::config::OpsConfig {
        shutdown_grace: Duration::from_secs(ops.shutdown_grace_secs),
        retain_ended: ops
            .retain_ended_days
            .map(|days| Duration::from_secs(u64::from(days.max(1)) * 24 * 60 * 60)),
        metrics_bind: ops.metrics_bind,
        cors_origins: ops
            .cors_origins
            .iter()
            .map(|origin| origin.trim().to_string())
            .filter(|origin| !origin.is_empty())
            .collect(),
    }
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let app = Application::build(config(&args.server, store_location(&args.store))).await?;
    tracing::info!(address = %app.local_addr(), "evo-voice is listening");
    app.run_until_stopped().await
}

pub async fn account(command: AccountCommand) -> anyhow::Result<()> {
    match command {
        AccountCommand::Add {
            name,
            twilio_account_sid,
            twilio_auth_token,
            store,
        } => {
            let store = open(&store).await?;
            let account = directory::add_account(
                store.as_ref(),
                &name,
                twilio_account_sid.as_deref(),
                twilio_auth_token.as_ref().map(Secret::expose),
            )
            .await?;
            println!("{}", account.id);
        }
        AccountCommand::Token { command } => match command {
            TokenCommand::Add {
                account,
                token,
                store,
            } => {
                let store = open(&store).await?;
                directory::add_auth_token(
                    store.as_ref(),
                    &AccountId::new(account.as_str()),
                    token.expose(),
                )
                .await?;
                print_token_count(store.as_ref(), &account).await?;
            }
            TokenCommand::Remove {
                account,
                token,
                store,
            } => {
                let store = open(&store).await?;
                directory::remove_auth_token(
                    store.as_ref(),
                    &AccountId::new(account.as_str()),
                    token.expose(),
                )
                .await?;
                print_token_count(store.as_ref(), &account).await?;
            }
        },
    }
    Ok(())
}

pub async fn customer(command: CustomerCommand) -> anyhow::Result<()> {
    match command {
        CustomerCommand::Add {
            name,
            account,
            parent,
            store,
        } => {
            let store = open(&store).await?;
            let customer = directory::add_customer(
                store.as_ref(),
                &AccountId::new(account),
                &name,
                parent.map(CustomerId::new).as_ref(),
            )
            .await?;
            println!("{}", customer.id);
        }
    }
    Ok(())
}

pub async fn user(command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add {
            account,
            email,
            password,
            name,
            roles,
            customer,
            store,
        } => {
            let store = open(&store).await?;
            let user = directory::add_user(
                store.as_ref(),
                NewUser {
                    account_id: &AccountId::new(account.as_str()),
                    email: &email,
                    password: password.expose(),
                    display_name: name.as_deref(),
                    roles: &roles,
                    customer_id: customer.map(CustomerId::new).as_ref(),
                },
            )
            .await?;
            println!("{}", user.id);
        }
    }
    Ok(())
}

pub async fn number(command: NumberCommand) -> anyhow::Result<()> {
    match command {
        NumberCommand::Add {
            account,
            number,
            ring,
            queue,
            name,
            customer,
            store,
        } => {
            let store = open(&store).await?;
            let endpoint = directory::add_number(
                store.as_ref(),
                NewNumber {
                    account_id: &AccountId::new(account.as_str()),
                    number: &number,
                    ring_user_ids: &ring.iter().map(UserId::new).collect::<Vec<_>>(),
                    queue_name: queue.as_deref(),
                    display_name: name.as_deref(),
                    customer_id: customer.map(CustomerId::new).as_ref(),
                },
            )
            .await?;
            println!("{}", endpoint.id);
        }
        NumberCommand::Configure {
            account,
            number,
            public_url,
            dry_run,
            twilio_api_url,
            store,
        } => {
            let store = open(&store).await?;
            configure_number(
                store.as_ref(),
                &account,
                &number,
                public_url.as_deref(),
                dry_run,
                &twilio_api_url,
            )
            .await?;
        }
    }
    Ok(())
}

/// The number settings that point Twilio at evo-voice. The status callback
/// and the Messaging URL are deduplicated by evo-voice (call SID and
/// sequence, message SID), so they ask Twilio for retries; the Voice URL
/// runs routing, so it keeps Twilio's defaults.
pub fn number_settings(public_url: &str) -> UpdateIncomingPhoneNumber {
    let base = public_url.trim_end_matches('/');
    let retried = |path: &str| {
        with_connection_overrides(&format!("{base}{path}"), &ConnectionOverrides::idempotent())
    };
    UpdateIncomingPhoneNumber {
        voice_url: Some(format!("{base}/twilio/voice")),
        voice_method: Some("POST".into()),
        status_callback: Some(retried("/twilio/status")),
        status_callback_method: Some("POST".into()),
        sms_url: Some(retried("/twilio/sms")),
        sms_method: Some("POST".into()),
        ..UpdateIncomingPhoneNumber::default()
    }
}

async fn configure_number(
    store: &dyn Store,
    account_id: &str,
    number: &str,
    public_url: Option<&str>,
    dry_run: bool,
    twilio_api_url: &str,
) -> anyhow::Result<()> {
    let public_url = public_url
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .context(
            "the public URL Twilio calls is needed: give --public-url https://voice.example.com \
         or set EVO_PUBLIC_URL (the same value `serve` uses)",
        )?;
    if !(public_url.starts_with("https://") || public_url.starts_with("http://")) {
        anyhow::bail!("the public URL must start with https:// (got '{public_url}')");
    }
    if !number.starts_with('+')
        || number.len() < 3
        || !number[1..].chars().all(|c| c.is_ascii_digit())
    {
        anyhow::bail!("'{number}' is not an E.164 number (+15551234567)");
    }
    let account = store
        .account(&AccountId::new(account_id))
        .await?
        .with_context(|| format!("no account has the id '{account_id}'"))?;
    if store
        .endpoint_by_address(&AccountId::new(account_id), number)
        .await?
        .is_none()
    {
        eprintln!(
            "note: {number} is not in evo-voice's directory yet; add it with `evo-voice number add`"
        );
    }
    let settings = number_settings(public_url);
    let lines: Vec<String> = settings
        .form()
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    let credentials = account
        .twilio_account_sid
        .clone()
        .zip(account.twilio_auth_token.clone());
    let Some((sid, token)) = credentials.filter(|_| !dry_run) else {
        let why = if dry_run {
            "dry run"
        } else {
            "the account has no Twilio credentials"
        };
        println!("# {why}: set these on {number} in Twilio's console (Phone Numbers > Manage > Active numbers)");
        for line in &lines {
            println!("{line}");
        }
        return Ok(());
    };
    let client = TwilioClient::new(
        Credentials::new(sid.clone(), token.expose()),
        &ClientConfig {
            base_url: twilio_api_url.to_string(),
            ..ClientConfig::default()
        },
    )?;
    let page = client
        .list_incoming_phone_numbers(Some(number))
        .await
        .with_context(|| format!("listing the numbers of Twilio account {sid} failed"))?;
    let found = page
        .incoming_phone_numbers
        .into_iter()
        .find(|n| n.phone_number == number)
        .with_context(|| format!("Twilio account {sid} has no number {number}"))?;
    let updated = client
        .update_incoming_phone_number(&found.sid, &settings)
        .await
        .with_context(|| format!("updating {number} ({}) in Twilio failed", found.sid))?;
    for line in &lines {
        println!("{line}");
    }
    println!("configured {number} in Twilio account {sid}");
    println!("{}", updated.sid);
    Ok(())
}

pub async fn apikey(command: ApikeyCommand) -> anyhow::Result<()> {
    match command {
        ApikeyCommand::Add { user, store } => {
            let store = open(&store).await?;
            let key = directory::add_api_key(store.as_ref(), &UserId::new(user.as_str())).await?;
            eprintln!("This key is shown only once; store it safely.");
            println!("{key}");
        }
    }
    Ok(())
}

/// Tells how many auth tokens `account` accepts after a change, then its id.
async fn print_token_count(store: &dyn Store, account: &str) -> anyhow::Result<()> {
    let count = store
        .account_auth_tokens(&AccountId::new(account))
        .await?
        .len();
    println!("account {account} now accepts {count} auth token(s)");
    println!("{account}");
    Ok(())
}
