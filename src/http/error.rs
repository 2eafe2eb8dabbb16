//! The one error type at the HTTP boundary and its JSON envelope.
//!
//! Every refusal, including those made by layers (body limit, timeout, panic, unknown path,
//! wrong method), leaves as `{"code":N,"message":"...","requestId":"..."}`. [`ApiError`]
//! renders the envelope and tags the response with an [`ErrorBody`] extension;
//! [`finish`], called by the outermost layer ([`super::front`]), adds the request id and
//! turns the bare responses of layers into the same envelope.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::auth::AuthError;
use crate::limits::{Decision, LimitError};
use crate::policy::PolicyError;

/// The media type of every JSON answer.
pub(crate) const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");

/// Every error the API answers with. The `code` and HTTP status of each variant are the
/// table in the README.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("send an Authorization: Bearer <token> header")]
    Unauthenticated,
    #[error("{0}; get a new credential and retry")]
    InvalidCredentials(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotAllowed(String),
    #[error("no such endpoint; see the README for the API")]
    NotFound,
    /// No upload of this caller has this id (another caller's looks the same).
    #[error("no such upload of yours; check the uploadId, or make a new upload")]
    UploadNotFound,
    /// The upload can have no more signatures: its `max_signatures` reached, or it is past
    /// the stage where signatures help (the message says which).
    #[error("{0}")]
    SignatureLimit(String),
    /// The upload's time ran out.
    #[error("this upload has expired; make a new upload with POST /v1/uploads")]
    UploadExpired,
    #[error("this method is not allowed here; see the Allow header")]
    MethodNotAllowed,
    #[error("the request body is too large")]
    PayloadTooLarge,
    #[error("the request body did not arrive in time; send it together with the request")]
    BodyTimeout,
    /// `decision` fills the RateLimit headers; `None` for the per-IP auth-failure limit.
    #[error("too many requests; retry after {retry_after} seconds")]
    RateLimited {
        retry_after: u64,
        decision: Option<Decision>,
    },
    #[error("signature quota exhausted; retry after {retry_after} seconds")]
    QuotaExhausted {
        retry_after: u64,
        decision: Option<Decision>,
    },
    /// Past `max_in_flight_per_principal`: the caller's own requests fill its share.
    #[error("too many of your requests are in progress; wait for one to finish and retry")]
    TooManyInFlight,
    #[error("internal error; retry, and report the requestId if it persists")]
    Internal,
    #[error("{0}; retry shortly")]
    Unavailable(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthenticated | ApiError::InvalidCredentials(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) | ApiError::NotAllowed(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound | ApiError::UploadNotFound => StatusCode::NOT_FOUND,
            ApiError::SignatureLimit(_) => StatusCode::CONFLICT,
            ApiError::UploadExpired => StatusCode::GONE,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::RateLimited { .. }
            | ApiError::QuotaExhausted { .. }
            | ApiError::TooManyInFlight => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn code(&self) -> u32 {
        match self {
            ApiError::BadRequest(_) => 40001,
            ApiError::Unauthenticated => 40101,
            ApiError::InvalidCredentials(_) => 40102,
            ApiError::Forbidden(_) => 40301,
            ApiError::NotAllowed(_) => 40302,
            ApiError::NotFound => 40401,
            ApiError::UploadNotFound => 40402,
            ApiError::SignatureLimit(_) => 40901,
            ApiError::UploadExpired => 41001,
            ApiError::MethodNotAllowed => 40501,
            ApiError::PayloadTooLarge => 41301,
            ApiError::BodyTimeout => 40801,
            ApiError::RateLimited { .. } => 42901,
            ApiError::QuotaExhausted { .. } => 42902,
            ApiError::TooManyInFlight => 42903,
            ApiError::Internal => 50001,
            ApiError::Unavailable(_) => 50301,
        }
    }

    /// Every `code` the API answers with, in the order of the README's table: the
    /// OpenAPI document's enum of `ErrorEnvelope.code`. A test checks it against
    /// [`ApiError::code`] for every variant.
    pub const CODES: [u32; 17] = [
        40001, 40101, 40102, 40301, 40302, 40401, 40402, 40501, 40801, 40901, 41001, 41301, 42901,
        42902, 42903, 50001, 50301,
    ];

    /// The error a layer meant when it answered a bare `status`.
    pub(crate) fn from_bare_status(status: StatusCode) -> Self {
        match status {
            StatusCode::NOT_FOUND => ApiError::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
            StatusCode::REQUEST_TIMEOUT | StatusCode::SERVICE_UNAVAILABLE => {
                ApiError::Unavailable("the request took too long".to_owned())
            }
            StatusCode::UNAUTHORIZED => ApiError::Unauthenticated,
            s if s.is_client_error() => ApiError::BadRequest(format!(
                "malformed request ({s}); check the API in the README"
            )),
            _ => ApiError::Internal,
        }
    }
}

/// Marks a response as an envelope error, so [`finish`] can add the request id.
#[derive(Debug, Clone)]
pub struct ErrorBody {
    pub code: u32,
    pub message: String,
}

/// The error envelope every refusal is answered with.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ErrorEnvelope)]
pub struct Envelope<'a> {
    /// What went wrong, as a number to branch on: 40001 malformed request, 40101 no
    /// credential, 40102 invalid credential, 40301 may not upload, 40302 value not allowed by
    /// the policy, 40401 no such endpoint, 40402 no such upload, 40501 method not allowed,
    /// 40801 body too slow, 40901 the upload can have no more signatures, 41001 the upload
    /// expired, 41301 body too large, 42901 rate limited, 42902 quota exhausted, 42903 too
    /// many of the caller's requests in progress, 50001 internal error, 50301 unavailable.
    #[schema(example = 40102, schema_with = error_codes)]
    code: u32,
    /// What went wrong and what to do, in one sentence.
    message: &'a str,
    /// The request's id, as in the `x-request-id` response header: quote it in reports.
    #[serde(rename = "requestId", skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
}

/// The schema of `ErrorEnvelope.code`: one of [`ApiError::CODES`].
fn error_codes() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::Integer)
        .enum_values(Some(ApiError::CODES))
        .build()
}

