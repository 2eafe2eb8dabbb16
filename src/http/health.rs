//! `/healthz` (the process is alive) and `/readyz` (it can sign now).

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::error::ApiError;
use crate::app::AppState;

pub async fn live() -> Json<Value> {
    Json(json!({"code": 0, "message": "alive"}))
}

pub async fn ready(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let problems = state.readiness();
    if problems.is_empty() {
        Ok(Json(json!({"code": 0, "message": "ready"})))
    } else {
        Err(ApiError::Unavailable(format!(
            "not ready: {}",
            problems.join("; ")
        )))
    }
}
