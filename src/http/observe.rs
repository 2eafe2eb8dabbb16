//! Per-request observation shared by the log line and the metrics: the route label and
//! the request counter/latency middleware.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::metrics::Metrics;

/// The route label of a request that matched no route (a 404 from the fallback).
pub const UNMATCHED: &str = "unmatched";

/// The matched route template (`/v1/signature`), never the raw path, so logs and metric
/// labels stay bounded whatever clients send.
pub fn route<B>(request: &axum::http::Request<B>) -> &str {
    request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, MatchedPath::as_str)
}

/// Counts every request by route, method and status, and times it; the in-flight gauge
/// counts it while it runs.
pub async fn track(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
    let _in_flight = metrics.request_in_flight();
    let started = Instant::now();
    let route = route(&request).to_owned();
    let method = request.method().clone();
    let response = next.run(request).await;
    metrics.http_request(
        &route,
        &method,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}
