//! TypeScript DTOs (and their plain ES module flavour, `mjs`) in the form of
//! ServiceStack's TypeScript generator: classes with a `Partial<T>`
//! constructor, string enums, request DTOs with `getTypeName()`,
//! `getMethod()` and `createResponse()` as `@servicestack/client` expects.
//! The TypeScript compiles under `tsc --strict`: reference-typed members
//! are optional, value-typed ones definite (`!`).

use std::fmt::Write;

use evo_core::contract::{FieldType, TypeInfo, TypeKind};

use crate::lang::{Options, Types};

/// The TypeScript source of `types`.
pub fn generate(types: Types<'_>, options: &Options) -> String {
    let mut out = String::new();
    out.push_str("export interface IReturn<T>\n{\n    createResponse(): T;\n}\n\n");
    out.push_str("export interface IReturnVoid\n{\n    createResponse(): void;\n}\n\n");
    for ty in types {
        match &ty.kind {
            TypeKind::Enum(info) => {
                write_description(&mut out, "", ty.description);
                let _ = writeln!(out, "export enum {}\n{{", ty.name);
                for (name, _) in info.members {
                    let _ = writeln!(out, "    {name} = '{name}',");
                }
                out.push_str("}\n\n");
            }
            TypeKind::Class(_) => write_class(&mut out, ty, options),
        }
    }
    out
}

fn write_description(out: &mut String, indent: &str, description: Option<&str>) {
    if let Some(description) = description {
        let _ = writeln!(
            out,
            "{indent}/** @description {} */",
            description.replace("*/", "* /")
        );
    }
}

fn write_class(out: &mut String, ty: &TypeInfo, options: &Options) {
    write_description(out, "", ty.description);
    let operation = ty.operation();
    if options.add_routes_and_markers {
        if let Some(operation) = operation {
            for route in operation.routes {
                let _ = writeln!(
                    out,
                    "// @Route(\"{}\", \"{}\")",
                    route.path,
                    route.verbs.join(",")
                );
            }
        }
    }
    if let Some(description) = ty.description {
        let _ = writeln!(
            out,
            "// @Api(Description=\"{}\")",
            description.replace('"', "\\\"")
        );
    }
    let mut header = format!("export class {}", ty.name);
    if let Some(base) = ty.base() {
        let _ = write!(header, " extends {}", base.name);
    }
    let response = operation.and_then(|op| op.response).map(|r| r().name);
    if operation.is_some() {
        match response {
            Some(name) => {
                let _ = write!(header, " implements IReturn<{name}>");
            }
            None => header.push_str(" implements IReturnVoid"),
        }
    }
    let _ = writeln!(out, "{header}\n{{");
    for field in ty.fields() {
        write_description(out, "    ", field.description);
        if let Some(description) = field.description {
            let _ = writeln!(
                out,
                "    // @ApiMember(Description=\"{}\")",
                description.replace('"', "\\\"")
            );
        }
        let marker = if field.ty.is_nullable() { "?" } else { "!" };
        let _ = writeln!(
            out,
            "    public {}{marker}: {};",
            field.json_name,
            type_name(field.ty)
        );
        if field.description.is_some() {
            out.push('\n');
        }
    }
    let call_super = if ty.base().is_some() {
        "super(init); "
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "    public constructor(init?: Partial<{}>) {{ {call_super}(Object as any).assign(this, init); }}",
        ty.name
    );
    if let Some(operation) = operation {
        let _ = writeln!(out, "    public getTypeName() {{ return '{}'; }}", ty.name);
        let _ = writeln!(
            out,
            "    public getMethod() {{ return '{}'; }}",
            operation.default_verb()
        );
        match response {
            Some(name) => {
                let _ = writeln!(
                    out,
                    "    public createResponse() {{ return new {name}(); }}"
                );
            }
            None => out.push_str("    public createResponse() {}\n"),
        }
    }
    out.push_str("}\n\n");
}

/// The TypeScript spelling of a field type.
pub fn type_name(ty: &FieldType) -> String {
    match ty {
        FieldType::String => "string".to_string(),
        FieldType::Bool => "boolean".to_string(),
        FieldType::Int32 | FieldType::Int64 | FieldType::Double => "number".to_string(),
        FieldType::Nullable(inner) => type_name(inner),
        FieldType::Enum(r) | FieldType::Class(r) => r().name.to_string(),
        FieldType::List(inner) => format!("{}[]", type_name(inner)),
        FieldType::StringMap => "{ [index: string]: string; }".to_string(),
    }
}

/// The plain ES module (`.mjs`) flavour: the same classes without types.
pub fn generate_mjs(types: Types<'_>, _options: &Options) -> String {
    let mut out = String::new();
    out.push_str("\"use strict\";\n\n");
    for ty in types {
        match &ty.kind {
            TypeKind::Enum(info) => {
                write_description(&mut out, "", ty.description);
                let members: Vec<String> = info
                    .members
                    .iter()
                    .map(|(n, _)| format!("{n}: '{n}'"))
                    .collect();
                let _ = writeln!(
                    out,
                    "export const {} = Object.freeze({{ {} }});\n",
                    ty.name,
                    members.join(", ")
                );
            }
            TypeKind::Class(_) => {
                write_description(&mut out, "", ty.description);
                let extends = ty
                    .base()
                    .map(|b| format!(" extends {}", b.name))
                    .unwrap_or_default();
                let _ = writeln!(out, "export class {}{extends} {{", ty.name);
                let type_doc: Vec<String> = ty
                    .fields()
                    .iter()
                    .map(|f| format!("{}?:{}", f.json_name, type_name(f.ty)))
                    .collect();
                let _ = writeln!(
                    out,
                    "    /** @param {{{{{}}}}} [init] */",
                    type_doc.join(",")
                );
                let call_super = if ty.base().is_some() {
                    "super(init); "
                } else {
                    ""
                };
                let _ = writeln!(
                    out,
                    "    constructor(init) {{ {call_super}Object.assign(this, init) }}"
                );
                if let Some(operation) = ty.operation() {
                    let _ = writeln!(out, "    getTypeName() {{ return '{}' }}", ty.name);
                    let _ = writeln!(
                        out,
                        "    getMethod() {{ return '{}' }}",
                        operation.default_verb()
                    );
                    match operation.response {
                        Some(r) => {
                            let _ = writeln!(
                                out,
                                "    createResponse() {{ return new {}() }}",
                                r().name
                            );
                        }
                        None => out.push_str("    createResponse() { }\n"),
                    }
                }
                out.push_str("}\n\n");
            }
        }
    }
    out
}
