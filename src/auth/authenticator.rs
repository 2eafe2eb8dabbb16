//! The authenticator: one credential in, a proven [`Principal`] or an [`AuthError`] out.
//! The HTTP auth-check around it (failure damping, metrics, the envelope) is
//! `http::auth::require_principal`.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;

use super::{AuthError, KeyRefreshTask, TokenVerifier, api_key};
use crate::principal::Principal;

/// Holds every verifier; picks one from the credential's form: an API key by its `vsk_`
/// prefix, anything else is an access token for [`TokenVerifier`] (a JWT by its three
/// segments, else an opaque token for introspection).
#[derive(Debug)]
pub struct Authenticator {
    api_keys: api_key::ApiKeys,
    tokens: TokenVerifier,
}

impl Authenticator {
    pub fn new(api_keys: api_key::ApiKeys, tokens: TokenVerifier) -> Self {
        Self { api_keys, tokens }
    }

    pub async fn authenticate(&self, credential: &str) -> Result<Principal, AuthError> {
        if credential.starts_with(api_key::PREFIX) {
            return self.api_keys.verify(credential);
        }
        if self.tokens.is_empty() {
            return Err(AuthError::Invalid(
                "the credential is neither an API key nor an accepted access token",
            ));
        }
        self.tokens.verify(credential).await
    }

    /// Whether `credential` is verified here without a remote call: an API key, or a JWT
    /// (its provider's keys are held; an unknown `kid` refetches at most once per cooldown,
    /// for all callers together). Anything else goes to introspection.
    pub fn verifies_locally(&self, credential: &str) -> bool {
        credential.starts_with(api_key::PREFIX)
            || self.tokens.is_empty()
            || credential.split('.').count() == 3
    }

    /// `None` when some credential can pass on this instance; otherwise why none can
    /// (no API key, and no token provider holding keys): then every request would fail.
    pub fn unusable(&self) -> Option<&'static str> {
        if !self.api_keys.is_empty() || self.tokens.can_verify() {
            return None;
        }
        Some(if self.tokens.is_empty() {
            "no credential can pass: no [[api_keys]] and no [auth] provider are configured"
        } else {
            "no credential can pass: no [[api_keys]], and no token provider's signing keys \
             have loaded"
        })
    }

    /// The identity providers this instance calls and their health (see
    /// [`TokenVerifier::dependencies`]).
    pub fn dependencies(&self) -> Vec<(String, Option<String>)> {
        self.tokens.dependencies()
    }

    /// Starts the background JWKS refresh; it stops when the returned task is dropped.
    /// Age of each `jwks_url` provider's current key set (the JWKS age metric).
    pub fn jwks_ages(&self) -> Vec<(String, std::time::Duration)> {
        self.tokens.jwks_ages()
    }

    pub fn spawn_key_refresh(&self) -> KeyRefreshTask {
        self.tokens.spawn_key_refresh(std::future::pending())
    }
}

/// The bearer credential of `Authorization: Bearer <credential>`.
pub fn bearer(headers: &HeaderMap) -> Result<&str, AuthError> {
    let value = headers.get(AUTHORIZATION).ok_or(AuthError::Missing)?;
    let value = value
        .to_str()
        .map_err(|_| AuthError::Invalid("the Authorization header is not printable ASCII"))?;
    let (scheme, credential) = value.split_once(' ').ok_or(AuthError::Missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::Missing);
    }
    let credential = credential.trim();
    if credential.is_empty() {
        return Err(AuthError::Invalid("the Bearer credential is empty"));
    }
    Ok(credential)
}
