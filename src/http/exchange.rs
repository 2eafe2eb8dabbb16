//! Turns each `/v1/signature` exchange into one audit event and the signature metrics.
//!
//! The endpoint ([`super::signature::Endpoint`]) takes what the event needs from the
//! request before anything can refuse it ([`Exchange::begin`]), and hands the outcome back
//! once it is known ([`Exchange::issued`] or [`Exchange::refused`]): with the caller's
//! identity when the auth-check proved one, so a refusal by the limits, the policy or the
//! body parser is audited with the caller, and a refusal by the auth-check itself without.

use std::net::IpAddr;

use axum::extract::Request;
use axum::http::HeaderValue;

use super::REQUEST_ID;
use super::client_ip::client_ip;
use super::error::ApiError;
use crate::app::AppState;
use crate::audit::{AuditEvent, Issuance};
use crate::principal::Principal;

/// What the audit event of one exchange takes from its request.
#[derive(Debug)]
pub struct Exchange {
    /// Kept as the header value (a reference count, not a copy).
    request_id: Option<HeaderValue>,
    method: &'static str,
    client_ip: Option<IpAddr>,
}

impl Exchange {
    /// Reads the request id, method and client of `request`.
    pub fn begin(request: &Request) -> Self {
        Self {
            request_id: request.headers().get(REQUEST_ID).cloned(),
            method: crate::metrics::method_label(request.method()),
            client_ip: client_ip(request),
        }
    }

    /// The client's address, as the audit event will name it (and the auth-check counts
    /// failures against).
    pub fn client_ip(&self) -> Option<IpAddr> {
        self.client_ip
    }

    /// A signature was issued to `principal`: counts it and writes the event.
    pub fn issued(self, state: &AppState, principal: &Principal, issuance: &Issuance) {
        state
            .metrics()
            .signature_issued(&principal.policy, &principal.credential_id);
        self.emit(state, 200, 0, Some(principal), Some(issuance));
    }

    /// The exchange was refused with `error`; `principal` is the caller if the auth-check
    /// got as far as proving one.
    pub fn refused(self, state: &AppState, principal: Option<&Principal>, error: &ApiError) {
        let code = error.code();
        state.metrics().signature_refused(code);
        self.emit(state, error.status().as_u16(), code, principal, None);
    }

    fn emit(
        &self,
        state: &AppState,
        status: u16,
        code: u32,
        principal: Option<&Principal>,
        issued: Option<&Issuance>,
    ) {
        let mut event = AuditEvent::new(status, code, principal);
        event.request_id = self.request_id.as_ref().and_then(|v| v.to_str().ok());
        event.method = self.method;
        event.client_ip = self.client_ip;
        event.issued = issued;
        state.audit().emit(&event);
    }
}
