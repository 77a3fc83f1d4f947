//! The reflective value tree that sits between a DTO and a wire format.
//!
//! A writer never sees a Rust struct: it sees an [`Object`] (type info plus
//! field values in declaration order) and walks it with the help of the
//! [`TypeInfo`]. A reader builds a [`Value`] guided by the target type and the
//! DTO is rebuilt from it with [`crate::contract::Field::from_value`].

use crate::contract::TypeInfo;

/// A value of a DTO field.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A null reference (only for nullable CLR types).
    Null,
    /// `Boolean`.
    Bool(bool),
    /// Any integer.
    Int(i64),
    /// `Double`.
    Double(f64),
    /// `String`.
    Str(String),
    /// An enum member, by name.
    Enum(&'static str),
    /// `List<T>`.
    List(Vec<Value>),
    /// `Dictionary<String, String>`, in its iteration order.
    Map(Vec<(String, String)>),
    /// A class DTO.
    Object(Object),
}

/// A class DTO as a value: its type and its own fields' values in declaration
/// order, with the base class's part kept separately.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    /// The concrete type.
    pub ty: &'static TypeInfo,
    /// Values of `ty.fields()`, index for index.
    pub fields: Vec<Value>,
    /// The inherited part, present exactly when `ty` has a base class.
    pub base: Option<Box<Object>>,
}

impl Object {
    /// Looks a field up by its CLR name, searching the base chain too.
    pub fn get(&self, clr_name: &str) -> Option<&Value> {
        self.ty
            .fields()
            .iter()
            .position(|field| field.name == clr_name)
            .and_then(|index| self.fields.get(index))
            .or_else(|| self.base.as_ref().and_then(|base| base.get(clr_name)))
    }

    /// The (field, value) pairs in JSON order: own fields, then the base's.
    pub fn json_entries(&self) -> Vec<(&'static crate::contract::FieldInfo, &Value)> {
        let mut entries: Vec<_> = self.ty.fields().iter().zip(self.fields.iter()).collect();
        if let Some(base) = &self.base {
            entries.extend(base.json_entries());
        }
        entries
    }
}

/// Why a [`Value`] could not become a DTO.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContractError {
    /// A value of the wrong shape for the target type.
    #[error("expected {expected} but found {found}")]
    Mismatch {
        /// What the target type needs.
        expected: &'static str,
        /// What was given.
        found: String,
    },
    /// A name that is not a member of the enum.
    #[error("'{value}' is not a member of {enum_name}")]
    UnknownEnumMember {
        /// The enum type.
        enum_name: &'static str,
        /// The rejected text.
        value: String,
    },
    /// A field's value was rejected.
    #[error("{field}: {source}")]
    Field {
        /// The CLR field name.
        field: &'static str,
        /// Why.
        source: Box<ContractError>,
    },
}

impl ContractError {
    /// A mismatch error describing `found`.
    pub fn mismatch(expected: &'static str, found: &Value) -> Self {
        ContractError::Mismatch {
            expected,
            found: found.kind_name().to_string(),
        }
    }

    /// The CLR name of the innermost field the error is about, if any.
    pub fn field_name(&self) -> Option<&'static str> {
        match self {
            ContractError::Field { field, source } => Some(source.field_name().unwrap_or(field)),
            _ => None,
        }
    }
}

impl Value {
    /// A short name of the value's shape, for error messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Double(_) => "a number",
            Value::Str(_) => "a string",
            Value::Enum(_) => "an enum member",
            Value::List(_) => "a list",
            Value::Map(_) => "a dictionary",
            Value::Object(_) => "an object",
        }
    }
}
