//! Who is the client? The socket peer, unless that peer is one of our own proxies.
//!
//! A forwarding header is only as trustworthy as whoever wrote its last entry. So the header
//! is read only when the peer is a trusted proxy, and from the right: each entry was written by
//! the hop to its right, and the first address (from the right) that is not a trusted proxy is
//! the client. Anything further left was supplied by that client and is ignored, so a client
//! cannot choose its identity. Pure functions, no I/O.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use http::HeaderMap;
use http::header::FORWARDED;
use ipnet::IpNet;

use crate::config::ForwardedHeader;

const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// The client address, reading `X-Forwarded-For` from trusted proxies.
///
/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are returned, and compared, as IPv4.
#[cfg(test)]
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    client_ip_from(peer, headers, trusted, ForwardedHeader::XForwardedFor)
}

/// The client address, reading the given header from trusted proxies.
///
/// * peer not trusted: the peer.
/// * otherwise, walking the header's entries (all its lines, in order) from the right: the
///   first address that is not trusted.
/// * an entry that is not an address (`unknown`, an obfuscated name, garbage): the hop that
///   wrote it, i.e. the nearest trusted address to its right, since nothing better is known.
/// * every entry trusted: the left-most one.
pub fn client_ip_from(
    peer: IpAddr,
    headers: &HeaderMap,
    trusted: &[IpNet],
    source: ForwardedHeader,
) -> IpAddr {
    let peer = peer.to_canonical();
    if !is_trusted(peer, trusted) {
        return peer;
    }
    let hops = match source {
        ForwardedHeader::XForwardedFor => x_forwarded_for_hops(headers),
        ForwardedHeader::Forwarded => forwarded_hops(headers),
    };
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Some(ip) = *hop else {
            return client;
        };
        client = ip;
        if !is_trusted(ip, trusted) {
            return ip;
        }
    }
    client
}

fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|net| net.contains(&ip))
}

/// Entries of every `X-Forwarded-For` line, in order; `None` for one that is not an address.
fn x_forwarded_for_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let mut hops = Vec::new();
    for value in headers.get_all(X_FORWARDED_FOR) {
        let value = String::from_utf8_lossy(value.as_bytes());
        hops.extend(
            value
                .split(',')
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(parse_node),
        );
    }
    hops
}

/// The `for=` parameter of every RFC 7239 `Forwarded` element, in order; `None` where it is
/// missing or not an address.
fn forwarded_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let mut hops = Vec::new();
    for value in headers.get_all(FORWARDED) {
        let value = String::from_utf8_lossy(value.as_bytes());
        for element in split_unquoted(&value, ',') {
            if element.trim().is_empty() {
                continue;
            }
            let node = split_unquoted(element, ';').into_iter().find_map(|pair| {
                let (name, value) = pair.split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("for")
                    .then(|| unquote(value.trim()))
            });
            hops.push(node.and_then(|n| parse_node(&n)));
        }
    }
    hops
}

/// Splits on `sep` outside double-quoted strings (which may escape with a backslash).
fn split_unquoted(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                parts.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn unquote(s: &str) -> String {
    match s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(inner) => {
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                out.push(if c == '\\' {
                    chars.next().unwrap_or(c)
                } else {
                    c
                });
            }
            out
        }
        None => s.to_owned(),
    }
}

/// An address with an optional port: `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`, `[2001:db8::1]`,
/// `[2001:db8::1]:443`. Anything else (`unknown`, `_hidden`, names, zone ids) is `None`.
fn parse_node(node: &str) -> Option<IpAddr> {
    let node = node.trim().trim_matches('"');
    if let Some(rest) = node.strip_prefix('[') {
        let (addr, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(valid_port)) {
            return None;
        }
        return addr
            .parse::<Ipv6Addr>()
            .ok()
            .map(|ip| IpAddr::V6(ip).to_canonical());
    }
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    let (host, port) = node.split_once(':')?;
    if !valid_port(port) {
        return None;
    }
    host.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
}

/// A port number, or an RFC 7239 obfuscated port (`_abc`).
fn valid_port(port: &str) -> bool {
    (port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok())
        || (port.starts_with('_')
            && port[1..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-'))
}

#[cfg(test)]
mod tests;
