//! The bearer-token verifier: every JWT and introspection provider behind one `verify`.
//!
//! A token of three dot-separated segments is a JWT, verified locally by the provider its
//! `iss` names; anything else is opaque and goes to the introspection providers. The shape
//! checks here run before any parsing: size cap, characters, and the header fields that would
//! let a token choose its own key or type. A JWT that verified recently is found by its
//! SHA-256 in its provider's verified-token cache before any parsing at all.

use std::collections::BTreeSet;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::Header;
use serde::Deserialize;
use tokio::task::{JoinHandle, JoinSet};

use crate::auth::AuthError;
use crate::auth::idp_http::{self, fingerprint, token_digest};
use crate::auth::introspection::{Answer, IntrospectionProvider};
use crate::auth::jwt::JwtProvider;
use crate::config::{AuthSettings, ConfigError, EnvLookup};
use crate::principal::Principal;

/// Longest token accepted, in bytes. Real access tokens are 1-2 KiB.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Verifies JWT and opaque access tokens against the configured providers.
///
/// Cheap to clone; clones share keys, caches and refresh state.
#[derive(Clone)]
pub struct TokenVerifier {
    inner: Arc<Providers>,
}

struct Providers {
    jwt: Vec<JwtProvider>,
    introspection: Vec<IntrospectionProvider>,
}

impl fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("jwt", &self.inner.jwt)
            .field("introspection", &self.inner.introspection)
            .finish()
    }
}

impl TokenVerifier {
    /// Builds every provider of `[auth]`, reading secrets from the process environment, and
    /// fetches each `jwks_url` once (a failed fetch is reported by [`Self::readiness`], not
    /// fatal). `policy_names` are the policies the service defines.
    pub async fn from_config(
        cfg: &AuthSettings,
        policy_names: &BTreeSet<String>,
    ) -> Result<Self, ConfigError> {
        Self::from_config_with_env(cfg, policy_names, &|var| std::env::var(var).ok()).await
    }

    /// As [`Self::from_config`], with secrets looked up through `env`.
    pub async fn from_config_with_env(
        cfg: &AuthSettings,
        policy_names: &BTreeSet<String>,
        env: EnvLookup<'_>,
    ) -> Result<Self, ConfigError> {
        let http = idp_http::client()
            .map_err(|e| ConfigError::key("auth", format!("cannot start HTTP client: {e}")))?;
        let mut names = BTreeSet::new();
        let mut issuers = BTreeSet::new();
        let mut jwt = Vec::with_capacity(cfg.jwt.len());
        for (i, p) in cfg.jwt.iter().enumerate() {
            if !names.insert(p.name.clone()) || !issuers.insert(p.issuer.clone()) {
                return Err(ConfigError::key(
                    format!("auth.jwt[{i}]"),
                    format!("name `{}` or issuer `{}` is used twice", p.name, p.issuer),
                ));
            }
            jwt.push(JwtProvider::new(i, p, policy_names, env, &http)?);
        }
        let mut introspection = Vec::with_capacity(cfg.introspection.len());
        for (i, p) in cfg.introspection.iter().enumerate() {
            if !names.insert(p.name.clone()) {
                return Err(ConfigError::key(
                    format!("auth.introspection[{i}].name"),
                    format!("provider name `{}` is used twice", p.name),
                ));
            }
            introspection.push(IntrospectionProvider::new(i, p, policy_names, env, &http)?);
        }
        for remote in jwt.iter().filter_map(JwtProvider::remote_keys) {
            remote.refresh().await;
        }
        Ok(TokenVerifier {
            inner: Arc::new(Providers { jwt, introspection }),
        })
    }

    /// Whether any provider is configured; without one every token is refused.
    pub fn is_empty(&self) -> bool {
        self.inner.jwt.is_empty() && self.inner.introspection.is_empty()
    }