fn render(status: StatusCode, body: &ErrorBody, request_id: Option<&str>) -> Response {
    let envelope = Envelope {
        code: body.code,
        message: &body.message,
        request_id,
    };
    let mut response = (status, Json(envelope)).into_response();
    response.extensions_mut().insert(body.clone());
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self == ApiError::Internal {
            // The cause was logged where it happened; nothing of it goes to the client.
            tracing::error!(code = 50001, "internal error");
        }
        let body = ErrorBody {
            code: self.code(),
            message: self.to_string(),
        };
        let mut response = render(self.status(), &body, None);
        let headers = response.headers_mut();
        match self {
            ApiError::Unauthenticated => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::InvalidCredentials(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"invalid_token\""),
                );
            }
            ApiError::RateLimited {
                retry_after,
                decision,
            }
            | ApiError::QuotaExhausted {
                retry_after,
                decision,
            } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
                if let Some(decision) = decision {
                    decision.write_headers(headers);
                }
            }
            ApiError::TooManyInFlight => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(1));
            }
            _ => {}
        }
        response
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Missing => ApiError::Unauthenticated,
            AuthError::Invalid(reason) => ApiError::InvalidCredentials(reason.to_owned()),
            AuthError::Forbidden(reason) => ApiError::Forbidden(reason),
            AuthError::Unavailable(reason) => ApiError::Unavailable(reason.to_owned()),
        }
    }
}

impl From<PolicyError> for ApiError {
    fn from(e: PolicyError) -> Self {
        match e {
            PolicyError::Invalid(e) => ApiError::BadRequest(e.to_string()),
            PolicyError::NotAllowed { .. } => ApiError::NotAllowed(e.to_string()),
            PolicyError::Forbidden(reason) => ApiError::Forbidden(reason),
        }
    }
}

