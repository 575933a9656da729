//! The `pyspark_ds_mongodb._native` extension module: converts arguments, calls the plain
//! Rust crate `spark_ds_mongodb` through the bridge, and converts results back.

use std::collections::HashMap;
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use spark_ds_core::{Error, Result};
use spark_ds_mongodb as mongodb;
use spark_ds_pybridge::arrow::{schema_from_pyarrow, schema_to_pyarrow};
use spark_ds_pybridge::call::{run, run_async};
use spark_ds_pybridge::streams::{BatchStream, BatchWriter};

type RawOptions = HashMap<String, String>;
/// (pyarrow schema, partition-key columns, clustering-key columns): MongoDB has no keys.
type Described = (Py<PyAny>, Vec<String>, Vec<String>);

fn config(options: &RawOptions) -> Result<mongodb::Config> {
    let pairs: Vec<(String, String)> = options
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    mongodb::parse_config(&pairs)
}

/// The README table of options, generated from the option definitions.
#[pyfunction]
fn options_table() -> String {
    mongodb::options_table()
}

/// Validates options without connecting; raises ConfigError naming the bad option.
#[pyfunction]
fn validate_options(py: Python<'_>, options: RawOptions) -> PyResult<()> {
    run(py, "validate options", || config(&options).map(|_| ()))
}

/// The options the Python glue acts on, validated by the same definitions as every other
/// option: `{"pushdown": bool, "logLevel": str | None, "maxRowsPerTrigger": int | None}`.
#[pyfunction]
fn python_settings<'py>(py: Python<'py>, options: RawOptions) -> PyResult<Bound<'py, PyDict>> {
    let (pushdown, log_level, max_rows) = run(py, "validate options", || {
        config(&options).map(|cfg| {
            (
                cfg.pushdown,
                cfg.log.log_level.map(|l| l.name()),
                cfg.max_rows_per_trigger,
            )
        })
    })?;
    let settings = PyDict::new(py);
    settings.set_item("pushdown", pushdown)?;
    settings.set_item("logLevel", log_level)?;
    settings.set_item("maxRowsPerTrigger", max_rows)?;
    Ok(settings)
}

/// The collection's inferred schema as (pyarrow schema, [], []).
#[pyfunction]
fn describe(py: Python<'_>, options: RawOptions) -> PyResult<Described> {
    let schema = run_async(py, "infer schema", async {
        let cfg = config(&options)?;
        mongodb::describe(&cfg).await
    })?;
    Ok((schema_to_pyarrow(py, &schema)?, vec![], vec![]))
}

/// Checks the schema Spark will read before any task; raises ConfigError naming the field.
#[pyfunction]
fn check_read_schema(
    py: Python<'_>,
    options: RawOptions,
    schema: &Bound<'_, PyAny>,
) -> PyResult<()> {
    let schema = schema_from_pyarrow(schema)?;
    run(py, "check schema", || {
        mongodb::check_read_schema(&config(&options)?, &schema)
    })
}

/// Decides which filters MongoDB pre-filters: (accepted indices, state for reading, explain).
/// Nothing is accepted: Spark re-checks every filter.
#[pyfunction]
fn push_filters(
    py: Python<'_>,
    options: RawOptions,
    columns: Vec<String>,
    filters_json: String,
) -> PyResult<(Vec<usize>, String, String)> {
    let pushed = run_async(py, "push filters", async {
        let cfg = config(&options)?;
        mongodb::push_filters(&cfg, &columns, &filters_json).await
    })?;
    Ok((pushed.accepted, pushed.state, pushed.explain))
}

/// Plans the read partitions as JSON strings.
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
        mongodb::plan_partitions(&cfg, &columns, pushdown_state.as_deref()).await
    })
}

/// An iterator of pyarrow RecordBatches of `schema` for one planned partition.
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
    let _ = columns; // the schema names the columns
    let requested = schema.map(schema_from_pyarrow).transpose()?;
    let source = run_async(py, "open reader", async {
        let cfg = config(&options)?;
        let schema = requested.ok_or_else(|| {
            Error::internal(
                mongodb::SYSTEM,
                "open reader",
                "no schema given to the reader",
            )
        })?;
        mongodb::open_reader(&cfg, &schema, pushdown_state.as_deref(), &partition).await
    })?;
    Ok(BatchStream::new(source, "read partition"))
}

/// Driver-side preparation of a write; returns whether the tasks should write.
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
        mongodb::prepare_write(&cfg, &schema, overwrite).await
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
        mongodb::open_writer(&cfg, schema).await
    })?;
    Ok(BatchWriter::new(sink, "write batch"))
}

/// Where a new stream read starts: the offset as JSON.
#[pyfunction]
fn stream_initial_offset(py: Python<'_>, options: RawOptions) -> PyResult<String> {
    run_async(py, "stream offsets", async {
        let cfg = config(&options)?;
        mongodb::stream_initial_offset(&cfg).await
    })
}

/// The end offset (JSON) of the next micro-batch after `start`: at most `max_rows`
/// documents, never beyond `cap`.
#[pyfunction]
#[pyo3(signature = (options, start=None, max_rows=None, cap=None))]
fn stream_latest_offset(
    py: Python<'_>,
    options: RawOptions,
    start: Option<String>,
    max_rows: Option<u64>,
    cap: Option<String>,
) -> PyResult<String> {
    run_async(py, "stream offsets", async {
        let cfg = config(&options)?;
        mongodb::stream_latest_offset(&cfg, start.as_deref(), max_rows, cap.as_deref()).await
    })
}

/// The read partitions (JSON) of the micro-batch `(start, end]`.
#[pyfunction]
fn stream_partitions(
    py: Python<'_>,
    options: RawOptions,
    start: String,
    end: String,
) -> PyResult<Vec<String>> {
    run(py, "plan micro-batch", || {
        mongodb::stream_partitions(&config(&options)?, &start, &end)
    })
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    spark_ds_pybridge::init_module(m, "pyspark_ds_mongodb")?;
    m.add_function(wrap_pyfunction!(options_table, m)?)?;
    m.add_function(wrap_pyfunction!(validate_options, m)?)?;
    m.add_function(wrap_pyfunction!(python_settings, m)?)?;
    m.add_function(wrap_pyfunction!(describe, m)?)?;
    m.add_function(wrap_pyfunction!(check_read_schema, m)?)?;
    m.add_function(wrap_pyfunction!(push_filters, m)?)?;
    m.add_function(wrap_pyfunction!(plan_partitions, m)?)?;
    m.add_function(wrap_pyfunction!(open_reader, m)?)?;
    m.add_function(wrap_pyfunction!(prepare_write, m)?)?;
    m.add_function(wrap_pyfunction!(open_writer, m)?)?;
    m.add_function(wrap_pyfunction!(stream_initial_offset, m)?)?;
    m.add_function(wrap_pyfunction!(stream_latest_offset, m)?)?;
    m.add_function(wrap_pyfunction!(stream_partitions, m)?)?;
    Ok(())
}
