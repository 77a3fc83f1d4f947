//! ServiceStack's metadata pages: `/metadata` (every operation) and
//! `/{format}/metadata?op=Name[&lang=…]` (one operation: description, auth
//! and role requirements, routes, its DTOs in a language, and sample HTTP
//! requests and responses in the format), as Evo Voice publishes them.

use evo_core::contract::{
    operations, types_for_operations, FieldType, Object, TypeInfo, TypeKind, Value,
};
use evo_wire::format::Format;

use crate::lang::{fsharp, python, typescript, Language, Options};

const SERVICE_NAME: &str = "Evo Voice";

fn escape(text: &str) -> String {
    evo_wire::xml::escape(text)
}

/// A sample value of a type: strings `String`, numbers 0, booleans false,
/// enums their first member, one item per list and dictionary.
pub fn placeholder(ty: &'static TypeInfo) -> Value {
    match &ty.kind {
        TypeKind::Enum(info) => Value::Enum(info.members.first().map_or("", |(name, _)| *name)),
        TypeKind::Class(_) => Value::Object(placeholder_object(ty, 0)),
    }
}

fn placeholder_object(ty: &'static TypeInfo, depth: usize) -> Object {
    Object {
        ty,
        fields: ty
            .fields()
            .iter()
            .map(|f| placeholder_field(f.ty, depth + 1))
            .collect(),
        base: ty
            .base()
            .map(|base| Box::new(placeholder_object(base, depth))),
    }
}

fn placeholder_field(field_type: &'static FieldType, depth: usize) -> Value {
    match field_type {
        FieldType::String => Value::Str("String".to_string()),
        FieldType::Bool => Value::Bool(false),
        FieldType::Int32 | FieldType::Int64 => Value::Int(0),
        FieldType::Double => Value::Double(0.0),
        FieldType::Nullable(inner) => placeholder_field(inner, depth),
        FieldType::Enum(r) => placeholder(r()),
        // Deeply recursive contracts stop rather than loop.
        FieldType::Class(_) if depth > 8 => Value::Null,
        FieldType::Class(r) => Value::Object(placeholder_object(r(), depth)),
        FieldType::List(_) if depth > 8 => Value::List(Vec::new()),
        FieldType::List(inner) => Value::List(vec![placeholder_field(inner, depth)]),
        FieldType::StringMap => Value::Map(vec![("String".to_string(), "String".to_string())]),
    }
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
<style>body{{font:14px/1.45 system-ui,sans-serif;margin:1.5rem;max-width:70rem;color:#222}}pre{{background:#f6f6f6;padding:.75rem;overflow:auto}}\
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}}</style></head><body>{body}</body></html>\n",
        title = escape(title)
    )
}

/// `/metadata`: the index of every operation.
pub fn index_page() -> String {
    let mut rows = String::new();
    for op in operations() {
        let Some(operation) = op.operation() else {
            continue;
        };
        let routes: Vec<String> = operation
            .routes
            .iter()
            .map(|r| format!("{} {}", r.verbs.join(","), r.path))
            .collect();
        let formats: Vec<String> = ["json", "xml", "csv", "jsv"]
            .iter()
            .map(|f| {
                format!(
                    "<a href=\"/{f}/metadata?op={name}\">{}</a>",
                    f.to_uppercase(),
                    name = op.name
                )
            })
            .collect();
        rows.push_str(&format!(
            "<tr><td><a href=\"/json/metadata?op={name}\">{name}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&routes.join("; ")),
            escape(op.description.unwrap_or("")),
            formats.join(" "),
            name = op.name
        ));
    }
    page(
        SERVICE_NAME,
        &format!(
            "<h1>{SERVICE_NAME}</h1><p>The following operations are supported. Typed DTOs: \
<a href=\"/types/typescript\">TypeScript</a>, <a href=\"/types/python\">Python</a>, <a href=\"/types/fsharp\">F#</a>; \
<a href=\"/openapi.json\">OpenAPI</a>.</p><table><tr><th>Operation</th><th>Routes</th><th>Description</th><th>Formats</th></tr>{rows}</table>"
        ),
    )
}

/// The language a page is asked in, if pages are offered in it.
fn language(lang: &str) -> Option<Language> {
    Language::from_name(lang).filter(|l| l.has_metadata_page())
}

