//! The bench's data set: the directory (one account, U users each with a
//! phone number that rings only them), bearer tokens, the signed webhooks
//! of each call, and the ended sessions appended in batches.

use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use evo_core::domain::{Endpoint, EndpointKind, Role, User};
use evo_core::event::{EventSource, SessionEvent};
use evo_core::ids::{AccountId, CallSid, UserId};
use evo_server::app::directory::{self, NewNumber};
use evo_server::app::sessions::{call_session_id, scoped_key};
use evo_server::auth::tokens::{access_claims, TokenKeys};
use evo_store::{AuthSession, EndedSession, SessionChange, Store};
use evo_twilio::params::FormParams;
use evo_twilio::signature::compute_signature;
use http::HeaderValue;
use indicatif::ProgressBar;

use crate::bench::load::Hook;

/// The bench account's Twilio credentials (the bench signs its webhooks).
pub const ACCOUNT_SID: &str = "AC0000000000000000000000000000be7c";
pub const AUTH_TOKEN: &str = "bench-twilio-auth-token";
/// The server's JWT key, so the bench can issue its users' tokens.
pub const JWT_SECRET: &str = "bench-jwt-secret-0123456789abcdef-0123456789";

pub struct BenchUser {
    pub id: String,
    pub number: String,
    /// `Bearer …`.
    pub authorization: HeaderValue,
}

pub struct DataSet {
    pub account_id: String,
    pub users: Vec<BenchUser>,
}

/// Creates the account and `users` users, each with a number ringing them
/// and a sign-in session with a bearer token. Users are written with one
/// password hash computed once: argon2 for each of 2,000 users would take
/// minutes and is not what the bench measures.
pub async fn seed(store: &dyn Store, users: usize, bar: &ProgressBar) -> anyhow::Result<DataSet> {
    let account =
        directory::add_account(store, "Bench", Some(ACCOUNT_SID), Some(AUTH_TOKEN)).await?;
    let password_hash =
        tokio::task::spawn_blocking(|| evo_server::auth::password::hash_password("bench-password"))
            .await??;
    let keys = TokenKeys::from_secret(JWT_SECRET.as_bytes())
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    let now = Utc::now();
    let mut seeded = Vec::with_capacity(users);
    for i in 0..users {
        let id = directory::new_id("usr");
        let email = format!("agent{i}@bench.example");
        let user = User {
            id: id.clone().into(),
            account_id: account.id.clone(),
            email: email.clone(),
            display_name: format!("Agent {i}"),
            password_hash: password_hash.clone(),
            roles: vec![Role::User],
        };
        let endpoint = Endpoint {
            id: id.clone().into(),
            account_id: account.id.clone(),
            customer_id: None,
            kind: EndpointKind::User,
            display_name: user.display_name.clone(),
            address: email,
            ring_user_ids: Vec::new(),
            queue_name: None,
        };
        store.create_user(&user, &endpoint).await?;
        let number = format!("+1555{i:07}");
        directory::add_number(
            store,
            NewNumber {
                account_id: &account.id,
                number: &number,
                ring_user_ids: std::slice::from_ref(&UserId::new(id.as_str())),
                queue_name: None,
                display_name: Some(&format!("Line {i}")),
                customer_id: None,
            },
        )
        .await?;
        let sid = evo_server::auth::generate_session_id();
        store
            .create_auth_session(&AuthSession {
                id: sid.clone(),
                user_id: id.clone().into(),
                created_at: now,
                expires_at: now + chrono::Duration::days(2),
            })
            .await?;
        let token = keys.sign_access(&access_claims(&user, &sid, now.timestamp(), 86_400));
        seeded.push(BenchUser {
            id,
            number,
            authorization: HeaderValue::from_str(&format!("Bearer {token}"))?,
        });
        bar.inc(1);
    }
    Ok(DataSet {
        account_id: account.id.to_string(),
        users: seeded,
    })
}

/// A Twilio call SID (`CA` + 32 hex digits) unique per phase and call.
pub fn call_sid(phase: u8, leg: u8, n: u64) -> String {
    format!("CA{phase:02x}{leg:02x}{n:028x}")
}

/// Builds signed webhooks; parameters as Twilio sends them
/// (https://www.twilio.com/docs/voice/twiml#request-parameters and
/// https://www.twilio.com/docs/voice/api/call-resource#statuscallback; see
/// ../shared/reference/twilio.md §1.4 and §2).
pub struct Signer {
    pub public_url: String,
    /// evo-voice's id of the account (session ids are scoped by it).
    pub account_id: String,
}

