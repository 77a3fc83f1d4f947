//! Agent actions on a live call (issue 17): hold and unhold, blind transfer,
//! conference members, hang-up and console data.
//!
//! Every action is: rights (the caller's `Reach`: a member of the session, a
//! manager of its account, a system administrator) → Twilio's REST API
//! (`evo_twilio::control` says how) → an `Agent` event appended to the
//! session's log. What Twilio then does (a participant held, a leg
//! completed, a new leg ringing) comes back through the signed webhooks and
//! the reducer, like every other change. A request whose effect was already
//! asked for (a second hold of a held call, a second hang-up) sends nothing.

use std::sync::Arc;

use chrono::Utc;
use evo_core::api::sessions::{SessionHoldReasons, SessionMemberRoles};
use evo_core::domain::Account;
use evo_core::event::{EventKind, EventSource, Party, SessionEvent};
use evo_core::ids::{AccountId, CallSid, EndpointId, SessionId, UserId};
use evo_core::session::Session;
use evo_store::StoreError;
use evo_twilio::control;
use evo_twilio::rest::{ClientConfig, Credentials, RestError, TwilioClient};
use evo_twilio::twiml::Client;

use crate::app::directory::Directory;
use crate::app::live::LiveSession;
use crate::app::sessions::{Applied, SessionService};
use crate::app::visibility::Reach;
use crate::auth::Principal;

/// Why an action was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// No such session, or one the caller may not see (never told apart).
    #[error("Session '{0}' does not exist")]
    NotFound(String),
    /// The session is over.
    #[error("Session '{0}' has ended")]
    Ended(String),
    /// A request field is wrong.
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// The session's account has no Twilio credentials.
    #[error("The account has no Twilio credentials")]
    NoTwilioAccount,
    /// Twilio refused or failed the request.
    #[error("Twilio: {0}")]
    Twilio(#[from] RestError),
    /// Twilio carried out part of the action (`done`), then refused the
    /// rest; the session's log says so.
    #[error("{done}, but Twilio refused the rest: {source}")]
    Partial {
        done: &'static str,
        source: RestError,
    },
    #[error(transparent)]
    Storage(#[from] StoreError),
}

impl ActionError {
    /// Twilio's error code and message, when Twilio answered with an error.
    pub fn twilio_code(&self) -> Option<(Option<u32>, String)> {
        let (error, done) = match self {
            ActionError::Twilio(error) => (error, None),
            ActionError::Partial { done, source } => (source, Some(*done)),
            _ => return None,
        };
        let (code, message) = rest_parts(error);
        Some(match done {
            Some(done) => (
                code,
                format!("{done}, but Twilio refused the rest: {message}"),
            ),
            None => (code, message),
        })
    }
}

/// Pages of 1,000 calls read for GetActiveCalls at most.
const MAX_CALL_PAGES: usize = 5;

/// Twilio's error code and message, or the transport failure.
fn rest_parts(error: &RestError) -> (Option<u32>, String) {
    match error {
        RestError::Twilio { code, message, .. } | RestError::NotFound { code, message } => {
            (*code, message.clone())
        }
        other => (None, other.to_string()),
    }
}

/// Who acts, and the public URL Twilio's callbacks must reach.
pub struct Actor<'a> {
    pub principal: &'a Principal,
    pub base_url: &'a str,
}

/// Where a blind transfer or a new conference member goes.
enum Destination {
    User(evo_core::domain::User),
    Number(String),
    Queue(String),
}

/// The agent actions.
pub struct Actions {
    sessions: Arc<SessionService>,
    directory: Arc<Directory>,
    /// Holds the connection pool and base URL; used per account.
    twilio: TwilioClient,
}

impl Actions {
    pub(in crate::app) fn new(
        sessions: Arc<SessionService>,
        directory: Arc<Directory>,
        twilio_api_base: &str,
    ) -> anyhow::Result<Self> {
        let config = ClientConfig {
            base_url: twilio_api_base.to_string(),
            ..ClientConfig::default()
        };
        let twilio = TwilioClient::new(Credentials::new("", ""), &config)?;
        Ok(Actions {
            sessions,
            directory,
            twilio,
        })
    }

