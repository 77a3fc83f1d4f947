//! evo-wire: ServiceStack's wire formats, derived from the contract registry.
//!
//! Every writer and reader here walks `evo_core::contract` descriptions; none
//! is written for a particular DTO. Adding a field to a DTO changes every
//! format with no edit in this crate.
//!
//! Invariant: no HTTP framework, no I/O. Functions take values and return
//! bytes (or parse bytes into values), so the server can render once per
//! change and serve the bytes.

pub mod json;
pub mod query;

use evo_core::contract::ContractError;

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