impl Signer {
    fn hook(&self, path_and_query: &str, pairs: Vec<(&str, String)>) -> Hook {
        let params = FormParams::from_pairs(pairs);
        let signature = compute_signature(
            AUTH_TOKEN,
            &format!("{}{path_and_query}", self.public_url),
            &params,
        );
        Hook {
            path_and_query: path_and_query
                .parse()
                .expect("the bench's webhook paths are valid URIs"),
            body: Bytes::from(params.encode()),
            signature: HeaderValue::from_str(&signature)
                .expect("a base64 signature is a valid header value"),
        }
    }

    /// The voice webhook of an inbound call to `user`'s number.
    pub fn voice(&self, root: &str, caller: &str, user: &BenchUser) -> Hook {
        self.hook(
            "/twilio/voice",
            vec![
                ("AccountSid", ACCOUNT_SID.to_string()),
                ("ApiVersion", "2010-04-01".to_string()),
                ("CallSid", root.to_string()),
                ("CallStatus", "ringing".to_string()),
                ("Direction", "inbound".to_string()),
                ("From", caller.to_string()),
                ("To", user.number.clone()),
            ],
        )
    }

    /// A status callback of the agent's leg (`<Dial><Client>` to `user`).
    pub fn agent_leg(
        &self,
        root: &str,
        leg: &str,
        user: &BenchUser,
        status: &str,
        sequence: u32,
        at: DateTime<Utc>,
    ) -> Hook {
        let session = call_session_id(
            &AccountId::new(self.account_id.as_str()),
            &CallSid::new(root),
        );
        let mut pairs = vec![
            ("AccountSid", ACCOUNT_SID.to_string()),
            ("ApiVersion", "2010-04-01".to_string()),
            ("CallSid", leg.to_string()),
            ("ParentCallSid", root.to_string()),
            ("CallStatus", status.to_string()),
            ("CallbackSource", "call-progress-events".to_string()),
            ("Direction", "outbound-dial".to_string()),
            ("From", user.number.clone()),
            ("To", format!("client:{}", user.id)),
            ("SequenceNumber", sequence.to_string()),
            ("Timestamp", at.to_rfc2822()),
        ];
        if status == "completed" {
            pairs.push(("CallDuration", "42".to_string()));
        }
        self.hook(
            &format!("/twilio/status?session={session}&user={}", user.id),
            pairs,
        )
    }

    /// The root call's final status callback.
    pub fn root_completed(
        &self,
        root: &str,
        caller: &str,
        user: &BenchUser,
        at: DateTime<Utc>,
    ) -> Hook {
        self.hook(
            "/twilio/status",
            vec![
                ("AccountSid", ACCOUNT_SID.to_string()),
                ("ApiVersion", "2010-04-01".to_string()),
                ("CallSid", root.to_string()),
                ("CallStatus", "completed".to_string()),
                ("CallbackSource", "call-progress-events".to_string()),
                ("CallDuration", "45".to_string()),
                ("Direction", "inbound".to_string()),
                ("From", caller.to_string()),
                ("To", user.number.clone()),
                ("SequenceNumber", "0".to_string()),
                ("Timestamp", at.to_rfc2822()),
            ],
        )
    }
}

/// A caller's number for call `n`.
pub fn caller(n: u64) -> String {
    format!("+1666{:07}", n % 10_000_000)
}

/// An ended session as the webhooks wrote it, with its call SIDs replaced
/// by placeholders, to be written again under new SIDs.
pub struct Template {
    header: String,
    opened_at: DateTime<Utc>,
    events: Vec<String>,
}

const ROOT: &str = "@ROOT@";
const LEG: &str = "@LEG@";

/// Reads a session the webhooks wrote (`root` and `leg` are its call SIDs).
pub async fn template(
    store: &dyn Store,
    account_id: &str,
    root: &str,
    leg: &str,
) -> anyhow::Result<Template> {
    let id = call_session_id(&AccountId::new(account_id), &CallSid::new(root));
    let session = store
        .session(&id)
        .await?
        .with_context(|| format!("session {id} is missing from the store"))?;
    anyhow::ensure!(!session.is_active(), "session {id} has not ended");
    let events = store.session_events(&id).await?;
    let hide = |json: String| json.replace(root, ROOT).replace(leg, LEG);
    Ok(Template {
        header: hide(serde_json::to_string(&session.header())?),
        opened_at: session.opened_at(),
        events: events
            .iter()
            .map(|event| serde_json::to_string(event).map(hide))
            .collect::<Result<_, _>>()?,
    })
}

