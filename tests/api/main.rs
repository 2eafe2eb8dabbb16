//! Integration tests of the HTTP API, one module per area.

mod audit;
mod errors;
mod fairness;
mod helpers;
mod issuance;
mod limits;
mod logging;
mod metrics;
mod observe;
mod openapi;
mod policies;
mod secrets;
mod server;
mod strictness;
mod tokens;
