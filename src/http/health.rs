//! `/healthz` (the process is alive) and `/readyz` (this instance can serve now, with the
//! health of its optional dependencies). The admin listener answers both the same way.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;

use super::error::{APPLICATION_JSON, ApiError, Envelope};
use crate::app::AppState;

/// A liveness answer: `code` 0 and `alive`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    #[schema(minimum = 0, maximum = 0)]
    code: u32,
    #[schema(example = "alive")]
    message: &'static str,
}

/// A readiness answer: `code` 0, `ready`, and how the optional dependencies are doing.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Ready {
    #[schema(minimum = 0, maximum = 0)]
    code: u32,
    #[schema(example = "ready")]
    message: &'static str,
    data: Dependencies,
}

/// The optional dependencies of this instance. None of them makes it unready: each is
/// shared by every replica, and API keys work without them.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Dependencies {
    /// By name (`redis`, `jwks:NAME`, `introspection:NAME`; empty with no remote
    /// dependency): `up` (its last call succeeded, or none was made yet) or `down: ` and what
    /// is wrong.
    #[schema(example = json!({"redis": "up", "introspection:corp": "down: last call timed out (3 s ago)"}))]
    #[schema(value_type = BTreeMap<String, String>)]
    dependencies: BTreeMap<String, String>,
}

/// The process is up (liveness).
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    operation_id = "live",
    responses(
        (status = 200, description = "The process is alive", body = Health),
        (status = 503, description = "Overloaded or stuck (50301)", body = Envelope),
    )
)]
pub async fn live() -> impl IntoResponse {
    // A constant, so written once: probes and load balancers call this many times a
    // second. A test checks it is what `Health` serialises to.
    ([(header::CONTENT_TYPE, APPLICATION_JSON)], LIVE_BODY)
}

/// The body of every `/healthz` answer.
const LIVE_BODY: &str = r#"{"code":0,"message":"alive"}"#;

/// This instance can serve now (readiness): 503 only while draining or when no credential
/// can pass here at all. A dependency that is down is reported in `data.dependencies`.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    operation_id = "ready",
    responses(
        (status = 200, description = "Ready for traffic; the dependencies' health in data", body = Ready),
        (status = 503, description = "Not ready: the message says why (50301)", body = Envelope),
    )
)]
pub async fn ready(State(state): State<AppState>) -> Result<Json<Ready>, ApiError> {
    let problems = state.readiness();
    if !problems.is_empty() {
        return Err(ApiError::Unavailable(format!(
            "not ready: {}",
            problems.join("; ")
        )));
    }
    let dependencies = state
        .dependencies()
        .into_iter()
        .map(|(name, problem)| {
            let status = problem.map_or_else(|| "up".to_owned(), |why| format!("down: {why}"));
            (name, status)
        })
        .collect();
    Ok(Json(Ready {
        code: 0,
        message: "ready",
        data: Dependencies { dependencies },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_liveness_body_is_the_health_schema_serialised() {
        let expected = serde_json::to_string(&Health {
            code: 0,
            message: "alive",
        })
        .expect("serialises");
        assert_eq!(LIVE_BODY, expected);
    }
}