    /// The live session, if the actor may act on it.
    async fn session(
        &self,
        actor: &Actor<'_>,
        id: &SessionId,
    ) -> Result<Arc<LiveSession>, ActionError> {
        let reach = Reach::of(&self.directory, actor.principal);
        if let Some(live) = self.sessions.index().get(id) {
            if !reach.may_see(&live) {
                return Err(ActionError::NotFound(id.to_string()));
            }
            if !live.session().is_active() {
                return Err(ActionError::Ended(id.to_string()));
            }
            return Ok(live);
        }
        // Not live: ended (409 when the caller may see it) or unknown.
        match self.sessions.stored(id).await? {
            Some(stored) if stored.state().ended => {
                let endpoints = stored_endpoints(&stored);
                if reach.may_see_parts(&stored.header().account_id, &endpoints) {
                    Err(ActionError::Ended(id.to_string()))
                } else {
                    Err(ActionError::NotFound(id.to_string()))
                }
            }
            _ => Err(ActionError::NotFound(id.to_string())),
        }
    }

    /// [`Actions::session`] and the whole session, read from the store
    /// (the index keeps only its JSON and head).
    async fn whole(
        &self,
        actor: &Actor<'_>,
        id: &SessionId,
    ) -> Result<(Arc<LiveSession>, Session), ActionError> {
        let live = self.session(actor, id).await?;
        match self.sessions.stored(id).await? {
            Some(session) if session.is_active() => Ok((live, session)),
            Some(_) => Err(ActionError::Ended(id.to_string())),
            None => Err(ActionError::NotFound(id.to_string())),
        }
    }

    async fn client(&self, account_id: &AccountId) -> Result<TwilioClient, ActionError> {
        let account: Account = self
            .directory
            .account(account_id)
            .await?
            .ok_or(ActionError::NoTwilioAccount)?;
        match (&account.twilio_account_sid, &account.twilio_auth_token) {
            (Some(sid), Some(token)) => Ok(self
                .twilio
                .for_account(Credentials::new(sid.clone(), token.expose()))),
            _ => Err(ActionError::NoTwilioAccount),
        }
    }

    async fn log(
        &self,
        actor: &Actor<'_>,
        session_id: &SessionId,
        kind: EventKind,
    ) -> Result<Arc<LiveSession>, ActionError> {
        let event = SessionEvent {
            at: Utc::now(),
            clock: evo_core::event::Clock::Server,
            source: EventSource::Agent {
                id: format!(
                    "{}:{}",
                    actor.principal.user_id,
                    uuid::Uuid::now_v7().simple()
                ),
            },
            kind,
        };
        match self.sessions.apply(session_id, event, Vec::new()).await? {
            Applied::Changed(live) => Ok(live),
            // `apply` names no account, so `OtherAccount` cannot happen here.
            Applied::Duplicate | Applied::UnknownSession | Applied::OtherAccount => self
                .sessions
                .index()
                .get(session_id)
                .ok_or_else(|| ActionError::Ended(session_id.to_string())),
        }
    }

    /// The account's calls Twilio reports in progress (`GET
    /// /Calls.json?Status=in-progress`, following pages); none for an
    /// account without Twilio credentials.
    pub async fn twilio_calls_in_progress(
        &self,
        account_id: &AccountId,
    ) -> Result<Vec<evo_twilio::rest::CallResource>, ActionError> {
        let client = match self.client(account_id).await {
            Ok(client) => client,
            Err(ActionError::NoTwilioAccount) => return Ok(Vec::new()),
            Err(other) => return Err(other),
        };
        Ok(client.calls_in_progress(MAX_CALL_PAGES).await?)
    }

    /// Puts a leg (the caller's by default) on hold.
    pub async fn hold(
        &self,
        actor: &Actor<'_>,
        session_id: &SessionId,
        call_sid: Option<&CallSid>,
        reason: SessionHoldReasons,
    ) -> Result<Arc<LiveSession>, ActionError> {
        let (live, session) = self.whole(actor, session_id).await?;
        let session = &session;
        let target = leg_of(session, call_sid)?;
        if held_legs(session, &self.sessions.events(session_id).await?).contains(&target) {
            return Ok(live);
        }
        let client = self.client(&session.header().account_id).await?;
        let queue_name = match &session.state().conference_sid {
            Some(conference) => {
                client
                    .update_participant(conference, &target, &control::hold_participant())
                    .await?;
                None
            }
            None => {
                let queue = control::hold_queue_name(session_id);
                client
                    .update_call(&target, &control::hold_in_queue(&queue))
                    .await?;
                Some(queue)
            }
        };
        self.log(
            actor,
            session_id,
            EventKind::HoldStarted {
                call_sid: Some(target),
                by_user_id: Some(actor.principal.user_id.clone()),
                reason,
                queue_name,
            },
        )
        .await
    }

