//! The webhook parser and signature check against large and adversarial
//! parameter sets (issue 16: "anonymous resource exhaustion").
//!
//! The oracle is a straightforward re-statement of the twilio-python /
//! twilio-node algorithm (twilio.md §5.4: each distinct name in sorted
//! order, each of its distinct values in sorted order, `name + value`),
//! written independently of `evo_twilio::signature`, plus `form_urlencoded`
//! itself for decoding. Case counts are set so the file runs in a few
//! seconds in a debug build; no assertion is about time: bounded work is
//! shown structurally (what is read, what is refused before hashing).

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use evo_twilio::params::{FormParams, ParamLimits, ParamsError};
use evo_twilio::signature::{compute_signature, signed_params, validate, SignatureError};
use hmac::{Hmac, Mac};
use proptest::prelude::*;
use sha1::Sha1;

const TOKEN: &str = "12345";
const URL: &str = "https://voice.example.test/twilio/status?session=ses-1";

/// The SDKs' string: URL, then per distinct name (sorted) its distinct
/// values (sorted).
fn reference_string(url: &str, pairs: &[(String, String)]) -> String {
    let mut by_name: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (name, value) in pairs {
        by_name.entry(name).or_default().insert(value);
    }
    let mut data = url.to_string();
    for (name, values) in by_name {
        for value in values {
            data.push_str(name);
            data.push_str(value);
        }
    }
    data
}

fn reference_signature(token: &str, url: &str, pairs: &[(String, String)]) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(token.as_bytes()).unwrap();
    mac.update(reference_string(url, pairs).as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// How many parameters a body holds: its non-empty `&`-separated segments
/// (the WHATWG form-urlencoded parser skips empty ones).
fn segment_count(body: &[u8]) -> usize {
    body.split(|b| *b == b'&').filter(|s| !s.is_empty()).count()
}

fn decoded(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

/// Bytes that stress a form decoder: separators, `+`, truncated and invalid
/// percent escapes, encoded separators, multi-byte UTF-8 (whole and cut),
/// raw invalid UTF-8, and a few real Twilio names.
fn form_piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"&".to_vec()),
        Just(b"=".to_vec()),
        Just(b"+".to_vec()),
        Just(b"%".to_vec()),
        Just(b"%2".to_vec()),
        Just(b"%ZZ".to_vec()),
        Just(b"%26".to_vec()),
        Just(b"%3D".to_vec()),
        Just(b"%2B".to_vec()),
        Just(b"%00".to_vec()),
        Just(b"%C3%A9".to_vec()),
        Just(b"%C3".to_vec()),
        Just(b"%FF".to_vec()),
        Just(vec![0xC3]),
        Just(vec![0xFF, 0xFE]),
        Just("é".as_bytes().to_vec()),
        Just(b"Digits".to_vec()),
        Just(b"From".to_vec()),
        Just(b"AccountSid".to_vec()),
        "[a-c0-1]{1,3}".prop_map(String::into_bytes),
    ]
}

fn form_body() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(form_piece(), 0..120).prop_map(|pieces| pieces.concat())
}

