//! Settings of the token verifiers (`crate::auth`): the `[auth]` section's `[[auth.jwt]]`
//! and `[[auth.introspection]]` tables and each provider's `access` table.
//!
//! The config file only names environment variables; the secrets themselves come from the
//! environment or from a `<VAR>_FILE` when the verifiers are built
//! ([`super::required_secret`]), so no file the service reads as configuration ever holds
//! one.
//!
//! ```toml
//! [[auth.jwt]]
//! name = "corp-idp"
//! issuer = "https://idp.example.com/"
//! audiences = ["vodsign"]
//! algorithms = ["RS256", "ES256"]
//! jwks_url = "https://idp.example.com/.well-known/jwks.json"
//! access = { required_scopes = ["vod.upload"], default_policy = "standard" }
//!
//! [[auth.introspection]]
//! name = "legacy-oauth"
//! introspection_url = "https://oauth.example.com/introspect"
//! client_id = "vodsign"
//! client_secret_env = "VODSIGN_INTROSPECTION_SECRET"
//! access = { required_claim = { claim = "roles", value = "uploader" }, policy_claim = "vod_policy" }
//! ```

use std::path::PathBuf;

use jsonwebtoken::Algorithm;
use serde::{Deserialize, Serialize};

/// The `[auth]` section: every JWT and introspection provider trusted at once.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// `[[auth.jwt]]`: identity providers whose JWT access tokens are verified locally.
    /// Default: none.
    #[serde(default)]
    pub jwt: Vec<JwtProviderSettings>,
    /// `[[auth.introspection]]`: OAuth2 servers asked about opaque tokens (RFC 7662), in the
    /// order listed; the first that calls a token active decides. Default: none.
    #[serde(default)]
    pub introspection: Vec<IntrospectionProviderSettings>,
}

/// One `[[auth.jwt]]` table. Exactly one key source must be set: `hmac_secret_env`,
/// `public_key_file`, `jwks_file` or `jwks_url`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JwtProviderSettings {
    /// Short name, unique among providers; becomes the caller's `credential_id` and shows in
    /// logs. Required.
    pub name: String,
    /// The exact `iss` of this provider's tokens; it also picks the provider for a token, so
    /// two providers may not share one. Required.
    pub issuer: String,
    /// Accepted audiences: a token's `aud` must contain at least one. Required, non-empty.
    pub audiences: Vec<String>,
    /// Signature algorithms accepted, any of HS256/384/512, RS256/384/512, PS256/384/512,
    /// ES256/384, EdDSA. Required, non-empty. The token's `alg` header must be one of these
    /// and fit the key; HS* only with `hmac_secret_env`, and never mixed with the others.
    pub algorithms: Vec<Algorithm>,
    /// Name of the environment variable holding the HMAC secret; `<VAR>_FILE` naming a file
    /// that holds it works too (set one of the two). Default: unset.
    #[serde(default)]
    pub hmac_secret_env: Option<String>,
    /// Path of a PEM public key (RSA, EC or Ed25519, matching `algorithms`). Default: unset.
    #[serde(default)]
    pub public_key_file: Option<PathBuf>,
    /// Path of a JWKS file (`{"keys": [...]}`), read once at start-up. Default: unset.
    #[serde(default)]
    pub jwks_file: Option<PathBuf>,
    /// URL of the provider's JWKS, fetched at start-up and refreshed in the background; a
    /// token with an unknown `kid` also triggers a refresh (see `jwks_refresh_cooldown_secs`).
    /// Default: unset.
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// Seconds between background refreshes of `jwks_url`. Default: 300.
    #[serde(default = "default_jwks_refresh_secs")]
    pub jwks_refresh_secs: u64,
    /// Least seconds between two fetches of `jwks_url`, so a flood of tokens with made-up
    /// `kid`s cannot hammer the provider. Default: 30.
    #[serde(default = "default_jwks_refresh_cooldown_secs")]
    pub jwks_refresh_cooldown_secs: u64,
    /// Timeout of one `jwks_url` fetch, in milliseconds. Default: 5000.
    #[serde(default = "default_jwks_timeout_ms")]
    pub jwks_timeout_ms: u64,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds. Default: 60.
    #[serde(default = "default_leeway_secs")]
    pub leeway_secs: u64,
    /// Claim naming the caller. Default: `"sub"`.
    #[serde(default = "default_subject_claim")]
    pub subject_claim: String,
    /// Claim read when `subject_claim` is absent, e.g. `"client_id"` for machine tokens.
    /// Default: unset (no fallback).
    #[serde(default)]
    pub subject_fallback_claim: Option<String>,
    /// Most verified tokens remembered (by SHA-256, never the token), so a token reused
    /// within `verified_cache_ttl_secs` skips signature verification. 0 turns the cache off.
    /// Default: 10000.
    #[serde(default = "default_cache_max_entries")]
    pub verified_cache_max_entries: u64,
    /// Longest time a verified token is remembered, in seconds, 1 to 3600; never past the
    /// token's `exp`. A token cached before its key left the key set keeps passing this long
    /// at most (a reload empties the cache). Default: 60.
    #[serde(default = "default_verified_cache_ttl_secs")]
    pub verified_cache_ttl_secs: u64,
    /// Who may upload and which policy applies. Default: nothing, which is refused at start-up
    /// (a policy source is required).
    #[serde(default)]
    pub access: AccessSettings,
}

