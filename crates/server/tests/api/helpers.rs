//! Test support: a seeded server on an ephemeral port, typed helpers to call it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use chrono::{TimeZone, Utc};
use evo_core::domain::Crumb;
use evo_core::ids::{AccountId, UserId};
use evo_core::reducer;
use evo_core::scenario::{self, Cast};
use evo_server::app::config::{Config, StoreLocation};
use evo_server::app::directory::{NewNumber, NewUser};
use evo_server::app::state::AppState;
use evo_server::startup::Application;
use evo_twilio::params::FormParams;
use evo_twilio::signature::compute_signature;

pub const PASSWORD: &str = "correct horse";

/// A user of the fixture.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: String,
    pub email: String,
}

/// Everything the shared server was seeded with.
#[derive(Debug, Clone)]
pub struct Fixture {
    pub account_id: String,
    /// Role User; rung by the main number.
    pub alice: TestUser,
    /// Role User; rung by the sales number.
    pub bob: TestUser,
    /// No roles at all.
    pub nora: TestUser,
    /// Role Admin only (passes every role check).
    pub root: TestUser,
    /// Role User in the other account.
    pub zed: TestUser,
    pub alice_api_key: String,
    /// Active on the main number (alice's).
    pub main_session: String,
    /// Active on the sales number (bob's), answered by alice.
    pub shared_session: String,
    /// Active on bob's number only.
    pub bob_session: String,
    /// Ended on the main number.
    pub ended_session: String,
    /// Active in the other account, on a number that rings zed.
    pub other_tenant_session: String,
}

/// The database every test of this binary runs on: SQLite by default,
/// PostgreSQL when `EVO_TEST_STORE=postgres` (a throwaway cluster this
/// binary starts once, one fresh database per test server; it fails, never
/// skips, when PostgreSQL cannot start).
pub fn on_postgres() -> bool {
    match std::env::var("EVO_TEST_STORE").as_deref() {
        Ok("postgres") => true,
        Ok("sqlite") | Err(_) => false,
        Ok(other) => panic!("EVO_TEST_STORE must be sqlite or postgres, not {other}"),
    }
}

fn cluster() -> &'static evo_store::testing::PostgresCluster {
    static CLUSTER: OnceLock<evo_store::testing::PostgresCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let cluster = evo_store::testing::PostgresCluster::start();
        // A static is never dropped: stop the cluster once we have exited.
        cluster.stop_when_process_exits();
        cluster
    })
}

/// A fresh, empty store for one test server (or several sharing it).
pub struct TestDb {
    location: StoreLocation,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A new database on the backend the run chose.
    pub fn new() -> TestDb {
        if on_postgres() {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let name = format!("evo_api_{}", NEXT.fetch_add(1, Ordering::SeqCst));
            TestDb {
                location: StoreLocation::Postgres(cluster().create_database(&name)),
                _dir: None,
            }
        } else {
            let dir = tempfile::tempdir().expect("tempdir");
            TestDb {
                location: StoreLocation::DataDir(dir.path().to_path_buf()),
                _dir: Some(dir),
            }
        }
    }

    /// Where the store is, for a `Config`.
    pub fn location(&self) -> StoreLocation {
        self.location.clone()
    }

    /// What `evo_store::open_store` takes.
    pub fn store_url(&self) -> String {
        self.location.as_store_url()
    }

    /// A connection to the database itself (tests that change it underneath
    /// a running server).
    pub async fn connect(&self) -> sqlx::AnyConnection {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let url = match &self.location {
            StoreLocation::DataDir(dir) => evo_store::sql::sqlite_url(dir),
            StoreLocation::Postgres(url) => url.clone(),
        };
        sqlx::AnyConnection::connect(&url).await.unwrap()
    }

    /// Runs one statement on the database.
    pub async fn execute(&self, statement: &str) {
        let mut connection = self.connect().await;
        sqlx::query(statement)
            .execute(&mut connection)
            .await
            .unwrap_or_else(|error| panic!("{statement}: {error}"));
    }
}

