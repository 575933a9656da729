//! The practical limit of the MongoDB connector: its own reader and writer (the same
//! driver, the same BSON/Arrow conversion) with no Spark and no Python in between.
//!
//! ```text
//! mongo-scan read  --tasks 2 -o host=127.0.0.1 -o database=db -o collection=c
//! mongo-scan write --tasks 2 --rows 1000000 [--batch-rows 65536] -o operationType=insert -o ...
//! ```
//!
//! `read` does what the Python layer does for `spark.read.format("mongodb").load()`: infers
//! the schema (`describe`), plans the partitions and drains them with `--tasks` concurrent
//! tasks; `write` generates the benchmark's documents (the same values as
//! `integration/bench/workload.py`) and writes them with `--tasks` sinks after
//! `prepare_write`. One JSON line goes to stdout: rows, seconds, Arrow bytes, partitions.

use std::collections::VecDeque;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::{
    ArrayRef, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray, StructArray,
    TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use spark_ds_core::runtime::runtime;
use spark_ds_mongodb::Config;

const TS_BASE: i64 = 1_700_000_000;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

struct Args {
    op: String,
    tasks: usize,
    rows: u64,
    batch_rows: u64,
    options: Vec<(String, String)>,
}

fn parse_args() -> Result<Args, BoxError> {
    let mut it = std::env::args().skip(1);
    let op = it.next().ok_or(
        "usage: mongo-scan read|write [--tasks N] [--rows N] [--batch-rows N] -o key=value...",
    )?;
    if op != "read" && op != "write" {
        return Err(format!("unknown operation `{op}` (read or write)").into());
    }
    let mut args = Args {
        op,
        tasks: 2,
        rows: 0,
        batch_rows: 65_536,
        options: Vec::new(),
    };
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--tasks" => args.tasks = value.parse()?,
            "--rows" => args.rows = value.parse()?,
            "--batch-rows" => args.batch_rows = value.parse()?,
            "-o" => {
                // Spark lower-cases option keys before the connector sees them.
                let (k, v) = value.split_once('=').ok_or("-o takes key=value")?;
                args.options.push((k.to_ascii_lowercase(), v.to_string()));
            }
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    Ok(args)
}

fn nested_fields() -> (Fields, Fields) {
    let inner = Fields::from(vec![Field::new("x", DataType::Float64, true)]);
    let nested = Fields::from(vec![
        Field::new("a", DataType::Int32, true),
        Field::new("b", DataType::Utf8, true),
        Field::new("inner", DataType::Struct(inner.clone()), true),
    ]);
    (nested, inner)
}

/// Spark's Arrow schema of the generated DataFrame (`workload.mongo_spark_frame`).
fn spark_schema() -> SchemaRef {
    let (nested, _) = nested_fields();
    Arc::new(Schema::new(vec![
        Field::new("_id", DataType::Int64, true),
        Field::new("i", DataType::Int32, true),
        Field::new("d", DataType::Float64, true),
        Field::new("s", DataType::Utf8, true),
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        Field::new(
            "tags",
            DataType::List(Arc::new(Field::new("element", DataType::Utf8, true))),
            true,
        ),
        Field::new("nested", DataType::Struct(nested), true),
    ]))
}

/// Documents [start, end) of the benchmark data set: the same values as `workload.py`.
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
    let (nested_fields, inner_fields) = nested_fields();
    let inner = StructArray::try_new(
        inner_fields,
        vec![Arc::new(Float64Array::from_iter_values(
            ids.iter().map(|i| *i as f64 * 0.25),
        )) as ArrayRef],
        None,
    )?;
    let nested = StructArray::try_new(
        nested_fields,
        vec![
            Arc::new(Int32Array::from_iter_values(
                ids.iter().map(|i| (i % 1000) as i32),
            )) as ArrayRef,
            Arc::new(StringArray::from_iter_values(
                ids.iter().map(|i| format!("b{}", i % 13)),
            )),
            Arc::new(inner),
        ],
        None,
    )?;
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
        Arc::new(tags.finish()),
        Arc::new(nested),
    ];
    Ok(RecordBatch::try_new(schema.clone(), cols)?)
}

