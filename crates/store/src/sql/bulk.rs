//! `Store::load_ended_sessions` on SQL: the rows `commit` leaves after each
//! session's life (`crate::bulk_changes`; since migration 0013 its log
//! lines are `session_log` rows, see `crate::log`), written in multi-row statements,
//! hundreds of sessions a statement. `commit` runs about ten statements a
//! session, and on SQLite each is a round trip to sqlx's worker thread:
//! that, not SQLite's own work, held `evo-voice bench`'s history growth to
//! about 600 sessions a second (docs/benchmarks.md, "History at
//! H=1,000,000"). The conformance suite checks these rows against the
//! reference (the same sessions through `commit`).

use std::collections::{BTreeMap, HashSet};

use chrono::Utc;
use sqlx::Row;

use super::{iso, Backend, SqlStore};
use crate::history::{Columns, LOG_TEXT};
use crate::log::Line;
use crate::{EndedSession, StoreError, StoreResult};

/// Parameters a statement, at most. SQLite finds a `$n` parameter's name
/// by walking the statement's list of them (`sqlite3_bind_parameter_name`,
/// which sqlx calls for each), so binding costs the square of their
/// number: 5,600 a statement spent half the load there, 480 a tenth.
const PARAMS: usize = 128;

/// Sessions an iteration: the conflict check's statement.
const CHUNK: usize = PARAMS;

/// Rows of `columns` values a statement.
fn rows_per_statement(columns: usize) -> usize {
    (PARAMS / columns).max(1)
}

/// One session's values, computed as `commit` and `history::write` do
/// (the snapshot without log and dedupe hashes, `history::Columns`).
struct Rows<'a> {
    ended: &'a EndedSession,
    snapshot: String,
    history: Columns,
    /// (dedupe key, at, JSON), first of each dedupe key, in order.
    events: Vec<(String, String, String)>,
}

