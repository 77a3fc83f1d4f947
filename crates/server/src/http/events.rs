//! ServiceStack Server Events over SSE: the wire framing and routes of the
//! event hub (`crate::app::events`).
//!
//! - `GET /event-stream?channels=` (role User, like GetActiveSessions):
//!   `cmd.onConnect` (ServiceStack's flat string map), `{ch}@cmd.onJoin` per
//!   channel, then the user's messages (`cmd.SessionInfoChanged` …). A
//!   `Last-Event-ID` header or `?lastEventId=` resumes: the missed messages,
//!   or one `cmd.ActiveSessionsChanged` snapshot when they are gone.
//! - `POST /event-heartbeat?id=` answers on the stream with `cmd.onHeartbeat`;
//!   `POST /event-unregister?id=` ends it. Both need the subscription's own
//!   credentials (401 without, 403 for another user's, 404 unknown).
//! - `GET /event-subscribers?channels=`, `GET /api/GetEventSubscribers`,
//!   `POST /event-subscribers/{id}`, `POST /api/UpdateEventSubscriber`: the
//!   routes the JS client's `getChannelSubscribers`, `subscribeToChannels`
//!   and `unsubscribeFromChannels` call.
//!
//! Frames are `id: {n}\ndata: {selector} {json}\n\n`; an idle stream gets a
//! `:` comment every heartbeat interval so proxies keep it open, and its
//! credential is checked again then: an expired or revoked one closes it.

use axum::body::{Body, Bytes as BodyBytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use evo_core::domain::Role;
use evo_core::ids::UserId;

use crate::app::events::{info_json, HubError, Message, Opened, SubscriberInfo};
use crate::app::state::AppState;
use crate::app::timing;
use crate::auth::Principal;
use crate::http::common::base_url;
use crate::http::error::ApiError;

fn query_values(query: Option<&str>, names: &[&str]) -> Vec<String> {
    query
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .filter(|(k, _)| names.iter().any(|n| k.eq_ignore_ascii_case(n)))
                .map(|(_, v)| v.into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Channel names from comma-joined values, trimmed, empty ones dropped.
fn channel_list<S: AsRef<str>>(values: &[S]) -> Vec<String> {
    let mut channels: Vec<String> = Vec::new();
    for value in values {
        for channel in value.as_ref().split(',').map(str::trim) {
            if !channel.is_empty() && !channels.iter().any(|c| c == channel) {
                channels.push(channel.to_string());
            }
        }
    }
    channels
}

fn frame(id: u64, selector: &str, json: &[u8]) -> bytes::Bytes {
    let mut out = format!("id: {id}\ndata: {selector} ").into_bytes();
    out.extend_from_slice(json);
    out.extend_from_slice(b"\n\n");
    bytes::Bytes::from(out)
}

/// A message's frame, rendered once for all the streams that share it.
fn render(message: &Message) -> bytes::Bytes {
    message.rendered(|m| frame(m.id, &m.selector, &m.json))
}

impl From<HubError> for ApiError {
    fn from(error: HubError) -> Self {
        match error {
            HubError::NotFound => ApiError::not_found("Subscription does not exist"),
            HubError::Forbidden => ApiError::forbidden("Access denied to this subscription"),
            HubError::TooManyStreams(max) => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                format!("At most {max} event streams per user"),
            ),
            HubError::Unavailable => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "The event log is unavailable; retry shortly",
            ),
        }
    }
}

async fn principal(state: &AppState, headers: &HeaderMap) -> Result<Principal, ApiError> {
    state
        .auth
        .authenticate(headers)
        .await?
        .ok_or_else(|| ApiError::unauthorized("Not Authenticated"))
}

fn json_response(body: String) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body,
    )
        .into_response()
}

/// The last frame of a stream closed by shutdown: reconnect in 2 s.
const SHUTDOWN_RETRY: &[u8] = b"retry: 2000\n\n";

