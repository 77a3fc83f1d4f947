//! Session history: the columns, the endpoint table and the search index that
//! `ListSessions` and `GetSession` read, written with each commit, and the
//! queries over them (migration `0003_session_history.sql`).
//!
//! Every filter maps to an index: the caller's scope and the account filter
//! to `(account_id, ended, started_at)`; endpoints (users' visibility and
//! `EndpointIds`) drive the query from `session_endpoint_scope` (endpoint,
//! account, ended, start; migration 0012), one ordered range per endpoint,
//! so a user's page never walks the account's other sessions; customers to
//! `(customer_id, ended, started_at)` after walking `customer_by_parent`;
//! contains-search to a trigram index (FTS5 on SQLite, whose matches then
//! drive the query; pg_trgm on PostgreSQL). A page is read in
//! `(started_at, session_id)` order.

use chrono::{DateTime, Utc};
use evo_core::ids::{AccountId, CustomerId, EndpointId, SessionId};
use evo_core::session::Session;
use sqlx::any::AnyArguments;
use sqlx::{Arguments, Row};

use crate::sql::{iso, Backend};
use crate::{StoreError, StoreResult};

/// Whose sessions a query may return. The server decides it from the
/// caller's roles; the store only applies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionScope {
    /// Every session (system administrators).
    All,
    /// The sessions of these accounts (managers).
    Accounts(Vec<AccountId>),
    /// The sessions of one account visible to any of these endpoints (users).
    Endpoints {
        account_id: AccountId,
        endpoint_ids: Vec<EndpointId>,
    },
}

/// A history query: a scope, filters (all must hold), an order and a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionQuery {
    pub scope: SessionScope,
    /// Only these accounts (empty: no filter).
    pub account_ids: Vec<AccountId>,
    /// Only these customers and their descendants (empty: no filter).
    pub customer_ids: Vec<CustomerId>,
    /// Only sessions visible to one of these endpoints (empty: no filter).
    pub endpoint_ids: Vec<EndpointId>,
    /// Only these sessions (empty: no filter).
    pub session_ids: Vec<SessionId>,
    /// Started at or after.
    pub started_from: Option<DateTime<Utc>>,
    /// Started before.
    pub started_before: Option<DateTime<Utc>>,
    /// The from address contains this (case-insensitive).
    pub from_contains: Option<String>,
    /// The to address contains this (case-insensitive).
    pub to_contains: Option<String>,
    /// A log message contains this (case-insensitive).
    pub log_contains: Option<String>,
    pub parent_session_id: Option<SessionId>,
    /// Only ended (`Some(true)`) or only live (`Some(false)`) sessions.
    pub ended: Option<bool>,
    /// Newest first instead of oldest first.
    pub descending: bool,
    pub offset: u64,
    /// At most this many items (`None`: all).
    pub limit: Option<u64>,
    /// Count every match (`total`); otherwise only whether more follow.
    pub count_total: bool,
}

impl SessionQuery {
    /// A query returning everything in `scope`, oldest first.
    pub fn new(scope: SessionScope) -> Self {
        SessionQuery {
            scope,
            account_ids: Vec::new(),
            customer_ids: Vec::new(),
            endpoint_ids: Vec::new(),
            session_ids: Vec::new(),
            started_from: None,
            started_before: None,
            from_contains: None,
            to_contains: None,
            log_contains: None,
            parent_session_id: None,
            ended: None,
            descending: false,
            offset: 0,
            limit: None,
            count_total: true,
        }
    }
}

/// A session as history serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSessionInfo {
    pub session_id: SessionId,
    pub account_id: AccountId,
    /// The endpoints the session is visible to.
    pub endpoint_ids: Vec<EndpointId>,
    /// `SessionInfo` as evo-wire's JSON, rendered when the session was committed.
    pub info_json: String,
}

