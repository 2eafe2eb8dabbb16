//! Reading claims from a verified token or an introspection answer.
//!
//! Identity providers disagree on shapes: scopes come as a space-separated `scope` string or
//! an `scp` array, roles as a string or an array, dates as integers or floats. These helpers
//! accept each common shape once, so the verifiers and the permission rules do not.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

/// The claims of one token, as a JSON object.
pub(crate) type Claims = Map<String, Value>;

/// The strings in a claim: the string itself, or the strings of an array.
pub(crate) fn claim_strings<'a>(claims: &'a Claims, name: &str) -> Vec<&'a str> {
    match claims.get(name) {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Every scope granted, from `scope` and `scp`, each a space-separated string or an array.
pub(crate) fn granted_scopes(claims: &Claims) -> Vec<&str> {
    ["scope", "scp"]
        .into_iter()
        .flat_map(|name| claim_strings(claims, name))
        .flat_map(str::split_whitespace)
        .collect()
}

/// A NumericDate claim (`exp`, `iat`, ...): `Ok(None)` when absent, `Err(())` when not a
/// non-negative number.
pub(crate) fn numeric_date(claims: &Claims, name: &str) -> Result<Option<u64>, ()> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match (n.as_u64(), n.as_f64()) {
            (Some(v), _) => Ok(Some(v)),
            (None, Some(f)) if f.is_finite() && f >= 0.0 && f < u64::MAX as f64 => {
                Ok(Some(f as u64))
            }
            _ => Err(()),
        },
        Some(_) => Err(()),
    }
}

/// Seconds since the Unix epoch, as JWT dates count them.
pub(crate) fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Time left until the Unix time `secs`, to the sub-second, so a cached answer ends exactly
/// at the token's `exp`; zero if it has passed.
pub(crate) fn until_unix(secs: u64) -> Duration {
    (UNIX_EPOCH + Duration::from_secs(secs))
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO)
}

/// Which claim names the caller, and which to fall back on.
#[derive(Clone, Debug)]
pub(crate) struct SubjectClaims {
    pub(crate) primary: String,
    pub(crate) fallback: Option<String>,
}

impl SubjectClaims {
    /// The caller's name: the first of the two claims that holds a non-empty string.
    pub(crate) fn pick(&self, claims: &Claims) -> Option<String> {
        std::iter::once(&self.primary)
            .chain(self.fallback.as_ref())
            .find_map(|name| match claims.get(name) {
                Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
                _ => None,
            })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn claims(value: Value) -> Claims {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn scopes_come_from_scope_string_and_scp_array() {
        let c = claims(json!({"scope": "a  b", "scp": ["c", 7, "d e"]}));
        assert_eq!(granted_scopes(&c), ["a", "b", "c", "d", "e"]);
    }

    #[test]
    fn numeric_dates_accept_integers_and_floats_only() {
        let c = claims(json!({"a": 5, "b": 5.7, "c": "5", "d": -1}));
        assert_eq!(numeric_date(&c, "a"), Ok(Some(5)));
        assert_eq!(numeric_date(&c, "b"), Ok(Some(5)));
        assert_eq!(numeric_date(&c, "c"), Err(()));
        assert_eq!(numeric_date(&c, "d"), Err(()));
        assert_eq!(numeric_date(&c, "missing"), Ok(None));
    }

    #[test]
    fn subject_falls_back_only_when_primary_is_absent_or_empty() {
        let s = SubjectClaims {
            primary: "sub".into(),
            fallback: Some("client_id".into()),
        };
        assert_eq!(
            s.pick(&claims(json!({"sub": "u1", "client_id": "c"}))),
            Some("u1".into())
        );
        assert_eq!(
            s.pick(&claims(json!({"sub": "", "client_id": "c"}))),
            Some("c".into())
        );
        assert_eq!(s.pick(&claims(json!({"sub": 3}))), None);
    }
}
