//! OpenAPI 3.0 for the whole API, derived from the registry: every custom
//! route of every operation, request fields as path/query parameters (GET)
//! or a JSON body, the response schema, ServiceStack's error body for every
//! error status, and the security schemes (bearer JWT, API key, Basic).

use evo_core::contract::{all_types, operations, FieldType, TypeInfo, TypeKind};
use serde_json::{json, Map, Value};

fn schema_ref(ty: &TypeInfo) -> Value {
    json!({ "$ref": format!("#/components/schemas/{}", ty.name) })
}

fn field_schema(field_type: &FieldType) -> Value {
    match field_type {
        FieldType::String => json!({ "type": "string" }),
        FieldType::Bool => json!({ "type": "boolean" }),
        FieldType::Int32 => json!({ "type": "integer", "format": "int32" }),
        FieldType::Int64 => json!({ "type": "integer", "format": "int64" }),
        FieldType::Double => json!({ "type": "number", "format": "double" }),
        FieldType::Nullable(inner) => field_schema(inner),
        FieldType::Enum(r) | FieldType::Class(r) => schema_ref(r()),
        FieldType::List(inner) => json!({ "type": "array", "items": field_schema(inner) }),
        FieldType::StringMap => {
            json!({ "type": "object", "additionalProperties": { "type": "string" } })
        }
    }
}

fn type_schema(ty: &TypeInfo) -> Value {
    match &ty.kind {
        TypeKind::Enum(info) => {
            let names: Vec<&str> = info.members.iter().map(|(name, _)| *name).collect();
            let mut schema = json!({ "type": "string", "enum": names });
            if let Some(description) = ty.description {
                schema["description"] = json!(description);
            }
            schema
        }
        TypeKind::Class(_) => {
            let mut properties = Map::new();
            for field in ty.json_fields() {
                let mut schema = field_schema(field.ty);
                if let Some(description) = field.description {
                    schema = match schema.get("$ref") {
                        // A $ref cannot carry siblings in OpenAPI 3.0.
                        Some(_) => json!({ "allOf": [schema], "description": description }),
                        None => {
                            let mut schema = schema;
                            schema["description"] = json!(description);
                            schema
                        }
                    };
                }
                properties.insert(field.json_name.to_string(), schema);
            }
            let mut schema = json!({ "type": "object", "properties": properties });
            if let Some(description) = ty.description {
                schema["description"] = json!(description);
            }
            schema
        }
    }
}

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ErrorResponse" } } }
    })
}

/// The OpenAPI document.
pub fn document(server_url: &str) -> Value {
    let mut paths = Map::new();
    for op in operations() {
        let Some(operation) = op.operation() else {
            continue;
        };
        for (route_index, route) in operation.routes.iter().enumerate() {
            let template = route.path;
            let path_params: Vec<&str> = template
                .split('/')
                .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                .collect();
            let verbs: Vec<&str> = if route.verbs.is_empty() {
                vec!["GET", "POST"]
            } else {
                route.verbs.to_vec()
            };
            for verb in verbs {
                let mut parameters: Vec<Value> = path_params
                    .iter()
                    .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
                    .collect();
                let has_body = verb != "GET" && verb != "DELETE";
                if !has_body {
                    for field in op.json_fields() {
                        if path_params
                            .iter()
                            .any(|p| p.eq_ignore_ascii_case(field.json_name))
                        {
                            continue;
                        }
                        if let FieldType::Class(_)
                        | FieldType::List(FieldType::Class(_))
                        | FieldType::StringMap = field.ty
                        {
                            continue;
                        }
                        let mut parameter = json!({ "name": field.json_name, "in": "query", "required": false, "schema": field_schema(field.ty) });
                        if let Some(description) = field.description {
                            parameter["description"] = json!(description);
                        }
                        parameters.push(parameter);
                    }
                }
                let mut responses = Map::new();
                // A void operation (IReturnVoid) answers 204 with no body, and
                // ServiceStack documents it so: OpenApiService.cs (GetMethodResponseCodes,
                // "schema is null when return type is IReturnVoid") picks 204 when
                // HostConfig.Return204NoContentForEmptyResponse, true by default.
                match operation.response {
                    Some(response) => responses.insert(
                        "200".into(),
                        json!({
                            "description": "Success",
                            "content": { "application/json": { "schema": schema_ref(response()) } }
                        }),
                    ),
                    None => responses.insert("204".into(), json!({ "description": "Success" })),
                };
                responses.insert(
                    "400".into(),
                    error_response("The request could not be read or is invalid"),
                );
                responses.insert(
                    "401".into(),
                    error_response("Not authenticated, or the credentials are invalid"),
                );
                if operation.requires_auth {
                    responses.insert(
                        "403".into(),
                        error_response("The user lacks a required role"),
                    );
                }
                responses.insert("404".into(), error_response("Not found"));
                responses.insert("405".into(), error_response("The verb is not allowed"));
                // A change to one session (the agent actions: every verb but
                // GET on /sessions/{sessionId}…) acts on a live call through
                // Twilio: refused once the session has ended, and a Twilio
                // failure is passed on (`From<ActionError> for ApiError`).
                if verb != "GET" && template.starts_with("/sessions/{sessionId}") {
                    responses.insert(
                        "409".into(),
                        error_response(
                            "The session has ended, or its account has no Twilio account",
                        ),
                    );
                    responses.insert(
                        "502".into(),
                        error_response("Twilio refused or did not answer the request"),
                    );
                }
                let suffix = if operation.routes.len() > 1 {
                    format!("_{route_index}")
                } else {
                    String::new()
                };
                let mut entry = json!({
                    "operationId": format!("{}{}_{}", op.name, suffix, verb.to_ascii_lowercase()),
                    "tags": operation.tags,
                    "parameters": parameters,
                    "responses": responses,
                });
                if let Some(description) = op.description {
                    entry["summary"] = json!(description);
                }
                if has_body {
                    entry["requestBody"] = json!({
                        "required": false,
                        "content": { "application/json": { "schema": schema_ref(op) } }
                    });
                }
                if operation.requires_auth {
                    entry["security"] =
                        json!([{ "bearerAuth": [] }, { "apiKey": [] }, { "basicAuth": [] }]);
                    if !operation.required_roles.is_empty() {
                        entry["description"] = json!(format!(
                            "Requires the role(s): {}",
                            operation.required_roles.join(", ")
                        ));
                    }
                }
                let path_entry = paths
                    .entry(template.to_string())
                    .or_insert_with(|| json!({}));
                path_entry[verb.to_ascii_lowercase()] = entry;
            }
        }
    }
    let mut schemas = Map::new();
    // Every served type, plus ServiceStack's error body (used by every
    // error response).
    let mut types = all_types();
    for ty in [
        <evo_core::api::auth::ErrorResponse as evo_core::contract::Contract>::type_info(),
        <evo_core::api::auth::ResponseStatus as evo_core::contract::Contract>::type_info(),
        <evo_core::api::auth::ResponseError as evo_core::contract::Contract>::type_info(),
    ] {
        if !types.iter().any(|t| std::ptr::eq(*t, ty)) {
            types.push(ty);
        }
    }
    for ty in types {
        schemas.insert(ty.name.to_string(), type_schema(ty));
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Evo Voice",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The Evo Voice call-session API (ServiceStack wire format)."
        },
        "servers": [{ "url": server_url }],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerAuth": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" },
                "apiKey": { "type": "apiKey", "in": "header", "name": "X-Api-Key" },
                "basicAuth": { "type": "http", "scheme": "basic" }
            }
        }
    })
}
