//! The auth-check middleware: runs before the signature handler and leaves a
//! [`Principal`] in the request extensions, or answers 401/403/503 itself.

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;

use super::{AuthError, KeyRefreshTask, Principal, TokenVerifier, api_key};
use crate::app::AppState;
use crate::http::error::ApiError;

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

    /// Problems that keep the service from authenticating anyone (empty = ready): a JWT
    /// provider whose keys never loaded, an introspection endpoint whose last call failed.
    pub fn readiness(&self) -> Vec<String> {
        self.tokens.readiness()
    }

    /// Starts the background JWKS refresh; it stops when the returned task is dropped.
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

/// `route_layer` middleware for protected routes.
pub async fn require_principal(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let credential = bearer(request.headers())?;
    let principal = state.authenticator().authenticate(credential).await?;
    tracing::Span::current().record("principal", principal.credential_id.as_str());
    request.extensions_mut().insert(principal);
    Ok(next.run(request).await)
}
