//! The change feed between nodes sharing PostgreSQL: every commit notifies
//! (`pg_notify`, inside its transaction, so only durable changes are
//! announced) the ids and versions of the sessions it wrote, and each node
//! listens (`LISTEN`) on its own connection.
//!
//! Payload: one `{version} {session id}` line per session, several lines
//! per notification, each notification under [`MAX_PAYLOAD`] bytes
//! (PostgreSQL refuses 8000 and more). Notifications are not a log: a
//! listener that loses its connection may miss some, so
//! [`ChangeListener::recv`] says so (`Lost`) and the node then reads what
//! was written meanwhile (`Store::sessions_written_since`).

use evo_core::ids::SessionId;
use evo_core::session::Session;
use std::time::Duration;

use sqlx::postgres::{PgListener, PgPoolOptions};

use crate::sql::CHANGE_CHANNEL;
use crate::StoreResult;

/// Largest payload sent, well under PostgreSQL's 8000-byte limit.
pub const MAX_PAYLOAD: usize = 7000;

/// Most notifications taken together by one `recv`.
const MAX_BATCH: usize = 64;

/// How long connecting the listener may take before it is retried.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// A session another writer (or this node) committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeNotice {
    pub session_id: SessionId,
    pub version: u64,
}

/// What the listener heard.
#[derive(Debug)]
pub enum Heard {
    /// Sessions committed (one notification's worth).
    Changed(Vec<ChangeNotice>),
    /// The connection was lost: notifications may have been missed. The
    /// next `recv` reconnects (or fails while the database is away).
    Lost,
}

/// The notification payloads for a batch of committed sessions.
pub fn payloads<'a>(sessions: impl Iterator<Item = &'a Session>) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for session in sessions {
        let line = format!("{} {}\n", session.version(), session.id());
        if !current.is_empty() && current.len() + line.len() > MAX_PAYLOAD {
            out.push(std::mem::take(&mut current));
        }
        current.push_str(&line);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Parses a payload; malformed lines are skipped (logged), as they can
/// only come from another program notifying on the channel.
pub fn parse_payload(payload: &str) -> Vec<ChangeNotice> {
    payload
        .lines()
        .filter(|line| !line.is_empty())
        .filter_map(|line| {
            let parsed = line.split_once(' ').and_then(|(version, id)| {
                Some(ChangeNotice {
                    version: version.parse().ok()?,
                    session_id: id.to_string().into(),
                })
            });
            if parsed.is_none() {
                tracing::warn!(line, "ignoring a malformed change notification");
            }
            parsed
        })
        .collect()
}

/// A `LISTEN` on the change channel, on a connection of its own.
pub struct ChangeListener {
    inner: PgListener,
}

impl ChangeListener {
    /// Connects and listens; once this returns, every later commit is heard.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        // A pool of one with a short wait: `PgListener::connect`'s default
        // pool retries for 30 s, with growing pauses, while the database
        // is away, which would delay the fallback and the catch-up.
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(CONNECT_TIMEOUT)
            .max_lifetime(None)
            .idle_timeout(None)
            .connect_lazy(url)?;
        let mut inner = PgListener::connect_with(&pool).await?;
        inner.listen(CHANGE_CHANNEL).await?;
        Ok(ChangeListener { inner })
    }

    /// Checks the listener's own connection (a silently cut connection
    /// would otherwise wait for notifications forever).
    pub async fn ping(&mut self) -> StoreResult<()> {
        sqlx::query("select 1").execute(&mut self.inner).await?;
        Ok(())
    }

    /// The next notification, with those already buffered behind it (so a
    /// burst is read in one go), or `Lost` when the connection dropped. An
    /// error means reconnecting failed (the database is away). Cancel-safe
    /// (sqlx consumes a message only once it is whole).
    pub async fn recv(&mut self) -> StoreResult<Heard> {
        let Some(first) = self.inner.try_recv().await? else {
            return Ok(Heard::Lost);
        };
        let mut notices = parse_payload(first.payload());
        for _ in 1..MAX_BATCH {
            match self.inner.next_buffered() {
                Some(next) => notices.extend(parse_payload(next.payload())),
                None => break,
            }
        }
        Ok(Heard::Changed(notices))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_stay_under_the_limit_and_round_trip() {
        let cast = evo_core::scenario::Cast {
            account_id: "acct".into(),
            account_name: "Acme".into(),
            customer: None,
            breadcrumb: Vec::new(),
            number: ("num".into(), "+15550100".into(), "Main".into()),
            agents: vec![("usr".into(), "alice".into(), "Alice".into())],
            caller: "+15557770000".into(),
        };
        let header = evo_core::scenario::build(
            evo_core::scenario::Kind::InboundAnswered,
            &cast,
            "FEED",
            chrono::Utc::now(),
        );
        let sessions: Vec<Session> = (0..400)
            .map(|i| {
                let session = evo_core::reducer::open(
                    format!("ses-acct-{i:04}-CA0123456789abcdef0123456789abcdef"),
                    header.header.clone(),
                    header.opened_at,
                );
                // A session at version `i`, as a stored snapshot would
                // give it back (only the reducer changes versions).
                let mut stored = serde_json::to_value(&session).unwrap();
                stored["version"] = i.into();
                serde_json::from_value(stored).unwrap()
            })
            .collect();
        let payloads = payloads(sessions.iter());
        assert!(
            payloads.len() > 1,
            "400 sessions need several notifications"
        );
        let mut heard = Vec::new();
        for payload in &payloads {
            assert!(payload.len() <= MAX_PAYLOAD, "{} bytes", payload.len());
            heard.extend(parse_payload(payload));
        }
        assert_eq!(heard.len(), 400);
        assert_eq!(heard[7].version, 7);
        assert_eq!(heard[7].session_id, sessions[7].id().as_str());
    }

    #[test]
    fn malformed_lines_are_skipped() {
        let heard = parse_payload("3 ses-a\nnonsense\nx ses-b\n4 ses-c");
        assert_eq!(
            heard,
            vec![
                ChangeNotice {
                    session_id: "ses-a".into(),
                    version: 3
                },
                ChangeNotice {
                    session_id: "ses-c".into(),
                    version: 4
                }
            ]
        );
    }
}
