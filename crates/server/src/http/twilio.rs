//! Twilio webhooks in, as short glue: verify → typed parse
//! (`evo_twilio::webhook`) → core events (`evo_twilio::translate`) →
//! `SessionService` → answer (TwiML for call-control requests, 204 for
//! status callbacks), sent only once the events are durable.
//!
//! Verification: the body is read with the 64 KiB webhook cap and parsed
//! with `FormParams::parse_bounded` (413 before any signature work); the
//! request must be signed by the auth token of the account owning its
//! `AccountSid`, over `EVO_PUBLIC_URL` + path + query (never the Host
//! header: without `EVO_PUBLIC_URL` every webhook is a 403). The account
//! and its tokens come from the directory's memory (`app::twilio_accounts`:
//! reloaded by a generation counter, used only within its bound), else from
//! the store; the HMAC runs on the request's task (microseconds) for a
//! webhook-sized body, on the blocking pool for a larger one.
//!
//! Tenancy: a webhook only changes sessions of its own account (lookup keys
//! and session ids are scoped by account; a `session=` naming another
//! account's session is a 403), and every user it names (`user=`,
//! `From=client:<id>`, a participant label) must belong to that account,
//! else 403 and nothing changes. A callback whose session does not exist
//! yet is parked durably and applied when the session opens.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use chrono::{DateTime, Utc};
use evo_core::api::sessions::{FlowChannels, SessionDirections, SessionMemberRoles};
use evo_core::domain::Account;
use evo_core::event::{Party, SessionEvent};
use evo_core::ids::{CallSid, SessionId, UserId};
use evo_core::reducer;
use evo_core::session::SessionHeader;
use evo_twilio::params::{FormParams, ParamLimits, ParamsError};
use evo_twilio::signature::{validate, SignatureError};
use evo_twilio::translate;
use evo_twilio::twiml::{Client, TwiML};
use evo_twilio::webhook;

use crate::app::sessions::{call_session_id, message_session_id, Applied};
use crate::app::state::AppState;
use crate::app::timing;
use crate::app::twilio_accounts::WebhookAccount;

/// The webhook routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/twilio/voice", any(voice))
        .route("/twilio/status", any(status))
        .route("/twilio/conference", any(conference))
        .route("/twilio/queue", any(queue))
        .route("/twilio/dial", any(dial))
        .route("/twilio/sms", any(sms))
}

/// A verified webhook.
struct Webhook {
    account: Arc<Account>,
    params: FormParams,
    /// Our own query parameters (session, user, party).
    query: FormParams,
    /// `EVO_PUBLIC_URL`, without a trailing slash.
    base_url: String,
    /// When evo-voice received it (stamps requests without `Timestamp`).
    received_at: DateTime<Utc>,
}

/// Why a webhook was refused, answered as Twilio expects: a plain-text
/// 4xx (Twilio logs it and does not retry) or 5xx (nothing was
/// acknowledged; Twilio retries where its policy allows). A store failure is
/// always a 5xx, never a silent 2xx.
#[derive(Debug, thiserror::Error)]
enum WebhookError {
    #[error("{0}")]
    BadRequest(String),
    #[error("Forbidden")]
    Forbidden,
    #[error("{0}")]
    TooLarge(ParamsError),
    #[error("temporarily unavailable")]
    Unavailable,
}

impl From<evo_store::StoreError> for WebhookError {
    fn from(error: evo_store::StoreError) -> Self {
        tracing::error!(%error, "a webhook could not be stored");
        WebhookError::Unavailable
    }
}

impl From<ParamsError> for WebhookError {
    fn from(error: ParamsError) -> Self {
        WebhookError::TooLarge(error)
    }
}

impl From<webhook::WebhookError> for WebhookError {
    fn from(error: webhook::WebhookError) -> Self {
        WebhookError::BadRequest(error.to_string())
    }
}

impl IntoResponse for WebhookError {
    fn into_response(self) -> Response {
        let status = match &self {
            WebhookError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebhookError::Forbidden => StatusCode::FORBIDDEN,
            WebhookError::TooLarge(error) => {
                StatusCode::from_u16(error.status()).unwrap_or(StatusCode::PAYLOAD_TOO_LARGE)
            }
            WebhookError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        };
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            self.to_string(),
        )
            .into_response()
    }
}