impl From<LimitError> for ApiError {
    fn from(e: LimitError) -> Self {
        match e {
            LimitError::Rate {
                retry_after,
                decision,
            } => ApiError::RateLimited {
                retry_after,
                decision: Some(decision),
            },
            LimitError::Quota {
                retry_after,
                decision,
            } => ApiError::QuotaExhausted {
                retry_after,
                decision: Some(decision),
            },
            LimitError::Unavailable => {
                ApiError::Unavailable("rate limits cannot be checked at the moment".to_owned())
            }
        }
    }
}

/// Adds `requestId` to every envelope error, and wraps the bare error responses of inner
/// layers (404, 405, 413, timeout, panic) into the envelope. Other answers pass unchanged.
pub fn finish(response: Response, request_id: Option<&str>) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (mut parts, _body) = response.into_parts();
    let body = match parts.extensions.remove::<ErrorBody>() {
        Some(body) => body,
        None => {
            let error = ApiError::from_bare_status(status);
            ErrorBody {
                code: error.code(),
                message: error.to_string(),
            }
        }
    };
    let mut rendered = render(status, &body, request_id);
    // Keep the headers the error carried (Allow, Retry-After, WWW-Authenticate, ...), but
    // describe the new body.
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(header::CONTENT_TYPE, APPLICATION_JSON);
    rendered.headers_mut().extend(parts.headers);
    // And its extensions: the request's log line names the caller from them.
    rendered.extensions_mut().extend(parts.extensions);
    rendered
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// One error of each variant; the match makes adding a variant fail to compile here
    /// until it is listed.
    fn one_of_each() -> Vec<ApiError> {
        let all = vec![
            ApiError::BadRequest(String::new()),
            ApiError::Unauthenticated,
            ApiError::InvalidCredentials(String::new()),
            ApiError::Forbidden(String::new()),
            ApiError::NotAllowed(String::new()),
            ApiError::NotFound,
            ApiError::UploadNotFound,
            ApiError::SignatureLimit(String::new()),
            ApiError::UploadExpired,
            ApiError::MethodNotAllowed,
            ApiError::PayloadTooLarge,
            ApiError::BodyTimeout,
            ApiError::RateLimited {
                retry_after: 1,
                decision: None,
            },
            ApiError::QuotaExhausted {
                retry_after: 1,
                decision: None,
            },
            ApiError::TooManyInFlight,
            ApiError::Internal,
            ApiError::Unavailable(String::new()),
        ];
        for error in &all {
            match error {
                ApiError::BadRequest(_)
                | ApiError::Unauthenticated
                | ApiError::InvalidCredentials(_)
                | ApiError::Forbidden(_)
                | ApiError::NotAllowed(_)
                | ApiError::NotFound
                | ApiError::UploadNotFound
                | ApiError::SignatureLimit(_)
                | ApiError::UploadExpired
                | ApiError::MethodNotAllowed
                | ApiError::PayloadTooLarge
                | ApiError::BodyTimeout
                | ApiError::RateLimited { .. }
                | ApiError::QuotaExhausted { .. }
                | ApiError::TooManyInFlight
                | ApiError::Internal
                | ApiError::Unavailable(_) => {}
            }
        }
        all
    }

    #[test]
    fn the_documented_codes_are_exactly_the_codes_answered() {
        let answered: BTreeSet<u32> = one_of_each().iter().map(ApiError::code).collect();
        let documented: BTreeSet<u32> = ApiError::CODES.into_iter().collect();
        assert_eq!(answered, documented);
        assert_eq!(
            documented.len(),
            ApiError::CODES.len(),
            "no code listed twice"
        );
        for status in 400..600 {
            let status = StatusCode::from_u16(status).expect("a status");
            let code = ApiError::from_bare_status(status).code();
            assert!(documented.contains(&code), "{status} becomes {code}");
        }
    }
}
