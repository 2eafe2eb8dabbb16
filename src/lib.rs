//! vodsign: issues Tencent Cloud VOD upload signatures to authenticated app users.

pub mod auth;
pub mod limits;