/// What a webhook handler answers.
type Answer = Result<Response, WebhookError>;

fn twiml(document: TwiML) -> Answer {
    Ok(([(header::CONTENT_TYPE, "text/xml")], document.to_xml()).into_response())
}

fn no_content() -> Answer {
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn forbidden(why: &str, path: &str) -> WebhookError {
    tracing::warn!(why, path, "refused a Twilio webhook");
    WebhookError::Forbidden
}

/// The query and body parameters of an untrusted request, within Twilio's
/// webhook limits: a typed 413 before anything else is looked at.
fn bounded_params(
    method: &Method,
    query: &str,
    body: &[u8],
) -> Result<(FormParams, FormParams), ParamsError> {
    let limits = ParamLimits::TWILIO_WEBHOOK;
    let query = FormParams::parse_bounded(query.as_bytes(), limits)?;
    let params = if method == Method::GET {
        query.clone()
    } else {
        FormParams::parse_bounded(body, limits)?
    };
    Ok((query, params))
}

/// Bodies up to this size are verified on the request's task: a Twilio
/// webhook is 1-3 KiB, an HMAC of it microseconds, less than the two thread
/// hand-offs the blocking pool costs. Larger ones (up to the 64 KiB cap,
/// hundreds of microseconds) go to the blocking pool, off the async workers.
const INLINE_SIGNATURE_BYTES: usize = 8 * 1024;

/// `validate` with the held tokens: here, or on the blocking pool for a
/// large body. The outer error is the check failing to run (a 5xx).
async fn check_signature(
    held: &WebhookAccount,
    url: &str,
    signed: &FormParams,
    body: &Bytes,
    signature: Option<&str>,
) -> Result<Result<(), SignatureError>, WebhookError> {
    if body.len() <= INLINE_SIGNATURE_BYTES {
        return Ok(validate(&held.tokens(), url, signed, body, signature));
    }
    let tokens: Vec<String> = held.tokens().iter().map(|t| t.to_string()).collect();
    let (url, signed, body) = (url.to_string(), signed.clone(), body.clone());
    let signature = signature.map(str::to_string);
    tokio::task::spawn_blocking(move || {
        let tokens: Vec<&str> = tokens.iter().map(String::as_str).collect();
        validate(&tokens, &url, &signed, &body, signature.as_deref())
    })
    .await
    .map_err(|error| {
        tracing::error!(%error, "the signature check failed to run");
        WebhookError::Unavailable
    })
}

async fn verify(
    state: &AppState,
    method: &Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Webhook, WebhookError> {
    let received_at = Utc::now();
    let started = std::time::Instant::now();
    let path = uri.path();
    let (query, params) = bounded_params(method, uri.query().unwrap_or(""), &body)?;
    let Some(base_url) = state.config.public_url.as_deref() else {
        return Err(forbidden(
            "EVO_PUBLIC_URL is not set, so no webhook signature can be checked",
            path,
        ));
    };
    let base_url = base_url.trim_end_matches('/').to_string();
    let Some(account_sid) = params.get_nonempty("AccountSid") else {
        return Err(forbidden("no AccountSid", path));
    };
    let path_and_query = uri.path_and_query().map_or("/", |pq| pq.as_str());
    let url = format!("{base_url}{path_and_query}");
    let signature = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok());
    let unsigned = FormParams::default();
    let signed = if method == Method::GET {
        &unsigned
    } else {
        &params
    };
    // Every current token of the account (rotation).
    let accounts = state.directory.twilio_accounts();
    let mut verified = None;
    if let Some(held) = accounts.cached(account_sid) {
        if check_signature(&held, &url, signed, &body, signature)
            .await?
            .is_ok()
        {
            verified = Some(held.account.clone());
        }
    }
    let account = match verified {
        Some(account) => account,
        // Not held, held too long ago, or not verified by the held tokens:
        // the store decides (an account or token added elsewhere is in
        // force at once; a store failure is a 5xx).
        None => {
            let Some(held) = accounts.from_store(account_sid).await? else {
                return Err(forbidden("unknown AccountSid", path));
            };
            if let Err(error) = check_signature(&held, &url, signed, &body, signature).await? {
                return Err(forbidden(&error.to_string(), path));
            }
            held.account
        }
    };
    if timing::enabled() {
        timing::step(params.get("CallSid").unwrap_or(path), "signature", started);
    }
    Ok(Webhook {
        account,
        params,
        query,
        base_url,
        received_at,
    })
}

/// A verified webhook is an extractor: a handler that takes a `Webhook`
/// only ever runs for a correctly signed request of a known account.
impl axum::extract::FromRequest<AppState> for Webhook {
    type Rejection = WebhookError;

    async fn from_request(
        request: axum::extract::Request,
        state: &AppState,
    ) -> Result<Self, WebhookError> {
        let (parts, body) = request.into_parts();
        // The URI the request was sent to: no router is nested (axum's
        // `original-uri` feature is off), so nothing stripped a prefix.
        let uri = parts.uri.clone();
        let limit = ParamLimits::TWILIO_WEBHOOK.max_body_bytes;
        // Over the cap: refused unread; `len` is a lower bound.
        let body = axum::body::to_bytes(body, limit).await.map_err(|_| {
            WebhookError::TooLarge(ParamsError::BodyTooLarge {
                len: limit + 1,
                limit,
            })
        })?;
        verify(state, &parts.method, &uri, &parts.headers, body).await
    }
}

impl Webhook {
    /// A user named by the request, who must belong to the webhook's
    /// account; anyone else is a 403.
    async fn user_party(
        &self,
        state: &AppState,
        user_id: &UserId,
        role: SessionMemberRoles,
    ) -> Result<Party, WebhookError> {
        match state.directory.user(user_id).await? {
            Some(user) if user.account_id == self.account.id => Ok(Party {
                identity: format!("client:{}", user.id),
                endpoint_id: Some(user.id.clone().into()),
                display_name: Some(user.display_name.clone()),
                role,
            }),
            _ => Err(forbidden("a user of another account", "")),
        }
    }

    /// The agent named by `user=` in our callback URL, if any; `role=transfer`
    /// marks a member an agent added (AddConferenceMember).
    async fn query_user(&self, state: &AppState) -> Result<Option<Party>, WebhookError> {
        let role = match self.query.get_nonempty("role") {
            Some("transfer") => SessionMemberRoles::Transfer,
            _ => SessionMemberRoles::Agent,
        };
        match self.query.get_nonempty("user") {
            Some(user) => Ok(Some(
                self.user_party(state, &UserId::new(user), role).await?,
            )),
            None => Ok(None),
        }
    }

    fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.base_url)
    }
}

