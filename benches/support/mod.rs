//! Shared set-up for the benches: signing parameters, a service state with a generated
//! API key (built the way `tests/support/app.rs` builds it), and the clock they read.
//!
//! `keys.rs` (JWT keys generated per run) and `reference.rs` (the signer as first written)
//! are shared with the integration tests, which include them from here by path: the
//! benches do not reach into `tests/`.
//!
//! The benches measure the CPU time of the bench thread, not wall time: on a shared
//! machine (two cores, other engineers compiling) wall time also counts the time the
//! thread waited for a core, which says nothing about the code. Every bench here runs on
//! that one thread (a current-thread runtime for the router), so on an idle machine the two
//! clocks agree. Set `BENCH_CLOCK=wall` to get criterion's usual wall clock instead.

#![allow(dead_code)] // each bench binary uses a different part of this module

pub mod jwt;
/// JWT signing keys generated per run (shared with the tests' `support::keys`).
pub mod keys;
/// The signer as first written, and the V3 parameters (shared with the tests'
/// `support::reference`, the oracle of `tests/signature/signer.rs`).
pub mod reference;

use std::time::{Duration, Instant};

use criterion::Criterion;
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use secrecy::SecretString;
use vodsign::VodCredentials;
use vodsign::config::{ApiKeySettings, PolicySettings, Settings};
use vodsign::signature::{SecretId, SignParams, SourceContext, Validity};
use vodsign::{App, AppState};

/// The SecretKey every bench signs with (a bench needs no real one).
pub const SECRET_KEY: &[u8] = b"bench-secret-key-0123456789abcdef";

/// What most requests sign: the four required parameters, a server-written
/// sourceContext and oneTimeValid (the default policy's output).
pub fn typical_params() -> SignParams {
    let mut p = SignParams::new(
        SecretId::try_from("AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE").expect("valid"),
        1_700_000_000,
        Validity::try_from(3600).expect("valid"),
        2_081_660_421,
    );
    p.options.source_context = Some(SourceContext::try_from("user-1234567").expect("valid"));
    p.options.one_time_valid = Some(true);
    p
}

/// Every optional parameter set, with values that need escaping: the spec's V3 vector,
/// with the typical (longer) SecretId.
pub fn maximal_params() -> SignParams {
    let mut p = reference::v3_params();
    p.secret_id = SecretId::try_from("AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE").expect("valid");
    p
}

/// A built service state with one API key for policy "default"; returns the key too.
pub fn app_state() -> (AppState, String) {
    app_state_with(vodsign::config::AuthSettings::default())
}

/// As [`app_state`], trusting the JWT providers of `auth` too.
pub fn app_state_with(auth: vodsign::config::AuthSettings) -> (AppState, String) {
    let key = vodsign::generate_key("bench");
    let mut settings = Settings::default();
    settings.api_keys.push(ApiKeySettings {
        id: "bench".into(),
        sha256: vodsign::hash_key(&key),
        subject: "user-1234567".into(),
        policy: "default".into(),
    });
    settings
        .policies
        .insert("default".into(), PolicySettings::default());
    settings.auth = auth;
    let credentials = VodCredentials {
        secret_id: SecretId::try_from("AKIDbench").expect("valid"),
        secret_key: SecretString::from(String::from_utf8_lossy(SECRET_KEY).into_owned()),
        placeholder: false,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let app = runtime
        .block_on(App::build(settings, credentials))
        .expect("bench settings are valid");
    (app.into_state(), key)
}

/// Thread CPU time (`CLOCK_THREAD_CPUTIME_ID`), or wall time when `BENCH_CLOCK=wall`.
pub struct BenchClock {
    wall: WallTime,
    use_wall: bool,
}

pub enum Start {
    Cpu(cpu_time::ThreadTime),
    Wall(Instant),
}

impl Measurement for BenchClock {
    type Intermediate = Start;
    type Value = Duration;

    fn start(&self) -> Start {
        if self.use_wall {
            Start::Wall(Instant::now())
        } else {
            Start::Cpu(cpu_time::ThreadTime::now())
        }
    }
    fn end(&self, start: Start) -> Duration {
        match start {
            Start::Cpu(t) => t.elapsed(),
            Start::Wall(t) => t.elapsed(),
        }
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        self.wall.formatter()
    }
}

/// Criterion reading [`BenchClock`].
pub fn criterion() -> Criterion<BenchClock> {
    let use_wall = std::env::var("BENCH_CLOCK").is_ok_and(|v| v == "wall");
    Criterion::default().with_measurement(BenchClock {
        wall: WallTime,
        use_wall,
    })
}
