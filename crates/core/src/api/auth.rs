//! ServiceStack's built-in DTOs that evo-voice serves: authentication, access
//! tokens, and the error envelope. They live in the `ServiceStack` CLR
//! namespace and use `[DataMember(Order=n)]`, as ServiceStack declares them.

use std::collections::BTreeMap;

use crate::contract::Contract;

// One field-level error of a failed request.
#[derive(Contract, Debug, Clone, PartialEq, Eq, Default)]
#[contract(namespace = "ServiceStack", declared_order)]
pub struct ResponseError {
    pub error_code: Option<String>,
    pub field_name: Option<String>,
    pub message: Option<String>,
    pub meta: Option<BTreeMap<String, String>>,
}

// The status of a failed request, as every ServiceStack client reads it.
#[derive(Contract, Debug, Clone, PartialEq, Eq, Default)]
#[contract(namespace = "ServiceStack", declared_order)]
pub struct ResponseStatus {
    pub error_code: Option<String>,
    pub message: Option<String>,
    pub stack_trace: Option<String>,
    pub errors: Option<Vec<ResponseError>>,
    pub meta: Option<BTreeMap<String, String>>,
}

// The body of an error for an operation whose response has no
// `ResponseStatus` of its own.
#[derive(Contract, Debug, Clone, PartialEq, Eq, Default)]
#[contract(namespace = "ServiceStack", declared_order)]
pub struct ErrorResponse {
    pub response_status: Option<ResponseStatus>,
}

#[derive(Contract, Debug, Clone, PartialEq, Eq, Default)]
#[contract(namespace = "ServiceStack", declared_order)]
pub struct AuthenticateResponse {
    pub user_id: Option<String>,
    pub session_id: Option<String>,
    pub user_name: Option<String>,
    pub display_name: Option<String>,
    pub referrer_url: Option<String>,
    pub bearer_token: Option<String>,
    pub refresh_token: Option<String>,
    pub refresh_token_expiry: Option<String>,
    pub profile_url: Option<String>,
    pub roles: Option<Vec<String>>,
    pub permissions: Option<Vec<String>>,
    pub auth_provider: Option<String>,
    pub response_status: Option<ResponseStatus>,
    pub meta: Option<BTreeMap<String, String>>,
}

/// Sign In
#[derive(Contract, Debug, Clone, PartialEq, Eq, Default)]
#[contract(
    namespace = "ServiceStack",
    declared_order,
    route(path = "/auth", verbs = "GET,POST"),
    route(path = "/auth/{provider}", verbs = "GET,POST"),
    returns = AuthenticateResponse,
    tags("auth")
)]
pub struct Authenticate {
    /// AuthProvider, e.g. credentials
    pub provider: Option<String>,
    pub state: Option<String>,
    #[contract(name = "oauth_token")]
    pub oauth_token: Option<String>,
    #[contract(name = "oauth_verifier")]
    pub oauth_verifier: Option<String>,
    pub user_name: Option<String>,
    pub password: Option<String>,
    pub remember_me: Option<bool>,
    pub error_view: Option<String>,
    pub nonce: Option<String>,
    pub uri: Option<String>,
    pub response: Option<String>,
    pub qop: Option<String>,
    pub nc: Option<String>,
    pub cnonce: Option<String>,
    pub access_token: Option<String>,
    pub access_token_secret: Option<String>,
    pub scope: Option<String>,
    pub return_url: Option<String>,
    pub meta: Option<BTreeMap<String, String>>,
}

#[derive(Contract, Debug, Clone, PartialEq, Eq, Default)]
#[contract(namespace = "ServiceStack", declared_order)]
pub struct GetAccessTokenResponse {
    pub access_token: Option<String>,
    pub meta: Option<BTreeMap<String, String>>,
    pub response_status: Option<ResponseStatus>,
}

/// Exchange a refresh token for a new bearer token
#[derive(Contract, Debug, Clone, PartialEq, Eq, Default)]
#[contract(
    namespace = "ServiceStack",
    declared_order,
    route(path = "/access-token", verbs = "POST"),
    returns = GetAccessTokenResponse,
    tags("auth")
)]
pub struct GetAccessToken {
    pub refresh_token: Option<String>,
    pub use_token_cookie: Option<bool>,
    pub meta: Option<BTreeMap<String, String>>,
}
