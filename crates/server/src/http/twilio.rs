//! Twilio webhooks in: verify the signature, turn the request into session
//! events, apply them durably, answer (TwiML for call-control requests,
//! 204 for status callbacks).
//!
//! Every request is signed by the auth token of the account owning its
//! `AccountSid`, over the deployment's public URL (`EVO_PUBLIC_URL`; without
//! it, `http://{Host}`). An unknown account or a bad signature is a 403 and
//! changes nothing. Child legs and conferences find their session through
//! lookup keys recorded when they first appear, or through our own
//! `session`/`user` parameters in the callback URLs we hand to Twilio (those
//! are covered by the signature).

use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use chrono::{DateTime, Utc};
use evo_core::api::sessions::{FlowChannels, SessionDirections, SessionMemberRoles};
use evo_core::domain::Account;
use evo_core::event::{
    CallProgress, Clock, EventKind, EventSource, ParticipantChange, Party, QueueResult,
    SessionEvent,
};
use evo_core::reducer;
use evo_core::session::SessionHeader;
use evo_twilio::params::FormParams;
use evo_twilio::signature::validate;
use evo_twilio::twiml::{Client, TwiML};

use crate::ingest::Applied;
use crate::state::AppState;

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
    account: Account,
    params: FormParams,
    /// Our own query parameters (session, user).
    query: FormParams,
    base_url: String,
}

fn plain(status: StatusCode, text: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text.to_string(),
    )
        .into_response()
}

fn twiml(document: TwiML) -> Response {
    ([(header::CONTENT_TYPE, "text/xml")], document.to_xml()).into_response()
}

fn unavailable(error: impl std::fmt::Display) -> Response {
    // A 5xx makes Twilio retry where its retry policy allows; nothing was
    // acknowledged.
    tracing::error!(%error, "a webhook could not be stored");
    plain(StatusCode::SERVICE_UNAVAILABLE, "temporarily unavailable")
}

async fn verify(
    state: &AppState,
    method: &Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Webhook, Response> {
    let query = FormParams::parse(uri.query().unwrap_or("").as_bytes());
    let params = if method == Method::GET {
        query.clone()
    } else {
        FormParams::parse(body)
    };
    let forbidden = |why: &str| {
        tracing::warn!(why, path = %uri.path(), "refused a Twilio webhook");
        plain(StatusCode::FORBIDDEN, "Forbidden")
    };
    let Some(account_sid) = params.get_nonempty("AccountSid") else {
        return Err(forbidden("no AccountSid"));
    };
    let account = match state.store.account_by_twilio_sid(account_sid).await {
        Ok(Some(account)) => account,
        Ok(None) => return Err(forbidden("unknown AccountSid")),
        Err(error) => return Err(unavailable(error)),
    };
    let base_url = state.config.public_url.clone().unwrap_or_else(|| {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        format!("http://{host}")
    });
    let path_and_query = uri.path_and_query().map(|pq| pq.as_str()).unwrap_or("/");
    let url = format!("{}{}", base_url.trim_end_matches('/'), path_and_query);
    let token = account.twilio_auth_token.clone().unwrap_or_default();
    let signed = if method == Method::GET {
        FormParams::default()
    } else {
        params.clone()
    };
    let signature = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok());
    if let Err(error) = validate(&[token.as_str()], &url, &signed, body, signature) {
        return Err(forbidden(&error.to_string()));
    }
    Ok(Webhook {
        account,
        params,
        query,
        base_url: base_url.trim_end_matches('/').to_string(),
    })
}

/// A verified webhook is an extractor: a handler that takes a `Webhook`
/// only ever runs for a correctly signed request of a known account.
impl axum::extract::FromRequest<AppState> for Webhook {
    type Rejection = Response;

    async fn from_request(
        request: axum::extract::Request,
        state: &AppState,
    ) -> Result<Self, Response> {
        let (parts, body) = request.into_parts();
        let uri = parts
            .extensions
            .get::<OriginalUri>()
            .map_or_else(|| parts.uri.clone(), |original| original.0.clone());
        let body = axum::body::to_bytes(body, state.config.max_body_bytes)
            .await
            .map_err(|_| plain(StatusCode::PAYLOAD_TOO_LARGE, "request body too large"))?;
        verify(state, &parts.method, &uri, &parts.headers, &body).await
    }
}

