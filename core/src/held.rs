//! Sources that cannot replay (classic and quorum queues, MQTT subscriptions): one consumer,
//! held by the driver for the whole query.
//!
//! Its deliveries are numbered 1, 2, … in the order they arrive; a micro-batch is a range
//! `(after, through]` of those numbers, built into Arrow on the driver. A delivery is
//! acknowledged only once Spark has committed the micro-batch that holds it, so whatever a
//! query had not committed when it died comes again from the source (at-least-once). The
//! numbers mean something only while this consumer lives; the Python glue pairs them with
//! a session id in the offsets it checkpoints.

use std::collections::VecDeque;
use std::time::Duration;

use arrow_array::RecordBatch;
use futures_core::future::BoxFuture;

use crate::error::{Error, Result};

/// How much one micro-batch may take, beside what the consumer can hold unacknowledged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// Most deliveries in the micro-batch.
    pub max_messages: Option<u64>,
    /// Most payload bytes; a micro-batch still takes one delivery larger than this.
    pub max_bytes: Option<u64>,
}

/// How long a poll waits: for a first delivery, then for each next one.
#[derive(Clone, Copy, Debug)]
pub struct Waits {
    /// An idle source costs this much per trigger.
    pub first: Duration,
    /// The quiet time that ends a micro-batch while deliveries keep trickling in.
    pub idle: Duration,
}

/// What a connector provides: its deliveries, their acknowledgement, their rows.
pub trait Deliveries: Send {
    type Delivery: Send;

    /// The next delivery, or `None` when none comes within `wait`.
    fn next(&mut self, wait: Duration) -> BoxFuture<'_, Result<Option<Self::Delivery>>>;

    /// The payload bytes of a delivery (for the bytes limit).
    fn size(delivery: &Self::Delivery) -> usize;

    /// Acknowledges these deliveries, oldest first: Spark committed every one of them.
    fn ack(&mut self, committed: Vec<Self::Delivery>) -> BoxFuture<'_, Result<()>>;

    /// The rows of these deliveries, as Arrow batches of the read's schema.
    fn rows(&mut self, deliveries: &[Self::Delivery]) -> Result<Vec<RecordBatch>>;

    /// Deliveries waiting at the source now, when it can tell (for `Trigger.AvailableNow`).
    fn backlog(&mut self) -> BoxFuture<'_, Result<Option<u64>>>;

    /// Stops consuming; what was not acknowledged goes back to the source.
    fn close(&mut self) -> BoxFuture<'_, ()>;
}

/// The consumer as the Python bridge drives it (object safe).
pub trait HeldStream: Send {
    /// Takes deliveries after `after` until the limits, the consumer's capacity, or a quiet
    /// source; returns the new end.
    fn poll(&mut self, after: u64, limits: Limits) -> BoxFuture<'_, Result<u64>>;
    /// The rows of deliveries `(after, through]`.
    fn batches(&mut self, after: u64, through: u64) -> Result<Vec<RecordBatch>>;
    /// Acknowledges every delivery through `through`; what is already acknowledged is skipped.
    fn commit(&mut self, through: u64) -> BoxFuture<'_, Result<()>>;
    /// The end `Trigger.AvailableNow` stops at: what is held and waiting now, plus what may be
    /// in flight to the consumer already.
    fn available_now(&mut self) -> BoxFuture<'_, Result<u64>>;
    /// Stops consuming; unacknowledged deliveries go back to the source.
    fn close(&mut self) -> BoxFuture<'_, ()>;
}

/// A [`Deliveries`] source with its unacknowledged deliveries, numbered.
pub struct HeldConsumer<S: Deliveries> {
    system: &'static str,
    source: S,
    /// Deliveries taken and not acknowledged; the first is number `acked + 1`.
    held: VecDeque<S::Delivery>,
    acked: u64,
    /// The most deliveries the source sends unacknowledged (its prefetch or receive window):
    /// a poll that holds this many can take no more until a commit.
    capacity: usize,
    waits: Waits,
}

