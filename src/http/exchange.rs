//! Turns each `/v1/signature` exchange, and each exchange of the upload-ticket endpoints,
//! into one audit event and the signature (or upload) metrics.
//!
//! [`record`], a middleware around every method of the route, takes what the event needs
//! from the request before anything can refuse it, and reads the outcome from the response:
//! an [`Issuance`] the handler left in its extensions, or the code of an error envelope
//! ([`ErrorBody`]). The caller is named when the auth-check proved one: the
//! [`Caller`](super::caller::Caller) extractor fills the request's [`ProvenCaller`] cell, so
//! a refusal by the limits, the policy or the body parser is audited with the caller, and a
//! refusal by the auth-check itself without. A request that ends unanswered (the request
//! timeout's 503, or a client that left) is audited when its future is dropped.
//!
//! On the upload-ticket routes ([`record_upload`]) the handler leaves an [`UploadOutcome`]
//! (the event and the upload's id) instead; a refusal names the upload its path names.

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
use crate::audit::{AuditEvent, Issuance, UploadEvent};
use crate::principal::Principal;
use crate::uploads::UploadId;

/// What an upload-ticket handler did, left in its response's extensions for the audit.
#[derive(Clone, Debug)]
pub struct UploadOutcome {
    pub event: UploadEvent,
    /// The upload made or named; `None` for a listing.
    pub upload_id: Option<UploadId>,
}

/// Which kind of route an exchange is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    Signature,
    Upload,
}

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
pub async fn record(State(state): State<AppState>, request: Request, next: Next) -> Response {
    record_as(Route::Signature, state, request, next).await
}

/// Middleware of the upload-ticket routes: as [`record`], with the upload events, the
/// upload metrics, and the upload's id in the event.
pub async fn record_upload(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    record_as(Route::Upload, state, request, next).await
}

async fn record_as(route: Route, state: AppState, mut request: Request, next: Next) -> Response {
    let caller = ProvenCaller::default();
    request.extensions_mut().insert(caller.clone());
    let mut pending = Pending {
        state: &state,
        exchange: Some(Exchange::begin(&request, route)),
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
        if let Some(mut exchange) = self.exchange.take() {
            let issuance = response.extensions_mut().remove::<Issuance>();
            let outcome = response.extensions_mut().remove::<UploadOutcome>();
            if let Some(id) = outcome.as_ref().and_then(|o| o.upload_id.clone()) {
                exchange.upload_id = Some(id);
            }
            match (&principal, issuance, outcome) {
                (Some(principal), issuance, Some(outcome)) if exchange.route == Route::Upload => {
                    exchange.upload_answered(
                        self.state,
                        principal,
                        outcome.event,
                        issuance.as_ref(),
                    );
                }
                (Some(principal), Some(issuance), None) if exchange.route == Route::Signature => {
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
    route: Route,
    /// The upload named by the path (`/v1/uploads/{uploadId}...`) or made by the request.
    upload_id: Option<UploadId>,
}

impl Exchange {
    /// Reads the request id, trace context, method and client of `request`.
    fn begin(request: &Request, route: Route) -> Self {
        let upload_id = match route {
            Route::Signature => None,
            Route::Upload => request
                .uri()
                .path()
                .strip_prefix("/v1/uploads/")
                .and_then(|rest| rest.split('/').next())
                .and_then(|id| UploadId::parse(id).ok()),
        };
        Self {
            route,
            upload_id,
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
        self.emit(state, 200, 0, Some(principal), Some(issuance), None);
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
        match self.route {
            Route::Signature => state.metrics().signature_refused(code),
            Route::Upload => state.metrics().upload_refused(code),
        }
        let event = (self.route == Route::Upload).then_some(UploadEvent::Refused);
        self.emit(state, status.as_u16(), code, principal, None, event);
    }

    /// An upload-ticket request answered: counts it and writes its event.
    fn upload_answered(
        self,
        state: &AppState,
        principal: &Principal,
        event: UploadEvent,
        issuance: Option<&Issuance>,
    ) {
        let metrics = state.metrics();
        let status = match event {
            UploadEvent::Created => {
                metrics.upload_created(&principal.policy);
                201
            }
            UploadEvent::Signed => {
                metrics.upload_signed(&principal.policy);
                200
            }
            UploadEvent::Read | UploadEvent::Listed | UploadEvent::Refused => 200,
        };
        if issuance.is_some() {
            metrics.signature_issued(&principal.policy, &principal.credential_id);
        }
        self.emit(state, status, 0, Some(principal), issuance, Some(event));
    }

    fn emit(
        &self,
        state: &AppState,
        status: u16,
        code: u32,
        principal: Option<&Principal>,
        issued: Option<&Issuance>,
        upload_event: Option<UploadEvent>,
    ) {
        let mut event = AuditEvent::new(status, code, principal);
        if let Some(kind) = upload_event {
            event = event.for_upload(kind, self.upload_id.as_ref().map(UploadId::as_str));
        }
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
