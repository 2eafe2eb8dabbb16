//! Any TOML text as a configuration: reading it into `Settings` and validating it the way
//! `App::build` does (with placeholder credentials, no secrets) must accept it or name
//! the bad key, never panic.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use vodsign::app::{App, VodCredentials};
use vodsign::config::Settings;

/// `App::build` starts the key-refresh task, so it runs inside a runtime.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    })
}

/// Keeps a fuzzed configuration off the disk and the network: `audit.destination =
/// "file"` would create the file the text names, a `jwks_url` would be fetched, and a Redis
/// backend would be probed.
fn offline(settings: &mut Settings) {
    settings.audit = Default::default();
    settings.limits.redis_url = None;
    for provider in &mut settings.auth.jwt {
        provider.jwks_url = None;
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(mut settings) = Settings::from_toml_str(text) else {
        return;
    };
    offline(&mut settings);
    if let Err(error) = runtime().block_on(App::build(settings, VodCredentials::placeholder())) {
        assert!(!error.to_string().is_empty());
    }
});
