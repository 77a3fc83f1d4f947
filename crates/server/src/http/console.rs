//! The agent console: a static page, its script and style, and the vendored
//! `@servicestack/client` ES module, all compiled into the binary.
//!
//! The page imports the server's own DTOs from `/types/mjs` and the client
//! library through an import map (`@servicestack/client` → the vendored
//! file). The import map is the page's only inline script; the
//! Content-Security-Policy allows it by its SHA-256 hash, computed here from
//! the page itself so the two cannot drift apart.

use std::sync::LazyLock;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::app::state::AppState;

/// The pinned `@servicestack/client` release the console ships with.
pub const SERVICESTACK_CLIENT_VERSION: &str = "2.1.13";

/// The folder the vendored client is served from; the version in the path
/// lets it be cached for good.
macro_rules! vendor_dir {
    () => {
        "/console/vendor/servicestack-client@2.1.13"
    };
}

/// Where the vendored client is served.
pub const SERVICESTACK_CLIENT_PATH: &str = concat!(vendor_dir!(), "/servicestack-client.mjs");
/// Its license, next to it.
pub const SERVICESTACK_CLIENT_LICENSE_PATH: &str = concat!(vendor_dir!(), "/LICENSE.txt");

const INDEX_HTML: &str = include_str!("../../assets/console/index.html");
const CONSOLE_JS: &str = include_str!("../../assets/console/console.js");
const CONSOLE_CSS: &str = include_str!("../../assets/console/console.css");
const CLIENT_MJS: &str =
    include_str!("../../assets/vendor/servicestack-client/servicestack-client.mjs");
const CLIENT_LICENSE: &str = include_str!("../../assets/vendor/servicestack-client/LICENSE.txt");

const IMPORT_MAP_OPEN: &str = "<script type=\"importmap\">";

/// Assets whose URL does not change with their content: revalidate with the
/// ETag every time.
const REVALIDATE: &str = "no-cache";
/// The vendored client, versioned by its URL.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// One file the console serves.
struct Asset {
    body: &'static str,
    content_type: &'static str,
    cache_control: &'static str,
    etag: String,
    html: bool,
}

impl Asset {
    fn new(
        body: &'static str,
        content_type: &'static str,
        cache_control: &'static str,
        html: bool,
    ) -> Self {
        let digest = Sha256::digest(body.as_bytes());
        let etag = format!(
            "\"{}\"",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
        );
        Asset {
            body,
            content_type,
            cache_control,
            etag,
            html,
        }
    }
}

static INDEX: LazyLock<Asset> =
    LazyLock::new(|| Asset::new(INDEX_HTML, "text/html; charset=utf-8", REVALIDATE, true));
static SCRIPT: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        CONSOLE_JS,
        "text/javascript; charset=utf-8",
        REVALIDATE,
        false,
    )
});
static STYLE: LazyLock<Asset> =
    LazyLock::new(|| Asset::new(CONSOLE_CSS, "text/css; charset=utf-8", REVALIDATE, false));
static CLIENT: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        CLIENT_MJS,
        "text/javascript; charset=utf-8",
        IMMUTABLE,
        false,
    )
});
static LICENSE: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        CLIENT_LICENSE,
        "text/plain; charset=utf-8",
        IMMUTABLE,
        false,
    )
});

/// The text of the page's import map (between its script tags).
pub fn import_map() -> &'static str {
    let start = INDEX_HTML
        .find(IMPORT_MAP_OPEN)
        .map(|at| at + IMPORT_MAP_OPEN.len())
        .expect("index.html has an import map");
    let length = INDEX_HTML[start..]
        .find("</script>")
        .expect("the import map is closed");
    &INDEX_HTML[start..start + length]
}

/// The page's Content-Security-Policy: scripts from this origin plus the
/// import map by hash; no inline code, no other origin, no framing.
pub fn content_security_policy() -> &'static str {
    static POLICY: LazyLock<String> = LazyLock::new(|| {
        let hash = base64::engine::general_purpose::STANDARD
            .encode(Sha256::digest(import_map().as_bytes()));
        format!(
            "default-src 'none'; script-src 'self' 'sha256-{hash}'; style-src 'self'; \
             img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
             frame-ancestors 'none'"
        )
    });
    &POLICY
}

/// The console's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|h: HeaderMap| async move { serve(&INDEX, &h) }))
        .route(
            "/console",
            get(|h: HeaderMap| async move { serve(&INDEX, &h) }),
        )
        .route(
            "/console/",
            get(|h: HeaderMap| async move { serve(&INDEX, &h) }),
        )
        .route(
            "/console/console.js",
            get(|h: HeaderMap| async move { serve(&SCRIPT, &h) }),
        )
        .route(
            "/console/console.css",
            get(|h: HeaderMap| async move { serve(&STYLE, &h) }),
        )
        .route(
            SERVICESTACK_CLIENT_PATH,
            get(|h: HeaderMap| async move { serve(&CLIENT, &h) }),
        )
        .route(
            SERVICESTACK_CLIENT_LICENSE_PATH,
            get(|h: HeaderMap| async move { serve(&LICENSE, &h) }),
        )
}

fn serve(asset: &Asset, request: &HeaderMap) -> Response {
    let not_modified = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| {
            tags.split(',')
                .any(|tag| tag.trim() == asset.etag || tag.trim() == "*")
        });
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        asset.body.into_response()
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(asset.cache_control),
    );
    if let Ok(etag) = HeaderValue::from_str(&asset.etag) {
        headers.insert(header::ETAG, etag);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if asset.html {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(content_security_policy()),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_import_map_is_the_only_inline_script_and_maps_the_vendored_client() {
        let map: serde_json::Value = serde_json::from_str(import_map()).expect("JSON");
        assert_eq!(
            map["imports"]["@servicestack/client"],
            SERVICESTACK_CLIENT_PATH
        );
        assert!(SERVICESTACK_CLIENT_PATH.contains(SERVICESTACK_CLIENT_VERSION));
        let scripts: Vec<&str> = INDEX_HTML.split("<script").skip(1).collect();
        assert_eq!(scripts.len(), 2, "the import map and console.js");
        for script in scripts {
            let tag = &script[..script.find('>').expect("closed tag")];
            let body = &script[script.find('>').unwrap() + 1..script.find("</script>").unwrap()];
            assert!(
                tag.contains("type=\"importmap\"") || (tag.contains("src=") && body.is_empty()),
                "an inline script other than the import map: <script{tag}>"
            );
        }
    }

    #[test]
    fn the_policy_hashes_exactly_the_import_map() {
        // CSP hashes cover the script element's text exactly, whitespace
        // included: https://www.w3.org/TR/CSP3/#match-element-to-source-list
        let expected = base64::engine::general_purpose::STANDARD
            .encode(Sha256::digest(import_map().as_bytes()));
        let policy = content_security_policy();
        assert!(policy.contains(&format!("script-src 'self' 'sha256-{expected}';")));
        assert!(!policy.contains("unsafe-inline"));
        assert!(!policy.contains("unsafe-eval"));
    }

    #[test]
    fn a_matching_if_none_match_is_answered_304() {
        let mut request = HeaderMap::new();
        request.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_str(&SCRIPT.etag).unwrap(),
        );
        let response = serve(&SCRIPT, &request);
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
        let response = serve(&SCRIPT, &HeaderMap::new());
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::ETAG], SCRIPT.etag.as_str());
    }
}
