//! ServiceStack's request pipeline, driven by the contract registry.
//!
//! For every request that no other route claimed: negotiate the response
//! format, find the operation (a custom `[Route]` of the contract, or one of
//! ServiceStack's predefined routes `/{format}/reply/{Op}` and `/api/{Op}`),
//! check the verb, bind the request DTO from path, query string and body,
//! check authentication and roles as the contract declares them, run the
//! operation, and render the reply or the error in the negotiated format.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use evo_core::contract::{operations, Object, OperationInfo, TypeInfo, Value};
use evo_wire::format::{negotiate, Format};

use std::convert::Infallible;
use std::future::Future;

use evo_core::domain::User;

use crate::app::state::AppState;
use crate::auth::{AuthFailure, Authenticated, Principal, RoleSet};
use crate::http::call::{Call, Reply, ReplyBody};
use crate::http::error::ApiError;
use crate::http::ops;

/// The fallback service that serves every ServiceStack operation.
///
/// A service rather than a handler, so that the read path's future is
/// not boxed: `GET /sessions/active` with a cached bearer token and no
/// body is answered before `call` returns (nothing in it awaits), in a
/// ready future; every other request runs [`dispatch`] in a boxed future
/// (about 2.5 KB, allocated and moved per request when every request took
/// that path; docs/benchmarks.md, "Read path: one lookup").
#[derive(Clone)]
pub struct Dispatcher {
    state: AppState,
}

impl Dispatcher {
    pub fn new(state: AppState) -> Self {
        Dispatcher { state }
    }
}

type SlowFuture = std::pin::Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

/// The dispatcher's future: ready for the read path, boxed otherwise.
pub type DispatchFuture =
    futures::future::Either<std::future::Ready<Result<Response, Infallible>>, SlowFuture>;

impl tower::Service<Request<Body>> for Dispatcher {
    type Response = Response;
    type Error = Infallible;
    type Future = DispatchFuture;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        respond(&self.state, request)
    }
}

/// What the dispatcher does with a request (also called by
/// [`crate::http::App`], which answers the read before the router).
pub fn respond(state: &AppState, request: Request<Body>) -> DispatchFuture {
    use futures::future::Either;
    match answer_now(state, request) {
        Ok(response) => Either::Left(std::future::ready(Ok(response))),
        Err(request) => {
            let state = state.clone();
            Either::Right(Box::pin(async move { Ok(dispatch(state, request).await) }))
        }
    }
}

/// The read path without awaiting: `GetActiveSessions` (the one
/// operation whose work is all in memory) with no request body and a
/// bearer token verified moments ago, through the same steps and helpers
/// as [`dispatch`] (negotiation, route, verb, binding, roles, the
/// operation, rendering), so it answers exactly what [`dispatch`] would.
/// The token's cache entry is borrowed while the operation runs (no
/// reference count written; the `Call` the other operations get is not
/// built). Any other request is handed back untouched.
// The request is handed back as it came (moved, not copied); boxing it
// would cost the slow path an allocation.
#[allow(clippy::result_large_err)]
fn answer_now(state: &AppState, request: Request<Body>) -> Result<Response, Request<Body>> {
    use axum::body::HttpBody;
    if request.method() != Method::GET || !request.body().is_end_stream() {
        return Err(request);
    }
    let query = query_of(request.uri());
    let answered = {
        let Ok((format, path)) = negotiated(request.uri(), request.headers(), &query) else {
            return Err(request);
        };
        let (route, path_params) = match resolve_get(path) {
            Route::Found(route, params)
                if !route.batched
                    && ops::Operation::of(route.op) == Some(ops::Operation::GetActiveSessions) =>
            {
                (route, params)
            }
            _ => return Err(request),
        };
        let (method, headers) = (request.method(), request.headers());
        // As `run` and `run_bytes` do, with an empty body and the cached
        // token's answer (no renewal: a cached token is valid).
        state
            .auth
            .with_cached(headers, |found| {
                check_verb(route, method)
                    .and_then(|()| bind_request(route, &path_params, &query, headers, &[]))
                    .and_then(|request| {
                        authorize(route, found.principal, found.roles)?;
                        ops::sessions::active_sessions_reply(
                            state,
                            &request,
                            found.principal,
                            Some(found.slot),
                            &format,
                        )
                    })
            })
            .map(|result| match result {
                Ok(reply) => render_reply(&format, route, reply),
                Err(error) => render_error(state, &format, Some(route), error),
            })
    };
    answered.ok_or(request)
}

