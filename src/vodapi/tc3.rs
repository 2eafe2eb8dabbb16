//! TC3-HMAC-SHA256: the signature of every Tencent Cloud API 3.0 call, both ways.
//!
//! [`authorization`] signs a request (what [`super::VodApi`] sends); [`Authorization::parse`]
//! and [`Authorization::verify`] check one (what the tests' fake VOD API does with every call
//! it receives, so the two directions are proven against each other and against Tencent's
//! published vector). Pure: the timestamp, the key and the request come in as arguments.
//!
//! The steps: a canonical request (`POST`, `/`, an empty query, the signed headers as
//! `name:value` lines, their names, the body's SHA-256), a string to sign (the algorithm, the
//! timestamp, the credential scope `<UTC date>/<service>/tc3_request`, the canonical request's
//! SHA-256), and an HMAC chain from `"TC3" + SecretKey` through the date, the service and
//! `tc3_request` to the signature.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// The algorithm's name, first in the `Authorization` header and the string to sign.
pub const ALGORITHM: &str = "TC3-HMAC-SHA256";
/// The last part of every credential scope.
const TERMINATOR: &str = "tc3_request";

/// What a signature covers: one `POST /` with a JSON body, signing `content-type` and `host`
/// (the headers every Tencent SDK signs).
#[derive(Clone, Copy, Debug)]
pub struct SignedRequest<'a> {
    /// `vod` for the VOD API (`cvm` in Tencent's published example).
    pub service: &'a str,
    /// The `Host` header as sent: the host name, and `:port` when it is not the scheme's.
    pub host: &'a str,
    /// The `Content-Type` header as sent.
    pub content_type: &'a str,
    /// The body, byte for byte.
    pub payload: &'a [u8],
    /// `X-TC-Timestamp`: Unix seconds.
    pub timestamp: u64,
}

/// Why a request's `Authorization` does not verify. Never carries a key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Tc3Error {
    #[error("the Authorization header is not a {ALGORITHM} header: {0}")]
    Malformed(&'static str),
    #[error("the credential scope's date is not the UTC date of X-TC-Timestamp")]
    DateMismatch,
    #[error("the signed header {0} is missing from the request")]
    MissingHeader(String),
    #[error("the signature does not match the request")]
    Mismatch,
}

/// The UTC date (`YYYY-MM-DD`) of a Unix timestamp: the first part of the credential scope.
pub fn utc_date(timestamp: u64) -> String {
    // Past the year 9999 (no real clock) the date saturates; the signature then fails.
    let date = i64::try_from(timestamp)
        .ok()
        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .map_or(time::Date::MAX, |t| t.date());
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// `<date>/<service>/tc3_request`.
pub fn credential_scope(date: &str, service: &str) -> String {
    format!("{date}/{service}/{TERMINATOR}")
}

/// The canonical request of `POST /` signing `headers` (lower-case names with their values,
/// in any order): names sorted, values trimmed, `content-type` lower-cased.
fn canonical_request(headers: &[(&str, &str)], payload: &[u8]) -> String {
    let mut headers: Vec<(String, String)> = headers
        .iter()
        .map(|(name, value)| {
            let name = name.to_ascii_lowercase();
            let value = if name == "content-type" {
                value.trim().to_ascii_lowercase()
            } else {
                value.trim().to_owned()
            };
            (name, value)
        })
        .collect();
    headers.sort();
    let canonical: String = headers
        .iter()
        .map(|(name, value)| format!("{name}:{value}\n"))
        .collect();
    let names: Vec<&str> = headers.iter().map(|(name, _)| name.as_str()).collect();
    format!(
        "POST\n/\n\n{canonical}\n{}\n{}",
        names.join(";"),
        hex::encode(Sha256::digest(payload))
    )
}

fn hmac(key: &[u8], message: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(message);
    mac
}

/// The final HMAC over the string to sign, before it is finalized (so a verifier can compare
/// in constant time).
fn signing_mac(
    secret_key: &[u8],
    service: &str,
    timestamp: u64,
    canonical_request: &str,
) -> HmacSha256 {
    let date = utc_date(timestamp);
    let string_to_sign = format!(
        "{ALGORITHM}\n{timestamp}\n{}\n{}",
        credential_scope(&date, service),
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let key = [b"TC3".as_slice(), secret_key].concat();
    let k_date = hmac(&key, date.as_bytes()).finalize().into_bytes();
    let k_service = hmac(&k_date, service.as_bytes()).finalize().into_bytes();
    let k_signing = hmac(&k_service, TERMINATOR.as_bytes())
        .finalize()
        .into_bytes();
    hmac(&k_signing, string_to_sign.as_bytes())
}

fn signed_headers<'a>(request: &SignedRequest<'a>) -> [(&'static str, &'a str); 2] {
    [
        ("content-type", request.content_type),
        ("host", request.host),
    ]
}

/// The hex signature of `request` under `secret_key`.
pub fn signature(secret_key: &[u8], request: &SignedRequest<'_>) -> String {
    let canonical = canonical_request(&signed_headers(request), request.payload);
    hex::encode(
        signing_mac(secret_key, request.service, request.timestamp, &canonical)
            .finalize()
            .into_bytes(),
    )
}

/// The `Authorization` header value of `request`.
pub fn authorization(secret_id: &str, secret_key: &[u8], request: &SignedRequest<'_>) -> String {
    format!(
        "{ALGORITHM} Credential={secret_id}/{}, SignedHeaders=content-type;host, Signature={}",
        credential_scope(&utc_date(request.timestamp), request.service),
        signature(secret_key, request)
    )
}

/// A parsed `Authorization` header: `TC3-HMAC-SHA256 Credential=<id>/<date>/<service>/tc3_request,
/// SignedHeaders=<names>, Signature=<hex>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorization {
    pub secret_id: String,
    pub date: String,
    pub service: String,
    /// Lower-case header names, as listed.
    pub signed_headers: Vec<String>,
    signature: Vec<u8>,
}

