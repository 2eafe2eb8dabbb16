//! `/healthz` (the process is alive) and `/readyz` (it can sign now).

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use super::error::{ApiError, Envelope};
use crate::app::AppState;

/// A health answer: `code` 0 and `alive` or `ready`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    #[schema(minimum = 0, maximum = 0)]
    code: u32,
    #[schema(example = "ready")]
    message: &'static str,
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
pub async fn live() -> Json<Health> {
    Json(Health {
        code: 0,
        message: "alive",
    })
}

/// The service can issue signatures now (readiness); 503 while starting or draining.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    operation_id = "ready",
    responses(
        (status = 200, description = "Ready for traffic", body = Health),
        (status = 503, description = "Not ready: the message says why (50301)", body = Envelope),
    )
)]
pub async fn ready(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    let problems = state.readiness();
    if problems.is_empty() {
        Ok(Json(Health {
            code: 0,
            message: "ready",
        }))
    } else {
        Err(ApiError::Unavailable(format!(
            "not ready: {}",
            problems.join("; ")
        )))
    }
}