fn progress(status: &str) -> Option<CallProgress> {
    Some(match status {
        "queued" => CallProgress::Queued,
        "initiated" => CallProgress::Initiated,
        "ringing" => CallProgress::Ringing,
        "in-progress" | "answered" => CallProgress::InProgress,
        "completed" => CallProgress::Completed,
        "busy" => CallProgress::Busy,
        "no-answer" => CallProgress::NoAnswer,
        "failed" => CallProgress::Failed,
        "canceled" => CallProgress::Canceled,
        _ => return None,
    })
}

/// Twilio's `Timestamp` (RFC 2822), else now.
fn timestamp(params: &FormParams) -> DateTime<Utc> {
    stamped(params).0
}

/// Twilio's `Timestamp` and its clock, else now on the server's clock.
fn stamped(params: &FormParams) -> (DateTime<Utc>, Clock) {
    params
        .get_nonempty("Timestamp")
        .and_then(|t| DateTime::parse_from_rfc2822(t.trim()).ok())
        .map(|t| (t.with_timezone(&Utc), Clock::Twilio))
        .unwrap_or_else(|| (Utc::now(), Clock::Server))
}

fn sequence(params: &FormParams) -> Option<u32> {
    params
        .get_nonempty("SequenceNumber")
        .and_then(|s| s.trim().parse().ok())
}

fn session_id_for_call(call_sid: &str) -> String {
    format!("ses-{call_sid}")
}

async fn party_of_user(state: &AppState, user_id: &str, role: SessionMemberRoles) -> Option<Party> {
    let user = state.store.user(user_id).await.ok().flatten()?;
    Some(Party {
        identity: format!("client:{}", user.id),
        endpoint_id: Some(user.id.clone()),
        display_name: Some(user.display_name.clone()),
        role,
    })
}

async fn header_for(
    state: &AppState,
    account: &Account,
    endpoint: &evo_core::domain::Endpoint,
) -> SessionHeader {
    let breadcrumb = match &endpoint.customer_id {
        Some(customer) => state
            .store
            .customer_breadcrumb(customer)
            .await
            .unwrap_or_default(),
        None => Vec::new(),
    };
    SessionHeader {
        account_id: account.id.clone(),
        account_name: account.name.clone(),
        customer_id: endpoint.customer_id.clone(),
        customer_name: breadcrumb.last().map(|c| c.name.clone()),
        customer_breadcrumb: breadcrumb,
        endpoint_id: endpoint.id.clone(),
        endpoint_name: endpoint.display_name.clone(),
        ..SessionHeader::default()
    }
}

