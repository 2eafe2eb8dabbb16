//! What the service tells its operators: audit events, metrics, the request log line,
//! secrets kept out of logs, bodies and `Debug`, and the OpenAPI document.

mod audit;
mod metrics;
mod openapi;
mod redaction;
mod request_log;
mod text_logs;
