//! Who is on the other end of the connection, for logs, audit events and (later) limits.
//!
//! [`client_ip`] is the one place that answers it. Today it is the socket peer that
//! `axum::serve(..., into_make_service_with_connect_info::<SocketAddr>())` records. A layer
//! that knows better (trusted-proxy resolution of `X-Forwarded-For`) inserts a [`ClientIp`]
//! extension before the request span is made, and every reader then sees that instead.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::Request;

/// The resolved client address, when something resolved it better than the socket peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// The client's IP address: a resolved [`ClientIp`] if present, else the socket peer;
/// `None` when neither is known (a router driven without a socket, as in tests).
pub fn client_ip<B>(request: &Request<B>) -> Option<IpAddr> {
    let extensions = request.extensions();
    extensions.get::<ClientIp>().map(|ip| ip.0).or_else(|| {
        extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resolved_address_wins_over_the_peer() {
        let mut request = Request::new(());
        assert_eq!(client_ip(&request), None);
        let peer = SocketAddr::from(([10, 0, 0, 1], 4000));
        request.extensions_mut().insert(ConnectInfo(peer));
        assert_eq!(client_ip(&request), Some(peer.ip()));
        let resolved = IpAddr::from([203, 0, 113, 9]);
        request.extensions_mut().insert(ClientIp(resolved));
        assert_eq!(client_ip(&request), Some(resolved));
    }
}
