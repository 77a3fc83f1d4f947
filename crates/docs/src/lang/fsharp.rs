//! F# DTOs in the form of ServiceStack's F# generator: one namespace, the
//! standard `open`s, classes as `[<AllowNullLiteral>]` types with
//! `member val … with get,set`, enums as F# enums, descriptions as
//! `///<summary>` comments plus `ApiMember`/`Api` attributes.

use std::fmt::Write;

use evo_core::contract::{FieldInfo, FieldType, TypeInfo, TypeKind};

use crate::lang::{Options, Types};

const OPENS: &[&str] = &[
    "System",
    "System.Collections",
    "System.Collections.Generic",
    "System.Runtime.Serialization",
    "ServiceStack",
    "ServiceStack.DataAnnotations",
];

/// The F# source of `types`.
pub fn generate(types: Types<'_>, options: &Options) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "namespace {}", options.global_namespace);
    out.push('\n');
    for open in OPENS {
        let _ = writeln!(out, "open {open}");
    }
    out.push('\n');
    for (index, ty) in types.iter().enumerate() {
        if index > 0 {
            out.push('\n');
        }
        match &ty.kind {
            TypeKind::Enum(info) => {
                let _ = writeln!(out, "    type {} =", ty.name);
                for (name, value) in info.members {
                    let _ = writeln!(out, "        | {name} = {value}");
                }
            }
            TypeKind::Class(_) => write_class(&mut out, ty, options),
        }
    }
    out
}

fn write_class(out: &mut String, ty: &TypeInfo, options: &Options) {
    if let Some(description) = ty.description {
        write_summary(out, "    ", description);
        let _ = writeln!(out, "    [<Api(Description={})>]", quote(description));
    }
    if options.add_routes_and_markers {
        if let Some(operation) = ty.operation() {
            for route in operation.routes {
                if route.verbs.is_empty() {
                    let _ = writeln!(out, "    [<Route({})>]", quote(route.path));
                } else {
                    let _ = writeln!(
                        out,
                        "    [<Route({}, {})>]",
                        quote(route.path),
                        quote(&route.verbs.join(","))
                    );
                }
            }
        }
    }
    let _ = writeln!(out, "    [<AllowNullLiteral>]");
    let _ = writeln!(out, "    type {}() = ", ty.name);
    let mut has_body = false;
    if let Some(base) = ty.base() {
        let _ = writeln!(out, "        inherit {}()", base.name);
        has_body = true;
    }
    if options.add_routes_and_markers {
        if let Some(response) = ty.operation().and_then(|op| op.response) {
            let _ = writeln!(out, "        interface IReturn<{}>", response().name);
            has_body = true;
        }
    }
    let mut previous_annotated = false;
    for field in ty.fields() {
        if previous_annotated {
            out.push('\n');
        }
        previous_annotated = write_member(out, field);
        has_body = true;
    }
    if !has_body {
        let _ = writeln!(out, "        class end");
    }
}

/// Writes one member; returns whether it carried comments or attributes
/// (ServiceStack separates such members with a blank line).
fn write_member(out: &mut String, field: &FieldInfo) -> bool {
    let annotated = match field.description {
        Some(description) => {
            write_summary(out, "        ", description);
            let _ = writeln!(
                out,
                "        [<ApiMember(Description={})>]",
                quote(description)
            );
            true
        }
        None => false,
    };
    let type_name = type_name(field.ty);
    let _ = writeln!(
        out,
        "        member val {}:{} = {} with get,set",
        field.name,
        type_name,
        default_value(field.ty, &type_name)
    );
    annotated
}

fn write_summary(out: &mut String, indent: &str, description: &str) {
    let _ = writeln!(out, "{indent}///<summary>");
    for line in description.lines() {
        let _ = writeln!(out, "{indent}///{line}");
    }
    let _ = writeln!(out, "{indent}///</summary>");
}

/// The F# spelling of a field's CLR type.
pub fn type_name(ty: &FieldType) -> String {
    match ty {
        FieldType::String => "String".to_string(),
        FieldType::Bool => "Boolean".to_string(),
        FieldType::Int32 => "Int32".to_string(),
        FieldType::Int64 => "Int64".to_string(),
        FieldType::Double => "Double".to_string(),
        FieldType::Nullable(inner) => format!("Nullable<{}>", type_name(inner)),
        FieldType::Enum(r) | FieldType::Class(r) => r().name.to_string(),
        FieldType::List(inner) => format!("ResizeArray<{}>", type_name(inner)),
        FieldType::StringMap => "Dictionary<String, String>".to_string(),
    }
}

fn default_value(ty: &FieldType, type_name: &str) -> String {
    match ty {
        FieldType::String | FieldType::Class(_) => "null".to_string(),
        _ => format!("new {type_name}()"),
    }
}

fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}