/// One page of a history query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfoPage {
    /// The page's sessions (`endpoint_ids` left empty).
    pub items: Vec<StoredSessionInfo>,
    /// Every match, when the query asked for it.
    pub total: Option<u64>,
    /// Whether matches follow this page.
    pub has_more: bool,
}

/// Log search reads the `session_log` rows; the per-session text stays
/// only on rows written before migration 0013.
pub(crate) const LOG_TEXT: &str = "";

/// A session's history columns, as `write` stores them (and the bulk load).
pub(crate) struct Columns {
    /// The rendered `SessionInfo` without its log lines (the whole
    /// rendering if the marker is not found, then `info_log_at` is null).
    pub info_json: String,
    pub info_log_at: Option<i64>,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub from: String,
    pub to: String,
}

impl Columns {
    pub(crate) fn of(session: &Session) -> StoreResult<Self> {
        // The fixed part only: the lines are `session_log` rows
        // (`crate::log`), put back at `info_log_at` when read.
        let info = session.to_info_without_log();
        let fixed = String::from_utf8(evo_wire::json::to_json(&info))
            .map_err(|error| StoreError::Corrupt(error.to_string()))?;
        let (info_json, info_log_at) = match crate::log::split_info(&fixed) {
            Some(at) => (fixed, Some(at as i64)),
            // Not expected (the contract has one `Log`): the whole rendering.
            None if session.log_elided() > 0 => {
                return Err(StoreError::Corrupt(format!(
                    "session {}: no log field to splice and the log is not held",
                    session.id()
                )))
            }
            None => (
                String::from_utf8(evo_wire::json::to_json(&session.to_info()))
                    .map_err(|error| StoreError::Corrupt(error.to_string()))?,
                None,
            ),
        };
        let ended_at = session.state().ended.then(|| {
            iso(session
                .state()
                .completed_at
                .unwrap_or_else(|| session.last_activity()))
        });
        Ok(Columns {
            info_json,
            info_log_at,
            started_at: iso(session.opened_at()),
            ended_at,
            from: session.header().from_address.clone().unwrap_or_default(),
            to: session.header().to_address.clone().unwrap_or_default(),
        })
    }
}

