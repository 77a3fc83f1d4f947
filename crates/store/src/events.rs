//! The durable Server Events log (migration 0010): per-user message ids
//! assigned by the database, the messages a reconnecting client may resume
//! from, which users are followed, and which nodes are writing.
//!
//! Invariants:
//! - a user's ids only increase: each is `event_feed.last_id + 1`, taken in
//!   the writing transaction (on PostgreSQL the row lock orders two nodes);
//! - every message of a user with an id above `floor` is in `event_message`;
//!   whatever cannot be replayed (pruned, not followed, lost in a crash)
//!   lies at or below the floor, and a resume from there gets a snapshot;
//! - raising the floor "burns" one id (`last_id + 1`), so an id a client
//!   already holds is always below a raised floor; after an unclean stop
//!   it skips [`UNCLEAN_MARGIN`] ids, since on SQLite the log is written
//!   without an fsync per commit and a power cut may lose ids already
//!   delivered (never reissued: they stay below the new floor).

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use evo_core::ids::{AccountId, UserId};
use sha2::{Digest, Sha256};
use sqlx::{AnyPool, Row};

use crate::sql::{iso, Backend};
use crate::{StoreError, StoreResult};

/// A user whose messages are written (the hub follows it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFeed {
    pub user_id: UserId,
    pub account_id: AccountId,
    /// Whether the user may join the account channel (a manager).
    pub manager: bool,
}

/// Where a user's log stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedPosition {
    /// Every message with an id above this is kept.
    pub floor: u64,
    /// The user's last id.
    pub last_id: u64,
}

/// A message for one user, before the store numbers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEventMessage {
    pub user_id: UserId,
    /// Unique per user: a second write (another node) gets the first's id.
    pub dedupe: String,
    pub selector: String,
    pub account_only: bool,
    /// The body, or with `shared` the text around the shared parts.
    pub body: String,
    /// The session and version it tells of, if any: it is not written when
    /// a message of a later version of that session is already there.
    pub session: Option<(String, u64)>,
    /// Parts of the body stored once for every message that carries them
    /// (migration 0018): the body is `body[..at]`, the parts joined by
    /// `,`, then `body[at..]`.
    pub shared: Option<SharedParts>,
}

/// Parts of a message's body that other messages carry too (a session's
/// JSON at one version: its `SessionInfoChanged`, the call-state message
/// beside it, every user's copy, each `ActiveSessionsChanged` holding it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedParts {
    /// The byte offset in `body` where the parts go.
    pub at: usize,
    pub parts: Vec<Bytes>,
}

impl NewEventMessage {
    /// The body as a client receives it.
    pub fn full_body(&self) -> String {
        match &self.shared {
            None => self.body.clone(),
            Some(shared) => {
                let at = shared.at.min(self.body.len());
                let (head, tail) = self.body.as_bytes().split_at(at);
                let mut out = Vec::with_capacity(
                    self.body.len() + shared.parts.iter().map(|p| p.len() + 1).sum::<usize>(),
                );
                out.extend_from_slice(head);
                for (i, part) in shared.parts.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(part);
                }
                out.extend_from_slice(tail);
                String::from_utf8_lossy(&out).into_owned()
            }
        }
    }
}

/// Where a stored message's shared parts go in its `body` (migration
/// 0018): JSON never holds a raw U+0001.
const PART_MARK: char = '\u{1}';

/// A message as stored: its `body` column and its `body_keys`.
struct StoredForm<'a> {
    body: std::borrow::Cow<'a, str>,
    keys: Option<String>,
}

