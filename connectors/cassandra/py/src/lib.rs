//! The `pyspark_ds_cassandra._native` extension module: converts arguments, calls the plain
//! Rust crate `spark_ds_cassandra` through the bridge, and converts results back.

use std::collections::HashMap;
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use spark_ds_cassandra as cassandra;
use spark_ds_core::Result;
use spark_ds_pybridge::arrow::{from_pyarrow, schema_from_pyarrow, schema_to_pyarrow, to_pyarrow};
use spark_ds_pybridge::call::{run, run_async};
use spark_ds_pybridge::streams::{BatchStream, BatchWriter};

type RawOptions = HashMap<String, String>;
/// (pyarrow schema, partition-key columns, clustering-key columns).
type Described = (Py<PyAny>, Vec<String>, Vec<String>);

fn config(options: &RawOptions) -> Result<cassandra::Config> {
    let pairs: Vec<(String, String)> = options
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    cassandra::parse_config(&pairs)
}

/// The README table of options, generated from the option definitions.
#[pyfunction]
fn options_table() -> String {
    cassandra::options_table()
}

/// Validates options without connecting; raises ConfigError naming the bad option.
#[pyfunction]
fn validate_options(py: Python<'_>, options: RawOptions) -> PyResult<()> {
    run(py, "validate options", || config(&options).map(|_| ()))
}

/// The options the Python glue acts on, validated by the same definitions as every other
/// option (aliases, choices): `{"pushdown": bool, "logLevel": str | None}`.
#[pyfunction]
fn python_settings<'py>(py: Python<'py>, options: RawOptions) -> PyResult<Bound<'py, PyDict>> {
    let (pushdown, log_level) = run(py, "validate options", || {
        config(&options).map(|cfg| (cfg.pushdown, cfg.log.log_level.map(|l| l.name())))
    })?;
    let settings = PyDict::new(py);
    settings.set_item("pushdown", pushdown)?;
    settings.set_item("logLevel", log_level)?;
    Ok(settings)
}

/// The table's schema: (pyarrow schema, partition key, clustering key); PySpark converts
/// the Arrow schema to Spark's.
#[pyfunction]
fn describe(py: Python<'_>, options: RawOptions) -> PyResult<Described> {
    let description = run_async(py, "describe table", async {
        let cfg = config(&options)?;
        cassandra::describe(&cfg).await
    })?;
    let schema = schema_to_pyarrow(py, &description.schema)?;
    Ok((
        schema,
        description.partition_key,
        description.clustering_key,
    ))
}

/// Decides which filters run in Cassandra: (accepted indices, state for planning, explain).
#[pyfunction]
fn push_filters(
    py: Python<'_>,
    options: RawOptions,
    columns: Vec<String>,
    filters_json: String,
) -> PyResult<(Vec<usize>, String, String)> {
    let pushed = run_async(py, "push filters", async {
        let cfg = config(&options)?;
        cassandra::push_filters(&cfg, &columns, &filters_json).await
    })?;
    Ok((pushed.accepted, pushed.state, pushed.explain))
}

/// Plans the read partitions (token ranges or partition keys) as JSON strings.
#[pyfunction]
#[pyo3(signature = (options, columns, pushdown_state=None))]
fn plan_partitions(
    py: Python<'_>,
    options: RawOptions,
    columns: Vec<String>,
    pushdown_state: Option<String>,
) -> PyResult<Vec<String>> {
    run_async(py, "plan partitions", async {
        let cfg = config(&options)?;
        cassandra::plan_partitions(&cfg, &columns, pushdown_state.as_deref()).await
    })
}

/// Checks the schema Spark asks for (a pyarrow schema) against the table; raises
/// ConfigError naming a missing column or a type that does not read exactly.
#[pyfunction]
fn check_read_schema(
    py: Python<'_>,
    options: RawOptions,
    schema: &Bound<'_, PyAny>,
) -> PyResult<()> {
    let schema = schema_from_pyarrow(schema)?;
    run_async(py, "check schema", async {
        let cfg = config(&options)?;
        cassandra::check_read_schema(&cfg, &schema).await
    })
}

