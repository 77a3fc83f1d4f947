//! `/types/{lang}` as ServiceStack's NativeTypesService serves it: option
//! values checked (issue 16), ServiceStack's own DTOs left to the client
//! library, the VB.NET options header, the content type per language.

use evo_docs::types::{content_type, document, TypesError, LANGUAGES};

fn doc(lang: &str, query: &[(&str, &str)]) -> Result<String, TypesError> {
    let query: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    document(lang, "https://voice.example", &query, "2026-11-25 10:00:00")
}

#[test]
fn option_values_that_are_not_names_or_globs_are_refused() {
    // The two injections of issue 16, and a few more shapes.
    let attacks = [
        (
            "GlobalNamespace",
            "x\"\"\"\nimport os\nos.system('id')\n\"\"\"",
        ),
        ("GlobalNamespace", "Evil;}public class Pwn{"),
        ("IncludeTypes", "GetActiveSessions*/alert(1)/*"),
        ("ExcludeTypes", "A\nB"),
        ("globalnamespace", "a'b"),
    ];
    for lang in LANGUAGES {
        for (key, value) in attacks {
            assert!(
                matches!(
                    doc(lang, &[(key, value)]),
                    Err(TypesError::InvalidOption(_))
                ),
                "{lang} {key}={value:?}"
            );
        }
        // Names, globs and the {A,B} list form ServiceStack's tools send pass.
        assert!(doc(
            lang,
            &[("IncludeTypes", "{GetActiveSessions.*,SessionInfo}")]
        )
        .is_ok());
        assert!(doc(lang, &[("GlobalNamespace", "My.Dtos_2")]).is_ok());
    }
    assert!(matches!(
        document("csharp", "http://h\"/*", &[], "now"),
        Err(TypesError::InvalidOption(_))
    ));
    assert!(matches!(
        doc("cobol", &[]),
        Err(TypesError::UnknownLanguage(_))
    ));
}

#[test]
fn servicestack_types_are_left_to_the_client_library() {
    let declares = |text: &str, name: &str| {
        text.lines().any(|line| {
            let line = line.trim_start();
            [
                format!("public partial class {name}"),
                format!("Public Partial Class {name}"),
                format!("type {name}() ="),
                format!("type {name}("),
                format!("public static class {name}"),
                format!("open class {name}"),
                format!("public class {name} "),
                format!("class {name} "),
            ]
            .iter()
            .any(|start| line.starts_with(start.as_str()))
        })
    };
    // C#, F#, VB.NET: the whole ServiceStack namespace unless asked for
    // (NativeTypesService.cs:227).
    for lang in ["csharp", "fsharp", "vbnet"] {
        let text = doc(lang, &[]).unwrap();
        for name in [
            "Authenticate",
            "AuthenticateResponse",
            "GetAccessToken",
            "ResponseStatus",
            "ResponseError",
        ] {
            assert!(!declares(&text, name), "{lang} declares {name}");
        }
        assert!(declares(&text, "GetActiveSessions"), "{lang}");
        let with = doc(lang, &[("AddServiceStackTypes", "true")]).unwrap();
        assert!(
            declares(&with, "Authenticate"),
            "{lang} with AddServiceStackTypes"
        );
    }
    // Java and Kotlin: IgnoreTypeNames (JavaGenerator.cs:331).
    for lang in ["java", "kotlin"] {
        let text = doc(lang, &[]).unwrap();
        assert!(
            !declares(&text, "ResponseStatus") && !declares(&text, "ResponseError"),
            "{lang}"
        );
        assert!(declares(&text, "Authenticate"), "{lang} keeps Authenticate");
    }
    // Swift: IgnoreTypeNames (SwiftGenerator.cs:76).
    let swift = doc("swift", &[]).unwrap();
    assert!(!declares(&swift, "ResponseStatus") && declares(&swift, "SessionInfo"));
    // Dart: BuiltInClientDtos (NativeTypesService.cs:538).
    let dart = doc("dart", &[]).unwrap();
    for name in [
        "Authenticate",
        "AuthenticateResponse",
        "GetAccessToken",
        "ResponseStatus",
    ] {
        assert!(!declares(&dart, name), "dart declares {name}");
    }
    assert!(declares(&dart, "SessionInfo"));
}

#[test]
fn the_vbnet_options_header_is_servicestacks() {
    let text = doc("vbnet", &[("GlobalNamespace", "My.Api")]).unwrap();
    // VbNetGenerator.cs:254-276.
    let expected = "' Options:\n'Date: 2026-11-25 10:00:00\n'Version: 8.0\n'Tip: To override a DTO option, remove \"''\" prefix before updating\n'BaseUrl: https://voice.example\n'\n'GlobalNamespace: My.Api\n'''AddServiceStackTypes: True\n'''IncludeTypes: \n'''ExcludeTypes: \n\n";
    assert!(text.starts_with(expected), "{}", &text[..400]);
    assert!(text.contains("Namespace My.Api"));
}

#[test]
fn javascript_modules_are_served_as_javascript() {
    assert!(content_type("mjs").starts_with("text/javascript"));
    for lang in LANGUAGES.iter().filter(|l| **l != "mjs") {
        assert!(content_type(lang).starts_with("text/plain"), "{lang}");
    }
}
