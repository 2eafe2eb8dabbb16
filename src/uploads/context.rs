//! The signed context: `vs1.<uploadId>.<tag>`, written as a ticket's `sourceContext` and
//! `sessionContext`, so an event VOD sends back names its upload and proves that vodsign
//! issued it.
//!
//! `tag` is HMAC-SHA256 of `vs1.<uploadId>` under the context key, truncated to its first
//! 128 bits and written in URL-safe Base64 without padding (22 characters). 128 bits, because
//! a forger must guess a tag blindly (the key never leaves the service and the tag is a MAC,
//! not a hash), and each guess costs them an upload to VOD that the event relay then checks:
//! 2^-128 per try is the security of the 128-bit upload id itself and of AES-GCM's tags,
//! while the token stays 53 characters, far inside VOD's 250-character limit.
//!
//! **The key** is the raw bytes of the text in the variable that `uploads.context_key_env`
//! names (default `VODSIGN_CONTEXT_KEY`), or in the file `<VAR>_FILE` names (a trailing
//! newline dropped); surrounding whitespace is ignored and at least 32 bytes are required.
//! The text is used as it is, not decoded, so it reads the same from every source; generate
//! it with `openssl rand -base64 32` (44 characters, 256 random bits). After a rotation the
//! old keys go in `<VAR>_PREVIOUS` (comma-separated) or `<VAR>_PREVIOUS_FILE` (one a line or
//! comma-separated): tokens are made with the current key and verified against every key.
//! The configuration file never holds a key.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretSlice};
use sha2::Sha256;

use super::id::UploadId;
use crate::config::{ConfigError, required_secret, secret_from_lookup};

/// The version prefix of a context token.
pub const TOKEN_PREFIX: &str = "vs1.";

/// Bytes of the MAC kept in a token: 128 bits.
pub const TAG_BYTES: usize = 16;

/// Characters of the tag in a token.
const TAG_CHARS: usize = 22;

/// Shortest context key accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 32;

/// Longest context token: `vs1.`, the upload id, `.`, the tag.
pub const TOKEN_CHARS: usize = TOKEN_PREFIX.len() + 26 + 1 + TAG_CHARS;

/// One context key. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct ContextKey(SecretSlice<u8>);

impl ContextKey {
    /// A key of at least [`MIN_KEY_BYTES`] bytes; a shorter one is refused with a rule
    /// (never the key).
    pub fn new(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() < MIN_KEY_BYTES {
            return Err(format!(
                "must be at least {MIN_KEY_BYTES} bytes (this one has {}); generate one with \
                 `openssl rand -base64 32`",
                bytes.len()
            ));
        }
        Ok(ContextKey(SecretSlice::from(bytes.to_vec())))
    }

    fn mac(&self, id: &UploadId) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.0.expose_secret())
            .expect("HMAC takes a key of any length");
        mac.update(TOKEN_PREFIX.as_bytes());
        mac.update(id.as_str().as_bytes());
        mac
    }
}

impl fmt::Debug for ContextKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ContextKey([REDACTED])")
    }
}

/// The key tokens are made with, and the previous keys still accepted.
#[derive(Clone, Debug)]
pub struct ContextKeys {
    current: ContextKey,
    previous: Vec<ContextKey>,
}

/// Which key verified a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyMatch {
    Current,
    /// The previous key at this index of the list.
    Previous(usize),
}

impl ContextKeys {
    pub fn new(current: ContextKey, previous: Vec<ContextKey>) -> Self {
        ContextKeys { current, previous }
    }

    /// The keys from the process environment: `var` or `<var>_FILE`, and the previous keys
    /// from `<var>_PREVIOUS` or `<var>_PREVIOUS_FILE`. See [`ContextKeys::from_lookup`].
    pub fn from_env(var: &str) -> Result<Self, ConfigError> {
        Self::from_lookup(var, &|name| std::env::var(name).ok())
    }

    /// The keys with the environment read through `lookup`. A missing or short key is an
    /// error naming `uploads.context_key_env` and the variable, never a key.
    pub fn from_lookup(
        var: &str,
        lookup: &(dyn Fn(&str) -> Option<String> + Sync),
    ) -> Result<Self, ConfigError> {
        const KEY: &str = "uploads.context_key_env";
        let current = required_secret(KEY, var, lookup)?;
        let current = ContextKey::new(current.expose_secret().trim().as_bytes())
            .map_err(|rule| ConfigError::key(KEY, format!("{var}: {rule}")))?;
        let previous_var = format!("{var}_PREVIOUS");
        let mut previous = Vec::new();
        let list = secret_from_lookup(&previous_var, lookup)
            .map_err(|e| ConfigError::key(KEY, e.to_string()))?;
        if let Some(list) = list {
            let keys = list
                .expose_secret()
                .split([',', '\n'])
                .map(str::trim)
                .filter(|key| !key.is_empty());
            for (index, key) in keys.enumerate() {
                let key = ContextKey::new(key.as_bytes()).map_err(|rule| {
                    ConfigError::key(KEY, format!("{previous_var}, key {}: {rule}", index + 1))
                })?;
                previous.push(key);
            }
        }
        Ok(ContextKeys::new(current, previous))
    }

