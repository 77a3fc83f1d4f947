//! Typed DTO generators, one module per language.

pub mod fsharp;
pub mod others;
pub mod python;
pub mod typescript;

use evo_core::contract::TypeInfo;

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
