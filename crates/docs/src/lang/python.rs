//! Python DTOs in the form of ServiceStack's Python generator: dataclasses
//! with `dataclass_json` (camelCase on the wire, unknown members ignored),
//! `str` enums, and request DTOs marked `IReturn[T]` plus the verb marker
//! (`IGet`, `IPost`, …) that the `servicestack` client reads.

use std::fmt::Write;

use evo_core::contract::{FieldType, TypeInfo, TypeKind};

use crate::lang::{Options, Types};

const HEADER: &str = "import datetime
import decimal
from marshmallow.fields import *
from servicestack import *
from typing import *
from dataclasses import dataclass, field
from dataclasses_json import dataclass_json, LetterCase, Undefined, config
from enum import Enum, IntEnum
";

/// The Python source of `types`.
pub fn generate(types: Types<'_>, options: &Options) -> String {
    let mut out = String::from(HEADER);
    for ty in types {
        out.push_str("\n\n");
        match &ty.kind {
            TypeKind::Enum(info) => {
                let _ = writeln!(out, "class {}(str, Enum):", ty.name);
                for (name, _) in info.members {
                    let _ = writeln!(out, "    {} = '{name}'", constant_name(name));
                }
            }
            TypeKind::Class(_) => write_class(&mut out, ty, options),
        }
    }
    out
}

fn write_class(out: &mut String, ty: &TypeInfo, options: &Options) {
    let operation = ty.operation();
    if options.add_routes_and_markers {
        if let Some(operation) = operation {
            for route in operation.routes {
                let _ = writeln!(
                    out,
                    "# @Route(\"{}\", \"{}\")",
                    route.path,
                    route.verbs.join(",")
                );
            }
        }
    }
    if let Some(description) = ty.description {
        let _ = writeln!(
            out,
            "# @Api(Description=\"{}\")",
            description.replace('"', "\\\"")
        );
    }
    out.push_str(
        "@dataclass_json(letter_case=LetterCase.CAMEL, undefined=Undefined.EXCLUDE)\n@dataclass\n",
    );
    let mut bases: Vec<String> = Vec::new();
    if let Some(base) = ty.base() {
        bases.push(base.name.to_string());
    }
    if let Some(operation) = operation {
        match operation.response {
            Some(response) => bases.push(format!("IReturn[{}]", response().name)),
            None => bases.push("IReturnVoid".to_string()),
        }
        bases.push(verb_marker(operation.default_verb()).to_string());
    }
    if bases.is_empty() {
        let _ = writeln!(out, "class {}:", ty.name);
    } else {
        let _ = writeln!(out, "class {}({}):", ty.name, bases.join(", "));
    }
    if let Some(description) = ty.description {
        let _ = writeln!(
            out,
            "    \"\"\"\n    {}\n    \"\"\"\n",
            description.replace("\"\"\"", "'''")
        );
    }
    if ty.fields().is_empty() {
        out.push_str("    pass\n");
        return;
    }
    for field in ty.fields() {
        if let Some(description) = field.description {
            let _ = writeln!(
                out,
                "    # @ApiMember(Description=\"{}\")",
                description.replace('"', "\\\"")
            );
        }
        let (annotation, default) = annotation(field.ty);
        let name = snake_case(field.name);
        if is_keyword(&name) {
            // A Python keyword (`from`) cannot name a member: ServiceStack's
            // generator appends `_` and keeps the wire name through
            // dataclasses_json's `config(field_name=…)`.
            let _ = writeln!(
                out,
                "    {name}_: {annotation} = field(metadata=config(field_name='{}'), default={default})",
                camel(field.name)
            );
        } else {
            let _ = writeln!(out, "    {name}: {annotation} = {default}");
        }
        if let Some(description) = field.description {
            let _ = writeln!(
                out,
                "    \"\"\"\n    {}\n    \"\"\"\n",
                description.replace("\"\"\"", "'''")
            );
        }
    }
}

fn verb_marker(verb: &str) -> &'static str {
    match verb {
        "GET" => "IGet",
        "PUT" => "IPut",
        "DELETE" => "IDelete",
        "PATCH" => "IPatch",
        _ => "IPost",
    }
}

/// The annotation and default of a member.
fn annotation(ty: &FieldType) -> (String, String) {
    match ty {
        FieldType::Bool => ("bool".to_string(), "False".to_string()),
        FieldType::Int32 | FieldType::Int64 => ("int".to_string(), "0".to_string()),
        FieldType::Double => ("float".to_string(), "0.0".to_string()),
        FieldType::Enum(r) => (format!("Optional[{}]", r().name), "None".to_string()),
        other => (
            format!("Optional[{}]", type_name(other)),
            "None".to_string(),
        ),
    }
}

/// The Python spelling of a field type.
pub fn type_name(ty: &FieldType) -> String {
    match ty {
        FieldType::String => "str".to_string(),
        FieldType::Bool => "bool".to_string(),
        FieldType::Int32 | FieldType::Int64 => "int".to_string(),
        FieldType::Double => "float".to_string(),
        FieldType::Nullable(inner) => type_name(inner),
        FieldType::Enum(r) | FieldType::Class(r) => r().name.to_string(),
        FieldType::List(inner) => format!("List[{}]", type_name(inner)),
        FieldType::StringMap => "Dict[str, str]".to_string(),
    }
}

/// Python's reserved words (`keyword.kwlist`).
fn is_keyword(name: &str) -> bool {
    const KEYWORDS: &[&str] = &[
        "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class",
        "continue", "def", "del", "elif", "else", "except", "finally", "for", "from", "global",
        "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return",
        "try", "while", "with", "yield",
    ];
    KEYWORDS.contains(&name)
}

/// The JSON (camelCase) name of a field.
fn camel(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// `DialState` → `dial_state`; `oauth_token` stays.
pub fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for (index, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if index > 0 && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `Disconnected` → `DISCONNECTED`, `NotReady` → `NOT_READY`.
fn constant_name(name: &str) -> String {
    snake_case(name).to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_keywords_are_escaped_and_keep_their_wire_name() {
        assert!(is_keyword("from") && !is_keyword("to"));
        assert_eq!(camel("From"), "from");
    }
}
