//! `POST /v1/uploads` (a ticket and its first signature) and
//! `POST /v1/uploads/{uploadId}/signature` (another signature for it).
//!
//! No request half-writes: a ticket's row is written only after its signature is made, in
//! one statement that counts that signature; a re-sign first checks everything that could
//! refuse it (the upload, its credential), then counts the signature in one conditional
//! statement, then signs, which cannot fail. A store that fails leaves no row and no count,
//! and the signature made for it is never sent.

use std::fmt;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::super::caller::{Caller, RateCaller};
use super::super::error::{APPLICATION_JSON, ApiError};
use super::super::exchange::UploadOutcome;
use super::super::signature::{Success, json_body, parse_json_request};
use super::{UploadPath, rfc3339, store_error, tickets};
use crate::app::{AppState, unix_now};
use crate::audit::{Issuance, UploadEvent};
use crate::credentials::SigningKey;
use crate::limits::Decision;
use crate::policy::SignatureRequest;
use crate::signature::{SessionContext, SignParams, SourceContext, Validity};
use crate::uploads::{
    Metadata, NewUpload, Owner, RecordError, SigningGrant, Status, StoreError, UploadId,
};

/// The fields a client may not send to `/v1/uploads`: the service writes them.
const CONTEXT_FIELDS: [&str; 2] = ["sourceContext", "sessionContext"];

/// The request of `POST /v1/uploads`, for the OpenAPI document: the `/v1/signature`
/// fields but `sourceContext` and `sessionContext`, and `metadata` (`openapi::describe`
/// copies the fields in). Never constructed.
#[derive(utoipa::ToSchema)]
#[allow(dead_code, reason = "a description of the request, not a value")]
pub struct UploadRequest {
    /// A JSON object the app attaches to the upload, returned exactly as given; at most
    /// `uploads.max_metadata_bytes` (default 4096) as sent.
    #[schema(value_type = Object)]
    metadata: Option<serde_json::Value>,
}

/// The body's members in order, each value as the client wrote it.
struct RawFields(Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for RawFields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> Visitor<'de> for Members {
            type Value = RawFields;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawFields, A::Error> {
                let mut fields = Vec::new();
                while let Some(member) = map.next_entry::<String, Box<RawValue>>()? {
                    fields.push(member);
                }
                Ok(RawFields(fields))
            }
        }
        deserializer.deserialize_map(Members)
    }
}

/// Reads the body of `POST /v1/uploads`: the `/v1/signature` fields (read by
/// [`parse_json_request`], so with the same rules and messages) and `metadata`, kept as
/// the text it was given. `sourceContext` and `sessionContext` are refused (40302).
pub fn parse_upload_request(
    body: &[u8],
    max_metadata_bytes: usize,
) -> Result<(SignatureRequest, Metadata), ApiError> {
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::BadRequest(
            "the JSON body must be one object, such as {\"metadata\":{\"title\":\"clip\"}}"
                .to_owned(),
        ));
    }
    let RawFields(fields) = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("malformed JSON body: {e}")))?;
    for (i, (name, _)) in fields.iter().enumerate() {
        if fields[..i].iter().any(|(seen, _)| seen == name) {
            return Err(ApiError::BadRequest(format!(
                "{name}: given twice; send each field once"
            )));
        }
        if CONTEXT_FIELDS.contains(&name.as_str()) {
            return Err(ApiError::NotAllowed(format!(
                "{name}: an upload's {name} is its signed context, written by the service; \
                 put what your app wants to attach in metadata"
            )));
        }
    }
    let mut metadata = Metadata::empty();
    let mut rest = String::with_capacity(body.len());
    rest.push('{');
    for (name, value) in &fields {
        if name == "metadata" {
            metadata = Metadata::from_json(value.get(), max_metadata_bytes)
                .map_err(|e| ApiError::BadRequest(format!("metadata: {e}")))?;
            continue;
        }
        if rest.len() > 1 {
            rest.push(',');
        }
        rest.push_str(&serde_json::to_string(name).expect("a string serializes"));
        rest.push(':');
        rest.push_str(value.get());
    }
    rest.push('}');
    Ok((parse_json_request(rest.as_bytes())?, metadata))
}

