//! The VOD "signature for upload from client": pure bytes in, pure bytes out.
//!
//! No clock, no RNG, no I/O and no configuration live here: the current time and the
//! `random` value are arguments, so every output is reproducible in a test. The rules are
//! those of `docs/signature.md`:
//!
//! - [`params`]: validated parameter types. An invalid value cannot be constructed, so it
//!   can never be signed. The optional parameters are one [`UploadOptions`], made from
//!   plain values ([`RawUploadOptions`]) by one `TryFrom`.
//! - [`encode`]: the one query-string encoding every parser reads back the same
//!   (RFC 3986 unreserved characters kept, every other byte `%XX` upper case).
//! - [`codec`]: `signature = Base64(HMAC-SHA1(key, original) || original)`, and the way
//!   back: decode, verify the MAC in constant time, parse the parameters.

mod codec;
pub mod encode;
mod params;

pub(crate) use codec::is_canonical_integer;
pub use codec::{DecodeError, DecodedSignature, Signer, sign_original};
pub use params::{
    ClassId, InvalidParam, Procedure, RawUploadOptions, SecretId, SessionContext, SignParams,
    SourceContext, StorageRegion, TaskNotifyMode, TaskPriority, UploadOptions, Validity,
    VodSubAppId, check_task_flow,
};