/// Writes a committed session's history columns, endpoints and search text.
pub(crate) async fn write(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: Backend,
    session: &Session,
) -> StoreResult<()> {
    let Columns {
        info_json,
        info_log_at,
        started_at,
        ended_at,
        from,
        to,
    } = Columns::of(session)?;
    let log_text = LOG_TEXT;
    let log_column = match backend {
        Backend::Postgres => ", log_text = $10",
        Backend::Sqlite => "",
    };
    let update_sql = format!(
        "update session set started_at = $1, ended_at = $2, customer_id = $3, endpoint_id = $4,
             from_address = $5, to_address = $6, info = $7, info_log_at = $9 {log_column}
         where session_id = $8"
    );
    let mut update = sqlx::query(&update_sql)
        .bind(&started_at)
        .bind(ended_at)
        .bind(session.header().customer_id.as_deref())
        .bind(session.header().endpoint_id.as_str())
        .bind(&from)
        .bind(&to)
        .bind(&info_json)
        .bind(session.id().as_str())
        .bind(info_log_at);
    if backend == Backend::Postgres {
        update = update.bind(log_text);
    }
    update.execute(&mut **tx).await?;

    sqlx::query("delete from session_endpoint where session_id = $1")
        .bind(session.id().as_str())
        .execute(&mut **tx)
        .await?;
    for endpoint_id in session.endpoint_ids() {
        sqlx::query(
            "insert into session_endpoint (endpoint_id, started_at, session_id, account_id, ended)
             values ($1, $2, $3, $4, $5)",
        )
        .bind(endpoint_id.as_str())
        .bind(&started_at)
        .bind(session.id().as_str())
        .bind(session.header().account_id.as_str())
        .bind(session.state().ended)
        .execute(&mut **tx)
        .await?;
    }

    if backend == Backend::Sqlite {
        sqlx::query(
            "delete from session_search where rowid = (select rowid from session where session_id = $1)",
        )
        .bind(session.id().as_str())
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "insert into session_search (rowid, from_address, to_address, log_text)
             select rowid, $1, $2, $3 from session where session_id = $4",
        )
        .bind(&from)
        .bind(&to)
        .bind(log_text)
        .bind(session.id().as_str())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Fills the history of sessions written before the history columns existed.
pub(crate) async fn backfill(pool: &sqlx::AnyPool, backend: Backend) -> StoreResult<()> {
    // In batches, so a large store is upgraded without loading it whole;
    // each batch fills every row it read, so the loop ends.
    loop {
        let rows =
            sqlx::query("select snapshot, log_rows from session where info is null limit 500")
                .fetch_all(pool)
                .await?;
        if rows.is_empty() {
            return Ok(());
        }
        let mut tx = pool.begin().await?;
        let snapshots = rows
            .iter()
            .map(crate::log::snapshot_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        for session in crate::log::complete(&mut tx, snapshots).await? {
            // The history row leaves the log to the rows: write them all.
            crate::log::write(&mut tx, backend, &session).await?;
            sqlx::query("update session set log_rows = 1 where session_id = $1")
                .bind(session.id().as_str())
                .execute(&mut *tx)
                .await?;
            write(&mut tx, backend, &session).await?;
        }
        tx.commit().await?;
    }
}

/// A `where` clause with its arguments, numbered in order.
struct Filter {
    conditions: Vec<String>,
    args: AnyArguments<'static>,
    count: usize,
}

impl Filter {
    fn new() -> Self {
        Filter {
            conditions: Vec::new(),
            args: AnyArguments::default(),
            count: 0,
        }
    }

    fn arg<T>(&mut self, value: T) -> String
    where
        T: 'static + Send + sqlx::Encode<'static, sqlx::Any> + sqlx::Type<sqlx::Any>,
    {
        self.count += 1;
        // Encoding a string, integer or boolean cannot fail.
        let _ = self.args.add(value);
        format!("${}", self.count)
    }

    fn list(&mut self, values: &[impl AsRef<str>]) -> String {
        let placeholders: Vec<String> = values
            .iter()
            .map(|v| self.arg(v.as_ref().to_string()))
            .collect();
        placeholders.join(", ")
    }

    fn push(&mut self, condition: String) {
        self.conditions.push(condition);
    }

    fn where_clause(&self) -> String {
        if self.conditions.is_empty() {
            String::new()
        } else {
            format!("where {}", self.conditions.join(" and "))
        }
    }
}

/// `%text%` for a contains-search; on PostgreSQL `%`, `_` and `\` in the
/// text are escaped (SQLite's trigram index cannot use `escape`, so there
/// they stay wildcards, which only widens a search within the scope).
fn contains_pattern(backend: Backend, text: &str) -> String {
    match backend {
        Backend::Postgres => {
            let escaped = text
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("%{escaped}%")
        }
        Backend::Sqlite => format!("%{text}%"),
    }
}

/// How a query reaches its rows. A query naming endpoints (a user's scope,
/// the `EndpointIds` filter) is read from `session_endpoint` in date order,
/// one ordered index range per endpoint (`session_endpoint_scope`:
/// endpoint, account, ended, start); on SQLite a contains-search is read
/// from the trigram index's matches; anything else walks the session
/// indexes in date order.
enum Driver {
    Endpoints {
        endpoint_ids: Vec<EndpointId>,
        /// The accounts the rows must belong to (pushed into each range).
        accounts: Option<Vec<AccountId>>,
        /// The scope's endpoints drive; the `EndpointIds` filter (if any)
        /// is checked on the sessions.
        filter_outside: bool,
    },
    Search,
    Sessions,
}

fn driver(backend: Backend, query: &SessionQuery, few_matches: bool) -> Driver {
    match &query.scope {
        SessionScope::Endpoints {
            account_id,
            endpoint_ids,
        } if !endpoint_ids.is_empty() => {
            return Driver::Endpoints {
                endpoint_ids: endpoint_ids.clone(),
                accounts: Some(vec![account_id.clone()]),
                filter_outside: !query.endpoint_ids.is_empty(),
            }
        }
        SessionScope::Endpoints { .. } => return Driver::Sessions,
        SessionScope::Accounts(ids) if ids.is_empty() => return Driver::Sessions,
        _ => {}
    }
    if !query.endpoint_ids.is_empty() {
        return Driver::Endpoints {
            endpoint_ids: query.endpoint_ids.clone(),
            accounts: match &query.scope {
                SessionScope::Accounts(ids) => Some(ids.clone()),
                _ => None,
            },
            filter_outside: false,
        };
    }
    if few_matches && searching(query) && backend == Backend::Sqlite {
        Driver::Search
    } else {
        Driver::Sessions
    }
}

pub(crate) fn searching(query: &SessionQuery) -> bool {
    query.from_contains.is_some() || query.to_contains.is_some() || query.log_contains.is_some()
}

/// Matches up to which a SQLite contains-search is driven by its matches
/// (each read from the session table, then sorted); above it the scope's
/// index is walked in date order, where matches are then dense enough.
const FEW_MATCHES: i64 = 2_000;

/// Whether a SQLite contains-search has at most `FEW_MATCHES` matches,
/// counted in the trigram index alone and stopping there.
async fn few_matches(
    pool: &sqlx::AnyPool,
    backend: Backend,
    query: &SessionQuery,
) -> StoreResult<bool> {
    // Log lines are searched in their own index (`session_log_search`),
    // as a filter: only the address searches drive.
    if backend != Backend::Sqlite || (query.from_contains.is_none() && query.to_contains.is_none())
    {
        return Ok(false);
    }
    let mut f = Filter::new();
    for (column, text) in [
        ("from_address", &query.from_contains),
        ("to_address", &query.to_contains),
    ] {
        if let Some(text) = text {
            let pattern = f.arg(contains_pattern(backend, text));
            f.push(format!("{column} like {pattern}"));
        }
    }
    let cap = f.arg(FEW_MATCHES + 1);
    let sql = format!(
        "select count(*) as n from (select rowid from session_search {} limit {cap})",
        f.where_clause()
    );
    let row = sqlx::query_with(&sql, f.args).fetch_one(pool).await?;
    let n: i64 = row.try_get("n")?;
    Ok(n <= FEW_MATCHES)
}

/// The conditions on the session row `s` (all of the query's, less what
/// the driver already applies).
fn filter(backend: Backend, query: &SessionQuery, driver: &Driver, f: &mut Filter) {
    let driven_by_endpoints = matches!(driver, Driver::Endpoints { .. });
    match &query.scope {
        _ if driven_by_endpoints => {}
        SessionScope::All => {}
        SessionScope::Accounts(ids) if ids.is_empty() => f.push("1 = 0".into()),
        SessionScope::Accounts(ids) => {
            let list = f.list(ids);
            f.push(format!("s.account_id in ({list})"));
        }
        SessionScope::Endpoints { account_id, .. } => {
            // No endpoints: nothing is visible.
            let account = f.arg(account_id.to_string());
            f.push(format!("s.account_id = {account}"));
            f.push("1 = 0".into());
        }
    }
    if !driven_by_endpoints {
        if let Some(ended) = query.ended {
            let value = f.arg(ended);
            f.push(format!("s.ended = {value}"));
        }
        if let Some(from) = query.started_from {
            let value = f.arg(iso(from));
            f.push(format!("s.started_at >= {value}"));
        }
        if let Some(before) = query.started_before {
            let value = f.arg(iso(before));
            f.push(format!("s.started_at < {value}"));
        }
    }
    if !query.account_ids.is_empty() {
        let list = f.list(&query.account_ids);
        f.push(format!("s.account_id in ({list})"));
    }
    if !query.session_ids.is_empty() {
        let list = f.list(&query.session_ids);
        f.push(format!("s.session_id in ({list})"));
    }
    let endpoint_filter_here = match driver {
        Driver::Endpoints { filter_outside, .. } => *filter_outside,
        _ => true,
    };
    if endpoint_filter_here && !query.endpoint_ids.is_empty() {
        let list = f.list(&query.endpoint_ids);
        f.push(format!(
            "s.session_id in (select session_id from session_endpoint where endpoint_id in ({list}))"
        ));
    }
    if !query.customer_ids.is_empty() {
        let list = f.list(&query.customer_ids);
        // The customers and all their descendants; the depth guard stops a
        // corrupt cycle.
        f.push(format!(
            "s.customer_id in (
                 with recursive tree (customer_id, depth) as (
                     select customer_id, 0 from customer where customer_id in ({list})
                     union all
                     select c.customer_id, tree.depth + 1 from customer c
                     join tree on c.parent_id = tree.customer_id where tree.depth < 64
                 )
                 select customer_id from tree)"
        ));
    }
    if let Some(parent) = &query.parent_session_id {
        let value = f.arg(parent.to_string());
        f.push(format!("s.parent_session_id = {value}"));
    }
    if let Some(text) = &query.log_contains {
        // A line (`session_log`, migration 0013) or, for rows written
        // before it, the session's whole log text.
        let pattern = f.arg(contains_pattern(backend, text));
        f.push(match (backend, driver) {
            (Backend::Sqlite, driver) => {
                let old = match driver {
                    Driver::Search => format!("f.log_text like {pattern}"),
                    _ => format!(
                        "s.rowid in (select rowid from session_search where log_text like {pattern})"
                    ),
                };
                format!(
                    "({old} or s.session_id in (select l.session_id from session_log l
                         where l.rowid in (select rowid from session_log_search where message like {pattern})))"
                )
            }
            // One `in` over a union: each side uses its trigram index (an
            // `or` of the two would scan the session table).
            (Backend::Postgres, _) => format!(
                "s.session_id in (
                     select o.session_id from session o where o.log_text ilike {pattern} escape '\\'
                     union
                     select l.session_id from session_log l where l.message ilike {pattern} escape '\\')"
            ),
        });
    }
    for (column, text) in [
        ("from_address", &query.from_contains),
        ("to_address", &query.to_contains),
    ] {
        let Some(text) = text else { continue };
        let pattern = f.arg(contains_pattern(backend, text));
        f.push(match (backend, driver) {
            (Backend::Sqlite, Driver::Search) => format!("f.{column} like {pattern}"),
            (Backend::Sqlite, _) => format!(
                "s.rowid in (select rowid from session_search where {column} like {pattern})"
            ),
            (Backend::Postgres, _) => format!("s.{column} ilike {pattern} escape '\\'"),
        });
    }
}

