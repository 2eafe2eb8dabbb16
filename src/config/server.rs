//! `[server]`: the public listener, its deadlines and limits, `[server.tls]` and
//! `[server.cors]`. The transport (`crate::server`), TLS loading (`crate::tls`) and the
//! CORS layer (`crate::http::cors`) read these once they are checked here.

use std::net::SocketAddr;
use std::path::PathBuf;

use http::HeaderValue;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use super::ConfigError;

/// hyper's floor for its read buffer, which bounds the request head.
const MIN_HEADER_BYTES: usize = 8192;

/// `[server]`: the listener and its protections.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Address of the public listener. Default `0.0.0.0:8080`.
    pub listen: SocketAddr,
    /// Longest time a request may take before it is answered with 50301. Default 10 s.
    pub request_timeout_ms: u64,
    /// Longest time a signature request's body may take to arrive once the caller is
    /// authenticated; later gets 408 (40801). At most `request_timeout_ms`. Default 5 s.
    pub body_timeout_ms: u64,
    /// Largest request body accepted, in bytes; larger gets 41301. Default 16 KiB.
    pub body_limit_bytes: usize,
    /// `json` (one object per line, for log shippers) or `text`. Default `json`.
    pub log_format: LogFormat,
    /// A `tracing` filter directive such as `info` or `vodsign=debug,info`. Default `info`.
    pub log_level: String,
    /// After SIGTERM/SIGINT, how long `/readyz` answers 503 while requests are still served,
    /// so the load balancer takes the instance out of rotation. Default 5 s.
    pub drain_delay_ms: u64,
    /// Then, how long in-flight requests get to finish before connections are closed.
    /// Default 10 s.
    pub shutdown_grace_ms: u64,
    /// Largest request head (request line and headers) in bytes; larger gets 431. At least
    /// 8192. Default 16 KiB.
    pub max_header_bytes: usize,
    /// Connections served at once; past it new connections wait in the listen backlog
    /// (and are refused by the kernel when that is full). Default 1024.
    pub max_connections: usize,
    /// Connections served at once from one peer address (not `[limits] trusted_proxies`);
    /// past it a new connection is closed at once. 0 turns it off. Default 64.
    pub max_connections_per_address: usize,
    /// A connection that sends nothing (after the TLS handshake, if any) is closed after
    /// this long. Default 10 s.
    pub first_byte_timeout_ms: u64,
    /// Longest time from a connection's first byte to its first complete request head
    /// (HTTP/2 preface included), and for each later HTTP/1 request head. Default 10 s.
    pub header_timeout_ms: u64,
    /// A connection (HTTP/1 keep-alive or HTTP/2) with no request in flight is closed after
    /// this long; also the HTTP/2 keep-alive ping interval. Default 60 s.
    pub keepalive_idle_ms: u64,
    /// A connection whose writes make no progress (a client that stops reading) is closed
    /// after this long; also the HTTP/2 ping answer timeout. Default 10 s.
    pub write_timeout_ms: u64,
    /// Longest TLS handshake. Default 10 s.
    pub tls_handshake_timeout_ms: u64,
    /// `[server.tls]`: serve HTTPS (HTTP/2 by ALPN) instead of plain HTTP. Default: off.
    pub tls: Option<TlsSettings>,
    /// `[server.cors]`: which web origins may call the API from a browser. Default: none.
    pub cors: CorsSettings,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
            request_timeout_ms: 10_000,
            body_timeout_ms: 5_000,
            body_limit_bytes: 16 * 1024,
            log_format: LogFormat::Json,
            log_level: "info".to_owned(),
            drain_delay_ms: 5_000,
            shutdown_grace_ms: 10_000,
            max_header_bytes: 16 * 1024,
            max_connections: 1024,
            max_connections_per_address: 64,
            first_byte_timeout_ms: 10_000,
            header_timeout_ms: 10_000,
            keepalive_idle_ms: 60_000,
            write_timeout_ms: 10_000,
            tls_handshake_timeout_ms: 10_000,
            tls: None,
            cors: CorsSettings::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Text,
}

