//! The opaque cursor of a listing: the position of the last upload shown, (created_at, seq),
//! in URL-safe Base64, so a client passes it back and never builds one.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Longest cursor text read; a longer one is refused before it is decoded.
const MAX_CURSOR_CHARS: usize = 64;

/// Where the next page starts: after the upload at this position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub(super) created_at: i64,
    pub(super) seq: i64,
}

/// A cursor this service did not write (the HTTP layer answers 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unreadable cursor: pass back the nextCursor of the previous page unchanged")]
pub struct InvalidCursor;

impl Cursor {
    /// Reads a cursor; any other text is [`InvalidCursor`].
    pub fn parse(text: &str) -> Result<Self, InvalidCursor> {
        if text.len() > MAX_CURSOR_CHARS {
            return Err(InvalidCursor);
        }
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| InvalidCursor)?;
        let plain = std::str::from_utf8(&bytes).map_err(|_| InvalidCursor)?;
        let (created_at, seq) = plain
            .strip_prefix("c1.")
            .and_then(|rest| rest.split_once('.'))
            .ok_or(InvalidCursor)?;
        Ok(Cursor {
            created_at: non_negative(created_at)?,
            seq: non_negative(seq)?,
        })
    }

    /// The text of this cursor.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("c1.{}.{}", self.created_at, self.seq))
    }
}

/// A canonical non-negative decimal: digits only, no leading zero.
fn non_negative(text: &str) -> Result<i64, InvalidCursor> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    if !canonical {
        return Err(InvalidCursor);
    }
    text.parse().map_err(|_| InvalidCursor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_cursor_round_trips() {
        let cursor = Cursor {
            created_at: 1_800_000_000,
            seq: 42,
        };
        assert_eq!(Cursor::parse(&cursor.encode()), Ok(cursor));
    }

    #[test]
    fn foreign_cursors_are_refused() {
        let encode = |s: &str| URL_SAFE_NO_PAD.encode(s);
        for bad in [
            String::new(),
            "not base64!".into(),
            encode("c1.1"),
            encode("c2.1.2"),
            encode("c1.-1.2"),
            encode("c1.01.2"),
            encode("c1.1.+2"),
            encode("c1.1.99999999999999999999"),
            "A".repeat(65),
        ] {
            assert_eq!(Cursor::parse(&bad), Err(InvalidCursor), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn parsing_never_panics(text in "\\PC{0,100}") {
            let _ = Cursor::parse(&text);
        }
    }
}