/// The rows of `session_endpoint` a query driven by endpoints reads: one
/// ordered range per endpoint (at most `per_endpoint` rows each, when every
/// other condition is applied in the range), merged without duplicates.
fn endpoint_rows(
    query: &SessionQuery,
    endpoint_ids: &[EndpointId],
    accounts: &Option<Vec<AccountId>>,
    per_endpoint: Option<i64>,
    f: &mut Filter,
) -> String {
    let direction = if query.descending { "desc" } else { "asc" };
    let mut shared = Vec::new();
    if let Some(accounts) = accounts {
        let list = f.list(accounts);
        shared.push(format!("account_id in ({list})"));
    }
    if !query.account_ids.is_empty() {
        let list = f.list(&query.account_ids);
        shared.push(format!("account_id in ({list})"));
    }
    if let Some(ended) = query.ended {
        let value = f.arg(ended);
        shared.push(format!("ended = {value}"));
    }
    if let Some(from) = query.started_from {
        let value = f.arg(iso(from));
        shared.push(format!("started_at >= {value}"));
    }
    if let Some(before) = query.started_before {
        let value = f.arg(iso(before));
        shared.push(format!("started_at < {value}"));
    }
    let limit = per_endpoint.map(|n| {
        let value = f.arg(n);
        format!(" limit {value}")
    });
    let branches: Vec<String> = endpoint_ids
        .iter()
        .map(|endpoint| {
            let endpoint = f.arg(endpoint.to_string());
            let mut conditions = vec![format!("endpoint_id = {endpoint}")];
            conditions.extend(shared.iter().cloned());
            format!(
                "select started_at, session_id from (select started_at, session_id from session_endpoint
                 where {} order by started_at {direction}, session_id {direction}{}) r",
                conditions.join(" and "),
                limit.clone().unwrap_or_default()
            )
        })
        .collect();
    // `union` also removes a session seen through two endpoints.
    branches.join(" union ")
}

