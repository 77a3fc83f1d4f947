//! Typed DTO generators, one module per language.

pub mod fsharp;
pub mod others;
pub mod python;
pub mod typescript;

use evo_core::contract::TypeInfo;

/// Every language evo-voice generates DTOs in: the one list `/types/{lang}`,
/// the metadata pages and the error messages all derive from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    CSharp,
    FSharp,
    VbNet,
    TypeScript,
    /// TypeScript's DTOs as a plain ES module (`/types/mjs`), for browsers.
    Mjs,
    Python,
    Kotlin,
    Java,
    Swift,
    Dart,
}

impl Language {
    /// All of them, in the order pages list them.
    pub const ALL: [Language; 10] = [
        Language::CSharp,
        Language::FSharp,
        Language::VbNet,
        Language::TypeScript,
        Language::Mjs,
        Language::Python,
        Language::Kotlin,
        Language::Java,
        Language::Swift,
        Language::Dart,
    ];

    /// The name in `/types/{name}` and `?lang={name}`.
    pub const fn name(self) -> &'static str {
        match self {
            Language::CSharp => "csharp",
            Language::FSharp => "fsharp",
            Language::VbNet => "vbnet",
            Language::TypeScript => "typescript",
            Language::Mjs => "mjs",
            Language::Python => "python",
            Language::Kotlin => "kotlin",
            Language::Java => "java",
            Language::Swift => "swift",
            Language::Dart => "dart",
        }
    }

    /// The title a page shows.
    pub const fn title(self) -> &'static str {
        match self {
            Language::CSharp => "C#",
            Language::FSharp => "F#",
            Language::VbNet => "VB.NET",
            Language::TypeScript => "TypeScript",
            Language::Mjs => "JavaScript",
            Language::Python => "Python",
            Language::Kotlin => "Kotlin",
            Language::Java => "Java",
            Language::Swift => "Swift",
            Language::Dart => "Dart",
        }
    }

    /// The language a `/types/{name}` or `?lang=` names.
    pub fn from_name(name: &str) -> Option<Language> {
        Language::ALL.into_iter().find(|lang| lang.name() == name)
    }

    /// Whether an operation's metadata page is offered in it. The `mjs`
    /// module is the TypeScript DTOs with the types erased; a page for one
    /// operation shows the TypeScript version instead, as ServiceStack's
    /// pages do.
    pub const fn has_metadata_page(self) -> bool {
        !matches!(self, Language::Mjs)
    }
}

/// The `/types/{lang}` names of [`Language::ALL`], in order.
pub const NAMES: [&str; Language::ALL.len()] = {
    let mut names = [""; Language::ALL.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = Language::ALL[i].name();
        i += 1;
    }
    names
};

/// What to generate and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// The namespace (module) the DTOs are declared in.
    pub global_namespace: String,
    /// Emit `[Route]` attributes and the `IReturn<T>` marker (as `/types/…`
    /// does; the metadata page of one operation leaves them out).
    pub add_routes_and_markers: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            global_namespace: "Voice.Api".to_string(),
            add_routes_and_markers: true,
        }
    }
}

/// The types to emit, in order.
pub type Types<'a> = &'a [&'static TypeInfo];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_is_found_by_its_own_name_and_named_once() {
        for lang in Language::ALL {
            assert_eq!(Language::from_name(lang.name()), Some(lang));
        }
        let mut names = NAMES.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Language::ALL.len());
        assert_eq!(Language::from_name("cobol"), None);
    }

    #[test]
    fn the_unknown_language_error_lists_every_language() {
        let message = crate::types::TypesError::UnknownLanguage("cobol".into()).to_string();
        for name in NAMES {
            assert!(message.contains(name), "{message} lacks {name}");
        }
    }
}
