//! The running service's state, built from validated settings.
//!
//! [`App::build`] is where [`Settings`], checked when loaded, become runtime values
//! (policies, API keys, the signing keys); what only those can check (policy templates,
//! API keys naming policies, token verifier keys) is refused here, naming the key. A
//! reload ([`crate::reload`]) builds a whole new [`App`] with [`App::rebuild`] and swaps it
//! in; the parts that must outlive a reload sit in [`LongLived`], which the new `App` shares.

mod relay;
mod tickets;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use rand::RngCore as _;

use crate::audit::AuditSink;
use crate::auth::Authenticator;
use crate::auth::api_key::ApiKeys;
use crate::auth::{KeyRefreshTask, TokenVerifier};
use crate::config::{ConfigError, PolicyLimits, Settings};
use crate::credentials::{Credentials, SigningKey};
use crate::limits::{self, Decision, LimitError, Limiter};
use crate::metrics::Metrics;
use crate::policy::Policy;
use crate::principal::Principal;
use crate::uploads::ContextKeys;
pub use relay::{Relay, RelayParts};
pub use tickets::{StoreHandle, Tickets, Upkeep};

/// Draws `random` from the thread-local CSPRNG and never hands out the same value twice in
/// a row (VOD rejects a repeated `random` of a one-time signature).
#[derive(Debug, Default)]
pub struct RandomSource {
    last: AtomicU32,
}

impl RandomSource {
    pub fn next(&self) -> u32 {
        self.next_from(|| rand::rng().next_u32())
    }

    fn next_from(&self, mut draw: impl FnMut() -> u32) -> u32 {
        loop {
            let value = draw();
            if self.last.swap(value, Ordering::Relaxed) != value {
                return value;
            }
        }
    }
}

/// Lifecycle facts that outlive a reload (held in [`LongLived`]), driven by the signals of
/// [`crate::lifecycle`] and by the reloader.
#[derive(Debug, Default)]
pub struct Lifecycle {
    draining: AtomicBool,
    /// Reload outcomes, for the metrics exporter.
    pub reloads: ReloadCounters,
}

impl Lifecycle {
    /// From now on readiness answers 503. Never undone: the process is going away.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }
}

/// How many reloads were applied and how many were refused since start.
#[derive(Debug, Default)]
pub struct ReloadCounters {
    succeeded: AtomicU64,
    failed: AtomicU64,
}