/// The SQL and arguments of the page query and of the count query.
pub(crate) fn page_sql(
    backend: Backend,
    query: &SessionQuery,
    few_matches: bool,
) -> (String, AnyArguments<'static>) {
    let driver = driver(backend, query, few_matches);
    let mut f = Filter::new();
    let direction = if query.descending { "desc" } else { "asc" };
    // One more than asked tells whether more follow.
    let limit = query.limit.map(|limit| limit.saturating_add(1));
    let limit_value = i64::try_from(limit.unwrap_or(u64::MAX >> 1)).unwrap_or(i64::MAX);
    let offset_value = i64::try_from(query.offset).unwrap_or(i64::MAX);
    let mut sql = match &driver {
        Driver::Endpoints {
            endpoint_ids,
            accounts,
            ..
        } => {
            // Every condition applied in the ranges: each range needs only
            // its first `offset + limit` rows.
            let mut probe = Filter::new();
            filter(backend, query, &driver, &mut probe);
            let per_endpoint = (probe.conditions.is_empty() && query.limit.is_some())
                .then(|| limit_value.saturating_add(offset_value));
            let rows = endpoint_rows(query, endpoint_ids, accounts, per_endpoint, &mut f);
            if per_endpoint.is_some() {
                // The page is cut from the index entries alone; only its
                // own sessions are read.
                let limit_arg = f.arg(limit_value);
                let offset_arg = f.arg(offset_value);
                let sql = format!(
                    "select s.session_id, s.account_id, s.info, s.info_log_at from (
                         select started_at, session_id from ({rows}) u
                         order by started_at {direction}, session_id {direction}
                         limit {limit_arg} offset {offset_arg}) e
                     join session s on s.session_id = e.session_id
                     order by e.started_at {direction}, e.session_id {direction}"
                );
                return (sql, f.args);
            }
            filter(backend, query, &driver, &mut f);
            format!(
                "select s.session_id, s.account_id, s.info, s.info_log_at from ({rows}) e
                 join session s on s.session_id = e.session_id {}
                 order by e.started_at {direction}, e.session_id {direction}",
                f.where_clause()
            )
        }
        Driver::Search => {
            filter(backend, query, &driver, &mut f);
            // The matches drive (`cross join` fixes the order on SQLite).
            format!(
                "select s.session_id, s.account_id, s.info, s.info_log_at from session_search f
                 cross join session s on s.rowid = f.rowid {}
                 order by s.started_at {direction}, s.session_id {direction}",
                f.where_clause()
            )
        }
        Driver::Sessions => {
            filter(backend, query, &driver, &mut f);
            format!(
                "select s.session_id, s.account_id, s.info, s.info_log_at from session s {}
                 order by s.started_at {direction}, s.session_id {direction}",
                f.where_clause()
            )
        }
    };
    let limit_arg = f.arg(limit_value);
    let offset_arg = f.arg(offset_value);
    sql.push_str(&format!(" limit {limit_arg} offset {offset_arg}"));
    (sql, f.args)
}

