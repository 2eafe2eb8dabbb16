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
pub mod front;
pub mod health;
pub mod openapi;
pub mod request_id;
pub mod signature;
pub mod trace_context;
pub mod uploads;

use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, StatusCode};
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::app::AppState;
use error::ApiError;

/// The request id header: taken from the client when well-formed, generated otherwise,
/// echoed in the response and in every error envelope.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole public API with its layer stack.
pub fn router(state: AppState) -> Router {
    layered(routes(state.clone()), &state)
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

/// Wraps `routes` in the layers every public route gets. Public so tests can check the
/// stack's behaviour (timeout, panic) with routes of their own.
///
/// One `ServiceBuilder` stack rather than a `Router::layer` per layer: every
/// `Router::layer` boxes each route again, and the router clones a route's whole chain of
/// boxes for every request. Inside a stack the services are concrete types, cloned
/// without allocating.
pub fn layered(routes: Router, state: &AppState) -> Router {
    let server = &state.settings.server;
    let timeout = Duration::from_millis(server.request_timeout_ms);
    // Each stack reads from the top (outermost, first to see a request) down to the routes.
    // Outermost, the front (front.rs): client address, request id, log fields, error
    // envelope, metrics, access line; it sees every answer of the layers below it.
    let front = front::FrontLayer::new(state);
    let guards = ServiceBuilder::new()
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("a request handler panicked");
            ApiError::Internal.into_response()
        }))
        .layer(RequestBodyLimitLayer::new(server.body_limit_bytes))
        // Next to the routes: its 503 needs the routes' (empty-able) body type.
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            timeout,
        ));
    // CORS outside the routes' auth, so a preflight is answered without credentials, and
    // its headers reach the guards' answers too (413, timeout, panic).
    match cors::layer(&server.cors) {
        Some(cors) => routes.layer(ServiceBuilder::new().layer(front).layer(cors).layer(guards)),
        None => routes.layer(ServiceBuilder::new().layer(front).layer(guards)),
    }
}