/// The batch's messages as stored, and the parts to write into
/// `event_body` (each once, in first use order).
type Shaped<'a> = (Vec<StoredForm<'a>>, Vec<(String, &'a str)>);

/// A part's key: the minute it is written (pruning goes by it) and 128
/// bits of the SHA-256 of its bytes.
fn body_key(minute: i64, part: &[u8]) -> String {
    use std::fmt::Write;
    let digest = Sha256::digest(part);
    let mut key = format!("{minute:010}");
    for byte in &digest[..16] {
        let _ = write!(key, "{byte:02x}");
    }
    key
}

/// The first key of a minute: bodies below it were written before it.
fn minute_floor(minute: i64) -> String {
    format!("{minute:010}")
}

fn minute_of(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(60)
}

fn shape(messages: &[NewEventMessage], at: DateTime<Utc>) -> Shaped<'_> {
    let minute = minute_of(at);
    // One hash per part however many messages share its bytes.
    let mut keyed: HashMap<(*const u8, usize), String> = HashMap::new();
    let mut written: HashSet<String> = HashSet::new();
    let mut bodies = Vec::new();
    let mut forms = Vec::with_capacity(messages.len());
    for message in messages {
        // Shared only when every part is text: each part's `&str` is taken
        // here, once, so what is written is exactly what was checked.
        let shareable = message.shared.as_ref().and_then(|shared| {
            let fits = !shared.parts.is_empty()
                && message.body.is_char_boundary(shared.at)
                && !message.body.contains(PART_MARK);
            let texts = fits.then(|| {
                shared
                    .parts
                    .iter()
                    .map(|p| std::str::from_utf8(p).ok())
                    .collect::<Option<Vec<&str>>>()
            })??;
            Some((shared, texts))
        });
        let Some((shared, texts)) = shareable else {
            forms.push(StoredForm {
                body: match message.shared {
                    None => std::borrow::Cow::Borrowed(message.body.as_str()),
                    Some(_) => std::borrow::Cow::Owned(message.full_body()),
                },
                keys: None,
            });
            continue;
        };
        let mut keys = String::new();
        for (part, text) in shared.parts.iter().zip(texts) {
            let key = keyed
                .entry((part.as_ptr(), part.len()))
                .or_insert_with(|| body_key(minute, part))
                .clone();
            if written.insert(key.clone()) {
                bodies.push((key.clone(), text));
            }
            if !keys.is_empty() {
                keys.push(' ');
            }
            keys.push_str(&key);
        }
        let (head, tail) = message.body.split_at(shared.at);
        forms.push(StoredForm {
            body: std::borrow::Cow::Owned(format!("{head}{PART_MARK}{tail}")),
            keys: Some(keys),
        });
    }
    (forms, bodies)
}

/// A stored message's body as written: `body` itself, or its parts (read
/// into `parts`) put in at the mark.
fn assemble(
    body: String,
    keys: Option<&str>,
    parts: &HashMap<String, String>,
) -> StoreResult<String> {
    let Some(keys) = keys else {
        return Ok(body);
    };
    let (head, tail) = body
        .split_once(PART_MARK)
        .ok_or_else(|| StoreError::Corrupt("an event message without its parts' mark".into()))?;
    let mut out = String::with_capacity(body.len() + 4096);
    out.push_str(head);
    for (i, key) in keys.split(' ').enumerate() {
        if i > 0 {
            out.push(',');
        }
        let part = parts
            .get(key)
            .ok_or_else(|| StoreError::Corrupt(format!("event body {key} is missing")))?;
        out.push_str(part);
    }
    out.push_str(tail);
    Ok(out)
}

/// Writes the batch's parts (one statement for up to 100; each bound as
/// a parameter, not escaped into JSON), on `conn` (in the caller's
/// transaction, if any). Every part of the batch, also one only a stale
/// message or one written already carries: such a part is pruned by its
/// minute like the rest.
async fn write_parts(conn: &mut sqlx::AnyConnection, parts: &[(String, &str)]) -> StoreResult<()> {
    for chunk in parts.chunks(100) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2))
            .collect();
        let sql = format!(
            "insert into event_body (key, body) values {} on conflict (key) do nothing",
            rows.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for (key, body) in chunk {
            query = query.bind(key.as_str()).bind(*body);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Reads the parts named by `keys` (a few statements of at most 100).
async fn read_parts(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    keys: &[&str],
) -> StoreResult<HashMap<String, String>> {
    let mut parts = HashMap::with_capacity(keys.len());
    for chunk in keys.chunks(100) {
        let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "select key, body from event_body where key in ({})",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for key in chunk {
            query = query.bind(*key);
        }
        for row in query.fetch_all(&mut **tx).await? {
            parts.insert(row.try_get("key")?, row.try_get("body")?);
        }
    }
    Ok(parts)
}

/// A numbered message as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEventMessage {
    pub id: u64,
    pub selector: String,
    pub account_only: bool,
    pub body: String,
}

/// A user's messages after an id, with the log's position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventReplay {
    pub position: FeedPosition,
    pub messages: Vec<StoredEventMessage>,
}

