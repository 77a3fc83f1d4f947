//! evo-twilio: the Twilio adapter's pure parts.
//!
//! - [`params`]: form parameters as Twilio sends them (an ordered multimap);
//! - [`signature`]: `X-Twilio-Signature` verification (HMAC-SHA1 over the
//!   public URL plus sorted parameters, the `bodySHA256` variant, both port
//!   forms, constant-time comparison);
//! - [`twiml`]: the TwiML evo-voice answers with.
//!
//! Invariant: no HTTP framework, no SQL, no session state here; the server
//! maps verified webhooks to session events.

pub mod params;
pub mod signature;
pub mod twiml;
