//! Arrow batches across the boundary without copying, through the Arrow C Data Interface.

use arrow_array::RecordBatch;
use arrow_pyarrow::{FromPyArrow, FromPyArrowUnchecked, ToPyArrow};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

/// A Rust batch as a `pyarrow.RecordBatch` (zero-copy: pyarrow takes the buffers).
pub fn to_pyarrow(py: Python<'_>, batch: &RecordBatch) -> PyResult<Py<PyAny>> {
    Ok(batch.to_pyarrow(py)?.unbind())
}

/// `pyarrow.RecordBatch` itself, looked up once per process.
static RECORD_BATCH: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// A `pyarrow.RecordBatch` (or anything with `__arrow_c_array__`) as a Rust batch.
///
/// Exact `pyarrow.RecordBatch` objects skip the full validation pass: pyarrow built them
/// valid, and validating every buffer with the GIL held costs several times the transfer.
/// Anything else (a subclass, another library's array, a hand-made `__arrow_c_array__`)
/// may carry any buffers, so it goes through the validating import.
pub fn from_pyarrow(batch: &Bound<'_, PyAny>) -> PyResult<RecordBatch> {
    let record_batch = RECORD_BATCH.import(batch.py(), "pyarrow", "RecordBatch")?;
    if batch.get_type().is(record_batch) {
        // SAFETY: the object's type is exactly pyarrow's RecordBatch (not a subclass or a
        // duck type), so pyarrow built its buffers and they satisfy the Arrow layout.
        unsafe { RecordBatch::from_pyarrow_bound_unchecked(batch) }
    } else {
        RecordBatch::from_pyarrow_bound(batch)
    }
}

/// A `pyarrow.Schema` as a Rust schema.
pub fn schema_from_pyarrow(schema: &Bound<'_, PyAny>) -> PyResult<arrow_schema::Schema> {
    arrow_schema::Schema::from_pyarrow_bound(schema)
}

/// A Rust schema as a `pyarrow.Schema`.
pub fn schema_to_pyarrow(py: Python<'_>, schema: &arrow_schema::Schema) -> PyResult<Py<PyAny>> {
    Ok(schema.to_pyarrow(py)?.unbind())
}
