//! End-to-end tests of the evo-voice HTTP API against a real server on an
//! ephemeral port. All modules build into this one test binary and share
//! one seeded server (see `helpers::shared`), except tests that need their
//! own (restarts).

mod actions;
mod attacks;
mod auth;
mod console;
mod directory;
mod docs;
mod errors;
mod events;
mod formats;
mod health;
mod helpers;
mod history;
mod propagation;
mod push;
mod reconcile;
mod replay;
mod sessions;
mod token_rotation;
mod twilio;
mod webhook_accounts;