/// `[server.tls]`: both files are PEM, read at start-up and on every reload.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// The certificate chain, leaf first (intermediates after it).
    pub cert_file: PathBuf,
    /// The private key of the leaf (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
}

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
fn validate_cors(settings: &CorsSettings) -> Result<(), ConfigError> {
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

/// Checks the `[server]` keys the transport reads, and `[server.cors]`.
pub(super) fn validate(server: &ServerSettings) -> Result<(), ConfigError> {
    if !(MIN_HEADER_BYTES..=1024 * 1024).contains(&server.max_header_bytes) {
        return Err(ConfigError::key(
            "server.max_header_bytes",
            format!("must be from {MIN_HEADER_BYTES} to 1048576 bytes"),
        ));
    }
    if server.max_connections == 0 || server.max_connections > Semaphore::MAX_PERMITS {
        return Err(ConfigError::key(
            "server.max_connections",
            "must be from 1 to a few hundred thousand; the default is 1024",
        ));
    }
    for (key, value) in [
        ("server.request_timeout_ms", server.request_timeout_ms),
        ("server.first_byte_timeout_ms", server.first_byte_timeout_ms),
        ("server.header_timeout_ms", server.header_timeout_ms),
        ("server.keepalive_idle_ms", server.keepalive_idle_ms),
        ("server.write_timeout_ms", server.write_timeout_ms),
        (
            "server.tls_handshake_timeout_ms",
            server.tls_handshake_timeout_ms,
        ),
    ] {
        if value == 0 {
            return Err(ConfigError::key(key, "must be at least 1 millisecond"));
        }
    }
    if server.body_timeout_ms == 0 || server.body_timeout_ms > server.request_timeout_ms {
        return Err(ConfigError::key(
            "server.body_timeout_ms",
            "must be from 1 millisecond to server.request_timeout_ms",
        ));
    }
    validate_cors(&server.cors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_timeout_is_at_least_1_ms_and_at_most_the_request_timeout() {
        let defaults = ServerSettings::default();
        assert!(validate(&defaults).is_ok());
        assert!(defaults.body_timeout_ms < defaults.request_timeout_ms);
        for body_timeout_ms in [0, defaults.request_timeout_ms + 1] {
            let settings = ServerSettings {
                body_timeout_ms,
                ..ServerSettings::default()
            };
            let error = validate(&settings).expect_err("refused");
            assert!(
                error.to_string().contains("server.body_timeout_ms"),
                "{error}"
            );
        }
        let equal = ServerSettings {
            body_timeout_ms: defaults.request_timeout_ms,
            ..ServerSettings::default()
        };
        assert!(validate(&equal).is_ok());
    }

    #[test]
    fn a_zero_deadline_is_refused_naming_its_key() {
        let mut server = ServerSettings {
            write_timeout_ms: 0,
            ..ServerSettings::default()
        };
        let err = validate(&server).unwrap_err();
        assert!(err.to_string().contains("server.write_timeout_ms"), "{err}");
        server.write_timeout_ms = 1;
        assert!(validate(&server).is_ok());
    }

    fn with(origins: &[&str], credentials: bool) -> CorsSettings {
        CorsSettings {
            allowed_origins: origins.iter().map(|o| (*o).to_owned()).collect(),
            allow_credentials: credentials,
            ..CorsSettings::default()
        }
    }

    #[test]
    fn star_with_credentials_is_refused() {
        let err = validate_cors(&with(&["*"], true)).expect_err("refused");
        assert!(err.to_string().contains("allow_credentials"), "{err}");
        assert!(validate_cors(&with(&["*"], false)).is_ok());
    }

    #[test]
    fn only_bare_origins_are_accepted() {
        assert!(
            validate_cors(&with(
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
            let err = validate_cors(&with(&[bad], false)).expect_err(bad);
            assert!(err.to_string().contains("allowed_origins[0]"), "{err}");
        }
    }
}
