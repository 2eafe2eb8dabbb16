//! `GET /openapi.json`: the OpenAPI 3.1 description of the public API, generated from the
//! handlers' `#[utoipa::path]` annotations and the request/response types, so it follows
//! the code instead of drifting from it.
//!
//! [`describe`] then adds what utoipa's model cannot say, each from the code's own
//! constants: the response headers the service writes (and which of them are always
//! there), that the `POST` body may be left out, and that `taskPriority` and
//! `taskNotifyMode` need a `procedure` (`dependentRequired`).

use std::sync::LazyLock;

use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::error::ApiError;
use super::{REQUEST_ID, health, signature, uploads};
use crate::limits::{RATELIMIT_LIMIT, RATELIMIT_REMAINING, RATELIMIT_RESET};
use crate::policy::NEED_PROCEDURE;

/// The public API's description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "vodsign",
        description = "Issues Tencent Cloud VOD upload signatures to authenticated app users. \
                       Every refusal is an ErrorEnvelope whose numeric code says what was wrong.",
        license(name = "MIT OR Apache-2.0", identifier = "MIT OR Apache-2.0"),
    ),
    // Relative: the instance that serves this document serves the API.
    servers((url = "/", description = "The vodsign instance serving this document")),
    paths(
        signature::issue_by_query,
        signature::issue_by_body,
        uploads::create::create,
        uploads::read::list,
        uploads::read::get_one,
        uploads::create::resign,
        health::live,
        health::ready
    ),
    // The signature operations' responses come from `IntoResponses`, whose body types
    // utoipa does not collect by itself.
    components(schemas(signature::Success<signature::Issued>, super::error::Envelope)),
    modifiers(&BearerAuth),
    tags(
        (name = "signature", description = "Upload signatures"),
        (name = "uploads", description = "Upload tickets (when the instance has [uploads] enabled)"),
        (name = "health", description = "Liveness and readiness probes"),
    )
)]
pub struct ApiDoc;

/// Adds the `bearer` scheme: an API key (`vsk_...`) or an access token.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.description = Some(
            "An API key (`vsk_<id>_<secret>`) or an access token from the identity provider"
                .to_owned(),
        );
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// The path of the signature operations.
const SIGNATURE_PATH: &str = "/v1/signature";

