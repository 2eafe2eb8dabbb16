//! The transport: connection deadlines and the per-address cap, the head-size and
//! connection limits, TLS, CORS, and serving on a real loopback socket. These are limits on
//! connections, not rate limits (those are in `rate_limits/`). Loopback only; every wait is
//! bounded.

mod connection_deadlines;
mod connection_limits;
mod cors;
mod serving;
mod tls;
