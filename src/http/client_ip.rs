//! Who is on the other end of the connection, for logs, audit events and limits.
//!
//! [`client_ip`] is the one place that answers it: the [`ClientIp`] that the outermost
//! layer ([`super::front`]) worked out from the socket peer and, for a trusted proxy only,
//! its forwarding header (`Limiter::client_ip`); else the socket peer itself.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Extensions, Request};

/// The resolved client address, when something resolved it better than the socket peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// The client's IP address: a resolved [`ClientIp`] if present, else the socket peer;
/// `None` when neither is known (a router driven without a socket, as in most tests).
pub fn client_ip<B>(request: &Request<B>) -> Option<IpAddr> {
    of(request.extensions())
}

/// [`client_ip`] from a request's extensions (for an extractor, which sees its parts).
pub fn of(extensions: &Extensions) -> Option<IpAddr> {
    extensions
        .get::<ClientIp>()
        .map(|ip| ip.0)
        .or_else(|| peer(extensions))
}

/// The socket peer, or a test's `MockConnectInfo`.
pub fn peer(extensions: &Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .or_else(|| {
            extensions
                .get::<MockConnectInfo<SocketAddr>>()
                .map(|m| m.0.ip())
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
