//! `GET|POST /v1/signature`: the authenticated caller's request, through its policy, to a
//! fresh signature.
//!
//! The route (`http::routes`) is [`issue_by_query`] and [`issue_by_body`], every other
//! method answered by [`refuse_method`], all inside the exchange's audit middleware
//! ([`super::exchange::record`]). A handler's arguments are its steps, so for every request:
//!
//! 1. the method: `GET` or `POST`, else 405 (40501) with `Allow: GET, POST` (`HEAD` too);
//! 2. to 5. the [`Caller`]: a shared load-shedding slot (503, 50301), the auth-check, one
//!    unit of the caller's rate and quota (429), a slot of the caller's own (429, 42903);
//!    the shared slot is given back before anything waits on the client;
//! 6. the request fields, [`SignatureQuery`] or [`SignatureBody`] (a body within
//!    `body_timeout_ms`, else 408, 40801), then the caller's policy and the pure signer
//!    ([`issue`]).
//!
//! Every refusal is an [`ApiError`], so it leaves in the one envelope; the audit middleware
//! turns each exchange into one audit event, answered or not.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::caller::Caller;
use super::error::{APPLICATION_JSON, ApiError, Envelope};
use crate::app::{AppState, unix_now};
use crate::audit::Issuance;
use crate::limits::Decision;
use crate::policy::SignatureRequest;

/// The request fields of a `POST`: its (optional) JSON body, which must arrive within
/// `deadline` (else 40801); the query string must be empty. Malformed input becomes a
/// 40001 naming the field.
async fn body_fields(request: Request, deadline: Duration) -> Result<SignatureRequest, ApiError> {
    match json_body(request, deadline).await? {
        None => Ok(SignatureRequest::default()),
        Some(body) => parse_json_request(&body),
    }
}

/// The JSON body of a `POST` that takes its fields in the body only: `None` when it is
/// empty (whitespace only), else its bytes, which must arrive within `deadline` (else
/// 40801) with a JSON media type (or none); the query string must be empty.
pub(super) async fn json_body(
    request: Request,
    deadline: Duration,
) -> Result<Option<Bytes>, ApiError> {
    if request.uri().query().is_some_and(|q| !q.is_empty()) {
        return Err(ApiError::BadRequest(
            "a POST takes its fields in the JSON body, not in the query string".to_owned(),
        ));
    }
    // A media type other than JSON, refused below unless the body is empty. Without a
    // (readable) Content-Type header the body is read as JSON.
    let media_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim())
        .filter(|kind| !kind.eq_ignore_ascii_case("application/json"))
        .map(str::to_ascii_lowercase);
    let body = tokio::time::timeout(deadline, Bytes::from_request(request, &()))
        .await
        .map_err(|_| ApiError::BodyTimeout)?
        .map_err(|rejection| match rejection.status().as_u16() {
            413 => ApiError::PayloadTooLarge,
            _ => ApiError::BadRequest("the request body could not be read".to_owned()),
        })?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    if let Some(kind) = media_type {
        return Err(ApiError::BadRequest(format!(
            "the body must be JSON; send Content-Type: application/json (got {kind})"
        )));
    }
    Ok(Some(body))
}

/// Reads the request fields of a `GET` from its query string (form encoding). Public so
/// the fuzz targets and the fuzz fallback test can reach it without a router.
///
/// Percent-decoded bytes must be UTF-8: a `%FF` is refused, not turned into U+FFFD and
/// signed. (Separators `&`, `=` and `+` are ASCII, so checking the whole decoded string
/// checks every name and value.)
pub fn parse_query_request(query: &str) -> Result<SignatureRequest, ApiError> {
    if percent_encoding::percent_decode(query.as_bytes())
        .decode_utf8()
        .is_err()
    {
        return Err(ApiError::BadRequest(
            "the query string is not valid UTF-8 once percent-decoded; encode text as UTF-8"
                .to_owned(),
        ));
    }
    let deserializer =
        serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(deserializer).map_err(|e| field_error("query", e))
}

/// Reads the request fields of a `POST` from its JSON body: exactly one JSON object,
/// with nothing but whitespace after it. Public for the same reason as
/// [`parse_query_request`].
pub fn parse_json_request(body: &[u8]) -> Result<SignatureRequest, ApiError> {
    // serde reads a JSON array into a struct by position; only an object names its fields.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::BadRequest(
            "the JSON body must be one object, such as {\"validitySeconds\":600}".to_owned(),
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let request = serde_path_to_error::deserialize(&mut deserializer)
        .map_err(|e| field_error("JSON body", e))?;
    deserializer.end().map_err(|_| {
        ApiError::BadRequest(
            "the JSON body has data after its object; send exactly one object".to_owned(),
        )
    })?;
    Ok(request)
}