/// The path of `GetActiveSessions`' `GET` route, as its contract declares
/// it (the read every client repeats; [`super::App`] takes it before the
/// router).
pub(crate) fn read_path() -> Option<&'static str> {
    use evo_core::api::sessions::GetActiveSessions;
    use evo_core::contract::Contract;
    static PATH: std::sync::OnceLock<Option<&'static str>> = std::sync::OnceLock::new();
    *PATH.get_or_init(|| {
        let operation = GetActiveSessions::type_info().operation()?;
        operation
            .routes
            .iter()
            .find(|route| route.verbs.is_empty() || route.verbs.contains(&"GET"))
            .map(|route| route.path)
    })
}

/// [`resolve`] for `GET`, with the read path's answer
/// worked out once: the routes are static, so it is the same every time.
fn resolve_get(path: &str) -> Route {
    static READ_ROUTE: std::sync::OnceLock<Option<Resolved>> = std::sync::OnceLock::new();
    if Some(path) == read_path() {
        let found = READ_ROUTE.get_or_init(|| match resolve(path, Method::GET.as_str()) {
            Route::Found(route, params) if params.is_empty() => Some(route),
            _ => None,
        });
        if let Some(route) = found {
            return Route::Found(*route, Vec::new());
        }
    }
    resolve(path, Method::GET.as_str())
}

/// The query string's pairs, decoded.
fn query_of(uri: &axum::http::Uri) -> Vec<(String, String)> {
    uri.query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

/// The response format and the path without its extension.
fn negotiated<'a>(
    uri: &'a axum::http::Uri,
    headers: &'a HeaderMap,
    query: &'a [(String, String)],
) -> Result<(Format, &'a str), ApiError> {
    let header = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let query_value = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    // `/api/{Op}` is ServiceStack's JSON API handler: only `?format`, a
    // callback or a `.ext` suffix change its format, never Accept
    // (ApiHandlers.cs:17 `Json("/api/{Request}")`, GenericHandler.cs:74).
    let api_route = is_api_route(uri.path());
    match negotiate(
        uri.path(),
        query_value("format"),
        query_value("callback"),
        header(header::ACCEPT).filter(|_| !api_route),
        header(header::CONTENT_TYPE).filter(|_| !api_route),
        Format::Json,
    ) {
        Ok(negotiated) => Ok((negotiated.format, negotiated.path_without_extension)),
        // Only an unsafe JSONP callback fails negotiation; an unknown
        // ?format or Accept falls back to JSON as in ServiceStack.
        Err(error) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "NotSupportedException",
            error.to_string(),
        )),
    }
}

/// Every ServiceStack operation, awaiting what it needs.
async fn dispatch(state: AppState, request: Request<Body>) -> Response {
    let (parts, body) = request.into_parts();
    let query = query_of(&parts.uri);
    let (format, path) = match negotiated(&parts.uri, &parts.headers, &query) {
        Ok(negotiated) => negotiated,
        Err(error) => return render_error(&state, &Format::Json, None, error),
    };

    let (op, path_params) = match resolve(path, parts.method.as_str()) {
        Route::Found(op, params) => (op, params),
        Route::UnknownOperation => {
            // A predefined route naming no operation: ServiceStack's
            // `AssertOperationExists` throws NotImplementedException
            // (ServiceStackHandlerBase.cs:272-276), answered 405
            // (HttpRequestExtensions.cs:268).
            let error = ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "NotImplementedException",
                "The operation does not exist for this service",
            );
            return render_error(&state, &format, None, error);
        }
        Route::NotFound => {
            let error = ApiError::not_found(format!(
                "Handler for Request not found: {} {}",
                parts.method,
                parts.uri.path()
            ));
            return render_error(&state, &format, None, error);
        }
    };
    if op.batched {
        return run_batch(&state, op, query, parts.method, parts.headers, body, format).await;
    }
    let result = run(
        &state,
        op,
        path_params,
        query,
        parts.method,
        parts.headers,
        body,
        format.clone(),
    )
    .await;
    match result {
        Ok(reply) => render_reply(&format, op, reply),
        Err(error) => render_error(&state, &format, Some(op), error),
    }
}

