//! JSV, ServiceStack's JSON-like text format: `{name:value,…}` with
//! unquoted keys (camelCase, own members before inherited ones), nulls
//! omitted, lists `[a,b]`, maps `{k:v}`, booleans `True`/`False`, and a
//! string quoted (`"…"`, inner quotes doubled) only when it contains one of
//! `" : , { } [ ] \r \n`, or is empty.

use evo_core::contract::{Contract, Value};

/// Serializes a DTO to JSV.
pub fn to_jsv<T: Contract>(dto: &T) -> Vec<u8> {
    let mut out = String::new();
    write_value(&dto.to_value(), &mut out);
    out.into_bytes()
}

/// Writes a value as JSV.
pub fn write_value(value: &Value, out: &mut String) {
    match value {
        Value::Null => {}
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Int(number) => out.push_str(&number.to_string()),
        Value::Double(number) => out.push_str(&number.to_string()),
        Value::Str(text) => write_string(text, out),
        Value::Enum(name) => out.push_str(name),
        Value::List(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_value(item, out);
            }
            out.push(']');
        }
        Value::Map(entries) => {
            out.push('{');
            for (index, (key, item)) in entries.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write_string(item, out);
            }
            out.push('}');
        }
        Value::Object(object) => {
            out.push('{');
            let mut first = true;
            for (field, item) in object.json_entries() {
                if matches!(item, Value::Null) {
                    continue;
                }
                if !first {
                    out.push(',');
                }
                first = false;
                out.push_str(field.json_name);
                out.push(':');
                write_value(item, out);
            }
            out.push('}');
        }
    }
}

/// Writes a string, quoted only when JSV needs it.
pub fn write_string(text: &str, out: &mut String) {
    let needs_quotes = text.is_empty()
        || text
            .chars()
            .any(|c| matches!(c, '"' | ':' | ',' | '{' | '}' | '[' | ']' | '\r' | '\n'));
    if needs_quotes {
        out.push('"');
        out.push_str(&text.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_quoted_only_when_they_must_be() {
        let mut out = String::new();
        for text in ["plain text", "a,b", "say \"hi\"", "", " padded "] {
            write_string(text, &mut out);
            out.push('|');
        }
        assert_eq!(out, "plain text|\"a,b\"|\"say \"\"hi\"\"\"|\"\"| padded |");
    }
}
