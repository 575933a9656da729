//! Arrow batches across the boundary without copying, through the Arrow C Data Interface.

use arrow_array::RecordBatch;
use arrow_pyarrow::{FromPyArrow, FromPyArrowUnchecked, ToPyArrow};
use pyo3::prelude::*;

/// A Rust batch as a `pyarrow.RecordBatch` (zero-copy: pyarrow takes the buffers).
pub fn to_pyarrow(py: Python<'_>, batch: &RecordBatch) -> PyResult<Py<PyAny>> {
    Ok(batch.to_pyarrow(py)?.unbind())
}

/// A `pyarrow.RecordBatch` (or anything with `__arrow_c_array__`) as a Rust batch.
///
/// Skips the full validation pass: the batches come from pyarrow/Spark, which built them
/// valid, and validating every buffer with the GIL held costs several times the transfer.
pub fn from_pyarrow(batch: &Bound<'_, PyAny>) -> PyResult<RecordBatch> {
    // SAFETY: the object is a pyarrow batch built by pyarrow itself (Spark's Arrow
    // serializer), so its buffers already satisfy the Arrow layout the import assumes.
    unsafe { RecordBatch::from_pyarrow_bound_unchecked(batch) }
}

/// A `pyarrow.Schema` as a Rust schema.
pub fn schema_from_pyarrow(schema: &Bound<'_, PyAny>) -> PyResult<arrow_schema::Schema> {
    arrow_schema::Schema::from_pyarrow_bound(schema)
}

/// A Rust schema as a `pyarrow.Schema`.
pub fn schema_to_pyarrow(py: Python<'_>, schema: &arrow_schema::Schema) -> PyResult<Py<PyAny>> {
    Ok(schema.to_pyarrow(py)?.unbind())
}
