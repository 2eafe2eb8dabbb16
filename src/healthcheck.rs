//! `vodsign healthcheck`: the container probe for an image without curl.
//!
//! Asks the local instance's `/readyz` on the configured listen address (loopback when it
//! listens on every interface; HTTPS when `[server.tls]` is set). Ready is exit 0, anything
//! else exit 1 (Docker reserves 2), always within the timeout. The certificate is not
//! checked: the probe only talks to loopback, sends nothing secret and reads only a status.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use crate::config::ServerSettings;

/// The `/readyz` URL of the instance configured by `server`.
pub fn readiness_url(server: &ServerSettings) -> String {
    let address = local_address(server.listen);
    let scheme = if server.tls.is_some() {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{address}/readyz")
}

/// Where a local client reaches a listener bound to `address`: loopback for a wildcard.
pub fn local_address(mut address: SocketAddr) -> SocketAddr {
    if address.ip().is_unspecified() {
        address.set_ip(match address.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        });
    }
    address
}

/// `Ok` when `url` answers 200 within `timeout`; otherwise why not, in one sentence.
pub async fn check(url: &str, timeout: Duration) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .no_proxy()
        .danger_accept_invalid_certs(true)
        .build()
        .map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| format!("{url} is not reachable ({e}); is the service running?"))?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        let body = response.text().await.unwrap_or_default();
        Err(format!("{url} answered {status}: {body}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_addresses_are_probed_on_loopback() {
        let mut server = ServerSettings {
            listen: "0.0.0.0:8080".parse().expect("address"),
            ..ServerSettings::default()
        };
        assert_eq!(readiness_url(&server), "http://127.0.0.1:8080/readyz");
        server.listen = "[::]:8443".parse().expect("address");
        server.tls = Some(crate::config::TlsSettings {
            cert_file: "c".into(),
            key_file: "k".into(),
        });
        assert_eq!(readiness_url(&server), "https://[::1]:8443/readyz");
        server.listen = "10.0.0.5:80".parse().expect("address");
        assert_eq!(readiness_url(&server), "https://10.0.0.5:80/readyz");
    }
}