impl<S: Deliveries> HeldConsumer<S> {
    pub fn new(system: &'static str, source: S, capacity: usize, waits: Waits) -> Self {
        HeldConsumer {
            system,
            source,
            held: VecDeque::new(),
            acked: 0,
            capacity: capacity.max(1),
            waits,
        }
    }

    fn last(&self) -> u64 {
        self.acked + self.held.len() as u64
    }

    /// Index range in `held` of deliveries `(after, through]`, checked.
    fn span(&self, after: u64, through: u64) -> Result<(usize, usize)> {
        if after < self.acked || through > self.last() || after > through {
            return Err(Error::internal(
                self.system,
                "plan micro-batch",
                format!(
                    "deliveries {after}..={through} asked for, while this consumer holds {}..={}",
                    self.acked + 1,
                    self.last()
                ),
            ));
        }
        Ok((
            (after - self.acked) as usize,
            (through - self.acked) as usize,
        ))
    }

    async fn take(&mut self, after: u64, limits: Limits) -> Result<u64> {
        let (start, _) = self.span(after.min(self.last()), self.last())?;
        let mut count = (self.held.len() - start) as u64;
        let mut bytes: u64 = self
            .held
            .iter()
            .skip(start)
            .map(|d| S::size(d) as u64)
            .sum();
        let full = |count: u64, bytes: u64, held: usize| {
            limits.max_messages.is_some_and(|m| count >= m)
                || limits.max_bytes.is_some_and(|m| count > 0 && bytes >= m)
                || held >= self.capacity
        };
        while !full(count, bytes, self.held.len()) {
            let wait = if count == 0 {
                self.waits.first
            } else {
                self.waits.idle
            };
            let Some(delivery) = self.source.next(wait).await? else {
                break;
            };
            count += 1;
            bytes += S::size(&delivery) as u64;
            self.held.push_back(delivery);
        }
        Ok(self.last())
    }

    async fn acknowledge(&mut self, through: u64) -> Result<()> {
        let through = through.min(self.last());
        if through <= self.acked {
            return Ok(());
        }
        let n = (through - self.acked) as usize;
        let committed: Vec<S::Delivery> = self.held.drain(..n).collect();
        self.acked = through;
        self.source.ack(committed).await
    }

    async fn cap(&mut self) -> Result<u64> {
        let waiting = self.source.backlog().await?.unwrap_or(0);
        Ok(self.last() + waiting + self.capacity as u64)
    }
}

