//! `GET|POST /v1/signature`: the authenticated caller's request, through its policy, to a
//! fresh signature.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tower::Service;

use super::auth::require_principal;
use super::error::{APPLICATION_JSON, ApiError, Envelope};
use super::exchange::Exchange;
use crate::app::{AppState, unix_now};
use crate::audit::Issuance;
use crate::limits::{Decision, LoadShedLayer, PerCaller, principal_key};
use crate::policy::SignatureRequest;
use crate::principal::Principal;

/// The request fields of a `POST`: its (optional) JSON body, which must arrive within
/// `deadline` (else 40801); the query string must be empty. Malformed input becomes a
/// 40001 naming the field.
async fn body_fields(request: Request, deadline: Duration) -> Result<SignatureRequest, ApiError> {
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
        return Ok(SignatureRequest::default());
    }
    if let Some(kind) = media_type {
        return Err(ApiError::BadRequest(format!(
            "the body must be JSON; send Content-Type: application/json (got {kind})"
        )));
    }
    parse_json_request(&body)
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

/// A fresh upload signature.
#[derive(Serialize, utoipa::ToSchema)]
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

/// The 200 body, [`Success`] of [`Issued`], written directly into a buffer of its size.
///
/// Written by hand because a signature is Base64 (`A-Z a-z 0-9 + / =`,
/// [`crate::signature::Signer::sign`]), which a JSON string holds as it is, so checking its
/// characters for escapes as `serde_json` does is measurable work (docs/performance.md).
/// The test below checks the bytes against serde's derived form.
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

/// `GET|POST /v1/signature` as one service. In order, for every request:
///
/// 1. the method: `GET` or `POST`, else 405 (40501) with `Allow: GET, POST` (`HEAD` too);
/// 2. a shared load-shedding slot (`max_in_flight`, else 503, 50301), held while the
///    auth-check and the limits call their backends;
/// 3. the auth-check ([`require_principal`]): a [`Principal`], or 401/403/429/503;
/// 4. one unit of the caller's rate and quota, spent as the request arrives, whether or
///    not it completes (429, 42901/42902);
/// 5. a slot of the caller's own (`max_in_flight_per_principal`, else 429, 42903), held to
///    the end; the shared slot is given back here, before any wait on the client;
/// 6. the request fields (a `POST` body within `body_timeout_ms`, else 408, 40801), the
///    caller's policy, then the pure signer ([`issue_by_query`], [`issue_by_body`]);
/// 7. the audit event and the signature metrics of the exchange ([`Exchange`]), whatever
///    the outcome, also when the request ends without an answer (the request timeout, or
///    the client leaving): then as 503 (50301).
///
/// So a caller whose bodies never arrive holds only its own slots, and only until its body
/// deadline. The steps are plain calls in one future: as `from_fn` layers they cost a
/// clone of the route below and a boxed future each, per request (docs/performance.md).
#[derive(Clone)]
pub struct Endpoint {
    state: AppState,
    shed: LoadShedLayer<fn() -> Response>,
    per_caller: PerCaller,
    body_timeout: Duration,
}

impl Endpoint {
    pub fn new(state: AppState) -> Self {
        let shed = state
            .limiter()
            .load_shed_layer(overloaded as fn() -> Response);
        let per_caller = PerCaller::new(state.settings.limits.max_in_flight_per_principal);
        let body_timeout = Duration::from_millis(state.settings.server.body_timeout_ms);
        Self {
            state,
            shed,
            per_caller,
            body_timeout,
        }
    }
}

fn overloaded() -> Response {
    overloaded_error().into_response()
}

fn overloaded_error() -> ApiError {
    ApiError::Unavailable("the service is overloaded".to_owned())
}

/// The methods the endpoint answers, for the `Allow` header of a 405. Not `HEAD`: a
/// signature whose body the client never reads would still spend its rate and quota.
const ALLOWED: HeaderValue = HeaderValue::from_static("GET, POST");

impl Service<Request> for Endpoint {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let endpoint = self.clone();
        Box::pin(async move { Ok(answer(&endpoint, request).await) })
    }
}

async fn answer(endpoint: &Endpoint, request: Request) -> Response {
    let mut pending = Pending {
        state: &endpoint.state,
        exchange: Some(Exchange::begin(&request)),
        principal: None,
    };
    match serve(endpoint, &mut pending, request).await {
        Ok((response, issuance)) => pending.issued(response, &issuance),
        Err(error) => pending.refused(error),
    }
}

