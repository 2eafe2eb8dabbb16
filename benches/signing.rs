//! CPU cost of the pure parts: one signature (typical and maximal parameter sets), the
//! HMAC-SHA1 + Base64 floor it cannot go below, the signer as first written (`before`, so
//! the optimisation is measured side by side in one run), one API-key check, and one JWT
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
use vodsign::auth::api_key::{self, ApiKeys};
use vodsign::config::ApiKeySettings;
use vodsign::signature::{Signer, encode};

fn signing(c: &mut Criterion<BenchClock>) {
    let signer = Signer::new(support::SECRET_KEY);
    let typical = support::typical_params();
    let maximal = support::maximal_params();
    for params in [&typical, &maximal] {
        assert_eq!(
            signer.sign(params),
            before::sign(support::SECRET_KEY, params),
            "the optimised signer must not change a byte"
        );
    }
    let mut group = c.benchmark_group("sign");
    group.bench_function("typical", |b| b.iter(|| signer.sign(black_box(&typical))));
    group.bench_function("typical_before", |b| {
        b.iter(|| before::sign(support::SECRET_KEY, black_box(&typical)))
    });
    group.bench_function("maximal", |b| b.iter(|| signer.sign(black_box(&maximal))));
    group.bench_function("maximal_before", |b| {
        b.iter(|| before::sign(support::SECRET_KEY, black_box(&maximal)))
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
    let key = api_key::generate_key("mobile");
    let settings = [ApiKeySettings {
        id: "mobile".into(),
        sha256: api_key::hash_key(&key),
        subject: "app:mobile".into(),
        policy: "default".into(),
    }];
    let keys = ApiKeys::from_settings(&settings, &BTreeSet::from(["default".to_owned()]))
        .expect("valid settings");
    let wrong = api_key::generate_key("mobile");
    let mut group = c.benchmark_group("auth");
    group.bench_function("api_key/valid", |b| b.iter(|| keys.verify(black_box(&key))));
    group.bench_function("api_key/wrong_secret", |b| {
        b.iter(|| keys.verify(black_box(&wrong)))
    });
    group.finish();
}

/// The signer as it was before the optimisation (commit 2a52c4d): `write!` with
/// `Display` for every piece, then a copy of `tag || original` into a `Vec` before Base64.
/// The HMAC key schedule is done once, as `Signer::new` does.
mod before {
    use std::fmt::Write as _;
    use std::sync::OnceLock;

    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use hmac::{Hmac, Mac};
    use sha1::Sha1;
    use vodsign::signature::SignParams;
    use vodsign::signature::encode::encode_value as v;

    fn original(params: &SignParams) -> String {
        let mut out = String::with_capacity(192);
        let _ = write!(
            out,
            "secretId={}&currentTimeStamp={}&expireTime={}&random={}",
            v(params.secret_id.as_str()),
            params.current_time,
            params.expire_time(),
            params.random
        );
        if let Some(x) = params.class_id {
            let _ = write!(out, "&classId={}", x.0);
        }
        if let Some(x) = &params.procedure {
            let _ = write!(out, "&procedure={}", v(x.as_str()));
        }
        if let Some(x) = params.task_priority {
            let _ = write!(out, "&taskPriority={}", x.get());
        }
        if let Some(x) = params.task_notify_mode {
            let _ = write!(out, "&taskNotifyMode={}", x.as_str());
        }
        if let Some(x) = &params.source_context {
            let _ = write!(out, "&sourceContext={}", v(x.as_str()));
        }
        if let Some(x) = &params.session_context {
            let _ = write!(out, "&sessionContext={}", v(x.as_str()));
        }
        if let Some(x) = params.one_time_valid {
            let _ = write!(out, "&oneTimeValid={}", u8::from(x));
        }
        if let Some(x) = params.vod_sub_app_id {
            let _ = write!(out, "&vodSubAppId={}", x.0);
        }
        if let Some(x) = &params.storage_region {
            let _ = write!(out, "&storageRegion={}", x.as_str());
        }
        out
    }

    pub fn sign(key: &[u8], params: &SignParams) -> String {
        static KEYED: OnceLock<Hmac<Sha1>> = OnceLock::new();
        let keyed = KEYED.get_or_init(|| Hmac::new_from_slice(key).expect("any key length"));
        let original = original(params);
        let mut mac = keyed.clone();
        mac.update(original.as_bytes());
        let tag = mac.finalize().into_bytes();
        let mut raw = Vec::with_capacity(20 + original.len());
        raw.extend_from_slice(&tag);
        raw.extend_from_slice(original.as_bytes());
        STANDARD.encode(raw)
    }
}

criterion_group! {
    name = benches;
    config = support::criterion();
    targets = signing, api_keys
}
criterion_main!(benches);
