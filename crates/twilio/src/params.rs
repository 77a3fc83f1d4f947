//! Form parameters as Twilio sends them: an ordered multimap, kept as
//! received so the signature can be checked over exactly those pairs.
//!
//! Webhooks are parsed before anything is authenticated, so untrusted
//! bodies go through [`FormParams::parse_bounded`]: the body size is checked
//! before a byte is decoded, and decoding stops at the first parameter over
//! the cap. Both limits are typed errors ([`ParamsError`]) that the HTTP
//! layer answers with [`ParamsError::status`].

/// Limits on an unauthenticated form body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamLimits {
    /// The most `name=value` pairs accepted.
    pub max_params: usize,
    /// The most raw (still percent-encoded) bytes accepted.
    pub max_body_bytes: usize,
}

impl ParamLimits {
    /// Limits for Twilio webhooks. The largest request Twilio sends is an
    /// inbound SMS/MMS (twilio.md §4.4): about 40 standard parameters, a
    /// `Body` of up to 1,600 characters (at most 19,200 bytes
    /// percent-encoded: 4 UTF-8 bytes × 3), and up to 10 `MediaUrl{N}` /
    /// `MediaContentType{N}` pairs; a voice status callback has about 30
    /// (twilio.md §1.4). 1,000 parameters and 64 KiB leave a wide margin
    /// for parameters Twilio adds without notice, while bounding the work
    /// an anonymous caller can cause.
    pub const TWILIO_WEBHOOK: ParamLimits = ParamLimits {
        max_params: 1_000,
        max_body_bytes: 64 * 1024,
    };
}

impl Default for ParamLimits {
    fn default() -> Self {
        ParamLimits::TWILIO_WEBHOOK
    }
}

/// Why a form body was refused before it was parsed in full.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    /// The raw body is larger than the limit; nothing was decoded.
    #[error("the form body has {len} bytes, more than the {limit} allowed")]
    BodyTooLarge {
        /// The body's length in bytes.
        len: usize,
        /// The limit it exceeded.
        limit: usize,
    },
    /// More parameters than the limit; decoding stopped at the first one
    /// over it.
    #[error("the form body has more than {limit} parameters")]
    TooManyParams {
        /// The limit it exceeded.
        limit: usize,
    },
}

impl ParamsError {
    /// The HTTP status to answer with: 413 Content Too Large for both, as
    /// either way the request is bigger than a webhook can be (RFC 9110
    /// §15.5.14).
    pub fn status(&self) -> u16 {
        413
    }
}

/// Parameters of one webhook request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormParams {
    pairs: Vec<(String, String)>,
}

impl FormParams {
    /// Parses an `application/x-www-form-urlencoded` body or query string
    /// (`+` is a space; invalid UTF-8 is replaced, never an error).
    ///
    /// Unbounded: for trusted input only (our own URLs, tests). Requests
    /// from the network go through [`FormParams::parse_bounded`].
    pub fn parse(bytes: &[u8]) -> Self {
        FormParams {
            pairs: form_urlencoded::parse(bytes).into_owned().collect(),
        }
    }

    /// Parses an untrusted form body or query string within `limits`: the
    /// size is checked first, then decoding stops at the first pair over
    /// `limits.max_params`. Linear in the bytes actually read.
    pub fn parse_bounded(bytes: &[u8], limits: ParamLimits) -> Result<Self, ParamsError> {
        if bytes.len() > limits.max_body_bytes {
            return Err(ParamsError::BodyTooLarge {
                len: bytes.len(),
                limit: limits.max_body_bytes,
            });
        }
        Self::try_from_pairs(form_urlencoded::parse(bytes), limits.max_params)
    }

    /// Parameters from pairs, refusing more than `max_params` of them.
    /// Takes at most `max_params + 1` items from `pairs`, so a huge or
    /// endless source costs no more than the cap.
    pub fn try_from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
        max_params: usize,
    ) -> Result<Self, ParamsError> {
        let mut collected = Vec::new();
        for (k, v) in pairs {
            if collected.len() == max_params {
                return Err(ParamsError::TooManyParams { limit: max_params });
            }
            collected.push((k.into(), v.into()));
        }
        Ok(FormParams { pairs: collected })
    }

    /// Parameters from pairs.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        FormParams {
            pairs: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, treating an empty string as absent (Twilio
    /// sends empty optional fields).
    pub fn get_nonempty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.trim().is_empty())
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// All pairs as received.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// How many pairs there are.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Encodes the parameters as a form body.
    pub fn encode(&self) -> String {
        let mut serializer = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.pairs {
            serializer.append_pair(k, v);
        }
        serializer.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ParamLimits = ParamLimits {
        max_params: 3,
        max_body_bytes: 32,
    };

    #[test]
    fn a_body_within_the_limits_parses_as_before() {
        let body = b"A=1&B=2+3&C=%2B1";
        assert_eq!(
            FormParams::parse_bounded(body, LIMITS),
            Ok(FormParams::parse(body))
        );
        assert_eq!(
            FormParams::parse_bounded(body, LIMITS).unwrap().len(),
            3,
            "exactly the cap is accepted"
        );
    }

    #[test]
    fn one_parameter_over_the_cap_is_refused() {
        assert_eq!(
            FormParams::parse_bounded(b"A=1&B=2&C=3&D=4", LIMITS),
            Err(ParamsError::TooManyParams { limit: 3 })
        );
    }

    #[test]
    fn one_byte_over_the_size_is_refused_before_parsing() {
        let body = [b'a'; 33];
        assert_eq!(
            FormParams::parse_bounded(&body, LIMITS),
            Err(ParamsError::BodyTooLarge { len: 33, limit: 32 })
        );
        assert!(FormParams::parse_bounded(&body[..32], LIMITS).is_ok());
    }

    #[test]
    fn empty_segments_are_not_parameters() {
        // form_urlencoded skips empty `&&` segments, so they cost no slot.
        assert_eq!(
            FormParams::parse_bounded(b"&&A=1&&&B=2&&", LIMITS)
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn both_refusals_are_413() {
        assert_eq!(ParamsError::TooManyParams { limit: 1 }.status(), 413);
        assert_eq!(ParamsError::BodyTooLarge { len: 2, limit: 1 }.status(), 413);
    }
}
