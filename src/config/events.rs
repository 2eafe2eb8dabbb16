//! `[events]`: VOD's reliable event queue, drained through the VOD API (`crate::vodapi`):
//! whether to drain it, with which named credential, at which endpoint, for which
//! (sub-)application, and how long one `PullEvents` long poll may take.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{ConfigError, DEFAULT_CREDENTIAL};

/// The default of `events.api_endpoint`.
pub const DEFAULT_API_ENDPOINT: &str = "https://vod.tencentcloudapi.com";

/// Shortest and longest `pull_timeout_ms`. VOD holds a long poll up to about 5 s, so a real
/// account wants more than 6 s; the short end is for tests against a fake that holds less.
const PULL_TIMEOUT_MS: std::ops::RangeInclusive<u64> = 100..=120_000;

/// The `[events]` table. Every key is optional.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventSettings {
    /// Drain VOD's event queue. Default `false`.
    pub enabled: bool,
    /// The named VOD credential (`[credentials.NAME]`) the VOD API calls are signed with.
    /// Default `default`.
    pub credential: String,
    /// The VOD API's base URL. Default `https://vod.tencentcloudapi.com`; plain `http://` is
    /// accepted only for a loopback host (a local fake in tests).
    pub api_endpoint: String,
    /// `X-TC-Region`, when set (the VOD API needs none).
    pub region: Option<String>,
    /// `SubAppId` sent with every call: required by VOD for accounts opened since
    /// 2023-12-25. Default: none.
    pub sub_app_id: Option<u64>,
    /// Client timeout of one `PullEvents` call (VOD holds it up to about 5 s), in
    /// milliseconds. Default `10000`; from 100 to 120000.
    pub pull_timeout_ms: u64,
}

impl Default for EventSettings {
    fn default() -> Self {
        EventSettings {
            enabled: false,
            credential: DEFAULT_CREDENTIAL.to_owned(),
            api_endpoint: DEFAULT_API_ENDPOINT.to_owned(),
            region: None,
            sub_app_id: None,
            pull_timeout_ms: 10_000,
        }
    }
}

impl EventSettings {
    /// Checks every value; the error names the first offending key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.credential.trim().is_empty() {
            return Err(ConfigError::key(
                "events.credential",
                "must name a credential (default \"default\")",
            ));
        }
        validate_endpoint(&self.api_endpoint)?;
        if let Some(region) = &self.region {
            let valid = !region.is_empty()
                && region.len() <= 64
                && region
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !valid {
                return Err(ConfigError::key(
                    "events.region",
                    "must be a region name such as ap-guangzhou (lower-case letters, digits \
                     and -), or be left out",
                ));
            }
        }
        if self.sub_app_id == Some(0) {
            return Err(ConfigError::key(
                "events.sub_app_id",
                "must be the VOD application's id (a positive number), or be left out",
            ));
        }
        if !PULL_TIMEOUT_MS.contains(&self.pull_timeout_ms) {
            return Err(ConfigError::key(
                "events.pull_timeout_ms",
                format!(
                    "must be from {} to {}; VOD holds a PullEvents call up to about 5 s, so \
                     keep it above 6000 (default 10000)",
                    PULL_TIMEOUT_MS.start(),
                    PULL_TIMEOUT_MS.end()
                ),
            ));
        }
        Ok(())
    }

    /// The client timeout of one `PullEvents` call.
    pub fn pull_timeout(&self) -> Duration {
        Duration::from_millis(self.pull_timeout_ms)
    }
}

/// `https://HOST[:PORT][/]`, or `http://` with a loopback host; no path, query, or user.
fn validate_endpoint(endpoint: &str) -> Result<(), ConfigError> {
    let refuse = |rule: &str| Err(ConfigError::key("events.api_endpoint", rule));
    let (scheme, rest) = match endpoint.split_once("://") {
        Some(("https", rest)) => ("https", rest),
        Some(("http", rest)) => ("http", rest),
        _ => return refuse("must start with https:// (default https://vod.tencentcloudapi.com)"),
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.is_empty() || authority.contains(['/', '?', '#', '@', ' ']) {
        return refuse(
            "must be a scheme and a host (and port) only, e.g. https://vod.tencentcloudapi.com",
        );
    }
    let host = match authority.strip_prefix('[') {
        Some(bracketed) => match bracketed.split_once(']') {
            Some((host, port)) if port.is_empty() || port.starts_with(':') => host,
            _ => return refuse("has a malformed IPv6 address"),
        },
        None => authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host),
    };
    if host.is_empty() || host.contains(':') && !authority.starts_with('[') {
        return refuse("has no host, or an IPv6 address without [brackets]");
    }
    if let Some((_, port)) = authority.rsplit_once(':')
        && !authority.ends_with(']')
        && port.parse::<u16>().is_err()
    {
        return refuse("has a port that is not a number from 0 to 65535");
    }
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if scheme == "http" && !loopback {
        return refuse(
            "must use https://; plain http:// is accepted only for a loopback host (a local \
             fake VOD API)",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid() {
        let settings = EventSettings::default();
        assert!(settings.validate().is_ok());
        assert!(!settings.enabled);
        assert_eq!(settings.credential, "default");
        assert_eq!(settings.api_endpoint, "https://vod.tencentcloudapi.com");
        assert_eq!(settings.pull_timeout(), Duration::from_secs(10));
    }

    #[test]
    fn endpoints_are_https_or_loopback_http() {
        for good in [
            "https://vod.tencentcloudapi.com",
            "https://vod.tencentcloudapi.com/",
            "https://vod.ap-singapore.tencentcloudapi.com:443",
            "http://127.0.0.1:8099",
            "http://localhost:1",
            "http://[::1]:8099",
        ] {
            let settings = EventSettings {
                api_endpoint: good.into(),
                ..EventSettings::default()
            };
            assert!(settings.validate().is_ok(), "{good}");
        }
        for bad in [
            "vod.tencentcloudapi.com",
            "http://vod.tencentcloudapi.com",
            "http://10.0.0.1:80",
            "ftp://127.0.0.1",
            "https://",
            "https://vod.tencentcloudapi.com/path",
            "https://user@vod.tencentcloudapi.com",
            "https://vod.tencentcloudapi.com:http",
            "http://[::1",
            "https://::1",
            "https://:443",
        ] {
            let settings = EventSettings {
                api_endpoint: bad.into(),
                ..EventSettings::default()
            };
            let err = settings.validate().expect_err(bad);
            assert_eq!(err.setting(), Some("events.api_endpoint"), "{bad}: {err}");
        }
    }

    #[test]
    fn each_bound_names_its_key() {
        type Breaker = fn(&mut EventSettings);
        let cases: [(&str, Breaker); 5] = [
            ("events.credential", |s| s.credential = " ".into()),
            ("events.region", |s| s.region = Some("AP Guangzhou".into())),
            ("events.sub_app_id", |s| s.sub_app_id = Some(0)),
            ("events.pull_timeout_ms", |s| s.pull_timeout_ms = 99),
            ("events.pull_timeout_ms", |s| s.pull_timeout_ms = 120_001),
        ];
        for (key, break_it) in cases {
            let mut settings = EventSettings::default();
            break_it(&mut settings);
            let err = settings.validate().expect_err(key);
            assert_eq!(err.setting(), Some(key), "{err}");
        }
    }
}
