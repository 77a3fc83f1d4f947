//! The session reads beyond /sessions/active: GET /sessions/my,
//! /sessions/{id}, /sessions (ListSessions), /auth/status and /calls/active,
//! on a server of their own seeded with history across two accounts and a
//! customer hierarchy.

use std::sync::OnceLock;

use chrono::{Duration, TimeZone, Utc};
use evo_core::domain::{Account, Crumb, Endpoint};
use evo_core::ids::{AccountId, CustomerId};
use evo_core::scenario::{self, Cast};
use evo_server::app::directory::{NewNumber, NewUser};
use evo_server::app::state::AppState;
use serde_json::Value;

use crate::helpers::{build_with_twilio, PASSWORD};

struct History {
    address: std::net::SocketAddr,
    acme: String,
    globex: String,
    holding: String,
    east: String,
    sales: String,
    /// Session ids: a1..a4 ended in Acme, a5 active in Acme, b1 ended and
    /// b2 active in Globex.
    s: std::collections::HashMap<&'static str, String>,
}

impl History {
    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    fn id(&self, name: &str) -> String {
        self.s[name].clone()
    }
}

// Users: alice and bob (User) and mgr (Manager) and admin
// (SystemAdministrator) in Acme; zed (User) and gmgr (Manager) in Globex.
const ALICE: &str = "alice@acme.test";
const BOB: &str = "bob@acme.test";
const MGR: &str = "mgr@acme.test";
const ADMIN: &str = "admin@acme.test";
const ZED: &str = "zed@globex.test";
const GMGR: &str = "gmgr@globex.test";

fn app() -> &'static History {
    static APP: OnceLock<History> = OnceLock::new();
    APP.get_or_init(|| {
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().expect("runtime");
            runtime.block_on(async move {
                let dir = Box::leak(Box::new(crate::helpers::TestDb::new()));
                // Globex's Twilio account: a fake with no calls in progress
                // (GetActiveCalls asks it), never the real API.
                let twilio = Box::leak(Box::new(
                    evo_twilio::fake::FakeTwilio::start()
                        .await
                        .expect("fake Twilio"),
                ));
                twilio.add_account("AC00000000000000000000000000000077", "token");
                let app = build_with_twilio(dir, Some(twilio.base_url())).await;
                let history = seed(&app.state(), app.local_addr()).await;
                sender.send(history).expect("send");
                app.run_until_stopped().await.expect("server");
            });
        });
        receiver
            .recv()
            .expect("the history test server failed to start")
    })
}

async fn user(state: &AppState, account: &str, email: &str, roles: &[&str]) -> String {
    let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
    state
        .directory
        .add_user(NewUser {
            account_id: &AccountId::new(account),
            email,
            password: PASSWORD,
            display_name: Some("Pat Q Example"),
            roles: &roles,
            customer_id: None,
        })
        .await
        .unwrap()
        .id
        .to_string()
}

async fn number(
    state: &AppState,
    account: &str,
    e164: &str,
    ring: &str,
    customer: Option<&str>,
) -> Endpoint {
    state
        .directory
        .add_number(NewNumber {
            account_id: &AccountId::new(account),
            number: e164,
            ring_user_ids: &[ring.to_string().into()],
            queue_name: None,
            display_name: None,
            customer_id: customer.map(CustomerId::new).as_ref(),
        })
        .await
        .unwrap()
}

