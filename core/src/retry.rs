//! Retrying retryable errors with exponential backoff and full jitter.
//!
//! Full jitter (a random sleep in `[0, min(max_backoff, initial * multiplier^n)]`) spreads
//! the retries of many Spark tasks that failed together, so they do not hit a recovering
//! server in waves. The error kind alone decides whether to retry; a rate-limited error's
//! `retry_after` is honoured; the time budget bounds the whole operation.

use std::future::Future;
use std::time::Duration;

use rand::Rng;

use crate::error::{Error, ErrorKind, Result};
use crate::metrics::TaskMetrics;

/// How often and how long to retry.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included; 1 means no retry.
    pub max_attempts: u32,
    /// Backoff ceiling before the first retry.
    pub initial_backoff: Duration,
    /// Backoff ceiling never grows beyond this.
    pub max_backoff: Duration,
    /// Time budget for all attempts and sleeps together.
    pub max_elapsed: Duration,
    /// Growth of the backoff ceiling per retry.
    pub multiplier: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
            max_elapsed: Duration::from_secs(60),
            multiplier: 2.0,
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn no_retry() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The backoff ceiling before retry number `retry` (0-based):
    /// `min(max_backoff, initial_backoff * multiplier^retry)`.
    pub fn backoff_ceiling(&self, retry: u32) -> Duration {
        let factor = self
            .multiplier
            .max(1.0)
            .powi(retry.min(i32::MAX as u32) as i32);
        let secs = self.initial_backoff.as_secs_f64() * factor;
        if !secs.is_finite() || secs >= self.max_backoff.as_secs_f64() {
            self.max_backoff
        } else {
            Duration::from_secs_f64(secs)
        }
    }

    /// A full-jitter sleep before retry number `retry`: uniform in `[0, ceiling]`.
    pub fn backoff<R: Rng + ?Sized>(&self, retry: u32, rng: &mut R) -> Duration {
        let ceiling = self.backoff_ceiling(retry);
        if ceiling.is_zero() {
            return ceiling;
        }
        Duration::from_secs_f64(rng.random_range(0.0..=ceiling.as_secs_f64()))
    }

    /// The sleep before retry number `retry` after `error`: the jittered backoff, but at
    /// least the server's `retry_after`.
    pub fn delay_after<R: Rng + ?Sized>(&self, error: &Error, retry: u32, rng: &mut R) -> Duration {
        let jitter = self.backoff(retry, rng);
        match error.kind() {
            ErrorKind::RateLimited {
                retry_after: Some(wait),
            } => jitter.max(wait),
            _ => jitter,
        }
    }
}

/// Runs `call` until it succeeds, fails with a non-retryable error, or the policy gives up.
///
/// Retries are counted in `metrics`, as is the final error. When the policy gives up, the last
/// error is returned, its kind kept, with "gave up after N attempts in X s" in front.
pub async fn retry<T, F, Fut>(
    policy: &RetryPolicy,
    metrics: &TaskMetrics,
    system: &'static str,
    operation: &str,
    call: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    retry_unless(policy, metrics, system, operation, |_| false, call).await
}

