//! The endpoints a configuration names, tried from here: what `vodsign check-config` does
//! unless `--offline`. Each try is bounded by a timeout and reports reachable or
//! unreachable; none changes the exit status (the network of the machine running the check
//! may not be the service's).
//!
//! - Redis (`limits.redis_url`): connect and `PING`.
//! - JWKS (`auth.jwt[].jwks_url`): `GET`, expecting a JSON key set.
//! - Introspection (`auth.introspection[].introspection_url`): a TCP connection to its host
//!   and port only, closed at once: nothing is sent, so neither a client secret nor a token
//!   leaves the machine.
//!
//! What is printed never holds a secret: the Redis URL (which may carry a password) is
//! shown as its host and port only, and errors are described by their kind.

use std::time::Duration;

use secrecy::ExposeSecret;

use crate::config::Settings;

/// The longest one try may take.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// One endpoint tried: what it is, and whether it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// The setting and where it points, e.g. `limits.redis_url (127.0.0.1:6379)`.
    pub target: String,
    /// `Ok(detail)` when reachable, `Err(why)` when not.
    pub outcome: Result<String, String>,
}

/// Tries every endpoint `settings` names, one after the other, each within `timeout`.
pub async fn probe_all(settings: &Settings, timeout: Duration) -> Vec<Probe> {
    let mut probes = Vec::new();
    if let Some(url) = &settings.limits.redis_url {
        probes.push(redis(url.expose_secret(), timeout).await);
    }
    for provider in &settings.auth.jwt {
        if let Some(url) = &provider.jwks_url {
            probes.push(jwks(&provider.name, url, timeout).await);
        }
    }
    for provider in &settings.auth.introspection {
        probes.push(introspection(&provider.name, &provider.introspection_url, timeout).await);
    }
    probes
}

async fn redis(url: &str, timeout: Duration) -> Probe {
    let client = redis::Client::open(url);
    let place = client.as_ref().map_or_else(
        |_| "an unreadable URL".to_owned(),
        |c| c.get_connection_info().addr().to_string(),
    );
    let target = format!("limits.redis_url ({place})");
    let Ok(client) = client else {
        return Probe {
            target,
            outcome: Err("the URL cannot be read as redis://host:port".to_owned()),
        };
    };
    let attempt = async {
        let mut connection = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
    };
    let outcome = match tokio::time::timeout(timeout, attempt).await {
        Err(_) => Err(timed_out(timeout)),
        Ok(Ok(pong)) => Ok(format!("PING answered {pong}")),
        Ok(Err(e)) => Err(redis_failure(&e)),
    };
    Probe { target, outcome }
}

/// A Redis error by its kind: its text may quote the URL, password included.
fn redis_failure(e: &redis::RedisError) -> String {
    if e.is_connection_refusal() {
        "connection refused".to_owned()
    } else if e.is_timeout() {
        "timed out".to_owned()
    } else if e.kind() == redis::ErrorKind::AuthenticationFailed {
        "authentication failed: check the password in the URL".to_owned()
    } else {
        format!("failed ({:?})", e.kind())
    }
}

async fn jwks(provider: &str, url: &str, timeout: Duration) -> Probe {
    let target = format!("auth.jwt {provider} jwks_url ({})", without_query(url));
    let attempt = async {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|_| "cannot build an HTTP client".to_owned())?;
        let response = client.get(url).send().await.map_err(|e| http_failure(&e))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| http_failure(&e))?;
        if !status.is_success() {
            return Err(format!("answered HTTP {status}"));
        }
        let keys = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|set| set["keys"].as_array().map(Vec::len))
            .ok_or_else(|| format!("answered HTTP {status}, but not a JSON key set"))?;
        Ok(format!("HTTP {status}, {keys} keys"))
    };
    let outcome = tokio::time::timeout(timeout, attempt)
        .await
        .unwrap_or_else(|_| Err(timed_out(timeout)));
    Probe { target, outcome }
}

fn http_failure(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "cannot connect".to_owned()
    } else {
        "the request failed".to_owned()
    }
}

async fn introspection(provider: &str, url: &str, timeout: Duration) -> Probe {
    let parsed = reqwest::Url::parse(url).ok();
    let place = parsed
        .as_ref()
        .and_then(|u| Some((u.host_str()?.to_owned(), u.port_or_known_default()?)));
    let Some((host, port)) = place else {
        return Probe {
            target: format!("auth.introspection {provider} introspection_url"),
            outcome: Err("the URL has no host and port".to_owned()),
        };
    };
    let target =
        format!("auth.introspection {provider} introspection_url ({host}:{port}, TCP only)");
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let outcome =
        match tokio::time::timeout(timeout, tokio::net::TcpStream::connect((host, port))).await {
            Err(_) => Err(timed_out(timeout)),
            Ok(Ok(_stream)) => Ok("TCP connection accepted (nothing sent)".to_owned()),
            Ok(Err(e)) => Err(format!("cannot connect ({})", e.kind())),
        };
    Probe { target, outcome }
}

/// A URL without its query and fragment, for display.
fn without_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

fn timed_out(timeout: Duration) -> String {
    format!("no answer within {} ms", timeout.as_millis())
}
