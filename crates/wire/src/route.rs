//! A request's URL from its DTO and the routes its operation declares, as
//! ServiceStack's clients build it (C# `IReturn.ToUrl(httpMethod)`,
//! `@servicestack/client`'s `createUrl`): of the routes allowing the verb
//! whose `{variables}` all have values, the one with the most variables
//! (the first on a tie), each variable filled from the field
//! of that name (matched case-insensitively, percent-encoded); for verbs
//! without a body (GET, DELETE, HEAD, OPTIONS) the other non-null fields
//! follow as the query string, under their JSON names.

use evo_core::contract::{Contract, Object, Value};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::WireError;

/// What stays literal in a path segment or query value (RFC 3986
/// unreserved characters).
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The path and query of `dto` sent with `verb`.
pub fn url_of<T: Contract>(dto: &T, verb: &str) -> Result<String, WireError> {
    let ty = T::type_info();
    let Value::Object(object) = dto.to_value() else {
        return Err(route_error(ty.name, "is not a class DTO"));
    };
    let operation = ty
        .operation()
        .ok_or_else(|| route_error(ty.name, "is not an operation"))?;
    let routes = operation.routes.iter().filter(|route| {
        route.verbs.is_empty() || route.verbs.iter().any(|v| v.eq_ignore_ascii_case(verb))
    });
    let mut best: Option<(String, Vec<String>)> = None;
    for route in routes {
        let mut used = Vec::new();
        let mut path = String::new();
        let mut complete = true;
        for segment in route.path.trim_matches('/').split('/') {
            path.push('/');
            match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(variable) => match field(&object, variable).and_then(scalar) {
                    Some(text) => {
                        path.extend(utf8_percent_encode(&text, UNRESERVED));
                        used.push(variable.to_ascii_lowercase());
                    }
                    None => {
                        complete = false;
                        break;
                    }
                },
                None => path.push_str(segment),
            }
        }
        if complete
            && best
                .as_ref()
                .is_none_or(|(_, most)| used.len() > most.len())
        {
            best = Some((path, used));
        }
    }
    let Some((mut path, used)) = best else {
        return Err(route_error(
            ty.name,
            &format!("has no {verb} route whose variables all have values"),
        ));
    };
    if !has_body(verb) {
        let mut separator = '?';
        for (info, value) in object.json_entries() {
            if used.contains(&info.name.to_ascii_lowercase()) || *value == Value::Null {
                continue;
            }
            let text = scalar(value).ok_or_else(|| WireError::Field {
                field: info.name.to_string(),
                message: "only a scalar value can be put in a query string".to_string(),
            })?;
            path.push(separator);
            path.push_str(info.json_name);
            path.push('=');
            path.extend(utf8_percent_encode(&text, UNRESERVED));
            separator = '&';
        }
    }
    Ok(path)
}

/// The one verb `T`'s routes declare, as a typed ServiceStack client's
/// `send(dto)` takes it from the DTO's `IPost`/`IPut`/… marker. An error
/// when its routes allow any verb or several.
pub fn verb_of<T: Contract>() -> Result<&'static str, WireError> {
    let ty = T::type_info();
    let operation = ty
        .operation()
        .ok_or_else(|| route_error(ty.name, "is not an operation"))?;
    let mut verbs = operation.routes.iter().map(|route| route.verbs);
    let first = match verbs.next() {
        Some([verb]) => *verb,
        _ => return Err(route_error(ty.name, "does not declare exactly one verb")),
    };
    if verbs.all(|other| matches!(other, [verb] if verb.eq_ignore_ascii_case(first))) {
        Ok(first)
    } else {
        Err(route_error(ty.name, "declares several verbs"))
    }
}

fn route_error(type_name: &str, message: &str) -> WireError {
    WireError::Field {
        field: String::new(),
        message: format!("{type_name} {message}"),
    }
}

/// ServiceStack's `HttpUtils.HasRequestBody`.
fn has_body(verb: &str) -> bool {
    !["GET", "DELETE", "HEAD", "OPTIONS"]
        .iter()
        .any(|v| v.eq_ignore_ascii_case(verb))
}

fn field<'a>(object: &'a Object, name: &str) -> Option<&'a Value> {
    object
        .json_entries()
        .into_iter()
        .find(|(info, _)| info.name.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)
}

/// A value's text in a URL; `None` for null and for what has no one text.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::Str(text) => Some(text.clone()),
        Value::Int(n) => Some(n.to_string()),
        Value::Double(d) => Some(d.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Enum(name) => Some((*name).to_string()),
        Value::Null | Value::List(_) | Value::Map(_) | Value::Object(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use evo_core::api::actions::{EndSession, HoldSession};
    use evo_core::api::auth::Authenticate;
    use evo_core::api::history::GetSession;

    use super::*;

    #[test]
    fn variables_come_from_fields_and_bodiless_verbs_carry_the_rest_as_query() {
        let hold = HoldSession {
            session_id: Some("ses-acc 1".into()),
            call_sid: Some("CA1".into()),
            ..HoldSession::default()
        };
        assert_eq!(url_of(&hold, "POST").unwrap(), "/sessions/ses-acc%201/hold");
        let end = EndSession {
            session_id: Some("ses-acc-CA1".into()),
            call_sid: Some("CA2".into()),
        };
        assert_eq!(
            url_of(&end, "DELETE").unwrap(),
            "/sessions/ses-acc-CA1?callSid=CA2"
        );
        let get = GetSession {
            session_id: Some("ses-acc-CA1".into()),
        };
        assert_eq!(url_of(&get, "GET").unwrap(), "/sessions/ses-acc-CA1");
    }

    #[test]
    fn the_route_with_the_most_filled_variables_wins() {
        let mut sign_in = Authenticate::default();
        assert_eq!(url_of(&sign_in, "POST").unwrap(), "/auth");
        sign_in.provider = Some("credentials".into());
        assert_eq!(url_of(&sign_in, "POST").unwrap(), "/auth/credentials");
    }

    #[test]
    fn the_verb_is_the_one_the_routes_declare() {
        assert_eq!(verb_of::<HoldSession>().unwrap(), "POST");
        assert_eq!(verb_of::<EndSession>().unwrap(), "DELETE");
        assert_eq!(verb_of::<GetSession>().unwrap(), "GET");
    }

    #[test]
    fn a_missing_variable_or_verb_is_an_error() {
        assert!(url_of(&HoldSession::default(), "POST").is_err());
        let hold = HoldSession {
            session_id: Some("ses-1".into()),
            ..HoldSession::default()
        };
        assert!(url_of(&hold, "GET").is_err());
    }
}
