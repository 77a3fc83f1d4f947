//! evo-core: the contract, the domain and the pure session reducer.
//!
//! - [`contract`] describes DTOs (the registry every wire format walks);
//! - [`api`] declares the DTOs of the Evo Voice API, once;
//! - [`domain`] holds accounts, customers, endpoints, users and roles;
//! - [`event`] is the closed set of things that can happen to a session;
//! - [`session`] is a session and its projection to `SessionInfo`;
//! - [`reducer`] is the only place a session changes: `apply(session, event)`.
//!
//! Invariant: this crate does no I/O. It depends on no async runtime, HTTP
//! framework, database driver or Twilio code, so every rule about session
//! state can be tested as a pure function.

// Lets the derive's `::evo_core::...` paths resolve inside this crate too.
extern crate self as evo_core;

pub mod api;
pub mod contract;
pub mod domain;
pub mod event;
pub mod ids;
pub mod reducer;
pub mod scenario;
pub mod session;