/// `GET /event-stream`.
pub async fn event_stream(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let principal = principal(&state, &headers).await?;
    if !principal.has_role(Role::User) {
        return Err(ApiError::forbidden("Invalid Role"));
    }
    let channels = channel_list(&query_values(query.as_deref(), &["channels", "channel"]));
    // A browser's own reconnect sends the header; ServiceStack's JS client
    // reconnects through `resolveStreamUrl`, which can add the parameter.
    let last_event_id = match headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| {
            query_values(query.as_deref(), &["lastEventId"])
                .into_iter()
                .next()
        }) {
        None => None,
        Some(text) if text.trim().is_empty() => None,
        Some(text) => Some(text.trim().parse::<u64>().map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "ArgumentException",
                "Last-Event-ID must be a message id",
            )
        })?),
    };
    let base = base_url(&state, &headers);
    let Opened {
        subscription,
        connect_id,
        backlog,
        receiver,
        guard,
        ..
    } = state
        .events
        .open(principal.clone(), channels.clone(), last_event_id)
        .await?;
    let id = subscription.id().to_string();
    let settings = state.events.settings().clone();
    let connect = serde_json::json!({
        "id": id,
        "userId": principal.user_id,
        "isAuthenticated": "true",
        "displayName": principal.display_name,
        "channels": channels.join(","),
        "createdAt": chrono::Utc::now().timestamp_millis().to_string(),
        "profileUrl": "",
        "heartbeatUrl": format!("{base}/event-heartbeat?id={id}"),
        "unRegisterUrl": format!("{base}/event-unregister?id={id}"),
        "updateSubscriberUrl": format!("{base}/event-subscribers/{id}"),
        "heartbeatIntervalMs": settings.heartbeat.as_millis().to_string(),
        "idleTimeoutMs": settings.idle_timeout.as_millis().to_string(),
    });
    let mut pending = std::collections::VecDeque::new();
    pending.push_back(frame(
        connect_id,
        "cmd.onConnect",
        connect.to_string().as_bytes(),
    ));
    let meta: SubscriberInfo = vec![
        ("id", id.clone()),
        ("userId", principal.user_id.to_string()),
        ("displayName", principal.display_name.clone()),
        ("profileUrl", String::new()),
        ("channels", channels.join(",")),
    ];
    let meta = info_json(&meta);
    for channel in &channels {
        pending.push_back(frame(
            connect_id,
            &format!("{channel}@cmd.onJoin"),
            meta.as_bytes(),
        ));
    }
    pending.extend(backlog.iter().map(render));
    // Session messages at or below this id were sent (replayed) already.
    let sent = backlog.last().map_or(connect_id, |m| m.id);

    struct Stream {
        state: AppState,
        headers: HeaderMap,
        user_id: UserId,
        id: String,
        pending: std::collections::VecDeque<bytes::Bytes>,
        receiver: tokio::sync::mpsc::Receiver<Message>,
        tick: tokio::time::Interval,
        _guard: crate::app::events::StreamGuard,
        shutdown: crate::app::shutdown::Shutdown,
        closing: bool,
        sent: u64,
    }
    let period = settings.heartbeat;
    let stream = Stream {
        state: state.clone(),
        headers,
        user_id: principal.user_id.clone(),
        id,
        pending,
        receiver,
        tick: tokio::time::interval_at(tokio::time::Instant::now() + period, period),
        _guard: guard,
        shutdown: state.shutdown.clone(),
        closing: false,
        sent,
    };
    let body = futures::stream::unfold(stream, |mut s| async move {
        if let Some(bytes) = s.pending.pop_front() {
            return Some((Ok::<_, std::io::Error>(bytes), s));
        }
        if s.closing {
            return None;
        }
        loop {
            tokio::select! {
                // On shutdown: a `retry:` hint (ms), then the end of the stream,
                // so the client reconnects (and resumes) on another node or on
                // this one restarted.
                () = s.shutdown.wait() => {
                    s.closing = true;
                    return Some((Ok(bytes::Bytes::from_static(SHUTDOWN_RETRY)), s));
                }
                message = s.receiver.recv() => {
                    let message = message?;
                    if message.data {
                        if message.id <= s.sent {
                            continue;
                        }
                        s.sent = message.id;
                        if let Some((session, published)) = message.origin() {
                            timing::step(session, "written", published);
                        }
                    }
                    return Some((Ok(render(&message)), s));
                }
                _ = s.tick.tick() => {
                    if !s.state.events.check_alive(&s.id) {
                        return None;
                    }
                    // The credential is checked again: expired or revoked, the
                    // stream ends (and the client may sign in again).
                    let still = matches!(
                        s.state.auth.authenticate(&s.headers).await,
                        Ok(Some(ref p)) if p.user_id == s.user_id
                    );
                    if !still {
                        s.state.events.remove(&s.id);
                        return None;
                    }
                    return Some((Ok(bytes::Bytes::from_static(b":\n\n")), s));
                }
            }
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

fn subscription_id(query: Option<&str>) -> Result<String, ApiError> {
    query_values(query, &["id"])
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::not_found("Subscription does not exist"))
}

/// `POST /event-heartbeat?id=`.
pub async fn heartbeat(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let principal = principal(&state, &headers).await?;
    let id = subscription_id(query.as_deref())?;
    state.events.heartbeat(&id, &principal)?;
    Ok(StatusCode::OK.into_response())
}

/// `POST /event-unregister?id=`: the subscriber's meta.
pub async fn unregister(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let principal = principal(&state, &headers).await?;
    let id = subscription_id(query.as_deref())?;
    let info = state.events.unregister(&id, &principal)?;
    Ok(json_response(info_json(&info)))
}

fn subscribers_json(list: &[SubscriberInfo]) -> String {
    let items: Vec<String> = list.iter().map(info_json).collect();
    format!("[{}]", items.join(","))
}

/// `GET /event-subscribers?channels=` and `GET /api/GetEventSubscribers`:
/// the subscribers of the channels in the caller's account.
pub async fn subscribers(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let principal = principal(&state, &headers).await?;
    let channels = channel_list(&query_values(query.as_deref(), &["channels", "channel"]));
    let list = state.events.subscribers(&principal, &channels);
    Ok(json_response(subscribers_json(&list)))
}

/// The `UpdateEventSubscriber` request, as JSON (arrays or comma-joined
/// strings) or a form.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateRequest {
    #[serde(default, alias = "Id")]
    id: Option<String>,
    #[serde(default, alias = "SubscribeChannels")]
    subscribe_channels: Option<Channels>,
    #[serde(default, alias = "UnsubscribeChannels")]
    unsubscribe_channels: Option<Channels>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(untagged)]
enum Channels {
    List(Vec<String>),
    Joined(String),
}

impl Channels {
    fn list(value: Option<&Channels>) -> Vec<String> {
        match value {
            None => Vec::new(),
            Some(Channels::List(list)) => channel_list(list),
            Some(Channels::Joined(text)) => channel_list(&[text]),
        }
    }
}

fn parse_update(headers: &HeaderMap, body: &[u8]) -> Result<UpdateRequest, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(UpdateRequest::default());
    }
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let bad = |e: String| ApiError::serialization(e, None);
    if is_form {
        let mut request = UpdateRequest::default();
        for (key, value) in form_urlencoded::parse(body) {
            let value = value.into_owned();
            match key.to_ascii_lowercase().as_str() {
                "id" => request.id = Some(value),
                "subscribechannels" => request.subscribe_channels = Some(Channels::Joined(value)),
                "unsubscribechannels" => {
                    request.unsubscribe_channels = Some(Channels::Joined(value))
                }
                _ => {}
            }
        }
        Ok(request)
    } else {
        serde_json::from_slice(body).map_err(|e| bad(e.to_string()))
    }
}

async fn update(
    state: &AppState,
    headers: &HeaderMap,
    id: Option<String>,
    body: &[u8],
) -> Result<SubscriberInfo, ApiError> {
    let principal = principal(state, headers).await?;
    let request = parse_update(headers, body)?;
    let id = id
        .or(request.id.clone())
        .ok_or_else(|| ApiError::not_found("Subscription does not exist"))?;
    let subscribe = Channels::list(request.subscribe_channels.as_ref());
    let unsubscribe = Channels::list(request.unsubscribe_channels.as_ref());
    Ok(state
        .events
        .update_channels(&id, &principal, &subscribe, &unsubscribe)?)
}

/// `POST /event-subscribers/{id}`: the subscriber's meta after the change.
pub async fn update_subscriber(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: BodyBytes,
) -> Result<Response, ApiError> {
    let info = update(&state, &headers, Some(id), &body).await?;
    Ok(json_response(info_json(&info)))
}

/// `POST /api/UpdateEventSubscriber`: `UpdateEventSubscriberResponse`.
pub async fn update_event_subscriber(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: BodyBytes,
) -> Result<Response, ApiError> {
    update(&state, &headers, None, &body).await?;
    Ok(json_response("{}".to_string()))
}
