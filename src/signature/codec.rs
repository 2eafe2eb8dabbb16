//! `signature = Base64(HMAC-SHA1(key, original) || original)` and the way back.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use super::encode::{self, QueryError};
use super::params::{
    ClassId, InvalidParam, Procedure, SecretId, SessionContext, SignParams, SourceContext,
    StorageRegion, TaskNotifyMode, TaskPriority, Validity, VodSubAppId,
};

type HmacSha1 = Hmac<Sha1>;

/// Length of the raw HMAC-SHA1 prefix.
pub const MAC_LEN: usize = 20;

/// The longest Base64 text [`DecodedSignature::decode`] looks at. A maximal signature
/// (every parameter at its longest, all four-byte UTF-8, all escaped) is about 20 KiB.
pub const MAX_SIGNATURE_LEN: usize = 32 * 1024;

/// Signs with one SecretKey. The HMAC key schedule is done once, in [`Signer::new`], and
/// cloned per signature. `Debug` never shows the key.
#[derive(Clone)]
pub struct Signer {
    keyed: HmacSha1,
}

impl Signer {
    pub fn new(secret_key: &[u8]) -> Self {
        Self {
            keyed: HmacSha1::new_from_slice(secret_key).expect("HMAC accepts keys of any length"),
        }
    }

    /// The signature for `params`.
    pub fn sign(&self, params: &SignParams) -> String {
        self.sign_original(&encode::original(params))
    }

    /// Signs an already built query string (used for Tencent's legacy test vector).
    ///
    /// Base64 goes straight into one pre-sized `String`, without first copying
    /// `tag || original` into a buffer: the tag and the first byte of `original` make 21
    /// bytes, a whole number of 3-byte groups, so their 28 characters need no padding and
    /// the rest of `original` encodes on from there exactly as the whole would.
    pub fn sign_original(&self, original: &str) -> String {
        let mut mac = self.keyed.clone();
        mac.update(original.as_bytes());
        let tag = mac.finalize().into_bytes();
        let len = base64::encoded_len(MAC_LEN + original.len(), true)
            .expect("a query string's Base64 length fits in usize");
        let mut out = String::with_capacity(len);
        match original.as_bytes().split_first() {
            Some((&first, rest)) => {
                let mut head = [0u8; MAC_LEN + 1];
                head[..MAC_LEN].copy_from_slice(&tag);
                head[MAC_LEN] = first;
                STANDARD.encode_string(head, &mut out);
                STANDARD.encode_string(rest, &mut out);
            }
            None => STANDARD.encode_string(tag, &mut out),
        }
        out
    }

    /// Constant-time check of a decoded signature's MAC.
    pub fn verifies(&self, decoded: &DecodedSignature) -> bool {
        let mut mac = self.keyed.clone();
        mac.update(decoded.original.as_bytes());
        mac.verify_slice(&decoded.mac).is_ok()
    }
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Signer { key: [REDACTED] }")
    }
}

/// Signs an already built query string with `secret_key`.
pub fn sign_original(secret_key: &[u8], original: &str) -> String {
    Signer::new(secret_key).sign_original(original)
}