/// The fields and metadata of `POST /v1/uploads`, from its optional JSON body (within
/// `server.body_timeout_ms`, else 40801).
#[derive(Debug)]
pub struct UploadBody(pub SignatureRequest, pub Metadata);

impl FromRequest<AppState> for UploadBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let deadline = Duration::from_millis(state.settings.server.body_timeout_ms);
        let max = state.settings.uploads.max_metadata_bytes;
        match json_body(request, deadline).await? {
            None => Ok(UploadBody(SignatureRequest::default(), Metadata::empty())),
            Some(body) => parse_upload_request(&body, max).map(|(r, m)| UploadBody(r, m)),
        }
    }
}

/// The answer of `POST /v1/uploads`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Created {
    #[schema(example = "upl_q0Gm4m2M3cTt0Y6c1KJbQw")]
    upload_id: String,
    /// Always `authorized`.
    #[schema(value_type = super::StatusName)]
    status: &'static str,
    /// The signature to pass to the VOD upload SDK as is.
    signature: String,
    /// Unix second after which VOD refuses the signature; never after the upload expires.
    expire_time: u64,
    /// RFC 3339: after it the upload can no longer be signed.
    upload_expires_at: String,
}

/// The answer of `POST /v1/uploads/{uploadId}/signature`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Resigned {
    upload_id: String,
    /// The signature to pass to the VOD upload SDK as is.
    signature: String,
    /// Unix second after which VOD refuses the signature; never after the upload expires.
    expire_time: u64,
    /// Signatures issued for the upload so far, this one included.
    signatures_issued: u32,
}

/// Signs `grant` at `now` with `key`, its validity cut to the upload's remaining time.
fn sign(
    key: &SigningKey,
    grant: &SigningGrant,
    now: u64,
    expires_at: u64,
    random: u32,
) -> Result<(String, SignParams), ApiError> {
    let left = expires_at.saturating_sub(now);
    let seconds = u64::from(grant.validity.seconds()).min(left);
    let validity = Validity::try_from(seconds).map_err(|_| ApiError::UploadExpired)?;
    let params = SignParams {
        secret_id: key.secret_id().clone(),
        current_time: now,
        validity,
        random,
        options: grant.options.clone(),
    };
    let signature = key.signer().sign(&params);
    Ok((signature, params))
}

