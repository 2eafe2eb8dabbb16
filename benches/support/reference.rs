//! The signer as first written, and the spec's V3 parameters: shared by the byte-for-byte
//! property test (`tests/signature/signer.rs`, through `tests/support/mod.rs`, which includes
//! this file by path) and the side-by-side bench (`benches/signing.rs`).
//!
//! The reference is the plain way (commit 2a52c4d): `write!` with `Display` for every
//! piece, then a copy of `tag || original` into a `Vec` before Base64. The optimised
//! encoder and signer must produce the same bytes.

#![allow(dead_code, reason = "each including crate uses a different part")]

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use vodsign::signature::encode::encode_value as v;
use vodsign::signature::{
    ClassId, Procedure, SecretId, SessionContext, SignParams, SourceContext, TaskNotifyMode,
    TaskPriority, Validity, VodSubAppId,
};

/// The query string to sign, built with `write!`.
pub fn original(params: &SignParams) -> String {
    let mut out = String::with_capacity(192);
    let _ = write!(
        out,
        "secretId={}&currentTimeStamp={}&expireTime={}&random={}",
        v(params.secret_id.as_str()),
        params.current_time,
        params.expire_time(),
        params.random
    );
    if let Some(x) = params.options.class_id {
        let _ = write!(out, "&classId={}", x.0);
    }
    if let Some(x) = &params.options.procedure {
        let _ = write!(out, "&procedure={}", v(x.as_str()));
    }
    if let Some(x) = params.options.task_priority {
        let _ = write!(out, "&taskPriority={}", x.get());
    }
    if let Some(x) = params.options.task_notify_mode {
        let _ = write!(out, "&taskNotifyMode={}", x.as_str());
    }
    if let Some(x) = &params.options.source_context {
        let _ = write!(out, "&sourceContext={}", v(x.as_str()));
    }
    if let Some(x) = &params.options.session_context {
        let _ = write!(out, "&sessionContext={}", v(x.as_str()));
    }
    if let Some(x) = params.options.one_time_valid {
        let _ = write!(out, "&oneTimeValid={}", u8::from(x));
    }
    if let Some(x) = params.options.vod_sub_app_id {
        let _ = write!(out, "&vodSubAppId={}", x.0);
    }
    if let Some(x) = &params.options.storage_region {
        let _ = write!(out, "&storageRegion={}", x.as_str());
    }
    out
}

/// The reference signer; the HMAC key schedule is done once, as `Signer::new` does.
pub struct ReferenceSigner {
    keyed: Hmac<Sha1>,
}

impl ReferenceSigner {
    pub fn new(key: &[u8]) -> Self {
        Self {
            keyed: Hmac::new_from_slice(key).expect("HMAC takes any key length"),
        }
    }

    /// `Base64(HMAC-SHA1(key, original) || original)`, with the buffer copy.
    pub fn sign_original(&self, original: &str) -> String {
        let mut mac = self.keyed.clone();
        mac.update(original.as_bytes());
        let mut raw = Vec::with_capacity(20 + original.len());
        raw.extend_from_slice(&mac.finalize().into_bytes());
        raw.extend_from_slice(original.as_bytes());
        STANDARD.encode(raw)
    }

    pub fn sign(&self, params: &SignParams) -> String {
        self.sign_original(&original(params))
    }
}

/// The spec's V3 vector: every optional parameter set, with values that need escaping.
pub fn v3_params() -> SignParams {
    let mut p = SignParams::new(
        SecretId::try_from("IamSecretId").expect("valid"),
        1_571_215_095,
        Validity::try_from(3600).expect("valid"),
        4_294_967_295,
    );
    p.options.class_id = Some(ClassId(42));
    p.options.procedure = Some(Procedure::try_from("QCVB_SimpleProcessFile(1, 1)").expect("valid"));
    p.options.task_priority = Some(TaskPriority::try_from(-10).expect("valid"));
    p.options.task_notify_mode = Some(TaskNotifyMode::Change);
    p.options.source_context =
        Some(SourceContext::try_from(r#"{"uid":"u 1&2=3+4%"}"#).expect("valid"));
    p.options.session_context = Some(SessionContext::try_from("会话/ctx ~!*'()").expect("valid"));
    p.options.one_time_valid = Some(true);
    p.options.vod_sub_app_id = Some(VodSubAppId(1_500_000_001));
    p.options.storage_region = Some("ap-chongqing".parse().expect("valid"));
    p
}