/// A running server.
pub struct TestApp {
    pub address: SocketAddr,
    pub state: AppState,
    pub fixture: Fixture,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }
}

/// The shared server's runtime (set by [`shared`]).
static SHARED_RUNTIME: OnceLock<tokio::runtime::Handle> = OnceLock::new();

/// Runs `work` on the shared server's runtime and waits for it. Setup that
/// calls the shared server's store directly (not through HTTP) goes through
/// here: a PostgreSQL connection the pool opens inside a test's own runtime
/// is registered with that runtime's I/O driver and is dead once that test
/// ends, and the server would later be handed it (a 503 in another test).
pub async fn on_shared_runtime<T: Send + 'static>(
    work: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    shared();
    SHARED_RUNTIME
        .get()
        .expect("shared() sets the runtime")
        .spawn(work)
        .await
        .expect("setup on the shared runtime panicked")
}

/// The server shared by every test of this binary: started once, on its own
/// thread and runtime so it outlives each test's runtime.
pub fn shared() -> &'static TestApp {
    static APP: OnceLock<TestApp> = OnceLock::new();
    APP.get_or_init(|| {
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().expect("runtime");
            let _ = SHARED_RUNTIME.set(runtime.handle().clone());
            runtime.block_on(async move {
                let db = Box::leak(Box::new(TestDb::new()));
                let app = build(db).await;
                let fixture = seed(&app.state()).await;
                let address = app.local_addr();
                sender
                    .send(TestApp {
                        address,
                        state: app.state(),
                        fixture,
                    })
                    .expect("send");
                app.run_until_stopped().await.expect("server");
            });
        });
        receiver
            .recv()
            .expect("the shared test server failed to start")
    })
}

/// Builds (but does not run) an application on a test database.
pub async fn build(db: &TestDb) -> Application {
    build_with(db, |_| {}).await
}

/// [`build`], with Twilio's REST API at `twilio_api_base` (a fake).
pub async fn build_with_twilio(db: &TestDb, twilio_api_base: Option<&str>) -> Application {
    build_with(db, |config| {
        if let Some(base) = twilio_api_base {
            config.reconcile.twilio_api_base = base.to_string();
        }
    })
    .await
}

/// [`build`] with a change to the configuration.
pub async fn build_with(db: &TestDb, tweak: impl FnOnce(&mut Config)) -> Application {
    // A free port chosen up front, so that `EVO_PUBLIC_URL` (which webhook
    // signatures cover) is this server's own address.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let mut config = Config::for_store(format!("127.0.0.1:{port}").parse().unwrap(), db.location());
    config.public_url = Some(format!("http://127.0.0.1:{port}"));
    // One stable node name per test database, as an operator gives each
    // node (`--node-id`): a server restarted on the same database after a
    // crash knows it at once, on PostgreSQL as on SQLite.
    config.events.node_id = Some(format!("test-node-{:p}", db));
    tweak(&mut config);
    Application::build(config).await.expect("building the app")
}

async fn add_user(state: &AppState, account: &str, email: &str, roles: &[&str]) -> TestUser {
    let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
    let user = state
        .directory
        .add_user(NewUser {
            account_id: &AccountId::new(account),
            email,
            password: PASSWORD,
            display_name: None,
            roles: &roles,
            customer_id: None,
        })
        .await
        .expect("adding a user");
    TestUser {
        id: user.id.to_string(),
        email: email.to_string(),
    }
}