/// `POST /v1/uploads`: a ticket for the caller, `authorized` until `uploads.ttl_secs`
/// from now, and its first signature.
#[utoipa::path(
    post,
    path = "/v1/uploads",
    tag = "uploads",
    operation_id = "createUpload",
    request_body(
        content = UploadRequest,
        content_type = "application/json",
        description = "The /v1/signature fields but sourceContext and sessionContext (the \
                       service writes those), and metadata; all optional, the body too"
    ),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The upload was made, with its first signature", body = Success<Created>),
        (status = 400, description = "The body or a field is malformed, or metadata is not an object within the limit (40001)", body = super::super::error::Envelope),
        (status = 401, description = "No or an invalid credential (40101, 40102)", body = super::super::error::Envelope),
        (status = 403, description = "The caller may not upload, or the policy forbids a value, or the body names sourceContext or sessionContext (40301, 40302)", body = super::super::error::Envelope),
        (status = 408, description = "The body did not arrive in time (40801)", body = super::super::error::Envelope),
        (status = 413, description = "The request is too large (41301)", body = super::super::error::Envelope),
        (status = 429, description = "Rate limit, quota or the caller's requests in progress reached (42901, 42902, 42903)", body = super::super::error::Envelope),
        (status = 500, description = "Internal error (50001)", body = super::super::error::Envelope),
        (status = 503, description = "Overloaded, or the upload store is unavailable (50301)", body = super::super::error::Envelope),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    UploadBody(request, metadata): UploadBody,
) -> Result<Answer, ApiError> {
    let tickets = tickets(&state)?;
    let principal = &caller.principal;
    let policy = state.policy(&principal.policy).ok_or_else(|| {
        ApiError::Forbidden(format!(
            "policy {:?} is not configured; ask the service operator",
            principal.policy
        ))
    })?;
    let key = state.signing_key(&policy.name).ok_or(ApiError::Internal)?;
    let granted = policy.grant(principal, &request)?;
    let id = UploadId::generate();
    let token = tickets.keys.token(&id).to_string();
    let mut options = granted.options;
    // A 53-character token fits both (1000 and 250 characters).
    options.source_context =
        Some(SourceContext::try_from(token.clone()).map_err(|_| ApiError::Internal)?);
    options.session_context =
        Some(SessionContext::try_from(token).map_err(|_| ApiError::Internal)?);
    let grant = SigningGrant {
        policy: policy.name.clone(),
        credential: key.name().to_owned(),
        validity: granted.validity,
        options,
    };
    let now = unix_now();
    let expires_at = now.saturating_add(state.settings.uploads.ttl_secs);
    let (signature, params) = sign(key, &grant, now, expires_at, state.next_random())?;
    let new = NewUpload {
        id: id.clone(),
        owner: Owner::of(principal),
        created_at: now,
        expires_at,
        metadata,
        grant,
    };
    // The row, with this signature counted, only now that the signature exists.
    tickets
        .observe(tickets.store.store().create(&new).await)
        .map_err(store_error)?;
    let issuance = Issuance::new(&params, &signature);
    let body = Success::ok(Created {
        upload_id: id.to_string(),
        status: Status::Authorized.as_str(),
        signature,
        expire_time: params.expire_time(),
        upload_expires_at: rfc3339(expires_at),
    });
    Ok(Answer::new(StatusCode::CREATED, &body, caller.limits)
        .issued(issuance)
        .outcome(UploadEvent::Created, Some(id)))
}

/// `POST /v1/uploads/{uploadId}/signature`: another signature for the caller's upload,
/// with the parameters and contexts it was granted, a new `random` and time.
#[utoipa::path(
    post,
    path = "/v1/uploads/{uploadId}/signature",
    tag = "uploads",
    operation_id = "resignUpload",
    params(("uploadId" = String, Path, description = "The uploadId POST /v1/uploads answered",
            pattern = "^upl_[A-Za-z0-9_-]{21}[AQgw]$")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Another signature for the upload", body = Success<Resigned>),
        (status = 400, description = "The uploadId is malformed (40001)", body = super::super::error::Envelope),
        (status = 401, description = "No or an invalid credential (40101, 40102)", body = super::super::error::Envelope),
        (status = 403, description = "The caller may not upload (40301)", body = super::super::error::Envelope),
        (status = 404, description = "No upload of the caller's has this id (40402)", body = super::super::error::Envelope),
        (status = 409, description = "The upload has had all its signatures, or needs no more (40901)", body = super::super::error::Envelope),
        (status = 410, description = "The upload has expired (41001)", body = super::super::error::Envelope),
        (status = 429, description = "Rate limit or the caller's requests in progress reached (42901, 42903)", body = super::super::error::Envelope),
        (status = 500, description = "Internal error (50001)", body = super::super::error::Envelope),
        (status = 503, description = "Overloaded, or the upload store is unavailable (50301)", body = super::super::error::Envelope),
    )
)]
pub async fn resign(
    State(state): State<AppState>,
    RateCaller(caller): RateCaller,
    UploadPath(id): UploadPath,
) -> Result<Answer, ApiError> {
    let tickets = tickets(&state)?;
    let store = tickets.store.store();
    let owner = Owner::of(&caller.principal);
    let max = state.settings.uploads.max_signatures;
    let now = unix_now();
    let upload = tickets
        .observe(store.get(&owner, &id, now).await)
        .map_err(store_error)?
        .ok_or(ApiError::UploadNotFound)?;
    refuse_unsignable(upload.status, upload.signatures_issued, max)?;
    // Everything that could refuse is checked before the signature is counted.
    let key = state
        .credentials()
        .get(&upload.grant.credential)
        .ok_or_else(|| {
            tracing::error!(
                upload_id = %id,
                credential = %upload.grant.credential,
                "the upload's credential is no longer configured"
            );
            ApiError::Internal
        })?;
    if upload.expires_at <= now {
        return Err(ApiError::UploadExpired);
    }
    let recorded = store.record_signature(&owner, &id, max, now).await;
    let count = match recorded {
        Ok(count) => {
            tickets.observe(Ok(()))?;
            count
        }
        Err(RecordError::Store(e)) => {
            let _ = tickets.observe::<()>(Err(e.clone()));
            return Err(store_error(e));
        }
        Err(RecordError::NotFound) => return Err(ApiError::UploadNotFound),
        Err(RecordError::Expired) => return Err(ApiError::UploadExpired),
        Err(RecordError::LimitReached { .. }) => return Err(limit_reached(max)),
        Err(RecordError::Finished(status)) => return Err(finished(status)),
    };
    // Pure from here: the counted signature is always issued.
    let (signature, params) = sign(
        key,
        &upload.grant,
        now,
        upload.expires_at,
        state.next_random(),
    )?;
    let issuance = Issuance::new(&params, &signature);
    let body = Success::ok(Resigned {
        upload_id: id.to_string(),
        signature,
        expire_time: params.expire_time(),
        signatures_issued: count,
    });
    Ok(Answer::new(StatusCode::OK, &body, caller.limits)
        .issued(issuance)
        .outcome(UploadEvent::Signed, Some(id)))
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        store_error(e)
    }
}

