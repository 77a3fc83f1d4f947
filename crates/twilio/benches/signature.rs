//! Webhook verification cost against the parameter count (issue 16): the
//! whole unauthenticated path, `parse_bounded` then `validate`, at 10, 100
//! and 1,000 (the cap) parameters, plus the pre-fix algorithm (one scan of
//! every pair per distinct name) for comparison. Time per element should
//! stay flat for the first group and grow with n for the second.
//!
//! `cargo bench -p evo-twilio --bench signature`

use std::hint::black_box;
use std::time::Duration;

use base64::Engine;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use evo_twilio::params::{FormParams, ParamLimits};
use evo_twilio::signature::{compute_signature, validate};
use hmac::{Hmac, Mac};
use sha1::Sha1;

const TOKEN: &str = "0123456789abcdef0123456789abcdef";
const URL: &str = "https://voice.example.test/twilio/status?session=ses-CA1";
const COUNTS: [usize; 3] = [10, 100, 1_000];

/// A form body of `n` distinct parameters shaped like Twilio's (a PascalCase
/// name, a short value), starting with the ones every callback has.
fn body(n: usize) -> Vec<u8> {
    let mut pairs: Vec<(String, String)> = vec![
        (
            "AccountSid".into(),
            "AC0123456789abcdef0123456789abcdef".into(),
        ),
        (
            "CallSid".into(),
            "CA0123456789abcdef0123456789abcdef".into(),
        ),
        ("CallStatus".into(), "in-progress".into()),
    ];
    for i in pairs.len()..n {
        pairs.push((format!("MediaContentType{i}"), format!("image/jpeg;{i}")));
    }
    pairs.truncate(n);
    FormParams::from_pairs(pairs).encode().into_bytes()
}

/// The algorithm before issue 16: for each distinct name, a scan of every
/// pair for its values.
fn pre_fix_signature(token: &str, url: &str, params: &FormParams) -> String {
    let mut names: Vec<&str> = params.pairs().iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let mut data = url.to_string();
    for name in names {
        let mut values: Vec<&str> = params.get_all(name).collect();
        values.sort_unstable();
        values.dedup();
        for value in values {
            data.push_str(name);
            data.push_str(value);
        }
    }
    let mut mac = Hmac::<Sha1>::new_from_slice(token.as_bytes()).unwrap();
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn verification(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_bounded+validate");
    for n in COUNTS {
        let body = body(n);
        let params = FormParams::parse_bounded(&body, ParamLimits::TWILIO_WEBHOOK).unwrap();
        let signature = compute_signature(TOKEN, URL, &params);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &body, |b, body| {
            b.iter(|| {
                let params =
                    FormParams::parse_bounded(black_box(body), ParamLimits::TWILIO_WEBHOOK)
                        .unwrap();
                validate(&[TOKEN], URL, &params, body, Some(&signature)).unwrap();
            })
        });
    }
    group.finish();

    // Same work as the pre-fix function below: one signature, parsed params.
    let mut group = c.benchmark_group("compute_signature");
    for n in COUNTS {
        let params = FormParams::parse(&body(n));
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &params, |b, params| {
            b.iter(|| compute_signature(TOKEN, URL, black_box(params)))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("pre_fix_signature");
    for n in COUNTS {
        let body = body(n);
        let params = FormParams::parse(&body);
        assert_eq!(
            pre_fix_signature(TOKEN, URL, &params),
            compute_signature(TOKEN, URL, &params)
        );
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &params, |b, params| {
            b.iter(|| pre_fix_signature(TOKEN, URL, black_box(params)))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = verification
}
criterion_main!(benches);
