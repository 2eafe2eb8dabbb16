//! Load shedding: at most `max_in_flight` requests hold a shared slot at once; the next one
//! is refused at once (the caller answers 503, code 50301), never queued.
//!
//! [`ShedBudget`] is a semaphore taken without waiting, for one stretch of a request: the
//! signature route holds a slot while the auth-check and the limits call their backends,
//! and gives it back before it waits for a body, so a client that uploads slowly holds no
//! shared slot. tower's `load_shed` + `concurrency_limit` hold their permit until the
//! inner service answers, body wait included, so they cannot express that stretch.
//!
//! [`PerCaller`] is the same idea per caller: at most `max_in_flight_per_principal`
//! requests of one caller at once, so one caller cannot take every shared slot.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The shared slots; clone it freely, clones share one budget. Also the handle for metrics.
#[derive(Clone, Debug)]
pub struct ShedBudget {
    inner: Arc<Budget>,
}

#[derive(Debug)]
struct Budget {
    permits: Arc<Semaphore>,
    max: usize,
    shed: AtomicU64,
}

impl ShedBudget {
    /// `max_in_flight` slots (at least 1).
    pub fn new(max_in_flight: usize) -> Self {
        let max = max_in_flight.clamp(1, Semaphore::MAX_PERMITS);
        ShedBudget {
            inner: Arc::new(Budget {
                permits: Arc::new(Semaphore::new(max)),
                max,
                shed: AtomicU64::new(0),
            }),
        }
    }

    /// Slots held now.
    pub fn in_flight(&self) -> usize {
        self.inner.max - self.inner.permits.available_permits()
    }

    /// Requests refused since start.
    pub fn shed_total(&self) -> u64 {
        self.inner.shed.load(Ordering::Relaxed)
    }

    /// One slot of the budget, held until the permit is dropped; `None` (counted as shed)
    /// when every slot is taken. Never waits.
    pub fn try_enter(&self) -> Option<OwnedSemaphorePermit> {
        let permit = self.inner.permits.clone().try_acquire_owned().ok();
        if permit.is_none() {
            self.inner.shed.fetch_add(1, Ordering::Relaxed);
        }
        permit
    }
}

/// Requests in progress, by caller.
type Counts = Arc<Mutex<HashMap<String, usize, foldhash::quality::RandomState>>>;

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
            counts: Arc::new(Mutex::new(HashMap::default())),
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
