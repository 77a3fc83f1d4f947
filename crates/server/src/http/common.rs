//! Small helpers shared by the HTTP routes.

use axum::http::{header, HeaderMap};

use crate::app::state::AppState;

/// The decoded pairs of a raw query string.
pub(crate) fn query_pairs(query: Option<String>) -> Vec<(String, String)> {
    query
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

/// The public base URL: configured, else from the Host header.
pub(crate) fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    state.config.public_url.clone().unwrap_or_else(|| {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        format!("http://{host}")
    })
}