/// Seeds two tenants, their users and numbers, and sessions in known states.
pub async fn seed(state: &AppState) -> Fixture {
    let acme = state
        .directory
        .add_account("Acme", None, None)
        .await
        .unwrap();
    let globex = state
        .directory
        .add_account("Globex", None, None)
        .await
        .unwrap();
    let holding = state
        .directory
        .add_customer(&acme.id, "Acme Holdings", None)
        .await
        .unwrap();
    let west = state
        .directory
        .add_customer(&acme.id, "Acme West", Some(&holding.id))
        .await
        .unwrap();
    let alice = add_user(state, &acme.id, "alice@acme.test", &["User"]).await;
    let bob = add_user(state, &acme.id, "bob@acme.test", &["User"]).await;
    let nora = add_user(state, &acme.id, "nora@acme.test", &[]).await;
    let root = add_user(state, &acme.id, "root@acme.test", &["Admin"]).await;
    let zed = add_user(state, &globex.id, "zed@globex.test", &["User"]).await;
    let alice_api_key = state
        .directory
        .add_api_key(&UserId::new(alice.id.as_str()))
        .await
        .unwrap();
    let number = |account: &str, e164: &'static str, ring: Vec<String>| {
        let account = account.to_string();
        async move {
            state
                .directory
                .add_number(NewNumber {
                    account_id: &AccountId::new(account.as_str()),
                    number: e164,
                    ring_user_ids: &ring.iter().map(Into::into).collect::<Vec<_>>(),
                    queue_name: None,
                    display_name: None,
                    customer_id: None,
                })
                .await
                .unwrap()
        }
    };
    let main = number(&acme.id, "+15550100", vec![alice.id.clone()]).await;
    let sales = number(&acme.id, "+15550101", vec![bob.id.clone()]).await;
    let globex_line = number(&globex.id, "+15550900", vec![zed.id.clone()]).await;

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
    let cast = |account: &evo_core::domain::Account,
                number: &evo_core::domain::Endpoint,
                agents: Vec<&TestUser>| Cast {
        account_id: account.id.clone(),
        account_name: account.name.clone(),
        customer: Some(breadcrumb[1].clone()),
        breadcrumb: breadcrumb.clone(),
        number: (
            number.id.clone(),
            number.address.clone(),
            number.display_name.clone(),
        ),
        agents: agents
            .into_iter()
            .map(|u| {
                (
                    u.id.clone().into(),
                    u.email.split('@').next().unwrap().to_string(),
                    u.email.clone(),
                )
            })
            .collect(),
        caller: "+15557770000".into(),
    };
    // Recent, not a fixed date: the reconciler ends sessions older than the
    // maximum age (24 h) that Twilio cannot confirm, so a fixed date turned
    // the fixture's active sessions into ended ones a day later, on the
    // reconciler's first pass, in any suite that ran longer than its interval.
    // Five minutes ago is also under the idle time (15 min), so the
    // reconciler leaves them alone.
    let start = fixture_start();
    // (scenario kind, cast, how many of its events to apply)
    let plans = [
        (
            "main",
            scenario::build(
                scenario::Kind::HoldUnhold,
                &cast(&acme, &main, vec![&alice]),
                "MAIN",
                start,
            ),
            5,
        ),
        (
            "shared",
            scenario::build(
                scenario::Kind::InboundAnswered,
                &cast(&acme, &sales, vec![&alice, &bob]),
                "SHARED",
                start,
            ),
            6,
        ),
        (
            "bob",
            scenario::build(
                scenario::Kind::InboundMissed,
                &cast(&acme, &sales, vec![&bob]),
                "BOB",
                start,
            ),
            3,
        ),
        (
            "ended",
            scenario::build(
                scenario::Kind::InboundAnswered,
                &cast(&acme, &main, vec![&alice]),
                "ENDED",
                start,
            ),
            usize::MAX,
        ),
        (
            "other",
            scenario::build(
                scenario::Kind::Outbound,
                &cast(&globex, &globex_line, vec![&zed]),
                "OTHER",
                start,
            ),
            5,
        ),
    ];
    let mut ids = std::collections::HashMap::new();
    for (name, plan, count) in plans {
        play(state, &plan, count).await;
        ids.insert(name, plan.session_id.clone());
    }
    Fixture {
        account_id: acme.id.to_string(),
        alice,
        bob,
        nora,
        root,
        zed,
        alice_api_key,
        main_session: ids["main"].to_string(),
        shared_session: ids["shared"].to_string(),
        bob_session: ids["bob"].to_string(),
        ended_session: ids["ended"].to_string(),
        other_tenant_session: ids["other"].to_string(),
    }
}