/// Applies `event` to the session the request names (`session=`) or the
/// one `lookup` SIDs lead to, for the webhook's account only; with no
/// session yet, parks it durably under `lookup`. `Ok` means durable.
async fn deliver(
    state: &AppState,
    hook: &Webhook,
    event: SessionEvent,
    lookup: &[String],
    keys: Vec<String>,
    claim: bool,
) -> Result<(), WebhookError> {
    let account = &hook.account.id;
    let mut session_id = hook.query.get_nonempty("session").map(SessionId::new);
    if session_id.is_none() {
        for key in lookup {
            if let Some(id) = state.sessions.session_id_by_key(account, key).await? {
                session_id = Some(id);
                break;
            }
        }
    }
    if let Some(id) = &session_id {
        match state
            .sessions
            .apply_as(account, id, event.clone(), keys.clone(), claim)
            .await?
        {
            Applied::Changed(_) | Applied::Duplicate => return Ok(()),
            Applied::OtherAccount => return Err(forbidden("a session of another account", "")),
            Applied::UnknownSession => {}
        }
    }
    if lookup.is_empty() {
        return Ok(());
    }
    if let Some(id) = state.sessions.park(account, lookup, &event).await? {
        // The session opened meanwhile (maybe after claiming): apply here.
        if let Applied::OtherAccount = state
            .sessions
            .apply_as(account, &id, event, keys, claim)
            .await?
        {
            return Err(forbidden("a session of another account", ""));
        }
    }
    Ok(())
}