/// The changes the webhooks committed for one call (its opening, then one
/// per event, each with the snapshot it produced and its lookup keys),
/// rebuilt from a template under new SIDs by the same reducer.
fn replay(
    template: &Template,
    account_id: &str,
    root: &str,
    leg: &str,
) -> anyhow::Result<Vec<SessionChange>> {
    let show = |json: &str| json.replace(ROOT, root).replace(LEG, leg);
    let header = serde_json::from_str(&show(&template.header))?;
    let mut session = evo_core::reducer::open(
        call_session_id(&AccountId::new(account_id), &CallSid::new(root)),
        header,
        template.opened_at,
    );
    let mut opened = session.clone();
    opened.compact();
    let mut changes = vec![SessionChange {
        session: opened,
        event: None,
        expected_version: None,
        keys: vec![scoped_key(&AccountId::new(account_id), root)],
    }];
    for json in &template.events {
        let event: SessionEvent = serde_json::from_str(&show(json))?;
        let keys = match &event.source {
            EventSource::Call { call_sid, .. } => {
                vec![scoped_key(&AccountId::new(account_id), call_sid)]
            }
            _ => Vec::new(),
        };
        let next = evo_core::reducer::apply(&session, &event);
        // Written as the server writes it: compact, its events in the log.
        let mut stored = next.clone();
        stored.compact();
        changes.push(SessionChange {
            session: stored,
            event: Some(event),
            expected_version: Some(session.version()),
            keys,
        });
        session = next;
    }
    Ok(changes)
}

/// The same call ended, as [`Store::load_ended_sessions`] takes it: its
/// final snapshot (compact, as the server writes it), every event its
/// webhooks logged and the lookup keys of its call SIDs; rebuilt from a
/// template under new SIDs by the same reducer.
fn ended_session(
    template: &Template,
    account_id: &str,
    root: &str,
    leg: &str,
) -> anyhow::Result<EndedSession> {
    let account = AccountId::new(account_id);
    let show = |json: &str| json.replace(ROOT, root).replace(LEG, leg);
    let mut session = evo_core::reducer::open(
        call_session_id(&account, &CallSid::new(root)),
        serde_json::from_str(&show(&template.header))?,
        template.opened_at,
    );
    let mut keys = std::collections::BTreeSet::from([scoped_key(&account, root)]);
    let mut events = Vec::with_capacity(template.events.len());
    for json in &template.events {
        let event: SessionEvent = serde_json::from_str(&show(json))?;
        if let EventSource::Call { call_sid, .. } = &event.source {
            keys.insert(scoped_key(&account, call_sid));
        }
        session = evo_core::reducer::apply(&session, &event);
        events.push(event);
    }
    session.compact();
    Ok(EndedSession {
        session,
        events,
        keys: keys.into_iter().collect(),
    })
}

/// What appending ended sessions measured.
#[derive(Debug, Default)]
pub struct Growth {
    pub sessions: u64,
    /// Sessions written with every commit the webhooks made (the store's
    /// limit sample): their event changes (not openings) and the time
    /// spent in `Store::commit` for them.
    pub limit_sessions: u64,
    pub limit_changes: u64,
    pub limit_commit_time: Duration,
    /// Sessions loaded in bulk, and the time spent in
    /// `Store::load_ended_sessions` for them.
    pub bulk_sessions: u64,
    pub bulk_load_time: Duration,
    /// Time the loader waited for the next batch to be built.
    pub build_wait: Duration,
    pub elapsed: Duration,
}

/// Sessions per commit in the store's limit sample: each commit carries
/// one step of this many calls.
pub const BATCH_SESSIONS: usize = 1_000;

/// Sessions per bulk load (one transaction).
pub const LOAD_SESSIONS: usize = 5_000;

/// One batch of calls, ready to write.
enum Batch {
    /// Every change of each call, grouped by step (openings first).
    Steps(Vec<Vec<SessionChange>>),
    /// Each call ended, for `Store::load_ended_sessions`.
    Ended(Vec<EndedSession>),
}

fn build_steps(
    templates: &[Template],
    account_id: &str,
    range: std::ops::Range<usize>,
) -> anyhow::Result<Batch> {
    Ok(Batch::Steps(steps(templates, account_id, 0x40, range)?))
}

/// Every change of calls `range` (call SIDs of `phase`), rebuilt from
/// `templates`, grouped by step: the openings, then each event step.
pub fn steps(
    templates: &[Template],
    account_id: &str,
    phase: u8,
    range: std::ops::Range<usize>,
) -> anyhow::Result<Vec<Vec<SessionChange>>> {
    anyhow::ensure!(!templates.is_empty(), "no template session");
    let mut calls = Vec::with_capacity(range.len());
    for i in range {
        let root = call_sid(phase, 0, i as u64);
        let leg = call_sid(phase, 1, i as u64);
        calls.push(replay(
            &templates[i % templates.len()],
            account_id,
            &root,
            &leg,
        )?);
    }
    let steps = calls.iter().map(Vec::len).max().unwrap_or(0);
    let mut calls: Vec<_> = calls.into_iter().map(Vec::into_iter).collect();
    Ok((0..steps)
        .map(|_| calls.iter_mut().filter_map(Iterator::next).collect())
        .collect())
}

