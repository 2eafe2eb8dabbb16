//! CORS for browser uploads: `vod-js-sdk-v6` calls the signature endpoint from a web page,
//! so the browser first asks (preflight) whether that page's origin may call it.
//!
//! Only the exact origins listed in `[server.cors] allowed_origins` get the allow headers;
//! any other origin gets none, and its browser blocks the call.

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method, header};
use serde::{Deserialize, Serialize};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::REQUEST_ID;
use crate::config::ConfigError;

/// `[server.cors]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CorsSettings {
    /// Exact origins (`https://app.example.com`, scheme and host, port when not default, no
    /// path) whose pages may call the API; `["*"]` lets any page call it. Default: none
    /// (no CORS headers at all).
    pub allowed_origins: Vec<String>,
    /// Let the browser send cookies or HTTP authentication with the call. Not with `*`.
    /// Default `false` (the SDK sends its token in `Authorization`, which needs no cookies).
    pub allow_credentials: bool,
    /// How long a browser may cache a preflight answer, in seconds. Default 600.
    pub max_age_secs: u64,
}

impl Default for CorsSettings {
    fn default() -> Self {
        Self {
            allowed_origins: Vec::new(),
            allow_credentials: false,
            max_age_secs: 600,
        }
    }
}

/// Refuses origins that could never match and `*` together with credentials.
pub fn validate(settings: &CorsSettings) -> Result<(), ConfigError> {
    for (i, origin) in settings.allowed_origins.iter().enumerate() {
        let key = format!("server.cors.allowed_origins[{i}]");
        if origin == "*" {
            if settings.allow_credentials {
                return Err(ConfigError::key(
                    key,
                    "\"*\" cannot be combined with allow_credentials = true; list the exact \
                     origins instead",
                ));
            }
            if settings.allowed_origins.len() > 1 {
                return Err(ConfigError::key(
                    key,
                    "\"*\" already allows every origin; remove the other entries or the \"*\"",
                ));
            }
            continue;
        }
        let rest = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"));
        let well_formed = rest.is_some_and(|host| {
            !host.is_empty()
                && !host.contains(['/', '?', '#', '*', ' '])
                && HeaderValue::from_str(origin).is_ok()
        });
        if !well_formed {
            return Err(ConfigError::key(
                key,
                format!(
                    "{origin:?} is not an origin; write scheme://host[:port] with no path or \
                     trailing slash, e.g. \"https://app.example.com\""
                ),
            ));
        }
    }
    Ok(())
}

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
            .expose_headers([REQUEST_ID])
            .allow_credentials(settings.allow_credentials)
            .max_age(Duration::from_secs(settings.max_age_secs)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(origins: &[&str], credentials: bool) -> CorsSettings {
        CorsSettings {
            allowed_origins: origins.iter().map(|o| (*o).to_owned()).collect(),
            allow_credentials: credentials,
            ..CorsSettings::default()
        }
    }

    #[test]
    fn star_with_credentials_is_refused() {
        let err = validate(&with(&["*"], true)).expect_err("refused");
        assert!(err.to_string().contains("allow_credentials"), "{err}");
        assert!(validate(&with(&["*"], false)).is_ok());
    }

    #[test]
    fn only_bare_origins_are_accepted() {
        assert!(
            validate(&with(
                &["https://app.example.com", "http://localhost:3000"],
                true
            ))
            .is_ok()
        );
        for bad in [
            "app.example.com",
            "https://app.example.com/",
            "https://*.example.com",
            "ftp://x",
        ] {
            let err = validate(&with(&[bad], false)).expect_err(bad);
            assert!(err.to_string().contains("allowed_origins[0]"), "{err}");
        }
    }
}