/// A custom route's verb check (predefined routes take any verb).
fn check_verb(route: Resolved, method: &Method) -> Result<(), ApiError> {
    let op = route.op;
    let operation = op
        .operation()
        .ok_or_else(|| ApiError::not_found("not an operation"))?;
    if route.custom && !operation.allows_verb(method.as_str()) {
        let error = ApiError::method_not_allowed(format!(
            "{} does not support {}",
            op.name,
            method.as_str()
        ));
        let mut verbs: Vec<&str> = operation
            .routes
            .iter()
            .flat_map(|r| r.verbs.iter().copied())
            .collect();
        verbs.sort_unstable();
        verbs.dedup();
        return Err(error.with_allow(verbs.join(", ")));
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn run(
    state: &AppState,
    route: Resolved,
    path_params: Vec<(String, String)>,
    query: Vec<(String, String)>,
    method: Method,
    headers: HeaderMap,
    body: Body,
    format: Format,
) -> Result<Reply, ApiError> {
    check_verb(route, &method)?;
    let bytes = read_body(state, body).await?;
    run_bytes(
        state,
        route,
        &path_params,
        &query,
        method,
        headers,
        &bytes,
        format,
    )
    .await
}

async fn read_body(state: &AppState, body: Body) -> Result<axum::body::Bytes, ApiError> {
    axum::body::to_bytes(body, state.config.max_body_bytes)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                format!(
                    "The request body exceeds {} bytes",
                    state.config.max_body_bytes
                ),
            )
        })
}

/// Checks authentication and roles for a bound request (`found`: what
/// authentication said) and makes the operation's [`Call`], with the user
/// whose token was renewed (its cookies go on the reply); no awaiting.
fn prepare_call(
    state: &AppState,
    route: Resolved,
    request: Value,
    method: Method,
    headers: HeaderMap,
    format: Format,
    found: Result<Option<Authenticated>, AuthFailure>,
) -> Result<(Call, Option<User>), ApiError> {
    let operation = route
        .op
        .operation()
        .ok_or_else(|| ApiError::not_found("not an operation"))?;
    let (principal, renewed, slot) = if operation.requires_auth {
        let found = found?.ok_or_else(|| ApiError::unauthorized("Not Authenticated"))?;
        check_roles(operation, &found.principal)?;
        (Some(found.principal), found.renewed_token, found.slot)
    } else {
        // Optional: operations like GET /auth show the current session.
        match found.ok().flatten() {
            Some(found) => (Some(found.principal), found.renewed_token, found.slot),
            None => (None, None, None),
        }
    };
    let call = Call {
        state: state.clone(),
        method,
        headers,
        principal,
        slot,
        request,
        format,
    };
    Ok((call, renewed))
}

/// The roles an operation requires, checked against its principal.
fn check_roles(operation: &OperationInfo, principal: &Principal) -> Result<(), ApiError> {
    check_roles_with(operation, principal, |role| principal.has_role_named(role))
}

/// [`check_roles`] with the principal's roles answered by `has_role`
/// (the cached token's [`RoleSet`], on the read path).
fn check_roles_with(
    operation: &OperationInfo,
    principal: &Principal,
    has_role: impl Fn(&str) -> bool,
) -> Result<(), ApiError> {
    if let Some(role) = operation.required_roles.iter().find(|role| !has_role(role)) {
        tracing::debug!(user = %principal.user_id, %role, "role check failed");
        return Err(ApiError::forbidden("Invalid Role"));
    }
    Ok(())
}

