//! ServiceStack Server Events over SSE: agents get their sessions' changes
//! as they are committed.
//!
//! `GET /event-stream` (authenticated) opens a stream whose first frame is
//! `cmd.onConnect` with ServiceStack's flat string map (subscription id,
//! heartbeat and unregister URLs, intervals). Every committed change of a
//! session the user sees (same rules as `GET /sessions/active`) follows as
//! `cmd.sessionChanged {SessionInfo JSON}`. Frames are
//! `id: {n}\ndata: {selector} {json}\n\n`, numbered from 1 per connection.
//! `POST /event-heartbeat?id=` keeps a subscription alive (idle ones close
//! after the idle timeout); `POST /event-unregister?id=` ends it. A
//! subscriber too slow to keep up with the change feed is disconnected
//! rather than allowed to delay anyone else; its client reconnects and
//! reads `/sessions/active` again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::sync::broadcast::error::RecvError;

use crate::auth::Principal;
use crate::ingest::SessionChanged;
use crate::state::AppState;

/// How often clients send heartbeats.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(10);
/// A subscription without a heartbeat for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// One open event stream.
pub struct Subscription {
    pub id: String,
    pub principal: Principal,
    last_seen: Mutex<Instant>,
    closed: AtomicBool,
    closing: tokio::sync::Notify,
}

/// The open subscriptions.
#[derive(Default)]
pub struct EventHub {
    subscriptions: Mutex<HashMap<String, Arc<Subscription>>>,
}

impl EventHub {
    fn add(&self, principal: Principal) -> Arc<Subscription> {
        let subscription = Arc::new(Subscription {
            id: crate::auth::generate_session_id(),
            principal,
            last_seen: Mutex::new(Instant::now()),
            closed: AtomicBool::new(false),
            closing: tokio::sync::Notify::new(),
        });
        self.lock()
            .insert(subscription.id.clone(), subscription.clone());
        subscription
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Subscription>>> {
        self.subscriptions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn get(&self, id: &str) -> Option<Arc<Subscription>> {
        self.lock().get(id).cloned()
    }

    fn remove(&self, id: &str) -> Option<Arc<Subscription>> {
        let removed = self.lock().remove(id);
        if let Some(subscription) = &removed {
            subscription.closed.store(true, Ordering::Relaxed);
            subscription.closing.notify_waiters();
        }
        removed
    }

    /// How many streams are open.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no stream is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

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

/// `GET /event-stream`.
pub async fn event_stream(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let principal = match state.auth.authenticate(&headers).await {
        Ok(Some(principal)) => principal,
        Ok(None) => {
            return crate::http::error_response(
                &state,
                crate::http::error::ApiError::unauthorized("Not Authenticated"),
            )
        }
        Err(failure) => return crate::http::error_response(&state, failure.into()),
    };
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
    let base = crate::http::base_url(&state, &headers);
    let subscription = state.events.add(principal.clone());
    let id = subscription.id.clone();
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
        state: AppState,
        subscription: Arc<Subscription>,
        changes: tokio::sync::broadcast::Receiver<SessionChanged>,
        pending: std::collections::VecDeque<bytes::Bytes>,
        next_id: u64,
    }
    let stream = Stream {
        next_id: opening.len() as u64 + 1,
        pending: opening.into(),
        changes: state.sessions.subscribe(),
        state: state.clone(),
        subscription,
    };
    let body = futures::stream::unfold(stream, |mut stream| async move {
        loop {
            if let Some(bytes) = stream.pending.pop_front() {
                return Some((Ok::<_, std::io::Error>(bytes), stream));
            }
            let subscription = stream.subscription.clone();
            if subscription.closed.load(Ordering::Relaxed) {
                return None;
            }
            let idle = subscription
                .last_seen
                .lock()
                .map(|seen| seen.elapsed())
                .unwrap_or_default();
            if idle > IDLE_TIMEOUT {
                stream.state.events.remove(&subscription.id);
                return None;
            }
            tokio::select! {
                change = stream.changes.recv() => match change {
                    Ok(SessionChanged { session }) => {
                        let principal = &subscription.principal;
                        if session.session.header.account_id != principal.account_id {
                            continue;
                        }
                        let Ok(endpoints) = stream.state.directory.endpoint_ids_of_user(&principal.user_id).await else {
                            continue;
                        };
                        if !session.endpoints.iter().any(|e| endpoints.contains(e)) {
                            continue;
                        }
                        let json = String::from_utf8_lossy(&session.json).into_owned();
                        stream.pending.push_back(frame(stream.next_id, "cmd.sessionChanged", &json));
                        stream.next_id += 1;
                    }
                    // Too slow to keep up: disconnect rather than delay others.
                    Err(RecvError::Lagged(_)) | Err(RecvError::Closed) => {
                        stream.state.events.remove(&subscription.id);
                        return None;
                    }
                },
                () = tokio::time::sleep(HEARTBEAT_INTERVAL) => {}
                () = subscription.closing.notified() => return None,
            }
        }
    });
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

/// `POST /event-heartbeat?id=`.
pub async fn heartbeat(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    match query_id(query).and_then(|id| state.events.get(&id)) {
        Some(subscription) => {
            if let Ok(mut seen) = subscription.last_seen.lock() {
                *seen = Instant::now();
            }
            StatusCode::OK.into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `POST /event-unregister?id=`.
pub async fn unregister(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    match query_id(query).and_then(|id| state.events.remove(&id)) {
        Some(subscription) => (
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            serde_json::json!({
                "id": subscription.id,
                "userId": subscription.principal.user_id,
                "displayName": subscription.principal.display_name,
            })
            .to_string(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