fn refuse_unsignable(status: Status, issued: u32, max: u32) -> Result<(), ApiError> {
    match status {
        Status::Authorized if issued >= max => Err(limit_reached(max)),
        Status::Authorized => Ok(()),
        Status::Expired => Err(ApiError::UploadExpired),
        Status::Deleted => Err(ApiError::UploadNotFound),
        other => Err(finished(other)),
    }
}

fn limit_reached(max: u32) -> ApiError {
    ApiError::SignatureLimit(format!(
        "this upload has had its {max} signatures; make a new upload with POST /v1/uploads"
    ))
}

fn finished(status: Status) -> ApiError {
    ApiError::SignatureLimit(format!(
        "this upload is {status}; it needs no more signatures"
    ))
}

/// A ticket endpoint's success: a JSON body, the caller's RateLimit headers, and for the
/// exchange's audit the [`Issuance`] (when a signature was made) and the [`UploadOutcome`].
#[derive(Debug)]
pub struct Answer {
    status: StatusCode,
    body: Vec<u8>,
    limits: Option<Decision>,
    issuance: Option<Issuance>,
    outcome: Option<UploadOutcome>,
}

impl Answer {
    pub(super) fn new<T: Serialize>(
        status: StatusCode,
        body: &T,
        limits: Option<Decision>,
    ) -> Self {
        Answer {
            status,
            body: serde_json::to_vec(body).unwrap_or_default(),
            limits,
            issuance: None,
            outcome: None,
        }
    }

    fn issued(mut self, issuance: Issuance) -> Self {
        self.issuance = Some(issuance);
        self
    }

    pub(super) fn outcome(mut self, event: UploadEvent, upload_id: Option<UploadId>) -> Self {
        self.outcome = Some(UploadOutcome { event, upload_id });
        self
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        if self.body.is_empty() {
            tracing::error!("an upload answer could not be serialised");
            return ApiError::Internal.into_response();
        }
        let mut response = Response::new(Body::from(self.body));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, APPLICATION_JSON);
        // Signatures and a caller's uploads are for that caller: no shared cache keeps them.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(decision) = self.limits {
            decision.write_headers(headers);
        }
        if let Some(issuance) = self.issuance {
            response.extensions_mut().insert(issuance);
        }
        if let Some(outcome) = self.outcome {
            response.extensions_mut().insert(outcome);
        }
        response
    }
}
