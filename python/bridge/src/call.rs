//! Every native call goes through here: the GIL is released while Rust works, panics are
//! caught, Ctrl-C and task kills are noticed while waiting, and queued logs are flushed.

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use pyo3::prelude::*;
use spark_ds_core::{Error, Result, runtime};

use crate::errors::to_py_err;
use crate::logs;

/// How often a blocked call looks for a pending Python signal.
const SIGNAL_POLL: Duration = Duration::from_millis(200);

/// Runs `work` with the GIL released; its error or panic becomes a Python exception.
pub fn run<T, F>(py: Python<'_>, operation: &str, work: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> Result<T> + Send,
{
    let outcome = py.detach(|| catch_unwind(AssertUnwindSafe(work)));
    logs::flush(py);
    match outcome {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(to_py_err(py, &error)),
        Err(panic) => Err(to_py_err(py, &panic_error(operation, panic.as_ref()))),
    }
}

/// Runs a future on the process runtime with the GIL released, stopping early when Python
/// has a pending signal (Ctrl-C, or Spark killing the task).
pub fn run_async<T, F>(py: Python<'_>, operation: &str, future: F) -> PyResult<T>
where
    T: Send,
    F: Future<Output = Result<T>> + Send,
{
    let mut interrupted: Option<PyErr> = None;
    let result = run(py, operation, || {
        let rt = runtime::runtime()?;
        rt.block_on(async {
            tokio::pin!(future);
            loop {
                tokio::select! {
                    out = &mut future => return out.map(Some),
                    _ = tokio::time::sleep(SIGNAL_POLL) => {
                        if let Err(signal) = Python::attach(|py| py.check_signals()) {
                            interrupted = Some(signal);
                            return Ok(None);
                        }
                    }
                }
            }
        })
    })?;
    match (result, interrupted) {
        (Some(value), _) => Ok(value),
        (None, Some(signal)) => Err(signal),
        (None, None) => Err(to_py_err(
            py,
            &Error::internal("bridge", operation, "interrupted"),
        )),
    }
}

fn panic_error(operation: &str, panic: &(dyn Any + Send)) -> Error {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("no message");
    Error::internal(
        "native",
        operation,
        format!(
            "a bug in spark-ds native code (panic: {detail}); the task failed safely, please report it"
        ),
    )
}
