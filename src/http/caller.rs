//! [`Caller`]: the proof that a protected request passed load shedding, the auth-check and
//! the caller's limits. A handler that takes one cannot run for an unauthenticated request.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::auth::require_principal;
use super::client_ip;
use super::error::ApiError;
use super::exchange::ProvenCaller;
use crate::app::AppState;
use crate::limits::{CallerPermit, Decision, principal_key};
use crate::principal::Principal;

/// An authenticated caller whose rate and quota this request has spent, holding one of the
/// caller's own slots for as long as it lives.
#[derive(Debug)]
pub struct Caller {
    /// Who is calling, as the auth-check proved it.
    pub principal: Principal,
    /// The caller's rate and quota after this request, for the RateLimit headers; `None`
    /// when the caller's policy has no limits.
    pub limits: Option<Decision>,
    /// One of `max_in_flight_per_principal` slots, given back when the caller is dropped.
    _slot: CallerPermit,
}

/// In order, each step refusing on its own:
///
/// 1. a shared load-shedding slot (`max_in_flight`, else 503, 50301), held while the
///    auth-check and the limits call their backends;
/// 2. the auth-check ([`require_principal`]): a [`Principal`], or 401/403/429/503; the
///    exchange's audit ([`ProvenCaller`]) learns the caller here;
/// 3. one unit of the caller's rate and quota, spent as the request arrives, whether or not
///    it completes (429, 42901/42902);
/// 4. a slot of the caller's own (`max_in_flight_per_principal`, else 429, 42903); the
///    shared slot is given back here, before anything waits on the client (a body).
impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        prove(parts, state, Spend::RateAndQuota).await
    }
}

/// A [`Caller`] whose request spent one unit of its rate and none of its quota: re-signing
/// an upload (its quota unit was spent when it was made) and reading uploads.
#[derive(Debug)]
pub struct RateCaller(pub Caller);

impl FromRequestParts<AppState> for RateCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        prove(parts, state, Spend::RateOnly).await.map(RateCaller)
    }
}

/// What step 3 spends.
#[derive(Clone, Copy)]
enum Spend {
    RateAndQuota,
    RateOnly,
}

async fn prove(parts: &mut Parts, state: &AppState, spend: Spend) -> Result<Caller, ApiError> {
    let limiter = state.limiter();
    let Some(shared) = limiter.shed().try_enter() else {
        state.metrics().load_shed();
        return Err(ApiError::Unavailable(
            "the service is overloaded".to_owned(),
        ));
    };
    let client = client_ip::of(&parts.extensions);
    let principal = require_principal(state, &parts.headers, client).await?;
    if let Some(exchange) = parts.extensions.get::<ProvenCaller>() {
        exchange.prove(&principal);
    }
    let limits = match spend {
        Spend::RateAndQuota => state.check_limits(&principal).await?,
        Spend::RateOnly => state.check_rate(&principal).await?,
    };
    let slot = limiter
        .per_caller()
        .try_enter(principal_key(&principal))
        .ok_or(ApiError::TooManyInFlight)?;
    drop(shared);
    Ok(Caller {
        principal,
        limits,
        _slot: slot,
    })
}