async fn seed(state: &AppState, address: std::net::SocketAddr) -> History {
    let store = &state.directory;
    let acme = store.add_account("Acme", None, None).await.unwrap();
    let globex = store
        .add_account(
            "Globex",
            Some("AC00000000000000000000000000000077"),
            Some("token"),
        )
        .await
        .unwrap();
    let holding = store
        .add_customer(&acme.id, "Acme Holdings", None)
        .await
        .unwrap();
    let west = store
        .add_customer(&acme.id, "Acme West", Some(&holding.id))
        .await
        .unwrap();
    let east = store
        .add_customer(&acme.id, "Acme East", None)
        .await
        .unwrap();
    let alice = user(state, &acme.id, ALICE, &["User"]).await;
    let bob = user(state, &acme.id, BOB, &["User"]).await;
    user(state, &acme.id, MGR, &["User", "Manager"]).await;
    user(state, &acme.id, ADMIN, &["SystemAdministrator"]).await;
    let zed = user(state, &globex.id, ZED, &["User"]).await;
    user(state, &globex.id, GMGR, &["Manager"]).await;
    let main = number(state, &acme.id, "+15550100", &alice, Some(&west.id)).await;
    let sales = number(state, &acme.id, "+15550101", &bob, Some(&east.id)).await;
    let line = number(state, &globex.id, "+15550900", &zed, None).await;

    let crumb = |c: &evo_core::domain::Customer| Crumb {
        id: c.id.clone(),
        name: c.name.clone(),
    };
    let cast = |account: &Account,
                number: &Endpoint,
                agent: (&str, &str),
                customer: Option<Crumb>,
                caller: &str| Cast {
        account_id: account.id.clone(),
        account_name: account.name.clone(),
        customer: customer.clone(),
        breadcrumb: customer.into_iter().collect(),
        number: (
            number.id.clone(),
            number.address.clone(),
            number.display_name.clone(),
        ),
        agents: vec![(
            agent.0.to_string().into(),
            agent.1.to_string(),
            agent.1.to_string(),
        )],
        caller: caller.to_string(),
    };
    let day =
        |d: i64, h: u32| Utc.with_ymd_and_hms(2026, 11, 1, h, 0, 0).unwrap() + Duration::days(d);
    let plans = [
        (
            "a1",
            "inbound-answered",
            cast(
                &acme,
                &main,
                (&alice, "alice"),
                Some(crumb(&west)),
                "+15557770001",
            ),
            day(1, 9),
            usize::MAX,
        ),
        (
            "b1",
            "inbound-answered",
            cast(&globex, &line, (&zed, "zed"), None, "+15557770002"),
            day(1, 10),
            usize::MAX,
        ),
        (
            "a2",
            "inbound-missed",
            cast(
                &acme,
                &main,
                (&alice, "alice"),
                Some(crumb(&west)),
                "+15557770003",
            ),
            day(2, 9),
            usize::MAX,
        ),
        (
            "a3",
            "inbound-answered",
            cast(
                &acme,
                &sales,
                (&bob, "bob"),
                Some(crumb(&east)),
                "+15557770004",
            ),
            day(3, 9),
            usize::MAX,
        ),
        (
            "a4",
            "sms-chat",
            cast(
                &acme,
                &sales,
                (&bob, "bob"),
                Some(crumb(&east)),
                "+15557770005",
            ),
            day(4, 9),
            usize::MAX,
        ),
        (
            "a5",
            "hold-unhold",
            cast(
                &acme,
                &main,
                (&alice, "alice"),
                Some(crumb(&west)),
                "+15557770006",
            ),
            day(5, 9),
            5,
        ),
        (
            "b2",
            "inbound-answered",
            cast(&globex, &line, (&zed, "zed"), None, "+15557770007"),
            day(5, 10),
            5,
        ),
    ];
    let mut s = std::collections::HashMap::new();
    for (name, kind, cast, start, count) in plans {
        let kind: scenario::Kind = kind.parse().unwrap();
        let plan = scenario::build(kind, &cast, &name.to_uppercase(), start);
        crate::helpers::play(state, &plan, count).await;
        s.insert(name, plan.session_id.to_string());
    }
    History {
        address,
        acme: acme.id.to_string(),
        globex: globex.id.to_string(),
        holding: holding.id.to_string(),
        east: east.id.to_string(),
        sales: sales.id.to_string(),
        s,
    }
}

