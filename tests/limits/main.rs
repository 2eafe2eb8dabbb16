//! Integration tests of the limits module (issue 4): both backends, client IP resolution
//! against the limiter, load shedding, and config parsing.

mod config;
mod memory;
mod redis;
mod scenarios;
mod shed;
mod support;