    /// The token of upload `id`, made with the current key.
    pub fn token(&self, id: &UploadId) -> ContextToken {
        let digest = self.current.mac(id).finalize().into_bytes();
        let mut tag = [0u8; TAG_BYTES];
        tag.copy_from_slice(&digest[..TAG_BYTES]);
        ContextToken {
            id: id.clone(),
            tag,
        }
    }

    /// Which key made `token`'s tag, compared in constant time against the current key,
    /// then each previous one; `None` when no key did (a tampered or foreign token).
    pub fn verify(&self, token: &ContextToken) -> Option<KeyMatch> {
        let matches =
            |key: &ContextKey| key.mac(&token.id).verify_truncated_left(&token.tag).is_ok();
        if matches(&self.current) {
            return Some(KeyMatch::Current);
        }
        self.previous
            .iter()
            .position(matches)
            .map(KeyMatch::Previous)
    }
}

/// A `vs1.<uploadId>.<tag>` token, well formed (whether its tag verifies is
/// [`ContextKeys::verify`]'s question).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContextToken {
    id: UploadId,
    tag: [u8; TAG_BYTES],
}

/// A text that is not a context token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a vodsign context token: expected vs1.<uploadId>.<tag>")]
pub struct InvalidContextToken;

impl ContextToken {
    /// Reads a token; any other text, of any length or content, is [`InvalidContextToken`].
    pub fn parse(text: &str) -> Result<Self, InvalidContextToken> {
        if text.len() > TOKEN_CHARS {
            return Err(InvalidContextToken);
        }
        let rest = text.strip_prefix(TOKEN_PREFIX).ok_or(InvalidContextToken)?;
        let (id, tag) = rest.split_once('.').ok_or(InvalidContextToken)?;
        let id = UploadId::parse(id).map_err(|_| InvalidContextToken)?;
        if tag.len() != TAG_CHARS {
            return Err(InvalidContextToken);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| InvalidContextToken)?;
        let tag = <[u8; TAG_BYTES]>::try_from(bytes.as_slice()).map_err(|_| InvalidContextToken)?;
        Ok(ContextToken { id, tag })
    }

    /// The upload the token names (not proof that it is genuine: see
    /// [`ContextKeys::verify`]).
    pub fn upload_id(&self) -> &UploadId {
        &self.id
    }
}

