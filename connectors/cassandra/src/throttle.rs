//! A token bucket pacing one task's requests or bytes.

use std::time::Duration;

use tokio::time::Instant;

/// Allows `rate` units per second on average, with a burst of one second's worth.
pub struct Throttle {
    rate: f64,
    next: Option<Instant>,
}

impl Throttle {
    pub fn new(rate: f64) -> Self {
        Throttle { rate, next: None }
    }

    /// The delay before `units` may be spent, and books them.
    pub fn book(&mut self, units: f64, now: Instant) -> Duration {
        let burst = Duration::from_secs(1);
        let start = match self.next {
            Some(next) if next > now => next,
            // Idle time earns at most one second of burst.
            Some(next) => next.max(now.checked_sub(burst).unwrap_or(now)),
            None => now,
        };
        let cost = Duration::from_secs_f64((units / self.rate).max(0.0));
        let next = start + cost;
        self.next = Some(next);
        next.saturating_duration_since(now + burst)
    }

    pub async fn acquire(&mut self, units: f64) {
        let wait = self.book(units, Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

/// Optional throttle helpers.
pub async fn acquire(t: &mut Option<Throttle>, units: f64) {
    if let Some(t) = t {
        t.acquire(units).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paces_after_the_burst() {
        let mut t = Throttle::new(10.0);
        let now = Instant::now();
        // 10 units fit the one-second burst, then each unit waits 100 ms more.
        for _ in 0..10 {
            assert_eq!(t.book(1.0, now), Duration::ZERO);
        }
        let w = t.book(1.0, now);
        assert!((w.as_millis() as i64 - 100).abs() <= 1, "{w:?}");
        let w = t.book(2.0, now);
        assert!((w.as_millis() as i64 - 300).abs() <= 1, "{w:?}");
    }
}