impl<S: Deliveries> HeldStream for HeldConsumer<S> {
    fn poll(&mut self, after: u64, limits: Limits) -> BoxFuture<'_, Result<u64>> {
        Box::pin(self.take(after, limits))
    }

    fn batches(&mut self, after: u64, through: u64) -> Result<Vec<RecordBatch>> {
        let (from, to) = self.span(after, through)?;
        if from == to {
            return Ok(Vec::new());
        }
        let held = self.held.make_contiguous();
        self.source.rows(&held[from..to])
    }

    fn commit(&mut self, through: u64) -> BoxFuture<'_, Result<()>> {
        Box::pin(self.acknowledge(through))
    }

    fn available_now(&mut self) -> BoxFuture<'_, Result<u64>> {
        Box::pin(self.cap())
    }

    fn close(&mut self) -> BoxFuture<'_, ()> {
        self.source.close()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int64Array, RecordBatch};
    use std::sync::Arc;

    /// `available` deliveries of 100 bytes each, numbered 10, 20, ….
    struct Counter {
        available: u64,
        sent: u64,
        acked: Vec<u64>,
    }

    impl Deliveries for Counter {
        type Delivery = u64;

        fn next(&mut self, _wait: Duration) -> BoxFuture<'_, Result<Option<u64>>> {
            Box::pin(async move {
                if self.sent == self.available {
                    return Ok(None);
                }
                self.sent += 1;
                Ok(Some(self.sent * 10))
            })
        }

        fn size(_delivery: &u64) -> usize {
            100
        }

        fn ack(&mut self, committed: Vec<u64>) -> BoxFuture<'_, Result<()>> {
            self.acked.extend(committed);
            Box::pin(async { Ok(()) })
        }

        fn rows(&mut self, deliveries: &[u64]) -> Result<Vec<RecordBatch>> {
            let values = Int64Array::from_iter_values(deliveries.iter().map(|d| *d as i64));
            Ok(vec![
                RecordBatch::try_from_iter([("v", Arc::new(values) as _)]).unwrap(),
            ])
        }

        fn backlog(&mut self) -> BoxFuture<'_, Result<Option<u64>>> {
            let waiting = self.available - self.sent;
            Box::pin(async move { Ok(Some(waiting)) })
        }

        fn close(&mut self) -> BoxFuture<'_, ()> {
            Box::pin(async {})
        }
    }

    fn consumer(available: u64, capacity: usize) -> HeldConsumer<Counter> {
        let source = Counter {
            available,
            sent: 0,
            acked: Vec::new(),
        };
        let waits = Waits {
            first: Duration::ZERO,
            idle: Duration::ZERO,
        };
        HeldConsumer::new("test", source, capacity, waits)
    }

    fn values(batches: &[RecordBatch]) -> Vec<i64> {
        batches
            .iter()
            .flat_map(|b| {
                let a = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
                a.values().to_vec()
            })
            .collect()
    }

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn polls_to_the_limits_and_acknowledges_only_committed_deliveries() {
        run(async {
            let mut c = consumer(10, 100);
            let limits = Limits {
                max_messages: Some(4),
                max_bytes: None,
            };
            assert_eq!(c.poll(0, limits).await.unwrap(), 4);
            assert_eq!(values(&c.batches(0, 4).unwrap()), [10, 20, 30, 40]);
            // Nothing is acknowledged before Spark commits.
            assert!(c.source.acked.is_empty());
            c.commit(4).await.unwrap();
            assert_eq!(c.poll(4, limits).await.unwrap(), 8);
            assert_eq!(values(&c.batches(4, 8).unwrap()), [50, 60, 70, 80]);
            assert_eq!(c.source.acked, [10, 20, 30, 40]);
            // A commit again, or of less, changes nothing.
            c.commit(4).await.unwrap();
            c.commit(2).await.unwrap();
            assert_eq!(c.source.acked.len(), 4);
            // Committed deliveries cannot be planned again.
            assert!(c.batches(2, 6).is_err());
            assert!(c.batches(4, 9).is_err());
        });
    }

    #[test]
    fn stops_at_capacity_bytes_and_a_quiet_source() {
        run(async {
            let mut c = consumer(10, 3);
            assert_eq!(c.poll(0, Limits::default()).await.unwrap(), 3);
            // Full: nothing more until a commit.
            assert_eq!(c.poll(3, Limits::default()).await.unwrap(), 3);
            c.commit(3).await.unwrap();
            let bytes = Limits {
                max_messages: None,
                max_bytes: Some(150),
            };
            assert_eq!(c.poll(3, bytes).await.unwrap(), 5);
            c.commit(5).await.unwrap();
            let mut all = consumer(2, 100);
            assert_eq!(all.poll(0, Limits::default()).await.unwrap(), 2);
            assert_eq!(all.poll(2, Limits::default()).await.unwrap(), 2);
        });
    }

    #[test]
    fn available_now_counts_what_waits_and_may_be_in_flight() {
        run(async {
            let mut c = consumer(10, 3);
            c.poll(0, Limits::default()).await.unwrap();
            // 3 held, 7 waiting, up to 3 in flight.
            assert_eq!(c.available_now().await.unwrap(), 13);
        });
    }
}
