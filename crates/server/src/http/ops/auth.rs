//! ServiceStack authentication: `/auth`, `/auth/{provider}` (credentials,
//! logout) and `/access-token` (`GetAccessToken`).

use axum::http::{header, HeaderValue};
use chrono::Utc;
use evo_core::api::auth::{
    Authenticate, AuthenticateResponse, GetAccessToken, GetAccessTokenResponse,
};
use evo_store::AuthSession;

use crate::auth::tokens::{access_claims, RefreshClaims, TokenError};
use crate::auth::{cookies, generate_session_id, Principal};
use crate::http::call::{Call, Reply};
use crate::http::error::ApiError;
use evo_core::domain::Role;

/// Authenticate: sign in with credentials, sign out, or show the current
/// session.
pub async fn authenticate(call: Call) -> Result<Reply, ApiError> {
    let request: Authenticate = call.dto()?;
    let provider = request
        .provider
        .clone()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match provider.as_str() {
        "logout" => logout(&call).await,
        "credentials" => sign_in(&call, &request).await,
        "" if request.user_name.is_some() || request.password.is_some() => {
            sign_in(&call, &request).await
        }
        "" => {
            let principal = call.principal()?;
            Ok(Reply::dto(&AuthenticateResponse {
                user_id: Some(principal.user_id.to_string()),
                session_id: principal.auth_session_id.clone(),
                user_name: Some(principal.email.clone()),
                display_name: Some(principal.display_name.clone()),
                roles: Some(principal.role_names()),
                auth_provider: Some("credentials".to_string()),
                ..Default::default()
            }))
        }
        other => Err(ApiError::not_found(format!(
            "No configuration was added for OAuth provider '{other}'"
        ))),
    }
}

async fn sign_in(call: &Call, request: &Authenticate) -> Result<Reply, ApiError> {
    let user_name = request.user_name.clone().unwrap_or_default();
    let password = request.password.clone().unwrap_or_default();
    if user_name.trim().is_empty() {
        return Err(ApiError::validation(
            "UserName",
            "NotEmpty",
            "'User Name' must not be empty.",
        ));
    }
    if password.is_empty() {
        return Err(ApiError::validation(
            "Password",
            "NotEmpty",
            "'Password' must not be empty.",
        ));
    }
    let state = &call.state;
    let user = state.auth.check_password(&user_name, &password).await?;
    let remember = request.remember_me.unwrap_or(false);
    let now = Utc::now();
    let cookie_ttl = if remember {
        state.config.refresh_token_ttl
    } else {
        state.config.cookie_session_ttl
    };
    // The server-side session lives exactly as long as its cookie: 12 h
    // without rememberMe, the refresh token's lifetime with it; the refresh
    // token (whose jti is the session) never outlives the session.
    let session_expiry = now + chrono::Duration::from_std(cookie_ttl).unwrap_or_default();
    let session = AuthSession {
        id: generate_session_id(),
        user_id: user.id.clone(),
        created_at: now,
        expires_at: session_expiry,
    };
    state.auth.create_auth_session(&session).await?;

    let keys = state.auth.keys();
    let bearer = keys.sign_access(&access_claims(
        &user,
        &session.id,
        now.timestamp(),
        state.config.access_token_ttl.as_secs() as i64,
    ));
    let refresh_expiry = session_expiry
        .min(now + chrono::Duration::from_std(state.config.refresh_token_ttl).unwrap_or_default());
    let refresh = keys.sign_refresh(&RefreshClaims {
        sub: user.id.to_string(),
        iat: now.timestamp(),
        exp: refresh_expiry.timestamp(),
        jti: session.id.clone(),
    });
    let principal = Principal::of_user(&user, Some(session.id.clone()));
    let response = AuthenticateResponse {
        user_id: Some(principal.user_id.to_string()),
        session_id: Some(session.id.clone()),
        user_name: Some(user.email.clone()),
        display_name: Some(user.display_name.clone()),
        bearer_token: Some(bearer.clone()),
        refresh_token: Some(refresh.clone()),
        refresh_token_expiry: Some(evo_core::session::iso(refresh_expiry)),
        roles: Some(Role::names(&user.roles)),
        permissions: Some(Vec::new()),
        auth_provider: Some("credentials".to_string()),
        ..Default::default()
    };
    let secure = is_secure(state);
    let mut reply = Reply::dto(&response);
    let cookie_max_age = cookie_ttl.as_secs();
    let mut set = |name: &str, value: &str, max_age: Option<u64>| {
        let mut cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
        if let Some(max_age) = max_age {
            cookie.push_str(&format!("; Max-Age={max_age}"));
        }
        if secure {
            cookie.push_str("; Secure");
        }
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            reply.headers.push((header::SET_COOKIE, value));
        }
    };
    set("ss-id", &session.id, None);
    if remember {
        set("ss-pid", &session.id, Some(cookie_max_age));
        set("ss-opt", "perm", Some(cookie_max_age));
    } else {
        set("ss-opt", "temp", None);
    }
    reply.headers.extend(token_cookies_with(
        state,
        bearer,
        now,
        Some((&refresh, refresh_expiry)),
    ));
    Ok(reply)
}

