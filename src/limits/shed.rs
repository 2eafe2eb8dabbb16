//! Global load shedding: at most `max_in_flight` requests are handled at once; the next one
//! is answered at once by the caller's overload response (503, code 50301), never queued.
//!
//! A semaphore permit is taken without waiting and held until the inner service's response
//! is ready (not while the body streams: bodies here are small JSON documents).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use axum::response::Response;
use tokio::sync::Semaphore;
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
