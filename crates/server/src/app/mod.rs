//! The application layer: everything evo-voice does, with no knowledge of
//! HTTP. The HTTP layer (`crate::http`) calls only the API here: read views
//! (`LiveIndex`, `LiveSession`, `Directory` reads) and commands
//! (`SessionService::open`/`apply`, directory administration).
//!
//! Nothing in this module names axum, an HTTP status or a response body;
//! `crates/server/tests/layers.rs` fails the build's tests if it does.

pub mod actions;
pub mod config;
pub mod directory;
pub mod events;
pub mod history;
pub mod live;
pub mod ops;
pub mod propagate;
pub mod reconcile;
pub mod sessions;
pub mod shutdown;
pub mod state;
pub mod timing;
pub mod twilio_accounts;
pub mod visibility;
