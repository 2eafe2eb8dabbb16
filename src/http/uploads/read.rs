//! `GET /v1/uploads/{uploadId}` and `GET /v1/uploads`: the caller's own uploads, read.
//! Each spends one unit of the caller's rate and none of its quota.

use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};

use super::super::caller::RateCaller;
use super::super::error::ApiError;
use super::super::signature::Success;
use super::create::Answer;
use super::{UploadPath, UploadView, store_error, tickets};
use crate::app::{AppState, unix_now};
use crate::audit::UploadEvent;
use crate::uploads::{Cursor, Owner, Status};

/// Uploads on a page when `limit` is not given.
pub const DEFAULT_LIMIT: u32 = 20;

/// Most uploads on a page.
pub const MAX_LIMIT: u32 = 100;

/// `GET /v1/uploads/{uploadId}`: one of the caller's uploads.
#[utoipa::path(
    get,
    path = "/v1/uploads/{uploadId}",
    tag = "uploads",
    operation_id = "getUpload",
    params(("uploadId" = String, Path, description = "The uploadId POST /v1/uploads answered",
            pattern = "^upl_[A-Za-z0-9_-]{21}[AQgw]$")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The upload", body = Success<UploadView>),
        (status = 400, description = "The uploadId is malformed (40001)", body = super::super::error::Envelope),
        (status = 401, description = "No or an invalid credential (40101, 40102)", body = super::super::error::Envelope),
        (status = 403, description = "The caller is refused (40301)", body = super::super::error::Envelope),
        (status = 404, description = "No upload of the caller's has this id (40402)", body = super::super::error::Envelope),
        (status = 429, description = "Rate limit or the caller's requests in progress reached (42901, 42903)", body = super::super::error::Envelope),
        (status = 500, description = "Internal error (50001)", body = super::super::error::Envelope),
        (status = 503, description = "Overloaded, or the upload store is unavailable (50301)", body = super::super::error::Envelope),
    )
)]
pub async fn get_one(
    State(state): State<AppState>,
    RateCaller(caller): RateCaller,
    UploadPath(id): UploadPath,
) -> Result<Answer, ApiError> {
    let tickets = tickets(&state)?;
    let owner = Owner::of(&caller.principal);
    let upload = tickets
        .observe(tickets.store.store().get(&owner, &id, unix_now()).await)
        .map_err(store_error)?
        .ok_or(ApiError::UploadNotFound)?;
    let body = Success::ok(UploadView::of(upload)?);
    Ok(Answer::new(StatusCode::OK, &body, caller.limits).outcome(UploadEvent::Read, Some(id)))
}

/// The query of `GET /v1/uploads`; every field optional, an unknown one refused.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only uploads in this status.
    #[param(value_type = Option<super::StatusName>)]
    status: Option<String>,
    /// Uploads on the page: 1 to 100, default 20.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// The `nextCursor` of the previous page, unchanged.
    #[param(min_length = 1, max_length = 64)]
    cursor: Option<String>,
}

impl<S: Sync> FromRequestParts<S> for ListQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let path = e.path().to_string();
            ApiError::BadRequest(if path == "." || path.is_empty() {
                format!("malformed query: {}", e.inner())
            } else {
                format!("{path}: {}", e.inner())
            })
        })
    }
}

/// One page of the caller's uploads.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = UploadPage)]
pub struct Page {
    /// Newest first.
    items: Vec<UploadView>,
    /// Pass it as `cursor` for the next page; `null` on the last page.
    next_cursor: Option<String>,
}

/// `GET /v1/uploads`: the caller's own uploads, newest first (in creation order, also
/// within one second), a page at a time.
#[utoipa::path(
    get,
    path = "/v1/uploads",
    tag = "uploads",
    operation_id = "listUploads",
    params(ListQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of the caller's uploads", body = Success<Page>),
        (status = 400, description = "A malformed query: status, limit, or a cursor this service did not write (40001)", body = super::super::error::Envelope),
        (status = 401, description = "No or an invalid credential (40101, 40102)", body = super::super::error::Envelope),
        (status = 403, description = "The caller is refused (40301)", body = super::super::error::Envelope),
        (status = 429, description = "Rate limit or the caller's requests in progress reached (42901, 42903)", body = super::super::error::Envelope),
        (status = 500, description = "Internal error (50001)", body = super::super::error::Envelope),
        (status = 503, description = "Overloaded, or the upload store is unavailable (50301)", body = super::super::error::Envelope),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    RateCaller(caller): RateCaller,
    query: ListQuery,
) -> Result<Answer, ApiError> {
    let tickets = tickets(&state)?;
    let status = query
        .status
        .as_deref()
        .map(str::parse::<Status>)
        .transpose()
        .map_err(|e| ApiError::BadRequest(format!("status: {e}")))?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit: must be from 1 to {MAX_LIMIT}"
        )));
    }
    let cursor = query
        .cursor
        .as_deref()
        .map(Cursor::parse)
        .transpose()
        .map_err(|e| ApiError::BadRequest(format!("cursor: {e}")))?;
    let owner = Owner::of(&caller.principal);
    let page = tickets
        .observe(
            tickets
                .store
                .store()
                .list(&owner, status, limit, cursor, unix_now())
                .await,
        )
        .map_err(store_error)?;
    let items = page
        .items
        .into_iter()
        .map(UploadView::of)
        .collect::<Result<Vec<_>, _>>()?;
    let body = Success::ok(Page {
        items,
        next_cursor: page.next_cursor.map(|c| c.encode()),
    });
    Ok(Answer::new(StatusCode::OK, &body, caller.limits).outcome(UploadEvent::Listed, None))
}