impl<'a> Rows<'a> {
    fn of(ended: &'a EndedSession) -> StoreResult<Rows<'a>> {
        let session = &ended.session;
        let corrupt = |error: serde_json::Error| StoreError::Corrupt(error.to_string());
        let mut seen = HashSet::new();
        let mut events = Vec::with_capacity(ended.events.len());
        for event in &ended.events {
            let key = event.dedupe_key();
            if seen.insert(key.clone()) {
                events.push((
                    key,
                    iso(event.at),
                    serde_json::to_string(event).map_err(corrupt)?,
                ));
            }
        }
        Ok(Rows {
            ended,
            snapshot: serde_json::to_string(&session.snapshot()).map_err(corrupt)?,
            history: Columns::of(session)?,
            events,
        })
    }

    fn id(&self) -> &str {
        self.ended.session.id().as_str()
    }
}

/// `($1, $2, …), (…)`: `rows` tuples of `columns` placeholders.
fn values(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|row| {
            let marks: Vec<String> = (1..=columns)
                .map(|column| format!("${}", row * columns + column))
                .collect();
            format!("({})", marks.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl SqlStore {
    pub(super) async fn load_ended(&self, sessions: &[EndedSession]) -> StoreResult<()> {
        if sessions.is_empty() {
            return Ok(());
        }
        let mut ids = HashSet::new();
        if let Some(twice) = sessions
            .iter()
            .find(|ended| !ids.insert(ended.session.id().as_str()))
        {
            return Err(StoreError::Conflict(twice.session.id().to_string()));
        }
        let rows: Vec<Rows> = sessions.iter().map(Rows::of).collect::<StoreResult<_>>()?;
        let now = iso(Utc::now());
        let _turn = self.writer_turn().await;
        let mut tx = self.begin_write().await?;
        for chunk in rows.chunks(CHUNK) {
            let sql = format!(
                "select session_id from session where session_id in ({})",
                (1..=chunk.len())
                    .map(|i| format!("${i}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let mut query = sqlx::query(&sql);
            for row in chunk {
                query = query.bind(row.id());
            }
            if let Some(stored) = query.fetch_optional(&mut *tx).await? {
                return Err(StoreError::Conflict(stored.try_get("session_id")?));
            }

            let postgres = self.backend == Backend::Postgres;
            let columns = if postgres { 17 } else { 16 };
            for part in chunk.chunks(rows_per_statement(columns)) {
                let sql = format!(
                    "insert into session (session_id, account_id, ended, version, last_activity, snapshot, written_at,
                         log_rows, started_at, ended_at, customer_id, endpoint_id, from_address, to_address, info,
                         info_log_at{})
                     values {}",
                    if postgres { ", log_text" } else { "" },
                    values(part.len(), columns)
                );
                let mut query = sqlx::query(&sql);
                for row in part {
                    let session = &row.ended.session;
                    query = query
                        .bind(row.id())
                        .bind(session.header().account_id.as_str())
                        .bind(!session.is_active())
                        .bind(session.version() as i64)
                        .bind(iso(session.last_activity()))
                        .bind(row.snapshot.as_str())
                        .bind(now.as_str())
                        // The log is in `session_log` rows.
                        .bind(1_i64)
                        .bind(row.history.started_at.as_str())
                        .bind(row.history.ended_at.as_deref())
                        .bind(session.header().customer_id.as_deref())
                        .bind(session.header().endpoint_id.as_str())
                        .bind(row.history.from.as_str())
                        .bind(row.history.to.as_str())
                        .bind(row.history.info_json.as_str())
                        .bind(row.history.info_log_at);
                    if postgres {
                        query = query.bind(LOG_TEXT);
                    }
                }
                query.execute(&mut *tx).await?;
            }

            // The log lines as `crate::log::write` stores them, from
            // `log_stored()` on, many sessions a statement.
            let lines: Vec<Line> = chunk
                .iter()
                .flat_map(|row| {
                    let session = &row.ended.session;
                    let from = session.log_stored();
                    session.state().log[from..]
                        .iter()
                        .enumerate()
                        .map(move |(i, entry)| (row.id(), from + i, entry))
                })
                .collect();
            crate::log::insert(&mut tx, &lines, rows_per_statement(4)).await?;
            let from: Vec<(&str, usize)> = chunk
                .iter()
                .filter(|row| {
                    let session = &row.ended.session;
                    session.log_stored() < session.state().log.len()
                })
                .map(|row| (row.id(), row.ended.session.log_stored()))
                .collect();
            crate::log::index(&mut tx, self.backend, &from, rows_per_statement(2)).await?;

            let events: Vec<(&Rows, usize, &(String, String, String))> = chunk
                .iter()
                .flat_map(|row| {
                    row.events
                        .iter()
                        .enumerate()
                        .map(move |(i, event)| (row, i + 1, event))
                })
                .collect();
            for part in events.chunks(rows_per_statement(6)) {
                let sql = format!(
                    "insert into session_event (session_id, position, dedupe_key, at, event, committed_at) values {}",
                    values(part.len(), 6)
                );
                let mut query = sqlx::query(&sql);
                for (row, position, (key, at, json)) in part {
                    query = query
                        .bind(row.id())
                        .bind(*position as i64)
                        .bind(key.as_str())
                        .bind(at.as_str())
                        .bind(json.as_str())
                        .bind(now.as_str());
                }
                query.execute(&mut *tx).await?;
            }

            let endpoints: Vec<(&Rows, String)> = chunk
                .iter()
                .flat_map(|row| {
                    row.ended
                        .session
                        .endpoint_ids()
                        .into_iter()
                        .map(move |id| (row, id.to_string()))
                })
                .collect();
            for part in endpoints.chunks(rows_per_statement(5)) {
                let sql = format!(
                    "insert into session_endpoint (endpoint_id, started_at, session_id, account_id, ended) values {}",
                    values(part.len(), 5)
                );
                let mut query = sqlx::query(&sql);
                for (row, endpoint_id) in part {
                    let session = &row.ended.session;
                    query = query
                        .bind(endpoint_id.as_str())
                        .bind(row.history.started_at.as_str())
                        .bind(row.id())
                        .bind(session.header().account_id.as_str())
                        .bind(session.state().ended);
                }
                query.execute(&mut *tx).await?;
            }

            if !postgres {
                // The search row's rowid is its session row's.
                for part in chunk.chunks(rows_per_statement(4)) {
                    let sql = format!(
                        "with v (session_id, from_address, to_address, log_text) as (values {})
                         insert into session_search (rowid, from_address, to_address, log_text)
                         select s.rowid, v.from_address, v.to_address, v.log_text
                         from v join session s on s.session_id = v.session_id",
                        values(part.len(), 4)
                    );
                    let mut query = sqlx::query(&sql);
                    for row in part {
                        query = query
                            .bind(row.id())
                            .bind(row.history.from.as_str())
                            .bind(row.history.to.as_str())
                            .bind(LOG_TEXT);
                    }
                    query.execute(&mut *tx).await?;
                }
            }

            // A key leads to the newest session that claimed it: the last
            // one here (one statement may not touch a key twice).
            let mut keys: BTreeMap<&str, &str> = BTreeMap::new();
            for row in chunk {
                for key in &row.ended.keys {
                    keys.insert(key.as_str(), row.id());
                }
            }
            let keys: Vec<(&str, &str)> = keys.into_iter().collect();
            for part in keys.chunks(rows_per_statement(2)) {
                let sql = format!(
                    "insert into session_key (key, session_id) values {}
                     on conflict (key) do update set session_id = excluded.session_id",
                    values(part.len(), 2)
                );
                let mut query = sqlx::query(&sql);
                for (key, session_id) in part {
                    query = query.bind(*key).bind(*session_id);
                }
                query.execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }
}