/// Commits `steps` (from [`steps`]) with `Store::commit`, one commit a
/// step, as the store's batch limit is measured: the openings untimed,
/// then the event steps timed. Returns the event changes committed and
/// the time spent committing them.
pub async fn commit_steps(
    store: &dyn Store,
    steps: Vec<Vec<SessionChange>>,
) -> anyhow::Result<(u64, Duration)> {
    let (mut rows, mut time) = (0u64, Duration::ZERO);
    for (step, changes) in steps.into_iter().enumerate() {
        let begin = Instant::now();
        store.commit(&changes).await?;
        if step > 0 {
            rows += changes.len() as u64;
            time += begin.elapsed();
        }
    }
    Ok((rows, time))
}

fn build_ended(
    templates: &[Template],
    account_id: &str,
    range: std::ops::Range<usize>,
) -> anyhow::Result<Vec<EndedSession>> {
    range
        .map(|i| {
            let root = call_sid(0x40, 0, i as u64);
            let leg = call_sid(0x40, 1, i as u64);
            ended_session(&templates[i % templates.len()], account_id, &root, &leg)
        })
        .collect()
}

/// Appends `count` ended sessions, cycling through `templates`. The first
/// `limit_sessions` are written with `Store::commit` (the code the group
/// committer calls) as the webhooks wrote them: openings, then one commit
/// per event step of [`BATCH_SESSIONS`] calls (the store's batch limit for
/// the ingest rows). The rest are loaded with `Store::load_ended_sessions`,
/// [`LOAD_SESSIONS`] a transaction: the same rows (each session's final
/// snapshot, history row, every event and its lookup keys) in multi-row
/// statements. The next batch is built, on every core, while one is
/// written.
pub async fn grow(
    store: &dyn Store,
    account_id: &str,
    templates: Vec<Template>,
    count: usize,
    limit_sessions: usize,
    bar: &ProgressBar,
) -> anyhow::Result<Growth> {
    anyhow::ensure!(
        !templates.is_empty() || count == 0,
        "no template session to grow the history from"
    );
    let templates = std::sync::Arc::new(templates);
    let account: std::sync::Arc<str> = account_id.into();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let size_at = |done: usize| {
        let size = if done < limit_sessions {
            BATCH_SESSIONS.min(limit_sessions - done)
        } else {
            LOAD_SESSIONS
        };
        size.min(count - done)
    };
    let prepare = |done: usize| {
        let end = done + size_at(done);
        let (templates, account) = (templates.clone(), account.clone());
        tokio::spawn(async move {
            if done < limit_sessions {
                return tokio::task::spawn_blocking(move || {
                    build_steps(&templates, &account, done..end)
                })
                .await?;
            }
            // One part per core, built side by side.
            let part = (end - done).div_ceil(cores).max(1);
            let parts: Vec<_> = (done..end)
                .step_by(part)
                .map(|from| {
                    let (templates, account) = (templates.clone(), account.clone());
                    let to = (from + part).min(end);
                    tokio::task::spawn_blocking(move || build_ended(&templates, &account, from..to))
                })
                .collect();
            let mut sessions = Vec::with_capacity(end - done);
            for part in parts {
                sessions.extend(part.await??);
            }
            Ok(Batch::Ended(sessions))
        })
    };
    let started = Instant::now();
    let mut growth = Growth::default();
    let mut done = 0usize;
    let mut next = (count > 0).then(|| prepare(0));
    while let Some(building) = next.take() {
        let waited = Instant::now();
        let batch = building.await??;
        growth.build_wait += waited.elapsed();
        let size = size_at(done);
        let after = done + size;
        if after < count {
            next = Some(prepare(after));
        }
        match batch {
            Batch::Steps(steps) => {
                for (step, changes) in steps.into_iter().enumerate() {
                    let begin = Instant::now();
                    store.commit(&changes).await?;
                    if step > 0 {
                        growth.limit_changes += changes.len() as u64;
                        growth.limit_commit_time += begin.elapsed();
                    }
                }
                growth.limit_sessions += size as u64;
            }
            Batch::Ended(sessions) => {
                let begin = Instant::now();
                store.load_ended_sessions(&sessions).await?;
                growth.bulk_load_time += begin.elapsed();
                growth.bulk_sessions += size as u64;
            }
        }
        done = after;
        growth.sessions += size as u64;
        bar.inc(size as u64);
    }
    growth.elapsed = started.elapsed();
    Ok(growth)
}
