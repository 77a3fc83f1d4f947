//! ServiceStack Server Events over SSE: the wire framing of the event hub
//! (`crate::app::events`).
//!
//! `GET /event-stream` (authenticated) opens a stream whose first frame is
//! `cmd.onConnect` with ServiceStack's flat string map (subscription id,
//! heartbeat and unregister URLs, intervals). Every committed change of a
//! session the user sees (the rule of `crate::app::visibility`) follows as
//! `cmd.sessionChanged {SessionInfo JSON}`. Frames are
//! `id: {n}\ndata: {selector} {json}\n\n`, numbered from 1 per connection.
//! `POST /event-heartbeat?id=` keeps a subscription alive;
//! `POST /event-unregister?id=` ends it.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::app::events::{Feed, HEARTBEAT_INTERVAL, IDLE_TIMEOUT};
use crate::app::state::AppState;
use crate::http::common::base_url;
use crate::http::error::ApiError;

fn query_id(query: Option<String>) -> Option<String> {
    query.and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "id")
            .map(|(_, v)| v.into_owned())
    })
}

fn frame(n: u64, selector: &str, json: &str) -> bytes::Bytes {
    bytes::Bytes::from(format!("id: {n}\ndata: {selector} {json}\n\n"))
}

/// The last frame of a stream closed by shutdown: reconnect in 2 s.
const SHUTDOWN_RETRY: &[u8] = b"retry: 2000\n\n";

/// `GET /event-stream`.
pub async fn event_stream(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let principal = state
        .auth
        .authenticate(&headers)
        .await?
        .ok_or_else(|| ApiError::unauthorized("Not Authenticated"))?;
    let channels: Vec<String> = query
        .as_deref()
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .filter(|(k, _)| k == "channels" || k == "channel")
                .flat_map(|(_, v)| {
                    v.split(',')
                        .map(str::trim)
                        .map(String::from)
                        .collect::<Vec<_>>()
                })
                .filter(|c| !c.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let base = base_url(&state, &headers);
    let feed = state
        .events
        .open(principal.clone(), state.sessions.subscribe());
    let id = feed.subscription().id().to_string();
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
        "heartbeatIntervalMs": HEARTBEAT_INTERVAL.as_millis().to_string(),
        "idleTimeoutMs": IDLE_TIMEOUT.as_millis().to_string(),
    });
    let mut opening = vec![frame(1, "cmd.onConnect", &connect.to_string())];
    let meta = serde_json::json!({ "userId": principal.user_id, "displayName": principal.display_name, "channels": channels.join(",") });
    for (index, channel) in channels.iter().enumerate() {
        opening.push(frame(
            index as u64 + 2,
            &format!("{channel}@cmd.onJoin"),
            &meta.to_string(),
        ));
    }
    struct Stream {
        feed: Feed,
        pending: std::collections::VecDeque<bytes::Bytes>,
        next_id: u64,
        shutdown: crate::app::shutdown::Shutdown,
        closing: bool,
    }
    let stream = Stream {
        next_id: opening.len() as u64 + 1,
        pending: opening.into(),
        feed,
        shutdown: state.shutdown.clone(),
        closing: false,
    };
    let body = futures::stream::unfold(stream, |mut stream| async move {
        if let Some(bytes) = stream.pending.pop_front() {
            return Some((Ok::<_, std::io::Error>(bytes), stream));
        }
        if stream.closing {
            return None;
        }
        // On shutdown: a `retry:` hint (ms), then the end of the stream, so
        // the client reconnects to another node or to this one restarted.
        let session = tokio::select! {
            session = stream.feed.next() => session?,
            () = stream.shutdown.wait() => {
                stream.closing = true;
                return Some((Ok(bytes::Bytes::from_static(SHUTDOWN_RETRY)), stream));
            }
        };
        let json = String::from_utf8_lossy(session.json()).into_owned();
        let bytes = frame(stream.next_id, "cmd.sessionChanged", &json);
        stream.next_id += 1;
        Some((Ok(bytes), stream))
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

/// `POST /event-heartbeat?id=`.
pub async fn heartbeat(State(state): State<AppState>, RawQuery(query): RawQuery) -> StatusCode {
    match query_id(query) {
        Some(id) if state.events.heartbeat(&id) => StatusCode::OK,
        _ => StatusCode::NOT_FOUND,
    }
}

/// `POST /event-unregister?id=`.
pub async fn unregister(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    match query_id(query).and_then(|id| state.events.unregister(&id)) {
        Some(subscription) => (
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            serde_json::json!({
                "id": subscription.id(),
                "userId": subscription.principal().user_id,
                "displayName": subscription.principal().display_name,
            })
            .to_string(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