/// What [`prepare_call`] checks for a request authenticated as
/// `principal`, whose roles are `roles`: the operation's roles when it
/// requires authentication.
fn authorize(route: Resolved, principal: &Principal, roles: RoleSet) -> Result<(), ApiError> {
    let operation = route
        .op
        .operation()
        .ok_or_else(|| ApiError::not_found("not an operation"))?;
    if operation.requires_auth {
        check_roles_with(operation, principal, |role| roles.has_role_named(role))?;
    }
    Ok(())
}

/// Binds the request DTO from path, query string and body.
fn bind_request(
    route: Resolved,
    path_params: &[(String, String)],
    query: &[(String, String)],
    headers: &HeaderMap,
    bytes: &[u8],
) -> Result<Value, ApiError> {
    route
        .op
        .operation()
        .ok_or_else(|| ApiError::not_found("not an operation"))?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    bind(route.op, path_params, query, content_type, bytes)
}

/// Binds, authenticates and runs one request whose body has been read.
#[allow(clippy::too_many_arguments)]
async fn run_bytes(
    state: &AppState,
    route: Resolved,
    path_params: &[(String, String)],
    query: &[(String, String)],
    method: Method,
    headers: HeaderMap,
    bytes: &[u8],
    format: Format,
) -> Result<Reply, ApiError> {
    let request = bind_request(route, path_params, query, &headers, bytes)?;
    // Every credential is tried; an expired JWT is renewed from ss-reftok
    // and the new one is sent back as the ss-tok cookie.
    let found = state.auth.authenticate_request(&headers).await;
    let (call, renewed) = prepare_call(state, route, request, method, headers, format, found)?;
    // A renewed token belongs to the sign-in session of its refresh token.
    let renewed_session = renewed
        .as_ref()
        .and(call.principal.as_ref())
        .and_then(|p| p.auth_session_id.clone());
    let mut reply = ops::call(route.op, call).await?;
    // Sign-in and sign-out set ss-tok themselves; a renewal must not undo them.
    let sets_token = reply.headers.iter().any(|(name, value)| {
        name == header::SET_COOKIE && value.as_bytes().starts_with(b"ss-tok=")
    });
    if let (Some(user), Some(sid), false) = (renewed, renewed_session, sets_token) {
        reply
            .headers
            .extend(ops::auth::token_cookies(state, &user, &sid, None));
    }
    Ok(reply)
}

/// A custom route that matched: (verb allowed, literal segment count), operation, path parameters.
type RouteMatch = ((bool, usize), Resolved, Vec<(String, String)>);

/// An operation found for a path.
#[derive(Clone, Copy)]
struct Resolved {
    op: &'static TypeInfo,
    /// Found through a custom route (verbs are checked) rather than a
    /// predefined one (any verb).
    custom: bool,
    /// `/api/{Op}[]`: a JSON array of requests, answered with an array.
    batched: bool,
}

/// What a path leads to.
enum Route {
    Found(Resolved, Vec<(String, String)>),
    /// A predefined route naming no operation.
    UnknownOperation,
    NotFound,
}

/// Whether `path` is `/api/{Op}` (ServiceStack's JSON API route).
fn is_api_route(path: &str) -> bool {
    let mut segments = path.trim_matches('/').split('/');
    matches!(
        (segments.next(), segments.next(), segments.next()),
        (Some(api), Some(name), None) if api.eq_ignore_ascii_case("api") && !name.is_empty()
    )
}