/// A GET as `email` (anonymous when `None`): status and JSON body.
async fn get(email: Option<&str>, path: &str) -> (u16, Value) {
    let app = app();
    let mut request = reqwest::Client::new()
        .get(app.url(path))
        .header("Accept", "application/json");
    if let Some(email) = email {
        request = request.bearer_auth(token(email).await);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn token(email: &str) -> String {
    // `helpers::bearer` signs in to the shared server; this one is separate.
    let app = app();
    let response = reqwest::Client::new()
        .post(app.url("/auth/credentials"))
        .json(&serde_json::json!({"userName": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "signing in as {email}");
    let body: Value = response.json().await.unwrap();
    body["bearerToken"].as_str().unwrap().to_string()
}

fn item_ids(body: &Value) -> Vec<String> {
    body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("an items array in {body}"))
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_string())
        .collect()
}

fn names(app: &History, names: &[&str]) -> Vec<String> {
    names.iter().map(|n| app.id(n)).collect()
}

/// ListSessions as `email` with a query string: the ids, in order.
async fn list(email: &str, query: &str) -> Vec<String> {
    let (status, body) = get(Some(email), &format!("/sessions?{query}")).await;
    assert_eq!(status, 200, "{query}: {body}");
    item_ids(&body)
}

const ENDED: &str = "searchArchive=true&countPerPage=100";

#[tokio::test]
async fn each_role_lists_exactly_the_history_it_may_see() {
    let app = app();
    assert_eq!(list(ALICE, ENDED).await, names(app, &["a1", "a2"]));
    assert_eq!(list(BOB, ENDED).await, names(app, &["a3", "a4"]));
    assert_eq!(
        list(MGR, ENDED).await,
        names(app, &["a1", "a2", "a3", "a4"])
    );
    assert_eq!(list(ZED, ENDED).await, names(app, &["b1"]));
    assert_eq!(list(GMGR, ENDED).await, names(app, &["b1"]));
    assert_eq!(
        list(ADMIN, ENDED).await,
        names(app, &["a1", "b1", "a2", "a3", "a4"])
    );
    // Live sessions unless the archive is searched.
    let live = "countPerPage=100";
    assert_eq!(list(ALICE, live).await, names(app, &["a5"]));
    assert!(list(BOB, live).await.is_empty());
    assert_eq!(list(MGR, live).await, names(app, &["a5"]));
    assert_eq!(list(ADMIN, live).await, names(app, &["a5", "b2"]));
    // A filter never widens the scope.
    let other_account = format!("{ENDED}&accountIds={}", app.globex);
    assert!(list(MGR, &other_account).await.is_empty());
    assert!(
        list(ALICE, &format!("{ENDED}&specificIds={}", app.id("b1")))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn every_filter_of_list_sessions() {
    let app = app();
    let q = |filter: String| format!("{ENDED}&{filter}");
    assert_eq!(
        list(ADMIN, &q(format!("accountIds={}", app.globex))).await,
        names(app, &["b1"])
    );
    assert_eq!(
        list(ADMIN, &q(format!("accountIds={},{}", app.globex, app.acme)))
            .await
            .len(),
        5
    );
    assert_eq!(
        list(ADMIN, &q(format!("customerIds={}", app.holding))).await,
        names(app, &["a1", "a2"]),
        "a customer includes its child customers"
    );
    assert_eq!(
        list(ADMIN, &q(format!("customerIds={}", app.east))).await,
        names(app, &["a3", "a4"])
    );
    assert_eq!(
        list(ADMIN, &q(format!("endpointIds={}", app.sales))).await,
        names(app, &["a3", "a4"])
    );
    assert_eq!(
        list(ADMIN, &q("startDate=2026-11-03&endDate=2026-11-04".into())).await,
        names(app, &["a2", "a3"]),
        "both dates are inclusive days"
    );
    assert_eq!(
        list(ADMIN, &q("from=7770004".into())).await,
        names(app, &["a3"])
    );
    assert_eq!(
        list(ADMIN, &q("to=%2B15550101".into())).await,
        names(app, &["a3", "a4"])
    );
    assert_eq!(
        list(ADMIN, &q("log=order%201234".into())).await,
        names(app, &["a4"])
    );
    assert!(list(ADMIN, &q(format!("parentSessionId={}", app.id("a1"))))
        .await
        .is_empty());
    assert_eq!(
        list(
            ADMIN,
            &q(format!("specificIds={},{}", app.id("a2"), app.id("b1")))
        )
        .await,
        names(app, &["b1", "a2"])
    );
    assert_eq!(
        list(ADMIN, &q("sortOrder=Descend".into())).await,
        names(app, &["a4", "a3", "a2", "b1", "a1"])
    );
    assert_eq!(
        list(ADMIN, &q("sortField=dateCreated".into())).await.len(),
        5
    );
}

#[tokio::test]
async fn list_sessions_pages_from_zero() {
    let (status, first) = get(Some(ADMIN), "/sessions?searchArchive=true&countPerPage=2").await;
    assert_eq!(status, 200);
    let app = app();
    assert_eq!(item_ids(&first), names(app, &["a1", "b1"]));
    assert_eq!(first["totalCount"], 5);
    assert_eq!(first["totalPages"], 3);
    assert_eq!(first["hasMorePages"], true);
    let (_, last) = get(
        Some(ADMIN),
        "/sessions?searchArchive=true&countPerPage=2&page=2",
    )
    .await;
    assert_eq!(item_ids(&last), names(app, &["a4"]));
    assert_eq!(last["totalCount"], 5);
    assert_eq!(last["hasMorePages"], false);
    let (_, past) = get(
        Some(ADMIN),
        "/sessions?searchArchive=true&countPerPage=2&page=3",
    )
    .await;
    assert!(item_ids(&past).is_empty());
    assert_eq!(past["totalCount"], 5);
    let (_, all) = get(Some(ADMIN), "/sessions?searchArchive=true&all=true").await;
    assert_eq!(item_ids(&all).len(), 5);
    assert_eq!(all["totalPages"], 1);
    assert_eq!(all["hasMorePages"], false);
    let (_, simple) = get(
        Some(ADMIN),
        "/sessions?searchArchive=true&countPerPage=2&simplifiedPaging=true",
    )
    .await;
    assert_eq!(item_ids(&simple).len(), 2);
    assert_eq!(simple["hasMorePages"], true);
    assert_eq!(simple["totalCount"], 0, "simplified paging counts nothing");
    let (_, beyond) = get(
        Some(ADMIN),
        "/sessions?searchArchive=true&countPerPage=2&page=9&simplifiedPaging=true",
    )
    .await;
    assert_eq!(beyond["items"], serde_json::json!([]));
    assert_eq!(beyond["hasMorePages"], false);
    let (_, empty) = get(
        Some(ZED),
        "/sessions?searchArchive=true&countPerPage=10&from=nobody",
    )
    .await;
    assert_eq!(empty["items"], serde_json::json!([]));
    assert_eq!(empty["totalCount"], 0);
    assert_eq!(empty["totalPages"], 0);
    assert_eq!(empty["hasMorePages"], false);
}

#[tokio::test]
async fn nonsense_paging_and_filters_are_400() {
    for (query, field) in [
        ("page=-1&countPerPage=10", "Page"),
        ("countPerPage=0", "CountPerPage"),
        ("", "CountPerPage"),
        ("countPerPage=1001", "CountPerPage"),
        ("countPerPage=10&startDate=yesterday", "StartDate"),
        ("countPerPage=10&endDate=2026-13-01", "EndDate"),
        ("countPerPage=10&sortField=Bogus", "SortField"),
    ] {
        let (status, body) = get(Some(ADMIN), &format!("/sessions?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(
            body["responseStatus"]["errors"][0]["fieldName"], field,
            "{query}: {body}"
        );
    }
    let (status, body) = get(Some(ADMIN), "/sessions?countPerPage=10&sortOrder=Sideways").await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = get(None, "/sessions?countPerPage=10").await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn get_session_shows_only_what_the_caller_may_see_and_404s_the_rest() {
    let app = app();
    let cases: &[(&str, &str, u16)] = &[
        (ALICE, "a1", 200),
        (ALICE, "a5", 200),
        (ALICE, "a3", 404),
        (ALICE, "b1", 404),
        (BOB, "a5", 404),
        (BOB, "a4", 200),
        (MGR, "a3", 200),
        (MGR, "b2", 404),
        (ZED, "a1", 404),
        (GMGR, "a1", 404),
        (GMGR, "b2", 200),
        (ADMIN, "b1", 200),
        (ADMIN, "a5", 200),
    ];
    for (email, name, expected) in cases {
        let (status, body) = get(Some(email), &format!("/sessions/{}", app.id(name))).await;
        assert_eq!(status, *expected, "{email} GET {name}: {body}");
        if *expected == 200 {
            assert_eq!(body["id"], app.id(name).as_str());
        } else {
            assert_eq!(body["responseStatus"]["errorCode"], "NotFound");
        }
    }
    let (status, missing) = get(Some(ADMIN), "/sessions/ses-NOPE").await;
    assert_eq!(status, 404);
    let (_, hidden) = get(Some(ZED), &format!("/sessions/{}", app.id("a1"))).await;
    assert_eq!(
        hidden["responseStatus"]["message"]
            .as_str()
            .map(|m| m.replace(&app.id("a1"), "X")),
        missing["responseStatus"]["message"]
            .as_str()
            .map(|m| m.replace("ses-NOPE", "X")),
        "a hidden session reads exactly like a missing one"
    );
    let (_, ended) = get(Some(ALICE), &format!("/sessions/{}", app.id("a1"))).await;
    assert_eq!(ended["ended"], true);
    assert_eq!(ended["customerBreadcrumb"][0]["name"], "Acme West");
}

#[tokio::test]
async fn history_is_served_in_every_format() {
    let app = app();
    let token = token(ALICE).await;
    let xml = reqwest::Client::new()
        .get(app.url(&format!("/sessions/{}?format=xml", app.id("a1"))))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(xml.status(), 200);
    let text = xml.text().await.unwrap();
    assert!(
        text.contains("<SessionInfo") && text.contains("<Ended>true</Ended>"),
        "{text}"
    );
    let csv = reqwest::Client::new()
        .get(app.url("/sessions?searchArchive=true&countPerPage=5&format=csv"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    let text = csv.text().await.unwrap();
    assert!(text.contains(&app.id("a2")), "{text}");
    let xml = reqwest::Client::new()
        .get(app.url("/sessions?searchArchive=true&countPerPage=5&format=xml"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        xml.contains("<ListResponseOfSessionInfo") && xml.contains("<TotalCount>2</TotalCount>"),
        "{xml}"
    );
}

#[tokio::test]
async fn my_sessions_are_my_active_sessions() {
    let app = app();
    let (status, body) = get(Some(ALICE), "/sessions/my").await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [app.id("a5").as_str()]);
    let (status, body) = get(Some(BOB), "/sessions/my").await;
    assert_eq!(status, 200);
    assert_eq!(body["sessions"], serde_json::json!([]));
    let (status, _) = get(Some(GMGR), "/sessions/my").await;
    assert_eq!(status, 403, "GetMySessions requires the User role");
}

#[tokio::test]
async fn auth_status_describes_the_caller() {
    let (status, anonymous) = get(None, "/auth/status").await;
    assert_eq!(status, 200);
    assert_eq!(anonymous["isAuthenticated"], false);
    assert!(anonymous.get("id").is_none());
    let (_, alice) = get(Some(ALICE), "/auth/status").await;
    assert_eq!(alice["isAuthenticated"], true);
    assert_eq!(alice["emailAddress"], ALICE);
    assert_eq!(alice["firstName"], "Pat");
    assert_eq!(alice["lastName"], "Q Example");
    assert_eq!(alice["name"], "Pat Q Example");
    assert_eq!(alice["roles"], serde_json::json!(["User"]));
    assert_eq!(alice["accountIds"], serde_json::json!([app().acme]));
    assert_eq!(alice["accountNames"], serde_json::json!(["Acme"]));
    assert_eq!(
        alice["dashboardPermissions"],
        serde_json::json!(["ViewSessions"])
    );
    let (_, mgr) = get(Some(MGR), "/auth/status").await;
    assert_eq!(mgr["dashboardPermissions"].as_array().unwrap().len(), 7);
}

#[tokio::test]
async fn active_calls_are_the_live_legs_of_an_account() {
    let app = app();
    let (status, _) = get(Some(ALICE), "/calls/active").await;
    assert_eq!(status, 403, "users may not read an account's calls");
    let (status, body) = get(Some(MGR), "/calls/active").await;
    assert_eq!(status, 200, "{body}");
    let calls = body["calls"].as_array().unwrap();
    assert!(!calls.is_empty(), "{body}");
    let root = calls
        .iter()
        .find(|c| c["sid"] == "CAA5")
        .expect("the root leg of a5");
    assert_eq!(root["direction"], "inbound");
    assert_eq!(root["from"], "+15557770006");
    assert_eq!(root["to"], "+15550100");
    assert!(root.get("parentCallSid").is_none());
    assert!(
        calls
            .iter()
            .all(|c| c["sid"].as_str().unwrap().contains("A5")),
        "only Acme's live calls: {body}"
    );
    for call in calls.iter().filter(|c| c["sid"] != "CAA5") {
        assert_eq!(call["parentCallSid"], "CAA5");
        assert_eq!(call["direction"], "outbound-dial");
    }
    let (status, _) = get(
        Some(MGR),
        &format!("/calls/active?accountId={}", app.globex),
    )
    .await;
    assert_eq!(status, 403);
    let (status, body) = get(
        Some(ADMIN),
        &format!("/calls/active?accountId={}", app.globex),
    )
    .await;
    assert_eq!(status, 200);
    let calls = body["calls"].as_array().unwrap();
    assert!(calls.iter().any(|c| c["sid"] == "CAB2"), "{body}");
    assert!(calls
        .iter()
        .all(|c| c["accountSid"] == "AC00000000000000000000000000000077"));
    assert!(calls.iter().all(|c| c["uri"]
        .as_str()
        .unwrap()
        .starts_with("/2010-04-01/Accounts/AC00000000000000000000000000000077/Calls/")));
}
