//! `/types/{lang}?IncludeTypes=GetActiveSessions.*` for every language held
//! to a golden file (tests/golden/, origin in tests/golden/README.md), so
//! that a change of the contract or of a generator that alters what a client
//! compiles fails here and is reviewed against ServiceStack's generator.
//!
//! After an intended change: `EVO_UPDATE_GOLDEN=1 cargo test -p evo-docs
//! --test golden_languages`, then review the diff against the generator
//! source the README names.

const EXTENSIONS: &[(&str, &str)] = &[
    ("csharp", "dtos.cs"),
    ("fsharp", "dtos.fs"),
    ("vbnet", "dtos.vb"),
    ("typescript", "dtos.ts"),
    ("mjs", "dtos.mjs"),
    ("python", "dtos.py"),
    ("kotlin", "dtos.kt"),
    ("java", "dtos.java"),
    ("swift", "dtos.swift"),
    ("dart", "dtos.dart"),
];

#[test]
fn every_language_matches_its_golden_file() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden");
    let query = vec![(
        "IncludeTypes".to_string(),
        "GetActiveSessions.*".to_string(),
    )];
    let update = std::env::var("EVO_UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    assert_eq!(EXTENSIONS.len(), evo_docs::types::LANGUAGES.len());
    let mut different = Vec::new();
    for (lang, file) in EXTENSIONS {
        let generated =
            evo_docs::types::document(lang, "https://voice.example", &query, "2026-11-25 10:00:00")
                .unwrap();
        let path = format!("{dir}/{file}");
        if update {
            std::fs::write(&path, &generated).unwrap();
            continue;
        }
        let golden = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("{path}: {error} (EVO_UPDATE_GOLDEN=1 writes it)"));
        if golden != generated {
            let line = golden
                .lines()
                .zip(generated.lines())
                .position(|(a, b)| a != b)
                .map_or(golden.lines().count().min(generated.lines().count()), |n| n);
            different.push(format!(
                "{file}: first difference at line {}:\n  golden:    {:?}\n  generated: {:?}",
                line + 1,
                golden.lines().nth(line).unwrap_or(""),
                generated.lines().nth(line).unwrap_or("")
            ));
        }
    }
    assert!(different.is_empty(), "{}", different.join("\n"));
}
