//! Core errors become instances of the spark-ds exception classes.
//!
//! The classes are defined in Python (`<package>._shared.errors`) so that they are real,
//! picklable classes. Every vendored copy reuses the classes the first one created, so a
//! process has one root, `SparkDsError`, shared by all installed connectors.

use std::sync::OnceLock;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use spark_ds_core::{Error, ErrorKind};

static PACKAGE: OnceLock<&'static str> = OnceLock::new();

pub(crate) fn set_package(package: &'static str) {
    let _ = PACKAGE.set(package);
}

fn class_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Config => "ConfigError",
        ErrorKind::Auth => "AuthError",
        ErrorKind::Transient => "TransientError",
        ErrorKind::RateLimited { .. } => "RateLimitedError",
        ErrorKind::Permanent => "PermanentError",
        ErrorKind::NotFound => "NotFoundError",
        ErrorKind::AlreadyExists => "AlreadyExistsError",
        ErrorKind::Data => "DataError",
        ErrorKind::Internal => "InternalError",
    }
}

/// The Python exception for a core error, carrying kind, system and operation as attributes.
pub fn to_py_err(py: Python<'_>, error: &Error) -> PyErr {
    build(py, error).unwrap_or_else(|fallback| fallback)
}

fn build(py: Python<'_>, error: &Error) -> Result<PyErr, PyErr> {
    let package = PACKAGE.get().copied().unwrap_or("spark_ds");
    let module = py
        .import(format!("{package}._shared.errors"))
        .map_err(|_| PyRuntimeError::new_err(error.to_string()))?;
    // A package built before a kind existed still raises its nearest class.
    let class = module
        .getattr(class_name(error.kind()))
        .or_else(|_| module.getattr("PermanentError"))?;
    let instance = class.call1((error.to_string(),))?;
    instance.setattr("kind", error.kind().name())?;
    instance.setattr("system", error.system())?;
    instance.setattr("operation", error.operation())?;
    if let ErrorKind::RateLimited {
        retry_after: Some(after),
    } = error.kind()
    {
        instance.setattr("retry_after", after.as_secs_f64())?;
    }
    Ok(PyErr::from_value(instance))
}
