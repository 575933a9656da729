//! A circuit breaker per endpoint, shared by every task of one Python worker.
//!
//! When an endpoint is down, every task retrying it on its own multiplies the load and
//! the wait. After `failure_threshold` consecutive transient failures the breaker opens and
//! calls fail fast; after `cool_down` one probe is let through: success closes it, failure
//! opens it again. Only transient failures count: a permanent, config, auth or data error
//! means the endpoint answered, so it is reachable. Rate limiting is paced by the retry
//! policy's `retry_after` instead, and does not count either.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::clock::{Clock, SystemClock};
use crate::error::{Error, ErrorKind, Result};

/// When a breaker opens and how long it stays open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive transient failures that open the breaker.
    pub failure_threshold: u32,
    /// How long the breaker stays open before letting one probe through.
    pub cool_down: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 5,
            cool_down: Duration::from_secs(30),
        }
    }
}

/// Where a breaker stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls pass; failures are being counted.
    Closed,
    /// Calls fail fast until the instant given.
    Open { until: Instant },
    /// One probe call is (or may be) in flight; its outcome decides.
    HalfOpen,
}

#[derive(Debug)]
struct Inner {
    state: BreakerState,
    consecutive_failures: u32,
    /// When the half-open probe was let through; a probe whose future was dropped never
    /// reports back, so after another cool-down a new probe is allowed.
    probe_started: Option<Instant>,
}

/// A circuit breaker for one endpoint.
pub struct CircuitBreaker {
    endpoint: String,
    config: BreakerConfig,
    clock: Arc<dyn Clock>,
    inner: Mutex<Inner>,
    trips: AtomicU64,
}

impl std::fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("endpoint", &self.endpoint)
            .field("state", &self.state())
            .field("trips", &self.trips())
            .finish()
    }
}

impl CircuitBreaker {
    pub fn new(endpoint: impl Into<String>, config: BreakerConfig) -> Self {
        CircuitBreaker::with_clock(endpoint, config, Arc::new(SystemClock))
    }

