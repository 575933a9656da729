//! The `pyspark_ds_rabbitmq._native` extension module: converts arguments, calls the plain
//! Rust crate `spark_ds_rabbitmq` through the bridge, and converts results back.

use std::collections::HashMap;
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use spark_ds_core::{Error, Result};
use spark_ds_pybridge::arrow::{schema_from_pyarrow, schema_to_pyarrow};
use spark_ds_pybridge::call::{run, run_async};
use spark_ds_pybridge::held::HeldConsumer;
use spark_ds_pybridge::streams::{BatchStream, BatchWriter};
use spark_ds_rabbitmq as rabbitmq;

type RawOptions = HashMap<String, String>;
/// (pyarrow schema, partition-key columns, clustering-key columns): a queue has no keys.
type Described = (Py<PyAny>, Vec<String>, Vec<String>);

fn config(options: &RawOptions) -> Result<rabbitmq::Config> {
    let pairs: Vec<(String, String)> = options
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    rabbitmq::parse_config(&pairs)
}

/// The README table of options, generated from the option definitions.
#[pyfunction]
fn options_table() -> String {
    rabbitmq::options_table()
}

/// Validates options without connecting; raises ConfigError naming the bad option.
#[pyfunction]
fn validate_options(py: Python<'_>, options: RawOptions) -> PyResult<()> {
    run(py, "validate options", || config(&options).map(|_| ()))
}

/// The options the Python glue acts on, validated by the same definitions as every other
/// option: `{"pushdown": False, "logLevel": str | None, "maxRowsPerTrigger": int | None,
/// "maxBytesPerTrigger": int | None, "heldConsumer": bool}`.
#[pyfunction]
fn python_settings<'py>(py: Python<'py>, options: RawOptions) -> PyResult<Bound<'py, PyDict>> {
    let cfg = run(py, "validate options", || config(&options))?;
    let settings = PyDict::new(py);
    settings.set_item("pushdown", false)?;
    settings.set_item("logLevel", cfg.log.log_level.map(|l| l.name()))?;
    settings.set_item("maxRowsPerTrigger", cfg.max_messages_per_trigger)?;
    settings.set_item("maxBytesPerTrigger", cfg.max_bytes_per_trigger)?;
    settings.set_item("heldConsumer", cfg.reads_held())?;
    Ok(settings)
}

/// The message schema as (pyarrow schema, [], []).
#[pyfunction]
fn describe(py: Python<'_>, options: RawOptions) -> PyResult<Described> {
    // Spark asks for the schema of reads only: a read names its queue.
    run(py, "describe", || {
        config(&options).and_then(|cfg| cfg.queue().map(|_| ()))
    })?;
    Ok((
        schema_to_pyarrow(py, &rabbitmq::describe())?,
        vec![],
        vec![],
    ))
}

/// Checks the schema Spark will read before any task; raises ConfigError naming the column.
#[pyfunction]
fn check_read_schema(
    py: Python<'_>,
    options: RawOptions,
    schema: &Bound<'_, PyAny>,
) -> PyResult<()> {
    let schema = schema_from_pyarrow(schema)?;
    run(py, "check schema", || {
        rabbitmq::check_read_schema(&config(&options)?, &schema)
    })
}

/// Plans the partitions of a batch read (`startingOffsets` to `endingOffsets`) as JSON.
#[pyfunction]
#[pyo3(signature = (options, columns, pushdown_state=None))]
fn plan_partitions(
    py: Python<'_>,
    options: RawOptions,
    columns: Vec<String>,
    pushdown_state: Option<String>,
) -> PyResult<Vec<String>> {
    let _ = (columns, pushdown_state); // every partition reads whole messages
    run_async(py, "plan partitions", async {
        rabbitmq::plan_partitions(&config(&options)?).await
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
    let _ = (columns, pushdown_state); // the schema names the columns
    let requested = schema.map(schema_from_pyarrow).transpose()?;
    let source = run_async(py, "open reader", async {
        let cfg = config(&options)?;
        let schema = requested.map(Arc::new).unwrap_or_else(rabbitmq::describe);
        rabbitmq::open_reader(&cfg, &schema, &partition).await
    })?;
    Ok(BatchStream::new(source, "read partition"))
}

/// Driver-side checks of a write; a queue cannot be overwritten.
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
        if overwrite {
            return Err(Error::config(
                rabbitmq::SYSTEM,
                "mode(\"overwrite\") cannot apply to RabbitMQ: published messages cannot be taken back; use mode(\"append\")",
            ));
        }
        rabbitmq::prepare_write(&cfg, &schema).await?;
        Ok(true)
    })
}