#[derive(Default)]
struct Tally {
    rows: u64,
    bytes: u64,
}

async fn read(cfg: Arc<Config>, tasks: usize) -> Result<(Tally, usize), BoxError> {
    // The schema a default read gets: inferred, as `spark.read.format("mongodb")` does.
    let schema = Arc::new(spark_ds_mongodb::describe(&cfg).await?);
    spark_ds_mongodb::check_read_schema(&cfg, &schema)?;
    let cols: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let planned = spark_ds_mongodb::plan_partitions(&cfg, &cols, None).await?;
    let n = planned.len();
    let queue = Arc::new(Mutex::new(VecDeque::from(planned)));
    let mut handles = Vec::new();
    for _ in 0..tasks.max(1) {
        let (cfg, queue, schema) = (cfg.clone(), queue.clone(), schema.clone());
        handles.push(runtime()?.spawn(async move {
            let mut tally = Tally::default();
            loop {
                let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
                let Some(partition) = next else { break };
                let mut source =
                    spark_ds_mongodb::open_reader(&cfg, &schema, None, &partition).await?;
                while let Some(b) = source.next_batch().await? {
                    tally.rows += b.num_rows() as u64;
                    tally.bytes += b.get_array_memory_size() as u64;
                }
            }
            Ok::<Tally, BoxError>(tally)
        }));
    }
    let mut total = Tally::default();
    for h in handles {
        let t = h.await??;
        total.rows += t.rows;
        total.bytes += t.bytes;
    }
    Ok((total, n))
}

async fn write(
    cfg: Arc<Config>,
    tasks: usize,
    rows: u64,
    batch_rows: u64,
) -> Result<(Tally, usize), BoxError> {
    let schema = spark_schema();
    if !spark_ds_mongodb::prepare_write(&cfg, &schema, false).await? {
        return Err("prepare_write says nothing is to be written (saveMode)".into());
    }
    let tasks = tasks.max(1) as u64;
    let per_task = rows.div_ceil(tasks);
    let mut handles = Vec::new();
    for t in 0..tasks {
        let (lo, hi) = ((t * per_task).min(rows), ((t + 1) * per_task).min(rows));
        let (cfg, schema) = (cfg.clone(), schema.clone());
        handles.push(runtime()?.spawn(async move {
            let mut tally = Tally::default();
            let mut sink = spark_ds_mongodb::open_writer(&cfg, schema.clone()).await?;
            let mut start = lo;
            while start < hi {
                let end = (start + batch_rows).min(hi);
                let b = batch(&schema, start, end)?;
                tally.rows += b.num_rows() as u64;
                tally.bytes += b.get_array_memory_size() as u64;
                sink.write(b).await?;
                start = end;
            }
            sink.finish().await?;
            Ok::<Tally, BoxError>(tally)
        }));
    }
    let mut total = Tally::default();
    for h in handles {
        let t = h.await??;
        total.rows += t.rows;
        total.bytes += t.bytes;
    }
    Ok((total, tasks as usize))
}

fn run() -> Result<(), BoxError> {
    let args = parse_args()?;
    let cfg = Arc::new(spark_ds_mongodb::parse_config(&args.options)?);
    let started = Instant::now();
    let (tally, partitions) = if args.op == "read" {
        spark_ds_core::runtime::block_on(read(cfg, args.tasks))??
    } else {
        spark_ds_core::runtime::block_on(write(cfg, args.tasks, args.rows, args.batch_rows))??
    };
    let seconds = started.elapsed().as_secs_f64();
    let out = serde_json::json!({
        "op": args.op,
        "rows": tally.rows,
        "seconds": seconds,
        "arrow_bytes": tally.bytes,
        "partitions": partitions,
        "tasks": args.tasks,
    });
    println!("{out}");
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mongo-scan: {e}");
            ExitCode::FAILURE
        }
    }
}
