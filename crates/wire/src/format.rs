//! Content negotiation exactly as ServiceStack orders it:
//! `?callback=` (JSONP) > `?format=` > a `/{format}/reply|oneway/` first
//! segment > a `.json`/`.xml`/`.csv`/`.jsv`/`.html` route suffix >
//! `Accept` (q-values honoured; `*/*` falls back to the request's content
//! type, then the default) > the default.
//!
//! Like ServiceStack, an unknown `?format=` or an `Accept` nothing matches is
//! not an error: negotiation goes on and ends at the default format
//! (HttpRequestExtensions.cs:599 returns no content type for an unknown
//! format, and :690 answers the default instead of 406).

/// A response format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
    Csv,
    Jsv,
    Html,
    /// JSON wrapped in a call to this JavaScript function.
    Jsonp(String),
}

/// Why negotiation failed: only a JSONP callback that is not a function
/// name, which would otherwise be echoed into a script.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnknownFormat {
    #[error("the JSONP callback '{0}' is not a JavaScript function name")]
    Callback(String),
}

/// The outcome of negotiation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated<'a> {
    pub format: Format,
    /// The request path with a format suffix removed (borrowed from the
    /// path: negotiating allocates nothing for the usual request).
    pub path_without_extension: &'a str,
}

impl Format {
    /// The format a name (`json`, `xml`, …) selects.
    pub fn from_name(name: &str) -> Option<Format> {
        match name.to_ascii_lowercase().as_str() {
            "json" => Some(Format::Json),
            "xml" => Some(Format::Xml),
            "csv" => Some(Format::Csv),
            "jsv" => Some(Format::Jsv),
            "html" => Some(Format::Html),
            _ => None,
        }
    }

    /// The format a MIME type selects.
    pub fn from_mime(mime: &str) -> Option<Format> {
        match mime.trim().to_ascii_lowercase().as_str() {
            "application/json" | "text/json" => Some(Format::Json),
            "application/xml" | "text/xml" => Some(Format::Xml),
            "text/csv" => Some(Format::Csv),
            "application/jsv" | "text/jsv" => Some(Format::Jsv),
            "text/html" | "application/xhtml+xml" => Some(Format::Html),
            _ => None,
        }
    }

    /// The `Content-Type` of a response in this format (only JSON carries a
    /// charset, as ServiceStack sends it).
    pub fn content_type(&self) -> &'static str {
        match self {
            Format::Json => "application/json; charset=utf-8",
            Format::Xml => "application/xml",
            Format::Csv => "text/csv",
            Format::Jsv => "application/jsv",
            Format::Html => "text/html",
            Format::Jsonp(_) => "text/javascript",
        }
    }

    /// The route suffix of the format.
    pub fn extension(&self) -> &'static str {
        match self {
            Format::Json | Format::Jsonp(_) => "json",
            Format::Xml => "xml",
            Format::Csv => "csv",
            Format::Jsv => "jsv",
            Format::Html => "html",
        }
    }
}

fn is_callback_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$' || c == '.')
        && name.len() <= 128
}

/// Negotiates the response format of a request.
pub fn negotiate<'a>(
    path: &'a str,
    query_format: Option<&str>,
    callback: Option<&str>,
    accept: Option<&str>,
    request_content_type: Option<&str>,
    default: Format,
) -> Result<Negotiated<'a>, UnknownFormat> {
    let (path_without_extension, suffix) = split_extension(path);
    let negotiated = |format| Negotiated {
        format,
        path_without_extension,
    };
    if let Some(callback) = callback.filter(|c| !c.is_empty()) {
        if !is_callback_name(callback) {
            return Err(UnknownFormat::Callback(callback.to_string()));
        }
        return Ok(negotiated(Format::Jsonp(callback.to_string())));
    }
    if let Some(name) = query_format.filter(|f| !f.is_empty()) {
        // ServiceStack takes the part before a '.', e.g. `json.v2`
        // (HttpRequestExtensions.cs:596); an unknown name selects nothing.
        let name = name.split('.').next().unwrap_or(name);
        if let Some(format) = Format::from_name(name) {
            return Ok(negotiated(format));
        }
    }
    let mut segments = path.trim_start_matches('/').split('/');
    if let (Some(first), Some(kind)) = (segments.next(), segments.next()) {
        if kind.eq_ignore_ascii_case("reply") || kind.eq_ignore_ascii_case("oneway") {
            if let Some(format) = Format::from_name(first) {
                return Ok(negotiated(format));
            }
        }
    }
    if let Some(format) = suffix {
        return Ok(negotiated(format));
    }
    match accept.map(str::trim).filter(|a| !a.is_empty()) {
        None => Ok(negotiated(default)),
        Some(accept) => Ok(negotiated(
            from_accept(accept, request_content_type, &default).unwrap_or(default),
        )),
    }
}

/// Splits a known format suffix off the last path segment.
fn split_extension(path: &str) -> (&str, Option<Format>) {
    let last = path.rsplit('/').next().unwrap_or("");
    if let Some((stem, extension)) = last.rsplit_once('.') {
        if !stem.is_empty() {
            if let Some(format) = Format::from_name(extension) {
                let cut = path.len() - extension.len() - 1;
                return (&path[..cut], Some(format));
            }
        }
    }
    (path, None)
}