/// Opens the publisher of one write task; a streaming write's task names its query,
/// micro-batch and partition (`query_id`, `batch_id`, `partition`) to tag its messages.
#[pyfunction]
#[pyo3(signature = (options, schema, stream_task=None))]
fn open_writer(
    py: Python<'_>,
    options: RawOptions,
    schema: &Bound<'_, PyAny>,
    stream_task: Option<HashMap<String, String>>,
) -> PyResult<BatchWriter> {
    let schema = Arc::new(schema_from_pyarrow(schema)?);
    let sink = run_async(py, "open writer", async {
        let cfg = config(&options)?;
        let task = stream_task
            .as_ref()
            .map(parse_stream_task)
            .transpose()?
            .flatten();
        rabbitmq::open_writer(&cfg, schema, task).await
    })?;
    Ok(BatchWriter::new(sink, "write batch"))
}

/// The micro-batch of a streaming write task, when Spark named one (a batch write has
/// none; neither has a stream write on a Spark without the task-local properties).
fn parse_stream_task(task: &HashMap<String, String>) -> Result<Option<rabbitmq::StreamTask>> {
    let (Some(query_id), Some(batch_id)) = (task.get("query_id"), task.get("batch_id")) else {
        return Ok(None);
    };
    let number = |key: &str, value: &str| {
        value.parse::<i64>().map_err(|_| {
            Error::internal(
                rabbitmq::SYSTEM,
                "open writer",
                format!("the stream task's `{key}` is not a number: `{value}`"),
            )
        })
    };
    let partition = task.get("partition").map_or("0", String::as_str);
    let partition = u32::try_from(number("partition", partition)?).map_err(|_| {
        Error::internal(
            rabbitmq::SYSTEM,
            "open writer",
            format!("the stream task's `partition` is out of range: `{partition}`"),
        )
    })?;
    Ok(Some(rabbitmq::StreamTask {
        query_id: query_id.clone(),
        batch_id: number("batch_id", batch_id)?,
        partition,
    }))
}

/// Where a new stream read starts: the offset as JSON.
#[pyfunction]
fn stream_initial_offset(py: Python<'_>, options: RawOptions) -> PyResult<String> {
    run_async(py, "stream offsets", async {
        rabbitmq::stream_initial_offset(&config(&options)?).await
    })
}

/// The end offset (JSON) of the next micro-batch after `start`: at most `max_rows` stream
/// offsets, never beyond `cap`.
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
        rabbitmq::stream_latest_offset(&cfg, start.as_deref(), max_rows, cap.as_deref()).await
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
        rabbitmq::stream_partitions(&config(&options)?, &start, &end)
    })
}

/// The consumer a stream read of a classic or quorum queue holds on the driver; its
/// batches are of `schema`.
#[pyfunction]
fn open_held_consumer(
    py: Python<'_>,
    options: RawOptions,
    schema: &Bound<'_, PyAny>,
) -> PyResult<HeldConsumer> {
    let schema = Arc::new(schema_from_pyarrow(schema)?);
    let stream = run_async(py, "open consumer", async {
        rabbitmq::open_held_consumer(&config(&options)?, &schema).await
    })?;
    Ok(HeldConsumer::new(stream))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    spark_ds_pybridge::init_module(m, "pyspark_ds_rabbitmq")?;
    m.add_function(wrap_pyfunction!(options_table, m)?)?;
    m.add_function(wrap_pyfunction!(validate_options, m)?)?;
    m.add_function(wrap_pyfunction!(python_settings, m)?)?;
    m.add_function(wrap_pyfunction!(describe, m)?)?;
    m.add_function(wrap_pyfunction!(check_read_schema, m)?)?;
    m.add_function(wrap_pyfunction!(plan_partitions, m)?)?;
    m.add_function(wrap_pyfunction!(open_reader, m)?)?;
    m.add_function(wrap_pyfunction!(prepare_write, m)?)?;
    m.add_function(wrap_pyfunction!(open_writer, m)?)?;
    m.add_function(wrap_pyfunction!(stream_initial_offset, m)?)?;
    m.add_function(wrap_pyfunction!(stream_latest_offset, m)?)?;
    m.add_function(wrap_pyfunction!(stream_partitions, m)?)?;
    m.add_function(wrap_pyfunction!(open_held_consumer, m)?)?;
    m.add_class::<HeldConsumer>()?;
    Ok(())
}
