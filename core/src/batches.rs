//! The two shapes every connector's data path takes, independent of Python.
//!
//! A read partition is a [`BatchSource`]; a write task is a [`BatchSink`]. The Python
//! bridge drives them with the GIL released; tests and benchmarks drive them directly.

use arrow_array::RecordBatch;
use futures_core::future::BoxFuture;

use crate::error::Result;

/// Produces the batches of one read partition, one at a time; `None` at the end.
pub trait BatchSource: Send {
    fn next_batch(&mut self) -> BoxFuture<'_, Result<Option<RecordBatch>>>;
}

/// Consumes the batches of one write task and confirms them at the end.
pub trait BatchSink: Send {
    /// Accepts a batch; may return before the server confirmed it (bounded in flight).
    fn write(&mut self, batch: RecordBatch) -> BoxFuture<'_, Result<()>>;
    /// Waits until every write is confirmed; returns counters for the commit message.
    fn finish(&mut self) -> BoxFuture<'_, Result<Vec<(String, u64)>>>;
}
