//! The front of every public request: one layer that does, once per request, what every
//! route needs around it.
//!
//! In order, on the way in: the `Authorization` and `Cookie` values marked sensitive (so no
//! `Debug` of the headers shows them); the client's address resolved through the trusted
//! proxies ([`super::client_ip`]); the request id kept when the client sent a sane one
//! ([`super::request_id`]), generated otherwise; the request's log fields (id, method, route
//! template, client, W3C trace context) written once. On the way out: the bare error answers
//! of inner layers turned into the envelope with the request id ([`super::error::finish`]),
//! the id echoed in `x-request-id`, the request counted and timed
//! (`vodsign_http_requests_total`, `vodsign_http_request_duration_seconds`, the in-flight
//! gauge), and the one access line, `request finished` (docs/observability.md).
//!
//! Why one layer rather than a stack of general ones (`tower-http`'s request-id, sensitive
//! headers and trace layers, and a middleware function for each of the rest): each layer
//! of a stack clones the services below it and, as an axum middleware function, boxes its
//! own future for every request; the trace layer makes a `tracing` span, which costs the
//! registry a slot, the filter a check, and an enter and an exit at every poll. Together
//! they cost more than all of HTTP on `/healthz` (docs/performance.md has the figures).
//! Here one future per request does it all, with JSON logs the request's fields travel in a
//! task-local ([`telemetry::json::in_request`]) instead of a span, and the clock is read
//! once at each end.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::BoxError;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{MatchedPath, Request};
use axum::http::header::{self, Entry};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use tower::{Layer, Service};
use tracing::Instrument as _;

use super::client_ip::{self, ClientIp};
use super::{REQUEST_ID, error, request_id, trace_context};
use crate::app::AppState;
use crate::config::LogFormat;
use crate::principal::Principal;
use crate::telemetry::json::{self, RequestFields};

/// The route label of a request that matched no route (a 404 from the fallback): logs and
/// metric labels name route templates, never raw paths, so they stay bounded whatever
/// clients send.
pub const UNMATCHED: &str = "unmatched";

/// The [`Layer`] of [`Front`]. Cheap to clone.
#[derive(Clone)]
pub struct FrontLayer(Arc<Shared>);

struct Shared {
    state: AppState,
    /// Text logs: the request's fields go in a `tracing` span, which the text formatter
    /// reads; JSON logs: in a task-local the JSON layer reads.
    spans: bool,
}

impl FrontLayer {
    pub fn new(state: &AppState) -> Self {
        Self(Arc::new(Shared {
            spans: state.settings.server.log_format == LogFormat::Text,
            state: state.clone(),
        }))
    }
}

impl<S> Layer<S> for FrontLayer {
    type Service = Front<S>;

    fn layer(&self, inner: S) -> Front<S> {
        Front {
            inner,
            shared: self.0.clone(),
        }
    }
}

/// See the module's documentation.
#[derive(Clone)]
pub struct Front<S> {
    inner: S,
    shared: Arc<Shared>,
}

type BoxedResponse = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl<S, B> Service<Request> for Front<S>
where
    S: Service<Request, Response = axum::http::Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxedResponse;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> BoxedResponse {
        let started = Instant::now();
        let shared = self.shared.clone();
        mark_sensitive(request.headers_mut());
        let id = request_id_of(request.headers_mut());
        if let Some(peer) = client_ip::peer(request.extensions()) {
            let ip = shared.state.limiter().client_ip(peer, request.headers());
            request.extensions_mut().insert(ClientIp(ip));
        }
        let route = request.extensions().get::<MatchedPath>().cloned();
        let method = request.method().clone();
        let fields = log_fields(&request, &id, route.as_ref(), shared.spans);
        let in_flight = shared.state.metrics().request_in_flight();
        // The service that was made ready answers; a clone stays for the next request.
        let clone = self.inner.clone();
        let answer = std::mem::replace(&mut self.inner, clone).call(request);
        let exchange = async move {
            let Ok(response) = answer.await;
            let mut response = error::finish(response.map(Body::new), id.to_str().ok());
            response.headers_mut().insert(REQUEST_ID, id);
            let latency = started.elapsed();
            let route = route.as_ref().map_or(UNMATCHED, MatchedPath::as_str);
            let metrics = shared.state.metrics();
            metrics.http_request(route, &method, response.status().as_u16(), latency);
            drop(in_flight);
            // An audited request's audit line is its access record (docs/observability.md).
            let latency_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
            if !json::end_request(route, latency_us) {
                log_answer(&response, latency_us);
            }
            Ok(response)
        };
        match fields {
            Fields::Json(fields) => Box::pin(json::in_request(fields, exchange)),
            Fields::Span(span) => Box::pin(exchange.instrument(span)),
        }
    }
}

/// A request's log fields: carried by a task-local (JSON) or by a span (text).
enum Fields {
    Json(RequestFields),
    Span(tracing::Span),
}

/// The request's log fields: its id, method, route template (never the raw path or the
/// query), the client's address and the caller's W3C trace context when it sent a valid
/// one; no other header values. Flat at the top level of every JSON line logged during
/// the request.
fn log_fields(
    request: &Request,
    id: &HeaderValue,
    route: Option<&MatchedPath>,
    spans: bool,
) -> Fields {
    let id = id.to_str().unwrap_or("");
    let route = route.map_or(UNMATCHED, MatchedPath::as_str);
    let trace = trace_context::of(request.headers());
    let client = client_ip::client_ip(request);
    let method = request.method().as_str();
    if spans {
        return Fields::Span(tracing::info_span!(
            target: "vodsign::http",
            "request",
            request_id = id,
            method,
            route,
            client_ip = client.map(tracing::field::display),
            trace_id = trace.map(|t| t.trace_id),
            parent_span_id = trace.map(|t| t.parent_id),
        ));
    }
    let mut fields = RequestFields::new();
    fields
        .str("request_id", id)
        .str("method", method)
        .str("route", route);
    if let Some(client) = client {
        fields.display("client_ip", &client);
    }
    if let Some(trace) = trace {
        fields
            .str("trace_id", trace.trace_id)
            .str("parent_span_id", trace.parent_id);
    }
    Fields::Json(fields)
}

/// Marks the values of `Authorization` and `Cookie` sensitive: `Debug` shows them as
/// `Sensitive`, and HTTP/2's header compression never indexes them.
fn mark_sensitive(headers: &mut HeaderMap) {
    for name in [header::AUTHORIZATION, header::COOKIE] {
        if let Entry::Occupied(mut entry) = headers.entry(name) {
            for value in entry.iter_mut() {
                value.set_sensitive(true);
            }
        }
    }
}

/// The request's id: the client's `x-request-id` when it is well-formed, else a new one,
/// which replaces whatever the client sent so that inner layers read the same id.
fn request_id_of(headers: &mut HeaderMap) -> HeaderValue {
    if let Some(id) = headers.get(REQUEST_ID)
        && request_id::is_well_formed(id.as_bytes())
    {
        return id.clone();
    }
    let id = request_id::generate();
    headers.insert(REQUEST_ID, id.clone());
    id
}

/// The one access line per request; the request's fields add id, method, route, client
/// and trace. A request that authenticated names its caller's credential id, also when it
/// was refused after the auth-check (403, 429): the signature route leaves the
/// [`Principal`] in the response's extensions ([`error::finish`] keeps them).
fn log_answer(response: &Response, latency_us: u64) {
    tracing::info!(
        target: "vodsign::http",
        status = response.status().as_u16(),
        latency_us,
        credential_id = response
            .extensions()
            .get::<Principal>()
            .map(|p| p.credential_id.as_str()),
        "request finished"
    );
}
