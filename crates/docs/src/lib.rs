//! evo-docs: everything a developer reads about the API, derived from the
//! contract registry (`evo_core::contract`).
//!
//! - [`lang`]: typed DTOs in ServiceStack's "Add ServiceStack Reference"
//!   languages, as `/types/{lang}` and the metadata pages show them.
//!
//! Invariant: no generator names a DTO or a field; each walks `TypeInfo`, so
//! a field added to a DTO appears in every output with no edit here.

pub mod lang;
pub mod metadata;
pub mod openapi;
pub mod types;