/// [`retry`], but a retryable error for which `final_error` is true ends the retries at
/// once, as it is (e.g. a refused connection while the user waits for planning, where a
/// wrong address is far likelier than a restarting server).
pub async fn retry_unless<T, F, Fut>(
    policy: &RetryPolicy,
    metrics: &TaskMetrics,
    system: &'static str,
    operation: &str,
    final_error: impl Fn(&Error) -> bool,
    mut call: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let started = tokio::time::Instant::now();
    let mut attempts: u32 = 0;
    let mut last: Option<Error> = None;
    loop {
        attempts += 1;
        // Each attempt gets only what is left of the budget: an attempt that hangs (a server
        // that accepts and never answers) must not carry the operation past it.
        let remaining = policy.max_elapsed.saturating_sub(started.elapsed());
        let error = match tokio::time::timeout(remaining, call()).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(error)) => error,
            Err(_) => {
                metrics.add_error();
                return Err(cut_at_budget(
                    policy,
                    system,
                    operation,
                    attempts,
                    started.elapsed(),
                    last,
                ));
            }
        };
        if !error.is_retryable() || final_error(&error) {
            metrics.add_error();
            return Err(error);
        }
        let elapsed = started.elapsed();
        let give_up = |error: Error, why: &str| {
            metrics.add_error();
            error.with_context(format!(
                "gave up after {attempts} attempts in {:.1} s{why}",
                elapsed.as_secs_f64()
            ))
        };
        if attempts >= policy.max_attempts.max(1) {
            return Err(give_up(error, ""));
        }
        // The thread-local RNG is not Send: draw and drop it before awaiting.
        let delay = policy.delay_after(&error, attempts - 1, &mut rand::rng());
        let remaining = policy.max_elapsed.saturating_sub(elapsed);
        let delay = match error.kind() {
            ErrorKind::RateLimited {
                retry_after: Some(wait),
            } if wait > remaining => {
                return Err(give_up(
                    error,
                    &format!(
                        " (the server asked to wait {:.1} s, beyond the time budget)",
                        wait.as_secs_f64()
                    ),
                ));
            }
            // Sleeping to the end of the budget leaves no time for the attempt after it.
            _ if delay >= remaining => {
                return Err(give_up(
                    error,
                    &format!(
                        " (the time budget of {} ms, option `retryMaxElapsedMs`, leaves no time for another)",
                        policy.max_elapsed.as_millis()
                    ),
                ));
            }
            _ => delay,
        };
        metrics.add_retry();
        let error_message = error.message().to_string();
        last = Some(error);
        log::debug!(
            target: "spark_ds::retry",
            "{system} {operation}: attempt {attempts} failed ({error_message}), retrying in {:.3} s",
            delay.as_secs_f64()
        );
        tokio::time::sleep(delay).await;
    }
}

