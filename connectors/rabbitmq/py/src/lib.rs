//! The `pyspark_ds_rabbitmq._native` extension module. Logic arrives in plain Rust crates; this only wires it.

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    spark_ds_pybridge::init_module(m, "pyspark_ds_rabbitmq")
}