/// Ends every sign-in session the request names: its cookies, its refresh
/// token (cookie), and the session of the credential it authenticated with
/// (a bearer token's `sid` too), so that bearer clients' refresh tokens
/// stop working as well.
async fn logout(call: &Call) -> Result<Reply, ApiError> {
    let jar = cookies(&call.headers);
    for (name, value) in &jar {
        if name == "ss-id" || name == "ss-pid" {
            call.state.auth.delete_auth_session(value).await?;
        }
        if name == "ss-reftok" {
            if let Ok(claims) = call.state.auth.keys().verify_refresh(value) {
                call.state.auth.delete_auth_session(&claims.jti).await?;
            }
        }
    }
    if let Some(id) = call
        .principal
        .as_ref()
        .and_then(|p| p.auth_session_id.as_ref())
    {
        call.state.auth.delete_auth_session(id).await?;
    }
    let mut reply = Reply::dto(&AuthenticateResponse::default());
    // The same flags as when set: a browser matches the cookie to expire
    // by name and path, and a Secure one is only replaced over https.
    let secure = if is_secure(&call.state) {
        "; Secure"
    } else {
        ""
    };
    for name in ["ss-id", "ss-pid", "ss-opt", "ss-tok", "ss-reftok"] {
        let cleared = format!("{name}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}");
        if let Ok(value) = HeaderValue::from_str(&cleared) {
            reply.headers.push((header::SET_COOKIE, value));
        }
    }
    Ok(reply)
}

fn is_secure(state: &crate::app::state::AppState) -> bool {
    state
        .config
        .public_url
        .as_deref()
        .is_some_and(|url| url.starts_with("https://"))
}

/// A cookie as ServiceStack's JWT cookies are (`Expires`, not `Max-Age`,
/// which the Node client ignores): JwtAuthProviderReader.cs:1136-1160.
fn jwt_cookie(
    name: &str,
    value: &str,
    expires: chrono::DateTime<Utc>,
    secure: bool,
) -> Option<HeaderValue> {
    let mut cookie = format!(
        "{name}={value}; Path=/; Expires={}; HttpOnly; SameSite=Lax",
        expires.format("%a, %d %b %Y %H:%M:%S GMT")
    );
    if secure {
        cookie.push_str("; Secure");
    }
    HeaderValue::from_str(&cookie).ok()
}

