//! The upload-ticket endpoints (issue 14), served when `[uploads] enabled`:
//!
//! - `POST /v1/uploads` ([`create`]): a ticket and its first signature, 201;
//! - `POST /v1/uploads/{uploadId}/signature` ([`create::resign`]): another signature for it;
//! - `GET /v1/uploads/{uploadId}` and `GET /v1/uploads` ([`read`]): the caller's own.
//!
//! Each takes the same steps as `/v1/signature`: load shedding, the auth-check, the
//! caller's limits (making a ticket spends rate and quota, like a signature; re-signing and
//! reading spend rate only), the policy, and the one envelope; the exchange's audit
//! middleware ([`super::exchange::record_upload`]) writes one event naming the upload.
//! A ticket's signatures carry its `vs1` context token as `sourceContext` and
//! `sessionContext` and never outlive it. The store down or slow is 503 (50301); nothing
//! else depends on it.

pub mod create;
pub mod read;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::Serialize;
use serde_json::value::RawValue;

use super::error::ApiError;
use crate::app::{AppState, Tickets};
use crate::uploads::{StoreError, Upload, UploadId};

/// The ticket part of the state; the routes exist only when it does.
fn tickets(state: &AppState) -> Result<&Tickets, ApiError> {
    state.tickets().ok_or(ApiError::NotFound)
}

/// A store failure as an answer: unreachable or slow is 503 (50301); anything else is a
/// fault of ours, logged (without a URL: the error never has one) and answered 500.
fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Unavailable(_) => {
            ApiError::Unavailable("the upload store is unavailable".to_owned())
        }
        StoreError::Failed(why) => {
            tracing::error!(error = %why, "upload store failed");
            ApiError::Internal
        }
    }
}

/// Unix seconds as RFC 3339 UTC.
fn rfc3339(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// The `{uploadId}` of the path, read: a malformed one is 400 (40001).
#[derive(Debug)]
pub struct UploadPath(pub UploadId);

impl<S: Sync> FromRequestParts<S> for UploadPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let id = parts
            .uri
            .path()
            .strip_prefix("/v1/uploads/")
            .and_then(|rest| rest.split('/').next())
            .unwrap_or("");
        UploadId::parse(id).map(UploadPath).map_err(|e| {
            ApiError::BadRequest(format!("uploadId: {e}, as POST /v1/uploads answered"))
        })
    }
}

/// An upload's status, for the OpenAPI document (the answer writes the model's own).
#[derive(utoipa::ToSchema)]
#[schema(as = UploadStatus)]
#[allow(
    dead_code,
    reason = "a description of the accepted values, not a value"
)]
#[schema(rename_all = "lowercase")]
pub enum StatusName {
    Authorized,
    Uploaded,
    Processed,
    Failed,
    Expired,
    Deleted,
}

/// One upload, as its owner sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Upload)]
pub struct UploadView {
    /// `upl_` and 22 characters.
    #[schema(example = "upl_q0Gm4m2M3cTt0Y6c1KJbQw")]
    upload_id: String,
    #[schema(value_type = StatusName)]
    status: &'static str,
    /// RFC 3339.
    created_at: String,
    /// RFC 3339: after it the upload can no longer be signed.
    expires_at: String,
    /// Signatures issued for it, the first included.
    #[schema(minimum = 1)]
    signatures_issued: u32,
    /// The `metadata` given when it was made, exactly as given (`{}` when none was).
    #[schema(value_type = Object)]
    metadata: Box<RawValue>,
    /// VOD's id of the uploaded file, once known.
    #[serde(skip_serializing_if = "Option::is_none")]
    file_id: Option<String>,
    /// The file's URL, once known.
    #[serde(skip_serializing_if = "Option::is_none")]
    media_url: Option<String>,
}

impl UploadView {
    fn of(upload: Upload) -> Result<Self, ApiError> {
        let metadata =
            RawValue::from_string(upload.metadata.as_json().to_owned()).map_err(|_| {
                tracing::error!(upload_id = %upload.id, "stored metadata is not JSON");
                ApiError::Internal
            })?;
        Ok(UploadView {
            upload_id: upload.id.to_string(),
            status: upload.status.as_str(),
            created_at: rfc3339(upload.created_at),
            expires_at: rfc3339(upload.expires_at),
            signatures_issued: upload.signatures_issued,
            metadata,
            file_id: upload.file_id,
            media_url: upload.media_url,
        })
    }
}
