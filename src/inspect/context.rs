//! vodsign's signed context in `inspect`: a `vs1.<uploadId>.<tag>` token, as a ticket's
//! signatures carry it in `sourceContext` and `sessionContext`, or given on its own.
//!
//! A token names an upload; only its tag, checked against the context key, proves that this
//! vodsign made it. So `inspect` says which upload a token names, whether the tag verifies
//! (and with which key, after a rotation), or that it cannot tell without the key. A token
//! whose tag does not verify, or a value that starts like a token but is not one, is
//! refused: vodsign never writes either, so it is a forgery, a tampered token or another
//! deployment's, and its signature is not valid for an upload ticket. Pure: the keys are
//! an argument.

use std::fmt::Write as _;

use crate::uploads::context::{TAG_BYTES, TOKEN_PREFIX};
use crate::uploads::{ContextKeys, ContextToken, KeyMatch, UploadId};

/// The keys to check tokens with (none: not checked), and the variable they are read from,
/// which the messages name.
#[derive(Clone, Copy, Debug)]
pub struct ContextKeyring<'a> {
    pub var: &'a str,
    pub keys: Option<&'a ContextKeys>,
}

/// Whether a token's tag verifies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagCheck {
    Verified(KeyMatch),
    /// No key made it: tampered with, or made under another key.
    Mismatch,
    /// No key was given.
    NotChecked,
}

/// What a value that starts with `vs1.` is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenFinding {
    /// A well-formed token: the upload it names, and whether its tag verifies.
    Token { upload: UploadId, tag: TagCheck },
    /// Starts like a token but is not one; why.
    Malformed(String),
}

impl TokenFinding {
    /// A finding that makes its signature (or the token itself) not valid for a ticket.
    pub fn is_refused(&self) -> bool {
        matches!(
            self,
            TokenFinding::Malformed(_)
                | TokenFinding::Token {
                    tag: TagCheck::Mismatch,
                    ..
                }
        )
    }
}

impl ContextKeyring<'_> {
    /// What `text` is, when it starts like a context token; `None` for any other value.
    pub fn check(&self, text: &str) -> Option<TokenFinding> {
        if !text.starts_with(TOKEN_PREFIX) {
            return None;
        }
        Some(match ContextToken::parse(text) {
            Err(_) => TokenFinding::Malformed(why_malformed(text)),
            Ok(token) => TokenFinding::Token {
                upload: token.upload_id().clone(),
                tag: match self.keys {
                    None => TagCheck::NotChecked,
                    Some(keys) => keys
                        .verify(&token)
                        .map_or(TagCheck::Mismatch, TagCheck::Verified),
                },
            },
        })
    }

    /// One line on a tag check, naming the variable.
    pub fn describe(&self, tag: TagCheck) -> String {
        let var = self.var;
        match tag {
            TagCheck::Verified(KeyMatch::Current) => {
                format!("verified with {var} (the current key)")
            }
            TagCheck::Verified(KeyMatch::Previous(index)) => format!(
                "verified with previous key {} of {var}_PREVIOUS (made before the last \
                 rotation)",
                index + 1
            ),
            TagCheck::Mismatch => format!(
                "DOES NOT VERIFY with {var} or any previous key: tampered with, or made under \
                 another key, so not by this vodsign"
            ),
            TagCheck::NotChecked => {
                format!("not checked (set {var}, or {var}_FILE, to the context key to verify it)")
            }
        }
    }
}

/// Which part of a `vs1.` value is wrong, without quoting more than a short prefix of it.
fn why_malformed(text: &str) -> String {
    let expected = "expected vs1.<uploadId>.<tag>";
    let rest = &text[TOKEN_PREFIX.len()..];
    let Some((id, tag)) = rest.split_once('.') else {
        return format!("it has no tag; {expected}");
    };
    if UploadId::parse(id).is_err() {
        return format!(
            "its upload id is not upl_ and 22 characters of URL-safe Base64; {expected}"
        );
    }
    let tag_chars = (TAG_BYTES * 4).div_ceil(3);
    if tag.len() != tag_chars {
        return format!(
            "its tag has {} characters, not {tag_chars}; {expected}",
            tag.chars().count()
        );
    }
    format!("its tag is not URL-safe Base64 without padding; {expected}")
}

/// `inspect` given a token on its own.
#[derive(Clone, Debug)]
pub struct TokenReport {
    pub finding: TokenFinding,
    var: String,
}

