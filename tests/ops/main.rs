//! Integration tests of the production-operations features: lifecycle, reload, named
//! credentials, TLS, CORS, transport limits and the healthcheck command. Loopback only;
//! every wait is bounded.

mod cors;
mod credentials;
mod deadlines;
mod healthcheck;
mod lifecycle;
mod limits;
mod reload;
mod support;
mod tls;
