//! `/types/{lang}`: the typed DTOs of the whole API (or of the types the
//! `IncludeTypes`/`ExcludeTypes` options select) in one language, with the
//! options header block ServiceStack's "Add ServiceStack Reference" tools
//! read (`Options:`, `BaseUrl:`, and `//Key: value` lines, uncommented for
//! the options given in the query string).

use evo_core::contract::{all_types, operations, types_for_operations, TypeInfo, TypeRef};

use crate::lang::{fsharp, python, typescript, Options};

/// The languages served, as `/types/{lang}` names them.
pub const LANGUAGES: &[&str] = &[
    "csharp",
    "fsharp",
    "vbnet",
    "typescript",
    "mjs",
    "python",
    "kotlin",
    "java",
    "swift",
    "dart",
];

/// The DTO options a client can set, in header order.
const OPTION_KEYS: &[&str] = &[
    "GlobalNamespace",
    "AddServiceStackTypes",
    "IncludeTypes",
    "ExcludeTypes",
];

/// Builds the source for `lang`, or `None` for an unknown language.
/// `query` holds the request's query pairs; `now` is the header's date.
pub fn document(
    lang: &str,
    base_url: &str,
    query: &[(String, String)],
    now: &str,
) -> Option<String> {
    let option = |key: &str| {
        query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    };
    let types = select_types(option("IncludeTypes"), option("ExcludeTypes"));
    let mut options = Options::default();
    if let Some(namespace) = option("GlobalNamespace").filter(|n| !n.is_empty()) {
        options.global_namespace = namespace.to_string();
    }
    let (open, close, comment) = match lang {
        "python" => ("\"\"\" Options:", "\"\"\"", "#"),
        "fsharp" => ("(* Options:", "*)", "//"),
        "typescript" | "mjs" | "csharp" | "kotlin" | "java" | "swift" | "dart" => {
            ("/* Options:", "*/", "//")
        }
        "vbnet" => ("' Options:", "'", "''"),
        _ => return None,
    };
    let mut header = format!(
        "{open}\nDate: {now}\nVersion: 8.0\nTip: To override a DTO option, remove \"{comment}\" prefix before updating\nBaseUrl: {base_url}\n\n"
    );
    for key in OPTION_KEYS {
        let default = match *key {
            "GlobalNamespace" => options.global_namespace.clone(),
            "AddServiceStackTypes" => "True".to_string(),
            "AddNullableAnnotations" => "False".to_string(),
            _ => String::new(),
        };
        match option(key) {
            Some(value) => header.push_str(&format!("{key}: {value}\n")),
            None => header.push_str(&format!("{comment}{key}: {default}\n")),
        }
    }
    header.push_str(close);
    header.push_str("\n\n");
    if lang == "vbnet" {
        // Every header line is a VB comment.
        header = header
            .lines()
            .map(|line| {
                if line.starts_with('\'') || line.is_empty() {
                    line.to_string()
                } else {
                    format!("'{line}")
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
            + "\n\n";
    }
    let nullable = option("AddNullableAnnotations").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let body = match lang {
        other if crate::lang::others::Lang::from_name(other).is_some() => {
            crate::lang::others::generate(
                crate::lang::others::Lang::from_name(other)
                    .unwrap_or(crate::lang::others::Lang::CSharp),
                &types,
                &options,
                nullable,
            )
        }
        "python" => python::generate(&types, &options),
        "fsharp" => fsharp::generate(&types, &options),
        "mjs" => typescript::generate_mjs(&types, &options),
        _ => typescript::generate(&types, &options),
    };
    Some(header + &body)
}

/// Applies `IncludeTypes` (`Name` for a type, `Op.*` for an operation and
/// everything it references) and `ExcludeTypes` (names), comma-separated.
pub fn select_types(include: Option<&str>, exclude: Option<&str>) -> Vec<&'static TypeInfo> {
    let list = |text: Option<&str>| -> Vec<String> {
        text.unwrap_or("")
            .trim_matches(|c| c == '{' || c == '}' || c == '[' || c == ']')
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let include = list(include);
    let exclude = list(exclude);
    let mut types = if include.is_empty() {
        all_types()
    } else {
        let mut roots: Vec<TypeRef> = Vec::new();
        let mut names: Vec<String> = Vec::new();
        for item in &include {
            match item.strip_suffix(".*") {
                Some(op) => {
                    if let Some(index) = operations()
                        .iter()
                        .position(|o| o.name.eq_ignore_ascii_case(op))
                    {
                        roots.push(evo_core::api::OPERATIONS[index]);
                    }
                }
                None => names.push(item.clone()),
            }
        }
        let mut selected = types_for_operations(&roots);
        for ty in all_types() {
            if names.iter().any(|n| n.eq_ignore_ascii_case(ty.name))
                && !selected.iter().any(|s| std::ptr::eq(*s, ty))
            {
                selected.push(ty);
            }
        }
        selected
    };
    types.retain(|ty| !exclude.iter().any(|n| n.eq_ignore_ascii_case(ty.name)));
    types
}

/// `/types/metadata`: a JSON description of every type and operation, in
/// the shape of ServiceStack's `MetadataTypes` (`config`, `namespaces`,
/// `types`, `operations`).
pub fn metadata_json(base_url: &str) -> String {
    use evo_core::contract::TypeKind;
    let value_of = |text: &str| serde_json::Value::String(text.to_string());
    let types: Vec<serde_json::Value> = all_types()
        .into_iter()
        .map(|ty| {
            let mut entry = serde_json::json!({ "name": ty.name, "namespace": ty.namespace });
            if let Some(description) = ty.description {
                entry["description"] = value_of(description);
            }
            match &ty.kind {
                TypeKind::Enum(info) => {
                    entry["isEnum"] = serde_json::json!(true);
                    entry["enumNames"] =
                        serde_json::json!(info.members.iter().map(|(n, _)| *n).collect::<Vec<_>>());
                    entry["enumValues"] = serde_json::json!(info
                        .members
                        .iter()
                        .map(|(_, v)| v.to_string())
                        .collect::<Vec<_>>());
                }
                TypeKind::Class(_) => {
                    if let Some(base) = ty.base() {
                        entry["inherits"] =
                            serde_json::json!({ "name": base.name, "namespace": base.namespace });
                    }
                    let properties: Vec<serde_json::Value> = ty
                        .fields()
                        .iter()
                        .map(|f| {
                            let mut property = serde_json::json!({
                                "name": f.name,
                                "type": crate::lang::fsharp::type_name(f.ty),
                                "isValueType": !f.ty.is_nullable(),
                            });
                            if let Some(description) = f.description {
                                property["description"] = value_of(description);
                            }
                            property
                        })
                        .collect();
                    entry["properties"] = serde_json::json!(properties);
                }
            }
            entry
        })
        .collect();
    let operations: Vec<serde_json::Value> = operations()
        .into_iter()
        .filter_map(|op| {
            let operation = op.operation()?;
            Some(serde_json::json!({
                "request": { "name": op.name, "namespace": op.namespace },
                "response": operation.response.map(|r| serde_json::json!({ "name": r().name, "namespace": r().namespace })),
                "method": operation.default_verb(),
                "actions": operation.routes.iter().flat_map(|r| r.verbs.iter().copied()).collect::<Vec<_>>(),
                "routes": operation.routes.iter().map(|r| serde_json::json!({ "path": r.path, "verbs": r.verbs.join(",") })).collect::<Vec<_>>(),
                "requiresAuth": operation.requires_auth,
                "requiredRoles": operation.required_roles,
                "tags": operation.tags,
            }))
        })
        .collect();
    let mut namespaces: Vec<&str> = all_types().iter().map(|t| t.namespace).collect();
    namespaces.sort_unstable();
    namespaces.dedup();
    serde_json::json!({
        "config": { "baseUrl": base_url },
        "namespaces": namespaces,
        "types": types,
        "operations": operations,
    })
    .to_string()
}
