//! MongoDB logic of spark-ds: options, connections, schema inference, BSON/Arrow
//! conversion, partitioning, reads and writes. No Python here: the pyo3 module calls the
//! functions below.

mod bson_out;
pub mod change_stream;
pub mod client;
mod deadline;
pub mod errors;
pub mod from_arrow;
pub mod hints;
pub mod infer;
pub mod options;
pub mod partition;
pub mod pipeline;
pub mod pushdown;
pub mod read;
mod statement;
pub mod stream;
pub mod to_arrow;
pub mod write;

use std::future::Future;
use std::time::Duration;

use arrow_schema::{Schema, SchemaRef};
use spark_ds_core::{BatchSink, BatchSource, Result, RetryPolicy, TaskMetrics};

pub use options::{Config, OPTIONS, StreamMode};

/// System name used in every error.
pub const SYSTEM: &str = "mongodb";

/// First backoff of a retried step.
const INITIAL_BACKOFF: Duration = Duration::from_millis(250);

/// The README's option table.
pub fn options_table() -> String {
    OPTIONS.markdown_table()
}

/// Validates Spark's option map (lower-cased keys).
pub fn parse_config(raw: &[(String, String)]) -> Result<Config> {
    Config::parse(raw)
}

/// The retry budget of the options.
pub fn retry_policy(cfg: &Config) -> RetryPolicy {
    cfg.retry.policy(INITIAL_BACKOFF)
}

/// Runs a step inside a task under the retry policy: a server restarting or a connection
/// cut is waited out; only transient errors are retried, and each step is idempotent.
pub(crate) async fn retried<T, F, Fut>(cfg: &Config, operation: &str, step: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let metrics = TaskMetrics::new();
    spark_ds_core::retry(&retry_policy(cfg), &metrics, SYSTEM, operation, step).await
}

/// [`retried`] for planning on the driver, where the user waits: when no server answered
/// at all (the driver already waited `connectTimeoutMs` for one), a wrong address is far
/// likelier than a restart, so it ends at once.
pub(crate) async fn planned<T, F, Fut>(cfg: &Config, operation: &str, step: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let metrics = TaskMetrics::new();
    spark_ds_core::retry_unless(
        &retry_policy(cfg),
        &metrics,
        SYSTEM,
        operation,
        |e| errors::as_driver(e).is_some_and(errors::is_unreachable),
        step,
    )
    .await
}

/// The collection's Spark-compatible schema: inferred from sampled documents, with
/// `schemaHints` pinned.
pub async fn describe(cfg: &Config) -> Result<Schema> {
    cfg.namespace()?;
    planned(cfg, "infer schema", || read::infer_schema(cfg)).await
}

/// Checks the schema Spark will read (inferred or the user's) before any task: types the
/// reader can build, the corrupt-record column a string.
pub fn check_read_schema(cfg: &Config, schema: &Schema) -> Result<()> {
    read::check_schema(cfg, schema)
}

/// Keeps the filters the reader turns into a pre-filter `$match`; Spark re-checks every
/// filter (see [`pushdown`] for why none is accepted).
pub async fn push_filters(
    cfg: &Config,
    columns: &[String],
    filters_json: &str,
) -> Result<pushdown::PushDown> {
    let pushed = pushdown::push_filters(cfg, columns, filters_json)?;
    // The Python side logs only accepted filters, and none is: say what the server gets.
    log::info!(target: "spark_ds::mongodb", "mongodb pushdown: {}", pushed.explain);
    Ok(pushed)
}

/// The read partitions, each a JSON document.
pub async fn plan_partitions(
    cfg: &Config,
    columns: &[String],
    pushdown_state: Option<&str>,
) -> Result<Vec<String>> {
    cfg.namespace()?;
    planned(cfg, "plan partitions", || {
        read::plan_partitions(cfg, columns, pushdown_state)
    })
    .await
}

/// Reads one partition as Arrow batches of `schema` (the one Spark asked for).
pub async fn open_reader(
    cfg: &Config,
    schema: &Schema,
    pushdown_state: Option<&str>,
    partition_json: &str,
) -> Result<Box<dyn BatchSource>> {
    if change_stream::is_change_stream_partition(partition_json) {
        return retried(cfg, "open reader", || {
            change_stream::open_reader(cfg, schema, partition_json)
        })
        .await;
    }
    // Retries the opening itself, counted in the task's summary, and resumes the cursor.
    read::open_reader(cfg, schema, pushdown_state, partition_json).await
}

/// Driver-side preparation of a write: the DataFrame checked first, then save mode and
/// overwrite. Returns whether the tasks should write at all.
pub async fn prepare_write(cfg: &Config, schema: &Schema, overwrite: bool) -> Result<bool> {
    cfg.namespace()?;
    planned(cfg, "prepare write", || {
        write::prepare_write(cfg, schema, overwrite)
    })
    .await
}

/// A sink writing Arrow batches into the collection.
pub async fn open_writer(cfg: &Config, schema: SchemaRef) -> Result<Box<dyn BatchSink>> {
    cfg.namespace()?;
    retried(cfg, "open writer", || {
        write::open_writer(cfg, schema.clone())
    })
    .await
}

/// Where a new stream read starts, as the offset JSON Spark checkpoints.
pub async fn stream_initial_offset(cfg: &Config) -> Result<String> {
    cfg.namespace()?;
    match cfg.stream_mode {
        StreamMode::Poll => planned(cfg, "stream offsets", || stream::initial_offset(cfg)).await,
        StreamMode::ChangeStream => {
            planned(cfg, "stream offsets", || change_stream::initial_offset(cfg)).await
        }
    }
}

/// The end offset of the next micro-batch (see [`stream::latest_offset`]).
pub async fn stream_latest_offset(
    cfg: &Config,
    start: Option<&str>,
    max_rows: Option<u64>,
    cap: Option<&str>,
) -> Result<String> {
    cfg.namespace()?;
    retried(cfg, "stream offsets", || async {
        match cfg.stream_mode {
            StreamMode::Poll => stream::latest_offset(cfg, start, max_rows, cap).await,
            StreamMode::ChangeStream => {
                change_stream::latest_offset(cfg, start, max_rows, cap).await
            }
        }
    })
    .await
}

/// The read partitions of the micro-batch `(start, end]`.
pub fn stream_partitions(cfg: &Config, start: &str, end: &str) -> Result<Vec<String>> {
    match cfg.stream_mode {
        StreamMode::Poll => stream::partitions(cfg, start, end),
        StreamMode::ChangeStream => change_stream::partitions(start, end),
    }
}