/// The DTOs of one operation as its page shows them (no routes or return
/// markers, as on Evo Voice's pages).
pub fn operation_dtos(op: &'static TypeInfo, lang: &str) -> Option<String> {
    let index = operations().iter().position(|o| std::ptr::eq(*o, op))?;
    let types = types_for_operations(&[evo_core::api::OPERATIONS[index]]);
    let options = Options {
        add_routes_and_markers: false,
        ..Options::default()
    };
    let language = language(lang)?;
    Some(match (language, crate::lang::others::Lang::of(language)) {
        (_, Some(other)) => crate::lang::others::generate(other, &types, &options, false),
        (Language::FSharp, _) => fsharp::generate(&types, &options),
        (Language::Python, _) => python::generate(&types, &options),
        _ => typescript::generate(&types, &options),
    })
}

/// `/{format}/metadata?op=…&lang=…`: one operation's page, or `None` when
/// the operation, format or language is unknown.
pub fn operation_page(format_name: &str, op_name: &str, lang: &str, host: &str) -> Option<String> {
    let op = operations()
        .into_iter()
        .find(|o| o.name.eq_ignore_ascii_case(op_name))?;
    let operation = op.operation()?;
    let format = Format::from_name(format_name).filter(|f| !matches!(f, Format::Html))?;
    let lang_title = language(lang)?.title();
    let dtos = operation_dtos(op, lang)?;
    let mut body = format!("<h1>{SERVICE_NAME}</h1><p><a href=\"/metadata\">&lt;back to all web services</a></p><h2>{}</h2>", op.name);
    if let Some(description) = op.description {
        body.push_str(&format!("<p>{}</p>", escape(description)));
    }
    if operation.requires_auth {
        body.push_str("<p>Requires Authentication</p>");
    }
    match operation.required_roles {
        [] => {}
        [role] => body.push_str(&format!("<p>Required role:{}</p>", escape(role))),
        roles => body.push_str(&format!(
            "<p>Required roles:{}</p>",
            escape(&roles.join(", "))
        )),
    }
    body.push_str("<p>The following routes are available for this service:</p><table>");
    for route in operation.routes {
        body.push_str(&format!(
            "<tr><th>{}</th><td>{}</td></tr>",
            route.verbs.join(","),
            escape(route.path)
        ));
    }
    body.push_str("</table>");
    let other_langs: Vec<String> = Language::ALL
        .into_iter()
        .filter(|l| l.has_metadata_page())
        .map(|l| {
            format!(
                "<a href=\"?op={}&lang={}\">{}</a>",
                op.name,
                l.name(),
                l.title()
            )
        })
        .collect();
    body.push_str(&format!("<p>{}</p>", other_langs.join(" | ")));
    body.push_str(&format!(
        "<pre>{}</pre><p>{lang_title} {} DTOs</p>",
        escape(&dtos),
        op.name
    ));
    let ext = format.extension();
    body.push_str(&format!(
        "<p>To override the Content-type in your clients, use the HTTP Accept Header, append the .{ext} suffix or ?format={ext}</p>"
    ));
    let (content_type, sample) = sample_response(op, &format);
    let route = operation.routes.first().map_or("/api", |r| r.path);
    let verb = operation.default_verb();
    let mut request = format!("{verb} {route} HTTP/1.1 \nHost: {host} \nAccept: {content_type}");
    if verb != "GET" {
        let (_, request_sample) = sample_of(op, &format);
        request.push_str(&format!(
            "\nContent-Type: {content_type}\nContent-Length: length\n\n{request_sample}"
        ));
    }
    body.push_str(&format!(
        "<h3>HTTP + {}</h3><p>The following are sample HTTP requests and responses. The placeholders shown need to be replaced with actual values.</p>\
<pre>{}</pre><pre>HTTP/1.1 200 OK\nContent-Type: {content_type}\nContent-Length: length\n\n{}</pre>",
        ext.to_uppercase(),
        escape(&request),
        escape(&sample)
    ));
    Some(page(&format!("{} | {SERVICE_NAME}", op.name), &body))
}

fn sample_response(op: &'static TypeInfo, format: &Format) -> (&'static str, String) {
    match op.operation().and_then(|o| o.response) {
        Some(response) => sample_of(response(), format),
        None => (media(format), String::new()),
    }
}

fn media(format: &Format) -> &'static str {
    format
        .content_type()
        .split(';')
        .next()
        .unwrap_or("application/json")
}

/// A placeholder instance of `ty` in `format` (XML indented without the
/// declaration, as the pages show it).
pub fn sample_of(ty: &'static TypeInfo, format: &Format) -> (&'static str, String) {
    let value = placeholder(ty);
    let text = match format {
        Format::Xml => evo_wire::xml::value_to_xml(&value, ty, true),
        other => {
            String::from_utf8_lossy(&evo_wire::render_value(other, &value, ty.name)).into_owned()
        }
    };
    (media(format), text)
}
