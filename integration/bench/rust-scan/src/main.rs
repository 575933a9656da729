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

use std::collections::VecDeque;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::{
    ArrayRef, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use spark_ds_cassandra::Config;
use spark_ds_core::runtime::runtime;

const COLUMNS: [&str; 7] = ["id", "i", "d", "s", "ts", "u", "tags"];
const TS_BASE: i64 = 1_700_000_000;
const MIX: u64 = 0x0123_4567_89AB_CDEF;

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
        "usage: rust-scan read|write [--tasks N] [--rows N] [--batch-rows N] -o key=value...",
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
                let (k, v) = value.split_once('=').ok_or("-o takes key=value")?;
                args.options.push((k.to_ascii_lowercase(), v.to_string()));
            }
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    Ok(args)
}

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

#[derive(Default)]
struct Tally {
    rows: u64,
    bytes: u64,
}

async fn read(cfg: Arc<Config>, tasks: usize) -> Result<(Tally, usize), BoxError> {
    let cols = columns();
    let planned = spark_ds_cassandra::plan_partitions(&cfg, &cols, None).await?;
    let n = planned.len();
    let queue = Arc::new(Mutex::new(VecDeque::from(planned)));
    let mut handles = Vec::new();
    for _ in 0..tasks.max(1) {
        let (cfg, queue, cols) = (cfg.clone(), queue.clone(), cols.clone());
        handles.push(runtime()?.spawn(async move {
            let mut tally = Tally::default();
            loop {
                let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
                let Some(partition) = next else { break };
                let mut source =
                    spark_ds_cassandra::open_reader(&cfg, &cols, None, &partition).await?;
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
    spark_ds_cassandra::prepare_write(&cfg, &schema, false).await?;
    let tasks = tasks.max(1) as u64;
    let per_task = rows.div_ceil(tasks);
    let mut handles = Vec::new();
    for t in 0..tasks {
        let (lo, hi) = ((t * per_task).min(rows), ((t + 1) * per_task).min(rows));
        let (cfg, schema) = (cfg.clone(), schema.clone());
        handles.push(runtime()?.spawn(async move {
            let mut tally = Tally::default();
            let mut sink = spark_ds_cassandra::open_writer(&cfg, schema.clone()).await?;
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
    let cfg = Arc::new(spark_ds_cassandra::parse_config(&args.options)?);
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
            eprintln!("rust-scan: {e}");
            ExitCode::FAILURE
        }
    }
}