/// The error of an operation whose last attempt was cut at the end of the time budget: the
/// error before it (kept, with its kind) when there was one, else a transient error; either
/// way saying which budget ended it.
fn cut_at_budget(
    policy: &RetryPolicy,
    system: &'static str,
    operation: &str,
    attempts: u32,
    elapsed: Duration,
    last: Option<Error>,
) -> Error {
    let budget = format!(
        "the time budget of {} ms (option `retryMaxElapsedMs`)",
        policy.max_elapsed.as_millis()
    );
    let head = format!(
        "gave up after {attempts} attempts in {:.1} s",
        elapsed.as_secs_f64()
    );
    match last {
        Some(error) => error.with_context(format!(
            "{head}, the last one cut at {budget}; the one before failed"
        )),
        None => Error::transient(
            system,
            operation,
            format!("{head}: no answer within {budget}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use std::cell::Cell;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            max_elapsed: Duration::from_secs(60),
            multiplier: 2.0,
        }
    }

    #[test]
    fn ceiling_grows_exponentially_and_is_capped() {
        let p = policy();
        let ceilings: Vec<u128> = (0..6).map(|n| p.backoff_ceiling(n).as_millis()).collect();
        assert_eq!(ceilings, vec![100, 200, 400, 800, 1000, 1000]);
        assert_eq!(p.backoff_ceiling(10_000), Duration::from_secs(1));
    }

    #[test]
    fn jitter_stays_in_bounds_and_is_spread_out() {
        let p = policy();
        let mut rng = StdRng::seed_from_u64(7);
        for retry in 0..6 {
            let ceiling = p.backoff_ceiling(retry);
            let samples: Vec<Duration> = (0..4000).map(|_| p.backoff(retry, &mut rng)).collect();
            assert!(samples.iter().all(|d| *d <= ceiling));
            // Uniform on [0, c]: mean c/2, and each quarter holds about a quarter.
            let mean =
                samples.iter().map(Duration::as_secs_f64).sum::<f64>() / samples.len() as f64;
            let c = ceiling.as_secs_f64();
            assert!(
                (mean - c / 2.0).abs() < c * 0.05,
                "retry {retry}: mean {mean} of ceiling {c}"
            );
            for q in 0..4 {
                let (lo, hi) = (c * q as f64 / 4.0, c * (q + 1) as f64 / 4.0);
                let n = samples
                    .iter()
                    .filter(|d| (lo..hi).contains(&d.as_secs_f64()))
                    .count();
                assert!((800..1200).contains(&n), "retry {retry} quarter {q}: {n}");
            }
        }
    }

    #[test]
    fn retry_after_is_a_floor() {
        let p = policy();
        let mut rng = StdRng::seed_from_u64(1);
        let e = Error::rate_limited("t", "op", Some(Duration::from_secs(5)), "429");
        for _ in 0..100 {
            assert_eq!(p.delay_after(&e, 0, &mut rng), Duration::from_secs(5));
        }
    }

    fn failing(kind: ErrorKind) -> Error {
        Error::new(kind, "t", "op", "boom")
    }

    #[tokio::test(start_paused = true)]
    async fn succeeds_after_transient_failures_and_counts_retries() {
        let m = TaskMetrics::new();
        let calls = Cell::new(0);
        let out = retry(&policy(), &m, "t", "op", || {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move {
                if n < 3 {
                    Err(failing(ErrorKind::Transient))
                } else {
                    Ok(n)
                }
            }
        })
        .await
        .unwrap();
        assert_eq!(out, 3);
        assert_eq!((m.retries(), m.errors()), (2, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_max_attempts_keeping_the_kind() {
        let m = TaskMetrics::new();
        let calls = Cell::new(0);
        let e = retry(&policy(), &m, "t", "op", || {
            calls.set(calls.get() + 1);
            async { Err::<(), _>(failing(ErrorKind::Transient)) }
        })
        .await
        .unwrap_err();
        assert_eq!(calls.get(), 5);
        assert_eq!(e.kind(), ErrorKind::Transient);
        assert!(
            e.message().starts_with("gave up after 5 attempts in "),
            "{e}"
        );
        assert!(e.message().ends_with(": boom"), "{e}");
        assert_eq!((m.retries(), m.errors()), (4, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn non_retryable_errors_return_at_once() {
        for kind in [
            ErrorKind::Permanent,
            ErrorKind::Config,
            ErrorKind::Auth,
            ErrorKind::Data,
        ] {
            let m = TaskMetrics::new();
            let calls = Cell::new(0);
            let started = tokio::time::Instant::now();
            let e = retry(&policy(), &m, "t", "op", || {
                calls.set(calls.get() + 1);
                async move { Err::<(), _>(failing(kind)) }
            })
            .await
            .unwrap_err();
            assert_eq!((calls.get(), e.kind(), e.message()), (1, kind, "boom"));
            assert_eq!(started.elapsed(), Duration::ZERO);
            assert_eq!(m.retries(), 0);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_final_error_ends_the_retries_as_it_is() {
        let m = TaskMetrics::new();
        let calls = Cell::new(0);
        let e = retry_unless(
            &policy(),
            &m,
            "t",
            "op",
            |e| e.message() == "boom",
            || {
                calls.set(calls.get() + 1);
                async { Err::<(), _>(failing(ErrorKind::Transient)) }
            },
        )
        .await
        .unwrap_err();
        assert_eq!(
            (calls.get(), e.kind(), e.message()),
            (1, ErrorKind::Transient, "boom")
        );
        assert_eq!((m.retries(), m.errors()), (0, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn max_elapsed_bounds_the_whole_operation() {
        let p = RetryPolicy {
            max_attempts: 1000,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(1),
            max_elapsed: Duration::from_secs(10),
            multiplier: 1.0,
        };
        let m = TaskMetrics::new();
        let started = tokio::time::Instant::now();
        let e = retry(&p, &m, "t", "op", || async {
            tokio::time::sleep(Duration::from_secs(2)).await;
            Err::<(), _>(failing(ErrorKind::Transient))
        })
        .await
        .unwrap_err();
        let elapsed = started.elapsed();
        // Never past the budget (an attempt running at its end is cut there), and short of
        // it by less than one backoff ceiling (a sleep that would reach it is not slept).
        assert!(
            elapsed >= Duration::from_secs(9) && elapsed <= Duration::from_secs(10),
            "{elapsed:?}"
        );
        assert!(e.message().starts_with("gave up after "), "{e}");
        assert!(m.retries() >= 3 && m.retries() <= 5, "{}", m.retries());
    }

    #[tokio::test(start_paused = true)]
    async fn an_attempt_that_hangs_is_cut_at_the_budget() {
        let p = RetryPolicy {
            max_elapsed: Duration::from_secs(6),
            ..policy()
        };
        let m = TaskMetrics::new();
        let calls = Cell::new(0);
        let started = tokio::time::Instant::now();
        // The first attempt fails after 4 s, the second never answers.
        let e = retry(&p, &m, "t", "op", || {
            calls.set(calls.get() + 1);
            let first = calls.get() == 1;
            async move {
                if first {
                    tokio::time::sleep(Duration::from_secs(4)).await;
                    Err::<(), _>(failing(ErrorKind::Transient))
                } else {
                    std::future::pending().await
                }
            }
        })
        .await
        .unwrap_err();
        assert_eq!(started.elapsed(), Duration::from_secs(6));
        assert_eq!((calls.get(), e.kind()), (2, ErrorKind::Transient));
        assert!(
            e.message().starts_with(
                "gave up after 2 attempts in 6.0 s, the last one cut at the time budget of 6000 ms (option `retryMaxElapsedMs`)"
            ),
            "{e}"
        );
        assert!(e.message().ends_with(": boom"), "{e}");
        assert_eq!(m.errors(), 1);

        // A first attempt that hangs: nothing to keep but the budget.
        let started = tokio::time::Instant::now();
        let e = retry(&p, &m, "t", "op", std::future::pending::<Result<()>>)
            .await
            .unwrap_err();
        assert_eq!(started.elapsed(), Duration::from_secs(6));
        assert_eq!(e.kind(), ErrorKind::Transient);
        assert!(
            e.message()
                .contains("no answer within the time budget of 6000 ms"),
            "{e}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn no_sleep_that_leaves_no_time_for_an_attempt() {
        let p = RetryPolicy {
            max_attempts: 100,
            initial_backoff: Duration::from_secs(10),
            max_backoff: Duration::from_secs(10),
            max_elapsed: Duration::from_secs(3),
            multiplier: 1.0,
        };
        let m = TaskMetrics::new();
        for _ in 0..20 {
            let started = tokio::time::Instant::now();
            let e = retry(&p, &m, "t", "op", || async {
                Err::<(), _>(failing(ErrorKind::Transient))
            })
            .await
            .unwrap_err();
            // Sleeps are drawn in [0, 10 s]: one that reaches the budget is not slept.
            assert!(started.elapsed() < Duration::from_secs(3), "{e}");
            assert!(e.message().contains("leaves no time for another"), "{e}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_honoured_and_too_long_a_wait_gives_up() {
        let m = TaskMetrics::new();
        let calls = Cell::new(0);
        let started = tokio::time::Instant::now();
        retry(&policy(), &m, "t", "op", || {
            calls.set(calls.get() + 1);
            let first = calls.get() == 1;
            async move {
                if first {
                    Err(Error::rate_limited(
                        "t",
                        "op",
                        Some(Duration::from_secs(7)),
                        "429",
                    ))
                } else {
                    Ok(())
                }
            }
        })
        .await
        .unwrap();
        assert!(started.elapsed() >= Duration::from_secs(7));

        let e = retry(&policy(), &m, "t", "op", || async {
            Err::<(), _>(Error::rate_limited(
                "t",
                "op",
                Some(Duration::from_secs(120)),
                "429",
            ))
        })
        .await
        .unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::RateLimited { .. }));
        assert!(e.message().contains("gave up after 1 attempts"), "{e}");
        assert!(e.message().contains("asked to wait 120.0 s"), "{e}");
    }
}
