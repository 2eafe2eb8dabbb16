//! CPU cost of the pure parts: one signature (typical and maximal parameter sets), the
//! HMAC-SHA1 + Base64 floor it cannot go below, the signer as first written (`before`, from
//! `benches/support/reference.rs`, so the optimisation is measured side by side in one run), one API-key check, and one JWT
//! verification per algorithm (HS256, RS256, ES256, EdDSA).
//!
//! `cargo bench --bench signing`. Figures, not assertions: see docs/performance.md.

mod support;

use std::collections::BTreeSet;
use std::hint::black_box;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use criterion::{Criterion, criterion_group, criterion_main};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use support::BenchClock;
use vodsign::ApiKeys;
use vodsign::config::ApiKeySettings;
use vodsign::signature::{Signer, encode};

fn signing(c: &mut Criterion<BenchClock>) {
    let signer = Signer::new(support::SECRET_KEY);
    let before = support::reference::ReferenceSigner::new(support::SECRET_KEY);
    let typical = support::typical_params();
    let maximal = support::maximal_params();
    for params in [&typical, &maximal] {
        assert_eq!(
            signer.sign(params),
            before.sign(params),
            "the optimised signer must not change a byte"
        );
    }
    let mut group = c.benchmark_group("sign");
    group.bench_function("typical", |b| b.iter(|| signer.sign(black_box(&typical))));
    group.bench_function("typical_before", |b| {
        b.iter(|| before.sign(black_box(&typical)))
    });
    group.bench_function("maximal", |b| b.iter(|| signer.sign(black_box(&maximal))));
    group.bench_function("maximal_before", |b| {
        b.iter(|| before.sign(black_box(&maximal)))
    });
    group.bench_function("original_only/typical", |b| {
        b.iter(|| encode::original(black_box(&typical)))
    });
    group.bench_function("original_only/maximal", |b| {
        b.iter(|| encode::original(black_box(&maximal)))
    });
    // The floor: a keyed HMAC-SHA1 over the typical query string plus its Base64, with
    // nothing else (no encoding, no validation).
    let original = encode::original(&typical);
    let keyed = Hmac::<Sha1>::new_from_slice(support::SECRET_KEY).expect("any key length");
    group.bench_function("floor_hmac_base64/typical", |b| {
        b.iter(|| {
            let mut mac = keyed.clone();
            mac.update(black_box(original.as_bytes()));
            let tag = mac.finalize().into_bytes();
            let mut raw = [0u8; 256];
            raw[..20].copy_from_slice(&tag);
            raw[20..20 + original.len()].copy_from_slice(original.as_bytes());
            STANDARD.encode(&raw[..20 + original.len()])
        })
    });
    group.finish();
}

fn api_keys(c: &mut Criterion<BenchClock>) {
    let key = vodsign::generate_key("mobile");
    let settings = [ApiKeySettings {
        id: "mobile".into(),
        sha256: vodsign::hash_key(&key),
        subject: "app:mobile".into(),
        policy: "default".into(),
    }];
    let keys = ApiKeys::from_settings(&settings, &BTreeSet::from(["default".to_owned()]))
        .expect("valid settings");
    let wrong = vodsign::generate_key("mobile");
    let mut group = c.benchmark_group("auth");
    group.bench_function("api_key/valid", |b| b.iter(|| keys.verify(black_box(&key))));
    group.bench_function("api_key/wrong_secret", |b| {
        b.iter(|| keys.verify(black_box(&wrong)))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = support::criterion();
    targets = signing, api_keys
}
criterion_main!(benches);