fn resolve(path: &str, method: &str) -> Route {
    // Iterated, not collected: no allocation per request.
    let segments = path.trim_matches('/').split('/');
    let count = segments.clone().count();
    // Predefined routes: /{format}/reply|oneway/{Op} and /api/{Op}; a name
    // ending in `[]` is the auto-batched form of the operation
    // (ServiceMetadata.cs:288-301 `GetOperationType`).
    let predefined = |name: &str| {
        let name = percent_decode(name);
        let (name, batched) = match name.strip_suffix("[]") {
            Some(stem) => (stem.to_string(), true),
            None => (name, false),
        };
        match operations()
            .into_iter()
            .find(|op| op.name.eq_ignore_ascii_case(&name))
        {
            Some(op) => Route::Found(
                Resolved {
                    op,
                    custom: false,
                    batched,
                },
                Vec::new(),
            ),
            None => Route::UnknownOperation,
        }
    };
    let mut first = segments.clone();
    match (first.next(), first.next(), first.next(), count) {
        (Some(fmt), Some(kind), Some(name), 3)
            if Format::from_name(fmt).is_some()
                && (kind.eq_ignore_ascii_case("reply") || kind.eq_ignore_ascii_case("oneway")) =>
        {
            return predefined(name);
        }
        (Some(api), Some(name), _, 2) if api.eq_ignore_ascii_case("api") && !name.is_empty() => {
            return predefined(name);
        }
        _ => {}
    }
    // Custom routes, literal segments before parameters. Templates are
    // split once (`custom_routes`); parameters are decoded only for the
    // route that wins.
    let mut best: Option<((bool, usize), Resolved, &[&'static str])> = None;
    for route in custom_routes() {
        if route.template.len() != count {
            continue;
        }
        let mut literals = 0;
        let matched = route.template.iter().zip(segments.clone()).all(|(t, s)| {
            match t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                Some(_) => !s.is_empty(),
                None => {
                    literals += 1;
                    t.eq_ignore_ascii_case(s)
                }
            }
        });
        if !matched {
            continue;
        }
        // A route that allows the verb wins over one that does not
        // (`GET`/`PATCH`/`DELETE /sessions/{sessionId}` are three
        // operations), then the one with more literal segments.
        let allows = route
            .op
            .operation()
            .is_some_and(|operation| operation.allows_verb(method));
        let score = (allows, literals);
        if best.as_ref().is_none_or(|(best, _, _)| score > *best) {
            best = Some((
                score,
                Resolved {
                    op: route.op,
                    custom: true,
                    batched: false,
                },
                &route.template,
            ));
        }
    }
    let best: Option<RouteMatch> = best.map(|(score, resolved, template)| {
        let params = template
            .iter()
            .zip(segments)
            .filter_map(|(t, s)| {
                let name = t.strip_prefix('{').and_then(|t| t.strip_suffix('}'))?;
                Some((name.to_string(), percent_decode(s)))
            })
            .collect();
        (score, resolved, params)
    });
    match best {
        Some((_, resolved, params)) => Route::Found(resolved, params),
        None => Route::NotFound,
    }
}

/// One custom route of an operation, its template split into segments.
struct CustomRoute {
    op: &'static TypeInfo,
    template: Vec<&'static str>,
}

/// Every operation's custom routes, split once.
fn custom_routes() -> &'static [CustomRoute] {
    static ROUTES: std::sync::OnceLock<Vec<CustomRoute>> = std::sync::OnceLock::new();
    ROUTES.get_or_init(|| {
        operations()
            .into_iter()
            .filter_map(|op| Some((op, op.operation()?)))
            .flat_map(|(op, operation)| {
                operation.routes.iter().map(move |route| CustomRoute {
                    op,
                    template: route.path.trim_matches('/').split('/').collect(),
                })
            })
            .collect()
    })
}