fn from_accept(
    accept: &str,
    request_content_type: Option<&str>,
    default: &Format,
) -> Option<Format> {
    let mut ranges: Vec<(f32, usize, String)> = accept
        .split(',')
        .enumerate()
        .filter_map(|(index, part)| {
            let mut pieces = part.split(';');
            let mime = pieces.next()?.trim().to_ascii_lowercase();
            let quality = pieces
                .filter_map(|p| p.trim().strip_prefix("q="))
                .filter_map(|q| q.trim().parse::<f32>().ok())
                .next()
                .unwrap_or(1.0);
            (quality > 0.0 && !mime.is_empty()).then_some((quality, index, mime))
        })
        .collect();
    // Highest quality first; ties keep the client's order.
    ranges.sort_by(|a, b| {
        b.0.partial_cmp(&a.0)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.1.cmp(&b.1))
    });
    let request_format = request_content_type
        .and_then(|ct| ct.split(';').next())
        .and_then(Format::from_mime);
    // A request content type the client also accepts wins (ServiceStack).
    if let Some(format) = &request_format {
        if ranges
            .iter()
            .any(|(_, _, mime)| Format::from_mime(mime).as_ref() == Some(format))
        {
            return Some(format.clone());
        }
    }
    for (_, _, mime) in &ranges {
        if let Some(format) = Format::from_mime(mime) {
            return Some(format);
        }
        if mime == "*/*" || mime == "application/*" || mime == "text/*" {
            return Some(request_format.clone().unwrap_or_else(|| default.clone()));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick<'a>(
        path: &'a str,
        format: Option<&str>,
        callback: Option<&str>,
        accept: Option<&str>,
    ) -> Result<Negotiated<'a>, UnknownFormat> {
        negotiate(path, format, callback, accept, None, Format::Json)
    }

    #[test]
    fn negotiation_follows_servicestack_precedence() {
        // (path, ?format, ?callback, Accept, expected format, path without suffix)
        type Case<'a> = (
            &'a str,
            Option<&'a str>,
            Option<&'a str>,
            Option<&'a str>,
            Format,
            &'a str,
        );
        let cases: &[Case] = &[
            (
                "/sessions/active",
                None,
                None,
                None,
                Format::Json,
                "/sessions/active",
            ),
            (
                "/sessions/active",
                None,
                None,
                Some("*/*"),
                Format::Json,
                "/sessions/active",
            ),
            (
                "/sessions/active",
                None,
                None,
                Some("application/xml"),
                Format::Xml,
                "/sessions/active",
            ),
            (
                "/sessions/active",
                None,
                None,
                Some("text/html,application/xhtml+xml,*/*;q=0.8"),
                Format::Html,
                "/sessions/active",
            ),
            (
                "/sessions/active",
                None,
                None,
                Some("application/xml;q=0.5, text/csv"),
                Format::Csv,
                "/sessions/active",
            ),
            (
                "/sessions/active.xml",
                None,
                None,
                Some("application/json"),
                Format::Xml,
                "/sessions/active",
            ),
            (
                "/sessions/active.csv",
                None,
                None,
                None,
                Format::Csv,
                "/sessions/active",
            ),
            (
                "/sessions/active.jsv",
                None,
                None,
                None,
                Format::Jsv,
                "/sessions/active",
            ),
            (
                "/sessions/active.xml",
                Some("json"),
                None,
                None,
                Format::Json,
                "/sessions/active",
            ),
            (
                "/xml/reply/GetActiveSessions",
                None,
                None,
                Some("application/json"),
                Format::Xml,
                "/xml/reply/GetActiveSessions",
            ),
            (
                "/xml/reply/GetActiveSessions",
                Some("csv"),
                None,
                None,
                Format::Csv,
                "/xml/reply/GetActiveSessions",
            ),
            (
                "/sessions/active",
                Some("xml"),
                Some("cb"),
                None,
                Format::Jsonp("cb".into()),
                "/sessions/active",
            ),
            (
                "/api/GetActiveSessions.csv",
                None,
                None,
                None,
                Format::Csv,
                "/api/GetActiveSessions",
            ),
        ];
        for (path, format, callback, accept, expected, stripped) in cases {
            let negotiated = pick(path, *format, *callback, *accept).unwrap();
            assert_eq!(
                &negotiated.format, expected,
                "{path} {format:?} {callback:?} {accept:?}"
            );
            assert_eq!(negotiated.path_without_extension, *stripped);
        }
    }

    #[test]
    fn unsafe_callbacks_are_errors() {
        assert!(matches!(
            pick("/x", None, Some("alert(1)"), None),
            Err(UnknownFormat::Callback(_))
        ));
    }

    #[test]
    fn unknown_formats_and_unmatched_accepts_fall_back_like_servicestack() {
        // HttpRequestExtensions.cs:599: an unknown ?format selects nothing,
        // so the rules after it decide.
        assert_eq!(
            pick("/x", Some("yaml"), None, None).unwrap().format,
            Format::Json
        );
        assert_eq!(
            pick("/x", Some("yaml"), None, Some("application/xml"))
                .unwrap()
                .format,
            Format::Xml
        );
        assert_eq!(
            pick("/x.csv", Some("yaml"), None, None).unwrap().format,
            Format::Csv
        );
        // HttpRequestExtensions.cs:690: no 406, the default format.
        assert_eq!(
            pick("/x", None, None, Some("image/png")).unwrap().format,
            Format::Json
        );
    }

    #[test]
    fn a_request_content_type_that_is_also_accepted_wins() {
        let negotiated = negotiate(
            "/x",
            None,
            None,
            Some("application/json, application/xml"),
            Some("application/xml"),
            Format::Json,
        )
        .unwrap();
        assert_eq!(negotiated.format, Format::Xml);
    }
}
