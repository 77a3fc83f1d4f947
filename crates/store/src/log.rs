//! A session's log as rows (migration `0013_session_log_rows.sql`), so that
//! one more event writes its own lines instead of the whole log.
//!
//! - `session_log (session_id, position, at, message)`: line `position` of
//!   the session's log (0-based, contiguous). A commit deletes the rows
//!   from `Session::log_stored()` on and inserts the session's lines from
//!   there: an appended line is one insert; a line the reducer inserted
//!   mid-log (an out-of-order event re-folding its stream) rewrites the
//!   rows after it.
//! - the snapshot (`Session::snapshot`) and the history row's `info` leave
//!   the log out (the snapshot also the dedupe hashes, one per event: a
//!   load rebuilds them from `session_event`'s keys); `session.log_rows =
//!   1` says so, and `info_log_at` is the
//!   byte offset in `info` (inside `"log":[]`) where the rendered lines go.
//!   Rows written before 0013 (`log_rows = 0`, `info_log_at` null) carry the
//!   log inline and are read as they are; their session's next commit
//!   writes every line as rows.
//! - SQLite: `session_log_search` (FTS5 trigram, rowid = the line's rowid)
//!   serves contains-search over lines; PostgreSQL: a trigram index on
//!   `session_log.message`.

use std::collections::HashMap;

use evo_core::session::{LogEntry, Session};
use sqlx::Row;

use crate::sql::{iso, Backend};
use crate::{StoreError, StoreResult};

/// Rows per insert statement (4 arguments each, under both databases'
/// argument limits).
const CHUNK: usize = 200;

/// The log lines a commit writes: those from the session's stored mark
/// on, with the mark. Lines below the mark are stored; a session loaded
/// for one event holds every line from its mark on (`Session::elide_log`),
/// so a session that does not is corrupt, not written short.
pub(crate) fn unstored(session: &Session) -> StoreResult<(usize, &[LogEntry])> {
    let from = session.log_stored();
    let log = session.log_from(from).ok_or_else(|| {
        StoreError::Corrupt(format!(
            "session {}: the lines from {from} on are not held to be written",
            session.id()
        ))
    })?;
    Ok((from, log))
}

/// Writes the session's log lines from `Session::log_stored()` on, in the
/// commit's transaction.
pub(crate) async fn write(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: Backend,
    session: &Session,
) -> StoreResult<()> {
    let id = session.id().as_str();
    let (from, log) = unstored(session)?;
    let from_position = from as i64;
    if backend == Backend::Sqlite {
        sqlx::query(
            "delete from session_log_search where rowid in
                 (select rowid from session_log where session_id = $1 and position >= $2)",
        )
        .bind(id)
        .bind(from_position)
        .execute(&mut **tx)
        .await?;
    }
    sqlx::query("delete from session_log where session_id = $1 and position >= $2")
        .bind(id)
        .bind(from_position)
        .execute(&mut **tx)
        .await?;
    let lines: Vec<Line> = log
        .iter()
        .enumerate()
        .map(|(i, entry)| (id, from + i, entry))
        .collect();
    insert(tx, &lines, CHUNK).await?;
    if !log.is_empty() {
        index(tx, backend, &[(id, from)], 1).await?;
    }
    Ok(())
}

/// A log line to store: its session, its position, the line.
pub(crate) type Line<'a> = (&'a str, usize, &'a LogEntry);