/// The auto-batched route: each request of the JSON array runs in order;
/// the first error ends the batch and is the answer. `X-AutoBatch-Completed`
/// counts the requests that ran to completion
/// (ServiceController.cs:863-905 `CreateAutoBatchServiceExec`,
/// HttpRequestExtensions.cs:1003).
async fn run_batch(
    state: &AppState,
    route: Resolved,
    query: Vec<(String, String)>,
    method: Method,
    headers: HeaderMap,
    body: Body,
    format: Format,
) -> Response {
    let completed = |n: usize| {
        (
            header::HeaderName::from_static("x-autobatch-completed"),
            HeaderValue::from(n),
        )
    };
    let fail = |error: ApiError, n: usize| {
        let mut response = render_error(state, &format, Some(route), error);
        let (name, value) = completed(n);
        response.headers_mut().insert(name, value);
        response
    };
    let bytes = match read_body(state, body).await {
        Ok(bytes) => bytes,
        Err(error) => return fail(error, 0),
    };
    let requests: Vec<serde_json::Value> = match serde_json::from_slice(&bytes) {
        Ok(serde_json::Value::Array(items)) => items,
        _ => {
            let error = ApiError::serialization(
                "A batched request body is a JSON array of request DTOs",
                None,
            );
            return fail(error, 0);
        }
    };
    let mut item_headers = headers.clone();
    item_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let mut replies = Vec::with_capacity(requests.len());
    for (index, request) in requests.iter().enumerate() {
        let item = serde_json::to_vec(request).unwrap_or_default();
        let single = Resolved {
            batched: false,
            ..route
        };
        match run_bytes(
            state,
            single,
            &[],
            &query,
            method.clone(),
            item_headers.clone(),
            &item,
            format.clone(),
        )
        .await
        {
            Ok(reply) => replies.push(reply),
            Err(error) => return fail(error, index),
        }
    }
    let count = replies.len();
    let mut extra = Vec::new();
    let body = match &format {
        Format::Json | Format::Jsonp(_) => {
            let mut out = Vec::from(&b"["[..]);
            for (index, reply) in replies.into_iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                extra.extend(reply.headers);
                match reply.body {
                    ReplyBody::Empty => out.extend_from_slice(b"null"),
                    ReplyBody::Dto(value) => evo_wire::json::write_value(&value, &mut out),
                    ReplyBody::Prerendered { json, .. } => out.extend_from_slice(&json),
                }
            }
            out.push(b']');
            if let Format::Jsonp(callback) = &format {
                let mut wrapped = callback.as_bytes().to_vec();
                wrapped.push(b'(');
                wrapped.extend(out);
                wrapped.push(b')');
                wrapped
            } else {
                out
            }
        }
        other => {
            let values = replies
                .into_iter()
                .map(|reply| {
                    extra.extend(reply.headers);
                    match reply.body {
                        ReplyBody::Empty => Value::Null,
                        ReplyBody::Dto(value) => value,
                        ReplyBody::Prerendered { value, .. } => ReplyBody::late_value(value),
                    }
                })
                .collect();
            evo_wire::render_value(other, &Value::List(values), route.op.name)
        }
    };
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type_header(&format));
    let (name, value) = completed(count);
    headers.insert(name, value);
    for (name, value) in extra {
        headers.append(name, value);
    }
    response
}

fn percent_decode(segment: &str) -> String {
    form_urlencoded::parse(format!("x={segment}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Binds the request DTO: the body (by content type), with the query string
/// and path parameters filling members the body left empty.
fn bind(
    op: &'static TypeInfo,
    path_params: &[(String, String)],
    query: &[(String, String)],
    content_type: &str,
    bytes: &[u8],
) -> Result<Value, ApiError> {
    let mut pairs: Vec<(String, String)> = query.to_vec();
    pairs.extend(path_params.iter().cloned());
    let from_pairs = evo_wire::query::object_from_pairs(op, &pairs)
        .map_err(|error| ApiError::serialization(error.to_string(), error.field_name()))?;
    let body_is_empty = bytes.iter().all(u8::is_ascii_whitespace);
    if body_is_empty {
        return Ok(Value::Object(from_pairs));
    }
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let body = match media_type.as_str() {
        "application/json" | "text/json" | "" => {
            let json: serde_json::Value = serde_json::from_slice(bytes)
                .map_err(|error| ApiError::serialization(format!("Invalid JSON: {error}"), None))?;
            if !json.is_object() {
                return Err(ApiError::serialization("Invalid JSON: expected an object", None));
            }
            Value::Object(
                evo_wire::json::object_from_json(&json, op)
                    .map_err(|error| ApiError::serialization(error.to_string(), error.field_name()))?,
            )
        }
        "application/x-www-form-urlencoded" => {
            let form: Vec<(String, String)> = form_urlencoded::parse(bytes).into_owned().collect();
            Value::Object(
                evo_wire::query::object_from_pairs(op, &form)
                    .map_err(|error| ApiError::serialization(error.to_string(), error.field_name()))?,
            )
        }
        // JSV is read as ServiceStack's JsvContentType reads it.
        "application/xml" | "text/xml" | "application/jsv" | "text/jsv" => {
            evo_wire::parse_body_value(&media_type, bytes, op)
                .map_err(|error| ApiError::serialization(error.to_string(), error.field_name()))?
        }
        other => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "NotSupportedException",
                format!("Content-Type '{other}' is not supported; send application/json, application/xml, application/jsv or a form"),
            ))
        }
    };
    Ok(overlay(body, from_pairs))
}

