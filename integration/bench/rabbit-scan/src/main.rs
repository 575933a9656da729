//! The practical limit of the RabbitMQ connector: its own stream-queue reader and its
//! publisher with confirms (the same `lapin` client, the same Arrow conversion) with no
//! Spark and no Python in between.
//!
//! ```text
//! rabbit-scan read  --tasks 2 -o host=127.0.0.1 -o username=u -o password=p -o queue=q
//! rabbit-scan write --tasks 2 --rows 1000000 --body-bytes 100 [--batch-rows 65536] -o queue=q ...
//! ```
//!
//! `read` does what the Python layer does for `spark.read.format("rabbitmq").load()`: the
//! message schema (`describe`), the offset-range partitions from `startingOffsets` to
//! `endingOffsets` (`first` and `latest` by default), drained by `--tasks` concurrent
//! tasks. `write` publishes messages `[0, rows)` with `--tasks` publishers after
//! `prepare_write`, each body the message number left-padded with `x` to `--body-bytes`
//! bytes (the same bodies as `workload.rabbit_spark_frame`). One JSON line goes to stdout:
//! messages, seconds, Arrow bytes, partitions.

use std::process::ExitCode;
use std::sync::Arc;

use arrow_array::builder::BinaryBuilder;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use scan_driver::{BoxError, Tally};
use spark_ds_rabbitmq::Config;

/// The body size when `--body-bytes` is not given.
const DEFAULT_BODY_BYTES: usize = 100;

/// Spark's Arrow schema of the generated DataFrame: one binary `body` column.
fn spark_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new(
        "body",
        DataType::Binary,
        true,
    )]))
}

/// Messages [start, end): message `i`'s body is `i` in decimal, left-padded with `x` to
/// `body_bytes` bytes (a number longer than that is kept whole).
fn batch(
    schema: &SchemaRef,
    body_bytes: usize,
    start: u64,
    end: u64,
) -> Result<RecordBatch, BoxError> {
    let n = (end - start) as usize;
    let mut bodies = BinaryBuilder::with_capacity(n, n * body_bytes);
    let mut body = Vec::with_capacity(body_bytes);
    for i in start..end {
        body.clear();
        let digits = i.to_string();
        body.resize(body_bytes.saturating_sub(digits.len()), b'x');
        body.extend_from_slice(digits.as_bytes());
        bodies.append_value(&body);
    }
    let cols: Vec<ArrayRef> = vec![Arc::new(bodies.finish())];
    Ok(RecordBatch::try_new(schema.clone(), cols)?)
}

async fn read(cfg: Arc<Config>, tasks: usize) -> Result<(Tally, usize), BoxError> {
    // The schema of a default read: every message column.
    let schema = spark_ds_rabbitmq::describe();
    spark_ds_rabbitmq::check_read_schema(&cfg, &schema)?;
    let planned = spark_ds_rabbitmq::plan_partitions(&cfg).await?;
    scan_driver::drain(planned, tasks, move |partition| {
        let (cfg, schema) = (cfg.clone(), schema.clone());
        async move { spark_ds_rabbitmq::open_reader(&cfg, &schema, &partition).await }
    })
    .await
}

async fn write(
    cfg: Arc<Config>,
    tasks: usize,
    rows: u64,
    batch_rows: u64,
    body_bytes: usize,
) -> Result<(Tally, usize), BoxError> {
    let schema = spark_schema();
    spark_ds_rabbitmq::prepare_write(&cfg, &schema).await?;
    let sink_schema = schema.clone();
    let open = move || {
        let (cfg, schema) = (cfg.clone(), sink_schema.clone());
        async move { spark_ds_rabbitmq::open_writer(&cfg, schema, None).await }
    };
    scan_driver::fill(rows, tasks, batch_rows, open, move |start, end| {
        batch(&schema, body_bytes, start, end)
    })
    .await
}

fn main() -> ExitCode {
    scan_driver::main(
        "rabbit-scan",
        |options| Ok(Arc::new(spark_ds_rabbitmq::parse_config(options)?)),
        |args, cfg| {
            if args.is_read() {
                spark_ds_core::runtime::block_on(read(cfg, args.tasks))?
            } else {
                let body_bytes = match args.body_bytes {
                    0 => DEFAULT_BODY_BYTES,
                    n => n,
                };
                spark_ds_core::runtime::block_on(write(
                    cfg,
                    args.tasks,
                    args.rows,
                    args.batch_rows,
                    body_bytes,
                ))?
            }
        },
    )
}