fn field_error<E: std::fmt::Display>(
    source: &str,
    error: serde_path_to_error::Error<E>,
) -> ApiError {
    let path = error.path().to_string();
    let inner = error.inner().to_string();
    ApiError::BadRequest(if path == "." || path.is_empty() {
        format!("malformed {source}: {inner}")
    } else {
        format!("{path}: {inner}")
    })
}

/// The request fields of a `GET`, from its query string ([`parse_query_request`]).
#[derive(Debug)]
pub struct SignatureQuery(pub SignatureRequest);

impl<S: Sync> FromRequestParts<S> for SignatureQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parse_query_request(parts.uri.query().unwrap_or("")).map(SignatureQuery)
    }
}

/// The request fields of a `POST`, from its optional JSON body, which must arrive within
/// `server.body_timeout_ms` ([`body_fields`]).
#[derive(Debug)]
pub struct SignatureBody(pub SignatureRequest);

impl FromRequest<AppState> for SignatureBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let deadline = Duration::from_millis(state.settings.server.body_timeout_ms);
        body_fields(request, deadline).await.map(SignatureBody)
    }
}

/// A fresh upload signature.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Issued {
    /// The signature to pass to the VOD upload SDK as is.
    signature: String,
    /// Unix second after which VOD refuses the signature.
    #[serde(rename = "expireTime")]
    expire_time: u64,
}

/// The success envelope: `code` 0, `message` "ok", and the result in `data`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Success<T> {
    #[schema(minimum = 0, maximum = 0)]
    code: u32,
    #[schema(example = "ok")]
    message: &'static str,
    data: T,
}

impl<T> Success<T> {
    /// `code` 0, `message` "ok", and `data`.
    pub fn ok(data: T) -> Self {
        Success {
            code: 0,
            message: "ok",
            data,
        }
    }
}

/// The answers of `GET` and `POST /v1/signature`, for the OpenAPI description: one list,
/// so the two operations cannot drift apart. Never constructed.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code, reason = "a description of the responses, not a value")]
enum SignatureResponses {
    #[response(status = 200, description = "A signature was issued")]
    Issued(Success<Issued>),
    #[response(
        status = 400,
        description = "The request (query string, body or a field) is malformed (40001)"
    )]
    BadRequest(Envelope<'static>),
    #[response(
        status = 401,
        description = "No or an invalid credential (40101, 40102)"
    )]
    Unauthorized(Envelope<'static>),
    #[response(
        status = 403,
        description = "The caller may not upload, or the policy forbids a value (40301, 40302)"
    )]
    Forbidden(Envelope<'static>),
    #[response(
        status = 405,
        description = "Not GET or POST (HEAD included), with an Allow header (40501)"
    )]
    NotAllowed(Envelope<'static>),
    #[response(status = 408, description = "The body did not arrive in time (40801)")]
    BodyTimeout(Envelope<'static>),
    #[response(status = 413, description = "The request is too large (41301)")]
    TooLarge(Envelope<'static>),
    #[response(
        status = 429,
        description = "Rate limit, quota or the caller's requests in progress reached (42901, 42902, 42903)"
    )]
    TooManyRequests(Envelope<'static>),
    #[response(status = 500, description = "Internal error (50001)")]
    Internal(Envelope<'static>),
    #[response(status = 503, description = "Temporarily unavailable (50301)")]
    Unavailable(Envelope<'static>),
}

/// The methods the route answers, for the `Allow` header of a 405. Not `HEAD`: a
/// signature whose body the client never reads would still spend its rate and quota.
const ALLOWED: HeaderValue = HeaderValue::from_static("GET, POST");

/// Any method but `GET` and `POST` (`HEAD` too, which axum would otherwise route to `GET`):
/// 405 (40501) with `Allow: GET, POST`, before load shedding or the auth-check.
pub async fn refuse_method() -> impl IntoResponse {
    ([(header::ALLOW, ALLOWED)], ApiError::MethodNotAllowed)
}

/// `GET /v1/signature`: the request fields in the query string.
#[utoipa::path(
    get,
    path = "/v1/signature",
    tag = "signature",
    operation_id = "issueSignatureByQuery",
    // One object parameter in form style, exploded: on the wire each field is its own
    // `name=value` pair, and the one SignatureRequest schema (with its dependentRequired)
    // describes the query as it describes the body.
    params(
        ("fields" = SignatureRequest, Query, style = Form, explode,
         description = "The request fields, each its own query parameter \
                        (`?classId=1&validitySeconds=600`); all optional. `taskPriority` and \
                        `taskNotifyMode` need `procedure` in the same query.")
    ),
    security(("bearer" = [])),
    responses(SignatureResponses)
)]
pub async fn issue_by_query(
    State(state): State<AppState>,
    caller: Caller,
    SignatureQuery(fields): SignatureQuery,
) -> Result<Signed, ApiError> {
    issue(&state, &caller, &fields)
}

/// `POST /v1/signature`: the request fields in an optional JSON body.
#[utoipa::path(
    post,
    path = "/v1/signature",
    tag = "signature",
    operation_id = "issueSignatureByBody",
    // Optional (`openapi::describe` sets `required: false`): no body at all asks for the
    // policy's values.
    request_body(
        content = SignatureRequest,
        content_type = "application/json",
        description = "The request fields, all optional; the body itself may be left out"
    ),
    security(("bearer" = [])),
    responses(SignatureResponses)
)]
pub async fn issue_by_body(
    State(state): State<AppState>,
    caller: Caller,
    SignatureBody(fields): SignatureBody,
) -> Result<Signed, ApiError> {
    issue(&state, &caller, &fields)
}

