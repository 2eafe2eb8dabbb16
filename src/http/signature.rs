//! `GET|POST /v1/signature`: the authenticated caller's request, through its policy, to a
//! fresh signature.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Serialize;

use super::error::ApiError;
use crate::app::{AppState, unix_now};
use crate::auth::Principal;
use crate::policy::SignatureRequest;

/// The request fields: from the query string of a `GET`, or the (optional) JSON body of a
/// `POST`. Malformed input becomes a 40001 naming the field.
#[derive(Debug)]
pub struct RequestFields(pub SignatureRequest);

impl<S: Send + Sync> FromRequest<S> for RequestFields {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let query = request.uri().query().unwrap_or("").to_owned();
        if request.method() == Method::GET {
            return from_query(&query).map(Self);
        }
        if !query.is_empty() {
            return Err(ApiError::BadRequest(
                "a POST takes its fields in the JSON body, not in the query string".to_owned(),
            ));
        }
        let json_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            });
        let body =
            Bytes::from_request(request, state)
                .await
                .map_err(|rejection| match rejection.status().as_u16() {
                    413 => ApiError::PayloadTooLarge,
                    _ => ApiError::BadRequest("the request body could not be read".to_owned()),
                })?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(SignatureRequest::default()));
        }
        if let Some(kind) = json_type
            && kind != "application/json"
        {
            return Err(ApiError::BadRequest(format!(
                "the body must be JSON; send Content-Type: application/json (got {kind})"
            )));
        }
        from_json(&body).map(Self)
    }
}

fn from_query(query: &str) -> Result<SignatureRequest, ApiError> {
    let deserializer =
        serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(deserializer).map_err(|e| field_error("query", e))
}

fn from_json(body: &[u8]) -> Result<SignatureRequest, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|e| field_error("JSON body", e))
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

#[derive(Serialize)]
struct Issued {
    signature: String,
    #[serde(rename = "expireTime")]
    expire_time: u64,
}

#[derive(Serialize)]
struct Success<T> {
    code: u32,
    message: &'static str,
    data: T,
}

/// Issues one signature for the authenticated caller.
pub async fn issue(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    RequestFields(request): RequestFields,
) -> Result<Response, ApiError> {
    let policy = state.policy(&principal.policy).ok_or_else(|| {
        ApiError::Forbidden(format!(
            "policy {:?} is not configured; ask the service operator",
            principal.policy
        ))
    })?;
    let grant = policy.grant(&principal, &request)?;
    // Only now, with a request the policy accepts, is a unit of rate and quota spent: a
    // refused request costs the caller nothing.
    let limits = state.check_limits(&principal).await?;
    let params = grant.into_params(state.secret_id().clone(), unix_now(), state.next_random());
    let signature = state.signer().sign(&params);
    let body = Success {
        code: 0,
        message: "ok",
        data: Issued {
            signature,
            expire_time: params.expire_time(),
        },
    };
    let mut response = Json(body).into_response();
    // A signature is for one caller: no shared cache may keep it.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(decision) = limits {
        decision.write_headers(response.headers_mut());
    }
    Ok(response)
}
