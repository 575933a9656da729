//! A Python handle on a driver-held consumer (core's [`HeldStream`]): the shared stream
//! reader for sources that cannot replay polls it, plans micro-batches from it, and commits.

use std::sync::Mutex;

use pyo3::prelude::*;
use spark_ds_core::Error;
use spark_ds_core::held::{HeldStream, Limits};

use crate::arrow::to_pyarrow;
use crate::call::{run, run_async};
use crate::errors::to_py_err;

#[pyclass(module = "spark_ds", name = "HeldConsumer")]
pub struct HeldConsumer {
    stream: Mutex<Option<Box<dyn HeldStream>>>,
}

impl HeldConsumer {
    pub fn new(stream: Box<dyn HeldStream>) -> Self {
        HeldConsumer {
            stream: Mutex::new(Some(stream)),
        }
    }

    /// Runs `f` on the open stream, or raises that the consumer was closed.
    fn with<T>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut Box<dyn HeldStream>) -> PyResult<T>,
    ) -> PyResult<T> {
        let mut guard = self.stream.lock().unwrap_or_else(|p| p.into_inner());
        match guard.as_mut() {
            Some(stream) => f(stream),
            None => Err(to_py_err(
                py,
                &Error::internal("native", "stream read", "the consumer was already closed"),
            )),
        }
    }
}

#[pymethods]
impl HeldConsumer {
    /// Takes deliveries after `after` up to the limits (or until the source goes quiet);
    /// returns the new end.
    #[pyo3(signature = (after, max_messages=None, max_bytes=None))]
    fn poll(
        &self,
        py: Python<'_>,
        after: u64,
        max_messages: Option<u64>,
        max_bytes: Option<u64>,
    ) -> PyResult<u64> {
        let limits = Limits {
            max_messages,
            max_bytes,
        };
        self.with(py, |s| run_async(py, "poll", s.poll(after, limits)))
    }

    /// The rows of deliveries `(after, through]` as pyarrow RecordBatches.
    fn batches(&self, py: Python<'_>, after: u64, through: u64) -> PyResult<Vec<Py<PyAny>>> {
        let batches = self.with(py, |s| {
            run(py, "plan micro-batch", || s.batches(after, through))
        })?;
        batches.iter().map(|b| to_pyarrow(py, b)).collect()
    }

    /// Acknowledges every delivery through `through` (Spark committed them).
    fn commit(&self, py: Python<'_>, through: u64) -> PyResult<()> {
        self.with(py, |s| run_async(py, "commit", s.commit(through)))
    }

    /// The end `Trigger.AvailableNow` stops at.
    fn available_now(&self, py: Python<'_>) -> PyResult<u64> {
        self.with(py, |s| {
            run_async(py, "prepare AvailableNow", s.available_now())
        })
    }

    /// Stops consuming; what was not acknowledged goes back to the source.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let stream = self.stream.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(mut stream) = stream {
            run_async(py, "close consumer", async move {
                stream.close().await;
                Ok(())
            })?;
        }
        Ok(())
    }
}