/// Issues one signature to `caller`, whose rate and quota are already spent: the answer,
/// and for the audit event the parameters and a fingerprint, never the signature.
pub fn issue(
    state: &AppState,
    caller: &Caller,
    request: &SignatureRequest,
) -> Result<Signed, ApiError> {
    let principal = &caller.principal;
    let policy = state.policy(&principal.policy).ok_or_else(|| {
        ApiError::Forbidden(format!(
            "policy {:?} is not configured; ask the service operator",
            principal.policy
        ))
    })?;
    let key = state.signing_key(&policy.name).ok_or(ApiError::Internal)?;
    let grant = policy.grant(principal, request)?;
    let params = grant.into_params(key.secret_id().clone(), unix_now(), state.next_random());
    let signature = key.signer().sign(&params);
    Ok(Signed {
        issuance: Issuance::new(&params, &signature),
        issued: Issued {
            signature,
            expire_time: params.expire_time(),
        },
        limits: caller.limits,
    })
}

/// The 200 answer: [`Success`] of [`Issued`], the caller's RateLimit headers, and the
/// [`Issuance`] in the response's extensions for the exchange's audit event.
#[derive(Debug)]
pub struct Signed {
    issued: Issued,
    issuance: Issuance,
    limits: Option<Decision>,
}

impl IntoResponse for Signed {
    fn into_response(self) -> Response {
        let body = success_body(&self.issued.signature, self.issued.expire_time);
        let mut response = Response::new(Body::from(body));
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, APPLICATION_JSON);
        // A signature is for one caller: no shared cache may keep it.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(decision) = self.limits {
            decision.write_headers(headers);
        }
        response.extensions_mut().insert(self.issuance);
        response
    }
}

/// The 200 body, [`Success`] of [`Issued`], written straight into a buffer of its size.
///
/// The one JSON body written by hand: a signature is Base64 (`A-Z a-z 0-9 + / =`), which a
/// JSON string holds as it is, and serde's escape check over its few hundred characters is
/// about 2,500 instructions of a request (docs/performance.md). The test below checks the
/// bytes against serde's output.
fn success_body(signature: &str, expire_time: u64) -> Vec<u8> {
    debug_assert!(
        signature
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b)),
        "a signature is Base64"
    );
    const HEAD: &[u8] = br#"{"code":0,"message":"ok","data":{"signature":""#;
    const MIDDLE: &[u8] = br#"","expireTime":"#;
    let mut number = itoa::Buffer::new();
    let expire_time = number.format(expire_time).as_bytes();
    let mut body =
        Vec::with_capacity(HEAD.len() + signature.len() + MIDDLE.len() + expire_time.len() + 2);
    body.extend_from_slice(HEAD);
    body.extend_from_slice(signature.as_bytes());
    body.extend_from_slice(MIDDLE);
    body.extend_from_slice(expire_time);
    body.extend_from_slice(b"}}");
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_success_body_is_the_documented_envelope() {
        for (signature, expire_time) in [
            (
                "zZJreMB3GfM+c2jYMyTZk01Fswo/c2VjcmV0SWQ9QUtJRHg=",
                1_795_899_910,
            ),
            ("", 0),
            ("QUJD", u64::MAX),
        ] {
            let serde = serde_json::to_string(&Success {
                code: 0,
                message: "ok",
                data: Issued {
                    signature: signature.to_owned(),
                    expire_time,
                },
            })
            .expect("serde writes it");
            assert_eq!(
                serde,
                format!(
                    r#"{{"code":0,"message":"ok","data":{{"signature":"{signature}","expireTime":{expire_time}}}}}"#
                )
            );
            assert_eq!(
                String::from_utf8_lossy(&success_body(signature, expire_time)),
                serde,
                "the hand-written body is what serde writes"
            );
        }
    }
}
