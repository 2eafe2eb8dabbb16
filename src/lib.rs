//! vodsign: issues Tencent Cloud VOD upload signatures to authenticated app users.

pub mod auth;
pub mod config;
pub mod policy;
pub mod signature;