/// Steps 1 to 6 of [`Endpoint`]; `pending` learns the caller once the auth-check proves it.
async fn serve(
    endpoint: &Endpoint,
    pending: &mut Pending<'_>,
    request: Request,
) -> Result<(Response, Issuance), ApiError> {
    let state = &endpoint.state;
    let by_body = match *request.method() {
        Method::GET => false,
        Method::POST => true,
        _ => return Err(ApiError::MethodNotAllowed),
    };
    let shared = endpoint.shed.try_enter().ok_or_else(overloaded_error)?;
    let client = pending.exchange.as_ref().and_then(Exchange::client_ip);
    let principal = require_principal(state, request.headers(), client).await?;
    let principal = &*pending.principal.insert(principal);
    let limits = state.check_limits(principal).await?;
    let _own = endpoint
        .per_caller
        .try_enter(principal_key(principal))
        .ok_or(ApiError::TooManyInFlight)?;
    drop(shared);
    if by_body {
        issue_by_body(state, principal, request, limits, endpoint.body_timeout).await
    } else {
        issue_by_query(state, principal, request, limits)
    }
}

/// One exchange on its way to its audit event: exactly one, written by [`Pending::issued`],
/// [`Pending::refused`], or on drop when the request ended without an answer.
struct Pending<'a> {
    state: &'a AppState,
    exchange: Option<Exchange>,
    principal: Option<Principal>,
}

impl Pending<'_> {
    fn issued(mut self, mut response: Response, issuance: &Issuance) -> Response {
        if let (Some(exchange), Some(principal)) = (self.exchange.take(), &self.principal) {
            exchange.issued(self.state, principal, issuance);
        }
        self.finish(&mut response);
        response
    }

    fn refused(mut self, error: ApiError) -> Response {
        if let Some(exchange) = self.exchange.take() {
            exchange.refused(self.state, self.principal.as_ref(), &error);
        }
        let method_not_allowed = error == ApiError::MethodNotAllowed;
        let mut response = error.into_response();
        if method_not_allowed {
            response.headers_mut().insert(header::ALLOW, ALLOWED);
        }
        self.finish(&mut response);
        response
    }

    /// For the request's log line (`http::log_response`), which names the credential.
    fn finish(&mut self, response: &mut Response) {
        if let Some(principal) = self.principal.take() {
            response.extensions_mut().insert(principal);
        }
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        // Dropped unanswered: the request timeout's 503 (or a client that left) answers.
        if let Some(exchange) = self.exchange.take() {
            let error = ApiError::Unavailable("the request took too long".to_owned());
            exchange.refused(self.state, self.principal.as_ref(), &error);
        }
    }
}

/// `GET /v1/signature`: the request fields in the query string.
#[utoipa::path(
    get,
    path = "/v1/signature",
    tag = "signature",
    operation_id = "issueSignatureByQuery",
    params(SignatureRequest),
    security(("bearer" = [])),
    responses(SignatureResponses)
)]
pub fn issue_by_query(
    state: &AppState,
    principal: &Principal,
    request: Request,
    limits: Option<Decision>,
) -> Result<(Response, Issuance), ApiError> {
    let fields = parse_query_request(request.uri().query().unwrap_or(""))?;
    issue(state, principal, &fields, limits)
}

/// `POST /v1/signature`: the request fields in an optional JSON body.
#[utoipa::path(
    post,
    path = "/v1/signature",
    tag = "signature",
    operation_id = "issueSignatureByBody",
    request_body(content = Option<SignatureRequest>, content_type = "application/json"),
    security(("bearer" = [])),
    responses(SignatureResponses)
)]
pub async fn issue_by_body(
    state: &AppState,
    principal: &Principal,
    request: Request,
    limits: Option<Decision>,
    body_timeout: Duration,
) -> Result<(Response, Issuance), ApiError> {
    let fields = body_fields(request, body_timeout).await?;
    issue(state, principal, &fields, limits)
}

/// Issues one signature for the authenticated caller, whose rate and quota `limits`
/// already spent: the response, and for the audit event the parameters and a
/// fingerprint, never the signature.
pub fn issue(
    state: &AppState,
    principal: &Principal,
    request: &SignatureRequest,
    limits: Option<Decision>,
) -> Result<(Response, Issuance), ApiError> {
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
    let issuance = Issuance::new(&params, &signature);
    let mut response = Response::new(Body::from(success_body(&signature, params.expire_time())));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, APPLICATION_JSON);
    // A signature is for one caller: no shared cache may keep it.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(decision) = limits {
        decision.write_headers(headers);
    }
    Ok((response, issuance))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_success_body_is_what_serde_writes() {
        for (signature, expire_time) in [
            (
                "zZJreMB3GfM+c2jYMyTZk01Fswo/c2VjcmV0SWQ9QUtJRHg=",
                1_795_899_910,
            ),
            ("", 0),
            ("QUJD", u64::MAX),
        ] {
            let derived = serde_json::to_vec(&Success {
                code: 0,
                message: "ok",
                data: Issued {
                    signature: signature.to_owned(),
                    expire_time,
                },
            })
            .expect("serde writes it");
            assert_eq!(
                String::from_utf8_lossy(&success_body(signature, expire_time)),
                String::from_utf8_lossy(&derived)
            );
        }
    }
}