/// A new access token for `user` as the `ss-tok` cookie (and `refresh` as
/// `ss-reftok`), with `X-Cookies` naming them so that clients that cannot
/// read HttpOnly cookies know token cookies are in use
/// (JwtAuthProviderReader.cs:1176-1188 `NotifyJwtCookiesUsed`).
pub fn token_cookies(
    state: &crate::app::state::AppState,
    user: &evo_core::domain::User,
    session_id: &str,
    refresh: Option<(&str, chrono::DateTime<Utc>)>,
) -> Vec<(header::HeaderName, HeaderValue)> {
    let now = Utc::now();
    let bearer = state.auth.keys().sign_access(&access_claims(
        user,
        session_id,
        now.timestamp(),
        state.config.access_token_ttl.as_secs() as i64,
    ));
    token_cookies_with(state, bearer, now, refresh)
}

fn token_cookies_with(
    state: &crate::app::state::AppState,
    bearer: String,
    now: chrono::DateTime<Utc>,
    refresh: Option<(&str, chrono::DateTime<Utc>)>,
) -> Vec<(header::HeaderName, HeaderValue)> {
    let secure = is_secure(state);
    let expires =
        now + chrono::Duration::from_std(state.config.access_token_ttl).unwrap_or_default();
    let mut names = vec!["ss-tok"];
    let mut headers: Vec<(header::HeaderName, HeaderValue)> =
        jwt_cookie("ss-tok", &bearer, expires, secure)
            .map(|value| (header::SET_COOKIE, value))
            .into_iter()
            .collect();
    if let Some((token, expiry)) = refresh {
        if let Some(value) = jwt_cookie("ss-reftok", token, expiry, secure) {
            headers.push((header::SET_COOKIE, value));
            names.push("ss-reftok");
        }
    }
    headers.push((
        header::HeaderName::from_static("x-cookies"),
        HeaderValue::from_str(&names.join(",")).unwrap_or(HeaderValue::from_static("ss-tok")),
    ));
    headers
}

/// GetAccessToken: a new bearer token for a valid refresh token whose
/// sign-in session has not been ended.
pub async fn get_access_token(call: Call) -> Result<Reply, ApiError> {
    let request: GetAccessToken = call.dto()?;
    let from_body = request.refresh_token.clone().filter(|t| !t.is_empty());
    let from_cookie = from_body.is_none();
    let token = from_body
        .or_else(|| {
            cookies(&call.headers)
                .into_iter()
                .find(|(name, _)| name == "ss-reftok")
                .map(|(_, value)| value)
        })
        .ok_or_else(|| {
            ApiError::validation(
                "RefreshToken",
                "NotEmpty",
                "'Refresh Token' must not be empty.",
            )
        })?;
    let state = &call.state;
    let claims = state
        .auth
        .keys()
        .verify_refresh(&token)
        .map_err(|error| match error {
            TokenError::Expired => ApiError::unauthorized("The refresh token has expired"),
            TokenError::Invalid => ApiError::unauthorized("Invalid RefreshToken"),
        })?;
    let session = state
        .auth
        .auth_session(&claims.jti)
        .await?
        .filter(|session| session.expires_at > Utc::now() && session.user_id == claims.sub)
        .ok_or_else(|| ApiError::unauthorized("The refresh token was revoked"))?;
    let user = state
        .auth
        .user(&session.user_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("The user no longer exists"))?;
    let now = Utc::now();
    let bearer = state.auth.keys().sign_access(&access_claims(
        &user,
        &session.id,
        now.timestamp(),
        state.config.access_token_ttl.as_secs() as i64,
    ));
    // A refresh token that came as the ss-reftok cookie gets the new token
    // as the ss-tok cookie, not in the body (GetAccessTokenService,
    // JwtAuthProvider.cs:519-530).
    if from_cookie {
        let mut reply = Reply::dto(&GetAccessTokenResponse::default());
        reply
            .headers
            .extend(token_cookies_with(state, bearer, now, None));
        return Ok(reply);
    }
    Ok(Reply::dto(&GetAccessTokenResponse {
        access_token: Some(bearer),
        ..Default::default()
    }))
}
