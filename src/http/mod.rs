//! The HTTP face: the router, its layer stack, one file per endpoint, the error envelope.
//!
//! [`router`] needs no socket, so tests drive it with `oneshot`; [`crate::server`] binds
//! it to a listener. The admin routes (`/metrics`) live apart, in [`crate::admin`].

pub mod auth;
pub mod caller;
pub mod client_ip;
pub mod cors;
pub mod error;
mod exchange;
pub mod health;
pub mod observe;
pub mod openapi;
pub mod request_id;
pub mod signature;
pub mod trace_context;
pub mod uploads;

use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, Request, Response, StatusCode, header};
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use tracing::Span;

use crate::app::AppState;
use crate::config::ServerSettings;
use crate::principal::Principal;
use error::ApiError;

/// The request id header: taken from the client when well-formed, generated otherwise,
/// echoed in the response and in every error envelope.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole public API with its layer stack.
pub fn router(state: AppState) -> Router {
    let server = state.settings.server.clone();
    let metrics = state.metrics().clone();
    layered(routes(state.clone()), &server).layer(
        ServiceBuilder::new()
            // Outermost: who the client is, before the request span names it.
            .layer(middleware::from_fn_with_state(state, client_ip::resolve))
            // Counts and times every answer, whichever layer gave it.
            .layer(middleware::from_fn_with_state(metrics, observe::track)),
    )
}

/// The routes alone, without the layer stack.
///
/// `/v1/signature` answers `GET` and `POST` ([`signature`]), every other method with a 405,
/// all inside the exchange's audit middleware ([`exchange::record`]); its handlers shed load
/// through their [`caller::Caller`], around the auth-check and the limits but never around
/// a wait for a body. Health probes are never shed, so overload does not get the instance
/// restarted by its liveness probe.
fn routes(state: AppState) -> Router {
    let signature = get(signature::issue_by_query)
        .post(signature::issue_by_body)
        .head(signature::refuse_method)
        .fallback(signature::refuse_method)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            exchange::record,
        ));
    let router = Router::new()
        // Routed as a method router, not as a service: the router then clones only the
        // matched method's route for a request, not all four. Its answer to `HEAD` has its
        // body removed, as every answer to `HEAD` has on the wire.
        .route("/v1/signature", signature)
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .route("/openapi.json", get(openapi::serve));
    // The upload-ticket routes exist when `[uploads]` was on at start-up (read once).
    let router = if state.tickets().is_some() {
        let audited = middleware::from_fn_with_state(state.clone(), exchange::record_upload);
        router
            .route(
                "/v1/uploads",
                post(uploads::create::create)
                    .get(uploads::read::list)
                    .layer(audited.clone()),
            )
            .route(
                "/v1/uploads/{uploadId}",
                get(uploads::read::get_one).layer(audited.clone()),
            )
            .route(
                "/v1/uploads/{uploadId}/signature",
                post(uploads::create::resign).layer(audited),
            )
    } else {
        router
    };
    router
        .fallback(|| async { ApiError::NotFound })
        .with_state(state)
}

/// Wraps `routes` in the protective layer stack every public route gets. Public so tests
/// can check the stack's behaviour (timeout, panic) with routes of their own.
///
/// Layers go in as a few `ServiceBuilder` stacks rather than one `Router::layer` each:
/// every `Router::layer` boxes each route again, and the router clones a route's whole
/// chain of boxes for every request (a `from_fn` layer clones the chain below it once
/// more). Inside a stack the services are concrete types, cloned without allocating.
pub fn layered(routes: Router, server: &ServerSettings) -> Router {
    let timeout = Duration::from_millis(server.request_timeout_ms);
    // Each stack reads from the top (outermost, first to see a request) down to the routes.
    let routes = routes.layer(
        ServiceBuilder::new()
            .layer(CatchPanicLayer::custom(|_| {
                tracing::error!("a request handler panicked");
                ApiError::Internal.into_response()
            }))
            .layer(RequestBodyLimitLayer::new(server.body_limit_bytes))
            // Next to the routes: its 503 needs the routes' (empty-able) body type.
            .layer(TimeoutLayer::with_status_code(
                StatusCode::SERVICE_UNAVAILABLE,
                timeout,
            )),
    );
    // CORS outside the routes' auth, so a preflight is answered without credentials. A
    // layer of its own: inside the builder, the optional layer's `Either` service would
    // not fit `finish_errors` (its error type is not `Infallible`).
    let routes = match cors::layer(&server.cors) {
        Some(cors) => routes.layer(cors),
        None => routes,
    };
    routes.layer(
        ServiceBuilder::new()
            .layer(SetSensitiveRequestHeadersLayer::new([
                header::AUTHORIZATION,
                header::COOKIE,
            ]))
            .layer(middleware::from_fn(request_id::drop_malformed))
            .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(request_span)
                    .on_request(())
                    .on_response(log_response)
                    .on_failure(()),
            )
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(middleware::from_fn(error::finish_errors)),
    )
}

/// One span per request: the request id, the method, the route template (never the raw
/// path or the query), the client's IP and the caller's W3C trace context when it sent a
/// valid one; no other header values. Every line logged during the request carries these
/// fields (flat, at the top level of a JSON line: docs/observability.md).
fn request_span<B>(request: &Request<B>) -> Span {
    let request_id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let trace = trace_context::of(request.headers());
    tracing::info_span!(
        "request",
        request_id,
        method = %request.method(),
        route = observe::route(request),
        client_ip = client_ip::client_ip(request).map(tracing::field::display),
        trace_id = trace.map(|t| t.trace_id),
        parent_span_id = trace.map(|t| t.parent_id),
    )
}

/// The one log line per request; the span adds id, method, route, client and trace. A
/// request that authenticated names its caller's credential id, also when it was refused
/// after the auth-check (403, 429): the signature route leaves the [`Principal`] in the
/// response's extensions (`error::finish_errors` keeps them), not in a span field: the
/// caller is known only once the response is, and only this line needs it.
fn log_response<B>(response: &Response<B>, latency: Duration, _span: &Span) {
    tracing::info!(
        status = response.status().as_u16(),
        latency_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
        credential_id = response
            .extensions()
            .get::<Principal>()
            .map(|p| p.credential_id.as_str()),
        "request finished"
    );
}
