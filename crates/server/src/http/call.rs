//! What an operation gets (`Call`) and returns (`Reply`); a leaf module, so
//! that the dispatcher and the operations need not import each other.

use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use evo_core::contract::{Contract, Value};
use evo_wire::format::Format;

use crate::app::state::AppState;
use crate::auth::{Principal, TokenEntry};
use crate::http::error::ApiError;

/// What an operation returns.
pub struct Reply {
    pub status: StatusCode,
    pub body: ReplyBody,
    /// Extra headers (cookies, …).
    pub headers: Vec<(header::HeaderName, HeaderValue)>,
}

/// The body of a reply.
pub enum ReplyBody {
    /// A response DTO.
    Dto(Value),
    /// Pre-rendered JSON for the JSON format, with the DTO for every other
    /// format built only when asked (`None`: served as JSON only).
    Prerendered {
        json: bytes::Bytes,
        value: Option<std::sync::Arc<dyn LateValue>>,
    },
    /// No body.
    Empty,
}

/// What a pre-rendered body is as a DTO, for the formats other than JSON:
/// implemented by what an operation already holds in an `Arc` (a user's
/// view, a live session), so a reply costs no allocation for it.
pub trait LateValue: Send + Sync {
    fn value(&self) -> Value;
}

impl ReplyBody {
    /// The DTO of a pre-rendered body.
    pub fn late_value(value: Option<std::sync::Arc<dyn LateValue>>) -> Value {
        value.map_or(Value::Null, |value| value.value())
    }
}

impl Reply {
    /// A 200 reply with a DTO.
    pub fn dto<T: Contract>(dto: &T) -> Self {
        Reply {
            status: StatusCode::OK,
            body: ReplyBody::Dto(dto.to_value()),
            headers: Vec::new(),
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }
}

/// Everything an operation needs about its request.
pub struct Call {
    pub state: AppState,
    pub method: Method,
    pub headers: HeaderMap,
    /// Shared with the verified-token cache (no copy per request).
    pub principal: Option<std::sync::Arc<Principal>>,
    /// The verified token's slot, when a cached token authenticated the
    /// request (its `auth::TokenSlot`: the user's view cell is kept there).
    pub slot: Option<TokenEntry>,
    pub request: Value,
    pub format: Format,
}

impl Call {
    /// The bound request DTO.
    pub fn dto<T: Contract>(&self) -> Result<T, ApiError> {
        dto_of(&self.request)
    }

    /// The signed-in user (operations that require auth always have one).
    pub fn principal(&self) -> Result<&Principal, ApiError> {
        self.principal
            .as_deref()
            .ok_or_else(|| ApiError::unauthorized("Not Authenticated"))
    }
}

/// A bound request DTO as the operation's type.
pub fn dto_of<T: Contract>(request: &Value) -> Result<T, ApiError> {
    T::from_value(request).map_err(|error| {
        let field = error.field_name();
        ApiError::serialization(error.to_string(), field)
    })
}
