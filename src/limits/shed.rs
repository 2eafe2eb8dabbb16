//! Global load shedding: at most `max_in_flight` requests are handled at once; the next one
//! is answered at once by the caller's overload response (503, code 50301), never queued.
//!
//! A semaphore permit is taken without waiting and held until the inner service's response
//! is ready (not while the body streams: bodies here are small JSON documents). As a layer
//! it guards a whole service; [`LoadShedLayer::try_enter`] guards one stretch of a handler
//! (the signature endpoint holds it for its backend calls, not while a body uploads).
//!
//! [`PerCaller`] is the same idea per caller: at most `max_in_flight_per_principal`
//! requests of one caller at once, so one caller cannot take every shared slot.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::response::Response;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::{Layer, Service};

/// The layer; clone it freely, clones share one budget. Also the handle for metrics.
#[derive(Clone)]
pub struct LoadShedLayer<F> {
    budget: Arc<Budget>,
    overloaded: F,
}

struct Budget {
    permits: Arc<Semaphore>,
    max: usize,
    shed: AtomicU64,
}

impl<F> LoadShedLayer<F>
where
    F: Fn() -> Response + Clone,
{
    /// `max_in_flight` requests at once (at least 1); `overloaded` builds the refusal.
    pub fn new(max_in_flight: usize, overloaded: F) -> Self {
        let max = max_in_flight.clamp(1, Semaphore::MAX_PERMITS);
        LoadShedLayer {
            budget: Arc::new(Budget {
                permits: Arc::new(Semaphore::new(max)),
                max,
                shed: AtomicU64::new(0),
            }),
            overloaded,
        }
    }
}

impl<F> LoadShedLayer<F> {
    /// Requests being handled now.
    pub fn in_flight(&self) -> usize {
        self.budget.max - self.budget.permits.available_permits()
    }

    /// Requests refused since start.
    pub fn shed_total(&self) -> u64 {
        self.budget.shed.load(Ordering::Relaxed)
    }

    /// One slot of the budget, held until the permit is dropped; `None` (counted as shed)
    /// when every slot is taken. Never waits.
    pub fn try_enter(&self) -> Option<OwnedSemaphorePermit> {
        let permit = self.budget.permits.clone().try_acquire_owned().ok();
        if permit.is_none() {
            self.budget.shed.fetch_add(1, Ordering::Relaxed);
        }
        permit
    }
}

/// Requests in progress, by caller.
type Counts = Arc<Mutex<HashMap<String, usize>>>;

/// Requests in progress per caller, at most `max` each (`0`: no limit). Clones share the
/// counts; a caller's entry is removed when its last request ends, so the map holds only
/// callers with a request in progress.
#[derive(Clone, Debug)]
pub struct PerCaller {
    max: usize,
    counts: Counts,
}

impl PerCaller {
    pub fn new(max: usize) -> Self {
        Self {
            max,
            counts: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// A slot for `caller`, released when the returned permit is dropped; `None` when the
    /// caller already has `max` requests in progress. Never waits.
    pub fn try_enter(&self, caller: String) -> Option<CallerPermit> {
        if self.max == 0 {
            return Some(CallerPermit { slot: None });
        }
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let count = counts.entry(caller.clone()).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(CallerPermit {
            slot: Some((self.counts.clone(), caller)),
        })
    }

    /// Requests of `caller` in progress now.
    pub fn in_flight(&self, caller: &str) -> usize {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.get(caller).copied().unwrap_or(0)
    }
}

/// One request's slot in [`PerCaller`]; dropping it frees the slot.
#[derive(Debug)]
pub struct CallerPermit {
    slot: Option<(Counts, String)>,
}

impl Drop for CallerPermit {
    fn drop(&mut self) {
        let Some((counts, caller)) = self.slot.take() else {
            return;
        };
        let mut counts = counts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = counts.get_mut(&caller) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&caller);
            }
        }
    }
}

impl<S, F: Clone> Layer<S> for LoadShedLayer<F> {
    type Service = LoadShed<S, F>;

    fn layer(&self, inner: S) -> Self::Service {
        LoadShed {
            inner,
            budget: self.budget.clone(),
            overloaded: self.overloaded.clone(),
        }
    }
}

/// The service [`LoadShedLayer`] wraps around the inner one.
#[derive(Clone)]
pub struct LoadShed<S, F> {
    inner: S,
    budget: Arc<Budget>,
    overloaded: F,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, F, Req> Service<Req> for LoadShed<S, F>
where
    S: Service<Req, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    F: Fn() -> Response,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let Ok(permit) = self.budget.permits.clone().try_acquire_owned() else {
            self.budget.shed.fetch_add(1, Ordering::Relaxed);
            let refusal = (self.overloaded)();
            return Box::pin(async move { Ok(refusal) });
        };
        let response = self.inner.call(req);
        Box::pin(async move {
            let response = response.await;
            drop(permit);
            response
        })
    }
}