/// Pairs with many duplicate names and values, including the empty string
/// and non-ASCII text.
fn colliding_pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    let name = prop_oneof!["[ab]{0,2}", Just("Digits".to_string()), "\\PC{0,3}"];
    let value = prop_oneof!["[12]{0,2}", Just(String::new()), "\\PC{0,4}"];
    proptest::collection::vec((name, value), 0..60)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any bytes: no panic; the size cap, then the count cap, hold exactly;
    /// within both, the pairs are what the form decoder gives.
    #[test]
    fn the_bounded_parser_enforces_both_caps_on_any_bytes(
        body in prop_oneof![proptest::collection::vec(any::<u8>(), 0..1024), form_body()],
        max_params in 0usize..24,
        max_body_bytes in 0usize..1200,
    ) {
        let limits = ParamLimits { max_params, max_body_bytes };
        let parsed = FormParams::parse_bounded(&body, limits);
        if body.len() > max_body_bytes {
            prop_assert_eq!(parsed, Err(ParamsError::BodyTooLarge { len: body.len(), limit: max_body_bytes }));
        } else if segment_count(&body) > max_params {
            prop_assert_eq!(parsed, Err(ParamsError::TooManyParams { limit: max_params }));
        } else {
            let parsed = parsed.unwrap();
            prop_assert_eq!(parsed.len(), segment_count(&body));
            let expected = decoded(&body);
            prop_assert_eq!(parsed.pairs(), expected.as_slice());
        }
    }

    /// The signature equals the SDK algorithm's over decoded adversarial
    /// bodies (percent-encoding edge cases, invalid UTF-8 replaced).
    #[test]
    fn signatures_of_adversarial_bodies_match_the_sdk_algorithm(body in form_body()) {
        let params = FormParams::parse_bounded(&body, ParamLimits::TWILIO_WEBHOOK).unwrap();
        let expected = reference_signature(TOKEN, URL, params.pairs());
        prop_assert_eq!(compute_signature(TOKEN, URL, &params), expected.clone());
        prop_assert_eq!(validate(&[TOKEN], URL, &params, &body, Some(&expected)), Ok(()));
    }

    /// Twilio's string is sorted by name then value and de-duplicated, so
    /// any order of the same pairs, and any repetition of them, signs the
    /// same; it also matches the SDK algorithm.
    #[test]
    fn a_permutation_or_repetition_of_the_pairs_signs_the_same(
        (pairs, shuffled) in colliding_pairs()
            .prop_flat_map(|pairs| (Just(pairs.clone()), Just(pairs).prop_shuffle())),
        repeat in proptest::collection::vec(any::<prop::sample::Index>(), 0..10),
    ) {
        let signature = compute_signature(TOKEN, URL, &FormParams::from_pairs(pairs.clone()));
        prop_assert_eq!(&signature, &reference_signature(TOKEN, URL, &pairs));
        prop_assert_eq!(&compute_signature(TOKEN, URL, &FormParams::from_pairs(shuffled.clone())), &signature);
        let mut repeated = shuffled;
        if !pairs.is_empty() {
            for index in repeat {
                repeated.push(index.get(&pairs).clone());
            }
        }
        let repeated = FormParams::from_pairs(repeated);
        prop_assert_eq!(validate(&[TOKEN], URL, &repeated, b"", Some(&signature)), Ok(()));
    }

    /// A single changed byte anywhere in the raw body is refused exactly
    /// when it changes the string Twilio signs (see
    /// `pair_boundaries_are_not_signed` for the cases where it does not).
    #[test]
    fn a_single_byte_tamper_of_the_body_fails_unless_the_signed_string_is_unchanged(
        body in form_body().prop_filter("non-empty", |b| !b.is_empty()),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let params = FormParams::parse_bounded(&body, ParamLimits::TWILIO_WEBHOOK).unwrap();
        let signature = compute_signature(TOKEN, URL, &params);
        prop_assert_eq!(validate(&[TOKEN], URL, &params, &body, Some(&signature)), Ok(()));
        let mut tampered = body.clone();
        let index = at.index(body.len());
        prop_assume!(tampered[index] != byte);
        tampered[index] = byte;
        let tampered_params = FormParams::parse_bounded(&tampered, ParamLimits::TWILIO_WEBHOOK).unwrap();
        let unchanged = reference_string(URL, tampered_params.pairs()) == reference_string(URL, params.pairs());
        let result = validate(&[TOKEN], URL, &tampered_params, &tampered, Some(&signature));
        prop_assert_eq!(result.is_ok(), unchanged);
        if !unchanged {
            prop_assert_eq!(result, Err(SignatureError::Mismatch));
        }
    }

    /// With distinct pairs, a single changed byte in any decoded name or
    /// value, in the URL's path or query, or in the signature always fails.
    #[test]
    fn a_single_byte_tamper_of_the_signed_data_always_fails(
        pairs in proptest::collection::btree_set(("[A-Za-z]{1,8}", "[ -~]{0,12}"), 1..40),
        which in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        in_name in any::<bool>(),
        byte in 0x20u8..0x7f,
        target in 0u8..3,
    ) {
        let pairs: Vec<(String, String)> = pairs.into_iter().collect();
        let params = FormParams::from_pairs(pairs.clone());
        let signature = compute_signature(TOKEN, URL, &params);
        prop_assert_eq!(validate(&[TOKEN], URL, &params, b"", Some(&signature)), Ok(()));
        match target {
            0 => {
                let mut changed = pairs.clone();
                let pair = which.get_mut(&mut changed);
                let text = if in_name || pair.1.is_empty() { &mut pair.0 } else { &mut pair.1 };
                let mut bytes = std::mem::take(text).into_bytes();
                let index = at.index(bytes.len());
                prop_assume!(bytes[index] != byte);
                bytes[index] = byte;
                *text = String::from_utf8(bytes).unwrap();
                let changed = FormParams::from_pairs(changed);
                prop_assert_eq!(validate(&[TOKEN], URL, &changed, b"", Some(&signature)), Err(SignatureError::Mismatch));
            }
            1 => {
                // Only after the authority, so both port variants change.
                let path_start = URL.find("/twilio").unwrap();
                let mut url = URL.as_bytes().to_vec();
                let index = path_start + at.index(url.len() - path_start);
                prop_assume!(url[index] != byte);
                url[index] = byte;
                let url = String::from_utf8(url).unwrap();
                prop_assert_eq!(validate(&[TOKEN], &url, &params, b"", Some(&signature)), Err(SignatureError::Mismatch));
            }
            _ => {
                let mut bytes = signature.clone().into_bytes();
                let index = at.index(bytes.len());
                prop_assume!(bytes[index] != byte);
                bytes[index] = byte;
                let forged = String::from_utf8(bytes).unwrap();
                prop_assert_eq!(validate(&[TOKEN], URL, &params, b"", Some(&forged)), Err(SignatureError::Mismatch));
            }
        }
    }

    /// Arbitrary URLs, signatures and token lists never panic, and a random
    /// signature never validates.
    #[test]
    fn arbitrary_urls_signatures_and_tokens_never_panic(
        url in prop_oneof!["\\PC{0,60}", "https?://[a-z\\[\\]:@.0-9]{0,20}[/?#][ -~]{0,30}"],
        signature in "\\PC{0,40}",
        tokens in proptest::collection::vec("\\PC{0,8}", 0..3),
        body in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let tokens: Vec<&str> = tokens.iter().map(String::as_str).collect();
        let params = FormParams::parse(&body);
        let result = validate(&tokens, &url, &params, &body, Some(&signature));
        prop_assert!(result.is_err(), "{result:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Counts around the real cap: exactly 1,000 parameters parse and
    /// validate; 1,001 or more are refused before any hashing.
    #[test]
    fn counts_around_the_real_cap(extra in -3i64..=3, value in "[ -~]{0,6}") {
        let cap = ParamLimits::TWILIO_WEBHOOK.max_params as i64;
        let count = (cap + extra) as usize;
        let pairs: Vec<(String, String)> = (0..count).map(|i| (format!("P{i}"), value.clone())).collect();
        let body = FormParams::from_pairs(pairs.clone()).encode();
        let parsed = FormParams::parse_bounded(body.as_bytes(), ParamLimits::TWILIO_WEBHOOK);
        if extra > 0 {
            prop_assert_eq!(parsed, Err(ParamsError::TooManyParams { limit: 1_000 }));
        } else {
            let parsed = parsed.unwrap();
            prop_assert_eq!(parsed.pairs(), pairs.as_slice());
            let signature = reference_signature(TOKEN, URL, &pairs);
            prop_assert_eq!(validate(&["old", TOKEN], URL, &parsed, body.as_bytes(), Some(&signature)), Ok(()));
        }
    }
}

/// The attack: an unsigned POST with a known AccountSid and 40,000
/// distinct parameters (about 270 KB).
fn attack_body() -> Vec<u8> {
    let mut body = String::from("AccountSid=ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    for i in 0..40_000 {
        body.push_str(&format!("&{i}="));
    }
    body.into_bytes()
}

#[test]
fn the_40000_parameter_attack_is_refused_by_size_before_it_is_decoded() {
    let body = attack_body();
    assert!(body.len() > 250_000, "{}", body.len());
    assert_eq!(
        FormParams::parse_bounded(&body, ParamLimits::TWILIO_WEBHOOK),
        Err(ParamsError::BodyTooLarge {
            len: body.len(),
            limit: 64 * 1024
        })
    );
}

#[test]
fn the_40000_parameter_attack_under_a_larger_body_limit_is_refused_by_count() {
    let limits = ParamLimits {
        max_body_bytes: 1 << 20,
        ..ParamLimits::TWILIO_WEBHOOK
    };
    assert_eq!(
        FormParams::parse_bounded(&attack_body(), limits),
        Err(ParamsError::TooManyParams { limit: 1_000 })
    );
}

#[test]
fn the_count_cap_reads_one_pair_past_the_cap_and_no_further() {
    let taken = Cell::new(0usize);
    let source = (0..40_000).map(|i| {
        taken.set(taken.get() + 1);
        (format!("P{i}"), String::new())
    });
    assert_eq!(
        FormParams::try_from_pairs(source, 1_000),
        Err(ParamsError::TooManyParams { limit: 1_000 })
    );
    assert_eq!(taken.get(), 1_001);
}

#[test]
fn forty_thousand_trusted_pairs_are_signed_in_one_pass_as_the_sdks_do() {
    // Past the cap (only reachable through `from_pairs`, never from the
    // network): the string is built once, each byte of each distinct pair
    // appended once, and it is the SDK algorithm's string.
    let mut pairs: Vec<(String, String)> = (0..40_000)
        .map(|i| (format!("{}", 39_999 - i), format!("v{}", i % 7)))
        .collect();
    pairs.extend(pairs[..5_000].to_vec());
    let params = FormParams::from_pairs(pairs.clone());
    let payload = signed_params(&params);
    let distinct_bytes: usize = pairs[..40_000].iter().map(|(k, v)| k.len() + v.len()).sum();
    assert_eq!(payload.len(), distinct_bytes);
    assert_eq!(
        format!("{URL}{payload}"),
        reference_string(URL, &pairs),
        "same string as the SDKs"
    );
    assert_eq!(
        compute_signature(TOKEN, URL, &params),
        reference_signature(TOKEN, URL, &pairs)
    );
}

#[test]
fn the_sdk_repeated_key_vector_builds_the_documented_string() {
    // twilio.md §5.5: `…bar=2Digits1234Digits5678SidCA123SidAccountAC123`.
    let params = FormParams::from_pairs([
        ("Sid", "CA123"),
        ("SidAccount", "AC123"),
        ("Digits", "5678"),
        ("Digits", "1234"),
        ("Digits", "1234"),
    ]);
    assert_eq!(
        signed_params(&params),
        "Digits1234Digits5678SidCA123SidAccountAC123"
    );
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
fn pair_boundaries_are_not_signed() {
    // A limit of Twilio's algorithm (documented in docs/security.md): names
    // and values are concatenated without separators, so `a=b&c=d` and
    // `a&b&c=d` sign the same string. Handlers must not trust a parameter's
    // absence or emptiness more than its presence.
    let original = FormParams::parse_bounded(b"a=b&c=d", ParamLimits::TWILIO_WEBHOOK).unwrap();
    let reshaped = FormParams::parse_bounded(b"a&b&c=d", ParamLimits::TWILIO_WEBHOOK).unwrap();
    assert_ne!(original, reshaped);
    let signature = compute_signature(TOKEN, URL, &original);
    assert_eq!(
        validate(&[TOKEN], URL, &reshaped, b"", Some(&signature)),
        Ok(())
    );
}

#[test]
fn invalid_utf8_is_replaced_so_distinct_invalid_bytes_sign_alike() {
    // Twilio sends UTF-8; anything else decodes to U+FFFD before signing.
    let a = FormParams::parse_bounded(b"Body=%FF", ParamLimits::TWILIO_WEBHOOK).unwrap();
    let b = FormParams::parse_bounded(b"Body=%FE", ParamLimits::TWILIO_WEBHOOK).unwrap();
    assert_eq!(a.get("Body"), Some("\u{FFFD}"));
    assert_eq!(
        compute_signature(TOKEN, URL, &a),
        compute_signature(TOKEN, URL, &b)
    );
}