impl Authorization {
    pub fn parse(header: &str) -> Result<Self, Tc3Error> {
        let rest = header
            .strip_prefix(ALGORITHM)
            .and_then(|r| r.strip_prefix(' '))
            .ok_or(Tc3Error::Malformed("it does not start with the algorithm"))?;
        let (mut credential, mut names, mut signature) = (None, None, None);
        for part in rest.split(',') {
            let (key, value) = part
                .trim()
                .split_once('=')
                .ok_or(Tc3Error::Malformed("a part is not key=value"))?;
            let slot = match key {
                "Credential" => &mut credential,
                "SignedHeaders" => &mut names,
                "Signature" => &mut signature,
                _ => return Err(Tc3Error::Malformed("an unknown part")),
            };
            if slot.replace(value).is_some() {
                return Err(Tc3Error::Malformed("a part is given twice"));
            }
        }
        let credential = credential.ok_or(Tc3Error::Malformed("no Credential"))?;
        let names = names.ok_or(Tc3Error::Malformed("no SignedHeaders"))?;
        let signature = signature.ok_or(Tc3Error::Malformed("no Signature"))?;
        // The SecretId comes first and holds no '/'; the scope is the last three parts.
        let mut scope = credential.rsplitn(4, '/');
        let (Some(TERMINATOR), Some(service), Some(date), Some(secret_id)) =
            (scope.next(), scope.next(), scope.next(), scope.next())
        else {
            return Err(Tc3Error::Malformed(
                "Credential is not <SecretId>/<date>/<service>/tc3_request",
            ));
        };
        let signed_headers: Vec<String> = names.split(';').map(str::to_owned).collect();
        if secret_id.is_empty()
            || signed_headers
                .iter()
                .any(|n| n.is_empty() || *n != n.to_ascii_lowercase())
        {
            return Err(Tc3Error::Malformed(
                "an empty SecretId or a header name that is empty or not lower case",
            ));
        }
        let signature = hex::decode(signature)
            .map_err(|_| Tc3Error::Malformed("Signature is not hexadecimal"))?;
        Ok(Self {
            secret_id: secret_id.to_owned(),
            date: date.to_owned(),
            service: service.to_owned(),
            signed_headers,
            signature,
        })
    }