    /// Takes the held leg off hold: the conference participant is unheld;
    /// a leg waiting in its hold queue rings the agent again.
    pub async fn unhold(
        &self,
        actor: &Actor<'_>,
        session_id: &SessionId,
    ) -> Result<Arc<LiveSession>, ActionError> {
        let (live, session) = self.whole(actor, session_id).await?;
        let session = &session;
        let Some(target) = held_legs(session, &self.sessions.events(session_id).await?)
            .into_iter()
            .next()
        else {
            return Ok(live);
        };
        let client = self.client(&session.header().account_id).await?;
        match &session.state().conference_sid {
            Some(conference) => {
                client
                    .update_participant(conference, &target, &control::unhold_participant())
                    .await?;
            }
            None => {
                let user = &actor.principal.user_id;
                let clients = [Client {
                    identity: user.to_string(),
                    status_callback: format!(
                        "{}/twilio/status?session={session_id}&user={user}",
                        actor.base_url
                    ),
                }];
                let action = format!("{}/twilio/dial?session={session_id}", actor.base_url);
                client
                    .update_call(&target, &control::ring_clients(&action, &clients))
                    .await?;
            }
        }
        self.log(
            actor,
            session_id,
            EventKind::HoldEnded {
                call_sid: Some(target),
            },
        )
        .await
    }

    /// Stores console data on the session (no Twilio request).
    pub async fn console_data(
        &self,
        actor: &Actor<'_>,
        session_id: &SessionId,
        data: &str,
    ) -> Result<Arc<LiveSession>, ActionError> {
        // The index keeps no console data: the stored session has it.
        let (live, session) = self.whole(actor, session_id).await?;
        if session.state().console_data.as_deref() == Some(data) {
            return Ok(live);
        }
        self.log(
            actor,
            session_id,
            EventKind::ConsoleData {
                data: data.to_string(),
            },
        )
        .await
    }

    /// Hangs up a leg (the caller's by default).
    pub async fn end(
        &self,
        actor: &Actor<'_>,
        session_id: &SessionId,
        call_sid: Option<&CallSid>,
    ) -> Result<Arc<LiveSession>, ActionError> {
        let (live, session) = self.whole(actor, session_id).await?;
        let session = &session;
        let target = leg_of(session, call_sid)?;
        let asked_before = self
            .sessions
            .events(session_id)
            .await?
            .iter()
            .any(|e| matches!(e.kind, EventKind::HangupRequested { .. }));
        if asked_before {
            return Ok(live);
        }
        let client = self.client(&session.header().account_id).await?;
        client.update_call(&target, &control::hang_up()).await?;
        self.log(
            actor,
            session_id,
            EventKind::HangupRequested {
                by_user_id: Some(actor.principal.user_id.clone()),
            },
        )
        .await
    }

