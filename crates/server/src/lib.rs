//! evo-server: the evo-voice HTTP service.
//!
//! Data flows one way: request in → (Twilio webhook | API call) → event →
//! pure reducer → store commit (durable) → live index → server events →
//! response. Reads of active sessions are served from the live index
//! ([`live`]), never from the store.
//!
//! Modules, in reading order:
//! - [`config`]: typed configuration;
//! - [`startup`]: `Application::build` / `run_until_stopped`;
//! - [`state`]: the shared state handed to handlers;
//! - [`auth`]: credentials (JWT, API keys, Basic, cookies) → `Principal`;
//! - [`live`]: the in-memory index of active sessions, pre-rendered;
//! - [`ingest`]: the one path by which sessions change;
//! - [`events`]: ServiceStack Server Events (SSE) of committed changes;
//! - [`http`]: the router, the ServiceStack dispatcher, the operations.
//!
//! Invariants: only `ingest` changes sessions, and only after the store has
//! committed; a 500 never carries an internal message.

pub mod auth;
pub mod config;
pub mod directory;
pub mod events;
pub mod http;
pub mod ingest;
pub mod live;
pub mod reconcile;
pub mod startup;
pub mod state;
