//! Cassandra/ScyllaDB logic of spark-ds: options, schema and type mapping, token-range
//! planning, filter pushdown, Arrow reads and writes, key lookups. No Python here: the
//! pyo3 module calls the functions re-exported below.

pub mod ddl;
pub mod errors;
pub mod from_arrow;
pub mod lookup;
pub mod options;
pub mod pushdown;
pub mod query;
pub mod read;
pub mod ring;
pub mod schema;
pub mod session;
pub mod throttle;
pub mod tls_probe;
pub mod to_arrow;
pub mod types;
pub mod write;

use std::future::Future;

use arrow_array::RecordBatch;
use arrow_schema::{Schema, SchemaRef};
use spark_ds_core::{BatchSink, BatchSource, Result, TaskMetrics};

pub use lookup::LookupStats;
pub use options::{Config, OPTIONS};
pub use pushdown::PushDown;
pub use schema::TableDescription;

/// System name used in every error.
pub const SYSTEM: &str = "cassandra";

/// The README's option table.
pub fn options_table() -> String {
    OPTIONS.markdown_table()
}

/// Validates Spark's option map (lower-cased keys).
pub fn parse_config(raw: &[(String, String)]) -> Result<Config> {
    Config::parse(raw)
}

/// Runs a whole step (connect, read metadata, prepare) under the connector's retry policy,
/// so a task that starts while a node restarts or a connection is cut waits it out instead
/// of failing at once. Only transient errors are retried; each step is idempotent.
async fn retried<T, F, Fut>(cfg: &Config, operation: &str, step: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let metrics = TaskMetrics::new();
    spark_ds_core::retry(&read::retry_policy(cfg), &metrics, SYSTEM, operation, step).await
}

/// [`retried`] for the steps of planning on the driver (load(), save(), schema()), where the
/// user waits: a connection every contact point refuses ends it at once, as a wrong host or
/// port is far likelier there than the restarting node tasks ride out.
async fn planned<T, F, Fut>(cfg: &Config, operation: &str, step: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let metrics = TaskMetrics::new();
    spark_ds_core::retry_unless(
        &read::retry_policy(cfg),
        &metrics,
        SYSTEM,
        operation,
        session::refused_everywhere,
        step,
    )
    .await
}

/// The table's Spark-compatible schema (with requested writetime/ttl columns) and keys.
pub async fn describe(cfg: &Config) -> Result<TableDescription> {
    // Missing keyspace/table options are reported before any connection attempt.
    cfg.qualified_table()?;
    planned(cfg, "describe table", || async {
        let session = session::session(cfg).await?;
        let meta = schema::table_meta(&session, cfg).await?;
        schema::description(&meta, cfg)
    })
    .await
}

/// Decides which filters Cassandra applies; see [`pushdown`] for the rules.
pub async fn push_filters(
    cfg: &Config,
    columns: &[String],
    filters_json: &str,
) -> Result<PushDown> {
    let filters = pushdown::parse_filters(filters_json)?;
    let off = if !cfg.pushdown {
        Some("pushdown disabled (option `pushdown`)")
    } else if cfg.query.is_some() {
        Some("no pushdown with option `query`: its WHERE clause is the restriction")
    } else {
        None
    };
    if let Some(reason) = off {
        return Ok(PushDown {
            accepted: vec![],
            state: "{}".into(),
            explain: reason.into(),
        });
    }
    let meta = planned(cfg, "push filters", || async {
        let session = session::session(cfg).await?;
        schema::table_meta(&session, cfg).await
    })
    .await?;
    schema::project(&meta, cfg, columns)?;
    let p = pushdown::decide(&meta, &filters, cfg.allow_filtering);
    log::info!(target: "spark_ds::cassandra", "{}.{}: {}", meta.keyspace, meta.table, p.explain);
    Ok(p)
}

/// The read partitions, each a JSON document (token ranges or partition keys).
pub async fn plan_partitions(
    cfg: &Config,
    columns: &[String],
    pushdown_state: Option<&str>,
) -> Result<Vec<String>> {
    planned(cfg, "plan partitions", || {
        read::plan_partitions(cfg, columns, pushdown_state)
    })
    .await
}

/// Reads one partition as Arrow batches of the projected schema.
pub async fn open_reader(
    cfg: &Config,
    columns: &[String],
    pushdown_state: Option<&str>,
    partition_json: &str,
) -> Result<Box<dyn BatchSource>> {
    open_reader_as(cfg, columns, None, pushdown_state, partition_json).await
}

/// Checks a user schema against the table: each column exists and reads exactly as the
/// type asked for (the default mapping or a documented conversion); a ConfigError if not.
pub async fn check_read_schema(cfg: &Config, requested: &Schema) -> Result<()> {
    retried(cfg, "check schema", || read::check_schema(cfg, requested)).await
}

/// Like [`open_reader`], building the batches in the `requested` types (a user schema
/// checked by [`check_read_schema`]) instead of the default mapping.
pub async fn open_reader_as(
    cfg: &Config,
    columns: &[String],
    requested: Option<&Schema>,
    pushdown_state: Option<&str>,
    partition_json: &str,
) -> Result<Box<dyn BatchSource>> {
    retried(cfg, "open reader", || {
        read::open_reader(cfg, columns, requested, pushdown_state, partition_json)
    })
    .await
}

/// Driver-side preparation of a write: table creation, overwrite (TRUNCATE) checks,
/// `saveMode`. Returns whether the tasks should write at all.
pub async fn prepare_write(cfg: &Config, schema: &Schema, overwrite: bool) -> Result<bool> {
    cfg.not_a_query("writes")?;
    cfg.qualified_table()?;
    planned(cfg, "prepare write", || {
        write::prepare_write(cfg, schema, overwrite)
    })
    .await
}

/// A sink writing Arrow batches into the table.
pub async fn open_writer(cfg: &Config, schema: SchemaRef) -> Result<Box<dyn BatchSink>> {
    cfg.not_a_query("writes")?;
    retried(cfg, "open writer", || {
        write::open_writer(cfg, schema.clone())
    })
    .await
}

/// `joinWithCassandraTable`: the rows matching `keys`, in `columns` order.
pub async fn lookup(cfg: &Config, columns: &[String], keys: RecordBatch) -> Result<RecordBatch> {
    Ok(lookup_with_stats(cfg, columns, keys).await?.0)
}

/// [`lookup`] with the number of queries run and rows found.
pub async fn lookup_with_stats(
    cfg: &Config,
    columns: &[String],
    keys: RecordBatch,
) -> Result<(RecordBatch, LookupStats)> {
    cfg.not_a_query("key lookups")?;
    retried(cfg, "lookup", || {
        lookup::lookup_with_stats(cfg, columns, keys.clone())
    })
    .await
}