/// Why a text is not a well-formed signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("the signature is longer than {MAX_SIGNATURE_LEN} characters")]
    TooLong,
    #[error("the signature is not standard Base64 (RFC 4648 with padding)")]
    NotBase64,
    #[error("the signature is too short to hold a 20-byte MAC and parameters")]
    TooShort,
    #[error("the signed parameters are not UTF-8")]
    NotUtf8,
    #[error("the signed parameters are not a valid query string: {0}")]
    Query(#[from] QueryError),
    #[error("parameter {0} is required but missing")]
    Missing(&'static str),
    #[error("parameter {0} appears more than once")]
    Duplicate(String),
    #[error("parameter {0} is not part of the VOD upload signature")]
    Unknown(String),
    #[error("parameter {0} is not a plain decimal integer in range")]
    NotInteger(&'static str),
    #[error("expireTime must be after currentTimeStamp by 1 to 7,776,000 seconds")]
    BadExpiry,
    #[error(transparent)]
    Invalid(#[from] InvalidParam),
}

/// A signature split into its MAC and its signed query string (`original`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodedSignature {
    pub mac: [u8; MAC_LEN],
    pub original: String,
}

impl DecodedSignature {
    /// Base64-decodes and splits. Says nothing yet about whether the MAC verifies.
    pub fn decode(signature: &str) -> Result<Self, DecodeError> {
        if signature.len() > MAX_SIGNATURE_LEN {
            return Err(DecodeError::TooLong);
        }
        let raw = STANDARD
            .decode(signature)
            .map_err(|_| DecodeError::NotBase64)?;
        if raw.len() <= MAC_LEN {
            return Err(DecodeError::TooShort);
        }
        let (mac, original) = raw.split_at(MAC_LEN);
        let original = String::from_utf8(original.to_vec()).map_err(|_| DecodeError::NotUtf8)?;
        let mut tag = [0u8; MAC_LEN];
        tag.copy_from_slice(mac);
        Ok(Self { mac: tag, original })
    }

    /// The signed parameters as (name, value) pairs, decoded strictly (RFC 3986).
    pub fn pairs(&self) -> Result<Vec<(String, String)>, QueryError> {
        encode::parse_strict(&self.original)
    }

    /// The signed parameters back as validated [`SignParams`]: every name known and
    /// present once, every integer plain decimal, every value within its rule.
    pub fn params(&self) -> Result<SignParams, DecodeError> {
        let pairs = self.pairs()?;
        let mut seen = std::collections::HashSet::new();
        for (name, _) in &pairs {
            if !encode::PARAMETER_ORDER.contains(&name.as_str()) {
                return Err(DecodeError::Unknown(name.clone()));
            }
            if !seen.insert(name.as_str()) {
                return Err(DecodeError::Duplicate(name.clone()));
            }
        }
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        let required = |name: &'static str| get(name).ok_or(DecodeError::Missing(name));

        let current_time = parse_unsigned("currentTimeStamp", required("currentTimeStamp")?)?;
        let expire_time = parse_unsigned("expireTime", required("expireTime")?)?;
        let validity = expire_time
            .checked_sub(current_time)
            .and_then(|v| Validity::try_from(v).ok())
            .ok_or(DecodeError::BadExpiry)?;
        let random = u32::try_from(parse_unsigned("random", required("random")?)?)
            .map_err(|_| DecodeError::NotInteger("random"))?;
        let mut params = SignParams::new(
            SecretId::try_from(required("secretId")?)?,
            current_time,
            validity,
            random,
        );
        // Field by field, not through `RawUploadOptions`: each value is checked as it is
        // read, so the first fault in table order is the one reported.
        let options = &mut params.options;
        if let Some(v) = get("classId") {
            options.class_id = Some(ClassId(parse_unsigned("classId", v)?));
        }
        if let Some(v) = get("procedure") {
            options.procedure = Some(Procedure::try_from(v)?);
        }
        if let Some(v) = get("taskPriority") {
            options.task_priority = Some(TaskPriority::try_from(parse_signed("taskPriority", v)?)?);
        }
        if let Some(v) = get("taskNotifyMode") {
            options.task_notify_mode = Some(v.parse::<TaskNotifyMode>()?);
        }
        if let Some(v) = get("sourceContext") {
            options.source_context = Some(SourceContext::try_from(v)?);
        }
        if let Some(v) = get("sessionContext") {
            options.session_context = Some(SessionContext::try_from(v)?);
        }
        if let Some(v) = get("oneTimeValid") {
            options.one_time_valid = match v {
                "0" => Some(false),
                "1" => Some(true),
                _ => return Err(DecodeError::NotInteger("oneTimeValid")),
            };
        }
        if let Some(v) = get("vodSubAppId") {
            options.vod_sub_app_id = Some(VodSubAppId(parse_unsigned("vodSubAppId", v)?));
        }
        if let Some(v) = get("storageRegion") {
            options.storage_region = Some(v.parse::<StorageRegion>()?);
        }
        Ok(params)
    }
}

/// True when `text` is an integer written the one way we write integers: decimal ASCII,
/// no sign-plus, no leading zero, no fraction or exponent.
pub fn is_canonical_integer(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
        && !(text.starts_with('-') && digits == "0")
}

fn parse_unsigned(name: &'static str, text: &str) -> Result<u64, DecodeError> {
    if !is_canonical_integer(text) || text.starts_with('-') {
        return Err(DecodeError::NotInteger(name));
    }
    text.parse().map_err(|_| DecodeError::NotInteger(name))
}

fn parse_signed(name: &'static str, text: &str) -> Result<i64, DecodeError> {
    if !is_canonical_integer(text) {
        return Err(DecodeError::NotInteger(name));
    }
    text.parse().map_err(|_| DecodeError::NotInteger(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_integers() {
        for good in ["0", "7", "42", "-10", "4294967295"] {
            assert!(is_canonical_integer(good), "{good}");
        }
        for bad in ["", "-", "+1", "01", "-0", "1.0", "1e3", " 1", "0x1"] {
            assert!(!is_canonical_integer(bad), "{bad}");
        }
    }

    #[test]
    fn decode_refuses_garbage() {
        assert_eq!(DecodedSignature::decode("!!!"), Err(DecodeError::NotBase64));
        assert_eq!(DecodedSignature::decode(""), Err(DecodeError::TooShort));
        assert_eq!(DecodedSignature::decode("AAAA"), Err(DecodeError::TooShort));
        let long = "A".repeat(MAX_SIGNATURE_LEN + 4);
        assert_eq!(DecodedSignature::decode(&long), Err(DecodeError::TooLong));
    }

    #[test]
    fn signer_debug_hides_the_key() {
        let signer = Signer::new(b"very-secret-key");
        assert!(!format!("{signer:?}").contains("very-secret-key"));
    }
}
