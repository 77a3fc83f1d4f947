//! `/types/{lang}`: the typed DTOs of the whole API (or of the types the
//! `IncludeTypes`/`ExcludeTypes` options select) in one language, with the
//! options header block ServiceStack's "Add ServiceStack Reference" tools
//! read (`Options:`, `BaseUrl:`, and `//Key: value` lines, uncommented for
//! the options given in the query string).

use evo_core::contract::{all_types, operations, types_for_operations, TypeInfo, TypeRef};

use crate::lang::{fsharp, python, typescript, Language, Options};

/// The languages served, as `/types/{lang}` names them (derived from
/// [`Language::ALL`]).
pub const LANGUAGES: &[&str] = &crate::lang::NAMES;

/// The DTO options a client can set, in header order.
const OPTION_KEYS: &[&str] = &[
    "GlobalNamespace",
    "AddServiceStackTypes",
    "IncludeTypes",
    "ExcludeTypes",
];

/// Why `/types/{lang}` cannot answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TypesError {
    /// Not one of [`LANGUAGES`].
    #[error("Unknown language '{0}'; available: {available}", available = LANGUAGES.join(", "))]
    UnknownLanguage(String),
    /// An option value with characters no type name or glob has; it would
    /// otherwise be echoed into the generated source (issue 16).
    #[error("{0} may only contain letters, digits, spaces and _ . * , [ ] {{ }} < >")]
    InvalidOption(String),
}

/// The options of ServiceStack's `NativeTypesBase` request DTO
/// (ServiceStack/src/ServiceStack/NativeTypes/NativeTypesService.cs:120-160);
/// their values are checked before anything is generated.
const NATIVE_TYPES_OPTIONS: &[&str] = &[
    "BaseUrl",
    "MakePartial",
    "MakeVirtual",
    "MakeInternal",
    "AddReturnMarker",
    "AddDescriptionAsComments",
    "AddDocAnnotations",
    "AddDataContractAttributes",
    "MakeDataContractsExtensible",
    "AddIndexesToDataMembers",
    "AddGeneratedCodeAttributes",
    "InitializeCollections",
    "AddImplicitVersion",
    "AddResponseStatus",
    "AddServiceStackTypes",
    "AddModelExtensions",
    "AddPropertyAccessors",
    "ExcludeGenericBaseTypes",
    "SettersReturnThis",
    "AddNullableAnnotations",
    "MakePropertiesOptional",
    "ExportAsTypes",
    "ExportValueTypes",
    "ExcludeNamespace",
    "AddDefaultXmlNamespace",
    "GlobalNamespace",
    "BaseClass",
    "Package",
    "DataClass",
    "DataClassJson",
    "AddNamespaces",
    "DefaultNamespaces",
    "DefaultImports",
    "IncludeTypes",
    "ExcludeTypes",
    "ExportTags",
    "TreatTypesAsStrings",
];

/// Whether an option value is made only of identifier and glob characters.
fn is_safe_option_value(value: &str) -> bool {
    value.chars().all(|c| {
        c.is_ascii_alphanumeric()
            || matches!(
                c,
                '_' | '.' | '*' | ',' | ' ' | '[' | ']' | '{' | '}' | '<' | '>'
            )
    })
}

/// Whether the base URL echoed into the header is a plain URL (it comes
/// from the Host header when `EVO_PUBLIC_URL` is unset).
fn is_safe_base_url(url: &str) -> bool {
    url.chars().all(|c| {
        c.is_ascii_alphanumeric() || matches!(c, ':' | '/' | '.' | '-' | '_' | '[' | ']' | '%')
    })
}

/// The `Content-Type` ServiceStack serves a language with: JavaScript for
/// the `js`/`mjs` modules (`[AddHeader(ContentType = MimeTypes.JavaScript)]`,
/// NativeTypesService.cs:296-340; `MimeTypes.JavaScript = "text/javascript"`,
/// ServiceStack.Text/MimeTypes.cs:26), plain text for every other language
/// (`MimeTypes.PlainText`, NativeTypesService.cs:220 and the other handlers).
pub fn content_type(lang: &str) -> &'static str {
    match lang {
        "mjs" => "text/javascript; charset=utf-8",
        _ => "text/plain; charset=utf-8",
    }
}

/// The names the Java and Kotlin clients declare themselves
/// (`IgnoreTypeNames`, JavaGenerator.cs:331 and KotlinGenerator.cs:326).
const JAVA_CLIENT_TYPES: &[&str] = &["ResponseStatus", "ResponseError", "ErrorResponse"];

/// The names the Swift client declares (`IgnoreTypeNames`,
/// SwiftGenerator.cs:76-89, as far as we have such types).
const SWIFT_CLIENT_TYPES: &[&str] = &[
    "EmptyResponse",
    "ResponseStatus",
    "ResponseError",
    "ErrorResponse",
];

/// The DTOs the Dart and Python client libraries declare: ServiceStack's
/// `BuiltInClientDtos` (NativeTypesService.cs:586-640), removed for Dart
/// (NativeTypesService.cs:538-548) and Python (the `TypesPython` handler,
/// NativeTypesService.cs:372-395) because `DartGenerator`/`PythonGenerator`
/// list them in `IgnoreTypeInfosFor` (DartGenerator.cs:173,
/// PythonGenerator.cs:164). `ErrorResponse` is in neither list.
const LIBRARY_CLIENT_DTOS: &[&str] = &[
    "ResponseStatus",
    "ResponseError",
    "EmptyResponse",
    "IdResponse",
    "Authenticate",
    "AuthenticateResponse",
    "Register",
    "RegisterResponse",
    "AssignRoles",
    "AssignRolesResponse",
    "UnAssignRoles",
    "UnAssignRolesResponse",
    "ConvertSessionToToken",
    "ConvertSessionToTokenResponse",
    "GetAccessToken",
    "GetAccessTokenResponse",
];