/// An iterator of pyarrow RecordBatches for one planned partition, in the types of
/// `schema` (a checked user schema) when given.
#[pyfunction]
#[pyo3(signature = (options, columns, partition, pushdown_state=None, schema=None))]
fn open_reader(
    py: Python<'_>,
    options: RawOptions,
    columns: Vec<String>,
    partition: String,
    pushdown_state: Option<String>,
    schema: Option<&Bound<'_, PyAny>>,
) -> PyResult<BatchStream> {
    let requested = schema.map(schema_from_pyarrow).transpose()?;
    let source = run_async(py, "open reader", async {
        let cfg = config(&options)?;
        cassandra::open_reader_as(
            &cfg,
            &columns,
            requested.as_ref(),
            pushdown_state.as_deref(),
            &partition,
        )
        .await
    })?;
    Ok(BatchStream::new(source, "read partition"))
}

/// Driver-side preparation of a write: table creation, save-mode checks, truncation.
/// Returns whether the tasks should write (false for `saveMode=ignore` on a non-empty table).
#[pyfunction]
fn prepare_write(
    py: Python<'_>,
    options: RawOptions,
    schema: &Bound<'_, PyAny>,
    overwrite: bool,
) -> PyResult<bool> {
    let schema = schema_from_pyarrow(schema)?;
    run_async(py, "prepare write", async {
        let cfg = config(&options)?;
        cassandra::prepare_write(&cfg, &schema, overwrite).await
    })
}

/// A writer for one task: `write(batch)` for each pyarrow batch, then `finish()`.
#[pyfunction]
#[pyo3(signature = (options, schema, stream_task=None))]
fn open_writer(
    py: Python<'_>,
    options: RawOptions,
    schema: &Bound<'_, PyAny>,
    stream_task: Option<HashMap<String, String>>,
) -> PyResult<BatchWriter> {
    // Writes are upserts by key: a replayed micro-batch rewrites the same rows, so which
    // one a task belongs to changes nothing.
    let _ = stream_task;
    let schema = Arc::new(schema_from_pyarrow(schema)?);
    let sink = run_async(py, "open writer", async {
        let cfg = config(&options)?;
        cassandra::open_writer(&cfg, schema).await
    })?;
    Ok(BatchWriter::new(sink, "write batch"))
}

/// Rows matching the keys in `keys` (a pyarrow batch): (batch, queries run, rows read).
#[pyfunction]
fn lookup(
    py: Python<'_>,
    options: RawOptions,
    columns: Vec<String>,
    keys: &Bound<'_, PyAny>,
) -> PyResult<(Py<PyAny>, u64, u64)> {
    let keys = from_pyarrow(keys)?;
    let (batch, stats) = run_async(py, "lookup", async {
        let cfg = config(&options)?;
        cassandra::lookup_with_stats(&cfg, &columns, keys).await
    })?;
    Ok((to_pyarrow(py, &batch)?, stats.queries, stats.rows))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    spark_ds_pybridge::init_module(m, "pyspark_ds_cassandra")?;
    m.add_function(wrap_pyfunction!(options_table, m)?)?;
    m.add_function(wrap_pyfunction!(validate_options, m)?)?;
    m.add_function(wrap_pyfunction!(python_settings, m)?)?;
    m.add_function(wrap_pyfunction!(describe, m)?)?;
    m.add_function(wrap_pyfunction!(push_filters, m)?)?;
    m.add_function(wrap_pyfunction!(plan_partitions, m)?)?;
    m.add_function(wrap_pyfunction!(check_read_schema, m)?)?;
    m.add_function(wrap_pyfunction!(open_reader, m)?)?;
    m.add_function(wrap_pyfunction!(prepare_write, m)?)?;
    m.add_function(wrap_pyfunction!(open_writer, m)?)?;
    m.add_function(wrap_pyfunction!(lookup, m)?)?;
    Ok(())
}
