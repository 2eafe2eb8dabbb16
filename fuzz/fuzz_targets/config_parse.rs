//! Any TOML text as a configuration: reading it into `Settings` and validating it the way
//! `App::build` does (with placeholder credentials, no secrets) must accept it or name
//! the bad key, never panic.
//! The checks live in the fuzz crate's library (`fuzz/src/lib.rs`), shared with the proptest
//! fallback.

#![no_main]

use vodsign_fuzz as harness;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        harness::config_parse(text);
    }
});