/// Whether `ty` is left to the client library of `lang`, as ServiceStack's
/// `/types/{lang}` leaves it.
fn left_to_client_library(lang: &str, ty: &TypeInfo, add_servicestack_types: Option<bool>) -> bool {
    match lang {
        // C#, F# and VB.NET include the ServiceStack namespace only when
        // `?AddServiceStackTypes=true` is given (NativeTypesService.cs:227,
        // 242, 257); otherwise `IgnoreTypesInNamespaces` keeps them out.
        "csharp" | "fsharp" | "vbnet" => {
            add_servicestack_types != Some(true) && ty.namespace.starts_with("ServiceStack")
        }
        "java" | "kotlin" => JAVA_CLIENT_TYPES.contains(&ty.name),
        "swift" => SWIFT_CLIENT_TYPES.contains(&ty.name),
        "dart" | "python" => LIBRARY_CLIENT_DTOS.contains(&ty.name),
        _ => false,
    }
}

/// Builds the source for `lang`. `query` holds the request's query pairs;
/// `now` is the header's date.
pub fn document(
    lang: &str,
    base_url: &str,
    query: &[(String, String)],
    now: &str,
) -> Result<String, TypesError> {
    let Some(language) = Language::from_name(lang) else {
        return Err(TypesError::UnknownLanguage(lang.to_string()));
    };
    for (key, value) in query {
        if let Some(name) = NATIVE_TYPES_OPTIONS
            .iter()
            .find(|name| name.eq_ignore_ascii_case(key))
        {
            if !is_safe_option_value(value) {
                return Err(TypesError::InvalidOption((*name).to_string()));
            }
        }
    }
    if !is_safe_base_url(base_url) {
        return Err(TypesError::InvalidOption("BaseUrl".to_string()));
    }
    let option = |key: &str| {
        query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    };
    let add_servicestack_types =
        option("AddServiceStackTypes").map(|v| v.eq_ignore_ascii_case("true"));
    let mut types = select_types(option("IncludeTypes"), option("ExcludeTypes"));
    types.retain(|ty| !left_to_client_library(lang, ty, add_servicestack_types));
    let mut options = Options::default();
    if let Some(namespace) = option("GlobalNamespace").filter(|n| !n.is_empty()) {
        options.global_namespace = namespace.to_string();
    }
    let header = options_header(lang, base_url, now, &options, &option);
    let nullable = option("AddNullableAnnotations").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let body = match (language, crate::lang::others::Lang::of(language)) {
        (_, Some(other)) => crate::lang::others::generate(other, &types, &options, nullable),
        (Language::Python, _) => python::generate(&types, &options),
        (Language::FSharp, _) => fsharp::generate(&types, &options),
        (Language::Mjs, _) => typescript::generate_mjs(&types, &options),
        _ => typescript::generate(&types, &options),
    };
    Ok(header + &body)
}

/// The options block "Add ServiceStack Reference" tools read back when
/// updating: defaulted options commented out, given ones not.
fn options_header<'q>(
    lang: &str,
    base_url: &str,
    now: &str,
    options: &Options,
    option: &dyn Fn(&str) -> Option<&'q str>,
) -> String {
    let default = |key: &str| match key {
        "GlobalNamespace" => options.global_namespace.clone(),
        "AddServiceStackTypes" => "True".to_string(),
        _ => String::new(),
    };
    if lang == "vbnet" {
        // VbNetGenerator.cs:247-276: every line is a `'` comment, a lone `'`
        // ends the preamble, defaulted options carry `'''` and given ones
        // `'`, and a blank line (no closing marker) ends the block. The tip
        // names `''` (VbNetGenerator.cs:257).
        let mut header = format!(
            "' Options:\n'Date: {now}\n'Version: 8.0\n'Tip: To override a DTO option, remove \"''\" prefix before updating\n'BaseUrl: {base_url}\n'\n"
        );
        for key in OPTION_KEYS {
            match option(key) {
                Some(value) => header.push_str(&format!("'{key}: {value}\n")),
                None => header.push_str(&format!("'''{key}: {}\n", default(key))),
            }
        }
        header.push('\n');
        return header;
    }
    let (open, close, comment) = match lang {
        "python" => ("\"\"\" Options:", "\"\"\"", "#"),
        "fsharp" => ("(* Options:", "*)", "//"),
        _ => ("/* Options:", "*/", "//"),
    };
    let mut header = format!(
        "{open}\nDate: {now}\nVersion: 8.0\nTip: To override a DTO option, remove \"{comment}\" prefix before updating\nBaseUrl: {base_url}\n\n"
    );
    for key in OPTION_KEYS {
        match option(key) {
            Some(value) => header.push_str(&format!("{key}: {value}\n")),
            None => header.push_str(&format!("{comment}{key}: {}\n", default(key))),
        }
    }
    header.push_str(close);
    header.push_str("\n\n");
    header
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
