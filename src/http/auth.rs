//! The auth-check of a protected route: the bearer credential through the
//! [`Authenticator`](crate::auth::Authenticator), with the per-address failure damping of
//! the limiter and the authentication metrics around it.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;

use super::error::ApiError;
use crate::app::AppState;
use crate::auth::{AuthError, api_key, bearer};
use crate::principal::{CredentialKind, Principal};

/// The `outcome` label of an authentication failure.
fn outcome(error: &AuthError) -> &'static str {
    match error {
        AuthError::Missing => "missing",
        AuthError::Invalid(_) => "invalid",
        AuthError::Forbidden(_) => "forbidden",
        AuthError::Unavailable(_) => "unavailable",
    }
}

/// Counts one authentication attempt: `form` is what the credential looked like (`api_key`,
/// `token`, or `none` when there was none), used when verification named no provider.
fn record_auth(
    state: &AppState,
    verified: &Result<Principal, AuthError>,
    form: &'static str,
    latency: Duration,
) {
    let (kind, provider, outcome) = match verified {
        Ok(p) if p.kind == CredentialKind::ApiKey => (p.kind.as_str(), "api_keys", "ok"),
        Ok(p) => (p.kind.as_str(), p.credential_id.as_str(), "ok"),
        Err(e) if form == "api_key" => (form, "api_keys", outcome(e)),
        Err(e) => (form, "unknown", outcome(e)),
    };
    state
        .metrics()
        .auth_result(kind, provider, outcome, latency);
}

/// The auth-check of a protected route: the first step after load shedding. Returns the
/// proven [`Principal`], or the refusal to answer (401, 403, 429 or 503).
///
/// Each invalid credential takes one of its address's `auth_failures.max` slots; an address
/// without a free slot is *damped*. While damped, a credential verified locally (API key,
/// JWT) is still verified and served when valid, so one address shared by many clients
/// (carrier-grade NAT, an untrusted proxy) does not lock out its valid users; a credential
/// that would cost an introspection call is refused (42901) before it is examined, and so is
/// any failure. A credential that costs a remote call holds its slot while it is evaluated
/// (check and record are one atomic step), so at most `max` of them are evaluated at once or
/// fail per window, however many arrive together. The address is the client as
/// [`crate::http::client_ip`] resolved it (through the trusted proxies); a request without
/// a socket (tests) counts as the unspecified address.
pub async fn require_principal(
    state: &AppState,
    headers: &HeaderMap,
    client: Option<IpAddr>,
) -> Result<Principal, ApiError> {
    let limiter = state.limiter();
    let client = client.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let damped = |retry_after| ApiError::RateLimited {
        retry_after,
        decision: None,
    };
    let credential = bearer(headers);
    let remote = matches!(credential, Ok(c) if !state.authenticator().verifies_locally(c));
    if remote && let Some(retry_after) = limiter.reserve_auth_attempt(client).await? {
        return Err(damped(retry_after));
    }
    let started = Instant::now();
    let (verified, form) = match credential {
        Ok(credential) => (
            state.authenticator().authenticate(credential).await,
            if credential.starts_with(api_key::PREFIX) {
                "api_key"
            } else {
                "token"
            },
        ),
        Err(e) => (Err(e), "none"),
    };
    record_auth(state, &verified, form, started.elapsed());
    match (&verified, remote) {
        // The slot taken before evaluating is the failure's record.
        (Err(AuthError::Invalid(_)), true) => {}
        (_, true) => limiter.release_auth_attempt(client).await,
        (Ok(_), false) => {}
        (Err(AuthError::Invalid(_)), false) => {
            if let Some(retry_after) = limiter.reserve_auth_attempt(client).await? {
                return Err(damped(retry_after));
            }
        }
        (Err(_), false) => {
            if let Some(retry_after) = limiter.ip_blocked(client).await? {
                return Err(damped(retry_after));
            }
        }
    }
    verified.map_err(ApiError::from)
}
