//! What evo-server's unit tests share (their crate does not build
//! evo-store's `testing` feature).

use std::path::Path;

/// Runs `statement` on the SQLite store in `data_dir` over a connection of
/// its own, as another process, node or administrator would: a write the
/// store's own pools did not make.
pub(crate) async fn execute_beside_store(data_dir: &Path, statement: &str) {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let url = format!(
        "sqlite://{}",
        evo_store::sql::sqlite_file(data_dir).display()
    );
    let mut connection = sqlx::AnyConnection::connect(&url).await.unwrap();
    sqlx::query(statement)
        .execute(&mut connection)
        .await
        .unwrap_or_else(|error| panic!("{statement}: {error}"));
}