/// Inserts `lines` into `session_log`, `per_statement` rows a statement.
pub(crate) async fn insert(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    lines: &[Line<'_>],
    per_statement: usize,
) -> StoreResult<()> {
    for chunk in lines.chunks(per_statement.max(1)) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| {
                let n = i * 4;
                format!("(${}, ${}, ${}, ${})", n + 1, n + 2, n + 3, n + 4)
            })
            .collect();
        let sql = format!(
            "insert into session_log (session_id, position, at, message) values {}",
            values.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for (id, position, entry) in chunk {
            query = query
                .bind(*id)
                .bind(*position as i64)
                .bind(iso(entry.at))
                .bind(entry.message.as_str());
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// SQLite: adds the search rows of each session's lines from the given
/// position on (`per_statement` sessions a statement); PostgreSQL's index
/// follows the table by itself.
pub(crate) async fn index(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: Backend,
    from: &[(&str, usize)],
    per_statement: usize,
) -> StoreResult<()> {
    if backend != Backend::Sqlite {
        return Ok(());
    }
    for chunk in from.chunks(per_statement.max(1)) {
        let conditions: Vec<String> = (0..chunk.len())
            .map(|i| {
                let n = i * 2;
                format!("(session_id = ${} and position >= ${})", n + 1, n + 2)
            })
            .collect();
        let sql = format!(
            "insert into session_log_search (rowid, message)
             select rowid, message from session_log where {}",
            conditions.join(" or ")
        );
        let mut query = sqlx::query(&sql);
        for (id, position) in chunk {
            query = query.bind(*id).bind(*position as i64);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// A read transaction in which a snapshot (or history row), its log rows
/// and its event keys agree: SQLite's reads one database snapshot;
/// PostgreSQL's default (read committed) takes one per statement, so it is
/// asked for repeatable read.
pub(crate) async fn begin_read(
    pool: &sqlx::AnyPool,
) -> StoreResult<sqlx::Transaction<'static, sqlx::Any>> {
    let mut tx = pool.begin().await?;
    if tx.backend_name() == "PostgreSQL" {
        sqlx::query("set transaction isolation level repeatable read, read only")
            .execute(&mut *tx)
            .await?;
    }
    Ok(tx)
}

/// Deletes a session's log rows (pruning), in the caller's transaction.
pub(crate) async fn delete(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: Backend,
    session_id: &str,
) -> StoreResult<()> {
    if backend == Backend::Sqlite {
        // The lines' search rows, indexed or still queued (migration 0025).
        for statement in [
            "delete from session_log_search where rowid in
                 (select rowid from session_log where session_id = $1)",
            "delete from session_log_search_pending where row_id in
                 (select rowid from session_log where session_id = $1)",
        ] {
            sqlx::query(statement)
                .bind(session_id)
                .execute(&mut **tx)
                .await?;
        }
    }
    sqlx::query("delete from session_log where session_id = $1")
        .bind(session_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// How many log rows a session has: the last row's position plus one (one
/// seek on the primary key; positions are contiguous from 0).
pub(crate) async fn count(conn: &mut sqlx::AnyConnection, id: &str) -> StoreResult<usize> {
    let last: Option<i64> = sqlx::query(
        "select position from session_log where session_id = $1 order by position desc limit 1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?
    .map(|row| row.try_get("position"))
    .transpose()?;
    Ok(last.map_or(0, |last| last as usize + 1))
}

/// The logs of `ids` (sessions without rows left out), each in order.
pub(crate) async fn read(
    conn: &mut sqlx::AnyConnection,
    ids: &[&str],
) -> StoreResult<HashMap<String, Vec<LogEntry>>> {
    let rows = crate::sql::select_in_chunks(
        conn,
        "select session_id, position, at, message from session_log where session_id in",
        ids.iter().copied(),
        |row| {
            let at: String = row.try_get("at")?;
            let at = chrono::DateTime::parse_from_rfc3339(&at)
                .map_err(|error| StoreError::Corrupt(format!("log line time {at:?}: {error}")))?
                .with_timezone(&chrono::Utc);
            Ok((
                row.try_get::<String, _>("session_id")?,
                row.try_get::<i64, _>("position")?,
                LogEntry {
                    at,
                    message: row.try_get("message")?,
                },
            ))
        },
    )
    .await?;
    let mut lines: HashMap<String, Vec<(i64, LogEntry)>> = HashMap::new();
    for (session_id, position, entry) in rows {
        lines.entry(session_id).or_default().push((position, entry));
    }
    Ok(lines
        .into_iter()
        .map(|(session_id, mut lines)| {
            lines.sort_unstable_by_key(|(position, _)| *position);
            (
                session_id,
                lines.into_iter().map(|(_, entry)| entry).collect(),
            )
        })
        .collect())
}

/// The dedupe keys of the events logged for `ids`.
async fn read_keys(
    conn: &mut sqlx::AnyConnection,
    ids: &[&str],
) -> StoreResult<HashMap<String, Vec<String>>> {
    let rows = crate::sql::select_in_chunks(
        conn,
        "select session_id, dedupe_key from session_event where session_id in",
        ids.iter().copied(),
        |row| {
            Ok((
                row.try_get::<String, _>("session_id")?,
                row.try_get("dedupe_key")?,
            ))
        },
    )
    .await?;
    let mut keys: HashMap<String, Vec<String>> = HashMap::new();
    for (session_id, key) in rows {
        keys.entry(session_id).or_default().push(key);
    }
    Ok(keys)
}

/// A stored snapshot and whether its log is in rows (and its dedupe keys
/// only in the event log).
pub(crate) struct StoredSnapshot {
    pub session: Session,
    pub log_rows: bool,
}

/// Parses a `select snapshot, log_rows` row.
/// One session's stored snapshot, read on `conn` (a read transaction, so
/// that what the caller reads next agrees with it); none when unknown.
pub(crate) async fn read_snapshot(
    conn: &mut sqlx::AnyConnection,
    id: &str,
) -> StoreResult<Option<StoredSnapshot>> {
    sqlx::query("select snapshot, log_rows from session where session_id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?
        .map(|row| snapshot_from_row(&row))
        .transpose()
}

pub(crate) fn snapshot_from_row(row: &sqlx::any::AnyRow) -> StoreResult<StoredSnapshot> {
    let snapshot: String = row.try_get("snapshot")?;
    let log_rows: i64 = row.try_get("log_rows")?;
    let session = serde_json::from_str(&snapshot)
        .map_err(|error| StoreError::Corrupt(format!("session snapshot: {error}")))?;
    Ok(StoredSnapshot {
        session,
        log_rows: log_rows != 0,
    })
}

/// Completes sessions read from snapshots: those whose log is in rows get
/// it back (a loaded session always carries its whole log).
pub(crate) async fn complete(
    conn: &mut sqlx::AnyConnection,
    snapshots: Vec<StoredSnapshot>,
) -> StoreResult<Vec<Session>> {
    let ids: Vec<&str> = snapshots
        .iter()
        .filter(|s| s.log_rows)
        .map(|s| s.session.id().as_str())
        .collect();
    let mut logs = if ids.is_empty() {
        HashMap::new()
    } else {
        read(conn, &ids).await?
    };
    // A compact session's dedupe keys are its event log's (the snapshot
    // leaves them out); a session carrying its events has them.
    let compact: Vec<&str> = snapshots
        .iter()
        .filter(|s| s.log_rows && !s.session.carries_events())
        .map(|s| s.session.id().as_str())
        .collect();
    let mut keys = if compact.is_empty() {
        HashMap::new()
    } else {
        read_keys(conn, &compact).await?
    };
    Ok(snapshots
        .into_iter()
        .map(|stored| {
            let mut session = stored.session;
            if stored.log_rows {
                let log = logs.remove(session.id().as_str()).unwrap_or_default();
                session.restore_log(log);
                let keys = keys.remove(session.id().as_str()).unwrap_or_default();
                session.restore_seen(keys.iter().map(String::as_str));
            }
            session
        })
        .collect())
}

/// What a history row's `info` says before the log's lines.
const LOG_FIELD: &str = "\"log\":[]";

/// The rendered `SessionInfo` without its log lines, and the byte offset
/// where they go (inside `"log":[]`). `None` when the marker is not found
/// exactly once (then the caller stores the whole rendering).
pub(crate) fn split_info(info_json: &str) -> Option<usize> {
    // A `"` inside a JSON string is escaped, and no object of SessionInfo
    // but the top level has a `log` member (a map's values are strings), so the marker is the field.
    let at = info_json.find(LOG_FIELD)?;
    (info_json.rfind(LOG_FIELD) == Some(at)).then_some(at + LOG_FIELD.len() - 1)
}

/// Puts the rendered lines into a history row's `info` at `at`.
pub(crate) fn splice_info(
    session_id: &str,
    info_json: &str,
    at: usize,
    log: &[LogEntry],
) -> StoreResult<String> {
    let (head, tail) = info_json
        .split_at_checked(at)
        .filter(|(head, tail)| {
            head.ends_with(&LOG_FIELD[..LOG_FIELD.len() - 1]) && tail.starts_with(']')
        })
        .ok_or_else(|| {
            StoreError::Corrupt(format!(
                "session {session_id}: the history row's log offset {at} is not in its Log field"
            ))
        })?;
    let mut out = Vec::with_capacity(info_json.len() + log.len() * 96);
    out.extend_from_slice(head.as_bytes());
    for (index, entry) in log.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&evo_wire::json::to_json(&entry.to_info()));
    }
    out.extend_from_slice(tail.as_bytes());
    String::from_utf8(out).map_err(|error| StoreError::Corrupt(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_is_found_once_and_spliced_back() {
        let info = r#"{"id":"a","displayName":"\"log\":[]","log":[],"members":[]}"#;
        let at = split_info(info).unwrap();
        let at_time = chrono::DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let log = vec![
            LogEntry {
                at: at_time,
                message: "one".into(),
            },
            LogEntry {
                at: at_time,
                message: "two".into(),
            },
        ];
        let full = splice_info("a", info, at, &log).unwrap();
        assert_eq!(
            full,
            r#"{"id":"a","displayName":"\"log\":[]","log":[{"date":"2026-11-25T10:00:00.000Z","message":"one"},{"date":"2026-11-25T10:00:00.000Z","message":"two"}],"members":[]}"#
        );
        assert!(splice_info("a", info, at - 1, &log).is_err());
        assert_eq!(split_info(r#"{"log":[],"log":[]}"#), None);
    }
}