    async fn destination(
        &self,
        account_id: &AccountId,
        text: Option<&str>,
    ) -> Result<Destination, ActionError> {
        let invalid = |message: String| ActionError::Invalid {
            field: "Destination",
            message,
        };
        let text = text
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                invalid("Destination is required: a user, a phone number or queue:<name>".into())
            })?;
        if let Some(queue) = text.strip_prefix("queue:") {
            if queue.trim().is_empty() {
                return Err(invalid("The queue name is empty".into()));
            }
            return Ok(Destination::Queue(queue.trim().to_string()));
        }
        let digits = text.strip_prefix('+').unwrap_or("");
        if !digits.is_empty() && digits.len() <= 15 && digits.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(Destination::Number(text.to_string()));
        }
        let user = match self.directory.user(&UserId::new(text)).await? {
            Some(user) => Some(user),
            None => self.directory.user_by_email(text).await?,
        };
        match user {
            Some(user) if user.account_id == *account_id => Ok(Destination::User(user)),
            _ => Err(invalid(format!(
                "'{text}' is no user of this account, E.164 number or queue:<name>"
            ))),
        }
    }

    /// Blind transfer: the caller's leg is redirected to a user, a number
    /// or a queue; the agent's leg ends as Twilio leaves the `<Dial>`.
    pub async fn redirect(
        &self,
        actor: &Actor<'_>,
        session_id: &SessionId,
        destination: Option<&str>,
        caller_id: Option<&str>,
    ) -> Result<Arc<LiveSession>, ActionError> {
        let (_, session) = self.whole(actor, session_id).await?;
        let session = &session;
        let root = leg_of(session, None)?;
        let destination = self
            .destination(&session.header().account_id, destination)
            .await?;
        let client = self.client(&session.header().account_id).await?;
        let base = actor.base_url;
        let action = format!("{base}/twilio/dial?session={session_id}");
        let (update, target) = match &destination {
            Destination::User(user) => {
                let clients = [Client {
                    identity: user.id.to_string(),
                    status_callback: format!(
                        "{base}/twilio/status?session={session_id}&user={}",
                        user.id
                    ),
                }];
                (control::ring_clients(&action, &clients), user_party(user))
            }
            Destination::Number(number) => {
                let caller_id = caller_id
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .or(session.header().to_address.as_deref())
                    .unwrap_or("");
                let callback = format!("{base}/twilio/status?session={session_id}&party=callee");
                (
                    control::dial_number(&action, caller_id, number, &callback),
                    number_party(number),
                )
            }
            Destination::Queue(queue) => {
                let action = format!("{base}/twilio/queue?session={session_id}");
                let wait = format!("{base}/twilio/queue?session={session_id}&wait=1");
                (
                    control::enqueue(queue, &action, &wait),
                    Party {
                        identity: format!("queue:{queue}"),
                        endpoint_id: None,
                        display_name: Some(queue.clone()),
                        role: SessionMemberRoles::Transfer,
                    },
                )
            }
        };
        client.update_call(&root, &update).await?;
        self.log(
            actor,
            session_id,
            EventKind::TransferStarted {
                by_user_id: Some(actor.principal.user_id.clone()),
                target,
                blind: true,
            },
        )
        .await
    }

    /// Adds a member: moves the call into the session's conference first
    /// (the caller's leg, and the agent's leg `call_sid`), then dials the
    /// member into it with the Transfer role.
    pub async fn add_conference_member(
        &self,
        actor: &Actor<'_>,
        session_id: &SessionId,
        call_sid: Option<&CallSid>,
        destination: Option<&str>,
        from_number: Option<&str>,
    ) -> Result<Arc<LiveSession>, ActionError> {
        let (_, session) = self.whole(actor, session_id).await?;
        let session = &session;
        let root = leg_of(session, None)?;
        let agent_leg = match call_sid.filter(|c| !c.trim().is_empty()) {
            Some(sid) => Some(leg_of(session, Some(sid))?),
            None => None,
        };
        let destination = self
            .destination(&session.header().account_id, destination)
            .await?;
        let base = actor.base_url;
        let (to, target, status_callback) = match &destination {
            Destination::User(user) => (
                format!("client:{}", user.id),
                user_party(user),
                format!(
                    "{base}/twilio/status?session={session_id}&user={}&role=transfer",
                    user.id
                ),
            ),
            Destination::Number(number) => (
                number.clone(),
                number_party(number),
                format!("{base}/twilio/status?session={session_id}&party=callee&role=transfer"),
            ),
            Destination::Queue(_) => {
                return Err(ActionError::Invalid {
                    field: "Destination",
                    message: "A queue cannot join a conference".into(),
                })
            }
        };
        let from = from_number
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .or(session.header().to_address.as_deref())
            .ok_or_else(|| ActionError::Invalid {
                field: "FromNumber",
                message: "FromNumber is required".into(),
            })?;
        let client = self.client(&session.header().account_id).await?;
        let name = control::conference_name(session_id);
        let conference_callback = format!("{base}/twilio/conference?session={session_id}");
        let label = format!("transfer:{}", target.endpoint_id.as_deref().unwrap_or(&to));
        let action = format!(
            "Warm transfer to {}",
            target.display_name.as_deref().unwrap_or(&target.identity)
        );
        let mut dials = Vec::new();
        if session.state().conference_sid.is_none() {
            // A failure here changed nothing: a plain 502.
            client
                .update_call(
                    &root,
                    &control::join_conference(&name, &conference_callback, true),
                )
                .await?;
            // Redirecting the caller's call ends its <Dial>, so Twilio
            // disconnects the agent's leg; the agent is dialled back into
            // the conference.
            if let Some(agent_leg) = agent_leg.as_deref().filter(|leg| *leg != root) {
                let agent = session
                    .state()
                    .members
                    .iter()
                    .find(|m| m.call_sid.as_deref() == Some(agent_leg))
                    .and_then(|m| m.endpoint_id.clone())
                    .unwrap_or_else(|| actor.principal.user_id.clone().into());
                dials.push(control::add_participant(
                    from,
                    &format!("client:{agent}"),
                    &format!("agent:{agent}"),
                    &format!("{base}/twilio/status?session={session_id}&user={agent}"),
                    &conference_callback,
                ));
            }
        }
        dials.push(control::add_participant(
            from,
            &to,
            &label,
            &status_callback,
            &conference_callback,
        ));
        let moved = session.state().conference_sid.is_none();
        for dial in &dials {
            if let Err(source) = client.create_participant(&name, dial).await {
                if !moved {
                    return Err(source.into());
                }
                // The call is in the conference already: say so on the
                // session, then tell the caller what Twilio refused.
                let error = match rest_parts(&source) {
                    (Some(code), message) => format!("Twilio {code}: {message}"),
                    (None, message) => message,
                };
                let done = "The call moved into the conference";
                let partial = ActionError::Partial { done, source };
                self.log(
                    actor,
                    session_id,
                    EventKind::ActionFailed {
                        by_user_id: Some(actor.principal.user_id.clone()),
                        action,
                        error,
                    },
                )
                .await?;
                return Err(partial);
            }
        }
        self.log(
            actor,
            session_id,
            EventKind::TransferStarted {
                by_user_id: Some(actor.principal.user_id.clone()),
                target: Party {
                    role: SessionMemberRoles::Transfer,
                    ..target
                },
                blind: false,
            },
        )
        .await
    }
}

