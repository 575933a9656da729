//! The practical limit of the Cassandra connector: its own reader and writer (the same
//! driver, the same Arrow conversion) with no Spark and no Python in between.
//!
//! ```text
//! rust-scan read  --tasks 2 -o host=127.0.0.1 -o keyspace=ks -o table=t
//! rust-scan write --tasks 2 --rows 1000000 [--batch-rows 65536] -o ...
//! ```
//!
//! `read` plans the token-range partitions exactly as the Spark reader does and drains them
//! with `--tasks` concurrent tasks; `write` generates the benchmark's data set (the same
//! values as `integration/bench/workload.py`) and writes it with `--tasks` sinks. One JSON
//! line goes to stdout: rows, seconds, Arrow bytes, partitions.

use std::process::ExitCode;
use std::sync::Arc;

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::{
    ArrayRef, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use scan_driver::{BoxError, Tally};
use spark_ds_cassandra::Config;

const COLUMNS: [&str; 7] = ["id", "i", "d", "s", "ts", "u", "tags"];
const TS_BASE: i64 = 1_700_000_000;
const MIX: u64 = 0x0123_4567_89AB_CDEF;

fn columns() -> Vec<String> {
    COLUMNS.iter().map(|c| c.to_string()).collect()
}

/// Spark's Arrow schema of the bench table (what `to_arrow_schema` gives the writer).
fn spark_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("i", DataType::Int32, true),
        Field::new("d", DataType::Float64, true),
        Field::new("s", DataType::Utf8, true),
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        Field::new("u", DataType::Utf8, true),
        Field::new(
            "tags",
            DataType::List(Arc::new(Field::new("element", DataType::Utf8, true))),
            true,
        ),
    ]))
}

fn uuid_text(i: u64) -> String {
    let h = format!("{i:016x}{:016x}", i ^ MIX);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Rows [start, end) of the benchmark data set: the same values as `workload.py`.
fn batch(schema: &SchemaRef, start: u64, end: u64) -> Result<RecordBatch, BoxError> {
    let ids: Vec<i64> = (start as i64..end as i64).collect();
    let mut tags = ListBuilder::new(StringBuilder::new()).with_field(Arc::new(Field::new(
        "element",
        DataType::Utf8,
        true,
    )));
    for i in &ids {
        tags.values().append_value(format!("t{}", i % 10));
        tags.values().append_value(format!("g{}", i % 7));
        tags.append(true);
    }
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(ids.clone())),
        Arc::new(Int32Array::from_iter_values(
            ids.iter().map(|i| (i % 100_000) as i32),
        )),
        Arc::new(Float64Array::from_iter_values(
            ids.iter().map(|i| *i as f64 * 0.5),
        )),
        Arc::new(StringArray::from_iter_values(
            ids.iter().map(|i| format!("name-{i}")),
        )),
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(
                ids.iter().map(|i| (i + TS_BASE) * 1_000_000),
            )
            .with_timezone("UTC"),
        ),
        Arc::new(StringArray::from_iter_values(
            ids.iter().map(|i| uuid_text(*i as u64)),
        )),
        Arc::new(tags.finish()),
    ];
    Ok(RecordBatch::try_new(schema.clone(), cols)?)
}

async fn read(cfg: Arc<Config>, tasks: usize) -> Result<(Tally, usize), BoxError> {
    let cols = columns();
    let planned = spark_ds_cassandra::plan_partitions(&cfg, &cols, None).await?;
    scan_driver::drain(planned, tasks, move |partition| {
        let (cfg, cols) = (cfg.clone(), cols.clone());
        async move { spark_ds_cassandra::open_reader(&cfg, &cols, None, &partition).await }
    })
    .await
}

async fn write(
    cfg: Arc<Config>,
    tasks: usize,
    rows: u64,
    batch_rows: u64,
) -> Result<(Tally, usize), BoxError> {
    let schema = spark_schema();
    spark_ds_cassandra::prepare_write(&cfg, &schema, false).await?;
    let sink_schema = schema.clone();
    let open = move || {
        let (cfg, schema) = (cfg.clone(), sink_schema.clone());
        async move { spark_ds_cassandra::open_writer(&cfg, schema).await }
    };
    scan_driver::fill(rows, tasks, batch_rows, open, move |start, end| {
        batch(&schema, start, end)
    })
    .await
}

fn main() -> ExitCode {
    scan_driver::main(
        "rust-scan",
        |options| Ok(Arc::new(spark_ds_cassandra::parse_config(options)?)),
        |args, cfg| {
            if args.is_read() {
                spark_ds_core::runtime::block_on(read(cfg, args.tasks))?
            } else {
                spark_ds_core::runtime::block_on(write(
                    cfg,
                    args.tasks,
                    args.rows,
                    args.batch_rows,
                ))?
            }
        },
    )
}
