//! Talking to identity providers over HTTP, and naming tokens in logs without revealing them.
//!
//! One client for every provider: no redirects (a redirected introspection call would carry
//! the token somewhere unplanned), a timeout per call, and answers read up to a cap, so a
//! broken or hostile endpoint costs bounded memory and time.

use std::time::Duration;

use sha2::{Digest, Sha256};

/// Why a call to an identity provider gave no usable answer. Texts are for logs and
/// readiness; they never contain a token or a secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FetchError {
    Timeout,
    Unreachable,
    Refused,
    HttpStatus,
    TooLarge,
    Garbage,
}

impl FetchError {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            FetchError::Timeout => "timed out",
            FetchError::Unreachable => "unreachable",
            FetchError::Refused => "refused this service's client credentials",
            FetchError::HttpStatus => "answered with an HTTP error",
            FetchError::TooLarge => "answered with an oversized body",
            FetchError::Garbage => "answered with something that is not a valid answer",
        }
    }

    fn from_reqwest(e: &reqwest::Error) -> Self {
        if e.is_timeout() {
            FetchError::Timeout
        } else {
            FetchError::Unreachable
        }
    }
}

/// The shared client. Building it only fails if the TLS backend cannot start.
pub(crate) fn client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("vodsign/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(5))
        .build()
}

/// Sends `request` with `timeout` and returns the body of a 2xx answer, at most `cap` bytes.
pub(crate) async fn send_capped(
    request: reqwest::RequestBuilder,
    timeout: Duration,
    cap: usize,
) -> Result<Vec<u8>, FetchError> {
    // The timeout covers the body as well: reqwest applies it to the whole exchange.
    let mut response = request
        .timeout(timeout)
        .send()
        .await
        .map_err(|e| FetchError::from_reqwest(&e))?;
    let status = response.status();
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        return Err(FetchError::Refused);
    }
    if !status.is_success() {
        return Err(FetchError::HttpStatus);
    }
    if response.content_length().is_some_and(|n| n > cap as u64) {
        return Err(FetchError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| FetchError::from_reqwest(&e))?
    {
        if body.len() + chunk.len() > cap {
            return Err(FetchError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// SHA-256 of a token: the introspection cache key, so the cache never holds a token.
pub(crate) fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A short, non-reversible name for a token in logs: the first 12 hex digits of its SHA-256.
pub(crate) fn fingerprint(token: &str) -> String {
    let digest = token_digest(token);
    hex::encode(&digest[..6])
}
