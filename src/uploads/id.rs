//! Upload ids: `upl_` and 128 random bits in URL-safe Base64 without padding (22
//! characters), so an id is unguessable, fits a URL path and a VOD context untouched, and
//! has exactly one spelling.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;

/// What every upload id starts with.
pub const UPLOAD_ID_PREFIX: &str = "upl_";

/// Random bytes in an id.
const ID_BYTES: usize = 16;

/// Characters after the prefix: 16 bytes in unpadded Base64.
const ID_CHARS: usize = 22;

/// An upload's id, always well formed.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UploadId(String);

/// A text that is not an upload id (the HTTP layer answers 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an upload id: expected upl_ and 22 characters of URL-safe Base64")]
pub struct InvalidUploadId;

impl UploadId {
    /// A new id from the thread-local CSPRNG.
    pub fn generate() -> Self {
        let mut bytes = [0u8; ID_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        Self::from_bytes(bytes)
    }

    /// The id made of these 128 bits (tests use fixed ones).
    pub fn from_bytes(bytes: [u8; ID_BYTES]) -> Self {
        UploadId(format!(
            "{UPLOAD_ID_PREFIX}{}",
            URL_SAFE_NO_PAD.encode(bytes)
        ))
    }

    /// Reads an id; anything else, of any length or content, is [`InvalidUploadId`].
    pub fn parse(text: &str) -> Result<Self, InvalidUploadId> {
        let encoded = text
            .strip_prefix(UPLOAD_ID_PREFIX)
            .filter(|rest| rest.len() == ID_CHARS)
            .ok_or(InvalidUploadId)?;
        // The decoder refuses non-zero trailing bits, so each id has one spelling.
        let bytes = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| InvalidUploadId)?;
        if bytes.len() != ID_BYTES {
            return Err(InvalidUploadId);
        }
        Ok(UploadId(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for UploadId {
    type Err = InvalidUploadId;

    fn from_str(text: &str) -> Result<Self, InvalidUploadId> {
        Self::parse(text)
    }
}

impl fmt::Display for UploadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for UploadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn generated_ids_parse_back_and_differ() {
        let a = UploadId::generate();
        let b = UploadId::generate();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), UPLOAD_ID_PREFIX.len() + ID_CHARS);
        assert_eq!(UploadId::parse(a.as_str()), Ok(a));
    }

    #[test]
    fn malformed_ids_are_refused() {
        let good = UploadId::from_bytes([7; 16]).to_string();
        let mut noncanonical = good.clone();
        // The last character carries 4 unused bits: `w` (110000) for these bytes, `x`
        // (110001) another spelling of the same bytes.
        assert!(good.ends_with('w'), "{good}");
        noncanonical.pop();
        noncanonical.push('x');
        for bad in [
            "",
            "upl_",
            "upl_short",
            &good[4..],
            &format!("{good}A"),
            &good.replace("upl_", "UPL_"),
            &format!("upl_{}", "+".repeat(22)),
            &format!("upl_{}", "é".repeat(11)),
            &noncanonical,
        ] {
            assert_eq!(UploadId::parse(bad), Err(InvalidUploadId), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn parsing_never_panics(text in "\\PC*") {
            let _ = UploadId::parse(&text);
        }

        #[test]
        fn any_bytes_round_trip(bytes in any::<[u8; 16]>()) {
            let id = UploadId::from_bytes(bytes);
            prop_assert_eq!(UploadId::parse(id.as_str()), Ok(id));
        }
    }
}
