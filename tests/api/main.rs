//! Integration tests of the HTTP API, one module per area.

mod errors;
mod helpers;
mod issuance;
mod limits;
mod policies;
mod secrets;
mod server;
mod tokens;