pub(crate) fn count_sql(
    backend: Backend,
    query: &SessionQuery,
    few_matches: bool,
) -> (String, AnyArguments<'static>) {
    let driver = driver(backend, query, few_matches);
    let mut f = Filter::new();
    let sql = match &driver {
        Driver::Endpoints {
            endpoint_ids,
            accounts,
            ..
        } => {
            let rows = endpoint_rows(query, endpoint_ids, accounts, None, &mut f);
            filter(backend, query, &driver, &mut f);
            format!(
                "select count(*) as total from ({rows}) e
                 join session s on s.session_id = e.session_id {}",
                f.where_clause()
            )
        }
        Driver::Search => {
            filter(backend, query, &driver, &mut f);
            format!(
                "select count(*) as total from session_search f
                 cross join session s on s.rowid = f.rowid {}",
                f.where_clause()
            )
        }
        Driver::Sessions => {
            filter(backend, query, &driver, &mut f);
            format!(
                "select count(*) as total from session s {}",
                f.where_clause()
            )
        }
    };
    (sql, f.args)
}

/// Runs a history query.
pub(crate) async fn list(
    pool: &sqlx::AnyPool,
    backend: Backend,
    query: &SessionQuery,
) -> StoreResult<SessionInfoPage> {
    let few_matches = few_matches(pool, backend, query).await?;
    let (sql, args) = page_sql(backend, query, few_matches);
    // One read transaction: the rows and their log lines agree.
    let mut tx = crate::log::begin_read(pool).await?;
    let rows = sqlx::query_with(&sql, args).fetch_all(&mut *tx).await?;
    let mut items = Vec::with_capacity(rows.len());
    let mut log_at = Vec::with_capacity(rows.len());
    for row in &rows {
        let info_json: Option<String> = row.try_get("info")?;
        let session_id: String = row.try_get("session_id")?;
        log_at.push(row.try_get::<Option<i64>, _>("info_log_at")?);
        items.push(StoredSessionInfo {
            info_json: info_json.ok_or_else(|| {
                StoreError::Corrupt(format!("session {session_id} has no rendered SessionInfo"))
            })?,
            session_id: session_id.into(),
            account_id: row.try_get::<String, _>("account_id").map(Into::into)?,
            endpoint_ids: Vec::new(),
        });
    }
    with_logs(&mut tx, &mut items, &log_at).await?;
    tx.commit().await?;
    let has_more = match query.limit {
        Some(limit) if items.len() as u64 > limit => {
            items.truncate(limit as usize);
            true
        }
        _ => false,
    };
    let total = if query.count_total {
        let (sql, args) = count_sql(backend, query, few_matches);
        let row = sqlx::query_with(&sql, args).fetch_one(pool).await?;
        let total: i64 = row.try_get("total")?;
        Some(u64::try_from(total).unwrap_or(0))
    } else {
        None
    };
    Ok(SessionInfoPage {
        items,
        total,
        has_more,
    })
}

