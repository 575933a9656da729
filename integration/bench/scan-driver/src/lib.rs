//! What the benchmark's Rust-limit programs (`rust-scan`, `mongo-scan`, `rabbit-scan`)
//! share: their command line, draining planned partitions with N concurrent tasks, filling
//! N sinks with generated batches, and the one JSON line they print. Each program brings
//! only its connector's calls and its data set.
//!
//! ```text
//! <program> read  --tasks 2 -o key=value...
//! <program> write --tasks 2 --rows 1000000 [--batch-rows 65536] [--body-bytes 100] -o key=value...
//! ```

use std::collections::VecDeque;
use std::future::Future;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use arrow_array::RecordBatch;
use spark_ds_core::runtime::runtime;
use spark_ds_core::{BatchSink, BatchSource};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub struct Args {
    pub op: String,
    pub tasks: usize,
    pub rows: u64,
    pub batch_rows: u64,
    /// Body size of each generated message (message programs only; 0: the program's default).
    pub body_bytes: usize,
    /// Connector options, keys lower-cased as Spark hands them to a connector.
    pub options: Vec<(String, String)>,
}

impl Args {
    pub fn is_read(&self) -> bool {
        self.op == "read"
    }
}

fn parse_args(program: &str) -> Result<Args, BoxError> {
    let mut it = std::env::args().skip(1);
    let op = it.next().ok_or_else(|| {
        format!(
            "usage: {program} read|write [--tasks N] [--rows N] [--batch-rows N] [--body-bytes N] -o key=value..."
        )
    })?;
    if op != "read" && op != "write" {
        return Err(format!("unknown operation `{op}` (read or write)").into());
    }
    let mut args = Args {
        op,
        tasks: 2,
        rows: 0,
        batch_rows: 65_536,
        body_bytes: 0,
        options: Vec::new(),
    };
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--tasks" => args.tasks = value.parse()?,
            "--rows" => args.rows = value.parse()?,
            "--batch-rows" => args.batch_rows = value.parse()?,
            "--body-bytes" => args.body_bytes = value.parse()?,
            "-o" => {
                let (k, v) = value.split_once('=').ok_or("-o takes key=value")?;
                args.options.push((k.to_ascii_lowercase(), v.to_string()));
            }
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    Ok(args)
}

/// Rows and Arrow bytes moved.
#[derive(Default)]
pub struct Tally {
    pub rows: u64,
    pub bytes: u64,
}

impl Tally {
    fn count(&mut self, batch: &RecordBatch) {
        self.rows += batch.num_rows() as u64;
        self.bytes += batch.get_array_memory_size() as u64;
    }

    fn add(&mut self, other: Tally) {
        self.rows += other.rows;
        self.bytes += other.bytes;
    }
}

/// Reads every planned partition to its end with `tasks` concurrent tasks, each taking the
/// next partition from a shared queue and opening it with `open`. Returns the tally and the
/// number of partitions.
pub async fn drain<F, Fut>(
    planned: Vec<String>,
    tasks: usize,
    open: F,
) -> Result<(Tally, usize), BoxError>
where
    F: Fn(String) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = spark_ds_core::Result<Box<dyn BatchSource>>> + Send,
{
    let n = planned.len();
    let queue = Arc::new(Mutex::new(VecDeque::from(planned)));
    let mut handles = Vec::new();
    for _ in 0..tasks.max(1) {
        let (queue, open) = (queue.clone(), open.clone());
        handles.push(runtime()?.spawn(async move {
            let mut tally = Tally::default();
            loop {
                let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
                let Some(partition) = next else { break };
                let mut source = open(partition).await?;
                while let Some(b) = source.next_batch().await? {
                    tally.count(&b);
                }
            }
            Ok::<Tally, BoxError>(tally)
        }));
    }
    let mut total = Tally::default();
    for h in handles {
        total.add(h.await??);
    }
    Ok((total, n))
}

/// Writes rows `[0, rows)` through `tasks` sinks opened with `open`, each its share of the
/// rows in batches of `batch_rows` made by `batch(start, end)`. Returns the tally and the
/// number of sinks.
pub async fn fill<O, Fut, B>(
    rows: u64,
    tasks: usize,
    batch_rows: u64,
    open: O,
    batch: B,
) -> Result<(Tally, usize), BoxError>
where
    O: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = spark_ds_core::Result<Box<dyn BatchSink>>> + Send,
    B: Fn(u64, u64) -> Result<RecordBatch, BoxError> + Clone + Send + 'static,
{
    let tasks = tasks.max(1) as u64;
    let per_task = rows.div_ceil(tasks);
    let mut handles = Vec::new();
    for t in 0..tasks {
        let (lo, hi) = ((t * per_task).min(rows), ((t + 1) * per_task).min(rows));
        let (open, batch) = (open.clone(), batch.clone());
        handles.push(runtime()?.spawn(async move {
            let mut tally = Tally::default();
            let mut sink = open().await?;
            let mut start = lo;
            while start < hi {
                let end = (start + batch_rows).min(hi);
                let b = batch(start, end)?;
                tally.count(&b);
                sink.write(b).await?;
                start = end;
            }
            sink.finish().await?;
            Ok::<Tally, BoxError>(tally)
        }));
    }
    let mut total = Tally::default();
    for h in handles {
        total.add(h.await??);
    }
    Ok((total, tasks as usize))
}

/// The program's `main`: parses the arguments, builds the connector's config with
/// `config`, times `scan` and prints one JSON line (rows, seconds, Arrow bytes, partitions).
pub fn main<C>(
    program: &str,
    config: impl FnOnce(&[(String, String)]) -> Result<C, BoxError>,
    scan: impl FnOnce(&Args, C) -> Result<(Tally, usize), BoxError>,
) -> ExitCode {
    let run = || -> Result<(), BoxError> {
        let args = parse_args(program)?;
        let cfg = config(&args.options)?;
        let started = Instant::now();
        let (tally, partitions) = scan(&args, cfg)?;
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
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{program}: {e}");
            ExitCode::FAILURE
        }
    }
}