impl fmt::Display for ContextToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{TOKEN_PREFIX}{}.{}",
            self.id,
            URL_SAFE_NO_PAD.encode(self.tag)
        )
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use proptest::prelude::*;

    const KEY_A: &str = "key-a-0123456789-0123456789-0123456789";
    const KEY_B: &str = "key-b-0123456789-0123456789-0123456789";

    fn keys(current: &str, previous: &[&str]) -> ContextKeys {
        ContextKeys::new(
            ContextKey::new(current.as_bytes()).expect("long enough"),
            previous
                .iter()
                .map(|k| ContextKey::new(k.as_bytes()).expect("long enough"))
                .collect(),
        )
    }

    fn load(env: &[(&str, String)]) -> Result<ContextKeys, ConfigError> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        ContextKeys::from_lookup("VODSIGN_CONTEXT_KEY", &move |name| env.get(name).cloned())
    }

    #[test]
    fn a_token_round_trips_and_verifies() {
        let keys = keys(KEY_A, &[]);
        let id = UploadId::generate();
        let token = keys.token(&id);
        let text = token.to_string();
        assert!(text.starts_with(&format!("vs1.{id}.")), "{text}");
        let parsed = ContextToken::parse(&text).expect("parses");
        assert_eq!(parsed.upload_id(), &id);
        assert_eq!(keys.verify(&parsed), Some(KeyMatch::Current));
    }

    #[test]
    fn the_tag_is_the_truncated_hmac_of_the_prefixed_id() {
        let id = UploadId::from_bytes([1; 16]);
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(KEY_A.as_bytes()).expect("key");
        mac.update(format!("vs1.{id}").as_bytes());
        let full = mac.finalize().into_bytes();
        let expected = format!("vs1.{id}.{}", URL_SAFE_NO_PAD.encode(&full[..16]));
        assert_eq!(keys(KEY_A, &[]).token(&id).to_string(), expected);
    }

    #[test]
    fn a_token_is_far_inside_vods_250_characters() {
        let text = keys(KEY_A, &[]).token(&UploadId::generate()).to_string();
        assert_eq!(text.len(), TOKEN_CHARS);
        assert!(text.len() <= 64, "{} characters", text.len());
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
            "{text}"
        );
    }

    #[test]
    fn tampered_and_foreign_tokens_do_not_verify() {
        let ours = keys(KEY_A, &[]);
        let id = UploadId::generate();
        let text = ours.token(&id).to_string();
        // Another upload's id with this tag.
        let other = UploadId::generate();
        let swapped = text.replace(id.as_str(), other.as_str());
        assert_eq!(
            ours.verify(&ContextToken::parse(&swapped).expect("well formed")),
            None
        );
        // One flipped tag character.
        let mut flipped = text.clone().into_bytes();
        let last = flipped.len() - 2;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).expect("ascii");
        assert_eq!(
            ours.verify(&ContextToken::parse(&flipped).expect("well formed")),
            None
        );
        // A token made under another key.
        let foreign = keys(KEY_B, &[]).token(&id);
        assert_eq!(ours.verify(&foreign), None);
    }

    #[test]
    fn previous_keys_still_verify_after_a_rotation() {
        let id = UploadId::generate();
        let old = keys(KEY_A, &[]).token(&id);
        let rotated = keys(KEY_B, &[KEY_A]);
        assert_eq!(rotated.verify(&old), Some(KeyMatch::Previous(0)));
        assert_eq!(rotated.verify(&rotated.token(&id)), Some(KeyMatch::Current));
        assert_ne!(rotated.token(&id), old, "new tokens use the new key");
    }

    #[test]
    fn malformed_tokens_are_refused() {
        let good = keys(KEY_A, &[]).token(&UploadId::generate()).to_string();
        for bad in [
            String::new(),
            "vs1.".into(),
            good.replace("vs1.", "vs2."),
            good[..good.len() - 1].to_owned(),
            format!("{good}A"),
            format!("{good}.x"),
            good.replacen('.', ":", 2),
            format!(" {good}"),
            "vs1.upl_AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAA+".into(),
        ] {
            assert_eq!(
                ContextToken::parse(&bad),
                Err(InvalidContextToken),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn debug_never_shows_a_key() {
        let keys = keys(KEY_A, &[KEY_B]);
        let debug = format!("{keys:?}");
        assert!(!debug.contains("0123456789"), "{debug}");
        assert!(debug.contains("REDACTED"), "{debug}");
    }

    #[test]
    fn keys_load_from_the_environment_or_a_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("key");
        std::fs::write(&file, format!("{KEY_A}\n")).expect("write");
        let previous = dir.path().join("previous");
        std::fs::write(&previous, format!("{KEY_B}\n{KEY_A}\n")).expect("write");
        let id = UploadId::generate();
        let direct = load(&[("VODSIGN_CONTEXT_KEY", KEY_A.into())]).expect("loads");
        let from_file = load(&[
            ("VODSIGN_CONTEXT_KEY_FILE", file.display().to_string()),
            (
                "VODSIGN_CONTEXT_KEY_PREVIOUS_FILE",
                previous.display().to_string(),
            ),
        ])
        .expect("loads");
        assert_eq!(direct.token(&id), from_file.token(&id), "the same key");
        assert_eq!(from_file.previous.len(), 2);
        let listed = load(&[
            ("VODSIGN_CONTEXT_KEY", KEY_B.into()),
            ("VODSIGN_CONTEXT_KEY_PREVIOUS", format!("{KEY_A}, ")),
        ])
        .expect("loads");
        assert_eq!(
            listed.verify(&direct.token(&id)),
            Some(KeyMatch::Previous(0))
        );
    }

    #[test]
    fn a_missing_or_short_key_is_refused_without_quoting_it() {
        let err = load(&[]).unwrap_err().to_string();
        assert!(err.contains("uploads.context_key_env"), "{err}");
        assert!(err.contains("VODSIGN_CONTEXT_KEY"), "{err}");
        let err = load(&[("VODSIGN_CONTEXT_KEY", "short-s3cr3t".into())])
            .unwrap_err()
            .to_string();
        assert!(err.contains("at least 32 bytes"), "{err}");
        assert!(!err.contains("s3cr3t"), "{err}");
        let err = load(&[
            ("VODSIGN_CONTEXT_KEY", KEY_A.into()),
            (
                "VODSIGN_CONTEXT_KEY_PREVIOUS",
                format!("{KEY_B},old-s3cr3t"),
            ),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("VODSIGN_CONTEXT_KEY_PREVIOUS, key 2"), "{err}");
        assert!(!err.contains("s3cr3t"), "{err}");
    }

    proptest! {
        #[test]
        fn parsing_never_panics(text in "\\PC{0,80}") {
            let _ = ContextToken::parse(&text);
        }

        #[test]
        fn parsing_near_tokens_never_panics(
            id in "[A-Za-z0-9_+/=-]{0,30}",
            tag in "[A-Za-z0-9_+/=.-]{0,30}",
        ) {
            let _ = ContextToken::parse(&format!("vs1.upl_{id}.{tag}"));
        }

        #[test]
        fn every_token_made_parses_and_verifies(bytes in any::<[u8; 16]>()) {
            let keys = keys(KEY_A, &[]);
            let token = keys.token(&UploadId::from_bytes(bytes));
            let parsed = ContextToken::parse(&token.to_string());
            prop_assert_eq!(parsed.as_ref(), Ok(&token));
            prop_assert_eq!(keys.verify(&token), Some(KeyMatch::Current));
        }
    }
}
