//! Any `Authorization` header value: extracting the bearer credential, checking it as an
//! API key, and reading it as a JWT (header, `iss`, shape checks) must answer a credential
//! or a refusal, never panic.
//! The checks live in `tests/fuzz_harness`, shared with the proptest fallback.

#![no_main]

#[path = "../../tests/fuzz_harness/mod.rs"]
mod harness;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| harness::bearer_header(data));
