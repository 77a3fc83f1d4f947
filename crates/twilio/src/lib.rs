//! evo-twilio: the Twilio adapter's pure parts.
//!
//! - [`params`]: form parameters as Twilio sends them (an ordered multimap);
//! - [`signature`]: `X-Twilio-Signature` verification (HMAC-SHA1 over the
//!   public URL plus sorted parameters, the `bodySHA256` variant, both port
//!   forms, constant-time comparison);
//! - [`twiml`]: the TwiML evo-voice answers with;
//! - [`status`]: every Twilio status word as an enum that keeps unknown values;
//! - [`webhook`]: typed parsing of verified webhook parameters;
//! - [`translate`]: typed webhooks → core session events (the adapter's rules, once);
//! - [`rest`]: an async client for the REST calls evo-voice makes;
//! - `fake` (feature `testing`, or `sim` for the demo): a fake Twilio REST
//!   server for tests, and in simulator mode the demo's Twilio.
//!
//! Invariant: no HTTP server framework (except in the fake/simulator), no
//! SQL, no session state here; the server hands verified, typed webhooks to
//! [`translate`] and applies the events.

pub mod control;
#[cfg(feature = "sim")]
pub mod fake;
pub mod params;
pub mod rest;
pub mod signature;
pub mod status;
pub mod translate;
pub mod twiml;
pub mod webhook;
