//! Any TOML text as a configuration: reading it into `Settings` and validating it the way
//! `App::build` does (with placeholder credentials, no secrets) must accept it or name
//! the bad key, never panic.

#![no_main]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use libfuzzer_sys::fuzz_target;
use vodsign::app::{App, VodCredentials};
use vodsign::config::Settings;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(mut settings) = Settings::from_toml_str(text) else {
        return;
    };
    // `destination = "file"` would create the file the text names: keep the fuzzer off
    // the file system.
    settings.audit = Default::default();
    // `App::build` is async but awaits nothing for these settings: one poll finishes it.
    let mut build = pin!(App::build(settings, VodCredentials::placeholder()));
    let mut context = Context::from_waker(Waker::noop());
    if let Poll::Ready(Err(error)) = build.as_mut().poll(&mut context) {
        assert!(!error.to_string().is_empty());
    }
});
