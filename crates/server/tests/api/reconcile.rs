//! Nothing stays active forever: quiet calls are checked with Twilio's REST
//! API (a local fake here) and ended when over; sessions Twilio cannot
//! confirm end at the maximum age.

use std::time::Duration;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use chrono::Utc;
use evo_core::api::sessions::{FlowChannels, SessionDirections};
use evo_core::reducer;
use evo_core::session::SessionHeader;

use evo_server::app::config::ReconcileConfig;
use evo_server::app::reconcile::reconcile_once;

/// A fake of `GET /2010-04-01/Accounts/{sid}/Calls/{call}.json`.
async fn fake_twilio() -> String {
    async fn call(Path((account, call)): Path<(String, String)>) -> impl IntoResponse {
        assert_eq!(account, "AC0123456789abcdef0123456789abc999");
        match call.trim_end_matches(".json") {
            "CADONE" => {
                (StatusCode::OK, r#"{"sid":"CADONE","status":"completed"}"#).into_response()
            }
            "CABUSY" => (StatusCode::OK, r#"{"sid":"CABUSY","status":"busy"}"#).into_response(),
            "CALIVE" => {
                (StatusCode::OK, r#"{"sid":"CALIVE","status":"in-progress"}"#).into_response()
            }
            _ => (StatusCode::NOT_FOUND, r#"{"code":20404}"#).into_response(),
        }
    }
    let app = axum::Router::new().route("/2010-04-01/Accounts/{account}/Calls/{call}", get(call));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}")
}

#[tokio::test]
async fn quiet_calls_are_ended_when_twilio_says_they_are_over_and_old_ones_expire() {
    let dir = tempfile::tempdir().unwrap();
    let app = crate::helpers::build(dir.path()).await;
    let state = app.state();
    let with_twilio = state
        .directory
        .add_account(
            "Reconciled",
            Some("AC0123456789abcdef0123456789abc999"),
            Some("t"),
        )
        .await
        .unwrap();
    let without_twilio = state
        .directory
        .add_account("Offline", None, None)
        .await
        .unwrap();
    let now = Utc::now();
    let open =
        |id: &str, account: &evo_core::domain::Account, channel: FlowChannels, age_minutes: i64| {
            let header = SessionHeader {
                account_id: account.id.clone(),
                account_name: account.name.clone(),
                endpoint_id: "num".into(),
                endpoint_name: "Line".into(),
                channel,
                direction: SessionDirections::Incoming,
                call_sid: Some(id.to_string()),
                ..SessionHeader::default()
            };
            reducer::open(
                format!("ses-{id}"),
                header,
                now - chrono::Duration::minutes(age_minutes),
            )
        };
    for session in [
        open("CADONE", &with_twilio, FlowChannels::Voice, 60),
        open("CABUSY", &with_twilio, FlowChannels::Voice, 60),
        open("CALIVE", &with_twilio, FlowChannels::Voice, 60),
        open("CAGONE", &with_twilio, FlowChannels::Voice, 60),
        open("CAFRESH", &with_twilio, FlowChannels::Voice, 1),
        open("CAOLD", &without_twilio, FlowChannels::Voice, 3 * 24 * 60),
        open("CAYOUNG", &without_twilio, FlowChannels::Voice, 60),
        open("CHAT1", &without_twilio, FlowChannels::Chat, 5 * 60),
    ] {
        state.sessions.open(session, vec![]).await.unwrap();
    }
    let config = ReconcileConfig {
        idle_after: Duration::from_secs(10 * 60),
        max_age: Duration::from_secs(24 * 60 * 60),
        chat_idle_after: Duration::from_secs(2 * 60 * 60),
        interval: Duration::from_secs(60),
        twilio_api_base: fake_twilio().await,
    };
    let report = reconcile_once(&state, &config, &reqwest::Client::new(), now).await;
    assert_eq!(report.ended, 5, "{report:?}");

    let outcome = |id: &str| {
        let state = state.clone();
        let id = format!("ses-{id}");
        async move {
            let session = state.sessions.stored(&id).await.unwrap().unwrap();
            (
                session.is_active(),
                session.state.outcome.clone(),
                session.state.log.last().map(|l| l.message.clone()),
            )
        }
    };
    let (active, outcome_done, log) = outcome("CADONE").await;
    assert!(!active);
    assert_eq!(outcome_done.as_deref(), Some("completed"));
    assert_eq!(
        log.as_deref(),
        Some("Session ended: Twilio reports the call completed")
    );
    assert_eq!(outcome("CABUSY").await.1.as_deref(), Some("busy"));
    assert_eq!(outcome("CAGONE").await.1.as_deref(), Some("failed"));
    assert_eq!(outcome("CAOLD").await.1.as_deref(), Some("expired"));
    assert_eq!(outcome("CHAT1").await.1.as_deref(), Some("completed"));
    for live in ["CALIVE", "CAFRESH", "CAYOUNG"] {
        assert!(outcome(live).await.0, "{live} stays active");
    }
    assert_eq!(state.sessions.index().len(), 3);

    // A second pass changes nothing more.
    let again = reconcile_once(&state, &config, &reqwest::Client::new(), now).await;
    assert_eq!(again.ended, 0);
}
