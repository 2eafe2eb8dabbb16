//! CORS for browser uploads: `vod-js-sdk-v6` calls the signature endpoint from a web page,
//! so the browser first asks (preflight) whether that page's origin may call it.
//!
//! Only the exact origins listed in `[server.cors] allowed_origins` get the allow headers;
//! any other origin gets none, and its browser blocks the call. Answers expose the request
//! id, `Retry-After` and the `RateLimit-*` headers to the page. The settings are
//! [`CorsSettings`], checked when the configuration is loaded.

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::REQUEST_ID;
use crate::config::CorsSettings;

/// The CORS layer for validated settings; `None` when no origin is allowed.
pub fn layer(settings: &CorsSettings) -> Option<CorsLayer> {
    if settings.allowed_origins.is_empty() {
        return None;
    }
    let origins = if settings.allowed_origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            settings
                .allowed_origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok()),
        )
    };
    Some(
        CorsLayer::new()
            .allow_origin(origins)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("x-request-id"),
            ])
            // Not CORS-safelisted, so a page cannot read them unless exposed: a client
            // that honours Retry-After on 429/503 needs it (the browser example does).
            .expose_headers([
                REQUEST_ID,
                header::RETRY_AFTER,
                HeaderName::from_static("ratelimit-limit"),
                HeaderName::from_static("ratelimit-remaining"),
                HeaderName::from_static("ratelimit-reset"),
            ])
            .allow_credentials(settings.allow_credentials)
            .max_age(Duration::from_secs(settings.max_age_secs)),
    )
}
