//! RabbitMQ logic of spark-ds: options, connections, stream-queue offsets and range reads,
//! and publishing with confirms. No Python here: the pyo3 module calls the functions below.

pub mod client;
pub mod errors;
pub mod json_body;
pub mod messages;
pub mod offsets;
pub mod options;
pub mod publish;
pub mod queue;
pub mod shape;
pub mod stream;
pub mod topology;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use arrow_schema::{Schema, SchemaRef};
use spark_ds_core::held::HeldStream;
use spark_ds_core::{BatchSink, BatchSource, Error, Result, RetryPolicy, TaskMetrics};

pub use offsets::StreamPoint;
pub use options::{Config, OPTIONS};
pub use publish::StreamTask;

/// System name used in every error.
pub const SYSTEM: &str = "rabbitmq";

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

/// Runs an idempotent step under the retry policy: a broker restarting or a connection cut
/// is waited out; only transient errors are retried.
async fn retried<T, F, Fut>(cfg: &Config, operation: &str, step: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let metrics = TaskMetrics::new();
    spark_ds_core::retry(&retry_policy(cfg), &metrics, SYSTEM, operation, step).await
}

/// The schema of every read: one row per message.
pub fn describe() -> SchemaRef {
    messages::schema()
}

/// Checks the schema Spark will read before any task.
pub fn check_read_schema(cfg: &Config, schema: &Schema) -> Result<()> {
    let json = cfg.body_format == options::BodyFormat::Json;
    messages::check_schema(schema, json)?;
    if json {
        json_body::JsonLayout::of(schema, cfg.parse_mode, cfg.corrupt_column())?;
    }
    Ok(())
}

/// Where a new stream read starts.
pub async fn stream_initial_offset(cfg: &Config) -> Result<String> {
    let queue = cfg.queue()?;
    let start = retried(cfg, "find the starting offset", || {
        stream::starting_point(cfg)
    })
    .await?;
    Ok(start.to_json(queue))
}

/// The end offset of the next micro-batch after `start` (JSON in, JSON out).
pub async fn stream_latest_offset(
    cfg: &Config,
    start: Option<&str>,
    max_offsets: Option<u64>,
    cap: Option<&str>,
) -> Result<String> {
    let queue = cfg.queue()?;
    let start = start
        .map(|s| StreamPoint::from_json(queue, s))
        .transpose()?;
    let cap = cap.map(|s| StreamPoint::from_json(queue, s)).transpose()?;
    let end = retried(cfg, "find the latest offset", || {
        stream::next_end(cfg, start, max_offsets, cap)
    })
    .await?;
    Ok(end.to_json(queue))
}

/// The partitions of a micro-batch `(start, end]`.
pub fn stream_partitions(cfg: &Config, start: &str, end: &str) -> Result<Vec<String>> {
    let queue = cfg.queue()?;
    let start = StreamPoint::from_json(queue, start)?;
    let end = StreamPoint::from_json(queue, end)?;
    stream::plan(cfg, start, end)
}

/// The partitions of a batch read, from `startingOffsets` to `endingOffsets`.
pub async fn plan_partitions(cfg: &Config) -> Result<Vec<String>> {
    if cfg.reads_held() {
        return Err(Error::config(
            SYSTEM,
            format!(
                "a batch read needs a stream queue, and option `queueType` says `{}`: a classic or quorum queue gives each message to one consumer and drops it once acknowledged, so it has no range to read; read it with `spark.readStream`",
                cfg.queue_type().name()
            ),
        ));
    }
    retried(cfg, "declare", || topology::declare(cfg)).await?;
    let (start, end) = retried(cfg, "plan partitions", || async {
        Ok((
            stream::starting_point(cfg).await?,
            stream::ending_point(cfg).await?,
        ))
    })
    .await?;
    stream::plan(cfg, start, end)
}

/// Opens the consumer the driver holds for a stream read of a classic or quorum queue.
pub async fn open_held_consumer(cfg: &Config, schema: &SchemaRef) -> Result<Box<dyn HeldStream>> {
    check_read_schema(cfg, schema)?;
    retried(cfg, "open consumer", || queue::open(cfg, schema)).await
}

/// Reads one planned partition (a batch read's or a micro-batch's) as batches of `schema`.
pub async fn open_reader(
    cfg: &Config,
    schema: &SchemaRef,
    partition_json: &str,
) -> Result<Box<dyn BatchSource>> {
    let reader = stream::RangeReader::open(cfg, schema, partition_json).await?;
    Ok(Box::new(reader))
}

/// Checks a write on the driver before any task runs.
pub async fn prepare_write(cfg: &Config, schema: &Schema) -> Result<()> {
    // What needs no broker first: a DataFrame that cannot be published declares nothing.
    publish::check(cfg, schema)?;
    retried(cfg, "declare", || topology::declare(cfg)).await?;
    retried(cfg, "prepare write", || publish::check_exchange(cfg)).await
}

/// Opens the publisher of one write task.
pub async fn open_writer(
    cfg: &Config,
    schema: SchemaRef,
    stream_task: Option<StreamTask>,
) -> Result<Box<dyn BatchSink>> {
    let publisher = retried(cfg, "open writer", || {
        publish::Publisher::open(cfg, Arc::clone(&schema), stream_task.clone())
    })
    .await?;
    Ok(Box::new(publisher))
}