async fn header_for(
    state: &AppState,
    account: &Account,
    endpoint: &evo_core::domain::Endpoint,
) -> Result<SessionHeader, WebhookError> {
    let breadcrumb = match &endpoint.customer_id {
        Some(customer) => state.directory.customer_breadcrumb(customer).await?,
        None => Vec::new(),
    };
    Ok(SessionHeader {
        account_id: account.id.clone(),
        account_name: account.name.clone(),
        customer_id: endpoint.customer_id.clone(),
        customer_name: breadcrumb.last().map(|c| c.name.clone()),
        customer_breadcrumb: breadcrumb,
        endpoint_id: endpoint.id.clone(),
        endpoint_name: endpoint.display_name.clone(),
        ..SessionHeader::default()
    })
}

/// The prefix of a softphone's `To` that dequeues a caller: `queue:<name>`.
const QUEUE_PREFIX: &str = "queue:";

/// `/twilio/voice`: a call reached a number, or a softphone dials out (a
/// number, or `queue:<name>` to take the next caller of a queue).
async fn voice(State(state): State<AppState>, hook: Webhook) -> Answer {
    let request = webhook::VoiceRequest::parse(&hook.params)?;
    let (Some(from), Some(to)) = (request.call.from.as_deref(), request.call.to.as_deref()) else {
        return Err(WebhookError::BadRequest("From and To are required".into()));
    };
    let call_sid = request.call.call_sid.as_str();
    let account = &hook.account;
    let session_id = call_session_id(&account.id, &CallSid::new(call_sid));
    let at = hook.received_at;
    if let Some(identity) = from.strip_prefix("client:") {
        // An agent's softphone: the user must be one of this account's.
        let agent = hook
            .user_party(&state, &UserId::new(identity), SessionMemberRoles::Agent)
            .await?;
        let user_id = agent.endpoint_id.clone().unwrap_or_default();
        if let Some(queue) = to.strip_prefix(QUEUE_PREFIX) {
            // The dequeue is reported on the caller's session by the
            // `<Queue url>` request; the agent's own leg opens no session.
            return twiml(TwiML::new().dial_queue(
                &hook.url("/twilio/dial?dequeue=1"),
                queue,
                &hook.url(&format!("/twilio/queue?user={user_id}")),
            ));
        }
        let Some(endpoint) = state.directory.endpoint(&user_id).await? else {
            return Err(forbidden(
                "a softphone without an endpoint",
                "/twilio/voice",
            ));
        };
        let mut header = header_for(&state, account, &endpoint).await?;
        header.channel = FlowChannels::Voice;
        header.direction = SessionDirections::Outgoing;
        header.call_sid = Some(call_sid.to_string().into());
        header.from_address = Some(from.to_string());
        header.from_name = agent.display_name.clone();
        header.to_address = Some(to.to_string());
        header.destination = Some(to.to_string());
        header.display_name = Some(to.to_string());
        header.origin = Some(agent);
        let session = reducer::open(&session_id, header, at);
        // Parked callbacks and the voice request's event: one commit.
        let events = translate::voice(&request, at).into_iter().collect();
        state
            .sessions
            .open_with(session, vec![call_sid.to_string()], events)
            .await?;
        let status_url = hook.url(&format!("/twilio/status?session={session_id}&party=callee"));
        let action = hook.url(&format!("/twilio/dial?session={session_id}"));
        return twiml(TwiML::new().dial_number(&action, to, &status_url));
    }
    let Some(endpoint) = state.directory.endpoint_by_address(&account.id, to).await? else {
        return twiml(
            TwiML::new()
                .say("The number you have called is not in service.")
                .hangup(),
        );
    };
    let mut header = header_for(&state, account, &endpoint).await?;
    header.channel = FlowChannels::Voice;
    header.direction = SessionDirections::Incoming;
    header.call_sid = Some(call_sid.to_string().into());
    header.from_address = Some(from.to_string());
    header.from_name = request.call.caller_name.clone();
    header.to_address = Some(to.to_string());
    header.callback_number = Some(from.to_string());
    header.display_name = Some(format!("{from} → {}", endpoint.display_name));
    header.origin = Some(Party {
        identity: from.to_string(),
        endpoint_id: None,
        display_name: request.call.caller_name.clone(),
        role: SessionMemberRoles::Caller,
    });
    let session = reducer::open(&session_id, header, at);
    let mut events: Vec<SessionEvent> = translate::voice(&request, at).into_iter().collect();
    if let Some(queue) = &endpoint.queue_name {
        events.push(translate::enqueued(&request, queue, at));
    }
    // Callbacks parked under this call, then the voice request's events:
    // one commit, durable before the answer.
    state
        .sessions
        .open_with(session, vec![call_sid.to_string()], events)
        .await?;
    if let Some(queue) = &endpoint.queue_name {
        let action = hook.url(&format!("/twilio/queue?session={session_id}"));
        let wait = hook.url(&format!("/twilio/queue?session={session_id}&wait=1"));
        return twiml(TwiML::new().enqueue(queue, &action, &wait));
    }
    let clients: Vec<Client> = endpoint
        .ring_user_ids
        .iter()
        .map(|user_id| Client {
            identity: user_id.to_string(),
            status_callback: hook.url(&format!(
                "/twilio/status?session={session_id}&user={user_id}"
            )),
        })
        .collect();
    if clients.is_empty() {
        return twiml(
            TwiML::new()
                .say("Nobody is available to take your call.")
                .hangup(),
        );
    }
    let action = hook.url(&format!("/twilio/dial?session={session_id}"));
    twiml(TwiML::new().dial_clients(&action, 25, &clients))
}

