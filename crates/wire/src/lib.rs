//! evo-wire: ServiceStack's wire formats, derived from the contract registry.
//!
//! Every writer and reader here walks `evo_core::contract` descriptions; none
//! is written for a particular DTO. Adding a field to a DTO changes every
//! format with no edit in this crate.
//!
//! Invariant: no HTTP framework, no I/O. Functions take values and return
//! bytes (or parse bytes into values), so the server can render once per
//! change and serve the bytes.

pub mod csv;
pub mod errors;
pub mod format;
pub mod html;
pub mod json;
pub mod jsv;
pub mod query;
pub mod route;
pub mod xml;

use evo_core::contract::{ContractError, TypeInfo, Value};

use crate::format::Format;

/// Why a request body or query string could not become a DTO. Maps to
/// ServiceStack's `SerializationException` (HTTP 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The document is not well-formed.
    #[error("invalid {format}: {message}")]
    Syntax {
        /// The format being read.
        format: &'static str,
        /// The parser's message.
        message: String,
    },
    /// A member has a value the target type cannot take.
    #[error("invalid value for '{field}': {message}")]
    Field {
        /// The CLR member name.
        field: String,
        /// What was wrong.
        message: String,
    },
}

impl WireError {
    /// The member the error is about, when there is one.
    pub fn field_name(&self) -> Option<&str> {
        match self {
            WireError::Field { field, .. } if !field.is_empty() => Some(field),
            _ => None,
        }
    }
}

impl From<ContractError> for WireError {
    fn from(error: ContractError) -> Self {
        WireError::Field {
            field: error.field_name().unwrap_or("").to_string(),
            message: error.to_string(),
        }
    }
}

/// Renders a response value in a format. `op_name` names the operation
/// (HTML title, CSV file name).
pub fn render_value(format: &Format, value: &Value, op_name: &str) -> Vec<u8> {
    match format {
        Format::Json => {
            let mut out = Vec::with_capacity(256);
            json::write_value(value, &mut out);
            out
        }
        Format::Jsonp(callback) => {
            let mut out = Vec::with_capacity(256);
            out.extend_from_slice(callback.as_bytes());
            out.push(b'(');
            json::write_value(value, &mut out);
            out.push(b')');
            out
        }
        Format::Xml => match value {
            Value::Object(object) => xml::value_to_xml(value, object.ty, false).into_bytes(),
            _ => Vec::new(),
        },
        Format::Csv => csv::write_response(value),
        Format::Jsv => {
            let mut out = String::new();
            jsv::write_value(value, &mut out);
            out.into_bytes()
        }
        Format::Html => html::write_page(value, op_name),
    }
}

/// Reads a request body of the given media type into the reflective object
/// of `ty` (XML and JSV; JSON and forms have their own readers). A JSV body
/// is read as ServiceStack's `JsvContentType` reads it (the
/// `application/jsv`/`text/jsv` content types, ContentTypes.cs).
pub fn parse_body_value(
    media_type: &str,
    bytes: &[u8],
    ty: &'static TypeInfo,
) -> Result<Value, WireError> {
    match media_type {
        "application/xml" | "text/xml" => xml::object_from_xml(bytes, ty).map(Value::Object),
        "application/jsv" | "text/jsv" => {
            let text = std::str::from_utf8(bytes).map_err(|error| WireError::Syntax {
                format: "JSV",
                message: error.to_string(),
            })?;
            let parsed = jsv::parse(text)?;
            json::object_from_json(&parsed, ty).map(Value::Object)
        }
        other => Err(WireError::Syntax {
            format: "request",
            message: format!(
                "request bodies of type {other} are not supported; send JSON, XML, JSV or a form"
            ),
        }),
    }
}
