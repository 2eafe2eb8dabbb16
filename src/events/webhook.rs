//! Standard Webhooks: the message id, and the signature a receiver checks with any of the
//! specification's libraries.
//!
//! `webhook-signature` is `v1,` and the Base64 of HMAC-SHA256 over
//! `"{webhook-id}.{webhook-timestamp}.{body}"`, keyed with the Base64-decoded part of the
//! endpoint's `whsec_…` secret. The id is made once per message and kept across retries,
//! so the receiver can use it as its idempotency key; the timestamp is that of each attempt.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use rand::RngCore as _;
use secrecy::{ExposeSecret, SecretSlice};
use sha2::Sha256;

use crate::config::{ConfigError, EnvLookup, required_secret};

/// The prefix of a secret as the specification writes it.
pub const SECRET_PREFIX: &str = "whsec_";

/// Fewest bytes of key a secret must hold (the specification's minimum).
pub const MIN_SECRET_BYTES: usize = 24;

/// An endpoint's signing key. Its `Debug` never shows it.
#[derive(Clone)]
pub struct WebhookSecret(SecretSlice<u8>);

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret([REDACTED])")
    }
}

impl WebhookSecret {
    /// Reads `whsec_<base64>` (the prefix may be left out); the error states the rule,
    /// never the text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let encoded = text.strip_prefix(SECRET_PREFIX).unwrap_or(text);
        let bytes = STANDARD.decode(encoded).map_err(|_| {
            "is not a Standard Webhooks secret: expected whsec_ and Base64 (generate one with \
             `echo whsec_$(openssl rand -base64 32)`)"
                .to_owned()
        })?;
        if bytes.len() < MIN_SECRET_BYTES {
            return Err(format!(
                "holds {} bytes of key; at least {MIN_SECRET_BYTES} are needed",
                bytes.len()
            ));
        }
        Ok(WebhookSecret(SecretSlice::from(bytes)))
    }

    /// The secret in variable `var` (or the file `<var>_FILE` names), for the setting
    /// `key`; a missing or malformed secret is an error naming both, never the secret.
    pub fn from_lookup(key: &str, var: &str, env: EnvLookup<'_>) -> Result<Self, ConfigError> {
        let text = required_secret(key, var, env)?;
        Self::parse(text.expose_secret())
            .map_err(|rule| ConfigError::key(key, format!("{var} {rule}")))
    }

    /// `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.0.expose_secret())
            .expect("HMAC takes a key of any length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// A new message id: `msg_` and 128 random bits in URL-safe Base64.
pub fn new_message_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    format!("msg_{}", URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

    #[test]
    fn the_specifications_vector() {
        let secret = WebhookSecret::parse(SPEC_SECRET).expect("a valid secret");
        let signature = secret.sign(
            "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            1_649_367_553,
            br#"{"email":"test@example.com","username":"test_user"}"#,
        );
        assert_eq!(signature, "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=");
    }

    #[test]
    fn every_part_is_signed() {
        let secret = WebhookSecret::parse(SPEC_SECRET).expect("valid");
        let base = secret.sign("msg_a", 1, b"{}");
        assert_ne!(base, secret.sign("msg_b", 1, b"{}"));
        assert_ne!(base, secret.sign("msg_a", 2, b"{}"));
        assert_ne!(base, secret.sign("msg_a", 1, b"{ }"));
        let other = WebhookSecret::parse("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").expect("valid");
        assert_ne!(base, other.sign("msg_a", 1, b"{}"));
    }

    #[test]
    fn malformed_secrets_are_refused_without_echo() {
        for bad in ["whsec_not base64!", "whsec_c2hvcnQ=", "", "whsec_"] {
            let e = WebhookSecret::parse(bad).expect_err("refused");
            let body = bad.trim_start_matches(SECRET_PREFIX);
            assert!(body.is_empty() || !e.contains(body), "{e}");
        }
        assert!(WebhookSecret::parse("C2FVsBQIhrscChlQIMV+b5sSYspob7oD").is_ok());
    }

    #[test]
    fn secrets_load_from_the_environment_and_never_show() {
        let env = |var: &str| (var == "APP_SECRET").then(|| SPEC_SECRET.to_owned());
        let secret =
            WebhookSecret::from_lookup("webhooks.endpoints[0].secret_env", "APP_SECRET", &env)
                .expect("loads");
        let debug = format!("{secret:?}");
        assert!(
            !debug.contains("C2FV") && debug.contains("REDACTED"),
            "{debug}"
        );
        let missing = WebhookSecret::from_lookup("webhooks.endpoints[0].secret_env", "NOPE", &env)
            .expect_err("missing");
        assert!(missing.to_string().contains("NOPE"), "{missing}");
        let short = |var: &str| (var == "S").then(|| "whsec_c2VjcmV0LXBhc3RlZA==".to_owned());
        let e = WebhookSecret::from_lookup("k", "S", &short)
            .expect_err("short")
            .to_string();
        assert!(e.contains("at least 24") && !e.contains("c2VjcmV0"), "{e}");
    }

    #[test]
    fn message_ids_are_prefixed_and_distinct() {
        let a = new_message_id();
        assert!(a.starts_with("msg_") && a.len() == 26, "{a}");
        assert_ne!(a, new_message_id());
    }
}