/// `/twilio/voice`: a call reached a number (or a softphone dials out).
async fn voice(State(state): State<AppState>, hook: Webhook) -> Response {
    let params = &hook.params;
    let (Some(call_sid), Some(from), Some(to)) = (
        params.get_nonempty("CallSid"),
        params.get_nonempty("From"),
        params.get_nonempty("To"),
    ) else {
        return plain(StatusCode::BAD_REQUEST, "CallSid, From and To are required");
    };
    let session_id = session_id_for_call(call_sid);
    let at = timestamp(params);
    if let Some(identity) = from.strip_prefix("client:") {
        // An agent's softphone dials out.
        let Ok(Some(user)) = state.store.user(identity).await else {
            return twiml(
                TwiML::new()
                    .say("This softphone is not registered.")
                    .hangup(),
            );
        };
        let Ok(Some(endpoint)) = state.store.endpoint(&user.id).await else {
            return twiml(
                TwiML::new()
                    .say("This softphone is not registered.")
                    .hangup(),
            );
        };
        let mut header = header_for(&state, &hook.account, &endpoint).await;
        header.channel = FlowChannels::Voice;
        header.direction = SessionDirections::Outgoing;
        header.call_sid = Some(call_sid.to_string());
        header.from_address = Some(from.to_string());
        header.from_name = Some(user.display_name.clone());
        header.to_address = Some(to.to_string());
        header.destination = Some(to.to_string());
        header.display_name = Some(to.to_string());
        header.origin = party_of_user(&state, &user.id, SessionMemberRoles::Agent).await;
        let session = reducer::open(&session_id, header, at);
        if let Err(error) = state
            .sessions
            .open(session, vec![call_sid.to_string()])
            .await
        {
            return unavailable(error);
        }
        let status_url = format!(
            "{}/twilio/status?session={session_id}&party=callee",
            hook.base_url
        );
        let action = format!("{}/twilio/dial?session={session_id}", hook.base_url);
        return twiml(TwiML::new().dial_number(&action, to, &status_url));
    }
    let endpoint = match state.store.endpoint_by_address(&hook.account.id, to).await {
        Ok(Some(endpoint)) => endpoint,
        Ok(None) => {
            return twiml(
                TwiML::new()
                    .say("The number you have called is not in service.")
                    .hangup(),
            )
        }
        Err(error) => return unavailable(error),
    };
    let mut header = header_for(&state, &hook.account, &endpoint).await;
    header.channel = FlowChannels::Voice;
    header.direction = SessionDirections::Incoming;
    header.call_sid = Some(call_sid.to_string());
    header.from_address = Some(from.to_string());
    header.from_name = params.get_nonempty("CallerName").map(str::to_string);
    header.to_address = Some(to.to_string());
    header.callback_number = Some(from.to_string());
    header.display_name = Some(format!("{from} → {}", endpoint.display_name));
    header.origin = Some(Party {
        identity: from.to_string(),
        endpoint_id: None,
        display_name: params.get_nonempty("CallerName").map(str::to_string),
        role: SessionMemberRoles::Caller,
    });
    let session = reducer::open(&session_id, header, at);
    if let Err(error) = state
        .sessions
        .open(session, vec![call_sid.to_string()])
        .await
    {
        return unavailable(error);
    }
    let ringing = SessionEvent {
        at,
        clock: Clock::Server,
        source: EventSource::Voice {
            call_sid: call_sid.to_string(),
        },
        kind: EventKind::CallStatus {
            call_sid: call_sid.to_string(),
            status: progress(params.get("CallStatus").unwrap_or("ringing"))
                .unwrap_or(CallProgress::Ringing),
            party: None,
            duration: None,
            sip_response_code: None,
        },
    };
    if let Err(error) = state.sessions.apply(&session_id, ringing, Vec::new()).await {
        return unavailable(error);
    }
    if let Some(queue) = &endpoint.queue_name {
        let enqueued = SessionEvent {
            at,
            clock: Clock::Server,
            source: EventSource::Voice {
                call_sid: call_sid.to_string(),
            },
            kind: EventKind::Enqueued {
                queue_name: queue.clone(),
            },
        };
        if let Err(error) = state
            .sessions
            .apply(&session_id, enqueued, Vec::new())
            .await
        {
            return unavailable(error);
        }
        let action = format!("{}/twilio/queue?session={session_id}", hook.base_url);
        let wait = format!("{}/twilio/queue?session={session_id}&wait=1", hook.base_url);
        return twiml(TwiML::new().enqueue(queue, &action, &wait));
    }
    let clients: Vec<Client> = endpoint
        .ring_user_ids
        .iter()
        .map(|user_id| Client {
            identity: user_id.clone(),
            status_callback: format!(
                "{}/twilio/status?session={session_id}&user={user_id}",
                hook.base_url
            ),
        })
        .collect();
    if clients.is_empty() {
        return twiml(
            TwiML::new()
                .say("Nobody is available to take your call.")
                .hangup(),
        );
    }
    let action = format!("{}/twilio/dial?session={session_id}", hook.base_url);
    twiml(TwiML::new().dial_clients(&action, 25, &clients))
}

async fn session_of(state: &AppState, hook: &Webhook, keys: &[&str]) -> Option<String> {
    if let Some(session) = hook.query.get_nonempty("session") {
        return Some(session.to_string());
    }
    for key in keys {
        if let Ok(Some(id)) = state.store.session_id_by_key(key).await {
            return Some(id);
        }
    }
    None
}

fn acknowledge(result: Result<Applied, evo_store::StoreError>) -> Response {
    match result {
        // Unknown sessions are acknowledged too: Twilio must not retry what
        // can never apply (for example a call that is not ours).
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => unavailable(error),
    }
}

