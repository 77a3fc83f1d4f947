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

use crate::app::sessions::Applied;
use crate::app::state::AppState;

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

/// Why a webhook was refused, answered as Twilio expects: a plain-text
/// 4xx (Twilio logs it and does not retry) or 5xx (nothing was
/// acknowledged; Twilio retries where its policy allows). A store failure is
/// always a 5xx, never a silent 2xx.
#[derive(Debug, thiserror::Error)]
enum WebhookError {
    #[error("{0}")]
    BadRequest(&'static str),
    #[error("Forbidden")]
    Forbidden,
    #[error("request body too large")]
    TooLarge,
    #[error("temporarily unavailable")]
    Unavailable,
}

impl From<evo_store::StoreError> for WebhookError {
    fn from(error: evo_store::StoreError) -> Self {
        tracing::error!(%error, "a webhook could not be stored");
        WebhookError::Unavailable
    }
}

impl IntoResponse for WebhookError {
    fn into_response(self) -> Response {
        let status = match self {
            WebhookError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebhookError::Forbidden => StatusCode::FORBIDDEN,
            WebhookError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
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

async fn verify(
    state: &AppState,
    method: &Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Webhook, WebhookError> {
    let query = FormParams::parse(uri.query().unwrap_or("").as_bytes());
    let params = if method == Method::GET {
        query.clone()
    } else {
        FormParams::parse(body)
    };
    let forbidden = |why: &str| {
        tracing::warn!(why, path = %uri.path(), "refused a Twilio webhook");
        WebhookError::Forbidden
    };
    let Some(account_sid) = params.get_nonempty("AccountSid") else {
        return Err(forbidden("no AccountSid"));
    };
    let Some(account) = state.directory.account_by_twilio_sid(account_sid).await? else {
        return Err(forbidden("unknown AccountSid"));
    };
    let base_url = crate::http::common::base_url(state, headers);
    let path_and_query = uri.path_and_query().map(|pq| pq.as_str()).unwrap_or("/");
    let url = format!("{}{}", base_url.trim_end_matches('/'), path_and_query);
    let token = account
        .twilio_auth_token
        .as_ref()
        .map_or("", |token| token.expose());
    let signed = if method == Method::GET {
        FormParams::default()
    } else {
        params.clone()
    };
    let signature = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok());
    if let Err(error) = validate(&[token], &url, &signed, body, signature) {
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
    type Rejection = WebhookError;

    async fn from_request(
        request: axum::extract::Request,
        state: &AppState,
    ) -> Result<Self, WebhookError> {
        let (parts, body) = request.into_parts();
        let uri = parts
            .extensions
            .get::<OriginalUri>()
            .map_or_else(|| parts.uri.clone(), |original| original.0.clone());
        let body = axum::body::to_bytes(body, state.config.max_body_bytes)
            .await
            .map_err(|_| WebhookError::TooLarge)?;
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

async fn party_of_user(
    state: &AppState,
    user_id: &str,
    role: SessionMemberRoles,
) -> Result<Option<Party>, WebhookError> {
    let user = state.directory.user(user_id).await?;
    Ok(user.map(|user| Party {
        identity: format!("client:{}", user.id),
        endpoint_id: Some(user.id.clone()),
        display_name: Some(user.display_name.clone()),
        role,
    }))
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

/// `/twilio/voice`: a call reached a number (or a softphone dials out).
async fn voice(State(state): State<AppState>, hook: Webhook) -> Answer {
    let params = &hook.params;
    let (Some(call_sid), Some(from), Some(to)) = (
        params.get_nonempty("CallSid"),
        params.get_nonempty("From"),
        params.get_nonempty("To"),
    ) else {
        return Err(WebhookError::BadRequest(
            "CallSid, From and To are required",
        ));
    };
    let session_id = session_id_for_call(call_sid);
    let at = timestamp(params);
    if let Some(identity) = from.strip_prefix("client:") {
        // An agent's softphone dials out.
        let Some(user) = state.directory.user(identity).await? else {
            return twiml(
                TwiML::new()
                    .say("This softphone is not registered.")
                    .hangup(),
            );
        };
        let Some(endpoint) = state.directory.endpoint(&user.id).await? else {
            return twiml(
                TwiML::new()
                    .say("This softphone is not registered.")
                    .hangup(),
            );
        };
        let mut header = header_for(&state, &hook.account, &endpoint).await?;
        header.channel = FlowChannels::Voice;
        header.direction = SessionDirections::Outgoing;
        header.call_sid = Some(call_sid.to_string());
        header.from_address = Some(from.to_string());
        header.from_name = Some(user.display_name.clone());
        header.to_address = Some(to.to_string());
        header.destination = Some(to.to_string());
        header.display_name = Some(to.to_string());
        header.origin = party_of_user(&state, &user.id, SessionMemberRoles::Agent).await?;
        let session = reducer::open(&session_id, header, at);
        state
            .sessions
            .open(session, vec![call_sid.to_string()])
            .await?;
        let status_url = format!(
            "{}/twilio/status?session={session_id}&party=callee",
            hook.base_url
        );
        let action = format!("{}/twilio/dial?session={session_id}", hook.base_url);
        return twiml(TwiML::new().dial_number(&action, to, &status_url));
    }
    let Some(endpoint) = state
        .directory
        .endpoint_by_address(&hook.account.id, to)
        .await?
    else {
        return twiml(
            TwiML::new()
                .say("The number you have called is not in service.")
                .hangup(),
        );
    };
    let mut header = header_for(&state, &hook.account, &endpoint).await?;
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
    state
        .sessions
        .open(session, vec![call_sid.to_string()])
        .await?;
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
    state
        .sessions
        .apply(&session_id, ringing, Vec::new())
        .await?;
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
        state
            .sessions
            .apply(&session_id, enqueued, Vec::new())
            .await?;
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

async fn session_of(
    state: &AppState,
    hook: &Webhook,
    keys: &[&str],
) -> Result<Option<String>, WebhookError> {
    if let Some(session) = hook.query.get_nonempty("session") {
        return Ok(Some(session.to_string()));
    }
    for key in keys.iter().filter(|key| !key.is_empty()) {
        if let Some(id) = state.sessions.session_id_by_key(key).await? {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

fn acknowledge(result: Result<Applied, evo_store::StoreError>) -> Answer {
    // Unknown sessions are acknowledged too: Twilio must not retry what can
    // never apply (for example a call that is not ours).
    result?;
    no_content()
}

/// `/twilio/status`: call progress of a root call or a child leg.
async fn status(State(state): State<AppState>, hook: Webhook) -> Answer {
    let params = &hook.params;
    let Some(call_sid) = params.get_nonempty("CallSid") else {
        return Err(WebhookError::BadRequest("CallSid is required"));
    };
    let Some(status) = params.get_nonempty("CallStatus").and_then(progress) else {
        // An unknown status is kept out of the way, never an error.
        return no_content();
    };
    let parent = params.get_nonempty("ParentCallSid");
    let Some(session_id) = session_of(&state, &hook, &[call_sid, parent.unwrap_or("")]).await?
    else {
        return no_content();
    };
    let party = match (
        hook.query.get_nonempty("user"),
        hook.query.get_nonempty("party"),
    ) {
        (Some(user), _) => {
            // `role=transfer`: a member an agent added (AddConferenceMember).
            let role = match hook.query.get_nonempty("role") {
                Some("transfer") => SessionMemberRoles::Transfer,
                _ => SessionMemberRoles::Agent,
            };
            party_of_user(&state, user, role).await?
        }
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
async fn conference(State(state): State<AppState>, hook: Webhook) -> Answer {
    let params = &hook.params;
    let (Some(conference_sid), Some(event_name)) = (
        params.get_nonempty("ConferenceSid"),
        params.get_nonempty("StatusCallbackEvent"),
    ) else {
        return Err(WebhookError::BadRequest(
            "ConferenceSid and StatusCallbackEvent are required",
        ));
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
                return no_content();
            };
            let party = match (change, hook.query.get_nonempty("user")) {
                (ParticipantChange::Join, Some(user)) => {
                    party_of_user(&state, user, SessionMemberRoles::Agent).await?
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
    let Some(session_id) = session_of(&state, &hook, &[conference_sid, call_sid]).await? else {
        return no_content();
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
async fn queue(State(state): State<AppState>, hook: Webhook) -> Answer {
    if hook.query.get_nonempty("wait").is_some() {
        return twiml(TwiML::new().say("Please hold; an agent will be with you shortly."));
    }
    let params = &hook.params;
    let result = params.get_nonempty("QueueResult").unwrap_or("hangup");
    if !matches!(result, "bridged" | "bridging-in-process") {
        if let (Some(call_sid), Some(session_id)) = (
            params.get_nonempty("CallSid"),
            session_of(&state, &hook, &[params.get("CallSid").unwrap_or("")]).await?,
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
            state.sessions.apply(&session_id, event, Vec::new()).await?;
        }
    }
    twiml(TwiML::new().hangup())
}

/// `/twilio/dial`: the `<Dial>` finished; the legs reported themselves.
async fn dial(hook: Webhook) -> Answer {
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
async fn sms(State(state): State<AppState>, hook: Webhook) -> Answer {
    let params = &hook.params;
    let (Some(message_sid), Some(from), Some(to)) = (
        params.get_nonempty("MessageSid"),
        params.get_nonempty("From"),
        params.get_nonempty("To"),
    ) else {
        return Err(WebhookError::BadRequest(
            "MessageSid, From and To are required",
        ));
    };
    let Some(endpoint) = state
        .directory
        .endpoint_by_address(&hook.account.id, to)
        .await?
    else {
        return twiml(TwiML::new());
    };
    let conversation = format!("chat:{}:{}:{from}", hook.account.id, endpoint.id);
    let active = state
        .sessions
        .session_id_by_key(&conversation)
        .await?
        .and_then(|id| state.sessions.index().get(&id))
        .map(|live| live.session().id.clone());
    let at = timestamp(params);
    let session_id = match active {
        Some(id) => id,
        None => {
            let session_id = format!("ses-{message_sid}");
            let mut header = header_for(&state, &hook.account, &endpoint).await?;
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
            state.sessions.open(session, Vec::new()).await?;
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
    state
        .sessions
        .apply(&session_id, event, vec![conversation])
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
        let refused = WebhookError::BadRequest("CallSid is required").into_response();
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            WebhookError::Forbidden.into_response().status(),
            StatusCode::FORBIDDEN
        );
    }
}
