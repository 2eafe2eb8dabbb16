//! Rate limits (issue 4): both backends against the shared scenarios, client IP resolution
//! against the limiter, load shedding and per-caller fairness, config parsing, and the
//! limits, quotas and auth-failure damping through the router.

mod config;
mod fairness;
mod load_shedding;
mod memory_backend;
mod redis_backend;
mod scenarios;
mod via_api;
