//! Request DTOs from query strings and form bodies, as ServiceStack binds
//! them: names match case-insensitively, values are text (JSV-like lists
//! `[a,b]` or `a,b`, `True`/`true`), a bare `?name` is null, unknown names
//! are ignored.

use evo_core::contract::{Contract, FieldType, Object, TypeInfo, Value};

use crate::WireError;

/// Builds a DTO from `(name, value)` pairs (query string or form body).
pub fn from_pairs<T: Contract>(pairs: &[(String, String)]) -> Result<T, WireError> {
    let object = object_from_pairs(T::type_info(), pairs)?;
    T::from_value(&Value::Object(object)).map_err(WireError::from)
}

/// Builds the reflective object of `ty` from `(name, value)` pairs; members
/// with no pair are null.
pub fn object_from_pairs(
    ty: &'static TypeInfo,
    pairs: &[(String, String)],
) -> Result<Object, WireError> {
    let mut fields = Vec::with_capacity(ty.fields().len());
    for field in ty.fields() {
        let text = pairs
            .iter()
            .rev()
            .find(|(name, _)| name.eq_ignore_ascii_case(field.name))
            .map(|(_, value)| value.as_str());
        fields.push(match text {
            Some(text) => text_to_value(text, field.ty, field.name)?,
            None => Value::Null,
        });
    }
    let base = match ty.base() {
        Some(base) => Some(Box::new(object_from_pairs(base, pairs)?)),
        None => None,
    };
    Ok(Object { ty, fields, base })
}

fn text_to_value(
    text: &str,
    field_type: &'static FieldType,
    field: &'static str,
) -> Result<Value, WireError> {
    Ok(match field_type {
        FieldType::Nullable(inner) => {
            if text.is_empty() {
                Value::Null
            } else {
                text_to_value(text, inner, field)?
            }
        }
        FieldType::String => Value::Str(text.to_string()),
        FieldType::Bool
        | FieldType::Int32
        | FieldType::Int64
        | FieldType::Double
        | FieldType::Enum(_) => {
            if text.is_empty() {
                Value::Null
            } else {
                Value::Str(text.to_string())
            }
        }
        FieldType::List(inner) => {
            let trimmed = text.trim();
            let body = trimmed
                .strip_prefix('[')
                .and_then(|rest| rest.strip_suffix(']'))
                .unwrap_or(trimmed);
            if body.is_empty() {
                Value::List(Vec::new())
            } else {
                Value::List(
                    body.split(',')
                        .map(|item| text_to_value(item.trim().trim_matches('"'), inner, field))
                        .collect::<Result<_, _>>()?,
                )
            }
        }
        FieldType::StringMap => {
            let trimmed = text.trim();
            let body = trimmed
                .strip_prefix('{')
                .and_then(|rest| rest.strip_suffix('}'))
                .unwrap_or(trimmed);
            let mut entries = Vec::new();
            for entry in body.split(',').filter(|entry| !entry.trim().is_empty()) {
                let (key, value) = entry.split_once(':').ok_or_else(|| WireError::Field {
                    field: field.to_string(),
                    message: "expected {key:value,...}".to_string(),
                })?;
                entries.push((key.trim().to_string(), value.trim().to_string()));
            }
            Value::Map(entries)
        }
        FieldType::Class(_) => {
            return Err(WireError::Field {
                field: field.to_string(),
                message: "nested objects cannot be given in a query string; send a JSON body"
                    .to_string(),
            })
        }
    })
}