/// The form parameters Twilio sends in a call's final status callback for
/// `call_sid` of `account_sid` (the request parameters of
/// https://www.twilio.com/docs/voice/twiml#request-parameters plus
/// `CallStatus` and `CallDuration`,
/// https://www.twilio.com/docs/voice/api/call-resource#statuscallback).
pub fn completed_call_callback(account_sid: &str, call_sid: &str) -> Vec<(String, String)> {
    [
        ("AccountSid", account_sid),
        ("ApiVersion", "2010-04-01"),
        ("CallSid", call_sid),
        ("CallStatus", "completed"),
        ("Direction", "inbound"),
        ("From", "+14158675308"),
        ("To", "+14158675309"),
        ("CallDuration", "0"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// POSTs `params` as a form to `url`, signed as Twilio signs a webhook
/// (https://www.twilio.com/docs/usage/security#validating-requests) with
/// `auth_token` over `url`.
pub async fn post_signed(url: &str, auth_token: &str, params: &FormParams) -> reqwest::Response {
    let signature = compute_signature(auth_token, url, params);
    reqwest::Client::new()
        .post(url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("X-Twilio-Signature", signature)
        .body(params.encode())
        .send()
        .await
        .unwrap()
}

/// A client that keeps cookies.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap()
}

/// Signs in with credentials and returns the AuthenticateResponse JSON.
pub async fn sign_in(app: &TestApp, email: &str) -> serde_json::Value {
    let response = reqwest::Client::new()
        .post(app.url("/auth/credentials"))
        .json(&serde_json::json!({"userName": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "signing in as {email}");
    response.json().await.unwrap()
}

/// A bearer token for `email`.
pub async fn bearer(app: &TestApp, email: &str) -> String {
    sign_in(app, email).await["bearerToken"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The ids of the sessions in a GetActiveSessions JSON response.
pub fn session_ids(body: &serde_json::Value) -> Vec<String> {
    let mut ids: Vec<String> = body["sessions"]
        .as_array()
        .expect("a sessions array")
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

/// GET /sessions/active with a bearer token, as JSON.
pub async fn active_sessions(app: &TestApp, token: &str) -> serde_json::Value {
    let response = reqwest::Client::new()
        .get(app.url("/sessions/active"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// When the fixture's scenarios begin: five minutes ago, to the second.
pub fn fixture_start() -> chrono::DateTime<Utc> {
    let now = Utc::now() - chrono::Duration::minutes(5);
    Utc.timestamp_opt(now.timestamp(), 0).unwrap()
}

/// Opens `plan`'s session in `state` (found by its call SIDs) and applies
/// its first `count` events, as its webhooks would.
pub async fn play(state: &AppState, plan: &scenario::Scenario, count: usize) {
    let session = reducer::open(&plan.session_id, plan.header.clone(), plan.opened_at);
    let keys = plan
        .header
        .call_sid
        .iter()
        .map(ToString::to_string)
        .collect();
    state.sessions.open(session, keys).await.unwrap();
    for event in plan.events.iter().take(count) {
        state
            .sessions
            .apply(&plan.session_id, event.clone(), Vec::new())
            .await
            .unwrap();
    }
}

/// One agent, bob, on `number` of the fixture's account, called from `caller`.
pub fn bob_on(app: &TestApp, number: &evo_core::domain::Endpoint, caller: &str) -> scenario::Cast {
    scenario::Cast {
        account_id: app.fixture.account_id.as_str().into(),
        account_name: "Acme".into(),
        customer: None,
        breadcrumb: Vec::new(),
        number: (
            number.id.clone(),
            number.address.clone(),
            number.display_name.clone(),
        ),
        agents: vec![(
            app.fixture.bob.id.as_str().into(),
            "bob".into(),
            "Bob".into(),
        )],
        caller: caller.into(),
    }
}
