//! The VOD API (Tencent Cloud API 3.0, version 2018-07-17) as the event relay needs it: the
//! reliable event queue (`PullEvents`, `ConfirmEvents`, `DescribeEventsState`) and the
//! account's event configuration (`DescribeEventConfig`, `ModifyEventConfig`).
//!
//! - [`tc3`]: the TC3-HMAC-SHA256 request signature, signing and verifying; pure.
//! - [`client`]: [`VodApi`], the signed async client with typed answers and errors.
//! - [`setup`]: `vodsign events setup` and `status`: what they read and change.
//!
//! Reads its settings from `[events]` and its key from a named credential; never logs or
//! shows the SecretKey.

pub mod client;
pub mod setup;
pub mod tc3;

pub use client::{
    API_VERSION, EventConfig, EventConfigChange, EventsState, MAX_HANDLES_PER_CONFIRM, PulledEvent,
    PulledEvents, VodApi, VodApiError,
};