/// `/twilio/status`: call progress of a root call or a child leg.
async fn status(State(state): State<AppState>, hook: Webhook) -> Answer {
    let callback = webhook::StatusCallback::parse(&hook.params)?;
    let party = match (
        hook.query_user(&state).await?,
        hook.query.get_nonempty("party"),
    ) {
        (Some(agent), _) => Some(agent),
        // A number an agent added to a conference is a Transfer member.
        (None, Some("callee")) => {
            translate::callee(&callback).map(|party| match hook.query.get_nonempty("role") {
                Some("transfer") => Party {
                    role: SessionMemberRoles::Transfer,
                    ..party
                },
                _ => party,
            })
        }
        _ => None,
    };
    let Some(event) = translate::status(&callback, party, hook.received_at) else {
        // An unknown status is kept out of the way, never an error.
        return no_content();
    };
    let call_sid = callback.call.call_sid.clone();
    // A child leg parks under its parent (the root call opens the session).
    let lookup: Vec<String> = callback
        .call
        .parent_call_sid
        .iter()
        .chain([&call_sid])
        .map(ToString::to_string)
        .collect();
    deliver(
        &state,
        &hook,
        event,
        &lookup,
        vec![call_sid.to_string()],
        false,
    )
    .await?;
    no_content()
}

/// `/twilio/conference`: conference participant and lifecycle events.
/// Participants are their `CallSid` and `ParticipantLabel`; the `user` of
/// the callback URL is the first participant's for every event (Twilio
/// keeps the first participant's URL), so it is checked, never used.
async fn conference(State(state): State<AppState>, hook: Webhook) -> Answer {
    let callback = webhook::ConferenceEvent::parse(&hook.params)?;
    hook.query_user(&state).await?;
    let party = match callback
        .participant_label
        .as_deref()
        .and_then(translate::label_user)
    {
        Some((role, user)) => Some(hook.user_party(&state, &UserId::new(user), role).await?),
        None => None,
    };
    let Some(event) = translate::conference(&callback, party, hook.received_at) else {
        return no_content();
    };
    let conference_sid = callback.conference_sid.clone();
    let lookup: Vec<String> = [conference_sid.to_string()]
        .into_iter()
        .chain(callback.call_sid.iter().map(ToString::to_string))
        .collect();
    deliver(
        &state,
        &hook,
        event,
        &lookup,
        vec![conference_sid.to_string()],
        true,
    )
    .await?;
    no_content()
}

/// `/twilio/queue`: the `<Enqueue>` wait requests (the caller is still
/// waiting), the `<Queue url>` request of a dequeue (`DequeingCallSid`: an
/// agent took the caller), and the `<Enqueue action>` (the caller left the
/// queue; answered `<Hangup/>`, which ends the call).
async fn queue(State(state): State<AppState>, hook: Webhook) -> Answer {
    if hook.query.get_nonempty("wait").is_some() {
        return twiml(TwiML::new().say("Please hold; an agent will be with you shortly."));
    }
    if hook.params.get_nonempty("DequeingCallSid").is_some() {
        let request = webhook::DequeueRequest::parse(&hook.params)?;
        let agent = hook.query_user(&state).await?;
        let event = translate::dequeued(&request, agent, hook.received_at);
        let lookup = vec![request.call.call_sid.to_string()];
        deliver(&state, &hook, event, &lookup, Vec::new(), false).await?;
        // An empty document: the caller is bridged to the agent.
        return twiml(TwiML::new());
    }
    let action = webhook::QueueAction::parse(&hook.params)?;
    if let Some(event) = translate::enqueue_action(&action, true, hook.received_at) {
        let lookup = vec![action.call.call_sid.to_string()];
        deliver(&state, &hook, event, &lookup, Vec::new(), false).await?;
    }
    twiml(TwiML::new().hangup())
}

