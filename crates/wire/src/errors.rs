//! ServiceStack error bodies: the operation's response DTO with its
//! `responseStatus` set when it has that member, otherwise
//! `ErrorResponse { responseStatus }`.

use evo_core::api::auth::{ErrorResponse, ResponseStatus};
use evo_core::contract::{Contract, Field, Object, TypeInfo, Value};

/// The error body for an operation whose response type is `response_type`.
pub fn error_body(response_type: Option<&'static TypeInfo>, status: ResponseStatus) -> Value {
    if let Some(ty) = response_type {
        if let Some(index) = ty.fields().iter().position(|f| f.name == "ResponseStatus") {
            let mut fields: Vec<Value> = ty.fields().iter().map(|_| Value::Null).collect();
            fields[index] = status.to_value();
            return Value::Object(Object {
                ty,
                fields,
                base: None,
            });
        }
    }
    ErrorResponse {
        response_status: Some(status),
    }
    .to_value()
}

/// The type of the body `error_body` builds.
pub fn error_type(value: &Value) -> &'static TypeInfo {
    match value {
        Value::Object(object) => object.ty,
        _ => ErrorResponse::type_info(),
    }
}
