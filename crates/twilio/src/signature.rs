//! `X-Twilio-Signature` verification, as Twilio computes it:
//!
//! 1. start from the URL Twilio requested (the configured public URL, no
//!    fragment, no user info);
//! 2. for form POSTs append, for each distinct parameter name in byte
//!    order, each of its distinct values in byte order, as `name + value`;
//! 3. HMAC-SHA1 with the account's auth token, base64.
//!
//! Twilio is inconsistent about ports, so both the URL with its port
//! (explicit, or the scheme default added) and without any port are tried,
//! as the official SDKs do. A URL whose query has `bodySHA256` (JSON
//! bodies) is signed alone, and the body's SHA-256 hex must match.
//! Comparisons are constant-time. Several tokens may be given, so that a
//! rotated token keeps working during the change-over.
//!
//! Cost: step 2 is one sort of the pairs (O(n log n) comparisons) and one
//! pass to build the string; each candidate HMAC is then linear in the
//! string. Nothing is rescanned per parameter name, so an anonymous request
//! with many distinct parameters costs no more than its size (see
//! `docs/security.md`); the parameter count itself is capped earlier, by
//! [`FormParams::parse_bounded`](crate::params::FormParams::parse_bounded).

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::params::FormParams;

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the X-Twilio-Signature header is missing")]
    Missing,
    #[error("the signature does not match")]
    Mismatch,
    #[error("the body does not match its bodySHA256")]
    BodyHashMismatch,
    #[error("no auth token is configured for the account")]
    NoToken,
    #[error("the URL cannot be signed: {0}")]
    BadUrl(String),
}

/// The parameter part of the signed string: every distinct `(name, value)`
/// pair, sorted by name then value (bytewise), written as `name + value`.
/// This equals the SDKs' "each distinct name in order, each of its distinct
/// values in order". One sort, one pass: O(n log n).
pub fn signed_params(params: &FormParams) -> String {
    let mut pairs: Vec<(&str, &str)> = params
        .pairs()
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    let len = pairs.iter().map(|(k, v)| k.len() + v.len()).sum();
    let mut data = String::with_capacity(len);
    for (name, value) in pairs {
        data.push_str(name);
        data.push_str(value);
    }
    data
}

fn keyed(auth_token: &str) -> Hmac<Sha1> {
    Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key length")
}

/// base64(HMAC-SHA1(key, url + signed_params)).
fn sign(key: &Hmac<Sha1>, url: &str, signed_params: &str) -> String {
    let mut mac = key.clone();
    mac.update(url.as_bytes());
    mac.update(signed_params.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Computes the signature of `url` plus `params` with `auth_token`, as
/// Twilio does: a `#fragment` (connection overrides) is not signed.
pub fn compute_signature(auth_token: &str, url: &str, params: &FormParams) -> String {
    let url = url.split('#').next().unwrap_or(url);
    sign(&keyed(auth_token), url, &signed_params(params))
}

/// The URL without fragment and user info, and its two port variants.
fn url_variants(url: &str) -> Result<(String, String), SignatureError> {
    let url = url.split('#').next().unwrap_or(url);
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| SignatureError::BadUrl(url.to_string()))?;
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "https" => "443",
        "http" => "80",
        _ => return Err(SignatureError::BadUrl(url.to_string())),
    };
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    // An IPv6 literal keeps its colons inside brackets.
    let (host, port) = match host_port.rfind(':') {
        Some(index) if !host_port[index..].contains(']') => {
            (&host_port[..index], Some(&host_port[index + 1..]))
        }
        _ => (host_port, None),
    };
    if host.is_empty() {
        return Err(SignatureError::BadUrl(url.to_string()));
    }
    let with_port = format!("{scheme}://{host}:{}{path}", port.unwrap_or(default_port));
    let without_port = format!("{scheme}://{host}{path}");
    Ok((with_port, without_port))
}

fn equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The first `bodySHA256` of the URL's query, found in one pass.
fn body_hash_of(url: &str) -> Option<String> {
    let query = url.split('#').next().unwrap_or(url).split_once('?')?.1;
    form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "bodySHA256")
        .map(|(_, value)| value.into_owned())
}

