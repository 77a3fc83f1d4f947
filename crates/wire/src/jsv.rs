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

/// Parses a JSV document into JSON's shape, every scalar a string (JSV has
/// no scalar types; the JSON reader converts strings to the member's type,
/// as ServiceStack's `TypeSerializer` parses each member from its text).
pub fn parse(text: &str) -> Result<serde_json::Value, crate::WireError> {
    let mut parser = Parser {
        chars: text.trim().chars().collect(),
        at: 0,
    };
    let value = parser.value()?;
    parser.skip_ws();
    if parser.at != parser.chars.len() {
        return Err(parser.error("unexpected text after the value"));
    }
    Ok(value)
}

struct Parser {
    chars: Vec<char>,
    at: usize,
}

impl Parser {
    fn error(&self, message: &str) -> crate::WireError {
        crate::WireError::Syntax {
            format: "JSV",
            message: format!("{message} at character {}", self.at),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
    }

    fn value(&mut self) -> Result<serde_json::Value, crate::WireError> {
        self.skip_ws();
        match self.peek() {
            Some('{') => self.object(),
            Some('[') => self.list(),
            _ => Ok(serde_json::Value::String(self.scalar()?)),
        }
    }

    fn object(&mut self) -> Result<serde_json::Value, crate::WireError> {
        self.at += 1;
        let mut members = serde_json::Map::new();
        loop {
            self.skip_ws();
            if self.peek() == Some('}') {
                self.at += 1;
                return Ok(serde_json::Value::Object(members));
            }
            let key = self.scalar()?;
            self.skip_ws();
            if self.peek() != Some(':') {
                return Err(self.error("expected ':'"));
            }
            self.at += 1;
            let value = self.value()?;
            members.insert(key.trim().to_string(), value);
            self.skip_ws();
            match self.peek() {
                Some(',') => self.at += 1,
                Some('}') => {}
                _ => return Err(self.error("expected ',' or '}'")),
            }
        }
    }

    fn list(&mut self) -> Result<serde_json::Value, crate::WireError> {
        self.at += 1;
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            if self.peek() == Some(']') {
                self.at += 1;
                return Ok(serde_json::Value::Array(items));
            }
            items.push(self.value()?);
            self.skip_ws();
            match self.peek() {
                Some(',') => self.at += 1,
                Some(']') => {}
                _ => return Err(self.error("expected ',' or ']'")),
            }
        }
    }

    /// A quoted string (`""` is a quote) or the raw text up to the next
    /// delimiter.
    fn scalar(&mut self) -> Result<String, crate::WireError> {
        let mut out = String::new();
        if self.peek() == Some('"') {
            self.at += 1;
            loop {
                match self.peek() {
                    None => return Err(self.error("unterminated string")),
                    Some('"') if self.chars.get(self.at + 1) == Some(&'"') => {
                        out.push('"');
                        self.at += 2;
                    }
                    Some('"') => {
                        self.at += 1;
                        return Ok(out);
                    }
                    Some(c) => {
                        out.push(c);
                        self.at += 1;
                    }
                }
            }
        }
        while let Some(c) = self.peek() {
            if matches!(c, ',' | ':' | '}' | ']') {
                break;
            }
            out.push(c);
            self.at += 1;
        }
        Ok(out.trim().to_string())
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

    #[test]
    fn jsv_documents_parse_into_strings_lists_and_objects() {
        let value = parse("{userName:alice@x.io,password:\"p,w \"\"q\"\"\",rememberMe:True,roles:[A,B],meta:{k:v}}").unwrap();
        assert_eq!(
            value,
            serde_json::json!({"userName":"alice@x.io","password":"p,w \"q\"","rememberMe":"True","roles":["A","B"],"meta":{"k":"v"}})
        );
        assert!(parse("{a:1").is_err());
        assert!(parse("{a:\"x").is_err());
    }
}
