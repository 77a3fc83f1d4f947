//! The agent console's static files: the page with its security headers,
//! its script and style, the vendored `@servicestack/client`, and the DTO
//! module the page imports.

use base64::Engine;
use evo_server::http::console::{
    content_security_policy, SERVICESTACK_CLIENT_LICENSE_PATH, SERVICESTACK_CLIENT_PATH,
};
use sha2::{Digest, Sha256};

use crate::helpers::shared;

async fn get(path: &str) -> reqwest::Response {
    let response = reqwest::get(shared().url(path)).await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

#[tokio::test]
async fn the_page_is_served_at_the_root_and_at_console_with_its_security_headers() {
    for path in ["/", "/console", "/console/"] {
        let response = get(path).await;
        assert_eq!(
            header(&response, "content-type"),
            "text/html; charset=utf-8"
        );
        assert_eq!(header(&response, "x-content-type-options"), "nosniff");
        assert_eq!(header(&response, "x-frame-options"), "DENY");
        assert_eq!(header(&response, "referrer-policy"), "no-referrer");
        assert_eq!(header(&response, "cache-control"), "no-cache");
        let policy = header(&response, "content-security-policy").to_string();
        assert_eq!(policy, content_security_policy());
        for directive in [
            "default-src 'none'",
            "connect-src 'self'",
            "style-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(
                policy.split("; ").any(|d| d == directive),
                "{directive} in {policy}"
            );
        }
        assert!(!policy.contains("unsafe"), "{policy}");

        // The import map is the only inline script, and the policy allows
        // exactly its text by hash.
        let html = response.text().await.unwrap();
        let open = "<script type=\"importmap\">";
        let start = html.find(open).expect("an import map") + open.len();
        let map = &html[start..start + html[start..].find("</script>").unwrap()];
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(map.as_bytes()));
        assert!(
            policy
                .split("; ")
                .any(|d| d == format!("script-src 'self' 'sha256-{hash}'")),
            "{policy}"
        );
        let map: serde_json::Value = serde_json::from_str(map).unwrap();
        assert_eq!(
            map["imports"]["@servicestack/client"],
            SERVICESTACK_CLIENT_PATH
        );
        assert!(html.contains("<script type=\"module\" src=\"/console/console.js\"></script>"));
        assert!(html.contains("<link rel=\"stylesheet\" href=\"/console/console.css\">"));
    }
}

#[tokio::test]
async fn the_script_and_style_are_served_with_their_types_and_revalidated_by_etag() {
    for (path, content_type) in [
        ("/console/console.js", "text/javascript; charset=utf-8"),
        ("/console/console.css", "text/css; charset=utf-8"),
    ] {
        let response = get(path).await;
        assert_eq!(header(&response, "content-type"), content_type, "{path}");
        assert_eq!(header(&response, "x-content-type-options"), "nosniff");
        assert_eq!(header(&response, "cache-control"), "no-cache");
        let etag = header(&response, "etag").to_string();
        assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
        assert!(!response.text().await.unwrap().is_empty());

        let again = reqwest::Client::new()
            .get(shared().url(path))
            .header("If-None-Match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
        assert_eq!(header(&again, "etag"), etag);
        assert!(again.bytes().await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn the_vendored_servicestack_client_is_served_with_its_license() {
    let response = get(SERVICESTACK_CLIENT_PATH).await;
    assert_eq!(
        header(&response, "content-type"),
        "text/javascript; charset=utf-8"
    );
    assert_eq!(
        header(&response, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    let client = response.text().await.unwrap();
    let script = get("/console/console.js").await.text().await.unwrap();
    // Everything the console imports from the client is exported by it.
    let imports = script
        .lines()
        .find(|l| l.ends_with("from '@servicestack/client'"))
        .expect("console.js imports the client");
    let names = &imports[imports.find('{').unwrap() + 1..imports.find('}').unwrap()];
    for name in names.split(',').map(str::trim) {
        assert!(
            client.contains(&format!("export class {name} ")),
            "the client exports {name}"
        );
    }

    let license = get(SERVICESTACK_CLIENT_LICENSE_PATH).await;
    assert_eq!(
        header(&license, "content-type"),
        "text/plain; charset=utf-8"
    );
    assert!(license.text().await.unwrap().contains("ServiceStack, Inc."));
}

#[tokio::test]
async fn the_dto_module_the_console_imports_is_javascript() {
    let response = get("/types/mjs").await;
    assert_eq!(
        header(&response, "content-type"),
        "text/javascript; charset=utf-8"
    );
    let module = response.text().await.unwrap();
    for class in ["Authenticate", "GetActiveSessions"] {
        assert!(
            module.contains(&format!("export class {class} ")),
            "{class}"
        );
    }
}