/// `/twilio/status`: call progress of a root call or a child leg.
async fn status(State(state): State<AppState>, hook: Webhook) -> Response {
    let params = &hook.params;
    let Some(call_sid) = params.get_nonempty("CallSid") else {
        return plain(StatusCode::BAD_REQUEST, "CallSid is required");
    };
    let Some(status) = params.get_nonempty("CallStatus").and_then(progress) else {
        // An unknown status is kept out of the way, never an error.
        return StatusCode::NO_CONTENT.into_response();
    };
    let parent = params.get_nonempty("ParentCallSid");
    let Some(session_id) = session_of(&state, &hook, &[call_sid, parent.unwrap_or("")]).await
    else {
        return StatusCode::NO_CONTENT.into_response();
    };
    let party = match (
        hook.query.get_nonempty("user"),
        hook.query.get_nonempty("party"),
    ) {
        (Some(user), _) => party_of_user(&state, user, SessionMemberRoles::Agent).await,
        (None, Some("callee")) => params.get_nonempty("To").map(|to| Party {
            identity: to.to_string(),
            endpoint_id: None,
            display_name: None,
            role: SessionMemberRoles::Caller,
        }),
        _ => None,
    };
    let (at, clock) = stamped(params);
    let event = SessionEvent {
        at,
        clock,
        source: EventSource::Call {
            call_sid: call_sid.to_string(),
            sequence: sequence(params),
        },
        kind: EventKind::CallStatus {
            call_sid: call_sid.to_string(),
            status,
            party,
            duration: params
                .get_nonempty("CallDuration")
                .and_then(|d| d.trim().parse().ok()),
            sip_response_code: params
                .get_nonempty("SipResponseCode")
                .and_then(|c| c.trim().parse().ok()),
        },
    };
    acknowledge(
        state
            .sessions
            .apply(&session_id, event, vec![call_sid.to_string()])
            .await,
    )
}

/// `/twilio/conference`: conference participant and lifecycle events.
async fn conference(State(state): State<AppState>, hook: Webhook) -> Response {
    let params = &hook.params;
    let (Some(conference_sid), Some(event_name)) = (
        params.get_nonempty("ConferenceSid"),
        params.get_nonempty("StatusCallbackEvent"),
    ) else {
        return plain(
            StatusCode::BAD_REQUEST,
            "ConferenceSid and StatusCallbackEvent are required",
        );
    };
    let call_sid = params.get_nonempty("CallSid").unwrap_or("");
    let flag = |name: &str| {
        params
            .get_nonempty(name)
            .map(|v| v.eq_ignore_ascii_case("true"))
    };
    let kind = match event_name {
        "conference-start" => EventKind::ConferenceStarted {
            conference_sid: conference_sid.to_string(),
        },
        "conference-end" => EventKind::ConferenceEnded {
            conference_sid: conference_sid.to_string(),
            reason: params
                .get_nonempty("ReasonConferenceEnded")
                .map(str::to_string),
        },
        other => {
            let Some(change) = ParticipantChange::parse(other) else {
                return StatusCode::NO_CONTENT.into_response();
            };
            let party = match (change, hook.query.get_nonempty("user")) {
                (ParticipantChange::Join, Some(user)) => {
                    party_of_user(&state, user, SessionMemberRoles::Agent).await
                }
                _ => None,
            };
            EventKind::Participant {
                conference_sid: conference_sid.to_string(),
                change,
                call_sid: params.get_nonempty("CallSid").map(str::to_string),
                label: params.get_nonempty("ParticipantLabel").map(str::to_string),
                party,
                muted: flag("Muted"),
                hold: flag("Hold"),
                coaching: flag("Coaching"),
            }
        }
    };
    let Some(session_id) = session_of(&state, &hook, &[conference_sid, call_sid]).await else {
        return StatusCode::NO_CONTENT.into_response();
    };
    let (at, clock) = stamped(params);
    let event = SessionEvent {
        at,
        clock,
        source: EventSource::Conference {
            conference_sid: conference_sid.to_string(),
            sequence: sequence(params),
        },
        kind,
    };
    let keys = vec![conference_sid.to_string()];
    acknowledge(state.sessions.apply(&session_id, event, keys).await)
}

