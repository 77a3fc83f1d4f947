//! The metadata page of GetActiveSessions carries what the spec page shows:
//! description, auth, role, route, the F# DTOs and the XML sample.

use evo_docs::metadata::{index_page, operation_page};

fn spec() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../spec/GetActiveSessions.txt"
    ))
    .unwrap()
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text.find(start).expect("start marker");
    let to = text[from..].find(end).expect("end marker") + from + end.len();
    &text[from..to]
}

fn unescape(html: &str) -> String {
    html.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[test]
fn the_xml_metadata_page_shows_the_spec() {
    let page =
        unescape(&operation_page("xml", "GetActiveSessions", "fsharp", "evovoice.io").unwrap());
    let spec = spec();
    for line in [
        "<back to all web services",
        "Get your active sessions. Will eventually replace GetMySessions",
        "Requires Authentication",
        "Required role:User",
        "The following routes are available for this service:",
        "F# GetActiveSessions DTOs",
        "To override the Content-type in your clients, use the HTTP Accept Header, append the .xml suffix or ?format=xml",
        "GET /sessions/active HTTP/1.1 \nHost: evovoice.io \nAccept: application/xml",
        "HTTP/1.1 200 OK\nContent-Type: application/xml\nContent-Length: length",
    ] {
        assert!(page.contains(line), "the page shows {line:?}");
    }
    let fsharp = between(&spec, "namespace Voice.Api", "        class end");
    assert!(page.contains(fsharp), "the F# DTOs of the spec");
    let xml = between(
        &spec,
        "<GetActiveSessionsResponse",
        "</GetActiveSessionsResponse>",
    );
    assert!(page.contains(xml), "the XML sample of the spec");
}

#[test]
fn every_format_and_language_has_a_page_and_unknown_ones_do_not() {
    for format in ["json", "xml", "csv", "jsv"] {
        for lang in [
            "csharp",
            "fsharp",
            "vbnet",
            "typescript",
            "python",
            "kotlin",
            "java",
            "swift",
            "dart",
        ] {
            let page = operation_page(format, "GetActiveSessions", lang, "h").unwrap();
            assert!(
                page.contains("<h2>GetActiveSessions</h2>"),
                "{format} {lang}"
            );
        }
    }
    let json = unescape(&operation_page("json", "GetActiveSessions", "fsharp", "h").unwrap());
    assert!(
        json.contains("{\"sessions\":[{\"dialState\":\"None\""),
        "the JSON sample"
    );
    assert!(operation_page("yaml", "GetActiveSessions", "fsharp", "h").is_none());
    assert!(operation_page("json", "NoSuchOperation", "fsharp", "h").is_none());
    assert!(operation_page("json", "GetActiveSessions", "cobol", "h").is_none());
    let index = index_page();
    assert!(index.contains("href=\"/json/metadata?op=GetActiveSessions\""));
    assert!(index.contains("href=\"/json/metadata?op=Authenticate\""));
}
