use super::*;
use http::HeaderValue;

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

fn nets(list: &[&str]) -> Vec<IpNet> {
    list.iter().map(|n| n.parse().expect("test net")).collect()
}

fn headers(name: &str, values: &[&str]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for v in values {
        h.append(
            http::HeaderName::from_bytes(name.as_bytes()).expect("test header name"),
            HeaderValue::from_str(v).expect("test header value"),
        );
    }
    h
}

fn xff(values: &[&str]) -> HeaderMap {
    headers("x-forwarded-for", values)
}

fn fwd(values: &[&str]) -> HeaderMap {
    headers("forwarded", values)
}

const PROXIES: &[&str] = &["10.0.0.0/8", "fd00::/8"];

#[test]
fn untrusted_peer_is_the_client_whatever_it_claims() {
    let t = nets(PROXIES);
    let peer = ip("203.0.113.7");
    assert_eq!(client_ip(peer, &xff(&["198.51.100.1"]), &t), peer);
    assert_eq!(client_ip(peer, &xff(&["10.0.0.1"]), &t), peer);
    let h = fwd(&["for=198.51.100.1"]);
    assert_eq!(
        client_ip_from(peer, &h, &t, ForwardedHeader::Forwarded),
        peer
    );
}

#[test]
fn no_trusted_proxies_configured_means_peer_always() {
    let peer = ip("10.0.0.5");
    assert_eq!(client_ip(peer, &xff(&["198.51.100.1"]), &[]), peer);
}

#[test]
fn trusted_peer_without_header_is_the_client() {
    let peer = ip("10.1.2.3");
    assert_eq!(client_ip(peer, &HeaderMap::new(), &nets(PROXIES)), peer);
}

#[test]
fn trusted_peer_hands_over_the_right_most_untrusted_entry() {
    let t = nets(PROXIES);
    let h = xff(&["1.1.1.1, 198.51.100.9, 10.0.0.2"]);
    assert_eq!(client_ip(ip("10.0.0.1"), &h, &t), ip("198.51.100.9"));
}

#[test]
fn client_supplied_left_entries_are_ignored() {
    // The client sent "X-Forwarded-For: 6.6.6.6"; the proxy appended the real peer.
    let t = nets(PROXIES);
    let h = xff(&["6.6.6.6, 198.51.100.20"]);
    assert_eq!(client_ip(ip("10.0.0.1"), &h, &t), ip("198.51.100.20"));
}

#[test]
fn multiple_header_lines_are_one_list_in_order() {
    let t = nets(PROXIES);
    let h = xff(&["6.6.6.6", "198.51.100.20, 10.0.0.3", "10.0.0.4"]);
    assert_eq!(client_ip(ip("10.0.0.1"), &h, &t), ip("198.51.100.20"));
}

#[test]
fn all_trusted_chain_gives_the_left_most_hop() {
    let t = nets(PROXIES);
    let h = xff(&["10.9.9.9, 10.0.0.2"]);
    assert_eq!(client_ip(ip("10.0.0.1"), &h, &t), ip("10.9.9.9"));
}

#[test]
fn garbage_entry_stops_at_the_hop_that_wrote_it() {
    let t = nets(PROXIES);
    let peer = ip("10.0.0.1");
    assert_eq!(client_ip(peer, &xff(&["1.2.3.4, garbage"]), &t), peer);
    assert_eq!(
        client_ip(peer, &xff(&["unknown, 10.0.0.7"]), &t),
        ip("10.0.0.7")
    );
    assert_eq!(client_ip(peer, &xff(&["999.1.1.1"]), &t), peer);
    assert_eq!(client_ip(peer, &xff(&["1.2.3.4:99999"]), &t), peer);
}

#[test]
fn garbage_left_of_the_client_is_irrelevant() {
    let t = nets(PROXIES);
    let h = xff(&["<script>, ;;, 198.51.100.3"]);
    assert_eq!(client_ip(ip("10.0.0.1"), &h, &t), ip("198.51.100.3"));
}

#[test]
fn empty_entries_are_skipped() {
    let t = nets(PROXIES);
    let h = xff(&[" , 198.51.100.3 ,, ", ""]);
    assert_eq!(client_ip(ip("10.0.0.1"), &h, &t), ip("198.51.100.3"));
}

#[test]
fn ports_are_dropped() {
    let t = nets(PROXIES);
    let peer = ip("10.0.0.1");
    assert_eq!(
        client_ip(peer, &xff(&["198.51.100.3:5555"]), &t),
        ip("198.51.100.3")
    );
    assert_eq!(
        client_ip(peer, &xff(&["[2001:db8::7]:443"]), &t),
        ip("2001:db8::7")
    );
}

