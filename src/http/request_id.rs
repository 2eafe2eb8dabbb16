//! Keeps a client's `x-request-id` only when it is a sane token, so ids that reach logs and
//! envelopes are short and printable.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

use super::REQUEST_ID;

/// Longest client-supplied request id kept.
const MAX_LEN: usize = 128;

/// True for 1..=128 characters of letters, digits and `-_.:`.
pub fn is_well_formed(id: &[u8]) -> bool {
    (1..=MAX_LEN).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
}

/// Removes a malformed `x-request-id`, so a fresh one is generated instead.
pub async fn drop_malformed(mut request: Request, next: Next) -> Response {
    if let Some(id) = request.headers().get(REQUEST_ID)
        && !is_well_formed(id.as_bytes())
    {
        request.headers_mut().remove(REQUEST_ID);
    }
    next.run(request).await
}