/// One `[[auth.introspection]]` table.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IntrospectionProviderSettings {
    /// Short name, unique among providers; becomes the caller's `credential_id`. Required.
    pub name: String,
    /// The RFC 7662 endpoint, called with `POST token=...` and HTTP Basic client auth.
    /// Required.
    pub introspection_url: String,
    /// Client id this service authenticates with. Required.
    pub client_id: String,
    /// Name of the environment variable holding the client secret; `<VAR>_FILE` works too.
    /// Required.
    pub client_secret_env: String,
    /// If set, the answer's `iss` must equal it. Default: unset (not checked).
    #[serde(default)]
    pub issuer: Option<String>,
    /// If non-empty, the answer's `aud` must contain one of these. Default: empty (not checked).
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Timeout of one introspection call, in milliseconds. Default: 2000.
    #[serde(default = "default_introspection_timeout_ms")]
    pub timeout_ms: u64,
    /// Longest time an active answer is reused, in seconds; never past the token's `exp`.
    /// Default: 60.
    #[serde(default = "default_cache_ttl_secs")]
    pub cache_ttl_secs: u64,
    /// How long an inactive answer is reused, in seconds. Default: 5.
    #[serde(default = "default_negative_cache_ttl_secs")]
    pub negative_cache_ttl_secs: u64,
    /// Most answers held in the cache (keyed by the token's SHA-256). Default: 10000.
    #[serde(default = "default_cache_max_entries")]
    pub cache_max_entries: u64,
    /// Claim naming the caller. Default: `"sub"`.
    #[serde(default = "default_subject_claim")]
    pub subject_claim: String,
    /// Claim read when `subject_claim` is absent. Default: `"client_id"`.
    #[serde(default = "default_introspection_subject_fallback")]
    pub subject_fallback_claim: Option<String>,
    /// Who may upload and which policy applies. Default: nothing, which is refused at start-up.
    #[serde(default)]
    pub access: AccessSettings,
}

fn default_jwks_refresh_secs() -> u64 {
    300
}
fn default_jwks_refresh_cooldown_secs() -> u64 {
    30
}
fn default_jwks_timeout_ms() -> u64 {
    5000
}
fn default_leeway_secs() -> u64 {
    60
}
fn default_verified_cache_ttl_secs() -> u64 {
    60
}
fn default_subject_claim() -> String {
    "sub".to_owned()
}
fn default_introspection_timeout_ms() -> u64 {
    2000
}
fn default_cache_ttl_secs() -> u64 {
    60
}
fn default_negative_cache_ttl_secs() -> u64 {
    5
}
fn default_cache_max_entries() -> u64 {
    10_000
}
fn default_introspection_subject_fallback() -> Option<String> {
    Some("client_id".to_owned())
}

/// A provider's `access` table. At least one policy source (`policy_claim`, `role_policies`
/// or `default_policy`) must be set; they are tried in that order.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AccessSettings {
    /// Scopes that must all be granted, read from the `scope` (space-separated) and `scp`
    /// claims. Default: none.
    #[serde(default)]
    pub required_scopes: Vec<String>,
    /// A claim that must contain a value, e.g. `{ claim = "roles", value = "uploader" }`; the
    /// claim may be a string or an array of strings. Default: unset.
    #[serde(default)]
    pub required_claim: Option<RequiredClaim>,
    /// Claim whose string value names the caller's policy, e.g. `"vod_policy"`. When the
    /// token carries it, it decides. Default: unset.
    #[serde(default)]
    pub policy_claim: Option<String>,
    /// Claim holding the caller's roles for `role_policies`. Default: `"roles"`.
    #[serde(default = "default_role_claim")]
    pub role_claim: String,
    /// Roles mapped to policies, e.g. `[{ role = "admin", policy = "unlimited" }]`; the first
    /// entry whose role the caller holds wins. Default: none.
    #[serde(default)]
    pub role_policies: Vec<RolePolicy>,
    /// Policy for callers no other source decides. Default: unset.
    #[serde(default)]
    pub default_policy: Option<String>,
}

/// A value that must appear in a claim.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RequiredClaim {
    pub claim: String,
    pub value: String,
}

/// One entry of `role_policies`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RolePolicy {
    pub role: String,
    pub policy: String,
}

fn default_role_claim() -> String {
    "roles".to_owned()
}