#[test]
fn ipv6_entries_and_peers() {
    let t = nets(PROXIES);
    let peer = ip("fd00::1");
    assert_eq!(
        client_ip(peer, &xff(&["2001:db8::1"]), &t),
        ip("2001:db8::1")
    );
    assert_eq!(
        client_ip(peer, &xff(&["[2001:db8::1]"]), &t),
        ip("2001:db8::1")
    );
    assert_eq!(
        client_ip(peer, &xff(&["2001:db8::1, fd00::2"]), &t),
        ip("2001:db8::1")
    );
    assert_eq!(client_ip(peer, &xff(&["fe80::1%eth0"]), &t), peer);
}

#[test]
fn ipv4_mapped_addresses_count_as_ipv4() {
    let t = nets(PROXIES);
    // A dual-stack listener reports an IPv4 proxy as ::ffff:10.0.0.1.
    let h = xff(&["::ffff:198.51.100.4"]);
    assert_eq!(client_ip(ip("::ffff:10.0.0.1"), &h, &t), ip("198.51.100.4"));
    assert_eq!(
        client_ip(ip("::ffff:203.0.113.1"), &h, &t),
        ip("203.0.113.1")
    );
}

#[test]
fn forwarded_header_for_parameter() {
    let t = nets(PROXIES);
    let peer = ip("10.0.0.1");
    let read = |h: &HeaderMap| client_ip_from(peer, h, &t, ForwardedHeader::Forwarded);
    assert_eq!(read(&fwd(&["for=198.51.100.1"])), ip("198.51.100.1"));
    assert_eq!(
        read(&fwd(&[
            "for=6.6.6.6, for=198.51.100.1;proto=https;by=10.0.0.1"
        ])),
        ip("198.51.100.1")
    );
    assert_eq!(
        read(&fwd(&["For=\"[2001:db8:cafe::17]:4711\""])),
        ip("2001:db8:cafe::17")
    );
    assert_eq!(
        read(&fwd(&["proto=http;for=\"198.51.100.2:80\";host=\"a,b\""])),
        ip("198.51.100.2")
    );
    assert_eq!(
        read(&fwd(&["for=6.6.6.6", "for=198.51.100.5"])),
        ip("198.51.100.5")
    );
    assert_eq!(read(&fwd(&["for=unknown"])), peer);
    assert_eq!(read(&fwd(&["for=_hidden, for=10.0.0.9"])), ip("10.0.0.9"));
    assert_eq!(read(&fwd(&["proto=https"])), peer, "element without for=");
}

#[test]
fn the_other_header_is_not_read() {
    // A proxy that writes X-Forwarded-For passes a client's Forwarded header through.
    let t = nets(PROXIES);
    let peer = ip("10.0.0.1");
    let mut h = xff(&["198.51.100.1"]);
    h.append(FORWARDED, HeaderValue::from_static("for=6.6.6.6"));
    assert_eq!(client_ip(peer, &h, &t), ip("198.51.100.1"));
    let only_xff = xff(&["6.6.6.6"]);
    assert_eq!(
        client_ip_from(peer, &only_xff, &t, ForwardedHeader::Forwarded),
        peer
    );
}

#[test]
fn non_utf8_bytes_only_spoil_their_own_entry() {
    let t = nets(PROXIES);
    let mut h = HeaderMap::new();
    h.append(
        X_FORWARDED_FOR,
        HeaderValue::from_bytes(b"\xff\xfe, 198.51.100.8").expect("opaque bytes are allowed"),
    );
    assert_eq!(client_ip(ip("10.0.0.1"), &h, &t), ip("198.51.100.8"));
}

#[test]
fn node_parsing() {
    assert_eq!(parse_node("1.2.3.4"), Some(ip("1.2.3.4")));
    assert_eq!(parse_node(" 1.2.3.4:8080 "), Some(ip("1.2.3.4")));
    assert_eq!(parse_node("1.2.3.4:_abc"), Some(ip("1.2.3.4")));
    assert_eq!(parse_node("[::1]:80"), Some(ip("::1")));
    assert_eq!(parse_node("[::1]x"), None);
    assert_eq!(parse_node("[::1"), None);
    assert_eq!(parse_node("1.2.3.4:"), None);
    assert_eq!(parse_node("example.com"), None);
    assert_eq!(parse_node(""), None);
}
