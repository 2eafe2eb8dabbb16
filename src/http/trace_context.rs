//! W3C Trace Context (<https://www.w3.org/TR/trace-context/>): the caller's `traceparent`,
//! read so the request's log lines and its audit event carry the trace they belong to.
//!
//! Only reading, never answering: the service starts no spans of its own, so it has no
//! span id to hand on. An invalid header is ignored, as the specification requires (the
//! request is served as if it had none); the value is never echoed. Written here rather
//! than taken from the OpenTelemetry crates: those bring a whole tracing pipeline for what
//! is one fixed-format header, and this parser neither allocates nor copies.

use axum::http::{HeaderMap, HeaderName, HeaderValue};

/// The header's name.
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// The length of a version-00 `traceparent`: `vv-<32 hex>-<16 hex>-ff`.
const LENGTH: usize = 55;

/// A valid `traceparent`, borrowed from its header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceParent<'a> {
    /// 32 lowercase hex characters, not all zero.
    pub trace_id: &'a str,
    /// The caller's span: 16 lowercase hex characters, not all zero.
    pub parent_id: &'a str,
}

/// The request's trace context: `None` when there is no `traceparent`, more than one, or
/// one that is not valid.
pub fn of(headers: &HeaderMap) -> Option<TraceParent<'_>> {
    single(headers).and_then(parse)
}

/// The one `traceparent` header, if there is exactly one.
pub fn single(headers: &HeaderMap) -> Option<&HeaderValue> {
    let mut values = headers.get_all(TRACEPARENT).iter();
    let value = values.next()?;
    values.next().is_none().then_some(value)
}

/// Parses a `traceparent` value (section 3.2 of the specification, Level 1): a version of
/// two lowercase hex digits other than `ff`; for version `00` exactly 55 characters; for a
/// later version at least 55, and a `-` after them if longer (its extra fields are not
/// read); a non-zero trace id and parent id in lowercase hex; two hex digits of flags.
pub fn parse(value: &HeaderValue) -> Option<TraceParent<'_>> {
    let text = value.to_str().ok()?;
    let bytes = text.as_bytes();
    if bytes.len() < LENGTH {
        return None;
    }
    let version = &bytes[0..2];
    if !lower_hex(version) || version == b"ff" {
        return None;
    }
    if bytes.len() > LENGTH && (version == b"00" || bytes[LENGTH] != b'-') {
        return None;
    }
    if bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
        return None;
    }
    let (trace_id, parent_id, flags) = (&text[3..35], &text[36..52], &bytes[53..55]);
    let valid = |id: &str| lower_hex(id.as_bytes()) && id.bytes().any(|b| b != b'0');
    (valid(trace_id) && valid(parent_id) && lower_hex(flags)).then_some(TraceParent {
        trace_id,
        parent_id,
    })
}

fn lower_hex(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const PARENT: &str = "00f067aa0ba902b7";

    fn parsed(value: &str) -> Option<(String, String)> {
        let value = HeaderValue::from_str(value).ok()?;
        parse(&value).map(|t| (t.trace_id.to_owned(), t.parent_id.to_owned()))
    }

    #[test]
    fn the_specifications_example_is_read() {
        assert_eq!(
            parsed(&format!("00-{TRACE}-{PARENT}-01")),
            Some((TRACE.to_owned(), PARENT.to_owned()))
        );
        assert!(parsed(&format!("00-{TRACE}-{PARENT}-00")).is_some());
    }

    #[test]
    fn a_later_version_is_read_by_its_first_four_fields() {
        assert!(parsed(&format!("01-{TRACE}-{PARENT}-01")).is_some());
        assert!(parsed(&format!("cc-{TRACE}-{PARENT}-01-what-the-future-holds")).is_some());
        // Longer, but not followed by a dash.
        assert!(parsed(&format!("cc-{TRACE}-{PARENT}-01x")).is_none());
        // Version 00 is exactly 55 characters.
        assert!(parsed(&format!("00-{TRACE}-{PARENT}-01-extra")).is_none());
    }

    #[test]
    fn invalid_values_are_ignored() {
        let zeros32 = "0".repeat(32);
        for value in [
            String::new(),
            "garbage".to_owned(),
            format!("ff-{TRACE}-{PARENT}-01"),
            format!("0g-{TRACE}-{PARENT}-01"),
            format!("00-{}-{PARENT}-01", TRACE.to_uppercase()),
            format!("00-{TRACE}-{}-01", PARENT.to_uppercase()),
            format!("00-{zeros32}-{PARENT}-01"),
            format!("00-{TRACE}-0000000000000000-01"),
            format!("00-{TRACE}-{PARENT}-0x"),
            format!("00-{TRACE}-{PARENT}-1"),
            format!("00_{TRACE}-{PARENT}-01"),
            format!("00-{TRACE}_{PARENT}-01"),
            format!("00-{TRACE}-{PARENT}_01"),
            format!("00-{}-{PARENT}-01", &TRACE[1..]),
            format!(" 00-{TRACE}-{PARENT}-01"),
        ] {
            assert_eq!(parsed(&value), None, "{value:?}");
        }
        let not_utf8 = HeaderValue::from_bytes(&[0xff; LENGTH]).expect("a header value");
        assert_eq!(parse(&not_utf8), None);
    }

    #[test]
    fn two_headers_are_no_trace_context() {
        let value = HeaderValue::from_str(&format!("00-{TRACE}-{PARENT}-01")).expect("valid");
        let mut headers = HeaderMap::new();
        headers.append(TRACEPARENT, value.clone());
        assert!(of(&headers).is_some());
        headers.append(TRACEPARENT, value);
        assert!(of(&headers).is_none());
    }
}