/// One session's history entry.
pub(crate) async fn one(
    pool: &sqlx::AnyPool,
    session_id: &SessionId,
) -> StoreResult<Option<StoredSessionInfo>> {
    let mut tx = crate::log::begin_read(pool).await?;
    let Some(row) = sqlx::query(
        "select session_id, account_id, info, info_log_at from session where session_id = $1",
    )
    .bind(session_id.as_str())
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(None);
    };
    let info_json: Option<String> = row.try_get("info")?;
    let info_log_at: Option<i64> = row.try_get("info_log_at")?;
    let endpoint_rows = sqlx::query(
        "select endpoint_id from session_endpoint where session_id = $1 order by endpoint_id",
    )
    .bind(session_id.as_str())
    .fetch_all(&mut *tx)
    .await?;
    let endpoint_ids = endpoint_rows
        .iter()
        .map(|row| {
            row.try_get::<String, _>("endpoint_id")
                .map(EndpointId::from)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut items = vec![StoredSessionInfo {
        info_json: info_json.ok_or_else(|| {
            StoreError::Corrupt(format!("session {session_id} has no rendered SessionInfo"))
        })?,
        session_id: row.try_get::<String, _>("session_id").map(Into::into)?,
        account_id: row.try_get::<String, _>("account_id").map(Into::into)?,
        endpoint_ids,
    }];
    with_logs(&mut tx, &mut items, &[info_log_at]).await?;
    tx.commit().await?;
    Ok(items.pop())
}

/// Puts each item's log lines into its `info` (rows written since
/// migration 0013, `info_log_at` set); earlier rows carry them already.
async fn with_logs(
    conn: &mut sqlx::AnyConnection,
    items: &mut [StoredSessionInfo],
    log_at: &[Option<i64>],
) -> StoreResult<()> {
    let ids: Vec<&str> = items
        .iter()
        .zip(log_at)
        .filter(|(_, at)| at.is_some())
        .map(|(item, _)| item.session_id.as_str())
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    let mut logs = crate::log::read(conn, &ids).await?;
    for (item, at) in items.iter_mut().zip(log_at) {
        let Some(at) = at else { continue };
        let at = usize::try_from(*at).map_err(|_| {
            StoreError::Corrupt(format!("session {}: negative log offset", item.session_id))
        })?;
        let log = logs.remove(item.session_id.as_str()).unwrap_or_default();
        item.info_json =
            crate::log::splice_info(item.session_id.as_str(), &item.info_json, at, &log)?;
    }
    Ok(())
}

/// The query plan of a history query's page and count statements, one line
/// per plan step (`explain query plan` on SQLite, `explain` on PostgreSQL).
pub(crate) async fn explain(
    pool: &sqlx::AnyPool,
    backend: Backend,
    query: &SessionQuery,
) -> StoreResult<Vec<String>> {
    let mut lines = Vec::new();
    let mut tx = pool.begin().await?;
    if backend == Backend::Postgres {
        // On small tables PostgreSQL rightly prefers a sequential scan;
        // this asks whether an index can serve the query at all.
        sqlx::query("set local enable_seqscan = off")
            .execute(&mut *tx)
            .await?;
    }
    let few_matches = few_matches(pool, backend, query).await?;
    for (sql, args) in [
        page_sql(backend, query, few_matches),
        count_sql(backend, query, few_matches),
    ] {
        let explain = match backend {
            Backend::Sqlite => format!("explain query plan {sql}"),
            Backend::Postgres => format!("explain {sql}"),
        };
        let rows = sqlx::query_with(&explain, args).fetch_all(&mut *tx).await?;
        for row in rows {
            let line: String = match backend {
                Backend::Sqlite => row.try_get("detail")?,
                Backend::Postgres => row.try_get(0)?,
            };
            lines.push(line);
        }
    }
    tx.rollback().await?;
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use sqlx::{Connection, Row};

    /// Opening a store runs `backfill`'s `where info is null` query; with
    /// migration 0014's partial index SQLite answers it from the (empty)
    /// index instead of reading every session ever kept.
    #[tokio::test]
    async fn the_backfill_query_reads_the_partial_index_not_the_sessions() {
        let dir = tempfile::tempdir().unwrap();
        drop(crate::sql::SqlStore::open_sqlite(dir.path()).await.unwrap());
        let url = crate::sql::sqlite_url(dir.path());
        let mut connection = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let plan: Vec<String> = sqlx::query(
            "explain query plan select snapshot, log_rows from session where info is null limit 500",
        )
        .fetch_all(&mut connection)
        .await
        .unwrap()
        .iter()
        .map(|row| row.get::<String, _>("detail"))
        .collect();
        assert_eq!(plan, ["SCAN session USING INDEX session_info_missing"]);
    }
}