/// Describes the token `text` (which starts with `vs1.`; anything else is malformed).
pub fn inspect_token(text: &str, keyring: ContextKeyring<'_>) -> TokenReport {
    let finding = keyring.check(text).unwrap_or_else(|| {
        TokenFinding::Malformed("it does not start with vs1.; expected vs1.<uploadId>.<tag>".into())
    });
    TokenReport {
        finding,
        var: keyring.var.to_owned(),
    }
}

impl TokenReport {
    /// Valid: well formed, and its tag verified or not checked (no key).
    pub fn is_valid(&self) -> bool {
        !self.finding.is_refused()
    }

    pub fn render(&self) -> String {
        let keyring = ContextKeyring {
            var: &self.var,
            keys: None,
        };
        let mut out = String::new();
        match &self.finding {
            TokenFinding::Malformed(why) => {
                let _ = writeln!(out, "not a vodsign context token: {why}");
                let _ = writeln!(out, "verdict: INVALID");
            }
            TokenFinding::Token { upload, tag } => {
                let _ = writeln!(out, "vodsign context token (vs1)");
                let _ = writeln!(out, "upload: {upload}");
                let _ = writeln!(out, "tag: {}", keyring.describe(*tag));
                let verdict = match tag {
                    TagCheck::Verified(_) => format!("GENUINE: made by vodsign for {upload}"),
                    TagCheck::NotChecked => format!(
                        "WELL FORMED, NOT VERIFIED: it names {upload}, but only its tag proves \
                         that vodsign made it"
                    ),
                    TagCheck::Mismatch => {
                        "REFUSED: forged, tampered with or foreign; not valid for an upload \
                         ticket"
                            .to_owned()
                    }
                };
                let _ = writeln!(out, "verdict: {verdict}");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uploads::ContextKey;

    fn keys(current: &str, previous: &[&str]) -> ContextKeys {
        let key = |k: &str| ContextKey::new(k.as_bytes()).expect("long enough");
        ContextKeys::new(key(current), previous.iter().map(|k| key(k)).collect())
    }

    const A: &str = "inspect-context-key-a-0123456789abcdef";
    const B: &str = "inspect-context-key-b-0123456789abcdef";

    #[test]
    fn each_tag_check_is_found_and_described() {
        let id = UploadId::generate();
        let token = keys(A, &[]).token(&id).to_string();
        let (current, rotated, other) = (keys(A, &[]), keys(B, &[A]), keys(B, &[]));
        let ring = |keys| ContextKeyring {
            var: "MY_KEY",
            keys,
        };
        let check = |keys| ring(keys).check(&token).expect("a token");
        assert_eq!(
            check(Some(&current)),
            TokenFinding::Token {
                upload: id.clone(),
                tag: TagCheck::Verified(KeyMatch::Current)
            }
        );
        let previous = check(Some(&rotated));
        assert_eq!(
            previous,
            TokenFinding::Token {
                upload: id.clone(),
                tag: TagCheck::Verified(KeyMatch::Previous(0))
            }
        );
        let foreign = check(Some(&other));
        assert!(foreign.is_refused());
        assert!(!check(None).is_refused());
        assert!(
            ring(None)
                .describe(TagCheck::Verified(KeyMatch::Previous(0)))
                .contains("previous key 1 of MY_KEY_PREVIOUS")
        );
        assert!(
            ring(None)
                .describe(TagCheck::NotChecked)
                .contains("set MY_KEY")
        );
        assert_eq!(ring(None).check("upl_x"), None, "not a token at all");
    }

    #[test]
    fn each_malformed_part_is_named() {
        let token = keys(A, &[]).token(&UploadId::generate()).to_string();
        let (head, tag) = token.rsplit_once('.').expect("a tag");
        for (bad, why) in [
            ("vs1.upl_x".to_owned(), "no tag"),
            (format!("vs1.upl_short.{tag}"), "upload id"),
            (format!("{head}.{tag}A"), "23 characters, not 22"),
            (format!("{head}.{}+", &tag[1..]), "not URL-safe Base64"),
        ] {
            let report = inspect_token(
                &bad,
                ContextKeyring {
                    var: "K",
                    keys: None,
                },
            );
            assert!(!report.is_valid(), "{bad}");
            assert!(report.render().contains(why), "{bad}: {}", report.render());
        }
    }
}
