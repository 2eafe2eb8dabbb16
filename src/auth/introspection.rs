//! Opaque access tokens, checked by asking the issuer (OAuth2 token introspection, RFC 7662).
//!
//! Answers are cached by the token's SHA-256, never the token: an active answer for at most
//! `cache_ttl_secs` and never past the token's `exp`, an inactive one for
//! `negative_cache_ttl_secs`. An endpoint that is down, slow or answers garbage makes the
//! caller [`AuthError::Unavailable`]: no answer is never taken as a yes.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::auth::AuthError;
use crate::auth::claims::{
    Claims, SubjectClaims, claim_strings, now_unix, numeric_date, until_unix,
};
use crate::auth::idp_http::{FetchError, send_capped, token_digest};
use crate::auth::permission::AccessRules;
use crate::config::{ConfigError, EnvLookup, IntrospectionProviderSettings, required_secret};
use crate::principal::{CredentialKind, Principal};

/// Largest introspection answer accepted, in bytes.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// What the endpoint said about a token, and how long that may be reused.
#[derive(Clone)]
pub(crate) enum Answer {
    Active { claims: Arc<Claims>, ttl: Duration },
    Inactive { ttl: Duration },
}

/// Gives each cached answer its own lifetime.
struct AnswerExpiry;

impl Expiry<[u8; 32], Answer> for AnswerExpiry {
    fn expire_after_create(&self, _: &[u8; 32], answer: &Answer, _: Instant) -> Option<Duration> {
        match answer {
            Answer::Active { ttl, .. } | Answer::Inactive { ttl } => Some(*ttl),
        }
    }
}

/// One `[[auth.introspection]]` provider.
pub(crate) struct IntrospectionProvider {
    name: String,
    url: String,
    client_id: String,
    client_secret: SecretString,
    http: reqwest::Client,
    timeout: Duration,
    positive_ttl: Duration,
    negative_ttl: Duration,
    cache: Cache<[u8; 32], Answer>,
    issuer: Option<String>,
    audiences: Vec<String>,
    subject: SubjectClaims,
    access: AccessRules,
    /// Why and when the last call failed, if it did; cleared by the next good answer.
    last_failure: Mutex<Option<(FetchError, Instant)>>,
}

impl fmt::Debug for IntrospectionProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntrospectionProvider")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .finish_non_exhaustive()
    }
}

impl IntrospectionProvider {
    pub(crate) fn new(
        index: usize,
        cfg: &IntrospectionProviderSettings,
        policy_names: &BTreeSet<String>,
        env: EnvLookup<'_>,
        http: &reqwest::Client,
    ) -> Result<Self, ConfigError> {
        let key = |field: &str| format!("auth.introspection[{index}].{field}");
        if cfg.name.is_empty() || cfg.client_id.is_empty() {
            return Err(ConfigError::key(
                key("name"),
                "name and client_id are required",
            ));
        }
        let url = &cfg.introspection_url;
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(ConfigError::key(
                key("introspection_url"),
                "must be an http(s) URL",
            ));
        }
        if cfg.timeout_ms == 0 || cfg.cache_max_entries == 0 {
            return Err(ConfigError::key(
                key("timeout_ms"),
                "timeout_ms and cache_max_entries must be positive",
            ));
        }
        let client_secret =
            required_secret(&key("client_secret_env"), &cfg.client_secret_env, env)?;
        Ok(IntrospectionProvider {
            name: cfg.name.clone(),
            url: url.clone(),
            client_id: cfg.client_id.clone(),
            client_secret,
            http: http.clone(),
            timeout: Duration::from_millis(cfg.timeout_ms),
            positive_ttl: Duration::from_secs(cfg.cache_ttl_secs),
            negative_ttl: Duration::from_secs(cfg.negative_cache_ttl_secs),
            cache: Cache::builder()
                .max_capacity(cfg.cache_max_entries)
                .expire_after(AnswerExpiry)
                .build(),
            issuer: cfg.issuer.clone(),
            audiences: cfg.audiences.clone(),
            subject: SubjectClaims {
                primary: cfg.subject_claim.clone(),
                fallback: cfg.subject_fallback_claim.clone(),
            },
            access: AccessRules::new(&cfg.access, policy_names, &key("access"))?,
            last_failure: Mutex::new(None),
        })
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Why the last call failed and how long ago, if it failed; `None` when it succeeded
    /// or no call was made yet. Reported by `/readyz` and the dependency gauge, never a
    /// reason to be unready: the endpoint serves every replica alike, and it is only called
    /// for traffic, so an unready instance would never see it recover.
    pub(crate) fn last_failure(&self) -> Option<String> {
        self.last_failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .map(|(why, at)| {
                format!(
                    "last call {} ({} s ago)",
                    why.as_str(),
                    at.elapsed().as_secs()
                )
            })
    }

