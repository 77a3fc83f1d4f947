//! JSON as ServiceStack (and Evo Voice) emits it: camelCase member names, a
//! type's own members before inherited ones, nulls omitted, enums by name.
//!
//! Reading is lenient like ServiceStack's: member names match
//! case-insensitively (camelCase or PascalCase), unknown members are ignored,
//! and scalars given as strings are accepted where the type allows.

use evo_core::contract::{Contract, FieldType, Object, TypeInfo, Value};

use crate::WireError;

/// Serializes a DTO to JSON bytes.
pub fn to_json<T: Contract>(dto: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_value(&dto.to_value(), &mut out);
    out
}

/// Serializes a reflective value to JSON, appending to `out`.
pub fn write_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Int(number) => out.extend_from_slice(number.to_string().as_bytes()),
        Value::Double(number) => write_double(*number, out),
        Value::Str(text) => write_string(text, out),
        Value::Enum(name) => write_string(name, out),
        Value::List(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_value(item, out);
            }
            out.push(b']');
        }
        Value::Map(entries) => {
            out.push(b'{');
            for (index, (key, item)) in entries.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                write_string(item, out);
            }
            out.push(b'}');
        }
        Value::Object(object) => write_object(object, out),
    }
}

/// Serializes an object: own members first, then the base class's, nulls
/// left out.
pub fn write_object(object: &Object, out: &mut Vec<u8>) {
    out.push(b'{');
    let mut first = true;
    for (field, value) in object.json_entries() {
        if matches!(value, Value::Null) {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        write_string(field.json_name, out);
        out.push(b':');
        write_value(value, out);
    }
    out.push(b'}');
}

fn write_string(text: &str, out: &mut Vec<u8>) {
    // serde_json's escaping is the well-tested one; writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
}

fn write_double(number: f64, out: &mut Vec<u8>) {
    if number.is_finite() {
        let _ = serde_json::to_writer(&mut *out, &number);
    } else {
        out.extend_from_slice(b"null");
    }
}

/// Parses JSON bytes into a DTO.
pub fn from_json<T: Contract>(bytes: &[u8]) -> Result<T, WireError> {
    let json: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|error| WireError::Syntax {
            format: "JSON",
            message: error.to_string(),
        })?;
    let value = from_json_value(&json, T::FIELD_TYPE, None)?;
    T::from_value(&value).map_err(WireError::from)
}

/// Converts parsed JSON into a reflective value of the given CLR shape.
pub fn from_json_value(
    json: &serde_json::Value,
    field_type: &'static FieldType,
    field_name: Option<&'static str>,
) -> Result<Value, WireError> {
    use serde_json::Value as Json;
    let invalid = |expected: &'static str| WireError::Field {
        field: field_name.unwrap_or("").to_string(),
        message: format!("expected {expected}"),
    };
    Ok(match (field_type, json) {
        (_, Json::Null) => Value::Null,
        (FieldType::Nullable(inner), other) => from_json_value(other, inner, field_name)?,
        (FieldType::String, Json::String(text)) => Value::Str(text.clone()),
        (FieldType::String, Json::Number(number)) => Value::Str(number.to_string()),
        (FieldType::String, Json::Bool(flag)) => Value::Str(flag.to_string()),
        (FieldType::String, _) => return Err(invalid("a string")),
        (FieldType::Bool, Json::Bool(flag)) => Value::Bool(*flag),
        (FieldType::Bool, Json::String(text)) => Value::Str(text.clone()),
        (FieldType::Bool, _) => return Err(invalid("a boolean")),
        (FieldType::Int32 | FieldType::Int64, Json::Number(number)) => {
            Value::Int(number.as_i64().ok_or_else(|| invalid("an integer"))?)
        }
        (FieldType::Int32 | FieldType::Int64, Json::String(text)) => Value::Str(text.clone()),
        (FieldType::Int32 | FieldType::Int64, _) => return Err(invalid("an integer")),
        (FieldType::Double, Json::Number(number)) => {
            Value::Double(number.as_f64().unwrap_or_default())
        }
        (FieldType::Double, Json::String(text)) => Value::Str(text.clone()),
        (FieldType::Double, _) => return Err(invalid("a number")),
        (FieldType::Enum(_), Json::String(text)) => Value::Str(text.clone()),
        (FieldType::Enum(_), Json::Number(number)) => {
            Value::Int(number.as_i64().ok_or_else(|| invalid("an enum member"))?)
        }
        (FieldType::Enum(_), _) => return Err(invalid("an enum member name")),
        (FieldType::List(inner), Json::Array(items)) => Value::List(
            items
                .iter()
                .map(|item| from_json_value(item, inner, field_name))
                .collect::<Result<_, _>>()?,
        ),
        (FieldType::List(_), _) => return Err(invalid("a list")),
        (FieldType::StringMap, Json::Object(entries)) => Value::Map(
            entries
                .iter()
                .map(|(key, item)| match item {
                    Json::String(text) => Ok((key.clone(), text.clone())),
                    Json::Null => Ok((key.clone(), String::new())),
                    _ => Err(invalid("an object of strings")),
                })
                .collect::<Result<_, _>>()?,
        ),
        (FieldType::StringMap, _) => return Err(invalid("an object of strings")),
        (FieldType::Class(type_ref), Json::Object(members)) => {
            Value::Object(object_from_members(type_ref(), members)?)
        }
        (FieldType::Class(_), _) => return Err(invalid("an object")),
    })
}

/// Reads a JSON object into the reflective object of `ty`.
pub fn object_from_json(
    json: &serde_json::Value,
    ty: &'static TypeInfo,
) -> Result<Object, WireError> {
    match json {
        serde_json::Value::Object(members) => object_from_members(ty, members),
        _ => Err(WireError::Syntax {
            format: "JSON",
            message: "expected an object".to_string(),
        }),
    }
}

fn object_from_members(
    ty: &'static TypeInfo,
    members: &serde_json::Map<String, serde_json::Value>,
) -> Result<Object, WireError> {
    let mut fields = Vec::with_capacity(ty.fields().len());
    for field in ty.fields() {
        let member = members
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(field.name))
            .map(|(_, value)| value);
        fields.push(match member {
            Some(json) => from_json_value(json, field.ty, Some(field.name))?,
            None => Value::Null,
        });
    }
    let base = match ty.base() {
        Some(base) => Some(Box::new(object_from_members(base, members)?)),
        None => None,
    };
    Ok(Object { ty, fields, base })
}