/// Ids skipped after an unclean stop: more than a power cut can lose.
pub const UNCLEAN_MARGIN: i64 = 1 << 32;

fn id_of(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn position(row: &sqlx::any::AnyRow) -> StoreResult<FeedPosition> {
    Ok(FeedPosition {
        floor: id_of(row.try_get("floor")?),
        last_id: id_of(row.try_get("last_id")?),
    })
}

pub(crate) async fn follow(
    pool: &AnyPool,
    feed: &EventFeed,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> StoreResult<FeedPosition> {
    let mut tx = pool.begin().await?;
    // Write first (SQLite takes the write lock at once). A user not followed
    // until now had messages nobody wrote: burn an id and raise the floor.
    let row = sqlx::query(
        "insert into event_feed (user_id, account_id, manager, last_id, floor, follow_until)
         values ($1, $2, $3, 1, 1, $4)
         on conflict (user_id) do update set
             account_id = excluded.account_id,
             manager = excluded.manager,
             last_id = case when event_feed.follow_until is null or event_feed.follow_until < $5
                 then event_feed.last_id + 1 else event_feed.last_id end,
             floor = case when event_feed.follow_until is null or event_feed.follow_until < $5
                 then event_feed.last_id + 1 else event_feed.floor end,
             follow_until = excluded.follow_until
         returning floor, last_id",
    )
    .bind(feed.user_id.as_str())
    .bind(feed.account_id.as_str())
    .bind(i64::from(feed.manager))
    .bind(iso(until))
    .bind(iso(now))
    .fetch_one(&mut *tx)
    .await?;
    let position = position(&row)?;
    tx.commit().await?;
    Ok(position)
}

pub(crate) async fn extend(
    pool: &AnyPool,
    user_ids: &[UserId],
    until: DateTime<Utc>,
) -> StoreResult<()> {
    if user_ids.is_empty() {
        return Ok(());
    }
    let mut tx = pool.begin().await?;
    for user_id in user_ids {
        sqlx::query(
            "update event_feed set follow_until = $1
             where user_id = $2 and follow_until is not null and follow_until < $1",
        )
        .bind(iso(until))
        .bind(user_id.as_str())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn followed(pool: &AnyPool, now: DateTime<Utc>) -> StoreResult<Vec<EventFeed>> {
    let rows =
        sqlx::query("select user_id, account_id, manager from event_feed where follow_until >= $1")
            .bind(iso(now))
            .fetch_all(pool)
            .await?;
    rows.iter()
        .map(|row| {
            Ok(EventFeed {
                user_id: row.try_get::<String, _>("user_id").map(Into::into)?,
                account_id: row.try_get::<String, _>("account_id").map(Into::into)?,
                manager: row.try_get::<i64, _>("manager")? != 0,
            })
        })
        .collect()
}

pub(crate) async fn unfollow(pool: &AnyPool, user_ids: &[UserId]) -> StoreResult<()> {
    if user_ids.is_empty() {
        return Ok(());
    }
    let mut tx = pool.begin().await?;
    for user_id in user_ids {
        sqlx::query(
            "update event_feed set last_id = last_id + 1, floor = last_id + 1, follow_until = null
             where user_id = $1",
        )
        .bind(user_id.as_str())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// [`append`] on PostgreSQL: the batch's shared parts (their own
/// statements, sorted by key, committed at once: a part no message names
/// is pruned by its minute like any other), then one statement,
/// `event_log_append` (migration 0024), which takes the batch's users' feed
/// rows in user-id order and applies the rules message by message inside
/// the database. It was two round trips per message with the feed rows
/// locked throughout, so one user's burst of changes, written by two
/// nodes' hubs, queued behind that lock (issue 12, session 10).
pub(crate) async fn append(
    pool: &AnyPool,
    messages: &[NewEventMessage],
    at: DateTime<Utc>,
) -> StoreResult<Vec<Option<u64>>> {
    if messages.is_empty() {
        return Ok(Vec::new());
    }
    let (forms, mut bodies) = shape(messages, at);
    let rows = rows_json(messages, &forms, &iso(at))?;
    let mut conn = pool.acquire().await?;
    bodies.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    write_parts(&mut conn, &bodies).await?;
    let found = sqlx::query("select ordinal, id from event_log_append($1::jsonb) order by ordinal")
        .bind(&rows)
        .fetch_all(&mut *conn)
        .await
        .map_err(no_feed)?;
    ids_found(&found, messages.len())
}

/// The batch's messages as the JSON array the database's batch append
/// reads (SQLite's `event_message_append` view, PostgreSQL's
/// `event_log_append`): one array per message, in the columns' order.
fn rows_json(
    messages: &[NewEventMessage],
    forms: &[StoredForm<'_>],
    at: &str,
) -> StoreResult<String> {
    let rows: Vec<_> = messages
        .iter()
        .zip(forms)
        .map(|(m, form)| {
            let (session_id, version) = match &m.session {
                Some((id, version)) => (Some(id.as_str()), i64::try_from(*version).ok()),
                None => (None, None),
            };
            (
                m.user_id.as_str(),
                m.dedupe.as_str(),
                m.selector.as_str(),
                i64::from(m.account_only),
                form.body.as_ref(),
                form.keys.as_deref(),
                at,
                session_id,
                version,
            )
        })
        .collect();
    serde_json::to_string(&rows).map_err(|error| StoreError::Corrupt(error.to_string()))
}

/// Each message's id from the batch append's rows (one per message, in
/// order): its own, or the one written before under its dedupe; none when
/// it was stale.
fn ids_found(found: &[sqlx::any::AnyRow], messages: usize) -> StoreResult<Vec<Option<u64>>> {
    if found.len() != messages {
        return Err(StoreError::Corrupt(format!(
            "the event log answered {} ids for {messages} messages",
            found.len(),
        )));
    }
    found
        .iter()
        .map(|row| Ok(row.try_get::<Option<i64>, _>("id")?.map(id_of)))
        .collect()
}

/// The batch append's error when a message's user has no feed row (the
/// database raises [`NO_EVENT_FEED`]).
fn no_feed(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.message().contains(NO_EVENT_FEED) => {
            StoreError::NotFound("an event feed of the batch's users".to_string())
        }
        _ => StoreError::Database(error),
    }
}

/// The message of the `raise` in `event_message_append_write` (migrations
/// 0017, 0018): a message's user has no event feed row.
const NO_EVENT_FEED: &str = "evo_no_event_feed";

/// Parts bound inline in [`append_sqlite`]'s one round trip (two
/// parameters each, far below SQLite's 32,766).
const INLINE_PARTS: usize = 1_000;

/// [`append`] on SQLite, on the writer's connection `conn`, in one round
/// trip to its worker thread: `begin` (`BEGIN IMMEDIATE` and the
/// transaction's `synchronous`), one statement writing the batch's shared
/// parts (migration 0018), one the messages (the view
/// `event_message_append` and its trigger, migrations 0017 and 0018: the
/// same rules, message by message in order), one reading the ids back, and
/// COMMIT, all sent as one query (sqlx runs the statements in order, each
/// binding the parameters it names). A BEGIN, the statements and a COMMIT
/// each sent on their own were three round trips, each two wake-ups of a
/// thread (issue 12, session 9, `fanbeat`). A failure rolls back; the
/// caller drops the connection if the query never finished (cancelled:
/// the transaction may still be open).
pub(crate) async fn append_sqlite(
    conn: &mut sqlx::AnyConnection,
    begin: &'static str,
    messages: &[NewEventMessage],
    at: DateTime<Utc>,
) -> StoreResult<Vec<Option<u64>>> {
    use sqlx::{Connection, Executor};
    if messages.is_empty() {
        return Ok(Vec::new());
    }
    let (forms, bodies) = shape(messages, at);
    let rows = rows_json(messages, &forms, &iso(at))?;
    // The parts are bound as parameters after the rows. A batch with very
    // many parts writes the rest first, in a transaction of several round
    // trips.
    let (inline, rest) = bodies.split_at(bodies.len().min(INLINE_PARTS));
    let mut sql = String::new();
    if !inline.is_empty() {
        let values: Vec<String> = (0..inline.len())
            .map(|i| format!("(${}, ${})", 2 * i + 2, 2 * i + 3))
            .collect();
        sql.push_str(&format!(
            "insert into event_body (key, body) values {} on conflict (key) do nothing;\n",
            values.join(", ")
        ));
    }
    sql.push_str(
        "insert into event_message_append (user_id, dedupe, selector, account_only, body,
             body_keys, created_at, session_id, session_version)
         select value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5,
                value ->> 6, value ->> 7, value ->> 8
           from json_each($1);
         select m.id as id from json_each($1) j
           left join event_message m
             on m.user_id = j.value ->> 0 and m.dedupe = j.value ->> 1
          order by j.key",
    );
    let found = if rest.is_empty() {
        let sql = format!("{begin};\n{sql};\ncommit");
        let mut query = sqlx::query(&sql).bind(&rows);
        for (key, body) in inline {
            query = query.bind(key.as_str()).bind(*body);
        }
        match query.fetch_all(&mut *conn).await {
            Ok(found) => found,
            Err(error) => {
                // Whatever ran of it, nothing stays: a failure before the
                // BEGIN or after the COMMIT leaves no transaction, and then
                // this ROLLBACK fails harmlessly.
                let _ = conn.execute("rollback").await;
                return Err(no_feed(error));
            }
        }
    } else {
        let mut tx = conn.begin_with(begin).await?;
        write_parts(&mut tx, rest).await?;
        let mut query = sqlx::query(&sql).bind(&rows);
        for (key, body) in inline {
            query = query.bind(key.as_str()).bind(*body);
        }
        let found = query.fetch_all(&mut *tx).await.map_err(no_feed)?;
        tx.commit().await?;
        found
    };
    ids_found(&found, messages.len())
}

pub(crate) async fn after(
    pool: &AnyPool,
    user_id: &UserId,
    after: u64,
    limit: u32,
) -> StoreResult<EventReplay> {
    let mut tx = pool.begin().await?;
    let position = match sqlx::query("select floor, last_id from event_feed where user_id = $1")
        .bind(user_id.as_str())
        .fetch_optional(&mut *tx)
        .await?
    {
        Some(row) => position(&row)?,
        None => FeedPosition {
            floor: 0,
            last_id: 0,
        },
    };
    let rows = sqlx::query(
        "select id, selector, account_only, body, body_keys from event_message
         where user_id = $1 and id > $2 order by id limit $3",
    )
    .bind(user_id.as_str())
    .bind(i64::try_from(after).unwrap_or(i64::MAX))
    .bind(i64::from(limit))
    .fetch_all(&mut *tx)
    .await?;
    let keys: Vec<Option<String>> = rows
        .iter()
        .map(|row| row.try_get("body_keys"))
        .collect::<Result<_, _>>()?;
    let mut wanted: Vec<&str> = keys
        .iter()
        .flatten()
        .flat_map(|keys| keys.split(' '))
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    let parts = read_parts(&mut tx, &wanted).await?;
    tx.commit().await?;
    let messages = rows
        .iter()
        .zip(&keys)
        .map(|(row, keys)| {
            Ok(StoredEventMessage {
                id: id_of(row.try_get("id")?),
                selector: row.try_get("selector")?,
                account_only: row.try_get::<i64, _>("account_only")? != 0,
                body: assemble(row.try_get("body")?, keys.as_deref(), &parts)?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(EventReplay { position, messages })
}

pub(crate) async fn prune(pool: &AnyPool, keep: u64, before: DateTime<Utc>) -> StoreResult<u64> {
    let keep = i64::try_from(keep).unwrap_or(i64::MAX);
    let parts_cut = minute_floor(minute_of(before) - 1);
    let before = iso(before);
    let mut tx = pool.begin().await?;
    // Raise each floor past what goes, then delete below the floors.
    sqlx::query("update event_feed set floor = last_id - $1 where floor < last_id - $1")
        .bind(keep)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "update event_feed set floor = (select max(m.id) from event_message m
             where m.user_id = event_feed.user_id and m.created_at < $1)
         where floor < (select max(m.id) from event_message m
             where m.user_id = event_feed.user_id and m.created_at < $1)",
    )
    .bind(&before)
    .execute(&mut *tx)
    .await?;
    let deleted = sqlx::query(
        "delete from event_message
         where id <= (select f.floor from event_feed f where f.user_id = event_message.user_id)",
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    // What is left was written at or after `before`: its parts are of
    // `before`'s minute or later. One minute more is kept for a replay
    // that read its messages before this commit and reads their parts
    // after it (PostgreSQL reads committed data statement by statement).
    sqlx::query("delete from event_body where key < $1")
        .bind(&parts_cut)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(deleted)
}

pub(crate) async fn writer_start(
    pool: &AnyPool,
    backend: Backend,
    node_id: &str,
    now: DateTime<Utc>,
    stale_before: DateTime<Utc>,
) -> StoreResult<bool> {
    let mut tx = pool.begin().await?;
    // On SQLite one server holds the data directory (the advisory lock), so
    // every row, its own name's too, is a start that did not clean up.
    let dead = match backend {
        Backend::Sqlite => sqlx::query("delete from event_writer")
            .execute(&mut *tx)
            .await?
            .rows_affected(),
        // Other nodes write too: a node is dead when not seen for a while, or
        // when it is this node's own name left by a start that did not
        // stop cleanly (`--node-id`).
        Backend::Postgres => {
            sqlx::query("delete from event_writer where node_id = $1 or seen_at < $2")
                .bind(node_id)
                .bind(iso(stale_before))
                .execute(&mut *tx)
                .await?
                .rows_affected()
        }
    };
    hold_lease(tx, dead > 0, node_id, now).await?;
    Ok(dead > 0)
}

/// Ends a writer start or renewal: when a writer was found dead, raises
/// every floor (its messages may be missing: resumes from before get a
/// snapshot), then writes this node's lease and commits.
async fn hold_lease(
    mut tx: sqlx::Transaction<'_, sqlx::Any>,
    raise_floors: bool,
    node_id: &str,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    if raise_floors {
        sqlx::query("update event_feed set last_id = last_id + $1, floor = last_id + $1")
            .bind(UNCLEAN_MARGIN)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(
        "insert into event_writer (node_id, started_at, seen_at) values ($1, $2, $2)
         on conflict (node_id) do update set seen_at = excluded.seen_at",
    )
    .bind(node_id)
    .bind(iso(now))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn writer_seen(
    pool: &AnyPool,
    node_id: &str,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query("update event_writer set seen_at = $1 where node_id = $2")
        .bind(iso(now))
        .bind(node_id)
        .execute(pool)
        .await?;
    Ok(())
}

pub(crate) async fn writer_renew(
    pool: &AnyPool,
    node_id: &str,
    now: DateTime<Utc>,
    stale_before: DateTime<Utc>,
) -> StoreResult<bool> {
    let mut tx = pool.begin().await?;
    // Another writer whose lease ran out stopped without writing all its
    // messages, as far as anyone can tell: raise every floor, as at start.
    let dead = sqlx::query("delete from event_writer where node_id <> $1 and seen_at < $2")
        .bind(node_id)
        .bind(iso(stale_before))
        .execute(&mut *tx)
        .await?
        .rows_affected();
    // Its own lease, written again if another node took it for dead.
    hold_lease(tx, dead > 0, node_id, now).await?;
    Ok(dead > 0)
}

pub(crate) async fn writer_stop(pool: &AnyPool, node_id: &str) -> StoreResult<()> {
    sqlx::query("delete from event_writer where node_id = $1")
        .bind(node_id)
        .execute(pool)
        .await?;
    Ok(())
}

#[cfg(test)]
mod postgres_lookup_tests {
    use super::*;
    use crate::testing::{one_connection, PostgresCluster};

    /// `count` messages of `user` from the `first`-th: three versions of
    /// each session, deduplicated as `<session>@<version>:<kind>`.
    fn messages(user: &UserId, first: usize, count: usize, kind: &str) -> Vec<NewEventMessage> {
        (first..first + count)
            .map(|n| {
                let (session, version) = (format!("CA{:032}", n / 3), (n % 3 + 1) as u64);
                NewEventMessage {
                    user_id: user.clone(),
                    dedupe: format!("{session}@{version}:{kind}"),
                    selector: "cmd.SessionInfoChanged".to_string(),
                    account_only: false,
                    body: "{}".to_string(),
                    session: Some((session, version)),
                    shared: None,
                }
            })
            .collect()
    }

    /// The shared buffers one call of `event_log_append` reads (the
    /// function's own statements included) for `messages`, on `pool`'s one
    /// connection: the batch is the one [`append`] passes ([`rows_json`]).
    async fn append_reads(pool: &AnyPool, messages: &[NewEventMessage]) -> u64 {
        let at = Utc::now();
        let (forms, _) = shape(messages, at);
        let batch = rows_json(messages, &forms, &iso(at)).unwrap();
        let plan: Vec<String> = sqlx::query_scalar(
            "explain (analyze, buffers, costs off, timing off) select * from event_log_append($1::jsonb)",
        )
        .bind(batch)
        .fetch_all(pool)
        .await
        .unwrap();
        let hits = plan
            .iter()
            .find_map(|line| line.split("shared hit=").nth(1))
            .unwrap_or_else(|| panic!("no buffer counts in {plan:?}"));
        hits.split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("unreadable buffer count in {plan:?}"))
    }

    /// A message's lookups in `event_log_append` (written already, a later
    /// version told already) read a few index pages, not the user's whole
    /// log, however long the log grew after the connection first ran the
    /// function. PL/pgSQL used to keep a generic plan per statement for the
    /// connection's life; planned on a small log not analyzed yet, the
    /// dedupe lookup's plan read an index led by `user_id` alone with
    /// `dedupe` as a filter, one heap row per message of the user (issue
    /// 12, session 11: migrations 0029 and 0030, the function now plans at
    /// every call).
    #[tokio::test]
    async fn the_postgres_log_append_reads_a_few_pages_however_long_the_log() {
        let cluster = PostgresCluster::start();
        let url = cluster.create_database("evo_log_lookups");
        drop(crate::open_store(&url).await.unwrap());
        let pool = one_connection(&url).await;
        let user = UserId::new("user-log-lookups");
        let now = Utc::now();
        let feed = EventFeed {
            user_id: user.clone(),
            account_id: AccountId::new("account"),
            manager: false,
        };
        let followed = follow(&pool, &feed, now, now + chrono::Duration::days(1))
            .await
            .unwrap();
        // A few hundred messages written by another connection (another
        // node's, or the pool's), then plans made on this connection on
        // that small log (past PostgreSQL's five custom plans, so that the
        // generic one is kept), then the log grows on them.
        let other = one_connection(&url).await;
        let mut written = 0;
        while written < 500 {
            append_reads(&other, &messages(&user, written, 100, "Changed")).await;
            written += 100;
        }
        for _ in 0..10 {
            append_reads(&pool, &messages(&user, written, 1, "Changed")).await;
            written += 1;
        }
        let small = append_reads(&pool, &messages(&user, written, 1, "Changed")).await;
        written += 1;
        while written < 6_000 {
            append_reads(&pool, &messages(&user, written, 100, "Changed")).await;
            written += 100;
        }
        let new = append_reads(&pool, &messages(&user, written, 1, "Changed")).await;
        written += 1;
        // Written already (as another node's hub finds them), and a message
        // of a session's first version after its third was written: stale.
        let again = append_reads(&pool, &messages(&user, written - 50, 40, "Changed")).await;
        let stale = append_reads(&pool, &messages(&user, 0, 1, "Invite")).await;
        let last: i64 = sqlx::query_scalar("select last_id from event_feed where user_id = $1")
            .bind(user.as_str())
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(
            u64::try_from(last).unwrap(),
            followed.last_id + written as u64,
            "ids stay gapless"
        );
        // A scan of the user's log reads about one buffer per message
        // (6,000); the lookups read a few each (measured with a good cached
        // plan: 23 at first, 80 for a new message, the feed row's dead
        // versions included; 181 for 40 written already; 66 stale).
        assert!(
            new < 200,
            "one new message read {new} buffers (at first {small})"
        );
        assert!(again < 40 * 20, "40 written already read {again} buffers");
        assert!(stale < 200, "a stale message read {stale} buffers");
        // Which plan a generic one turns out to be depends on the index
        // sizes and heights a connection saw first (the bench's pool found
        // the scan, this test's one connection does not): the function
        // plans per call.
        let settings: Option<String> = sqlx::query_scalar(
            "select array_to_string(proconfig, ',') from pg_proc where proname = 'event_log_append'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(
            settings.as_deref(),
            Some("plan_cache_mode=force_custom_plan")
        );
    }
}