/// `/twilio/dial`: the `<Dial>` finished. Always answered with `<Hangup/>`
/// (after an apology to an inbound caller nobody answered), so the event
/// says `hangup` and ends the call as Twilio ends it; an outbound call to a
/// busy number ends `busy`. The agent's own leg of a dequeue
/// (`dequeue=1`) reports nothing here: the caller's session has it.
async fn dial(State(state): State<AppState>, hook: Webhook) -> Answer {
    if hook.query.get_nonempty("dequeue").is_some() {
        return twiml(TwiML::new().hangup());
    }
    let action = webhook::DialAction::parse(&hook.params)?;
    let answered = translate::dial_action(&action, None, true, hook.received_at);
    if let Some(event) = answered {
        let lookup = vec![action.call.call_sid.to_string()];
        deliver(&state, &hook, event, &lookup, Vec::new(), false).await?;
    }
    let outbound = action
        .call
        .from
        .as_deref()
        .is_some_and(|from| from.starts_with("client:"));
    let answered = matches!(
        action.dial_call_status,
        evo_twilio::status::DialCallStatus::Completed
            | evo_twilio::status::DialCallStatus::Answered
    );
    if outbound || answered {
        return twiml(TwiML::new().hangup());
    }
    twiml(
        TwiML::new()
            .say("Nobody is available to take your call. Goodbye.")
            .hangup(),
    )
}

/// `/twilio/sms`: an inbound message opens or extends a chat session.
async fn sms(State(state): State<AppState>, hook: Webhook) -> Answer {
    let message = webhook::InboundMessage::parse(&hook.params)?;
    let account = &hook.account;
    let Some(endpoint) = state
        .directory
        .endpoint_by_address(&account.id, &message.to)
        .await?
    else {
        return twiml(TwiML::new());
    };
    let conversation = format!("chat:{}:{}", endpoint.id, message.from);
    let active = state
        .sessions
        .session_id_by_key(&account.id, &conversation)
        .await?
        .and_then(|id| state.sessions.index().get(&SessionId::new(id.as_str())))
        .map(|live| live.session().id().to_string());
    let at = hook.received_at;
    let session_id = match active {
        Some(id) => id,
        None => {
            let session_id = message_session_id(&account.id, &message.message_sid);
            let mut header = header_for(&state, account, &endpoint).await?;
            header.channel = FlowChannels::Chat;
            header.direction = SessionDirections::Incoming;
            header.call_sid = None;
            header.from_address = Some(message.from.clone());
            header.to_address = Some(message.to.clone());
            header.from_phone_number = Some(message.from.clone());
            header.display_name = Some(format!("{} → {}", message.from, endpoint.display_name));
            header.origin = Some(Party {
                identity: message.from.clone(),
                endpoint_id: None,
                display_name: None,
                role: SessionMemberRoles::Caller,
            });
            let session = reducer::open(&session_id, header, at);
            state.sessions.open(session, Vec::new()).await?;
            session_id.to_string()
        }
    };
    // The conversation key now leads to this session (a newer chat replaces
    // an ended one: the key is rewritten by the store's upsert).
    state
        .sessions
        .apply_as(
            &account.id,
            &SessionId::new(session_id.as_str()),
            translate::message(&message, at),
            vec![conversation],
            false,
        )
        .await?;
    twiml(TwiML::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_failure_is_a_5xx_twilio_retries_and_bad_input_a_plain_4xx() {
        let failed: WebhookError =
            evo_store::StoreError::Conflict("ses-1 kept changing".to_string()).into();
        let response = failed.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/plain; charset=utf-8"
        );
        let refused = WebhookError::BadRequest("CallSid is required".into()).into_response();
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            WebhookError::Forbidden.into_response().status(),
            StatusCode::FORBIDDEN
        );
    }
}
