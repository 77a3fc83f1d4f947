//! evo-server: the evo-voice HTTP service.
//!
//! Two layers, one direction:
//! - [`http`]: router, ServiceStack dispatcher, operations, Twilio webhook
//!   glue, Server Events framing. Calls only the application layer's API.
//! - [`app`]: `AppState`, `SessionService` (lock → reduce → commit → index →
//!   publish), `LiveIndex`, `EventHub`, the reconciler, the directory and the
//!   visibility rule. Knows nothing of HTTP.
//!
//! Beside them: [`auth`] (credentials → `Principal`; imports neither layer)
//! and [`startup`] (builds the state, binds, runs background tasks), and
//! [`cache`] (the bounded concurrent map both layers' per-request caches
//! use; it imports neither layer).
//! `tests/layers.rs` checks the direction and that no module circle exists.

pub mod app;
pub mod auth;
pub mod cache;
pub mod http;
pub mod startup;