/// `/twilio/queue`: the `<Enqueue>` action (the caller left the queue) and
/// its wait requests (the caller is still waiting).
async fn queue(State(state): State<AppState>, hook: Webhook) -> Response {
    if hook.query.get_nonempty("wait").is_some() {
        return twiml(TwiML::new().say("Please hold; an agent will be with you shortly."));
    }
    let params = &hook.params;
    let result = params.get_nonempty("QueueResult").unwrap_or("hangup");
    if !matches!(result, "bridged" | "bridging-in-process") {
        if let (Some(call_sid), Some(session_id)) = (
            params.get_nonempty("CallSid"),
            session_of(&state, &hook, &[params.get("CallSid").unwrap_or("")]).await,
        ) {
            let event = SessionEvent {
                at: timestamp(params),
                clock: Clock::Server,
                source: EventSource::Queue {
                    call_sid: call_sid.to_string(),
                },
                kind: EventKind::EnqueueAction {
                    call_sid: call_sid.to_string(),
                    result: QueueResult::parse(result).unwrap_or(QueueResult::Hangup),
                    queue_sid: params.get_nonempty("QueueSid").map(str::to_string),
                    queue_time: params
                        .get_nonempty("QueueTime")
                        .and_then(|t| t.trim().parse().ok()),
                    // The answer below hangs up.
                    hangup: true,
                },
            };
            if let Err(error) = state.sessions.apply(&session_id, event, Vec::new()).await {
                return unavailable(error);
            }
        }
    }
    twiml(TwiML::new().hangup())
}

/// `/twilio/dial`: the `<Dial>` finished; the legs reported themselves.
async fn dial(hook: Webhook) -> Response {
    match hook.params.get_nonempty("DialCallStatus") {
        Some("completed") | Some("answered") => twiml(TwiML::new().hangup()),
        _ => twiml(
            TwiML::new()
                .say("Nobody is available to take your call. Goodbye.")
                .hangup(),
        ),
    }
}

/// `/twilio/sms`: an inbound message opens or extends a chat session.
async fn sms(State(state): State<AppState>, hook: Webhook) -> Response {
    let params = &hook.params;
    let (Some(message_sid), Some(from), Some(to)) = (
        params.get_nonempty("MessageSid"),
        params.get_nonempty("From"),
        params.get_nonempty("To"),
    ) else {
        return plain(
            StatusCode::BAD_REQUEST,
            "MessageSid, From and To are required",
        );
    };
    let endpoint = match state.store.endpoint_by_address(&hook.account.id, to).await {
        Ok(Some(endpoint)) => endpoint,
        Ok(None) => return twiml(TwiML::new()),
        Err(error) => return unavailable(error),
    };
    let conversation = format!("chat:{}:{}:{from}", hook.account.id, endpoint.id);
    let active = match state.store.session_id_by_key(&conversation).await {
        Ok(Some(id)) => state
            .sessions
            .index()
            .get(&id)
            .map(|live| live.session.id.clone()),
        Ok(None) => None,
        Err(error) => return unavailable(error),
    };
    let at = timestamp(params);
    let session_id = match active {
        Some(id) => id,
        None => {
            let session_id = format!("ses-{message_sid}");
            let mut header = header_for(&state, &hook.account, &endpoint).await;
            header.channel = FlowChannels::Chat;
            header.direction = SessionDirections::Incoming;
            header.call_sid = None;
            header.from_address = Some(from.to_string());
            header.to_address = Some(to.to_string());
            header.from_phone_number = Some(from.to_string());
            header.display_name = Some(format!("{from} → {}", endpoint.display_name));
            header.origin = Some(Party {
                identity: from.to_string(),
                endpoint_id: None,
                display_name: None,
                role: SessionMemberRoles::Caller,
            });
            let session = reducer::open(&session_id, header, at);
            if let Err(error) = state.sessions.open(session, Vec::new()).await {
                return unavailable(error);
            }
            session_id
        }
    };
    let event = SessionEvent {
        at,
        clock: Clock::Server,
        source: EventSource::Message {
            message_sid: message_sid.to_string(),
        },
        kind: EventKind::MessageReceived {
            from: from.to_string(),
            body: params.get("Body").unwrap_or("").to_string(),
            media: (0..params
                .get_nonempty("NumMedia")
                .and_then(|n| n.trim().parse::<usize>().ok())
                .unwrap_or(0))
                .filter_map(|n| {
                    Some(evo_core::event::Media {
                        url: params.get_nonempty(&format!("MediaUrl{n}"))?.to_string(),
                        content_type: params
                            .get_nonempty(&format!("MediaContentType{n}"))
                            .map(str::to_string),
                    })
                })
                .collect(),
        },
    };
    // The conversation key now leads to this session (a newer chat replaces
    // an ended one: the key is rewritten by the store's upsert below).
    match state
        .sessions
        .apply(&session_id, event, vec![conversation])
        .await
    {
        Ok(_) => twiml(TwiML::new()),
        Err(error) => unavailable(error),
    }
}