    /// Who the token's bearer is and which policy applies, or why not.
    pub async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let result = self.verify_inner(token).await;
        match &result {
            Ok(p) => tracing::debug!(token = %fingerprint(token), provider = %p.credential_id,
                subject = %p.subject, policy = %p.policy, "token accepted"),
            Err(e) => tracing::debug!(token = %fingerprint(token), reason = %e, "token refused"),
        }
        result
    }

    async fn verify_inner(&self, token: &str) -> Result<Principal, AuthError> {
        if token.is_empty() {
            return Err(AuthError::Missing);
        }
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::Invalid("the token is too large"));
        }
        // RFC 6750 b64token characters; anything else cannot be a bearer token.
        if !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b))
        {
            return Err(AuthError::Invalid(
                "the token contains characters a bearer token cannot have",
            ));
        }
        if token.split('.').count() == 3 {
            self.verify_jwt(token).await
        } else {
            self.verify_opaque(token).await
        }
    }

    async fn verify_jwt(&self, token: &str) -> Result<Principal, AuthError> {
        if self.inner.jwt.is_empty() {
            return Err(AuthError::Invalid(
                "JWT access tokens are not accepted here",
            ));
        }
        // Only the provider that verified a token can hold its digest, and every check
        // skipped here depends on the token's bytes alone, so a hit would pass them again.
        let digest = token_digest(token);
        if let Some(principal) = self.inner.jwt.iter().find_map(|p| p.cached(&digest)) {
            return Ok(principal);
        }
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| AuthError::Invalid("the token's header is malformed"))?;
        check_header(&header)?;
        let provider = self.jwt_provider_for(token)?;
        provider.verify(token, digest, &header).await
    }

    /// How many JWTs the verified-token caches hold, after pending evictions ran: the
    /// tokens that would pass now without a signature check. For tests and diagnostics.
    pub fn cached_jwt_count(&self) -> u64 {
        self.inner.jwt.iter().map(JwtProvider::cached_count).sum()
    }

    /// The provider named by the token's `iss`, read before verification only to pick whose
    /// keys verify it.
    fn jwt_provider_for(&self, token: &str) -> Result<&JwtProvider, AuthError> {
        #[derive(Deserialize)]
        struct Issuer {
            iss: Option<serde_json::Value>,
        }
        let claims: Issuer = jsonwebtoken::dangerous::insecure_decode_claims(token)
            .map_err(|_| AuthError::Invalid("the token's payload is malformed"))?;
        let Some(serde_json::Value::String(iss)) = claims.iss else {
            return Err(AuthError::Invalid("the token has no iss claim"));
        };
        self.inner
            .jwt
            .iter()
            .find(|p| p.issuer() == iss)
            .ok_or(AuthError::Invalid("the token's issuer is not trusted"))
    }

    async fn verify_opaque(&self, token: &str) -> Result<Principal, AuthError> {
        if self.inner.introspection.is_empty() {
            return Err(AuthError::Invalid(
                "the token is not a JWT and opaque tokens are not accepted here",
            ));
        }
        let mut unavailable = None;
        for provider in &self.inner.introspection {
            match provider.answer(token).await {
                Ok(Answer::Active { claims, .. }) => return provider.principal(&claims),
                Ok(Answer::Inactive { .. }) => {}
                Err(e) => unavailable = Some(e),
            }
        }
        Err(unavailable.unwrap_or(AuthError::Invalid(
            "the token is not active (expired, revoked or unknown); get a new one",
        )))
    }

    /// How long ago each `jwks_url` provider's current keys were fetched, by provider name
    /// (providers whose keys never loaded are left out: readiness reports them).
    pub fn jwks_ages(&self) -> Vec<(String, Duration)> {
        self.inner
            .jwt
            .iter()
            .filter_map(|p| Some((p.name().to_owned(), p.remote_keys()?.age()?)))
            .collect()
    }

    /// Each remote dependency and its health, for `/readyz` and the dependency gauge:
    /// `jwks:NAME` for every provider with a `jwks_url`, `introspection:NAME` for every
    /// introspection provider; `None` when up (or not called yet), else what is wrong.
    pub fn dependencies(&self) -> Vec<(String, Option<String>)> {
        let jwt = self.inner.jwt.iter().filter_map(|p| {
            let remote = p.remote_keys()?;
            Some((format!("jwks:{}", p.name()), remote.problem()))
        });
        let introspection = self
            .inner
            .introspection
            .iter()
            .map(|p| (format!("introspection:{}", p.name()), p.last_failure()));
        jwt.chain(introspection).collect()
    }

    /// The dependencies that are down, as `NAME: what is wrong`.
    pub fn problems(&self) -> Vec<String> {
        self.dependencies()
            .into_iter()
            .filter_map(|(name, problem)| Some(format!("{name}: {}", problem?)))
            .collect()
    }

    /// Whether any token could pass on this instance now: a JWT provider holds keys (fixed
    /// ones, or a key set that loaded), or an introspection provider is configured (whether
    /// its endpoint answers is known only by calling it, and it answers every replica alike).
    pub fn can_verify(&self) -> bool {
        !self.inner.introspection.is_empty()
            || self
                .inner
                .jwt
                .iter()
                .any(|p| p.remote_keys().is_none_or(|r| r.current().is_some()))
    }

    /// Starts refreshing every `jwks_url` in the background until `shutdown` completes or the
    /// returned task is dropped. Must be called inside a Tokio runtime when any provider has a
    /// `jwks_url`.
    pub fn spawn_key_refresh<F>(&self, shutdown: F) -> KeyRefreshTask
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let remotes: Vec<_> = self
            .inner
            .jwt
            .iter()
            .filter_map(JwtProvider::remote_keys)
            .cloned()
            .collect();
        if remotes.is_empty() {
            // Nothing to refresh: no task, so building a configuration without a
            // `jwks_url` needs no runtime.
            return KeyRefreshTask { handle: None };
        }
        let handle = tokio::spawn(async move {
            let mut loops = JoinSet::new();
            for remote in remotes {
                tracing::debug!(provider = remote.provider(), "JWKS refresh started");
                loops.spawn(remote.refresh_loop());
            }
            shutdown.await;
            loops.shutdown().await;
        });
        KeyRefreshTask {
            handle: Some(handle),
        }
    }
}

/// Refuses what the header may not decide: its own key, and a type other than a JWT.
fn check_header(header: &Header) -> Result<(), AuthError> {
    if header.jwk.is_some() || header.jku.is_some() || header.x5u.is_some() || header.x5c.is_some()
    {
        return Err(AuthError::Invalid(
            "the token names its own key (jwk, jku, x5u or x5c), which is never trusted",
        ));
    }
    match header
        .typ
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("jwt" | "at+jwt" | "application/jwt" | "application/at+jwt") => Ok(()),
        Some(_) => Err(AuthError::Invalid("the token's typ is not JWT or at+jwt")),
    }
}

/// The background JWKS refresh; stops when its shutdown signal fires or when dropped.
#[derive(Debug)]
pub struct KeyRefreshTask {
    handle: Option<JoinHandle<()>>,
}

impl KeyRefreshTask {
    /// Waits until the task has stopped (after its shutdown signal).
    pub async fn stopped(mut self) {
        if let Some(handle) = self.handle.take() {
            // A cancelled or panicked refresh task has stopped too.
            let _ = handle.await;
        }
    }

    /// Whether the task has stopped.
    pub fn is_finished(&self) -> bool {
        self.handle.as_ref().is_none_or(JoinHandle::is_finished)
    }
}

impl Drop for KeyRefreshTask {
    fn drop(&mut self) {
        if let Some(handle) = &self.handle {
            handle.abort();
        }
    }
}
