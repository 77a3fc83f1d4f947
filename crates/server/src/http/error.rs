//! API errors as ServiceStack reports them: an HTTP status plus a
//! `ResponseStatus` (errorCode, message, errors[]), rendered in the
//! negotiated format. Internal causes are logged, never sent.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use evo_core::api::auth::{ResponseError, ResponseStatus};

/// A failed request (boxed: errors are rare and `Result`s stay small).
#[derive(Debug, Clone)]
pub struct ApiError(Box<ErrorDetail>);

/// What went wrong; private, so an error is made only by the constructors
/// below and read only through `response_status` and the headers.
#[derive(Debug, Clone)]
struct ErrorDetail {
    status: StatusCode,
    /// ServiceStack's `errorCode` (the exception type name by convention).
    error_code: String,
    message: String,
    /// Field-level errors (validation).
    errors: Vec<ResponseError>,
    /// `WWW-Authenticate` for 401s.
    www_authenticate: Option<String>,
    /// Internal detail for DebugMode only.
    stack_trace: Option<String>,
    /// `Allow` for 405s: the verbs the route accepts.
    allow: Option<String>,
    /// `Retry-After` (seconds) for 429s and 503s from limits.
    retry_after: Option<u64>,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, error_code: &str, message: impl Into<String>) -> Self {
        ApiError(Box::new(ErrorDetail {
            status,
            error_code: error_code.to_string(),
            message: message.into(),
            errors: Vec::new(),
            www_authenticate: None,
            stack_trace: None,
            allow: None,
            retry_after: None,
        }))
    }

    /// 401: no or invalid credentials.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        let mut error = ApiError::new(StatusCode::UNAUTHORIZED, "Unauthorized", message);
        error.0.www_authenticate = Some("credentials realm=\"/auth/credentials\"".to_string());
        error
    }

    /// 403: authenticated but not allowed.
    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "Forbidden", message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "NotFound", message)
    }

    /// 405: the verb is not allowed on this route, or the operation is not
    /// implemented (ServiceStack maps `NotImplementedException` to 405).
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", message)
    }

    /// 400 for a request that cannot be read (`SerializationException`).
    pub fn serialization(message: impl Into<String>, field: Option<&str>) -> Self {
        let message = message.into();
        let mut error = ApiError::new(
            StatusCode::BAD_REQUEST,
            "SerializationException",
            message.clone(),
        );
        if let Some(field) = field {
            error.0.errors.push(ResponseError {
                error_code: Some("SerializationException".to_string()),
                field_name: Some(field.to_string()),
                message: Some(message),
                meta: None,
            });
        }
        error
    }

    /// 400 for a valid document with invalid content (`ArgumentException`).
    pub fn validation(field: &str, error_code: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut error = ApiError::new(StatusCode::BAD_REQUEST, error_code, message.clone());
        error.0.errors.push(ResponseError {
            error_code: Some(error_code.to_string()),
            field_name: Some(field.to_string()),
            message: Some(message),
            meta: None,
        });
        error
    }

    /// 500 with a generic message; the cause is logged here.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "request failed");
        let mut error = ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "An internal error occurred",
        );
        // The cause reaches clients only in debug mode (`response_status`).
        error.0.stack_trace = Some(cause.to_string());
        error
    }

    /// 503 when a dependency (the store) is unavailable.
    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "dependency unavailable");
        let mut error = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "The service is temporarily unavailable",
        );
        // The cause reaches clients only in debug mode (`response_status`).
        error.0.stack_trace = Some(cause.to_string());
        error
    }

    /// 503 when the database cannot be reached (pool wait over, connection
    /// lost): says so, and when to try again; the node recovers by itself.
    pub fn database_unavailable(cause: impl std::fmt::Display) -> Self {
        let mut error = ApiError::unavailable(cause);
        error.0.message = "The database cannot be reached; try again in a moment".to_string();
        error.with_retry_after(1)
    }

    /// 429 from a rate or sign-in limit (ServiceStack's rate limit feature
    /// answers 429 `TooManyRequests`), with `Retry-After`.
    pub fn too_many_requests(message: impl Into<String>, retry_after_secs: u64) -> Self {
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, "TooManyRequests", message)
            .with_retry_after(retry_after_secs)
    }

    /// This error with `Retry-After: seconds`.
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.0.retry_after = Some(seconds);
        self
    }

    /// This error with the verbs a 405 route accepts (`Allow`).
    pub fn with_allow(mut self, verbs: impl Into<String>) -> Self {
        self.0.allow = Some(verbs.into());
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    /// The `ResponseStatus` DTO of this error.
    pub fn response_status(&self, debug: bool) -> ResponseStatus {
        let detail = &self.0;
        ResponseStatus {
            error_code: Some(detail.error_code.clone()),
            message: Some(detail.message.clone()),
            stack_trace: if debug {
                detail.stack_trace.clone()
            } else {
                None
            },
            errors: Some(detail.errors.clone()),
            meta: None,
        }
    }

    /// Adds this error's `Allow` and `WWW-Authenticate` headers.
    pub fn add_headers(&self, response: &mut Response) {
        let headers = response.headers_mut();
        if let Some(allow) = self
            .0
            .allow
            .as_deref()
            .and_then(|a| HeaderValue::from_str(a).ok())
        {
            headers.insert(header::ALLOW, allow);
        }
        if let Some(challenge) = self
            .0
            .www_authenticate
            .as_deref()
            .and_then(|c| HeaderValue::from_str(c).ok())
        {
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        if let Some(seconds) = self.0.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
    }
}

impl From<evo_store::StoreError> for ApiError {
    fn from(error: evo_store::StoreError) -> Self {
        match error {
            evo_store::StoreError::Duplicate(what) => ApiError::new(
                StatusCode::CONFLICT,
                "Conflict",
                format!("{what} already exists"),
            ),
            evo_store::StoreError::NotFound(what) => {
                ApiError::not_found(format!("{what} not found"))
            }
            // The database away (pool wait over, connection lost): say so,
            // and when to try again; the node recovers by itself.
            other if other.is_unavailable() => ApiError::database_unavailable(other),
            other => ApiError::unavailable(other),
        }
    }
}

impl From<crate::auth::AuthFailure> for ApiError {
    fn from(failure: crate::auth::AuthFailure) -> Self {
        match failure {
            crate::auth::AuthFailure::Unavailable => {
                ApiError::database_unavailable("the directory could not be read")
            }
            crate::auth::AuthFailure::Throttled(seconds) => {
                ApiError::too_many_requests(failure.to_string(), seconds)
            }
            other => {
                let mut error = ApiError::unauthorized(other.to_string());
                if other == crate::auth::AuthFailure::TokenExpired {
                    error.0.error_code = "TokenException".to_string();
                }
                error
            }
        }
    }
}

/// Outside the dispatcher (which negotiates the format), errors are JSON,
/// rendered by the wire crate like every other ServiceStack error body.
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = evo_wire::errors::error_body(None, self.response_status(false));
        let mut response = (
            self.status(),
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            evo_wire::render_value(&evo_wire::format::Format::Json, &body, "ErrorResponse"),
        )
            .into_response();
        self.add_headers(&mut response);
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn outside_the_dispatcher_an_error_is_a_json_response_status_with_its_headers() {
        let response = ApiError::unauthorized("Not Authenticated").into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            "credentials realm=\"/auth/credentials\""
        );
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["responseStatus"]["errorCode"], "Unauthorized");
        assert_eq!(json["responseStatus"]["message"], "Not Authenticated");
        let internal = ApiError::internal("the disk is on fire").into_response();
        let body = internal.into_body().collect().await.unwrap().to_bytes();
        assert!(
            !String::from_utf8_lossy(&body).contains("fire"),
            "an internal cause is never sent"
        );
    }
}
