//! The Rust side of the Python boundary, shared by every spark-ds wheel.
//!
//! A connector's `#[pymodule]` only converts arguments and calls into plain Rust through
//! [`call::run`] / [`call::run_async`]; this crate turns the outcome into Python: errors into
//! the package's exception classes, panics into `InternalError`, Arrow batches into pyarrow
//! without copies, and Rust log records into Python's `logging`.

pub mod arrow;
pub mod call;
pub mod errors;
pub mod held;
pub mod logs;
pub mod streams;

use pyo3::prelude::*;

/// Wires the bridge into one extension module: where its exception classes live, the log
/// forwarder, and the functions every native module offers.
pub fn init_module(m: &Bound<'_, PyModule>, package: &'static str) -> PyResult<()> {
    errors::set_package(package);
    // The system's name is in most messages: never mask it, even if a password equals it.
    spark_ds_core::redact::register_public(package.strip_prefix("pyspark_ds_").unwrap_or(package));
    logs::install();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(set_log_level, m)?)?;
    m.add_function(wrap_pyfunction!(_debug_panic, m)?)?;
    m.add_class::<streams::BatchStream>()?;
    m.add_class::<streams::BatchWriter>()?;
    Ok(())
}

/// Sets the most verbose Rust log level forwarded to Python (`error` … `trace`, `off`).
#[pyfunction]
fn set_log_level(py: Python<'_>, level: &str) -> PyResult<()> {
    call::run(py, "set log level", || logs::set_level(level))
}

/// Panics inside native code on purpose: proves a Rust panic reaches Python as an exception.
#[pyfunction]
fn _debug_panic(py: Python<'_>, message: &str) -> PyResult<()> {
    call::run(py, "debug panic", || -> spark_ds_core::Result<()> {
        panic!("{message}")
    })
}
