//! Limiter builders: the memory backend's defaults, and the Redis backend against a
//! [`RedisServer`] with short timeouts.

use vodsign::Limiter;
use vodsign::config::{BackendKind, LimitsSettings, OnBackendError};

use super::redis::RedisServer;

pub fn memory_config() -> LimitsSettings {
    LimitsSettings::default()
}

pub fn redis_config(server: &RedisServer, on_error: OnBackendError) -> LimitsSettings {
    LimitsSettings {
        backend: BackendKind::Redis,
        redis_url: Some(server.url().into()),
        key_prefix: "vodsign-test:".to_owned(),
        call_timeout_ms: 200,
        health_interval_ms: 100,
        on_backend_error: on_error,
        ..LimitsSettings::default()
    }
}

pub async fn limiter(cfg: &LimitsSettings) -> Limiter {
    Limiter::from_config(cfg).await.expect("valid test config")
}