/// Verifies a request. `url` is the public URL Twilio called (with its
/// query); `params` the form parameters (empty for GET and JSON requests);
/// `body` the raw body (checked against `bodySHA256` when present);
/// `auth_tokens` every token currently accepted for the account (the
/// current one and, while rotating, the previous one).
///
/// The parameter string is built once, whatever the number of tokens; the
/// work is then at most `2 × tokens` HMACs over `url + parameters`.
///
/// This is a plain, CPU-bound function, microseconds for a webhook-sized
/// body: evo-voice calls it on the request's task for a body up to 8 KiB
/// and inside `tokio::task::spawn_blocking` for a larger one (so a worker
/// is never held long), always after parsing the body with
/// [`FormParams::parse_bounded`] so that the work is capped too. Off the
/// workers it looks like this:
///
/// ```text
/// let params = FormParams::parse_bounded(&body, ParamLimits::TWILIO_WEBHOOK)?; // 413
/// let checked = tokio::task::spawn_blocking(move || {
///     let tokens: Vec<&str> = tokens.iter().map(String::as_str).collect();
///     validate(&tokens, &url, &params, &body, signature.as_deref()).map(|()| params)
/// })
/// .await?; // Err(SignatureError) -> 403
/// ```
pub fn validate(
    auth_tokens: &[&str],
    url: &str,
    params: &FormParams,
    body: &[u8],
    signature: Option<&str>,
) -> Result<(), SignatureError> {
    let signature = signature
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or(SignatureError::Missing)?;
    let tokens: Vec<&str> = auth_tokens
        .iter()
        .copied()
        .filter(|t| !t.is_empty())
        .collect();
    if tokens.is_empty() {
        return Err(SignatureError::NoToken);
    }
    let (with_port, without_port) = url_variants(url)?;
    let body_hash = body_hash_of(url);
    let payload = if body_hash.is_some() {
        String::new()
    } else {
        signed_params(params)
    };
    let matches = tokens.iter().any(|token| {
        let key = keyed(token);
        // `|`, not `||`: both variants are always computed and compared.
        equal(&sign(&key, &with_port, &payload), signature)
            | equal(&sign(&key, &without_port, &payload), signature)
    });
    if !matches {
        return Err(SignatureError::Mismatch);
    }
    if let Some(expected) = body_hash {
        let actual: String = Sha256::digest(body)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if !equal(&actual, &expected.to_ascii_lowercase()) {
            return Err(SignatureError::BodyHashMismatch);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TOKEN: &str = "12345";

    fn fixture() -> FormParams {
        FormParams::from_pairs([
            ("CallSid", "CA1234567890ABCDE"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
            ("Caller", "+14158675309"),
        ])
    }

    #[test]
    fn the_documentation_example_signs_as_twilio_does() {
        let params = FormParams::from_pairs([
            ("Digits", "1234"),
            ("To", "+18005551212"),
            ("From", "+14158675310"),
            ("Caller", "+14158675310"),
            ("CallSid", "CA1234567890ABCDE"),
        ]);
        assert_eq!(
            compute_signature(TOKEN, "https://example.com/myapp.php?foo=1&bar=2", &params),
            "L/OH5YylLD5NRKLltdqwSvS0BnU="
        );
    }

    #[test]
    fn the_sdk_vectors_for_every_url_form_match() {
        let cases = [
            (
                "https://mycompany.com/myapp.php?foo=1&bar=2",
                "RSOYDt4T1cUTdK1PDd93/VVr8B8=",
            ),
            (
                "https://mycompany.com:443/myapp.php?foo=1&bar=2",
                "kvajT1Ptam85bY51eRf/AJRuM3w=",
            ),
            (
                "http://mycompany.com/myapp.php?foo=1&bar=2",
                "OyGYPqTF6ztdbRNCvuQO/oPvqQ4=",
            ),
            (
                "http://mycompany.com:80/myapp.php?foo=1&bar=2",
                "0ZXoZLH/DfblKGATFgpif+LLRf4=",
            ),
            (
                "http://mycompany.com:1234/myapp.php?foo=1&bar=2",
                "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=",
            ),
        ];
        for (url, expected) in cases {
            assert_eq!(compute_signature(TOKEN, url, &fixture()), expected, "{url}");
            assert_eq!(
                validate(&[TOKEN], url, &fixture(), b"", Some(expected)),
                Ok(()),
                "{url}"
            );
        }
    }

    #[test]
    fn either_port_form_validates() {
        let params = fixture();
        assert_eq!(
            validate(
                &[TOKEN],
                "https://mycompany.com:1234/myapp.php?foo=1&bar=2",
                &params,
                b"",
                Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=")
            ),
            Ok(())
        );
        assert_eq!(
            validate(
                &[TOKEN],
                "https://mycompany.com/myapp.php?foo=1&bar=2",
                &params,
                b"",
                Some("kvajT1Ptam85bY51eRf/AJRuM3w=")
            ),
            Ok(())
        );
        assert_eq!(
            validate(
                &[TOKEN],
                "https://user:pw@mycompany.com/myapp.php?foo=1&bar=2#rc=2",
                &params,
                b"",
                Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=")
            ),
            Ok(())
        );
    }

    #[test]
    fn repeated_keys_are_sorted_and_deduplicated() {
        let params = FormParams::from_pairs([
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
            ("Digits", "1234"),
        ]);
        assert_eq!(
            compute_signature(
                TOKEN,
                "https://mycompany.com/myapp.php?foo=1&bar=2",
                &params
            ),
            "IK+Dwps556ElfBT0I3Rgjkr1wJU="
        );
    }

    #[test]
    fn a_json_body_is_checked_against_its_body_hash() {
        let body = br#"{"property": "value", "boolean": true}"#;
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
        let empty = FormParams::default();
        assert_eq!(
            compute_signature(TOKEN, url, &empty),
            "a9nBmqA0ju/hNViExpshrM61xv4="
        );
        assert_eq!(
            validate(
                &[TOKEN],
                url,
                &empty,
                body,
                Some("a9nBmqA0ju/hNViExpshrM61xv4=")
            ),
            Ok(())
        );
        assert_eq!(
            validate(
                &[TOKEN],
                url,
                &empty,
                b"{}",
                Some("a9nBmqA0ju/hNViExpshrM61xv4=")
            ),
            Err(SignatureError::BodyHashMismatch)
        );
    }

    #[test]
    fn any_change_is_refused() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let signature = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
        let mut changed = fixture().pairs().to_vec();
        changed[1].1 = "9999".into();
        let mut added = fixture().pairs().to_vec();
        added.push(("Extra".into(), "1".into()));
        assert_eq!(
            validate(
                &[TOKEN],
                url,
                &FormParams::from_pairs(changed),
                b"",
                Some(signature)
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            validate(
                &[TOKEN],
                url,
                &FormParams::from_pairs(added),
                b"",
                Some(signature)
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            validate(&["54321"], url, &fixture(), b"", Some(signature)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            validate(
                &[TOKEN],
                "https://mycompany.com/other.php?foo=1&bar=2",
                &fixture(),
                b"",
                Some(signature)
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            validate(&[TOKEN], url, &fixture(), b"", None),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            validate(&[], url, &fixture(), b"", Some(signature)),
            Err(SignatureError::NoToken)
        );
        assert_eq!(
            validate(&["old", TOKEN], url, &fixture(), b"", Some(signature)),
            Ok(()),
            "a rotated token still works"
        );
    }

    proptest! {
        #[test]
        fn a_signature_validates_until_any_value_changes(
            pairs in proptest::collection::vec(("[A-Za-z]{1,8}", "[ -~]{0,12}"), 1..8),
            which in 0usize..8,
        ) {
            let url = "https://voice.example.test/twilio/status?x=1";
            let params = FormParams::from_pairs(pairs.clone());
            let signature = compute_signature(TOKEN, url, &params);
            prop_assert_eq!(validate(&[TOKEN], url, &params, b"", Some(&signature)), Ok(()));
            let mut changed = pairs.clone();
            let index = which % changed.len();
            changed[index].1.push('!');
            let changed = FormParams::from_pairs(changed);
            prop_assert_eq!(validate(&[TOKEN], url, &changed, b"", Some(&signature)), Err(SignatureError::Mismatch));
        }
    }
}
