//! [`Field`]: how each Rust field type maps to a CLR type and a [`Value`].

use std::collections::BTreeMap;

use crate::contract::{ContractError, FieldType, Value};

/// A Rust type usable as a DTO field (or as a whole DTO: the derive
/// implements it for every `#[derive(Contract)]` type).
pub trait Field: Sized {
    /// The CLR shape of the type.
    const FIELD_TYPE: &'static FieldType;

    /// Converts to the reflective value.
    fn to_value(&self) -> Value;

    /// Rebuilds from a reflective value.
    fn from_value(value: &Value) -> Result<Self, ContractError>;

    /// The value a missing member takes (the CLR default).
    fn missing() -> Self;
}

impl Field for String {
    const FIELD_TYPE: &'static FieldType = &FieldType::String;

    fn to_value(&self) -> Value {
        Value::Str(self.clone())
    }

    fn from_value(value: &Value) -> Result<Self, ContractError> {
        match value {
            Value::Str(s) => Ok(s.clone()),
            Value::Int(i) => Ok(i.to_string()),
            Value::Double(d) => Ok(d.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            Value::Enum(e) => Ok((*e).to_string()),
            Value::Null => Ok(String::new()),
            other => Err(ContractError::mismatch("a string", other)),
        }
    }

    fn missing() -> Self {
        String::new()
    }
}

impl Field for bool {
    const FIELD_TYPE: &'static FieldType = &FieldType::Bool;

    fn to_value(&self) -> Value {
        Value::Bool(*self)
    }

    fn from_value(value: &Value) -> Result<Self, ContractError> {
        match value {
            Value::Bool(b) => Ok(*b),
            Value::Str(s) if s.eq_ignore_ascii_case("true") || s == "1" => Ok(true),
            Value::Str(s) if s.eq_ignore_ascii_case("false") || s == "0" || s.is_empty() => {
                Ok(false)
            }
            Value::Int(i) => Ok(*i != 0),
            other => Err(ContractError::mismatch("a boolean", other)),
        }
    }

    fn missing() -> Self {
        false
    }
}

macro_rules! integer_field {
    ($rust:ty, $clr:expr) => {
        impl Field for $rust {
            const FIELD_TYPE: &'static FieldType = &$clr;

            fn to_value(&self) -> Value {
                Value::Int(i64::from(*self))
            }

            fn from_value(value: &Value) -> Result<Self, ContractError> {
                let number = match value {
                    Value::Int(i) => *i,
                    Value::Str(s) => s
                        .trim()
                        .parse::<i64>()
                        .map_err(|_| ContractError::mismatch("an integer", value))?,
                    other => return Err(ContractError::mismatch("an integer", other)),
                };
                <$rust>::try_from(number)
                    .map_err(|_| ContractError::mismatch("an integer in range", value))
            }

            fn missing() -> Self {
                0
            }
        }
    };
}

integer_field!(i32, FieldType::Int32);
integer_field!(i64, FieldType::Int64);

impl Field for f64 {
    const FIELD_TYPE: &'static FieldType = &FieldType::Double;

    fn to_value(&self) -> Value {
        Value::Double(*self)
    }

    fn from_value(value: &Value) -> Result<Self, ContractError> {
        match value {
            Value::Double(d) => Ok(*d),
            Value::Int(i) => Ok(*i as f64),
            Value::Str(s) => s
                .trim()
                .parse::<f64>()
                .map_err(|_| ContractError::mismatch("a number", value)),
            other => Err(ContractError::mismatch("a number", other)),
        }
    }

    fn missing() -> Self {
        0.0
    }
}

/// `Option<String>` is a plain (nullable) CLR `String`; `Option` of a value
/// type is `Nullable<T>`.
impl<T: Field> Field for Option<T> {
    const FIELD_TYPE: &'static FieldType = match T::FIELD_TYPE {
        FieldType::Bool
        | FieldType::Int32
        | FieldType::Int64
        | FieldType::Double
        | FieldType::Enum(_) => &FieldType::Nullable(T::FIELD_TYPE),
        other => other,
    };

    fn to_value(&self) -> Value {
        match self {
            Some(inner) => inner.to_value(),
            None => Value::Null,
        }
    }

    fn from_value(value: &Value) -> Result<Self, ContractError> {
        match value {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }

    fn missing() -> Self {
        None
    }
}

impl<T: Field> Field for Vec<T> {
    const FIELD_TYPE: &'static FieldType = &FieldType::List(T::FIELD_TYPE);

    fn to_value(&self) -> Value {
        Value::List(self.iter().map(Field::to_value).collect())
    }

    fn from_value(value: &Value) -> Result<Self, ContractError> {
        match value {
            Value::List(items) => items.iter().map(T::from_value).collect(),
            Value::Null => Ok(Vec::new()),
            other => Err(ContractError::mismatch("a list", other)),
        }
    }

    fn missing() -> Self {
        Vec::new()
    }
}

impl Field for BTreeMap<String, String> {
    const FIELD_TYPE: &'static FieldType = &FieldType::StringMap;

    fn to_value(&self) -> Value {
        Value::Map(self.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }

    fn from_value(value: &Value) -> Result<Self, ContractError> {
        match value {
            Value::Map(entries) => Ok(entries.iter().cloned().collect()),
            Value::Null => Ok(BTreeMap::new()),
            other => Err(ContractError::mismatch("a dictionary", other)),
        }
    }

    fn missing() -> Self {
        BTreeMap::new()
    }
}
