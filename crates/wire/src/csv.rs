//! CSV as ServiceStack writes it: a response whose first list member holds
//! DTOs is written as the rows of that list (header row of member names,
//! own members before inherited ones); any other DTO is one row of itself.
//! Cells: null → empty, booleans `True`/`False`, nested values as JSV;
//! a cell with `"`, `,`, `;`, `\r` or `\n` is quoted with inner quotes
//! doubled (`;` is ours: see below).
//! Lines end with `\r\n`.
//!
//! One deliberate difference from ServiceStack: formula injection
//! (<https://owasp.org/www-community/attacks/CSV_Injection>). A text cell
//! that starts with `=`, `+`, `-`, `@`, tab or carriage return is written
//! as OWASP recommends: a single quote prepended and the cell quoted, so a
//! spreadsheet shows it as text instead of evaluating it. Only text is
//! caller data: `String` members are the only ones that become
//! [`Value::Str`]; numbers (`Value::Int`/`Value::Double`, e.g. `-5`), enum
//! names and nested JSV (starting `[` or `{`) are written as they are.
//! Cells holding `;` are quoted as well, so that a spreadsheet using `;` as
//! its list separator cannot split one into a second cell that starts
//! with a formula.

use evo_core::contract::{FieldInfo, Object, TypeInfo, Value};

/// Writes a response value as CSV.
pub fn write_response(value: &Value) -> Vec<u8> {
    let mut out = String::new();
    if let Value::Object(object) = value {
        let rows = object
            .json_entries()
            .into_iter()
            .find_map(|(_, member)| match member {
                Value::List(items)
                    if items.iter().all(|i| matches!(i, Value::Object(_))) && !items.is_empty() =>
                {
                    Some(items)
                }
                _ => None,
            });
        match rows {
            Some(items) => {
                let item_type = match &items[0] {
                    Value::Object(first) => first.ty,
                    _ => object.ty,
                };
                write_header(item_type, &mut out);
                for item in items {
                    if let Value::Object(row) = item {
                        write_row(row, &mut out);
                    }
                }
            }
            None => {
                let list_type = list_item_type(object.ty);
                match list_type {
                    // An empty list still gets its header row.
                    Some(item_type) => write_header(item_type, &mut out),
                    None => {
                        write_header(object.ty, &mut out);
                        write_row(object, &mut out);
                    }
                }
            }
        }
    }
    out.into_bytes()
}

/// The item type of the first list-of-DTO member, if any.
fn list_item_type(ty: &'static TypeInfo) -> Option<&'static TypeInfo> {
    use evo_core::contract::FieldType;
    ty.json_fields()
        .into_iter()
        .find_map(|field| match field.ty {
            FieldType::List(FieldType::Class(r)) => Some(r()),
            _ => None,
        })
}

fn write_header(ty: &'static TypeInfo, out: &mut String) {
    let names: Vec<&str> = ty
        .json_fields()
        .iter()
        .map(|f: &&FieldInfo| f.json_name)
        .collect();
    out.push_str(&names.join(","));
    out.push_str("\r\n");
}

fn write_row(object: &Object, out: &mut String) {
    let cells: Vec<String> = object
        .json_entries()
        .into_iter()
        .map(|(_, value)| cell(value))
        .collect();
    out.push_str(&cells.join(","));
    out.push_str("\r\n");
}

/// What a spreadsheet evaluates at the start of a cell (OWASP's list).
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

fn cell(value: &Value) -> String {
    let raw = match value {
        Value::Null => String::new(),
        Value::Str(text) if text.starts_with(FORMULA_STARTS) => {
            return format!("\"'{}\"", text.replace('"', "\"\""));
        }
        Value::Str(text) => text.clone(),
        other => {
            let mut jsv = String::new();
            crate::jsv::write_value(other, &mut jsv);
            jsv
        }
    };
    // `;` too: spreadsheets in locales whose list separator is `;` split an
    // unquoted cell there, and the part after it would start a formula.
    if raw.contains(['"', ',', ';', '\r', '\n']) {
        format!("\"{}\"", raw.replace('"', "\"\""))
    } else {
        raw
    }
}
