//! Any text as a signature: decoding, strict parameter parsing and `inspect` must refuse
//! or explain it, never panic; and whatever decodes to valid parameters must encode back
//! to the same parameters.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vodsign::inspect::inspect;
use vodsign::signature::{DecodedSignature, Signer, encode};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let signer = Signer::new(b"fuzz-key");
    if let Ok(report) = inspect(text, Some(&signer), 1_700_000_000) {
        let _ = report.render();
        let _ = report.is_valid();
    }
    let Ok(decoded) = DecodedSignature::decode(text) else {
        return;
    };
    let _ = decoded.pairs();
    let _ = signer.verifies(&decoded);
    if let Ok(params) = decoded.params() {
        let again = DecodedSignature {
            mac: decoded.mac,
            original: encode::original(&params),
        };
        assert_eq!(again.params(), Ok(params), "encode/decode round trip");
    }
});
