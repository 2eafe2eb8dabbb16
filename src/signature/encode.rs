//! The query-string encoding: the one every parser reads back the same.
//!
//! UTF-8, then every byte outside RFC 3986's unreserved set (`A-Z a-z 0-9 - . _ ~`) becomes
//! `%XX` with upper-case hex. A space is `%20` and `+` is `%2B`, so a form-urlencoded parser
//! (which reads `+` as a space) and a strict RFC 3986 parser agree on every value.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::params::SignParams;

/// Every byte except the RFC 3986 unreserved characters.
pub const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes one value.
pub fn encode_value(value: &str) -> impl std::fmt::Display + '_ {
    utf8_percent_encode(value, COMPONENT)
}

/// The parameter names in the order we emit them: the four required ones, then the
/// optional ones in the spec table's order.
pub const PARAMETER_ORDER: [&str; 13] = [
    "secretId",
    "currentTimeStamp",
    "expireTime",
    "random",
    "classId",
    "procedure",
    "taskPriority",
    "taskNotifyMode",
    "sourceContext",
    "sessionContext",
    "oneTimeValid",
    "vodSubAppId",
    "storageRegion",
];

/// Builds `original`, the signed query string. Unset optional parameters are left out;
/// integers are plain decimal.
///
/// Written straight into one pre-sized `String` (no formatting machinery, integers through
/// `itoa`, values percent-encoded chunk by chunk): this runs on every request.
pub fn original(params: &SignParams) -> String {
    let mut out = String::with_capacity(capacity(params));
    out.push_str("secretId=");
    push_encoded(&mut out, params.secret_id.as_str());
    push_integer(&mut out, "&currentTimeStamp=", params.current_time);
    push_integer(&mut out, "&expireTime=", params.expire_time());
    push_integer(&mut out, "&random=", params.random);
    let options = &params.options;
    if let Some(class_id) = options.class_id {
        push_integer(&mut out, "&classId=", class_id.0);
    }
    if let Some(procedure) = &options.procedure {
        out.push_str("&procedure=");
        push_encoded(&mut out, procedure.as_str());
    }
    if let Some(priority) = options.task_priority {
        push_integer(&mut out, "&taskPriority=", priority.get());
    }
    if let Some(mode) = options.task_notify_mode {
        out.push_str("&taskNotifyMode=");
        out.push_str(mode.as_str());
    }
    if let Some(context) = &options.source_context {
        out.push_str("&sourceContext=");
        push_encoded(&mut out, context.as_str());
    }
    if let Some(context) = &options.session_context {
        out.push_str("&sessionContext=");
        push_encoded(&mut out, context.as_str());
    }
    if let Some(one_time) = options.one_time_valid {
        out.push_str(if one_time {
            "&oneTimeValid=1"
        } else {
            "&oneTimeValid=0"
        });
    }
    if let Some(app) = options.vod_sub_app_id {
        push_integer(&mut out, "&vodSubAppId=", app.0);
    }
    if let Some(region) = &options.storage_region {
        out.push_str("&storageRegion=");
        out.push_str(region.as_str());
    }
    out
}

/// Enough room for every name, integer and separator, plus the text values escaped at
/// worst (three bytes out per byte in), so `original` never reallocates.
fn capacity(params: &SignParams) -> usize {
    const FIXED: usize = 320;
    let options = &params.options;
    let texts = params.secret_id.as_str().len()
        + options.procedure.as_ref().map_or(0, |v| v.as_str().len())
        + options
            .source_context
            .as_ref()
            .map_or(0, |v| v.as_str().len())
        + options
            .session_context
            .as_ref()
            .map_or(0, |v| v.as_str().len())
        + options
            .storage_region
            .as_ref()
            .map_or(0, |v| v.as_str().len());
    FIXED + 3 * texts
}

fn push_encoded(out: &mut String, value: &str) {
    out.extend(utf8_percent_encode(value, COMPONENT));
}

fn push_integer(out: &mut String, name: &str, value: impl itoa::Integer) {
    out.push_str(name);
    out.push_str(itoa::Buffer::new().format(value));
}

/// Why a query string could not be read strictly as RFC 3986.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("parameter {0} has no '=' sign")]
    MissingEquals(usize),
    #[error("parameter {0} has a '%' not followed by two hex digits")]
    BadEscape(usize),
    #[error("parameter {0} does not decode to UTF-8")]
    NotUtf8(usize),
}

/// Parses a query string strictly: `&` separates pairs, the first `=` splits name from
/// value, `%XX` is decoded and `+` stays a literal plus (RFC 3986, unlike form encoding).
pub fn parse_strict(query: &str) -> Result<Vec<(String, String)>, QueryError> {
    if query.is_empty() {
        return Ok(Vec::new());
    }
    query
        .split('&')
        .enumerate()
        .map(|(index, pair)| {
            let (name, value) = pair
                .split_once('=')
                .ok_or(QueryError::MissingEquals(index))?;
            Ok((decode_strict(name, index)?, decode_strict(value, index)?))
        })
        .collect()
}

fn decode_strict(text: &str, index: usize) -> Result<String, QueryError> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .ok_or(QueryError::BadEscape(index))?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return Err(QueryError::BadEscape(index));
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map(|cow| cow.into_owned())
        .map_err(|_| QueryError::NotUtf8(index))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_everything_but_unreserved() {
        assert_eq!(encode_value("aZ09-._~").to_string(), "aZ09-._~");
        assert_eq!(encode_value(" +(/)").to_string(), "%20%2B%28%2F%29");
        assert_eq!(encode_value("會").to_string(), "%E6%9C%83");
    }

    #[test]
    fn strict_parse_keeps_plus_and_rejects_bad_escapes() {
        assert_eq!(
            parse_strict("a=1+2&b=%20"),
            Ok(vec![("a".into(), "1+2".into()), ("b".into(), " ".into())])
        );
        assert_eq!(parse_strict("a=%2"), Err(QueryError::BadEscape(0)));
        assert_eq!(parse_strict("a=1&b=%zz"), Err(QueryError::BadEscape(1)));
        assert_eq!(parse_strict("a=1&b"), Err(QueryError::MissingEquals(1)));
        assert_eq!(parse_strict("a=%FF"), Err(QueryError::NotUtf8(0)));
    }
}
