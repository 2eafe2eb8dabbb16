//! Turns each `/v1/signature` exchange into one audit event and the signature metrics.
//!
//! Two `route_layer`s around the auth-check, because the principal it proves lives in the
//! request extensions, which an outer layer no longer sees once the request moved on:
//!
//! ```text
//! record (outer: sees the final response)
//!   -> require_principal (auth-check)
//!     -> note_principal (copies the Principal into record's slot)
//!       -> [rate limits, ...] -> handler (leaves an Issuance on a success)
//! ```
//!
//! Anything that refuses after `note_principal` (limits, policy, body) is audited with the
//! caller's identity; a refusal by the auth-check itself is audited without one.

use std::sync::{Arc, OnceLock};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::{AuditEvent, Issuance};
use crate::app::AppState;
use crate::auth::Principal;
use crate::http::REQUEST_ID;
use crate::http::client_ip::client_ip;
use crate::http::error::{ApiError, ErrorBody};

/// Where [`note_principal`] leaves the principal for [`record`].
#[derive(Clone, Default)]
struct PrincipalSlot(Arc<OnceLock<Principal>>);

/// Outer layer: audits and counts the exchange once the response is known.
pub async fn record(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let slot = PrincipalSlot::default();
    request.extensions_mut().insert(slot.clone());
    let request_id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let method = request.method().to_string();
    let ip = client_ip(&request);

    let mut response = next.run(request).await;

    let status = response.status();
    let issued = response.extensions_mut().remove::<Issuance>();
    let code = match (&issued, response.extensions().get::<ErrorBody>()) {
        (Some(_), _) => 0,
        (None, Some(body)) => body.code,
        (None, None) if status.is_success() => return response,
        (None, None) => ApiError::from_bare_status(status).code(),
    };
    let principal = slot.0.get();
    let metrics = state.metrics();
    match (&issued, principal) {
        (Some(_), Some(p)) => metrics.signature_issued(&p.policy, &p.credential_id),
        (Some(_), None) => metrics.signature_issued("unknown", "unknown"),
        (None, _) => metrics.signature_refused(code),
    }
    let mut event = AuditEvent::new(status.as_u16(), code, principal);
    event.request_id = request_id;
    event.method = method;
    event.client_ip = ip;
    event.issued = issued;
    state.audit().emit(&event);
    response
}

/// Inner layer, just inside the auth-check: hands the proven principal to [`record`].
pub async fn note_principal(request: Request, next: Next) -> Response {
    if let (Some(slot), Some(principal)) = (
        request.extensions().get::<PrincipalSlot>(),
        request.extensions().get::<Principal>(),
    ) {
        // Set once per request; a second set (impossible here) would keep the first.
        let _ = slot.0.set(principal.clone());
    }
    next.run(request).await
}
