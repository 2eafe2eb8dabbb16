//! `GET /openapi.json`: the OpenAPI 3.1 description of the public API, generated from the
//! handlers' `#[utoipa::path]` annotations and the request/response types, so it follows
//! the code instead of drifting from it.

use std::sync::LazyLock;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::error::ApiError;
use super::{health, signature};

/// The public API's description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "vodsign",
        description = "Issues Tencent Cloud VOD upload signatures to authenticated app users. \
                       Every refusal is an ErrorEnvelope whose numeric code says what was wrong.",
        license(name = "MIT OR Apache-2.0", identifier = "MIT OR Apache-2.0"),
    ),
    paths(
        signature::issue_by_query,
        signature::issue_by_body,
        health::live,
        health::ready
    ),
    // The signature operations' responses come from `IntoResponses`, whose body types
    // utoipa does not collect by itself.
    components(schemas(signature::Success<signature::Issued>, super::error::Envelope)),
    modifiers(&BearerAuth),
    tags(
        (name = "signature", description = "Upload signatures"),
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

/// The description as JSON, made once.
static SPEC: LazyLock<Option<String>> = LazyLock::new(|| ApiDoc::openapi().to_json().ok());

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
