//! Per-task counters and the one-line summary each task logs when it ends.
//!
//! A task shares one [`TaskMetrics`] (behind an `Arc`) between its reader and the retry
//! helper; atomics keep that free of locks on the data path.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Counters for one Spark task.
#[derive(Debug)]
pub struct TaskMetrics {
    rows: AtomicU64,
    bytes: AtomicU64,
    requests: AtomicU64,
    retries: AtomicU64,
    errors: AtomicU64,
    started: Instant,
    request_noun: &'static str,
}

/// The counters at one moment, for summaries and commit messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetricsSnapshot {
    pub rows: u64,
    pub bytes: u64,
    pub requests: u64,
    pub retries: u64,
    pub errors: u64,
    pub elapsed: Duration,
}

impl TaskMetrics {
    /// Counters starting now; requests are called "requests" in the summary.
    pub fn new() -> Self {
        TaskMetrics::with_request_noun("requests")
    }

    /// Counters whose requests are named in the system's terms ("pages", "batches", ...).
    pub fn with_request_noun(noun: &'static str) -> Self {
        TaskMetrics {
            rows: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            started: Instant::now(),
            request_noun: noun,
        }
    }

    pub fn add_rows(&self, n: u64) {
        self.rows.fetch_add(n, Ordering::Relaxed);
    }

    pub fn add_bytes(&self, n: u64) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
    }

    pub fn add_request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub fn add_retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub fn add_error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    pub fn rows(&self) -> u64 {
        self.rows.load(Ordering::Relaxed)
    }

    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    pub fn snapshot(&self) -> MetricsSnapshot {
        MetricsSnapshot {
            rows: self.rows(),
            bytes: self.bytes.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
            retries: self.retries(),
            errors: self.errors(),
            elapsed: self.started.elapsed(),
        }
    }

    /// E.g. `cassandra read partition 3: 125000 rows, 12.4 MB, 25 pages, 2 retries
    /// in 3.21 s (38.9k rows/s)`; callers log it with `log::info!`.
    pub fn summary_line(&self, system: &str, task: &str) -> String {
        self.snapshot()
            .summary_line(system, task, self.request_noun)
    }
}

impl Default for TaskMetrics {
    fn default() -> Self {
        TaskMetrics::new()
    }
}

impl MetricsSnapshot {
    /// The summary for these numbers; errors are mentioned only when there were some.
    pub fn summary_line(&self, system: &str, task: &str, request_noun: &str) -> String {
        let secs = self.elapsed.as_secs_f64();
        let rate = if secs > 0.0 {
            self.rows as f64 / secs
        } else {
            0.0
        };
        let errors = match self.errors {
            0 => String::new(),
            n => format!(", {n} errors"),
        };
        format!(
            "{system} {task}: {} rows, {}, {} {request_noun}, {} retries{errors} \
             in {secs:.2} s ({} rows/s)",
            self.rows,
            human_bytes(self.bytes),
            self.requests,
            self.retries,
            human_count(rate),
        )
    }
}

/// Decimal units, as network and disk throughput are usually quoted.
fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn human_count(value: f64) -> String {
    if value >= 1e9 {
        format!("{:.1}G", value / 1e9)
    } else if value >= 1e6 {
        format!("{:.1}M", value / 1e6)
    } else if value >= 1e3 {
        format!("{:.1}k", value / 1e3)
    } else {
        format!("{value:.0}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn summary_line_matches_the_documented_shape() {
        let s = MetricsSnapshot {
            rows: 125_000,
            bytes: 12_400_000,
            requests: 25,
            retries: 2,
            errors: 0,
            elapsed: Duration::from_millis(3210),
        };
        assert_eq!(
            s.summary_line("cassandra", "read partition 3", "pages"),
            "cassandra read partition 3: 125000 rows, 12.4 MB, 25 pages, 2 retries \
             in 3.21 s (38.9k rows/s)"
        );
        let failed = MetricsSnapshot {
            errors: 1,
            rows: 10,
            bytes: 999,
            ..s
        };
        assert!(
            failed
                .summary_line("x", "t", "pages")
                .contains("999 B, 25 pages, 2 retries, 1 errors in")
        );
    }

    #[test]
    fn counters_add_up_across_threads() {
        let m = Arc::new(TaskMetrics::with_request_noun("pages"));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let m = Arc::clone(&m);
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        m.add_rows(2);
                        m.add_request();
                    }
                    m.add_retry();
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        m.add_error();
        let s = m.snapshot();
        assert_eq!(
            (s.rows, s.requests, s.retries, s.errors),
            (8000, 4000, 4, 1)
        );
        assert!(m.summary_line("mqtt", "read").contains("4000 pages"));
    }

    #[test]
    fn human_units() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1500), "1.5 kB");
        assert_eq!(human_bytes(3_000_000_000), "3.0 GB");
        assert_eq!(human_count(512.0), "512");
        assert_eq!(human_count(2_500_000.0), "2.5M");
    }
}
