//! Issue 15: `/health/ready` is 503 with a ResponseStatus while the store
//! cannot answer, and 200 again once it can; `/health/live` stays 200.

/// Runs one statement on a running test server's store.
async fn on_store(db: &crate::helpers::TestDb, statement: &str) {
    db.execute(statement).await;
}

#[tokio::test]
async fn readiness_is_503_while_the_store_cannot_answer_and_200_after() {
    let dir = crate::helpers::TestDb::new();
    let app = crate::helpers::build(&dir).await;
    let base = format!("http://{}", app.local_addr());
    tokio::spawn(app.run_until_stopped());
    let http = reqwest::Client::new();
    let ready = || http.get(format!("{base}/health/ready")).send();

    assert_eq!(ready().await.unwrap().status(), 200);

    // The readiness query reads the migrations table: without it the store
    // answers no readiness query, as a database that lost its schema would.
    on_store(
        &dir,
        "alter table _sqlx_migrations rename to migrations_away",
    )
    .await;
    let response = ready().await.unwrap();
    assert_eq!(response.status(), 503);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["responseStatus"]["errorCode"], "ServiceUnavailable");
    let live = http
        .get(format!("{base}/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200, "the process is still alive");

    on_store(
        &dir,
        "alter table migrations_away rename to _sqlx_migrations",
    )
    .await;
    assert_eq!(ready().await.unwrap().status(), 200);
}
