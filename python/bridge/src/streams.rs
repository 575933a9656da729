//! Python iterators over Rust batch sources, and Python handles on Rust batch sinks.
//!
//! A connector implements core's `BatchSource` for a read partition and `BatchSink` for a
//! write task; these classes drive them with the GIL released.

use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use spark_ds_core::{BatchSink, BatchSource, Error};

use crate::arrow::{from_pyarrow, to_pyarrow};
use crate::call::run_async;

/// A Python iterator of `pyarrow.RecordBatch` over a Rust [`BatchSource`].
#[pyclass(module = "spark_ds", name = "BatchStream")]
pub struct BatchStream {
    source: Mutex<Option<Box<dyn BatchSource>>>,
    operation: String,
}

impl BatchStream {
    pub fn new(source: Box<dyn BatchSource>, operation: impl Into<String>) -> Self {
        BatchStream {
            source: Mutex::new(Some(source)),
            operation: operation.into(),
        }
    }
}

#[pymethods]
impl BatchStream {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let mut guard = self.source.lock().unwrap_or_else(|p| p.into_inner());
        let Some(source) = guard.as_mut() else {
            return Ok(None);
        };
        let next = run_async(py, &self.operation, source.next_batch());
        match next {
            Ok(Some(batch)) => Ok(Some(to_pyarrow(py, &batch)?)),
            Ok(None) => {
                *guard = None;
                Ok(None)
            }
            Err(e) => {
                *guard = None;
                Err(e)
            }
        }
    }

    /// Stops reading and releases the source early.
    fn close(&self) {
        *self.source.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// A Python handle on a Rust [`BatchSink`]: `write(batch)` for each batch, then `finish()`.
#[pyclass(module = "spark_ds", name = "BatchWriter")]
pub struct BatchWriter {
    sink: Mutex<Option<Box<dyn BatchSink>>>,
    operation: String,
}

impl BatchWriter {
    pub fn new(sink: Box<dyn BatchSink>, operation: impl Into<String>) -> Self {
        BatchWriter {
            sink: Mutex::new(Some(sink)),
            operation: operation.into(),
        }
    }

    fn closed(&self) -> Error {
        Error::internal("native", &self.operation, "the writer was already finished")
    }
}

#[pymethods]
impl BatchWriter {
    fn write(&self, py: Python<'_>, batch: &Bound<'_, PyAny>) -> PyResult<()> {
        let batch = from_pyarrow(batch)?;
        let mut guard = self.sink.lock().unwrap_or_else(|p| p.into_inner());
        let Some(sink) = guard.as_mut() else {
            return Err(crate::errors::to_py_err(py, &self.closed()));
        };
        run_async(py, &self.operation, sink.write(batch))
    }

    /// Waits for all writes; returns a dict of counters (rows, batches, ...).
    fn finish<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let Some(mut sink) = self.sink.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            return Err(crate::errors::to_py_err(py, &self.closed()));
        };
        let counters = run_async(py, &self.operation, sink.finish())?;
        let out = PyDict::new(py);
        for (name, value) in counters {
            out.set_item(name, value)?;
        }
        Ok(out)
    }

    /// Drops the sink without confirming: pending writes are abandoned.
    fn abort(&self) {
        self.sink.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}