    /// The endpoint's answer, from the cache or a call; concurrent lookups of one token share
    /// one call.
    pub(crate) async fn answer(&self, token: &str) -> Result<Answer, AuthError> {
        self.cache
            .try_get_with(token_digest(token), self.introspect(token))
            .await
            .map_err(|_| AuthError::Unavailable("the token introspection endpoint is unavailable"))
    }

    /// The caller behind an active answer, or why they are refused.
    pub(crate) fn principal(&self, claims: &Claims) -> Result<Principal, AuthError> {
        match numeric_date(claims, "exp") {
            Ok(Some(exp)) if exp <= now_unix() => {
                return Err(AuthError::Invalid("the token has expired; get a new one"));
            }
            Ok(_) => {}
            Err(()) => return Err(AuthError::Invalid("the token's exp is not a date")),
        }
        if let Some(issuer) = &self.issuer
            && claims.get("iss").and_then(Value::as_str) != Some(issuer.as_str())
        {
            return Err(AuthError::Invalid("the token's issuer is not trusted"));
        }
        if !self.audiences.is_empty()
            && !claim_strings(claims, "aud")
                .iter()
                .any(|aud| self.audiences.iter().any(|a| a == aud))
        {
            return Err(AuthError::Invalid(
                "the token is not meant for this service (aud)",
            ));
        }
        let subject = self.subject.pick(claims).ok_or(AuthError::Invalid(
            "the token names no caller (sub or client_id)",
        ))?;
        let policy = self.access.decide(claims)?;
        Ok(Principal {
            subject,
            policy,
            credential_id: self.name.clone(),
            kind: CredentialKind::Introspection,
        })
    }

    async fn introspect(&self, token: &str) -> Result<Answer, FetchError> {
        let result = self.call(token).await;
        let failure = result.as_ref().err().copied();
        if let Some(reason) = failure {
            tracing::warn!(provider = %self.name, url = %self.url, reason = reason.as_str(),
                "token introspection failed");
        }
        *self
            .last_failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = failure.map(|why| (why, Instant::now()));
        result
    }

    async fn call(&self, token: &str) -> Result<Answer, FetchError> {
        // RFC 6749 2.3.1: client id and secret are form-encoded before Basic encoding.
        let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let request = self
            .http
            .post(&self.url)
            .basic_auth(
                encode(&self.client_id),
                Some(encode(self.client_secret.expose_secret())),
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&[("token", token), ("token_type_hint", "access_token")]);
        let body = send_capped(request, self.timeout, MAX_ANSWER_BYTES).await?;
        let Ok(Value::Object(mut claims)) = serde_json::from_slice::<Value>(&body) else {
            return Err(FetchError::Garbage);
        };
        match claims.remove("active") {
            Some(Value::Bool(true)) => {}
            Some(Value::Bool(false)) => {
                return Ok(Answer::Inactive {
                    ttl: self.negative_ttl,
                });
            }
            _ => return Err(FetchError::Garbage),
        }
        let ttl = match numeric_date(&claims, "exp") {
            Ok(Some(exp)) => until_unix(exp).min(self.positive_ttl),
            Ok(None) => self.positive_ttl,
            Err(()) => return Err(FetchError::Garbage),
        };
        Ok(Answer::Active {
            claims: Arc::new(claims),
            ttl,
        })
    }
}
