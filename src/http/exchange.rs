//! Turns each `/v1/signature` exchange into one audit event and the signature metrics.
//!
//! [`record`], a middleware around every method of the route, takes what the event needs
//! from the request before anything can refuse it, and reads the outcome from the response:
//! an [`Issuance`] the handler left in its extensions, or the code of an error envelope
//! ([`ErrorBody`]). The caller is named when the auth-check proved one: the
//! [`Caller`](super::caller::Caller) extractor fills the request's [`ProvenCaller`] cell, so
//! a refusal by the limits, the policy or the body parser is audited with the caller, and a
//! refusal by the auth-check itself without. A request that ends unanswered (the request
//! timeout's 503, or a client that left) is audited when its future is dropped.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use super::REQUEST_ID;
use super::client_ip::client_ip;
use super::error::{ApiError, ErrorBody};
use super::trace_context;
use crate::app::AppState;
use crate::audit::{AuditEvent, Issuance};
use crate::principal::Principal;

/// The caller of one exchange, once the auth-check proves it: a cell the middleware puts in
/// the request's extensions for the [`Caller`](super::caller::Caller) extractor to fill.
#[derive(Clone, Debug, Default)]
pub struct ProvenCaller(Arc<Mutex<Option<Principal>>>);

impl ProvenCaller {
    /// Names `principal` as the exchange's caller.
    pub fn prove(&self, principal: &Principal) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(principal.clone());
    }

    fn take(&self) -> Option<Principal> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// Middleware of `/v1/signature`: exactly one audit event and signature metric per
/// exchange, whatever answers it. Leaves the proven [`Principal`] in the response's
/// extensions for the request's log line (`http::log_response`).
pub async fn record(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let caller = ProvenCaller::default();
    request.extensions_mut().insert(caller.clone());
    let mut pending = Pending {
        state: &state,
        exchange: Some(Exchange::begin(&request)),
        caller: &caller,
    };
    let mut response = next.run(request).await;
    pending.answered(&mut response);
    response
}

/// One exchange on its way to its audit event: written by [`Pending::answered`], or on
/// drop when the request ended without an answer.
struct Pending<'a> {
    state: &'a AppState,
    exchange: Option<Exchange>,
    caller: &'a ProvenCaller,
}

impl Pending<'_> {
    fn answered(&mut self, response: &mut Response) {
        let principal = self.caller.take();
        if let Some(exchange) = self.exchange.take() {
            let issuance = response.extensions_mut().remove::<Issuance>();
            match (&principal, issuance) {
                (Some(principal), Some(issuance)) => {
                    exchange.issued(self.state, principal, &issuance);
                }
                _ => {
                    let status = response.status();
                    let code = response.extensions().get::<ErrorBody>().map_or_else(
                        || ApiError::from_bare_status(status).code(),
                        |body| body.code,
                    );
                    exchange.refused(self.state, principal.as_ref(), status, code);
                }
            }
        }
        if let Some(principal) = principal {
            response.extensions_mut().insert(principal);
        }
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        // Dropped unanswered: the request timeout's 503 (or a client that left) answers.
        if let Some(exchange) = self.exchange.take() {
            let error = ApiError::Unavailable("the request took too long".to_owned());
            let principal = self.caller.take();
            exchange.refused(self.state, principal.as_ref(), error.status(), error.code());
        }
    }
}

/// What the audit event of one exchange takes from its request.
#[derive(Debug)]
struct Exchange {
    /// Kept as the header value (a reference count, not a copy).
    request_id: Option<HeaderValue>,
    /// The `traceparent` header, kept only when it is valid.
    traceparent: Option<HeaderValue>,
    method: &'static str,
    client_ip: Option<IpAddr>,
}

impl Exchange {
    /// Reads the request id, trace context, method and client of `request`.
    fn begin(request: &Request) -> Self {
        Self {
            request_id: request.headers().get(REQUEST_ID).cloned(),
            traceparent: trace_context::single(request.headers())
                .filter(|v| trace_context::parse(v).is_some())
                .cloned(),
            method: crate::metrics::method_label(request.method()),
            client_ip: client_ip(request),
        }
    }

    /// A signature was issued to `principal`: counts it and writes the event.
    fn issued(self, state: &AppState, principal: &Principal, issuance: &Issuance) {
        state
            .metrics()
            .signature_issued(&principal.policy, &principal.credential_id);
        self.emit(state, 200, 0, Some(principal), Some(issuance));
    }

    /// The exchange was refused with `status` and `code`; `principal` is the caller if the
    /// auth-check got as far as proving one.
    fn refused(
        self,
        state: &AppState,
        principal: Option<&Principal>,
        status: StatusCode,
        code: u32,
    ) {
        state.metrics().signature_refused(code);
        self.emit(state, status.as_u16(), code, principal, None);
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
        if let Some(trace) = self.traceparent.as_ref().and_then(trace_context::parse) {
            event.trace_id = Some(trace.trace_id);
            event.parent_span_id = Some(trace.parent_id);
        }
        event.issued = issued;
        state.audit().emit(&event);
    }
}