/// The whole description: utoipa's, and what [`ApiDoc`] cannot express.
pub fn describe() -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or(Value::Null);
    // A header every answer carries.
    let request_id = header_object(
        &REQUEST_ID,
        "x-request-id",
        "The request's id (the client's own when it sent a sane one), also the \
         `requestId` of an error: quote it in reports",
        json!({"type": "string", "minLength": 1}),
        true,
    );
    if let Some(paths) = doc["paths"].as_object_mut() {
        for operation in paths.values_mut().filter_map(Value::as_object_mut) {
            for op in operation.values_mut() {
                if let Some(responses) = op["responses"].as_object_mut() {
                    for response in responses.values_mut() {
                        add_header(response, &request_id);
                    }
                }
            }
        }
    }
    for method in ["get", "post"] {
        let responses = &mut doc["paths"][SIGNATURE_PATH][method]["responses"];
        for status in ["200", "429"] {
            for (name, display, description) in [
                (
                    &RATELIMIT_LIMIT,
                    "RateLimit-Limit",
                    "Requests the caller's binding limit allows: the burst of its rate, or its \
                     quota; sent when the caller's policy has limits",
                ),
                (
                    &RATELIMIT_REMAINING,
                    "RateLimit-Remaining",
                    "Requests left now under the binding limit",
                ),
                (
                    &RATELIMIT_RESET,
                    "RateLimit-Reset",
                    "Seconds until the binding limit is full again",
                ),
            ] {
                let schema = json!({"type": "integer", "minimum": 0});
                add_header(
                    &mut responses[status],
                    &header_object(name, display, description, schema, false),
                );
            }
        }
        let always = [
            (
                "429",
                header::RETRY_AFTER,
                "Retry-After",
                "Whole seconds to wait before asking again",
                json!({"type": "integer", "minimum": 1}),
            ),
            (
                "401",
                header::WWW_AUTHENTICATE,
                "WWW-Authenticate",
                "`Bearer`, with `error=\"invalid_token\"` for a credential that was refused",
                json!({"type": "string", "pattern": "^Bearer"}),
            ),
            (
                "405",
                header::ALLOW,
                "Allow",
                "The methods this path answers: `GET, POST`",
                json!({"type": "string", "const": "GET, POST"}),
            ),
            (
                "200",
                header::CACHE_CONTROL,
                "Cache-Control",
                "A signature is for one caller: `no-store`",
                json!({"type": "string", "const": "no-store"}),
            ),
        ];
        for (status, name, display, description, schema) in always {
            add_header(
                &mut responses[status],
                &header_object(&name, display, description, schema, true),
            );
        }
    }
    // Every query field is optional, so the one parameter that holds them is too (utoipa
    // would say so only by making it nullable).
    if let Some(fields) = doc["paths"][SIGNATURE_PATH]["get"]["parameters"][0].as_object_mut() {
        fields.insert("required".to_owned(), Value::Bool(false));
    }
    // The POST body may be left out (utoipa marks it optional only as `oneOf: [null, ...]`,
    // which says a `null` body is accepted, and it is not).
    if let Some(body) = doc["paths"][SIGNATURE_PATH]["post"]["requestBody"].as_object_mut() {
        body.insert("required".to_owned(), Value::Bool(false));
    }
    // The body of POST /v1/uploads: the signature request's fields but the two contexts,
    // and metadata.
    let signature_request = doc["components"]["schemas"]["SignatureRequest"].clone();
    if let Some(upload) = doc["components"]["schemas"]["UploadRequest"].as_object_mut() {
        let mut properties = signature_request["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        properties.retain(|name, _| !["sourceContext", "sessionContext"].contains(&name.as_str()));
        if let Some(metadata) = upload
            .get("properties")
            .and_then(|p| p.get("metadata"))
            .cloned()
        {
            let mut metadata = metadata;
            metadata["type"] = json!("object");
            properties.insert("metadata".to_owned(), metadata);
        }
        upload.insert("properties".to_owned(), Value::Object(properties));
        upload.insert("additionalProperties".to_owned(), Value::Bool(false));
        upload.remove("required");
        let needs: serde_json::Map<String, Value> = NEED_PROCEDURE
            .iter()
            .map(|field| ((*field).to_owned(), json!(["procedure"])))
            .collect();
        upload.insert("dependentRequired".to_owned(), Value::Object(needs));
    }
    if let Some(body) = doc["paths"]["/v1/uploads"]["post"]["requestBody"].as_object_mut() {
        body.insert("required".to_owned(), Value::Bool(false));
    }
    // taskPriority and taskNotifyMode mean nothing without a procedure.
    if let Some(schema) = doc["components"]["schemas"]["SignatureRequest"].as_object_mut() {
        let needs: serde_json::Map<String, Value> = NEED_PROCEDURE
            .iter()
            .map(|field| ((*field).to_owned(), json!(["procedure"])))
            .collect();
        schema.insert("dependentRequired".to_owned(), Value::Object(needs));
    }
    doc
}

/// One entry of a response's `headers`: `name` as the RFCs write it (`display`, checked
/// to be the header the service writes).
fn header_object(
    name: &HeaderName,
    display: &str,
    description: &str,
    schema: Value,
    required: bool,
) -> Value {
    debug_assert_eq!(display.to_ascii_lowercase(), name.as_str());
    json!({
        display: {
            "description": description,
            "required": required,
            "schema": schema,
        }
    })
}

/// Adds `header` (one `name: object` pair) to `response`'s headers.
fn add_header(response: &mut Value, header: &Value) {
    let Some(response) = response.as_object_mut() else {
        return;
    };
    let headers = response
        .entry("headers")
        .or_insert_with(|| Value::Object(Default::default()));
    if let (Some(headers), Some(header)) = (headers.as_object_mut(), header.as_object()) {
        headers.extend(header.clone());
    }
}

/// The description as JSON, made once.
static SPEC: LazyLock<Option<String>> = LazyLock::new(|| serde_json::to_string(&describe()).ok());

pub async fn serve() -> Response {
    match SPEC.as_deref() {
        Some(json) => {
            let mut response = json.to_owned().into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        None => {
            tracing::error!("the OpenAPI description could not be serialised");
            ApiError::Internal.into_response()
        }
    }
}