fn user_party(user: &evo_core::domain::User) -> Party {
    Party {
        identity: format!("client:{}", user.id),
        endpoint_id: Some(user.id.clone().into()),
        display_name: Some(user.display_name.clone()),
        role: SessionMemberRoles::Agent,
    }
}

fn number_party(number: &str) -> Party {
    Party {
        identity: number.to_string(),
        endpoint_id: None,
        display_name: None,
        role: SessionMemberRoles::Caller,
    }
}

/// The endpoints a stored session is visible to (endpoint, answerer, members).
fn stored_endpoints(session: &Session) -> Vec<EndpointId> {
    let mut endpoints = vec![session.header().endpoint_id.clone()];
    endpoints.extend(session.state().answered_by_id.clone());
    endpoints.extend(
        session
            .state()
            .members
            .iter()
            .filter_map(|m| m.endpoint_id.clone()),
    );
    endpoints
}

/// The leg `call_sid` names (the root call when `None`), if it is one of
/// the session's.
fn leg_of(session: &Session, call_sid: Option<&CallSid>) -> Result<CallSid, ActionError> {
    let root = session.header().call_sid.clone();
    match call_sid.map(|sid| sid.trim()).filter(|c| !c.is_empty()) {
        None => root.ok_or_else(|| ActionError::Invalid {
            field: "SessionId",
            message: "The session has no call".into(),
        }),
        Some(sid) => {
            let known = root.as_deref() == Some(sid)
                || session
                    .state()
                    .members
                    .iter()
                    .any(|m| m.call_sid.as_deref() == Some(sid));
            if known {
                Ok(CallSid::new(sid))
            } else {
                Err(ActionError::Invalid {
                    field: "CallSid",
                    message: format!("'{sid}' is no call of this session"),
                })
            }
        }
    }
}

/// The legs an agent's hold request (not yet ended) or the session's state
/// says are held, the root first.
fn held_legs(session: &Session, events: &[SessionEvent]) -> Vec<CallSid> {
    // The last agent hold request per leg decides, by the agents' clock.
    let mut last: std::collections::BTreeMap<CallSid, (chrono::DateTime<Utc>, bool)> =
        std::collections::BTreeMap::new();
    let root = session.header().call_sid.clone().unwrap_or_default();
    for event in events {
        let (leg, held) = match &event.kind {
            EventKind::HoldStarted { call_sid, .. } => (call_sid.clone(), true),
            EventKind::HoldEnded { call_sid } => (call_sid.clone(), false),
            _ => continue,
        };
        let leg = leg.unwrap_or_else(|| root.clone());
        let entry = last.entry(leg).or_insert((event.at, held));
        if event.at >= entry.0 {
            *entry = (event.at, held);
        }
    }
    let mut held: Vec<CallSid> = last
        .into_iter()
        .filter(|(_, (_, held))| *held)
        .map(|(leg, _)| leg)
        .collect();
    let state_held = session.state().hold_reason != SessionHoldReasons::None
        || session.state().call_state == evo_core::api::sessions::SessionCallState::Hold;
    if state_held && !root.is_empty() && !held.contains(&root) {
        held.push(root.clone());
    }
    held.sort_by_key(|leg| *leg != root);
    held
}
