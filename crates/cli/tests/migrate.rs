//! `evo-voice migrate` applies the schema explicitly and says what it
//! applied; `serve` refuses a database migrated by a newer build (clear
//! error, non-zero exit), on SQLite and PostgreSQL.

use std::process::{Command, Output, Stdio};

use evo_store::testing::PostgresCluster;
use sqlx::Connection;

/// Runs evo-voice with the store given as environment.
fn evo(store: &[(&str, String)], args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_evo-voice"));
    command.args(args).stdin(Stdio::null());
    for (key, value) in store {
        command.env(key, value);
    }
    command.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

async fn check(store: &[(&str, String)], raw_url: &str, checksum: &str) {
    let first = evo(store, &["migrate"]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let applied = text(&first.stdout);
    let lines: Vec<&str> = applied.lines().collect();
    assert_eq!(lines[0], "applied 0001 initial", "{applied}");
    assert!(lines.len() >= 6, "{applied}");
    assert!(lines.iter().all(|l| l.starts_with("applied ")), "{applied}");

    let again = evo(store, &["migrate"]);
    assert!(again.status.success());
    assert_eq!(text(&again.stdout).trim(), "the schema is up to date");

    // A newer build migrated this database since.
    sqlx::any::install_default_drivers();
    let mut connection = sqlx::AnyConnection::connect(raw_url).await.unwrap();
    sqlx::query(&format!(
        "insert into _sqlx_migrations (version, description, success, checksum, execution_time)
         values (99990001, 'from a newer build', true, {checksum}, 0)"
    ))
    .execute(&mut connection)
    .await
    .unwrap();
    connection.close().await.unwrap();

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut serve_env = store.to_vec();
    serve_env.push(("EVO_PUBLIC_URL", format!("http://127.0.0.1:{port}")));
    let serve = evo(
        &serve_env,
        &["serve", "--bind", &format!("127.0.0.1:{port}")],
    );
    assert_eq!(serve.status.code(), Some(1), "serve must refuse to start");
    let error = text(&serve.stderr);
    assert!(
        error.contains("the database schema is newer than this build of evo-voice knows")
            && error.contains("99990001"),
        "{error}"
    );
    let migrate = evo(store, &["migrate"]);
    assert_eq!(migrate.status.code(), Some(1));
    assert!(text(&migrate.stderr).contains("schema is newer"));
}

#[tokio::test]
async fn migrate_and_a_newer_schema_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let raw = evo_store::sql::sqlite_url(&data);
    check(
        &[("EVO_DATA_DIR", data.display().to_string())],
        &raw,
        "x'00'",
    )
    .await;
}

#[tokio::test]
async fn migrate_and_a_newer_schema_on_postgres() {
    let cluster = PostgresCluster::start();
    let url = cluster.create_database("evo_cli_migrate");
    check(
        &[("EVO_DATABASE_URL", url.clone())],
        &url,
        "decode('00', 'hex')",
    )
    .await;
}