impl ReloadCounters {
    pub fn succeeded(&self) -> u64 {
        self.succeeded.load(Ordering::Relaxed)
    }

    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    pub(crate) fn record(&self, applied: bool) {
        let counter = if applied {
            &self.succeeded
        } else {
            &self.failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// The parts of the state that live as long as the process: a reload shares them with the
/// new [`App`] instead of recreating them (the metrics belong here too).
#[derive(Debug)]
pub struct LongLived {
    /// Draining flag and reload counters.
    pub lifecycle: Lifecycle,
    /// Kept across reloads so `random` never repeats back to back.
    pub random: RandomSource,
    /// Its buckets, quotas and backend connection survive reloads; `[limits]` itself is
    /// read at start-up only (a reload checks it and warns when it changed).
    pub limiter: Limiter,
    /// The Prometheus registry: counters keep counting across reloads.
    pub metrics: Metrics,
    /// The upload store when `[uploads] enabled` at start-up; `[store]` and
    /// `uploads.enabled` are read at start-up only (a reload warns when they changed).
    pub store: Option<Arc<StoreHandle>>,
    /// The event relay's VOD client and endpoints when `[events] enabled` at start-up;
    /// `[events]` and `[webhooks]` are read at start-up only (a reload warns when they
    /// changed).
    pub relay: Option<RelayParts>,
}

/// Everything a request needs, shared by all requests. Immutable: a reload builds a new one.
#[derive(Debug)]
pub struct App {
    pub settings: Settings,
    credentials: Credentials,
    /// Policy name -> name of the credential it signs with (checked to exist).
    policy_credentials: HashMap<String, String, foldhash::quality::RandomState>,
    policies: HashMap<String, Policy, foldhash::quality::RandomState>,
    authenticator: Authenticator,
    /// `[policies.NAME.limits]` by policy name; a policy without one is not limited.
    policy_limits: HashMap<String, PolicyLimits, foldhash::quality::RandomState>,
    long_lived: Arc<LongLived>,
    /// Refreshes this configuration's `jwks_url` key sets; stops when this `App` is
    /// dropped, so a reload's replaced configuration stops refreshing by itself.
    _key_refresh: KeyRefreshTask,
    /// Where audit events go; reopened from `[audit]` on every reload.
    audit: AuditSink,
    /// The ticket endpoints' store and context keys, when uploads are on.
    tickets: Option<Tickets>,
}

/// Cheap to clone: the router's state.
#[derive(Debug, Clone)]
pub struct AppState(Arc<App>);

impl std::ops::Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}

impl App {
    /// Validates `settings` ([`Settings::validate`] and what needs the runtime objects) and
    /// builds the state. The error names the offending key.
    /// `credentials` is a [`Credentials`] set, or one [`crate::credentials::VodCredentials`] pair (then named
    /// `default`).
    ///
    /// With `[uploads] enabled`, the store `[store]` names is opened (no connection yet:
    /// [`App::migrate_store`] makes the first) and the context keys are read from the
    /// environment (`uploads.context_key_env`); a missing key is refused naming it.
    pub async fn build(
        settings: Settings,
        credentials: impl Into<Credentials>,
    ) -> Result<Self, ConfigError> {
        Self::build_inner(settings, credentials.into(), None).await
    }

    /// [`App::build`] with the context keys given instead of read from the environment
    /// (tests and embedders; a reload reads them from the environment).
    pub async fn build_with_context_keys(
        settings: Settings,
        credentials: impl Into<Credentials>,
        keys: ContextKeys,
    ) -> Result<Self, ConfigError> {
        Self::build_inner(settings, credentials.into(), Some(keys)).await
    }

    async fn build_inner(
        settings: Settings,
        credentials: Credentials,
        keys: Option<ContextKeys>,
    ) -> Result<Self, ConfigError> {
        settings.validate()?;
        let limiter = Limiter::from_config(&settings.limits).await?;
        let store = if settings.uploads.enabled {
            Some(Arc::new(StoreHandle::open(&settings)?))
        } else {
            None
        };
        let relay = RelayParts::from_settings(&settings, &|var| std::env::var(var).ok())?;
        let long_lived = Arc::new(LongLived {
            lifecycle: Lifecycle::default(),
            random: RandomSource::default(),
            limiter,
            metrics: Metrics::new(),
            store,
            relay,
        });
        Self::build_with(settings, credentials, long_lived, keys).await
    }

    /// Builds the successor of `self` for a reload: everything from the new settings and
    /// credentials, sharing `self`'s [`LongLived`] parts.
    pub async fn rebuild(
        &self,
        settings: Settings,
        credentials: Credentials,
    ) -> Result<Self, ConfigError> {
        Self::build_with(settings, credentials, self.long_lived.clone(), None).await
    }

    async fn build_with(
        settings: Settings,
        credentials: Credentials,
        long_lived: Arc<LongLived>,
        keys: Option<ContextKeys>,
    ) -> Result<Self, ConfigError> {
        // Settings built in code have not been through `Settings::load`.
        settings.validate()?;
        let mut policies = HashMap::default();
        for (name, policy) in &settings.policies {
            policies.insert(name.clone(), Policy::from_settings(name, policy)?);
        }
        let policy_credentials = crate::credentials::assign(&settings, &credentials)?
            .into_iter()
            .collect();
        let names: BTreeSet<String> = policies.keys().cloned().collect();
        // The authentication part, rebuilt from settings on every reload: API keys now;
        // token verifiers (JWKS files re-read here) join them in the same place.
        let api_keys = ApiKeys::from_settings(&settings.api_keys, &names)?;
        let tokens = TokenVerifier::from_config(&settings.auth, &names).await?;
        let authenticator = Authenticator::new(api_keys, tokens);
        let mut policy_limits = HashMap::default();
        for (name, policy) in &settings.policies {
            match &policy.limits {
                Some(l) => {
                    policy_limits.insert(name.clone(), l.clone());
                }
                None => tracing::warn!(
                    policy = %name,
                    "policy has no [policies.{name}.limits]: its callers are not rate-limited"
                ),
            }
        }
        let audit = AuditSink::from_settings(&settings.audit)?;
        let tickets = match &long_lived.store {
            Some(store) => Some(Tickets {
                keys: match keys {
                    Some(keys) => keys,
                    None => store.context_keys(&settings)?,
                },
                store: store.clone(),
            }),
            None => None,
        };
        let key_refresh = authenticator.spawn_key_refresh();
        Ok(Self {
            credentials,
            policy_credentials,
            settings,
            policies,
            authenticator,
            policy_limits,
            long_lived,
            _key_refresh: key_refresh,
            audit,
            tickets,
        })
    }

    pub fn into_state(self) -> AppState {
        AppState(Arc::new(self))
    }

    /// The key that signs for policy `policy` (present for every configured policy).
    pub fn signing_key(&self, policy: &str) -> Option<&SigningKey> {
        let name = self.policy_credentials.get(policy)?;
        self.credentials.get(name)
    }

    /// The upload tickets' store and keys; `None` when `[uploads]` is off.
    pub fn tickets(&self) -> Option<&Tickets> {
        self.tickets.as_ref()
    }

    /// Brings the upload store's schema up to date, when uploads are on: at start-up,
    /// before serving. Bounded; the error names `store.url`, never its text.
    pub async fn migrate_store(&self) -> Result<(), ConfigError> {
        match &self.long_lived.store {
            Some(store) => store.migrate().await,
            None => Ok(()),
        }
    }

    /// Starts the event relay (pull loop, delivery worker, backlog sampler) when `[events]`
    /// was on at start-up. `keys` reads the context keys of the live configuration.
    pub fn spawn_relay(&self, keys: crate::events::KeySource) -> Option<Relay> {
        let parts = self.long_lived.relay.as_ref()?;
        let store = self.long_lived.store.as_ref()?;
        Some(Relay::spawn(
            parts,
            store.store(),
            &self.settings,
            self.metrics().clone(),
            keys,
        ))
    }

    /// Starts the store's sweeper, the event outbox's purge and the health probe, when
    /// uploads are on.
    pub fn spawn_store_upkeep(&self) -> Option<Upkeep> {
        let store = self.long_lived.store.clone()?;
        Some(Upkeep::spawn(
            store,
            self.settings.uploads.retention_days,
            crate::events::Retention::from_settings(&self.settings.webhooks),
            unix_now,
        ))
    }

    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// True when any credential is the development placeholder.
    pub fn uses_placeholder_credentials(&self) -> bool {
        self.credentials.iter().any(SigningKey::is_placeholder)
    }

    /// The parts shared across reloads.
    pub fn long_lived(&self) -> &Arc<LongLived> {
        &self.long_lived
    }

    pub fn policy(&self, name: &str) -> Option<&Policy> {
        self.policies.get(name)
    }

    pub fn authenticator(&self) -> &Authenticator {
        &self.authenticator
    }

    /// The Prometheus registry, shared by every configuration of this process.
    pub fn metrics(&self) -> &Metrics {
        &self.long_lived.metrics
    }

    pub fn audit(&self) -> &AuditSink {
        &self.audit
    }

    pub fn limiter(&self) -> &Limiter {
        &self.long_lived.limiter
    }

    /// Spends one signature of the caller's rate and quota: call right after authentication.
    /// `Ok(None)` when the caller's policy has no limits.
    pub async fn check_limits(
        &self,
        principal: &Principal,
    ) -> Result<Option<Decision>, LimitError> {
        let Some(policy_limits) = self.policy_limits.get(&principal.policy) else {
            return Ok(None);
        };
        let key = limits::principal_key(principal);
        self.limiter()
            .check_principal(&key, policy_limits)
            .await
            .map(Some)
    }

    /// Spends one unit of the caller's rate and none of its quota (re-signing an upload,
    /// reading uploads). `Ok(None)` when the caller's policy has no limits.
    pub async fn check_rate(&self, principal: &Principal) -> Result<Option<Decision>, LimitError> {
        let Some(policy_limits) = self.policy_limits.get(&principal.policy) else {
            return Ok(None);
        };
        let key = limits::principal_key(principal);
        self.limiter()
            .check_principal(&key, &policy_limits.without_quota())
            .await
            .map(Some)
    }

    /// Copies what other components count themselves (JWKS age, rate-limit backend
    /// errors and repairs, dependency health) into the registry; called on a timer, so a scrape is never older
    /// than that.
    pub fn sample_metrics(&self) {
        let metrics = self.metrics();
        for (provider, age) in self.authenticator.jwks_ages() {
            metrics.jwks_age(&provider, age);
        }
        let backend = self.settings.limits.backend_name();
        let stats = self.limiter().stats();
        metrics.rate_limit_backend_errors(backend, stats.backend_errors);
        metrics.rate_limit_repairs(backend, stats.repairs);
        for (dependency, problem) in self.dependencies() {
            metrics.dependency_up(&dependency, problem.is_none());
        }
    }

    pub fn next_random(&self) -> u32 {
        self.long_lived.random.next()
    }

    /// Marks the service as going away: readiness answers 503 from now on.
    pub fn start_draining(&self) {
        self.long_lived.lifecycle.start_draining();
    }

    /// Why this instance should get no traffic now (empty = ready): only what makes every
    /// request it would get fail here, namely draining, or no credential able to pass (no
    /// API key and no token provider holding keys). An optional dependency that is down
    /// (the Redis of the limiter, an identity provider) is reported by [`App::dependencies`]
    /// instead: every replica shares it, and API keys keep working without it.
    pub fn readiness(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Some(why) = self.authenticator.unusable() {
            problems.push(why.to_owned());
        }
        if self.long_lived.lifecycle.is_draining() {
            problems.push("shutting down".to_owned());
        }
        problems
    }

    /// Every remote dependency of this configuration and its health: `redis` (the Redis
    /// rate-limit backend), `store` (the upload store, when uploads are on), `vod_events`
    /// (the VOD API's event queue, when the relay runs), `jwks:NAME`,
    /// `introspection:NAME`; `None` when up (or not called yet), else what is wrong, in
    /// words that name no host and no secret. The store is reported, never a reason to be
    /// unready: `/v1/signature` signs without it.
    pub fn dependencies(&self) -> Vec<(String, Option<String>)> {
        let limiter = self.limiter();
        let redis = limiter
            .dependency_name()
            .map(|name| (name.to_owned(), limiter.backend_problem()));
        let store = self
            .long_lived
            .store
            .as_ref()
            .map(|store| ("store".to_owned(), store.problem()));
        let vod_events = self
            .long_lived
            .relay
            .as_ref()
            .map(|relay| ("vod_events".to_owned(), relay.health.problem()));
        redis
            .into_iter()
            .chain(store)
            .chain(vod_events)
            .chain(self.authenticator.dependencies())
            .collect()
    }
}

/// Unix seconds from the system clock.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_never_repeats_back_to_back() {
        let source = RandomSource::default();
        let mut draws = [7, 7, 7, 9, 9, 7].into_iter();
        let mut draw = || draws.next().expect("enough draws");
        assert_eq!(source.next_from(&mut draw), 7);
        assert_eq!(
            source.next_from(&mut draw),
            9,
            "the two repeats of 7 are redrawn"
        );
        assert_eq!(source.next_from(&mut draw), 7, "the repeat of 9 is redrawn");
        assert_ne!(source.next(), source.next());
    }

    #[test]
    fn counters_count_each_outcome() {
        let counters = ReloadCounters::default();
        counters.record(true);
        counters.record(false);
        counters.record(true);
        assert_eq!((counters.succeeded(), counters.failed()), (2, 1));
    }

    #[test]
    fn draining_is_sticky() {
        let lifecycle = Lifecycle::default();
        assert!(!lifecycle.is_draining());
        lifecycle.start_draining();
        assert!(lifecycle.is_draining());
    }
}