/// Members set in `primary` win; others come from `fallback`.
fn overlay(primary: Value, fallback: Object) -> Value {
    match primary {
        Value::Object(mut object) => {
            for (index, value) in object.fields.iter_mut().enumerate() {
                if matches!(value, Value::Null) {
                    if let Some(other) = fallback.fields.get(index) {
                        *value = other.clone();
                    }
                }
            }
            Value::Object(object)
        }
        other => other,
    }
}

fn content_type_header(format: &Format) -> HeaderValue {
    // Static strings: no copy per response.
    HeaderValue::from_static(format.content_type())
}

fn render_reply(format: &Format, route: Resolved, reply: Reply) -> Response {
    let op_name = route.op.name;
    let bytes: axum::body::Bytes = match reply.body {
        ReplyBody::Empty => axum::body::Bytes::new(),
        ReplyBody::Dto(value) => evo_wire::render_value(format, &value, op_name).into(),
        ReplyBody::Prerendered { json, value } => match format {
            Format::Json => json,
            other => evo_wire::render_value(other, &ReplyBody::late_value(value), op_name).into(),
        },
    };
    let mut response = (reply.status, bytes).into_response();
    let headers = response.headers_mut();
    if !matches!(format, Format::Csv) || reply.status != StatusCode::NO_CONTENT {
        headers.insert(header::CONTENT_TYPE, content_type_header(format));
    }
    if matches!(format, Format::Csv) {
        if let Ok(value) = HeaderValue::from_str(&format!("attachment;filename={op_name}.csv")) {
            headers.insert(header::CONTENT_DISPOSITION, value);
        }
    }
    for (name, value) in reply.headers {
        headers.append(name, value);
    }
    response
}

/// Renders an error in the negotiated format (JSONP errors are 200, as
/// ServiceStack sends them, so that the script still runs).
fn render_error(
    state: &AppState,
    format: &Format,
    op: Option<Resolved>,
    error: ApiError,
) -> Response {
    let status_dto = error.response_status(state.config.debug);
    let response_type = op
        .and_then(|r| r.op.operation())
        .and_then(|operation| operation.response)
        .map(|response| response());
    let value = evo_wire::errors::error_body(response_type, status_dto);
    let op_name = op.map_or("ErrorResponse", |r| r.op.name);
    let bytes = evo_wire::render_value(format, &value, op_name);
    let status = if matches!(format, Format::Jsonp(_)) {
        StatusCode::OK
    } else {
        error.status()
    };
    let mut response = (status, bytes).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, content_type_header(format));
    error.add_headers(&mut response);
    response
}

#[cfg(test)]
mod tests {
    /// The read path comes from the contract; the spec's page
    /// (`../shared/spec/GetActiveSessions.txt`) gives it as
    /// `GET /sessions/active`. Without it `App` would send every read
    /// through the router.
    #[test]
    fn the_read_path_is_get_active_sessions_route() {
        assert_eq!(super::read_path(), Some("/sessions/active"));
    }
}