    /// A breaker reading time from `clock` (tests use [`crate::clock::ManualClock`]).
    pub fn with_clock(
        endpoint: impl Into<String>,
        config: BreakerConfig,
        clock: Arc<dyn Clock>,
    ) -> Self {
        CircuitBreaker {
            endpoint: endpoint.into(),
            config,
            clock,
            inner: Mutex::new(Inner {
                state: BreakerState::Closed,
                consecutive_failures: 0,
                probe_started: None,
            }),
            trips: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn state(&self) -> BreakerState {
        self.lock().state
    }

    /// How many times this breaker has opened.
    pub fn trips(&self) -> u64 {
        self.trips.load(Ordering::Relaxed)
    }

    /// Asks to make a call. `Ok` lets it through (as the probe when half-open); while open
    /// it is a transient error naming the endpoint and when the breaker will try again.
    pub fn check(&self, system: &'static str, operation: &str) -> Result<()> {
        let now = self.clock.now();
        let mut inner = self.lock();
        match inner.state {
            BreakerState::Closed => Ok(()),
            BreakerState::Open { until } if now >= until => {
                inner.state = BreakerState::HalfOpen;
                inner.probe_started = Some(now);
                Ok(())
            }
            BreakerState::Open { until } => Err(Error::transient(
                system,
                operation,
                format!(
                    "circuit breaker for {} is open after {} consecutive failures; \
                     it retries in {:.1} s",
                    self.endpoint,
                    inner.consecutive_failures,
                    (until - now).as_secs_f64()
                ),
            )),
            BreakerState::HalfOpen => {
                let stale = inner
                    .probe_started
                    .is_none_or(|started| now.duration_since(started) >= self.config.cool_down);
                if stale {
                    inner.probe_started = Some(now);
                    Ok(())
                } else {
                    Err(Error::transient(
                        system,
                        operation,
                        format!(
                            "circuit breaker for {} is half-open and a probe call is in flight",
                            self.endpoint
                        ),
                    ))
                }
            }
        }
    }

    /// Reports a successful call: the breaker closes and the failure count resets.
    pub fn record_success(&self) {
        let mut inner = self.lock();
        inner.state = BreakerState::Closed;
        inner.consecutive_failures = 0;
        inner.probe_started = None;
    }

    /// Reports a failed call; returns whether this failure opened the breaker.
    /// Errors other than transient ones count as "the endpoint answered" (a success).
    pub fn record_failure(&self, error: &Error) -> bool {
        if error.kind() != ErrorKind::Transient {
            if !matches!(error.kind(), ErrorKind::RateLimited { .. }) {
                self.record_success();
            }
            return false;
        }
        let now = self.clock.now();
        let mut inner = self.lock();
        inner.consecutive_failures = inner.consecutive_failures.saturating_add(1);
        let trip = match inner.state {
            BreakerState::HalfOpen => true,
            BreakerState::Closed => inner.consecutive_failures >= self.config.failure_threshold,
            BreakerState::Open { .. } => false,
        };
        if trip {
            inner.state = BreakerState::Open {
                until: now + self.config.cool_down,
            };
            inner.probe_started = None;
            self.trips.fetch_add(1, Ordering::Relaxed);
            log::warn!(
                target: "spark_ds::breaker",
                "circuit breaker for {} opened after {} consecutive failures",
                self.endpoint,
                inner.consecutive_failures
            );
        }
        trip
    }
}

fn registry() -> &'static Mutex<HashMap<String, Arc<CircuitBreaker>>> {
    static BREAKERS: OnceLock<Mutex<HashMap<String, Arc<CircuitBreaker>>>> = OnceLock::new();
    BREAKERS.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The process-wide breaker for an endpoint, created on first use with `config`; later
/// calls get the same breaker (and the first config) so all tasks in a worker share state.
pub fn breaker_for(endpoint: &str, config: BreakerConfig) -> Arc<CircuitBreaker> {
    let mut map = registry().lock().unwrap_or_else(|p| p.into_inner());
    Arc::clone(
        map.entry(endpoint.to_owned())
            .or_insert_with(|| Arc::new(CircuitBreaker::new(endpoint, config))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn transient() -> Error {
        Error::transient("test", "call", "connection reset")
    }

    fn breaker(threshold: u32) -> (CircuitBreaker, ManualClock) {
        let clock = ManualClock::new();
        let config = BreakerConfig {
            failure_threshold: threshold,
            cool_down: Duration::from_secs(10),
        };
        (
            CircuitBreaker::with_clock("db:9042", config, Arc::new(clock.clone())),
            clock,
        )
    }

    #[test]
    fn closed_opens_after_threshold_consecutive_transient_failures() {
        let (b, _) = breaker(3);
        assert!(!b.record_failure(&transient()));
        assert!(!b.record_failure(&transient()));
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(b.check("test", "call").is_ok());
        assert!(b.record_failure(&transient()));
        assert!(matches!(b.state(), BreakerState::Open { .. }));
        assert_eq!(b.trips(), 1);
    }

    #[test]
    fn success_resets_the_count() {
        let (b, _) = breaker(2);
        b.record_failure(&transient());
        b.record_success();
        assert!(!b.record_failure(&transient()));
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn permanent_and_config_errors_do_not_count() {
        let (b, _) = breaker(2);
        b.record_failure(&transient());
        assert!(!b.record_failure(&Error::permanent("test", "call", "no such table")));
        assert!(!b.record_failure(&Error::config("test", "bad option")));
        assert!(!b.record_failure(&transient()));
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(!b.record_failure(&Error::rate_limited("test", "call", None, "slow down")));
        assert!(b.record_failure(&transient()));
    }

    #[test]
    fn open_fails_fast_with_endpoint_and_time_to_retry() {
        let (b, clock) = breaker(1);
        b.record_failure(&transient());
        clock.advance(Duration::from_secs(4));
        let e = b.check("cassandra", "read").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Transient);
        assert!(
            e.message().contains("circuit breaker for db:9042 is open"),
            "{e}"
        );
        assert!(e.message().contains("retries in 6.0 s"), "{e}");
    }

    #[test]
    fn half_open_after_cool_down_lets_one_probe_and_success_closes() {
        let (b, clock) = breaker(1);
        b.record_failure(&transient());
        clock.advance(Duration::from_secs(10));
        assert!(b.check("test", "probe").is_ok());
        assert_eq!(b.state(), BreakerState::HalfOpen);
        let second = b.check("test", "other").unwrap_err();
        assert!(
            second.message().contains("probe call is in flight"),
            "{second}"
        );
        b.record_success();
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(b.check("test", "call").is_ok());
    }

    #[test]
    fn failed_probe_opens_again_and_counts_a_trip() {
        let (b, clock) = breaker(1);
        b.record_failure(&transient());
        clock.advance(Duration::from_secs(10));
        b.check("test", "probe").unwrap();
        assert!(b.record_failure(&transient()));
        assert!(matches!(b.state(), BreakerState::Open { .. }));
        assert_eq!(b.trips(), 2);
        assert!(b.check("test", "call").is_err());
    }

    #[test]
    fn a_lost_probe_is_replaced_after_another_cool_down() {
        let (b, clock) = breaker(1);
        b.record_failure(&transient());
        clock.advance(Duration::from_secs(10));
        b.check("test", "probe").unwrap();
        clock.advance(Duration::from_secs(10));
        assert!(b.check("test", "probe again").is_ok());
    }

    #[test]
    fn registry_shares_one_breaker_per_endpoint() {
        let a = breaker_for("registry-test:1", BreakerConfig::default());
        let b = breaker_for(
            "registry-test:1",
            BreakerConfig {
                failure_threshold: 1,
                ..Default::default()
            },
        );
        let c = breaker_for("registry-test:2", BreakerConfig::default());
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
    }
}