    /// Checks the signature against the request: `header` looks up a header of the request
    /// by lower-case name (each signed header must be present), `timestamp` is its
    /// `X-TC-Timestamp`. The comparison is constant-time. Whether the timestamp is recent
    /// and the SecretId known is the caller's to check.
    pub fn verify(
        &self,
        secret_key: &[u8],
        header: impl Fn(&str) -> Option<String>,
        payload: &[u8],
        timestamp: u64,
    ) -> Result<(), Tc3Error> {
        if self.date != utc_date(timestamp) {
            return Err(Tc3Error::DateMismatch);
        }
        let values = self
            .signed_headers
            .iter()
            .map(|name| {
                header(name)
                    .map(|value| (name.as_str(), value))
                    .ok_or_else(|| Tc3Error::MissingHeader(name.clone()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let headers: Vec<(&str, &str)> = values.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let canonical = canonical_request(&headers, payload);
        signing_mac(secret_key, &self.service, timestamp, &canonical)
            .verify_slice(&self.signature)
            .map_err(|_| Tc3Error::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tencent's published example (API 3.0 signature v3 documentation).
    const BODY: &str =
        r#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;
    const KEY: &str = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE";
    const ID: &str = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE";

    fn published() -> SignedRequest<'static> {
        SignedRequest {
            service: "cvm",
            host: "cvm.tencentcloudapi.com",
            content_type: "application/json; charset=utf-8",
            payload: BODY.as_bytes(),
            timestamp: 1_551_113_065,
        }
    }

    fn lookup(request: SignedRequest<'static>) -> impl Fn(&str) -> Option<String> {
        move |name| match name {
            "content-type" => Some(request.content_type.to_owned()),
            "host" => Some(request.host.to_owned()),
            _ => None,
        }
    }

    #[test]
    fn signs_tencents_published_vector() {
        assert_eq!(utc_date(1_551_113_065), "2019-02-25");
        assert_eq!(
            signature(KEY.as_bytes(), &published()),
            "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
        );
        assert_eq!(
            authorization(ID, KEY.as_bytes(), &published()),
            "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/\
             tc3_request, SignedHeaders=content-type;host, \
             Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
        );
    }

    #[test]
    fn verifies_the_published_vector_and_refuses_any_change() {
        let header = authorization(ID, KEY.as_bytes(), &published());
        let auth = Authorization::parse(&header).expect("parses");
        assert_eq!(auth.secret_id, ID);
        assert_eq!(auth.service, "cvm");
        let ts = published().timestamp;
        auth.verify(KEY.as_bytes(), lookup(published()), BODY.as_bytes(), ts)
            .expect("verifies");
        assert_eq!(
            auth.verify(b"another key", lookup(published()), BODY.as_bytes(), ts),
            Err(Tc3Error::Mismatch)
        );
        assert_eq!(
            auth.verify(KEY.as_bytes(), lookup(published()), b"{}", ts),
            Err(Tc3Error::Mismatch)
        );
        assert_eq!(
            auth.verify(KEY.as_bytes(), lookup(published()), BODY.as_bytes(), ts + 1),
            Err(Tc3Error::Mismatch)
        );
        assert_eq!(
            auth.verify(
                KEY.as_bytes(),
                lookup(published()),
                BODY.as_bytes(),
                ts + 86_400
            ),
            Err(Tc3Error::DateMismatch)
        );
        let other_host = SignedRequest {
            host: "vod.tencentcloudapi.com",
            ..published()
        };
        assert_eq!(
            auth.verify(KEY.as_bytes(), lookup(other_host), BODY.as_bytes(), ts),
            Err(Tc3Error::Mismatch)
        );
        assert_eq!(
            auth.verify(KEY.as_bytes(), |_| None, BODY.as_bytes(), ts),
            Err(Tc3Error::MissingHeader("content-type".into()))
        );
    }

    #[test]
    fn the_content_type_is_compared_in_lower_case_and_trimmed() {
        let header = authorization(ID, KEY.as_bytes(), &published());
        let auth = Authorization::parse(&header).expect("parses");
        auth.verify(
            KEY.as_bytes(),
            |name| match name {
                "content-type" => Some(" Application/JSON; charset=UTF-8 ".to_owned()),
                "host" => Some("cvm.tencentcloudapi.com".to_owned()),
                _ => None,
            },
            BODY.as_bytes(),
            published().timestamp,
        )
        .expect("the same canonical value");
    }

    #[test]
    fn malformed_headers_are_refused_by_name() {
        for header in [
            "",
            "TC3-HMAC-SHA1 Credential=a/2019-02-25/vod/tc3_request, SignedHeaders=host, Signature=00",
            "TC3-HMAC-SHA256 Credential=a/2019-02-25/vod/tc3_request, SignedHeaders=host",
            "TC3-HMAC-SHA256 Credential=a/2019-02-25/vod/other, SignedHeaders=host, Signature=00",
            "TC3-HMAC-SHA256 Credential=2019-02-25/vod/tc3_request, SignedHeaders=host, Signature=00",
            "TC3-HMAC-SHA256 Credential=a/2019-02-25/vod/tc3_request, SignedHeaders=Host, Signature=00",
            "TC3-HMAC-SHA256 Credential=a/2019-02-25/vod/tc3_request, SignedHeaders=host, Signature=zz",
            "TC3-HMAC-SHA256 Credential=a/2019-02-25/vod/tc3_request, Credential=b/2019-02-25/vod/tc3_request, SignedHeaders=host, Signature=00",
        ] {
            assert!(
                matches!(Authorization::parse(header), Err(Tc3Error::Malformed(_))),
                "{header}"
            );
        }
    }

    #[test]
    fn utc_dates_roll_over_at_midnight_utc() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(86_399), "1970-01-01");
        assert_eq!(utc_date(86_400), "1970-01-02");
        assert_eq!(utc_date(1_709_164_800), "2024-02-29");
    }
}
