//! Writes: table preparation on the driver, and the Arrow sink of each task.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, Schema, SchemaRef, TimeUnit};
use futures::future::BoxFuture;
use scylla::client::session::Session;
use scylla::cluster::metadata::{ColumnKind, ColumnType, NativeType};
use scylla::statement::batch::{Batch, BatchType};
use scylla::statement::prepared::PreparedStatement;
use scylla::value::{CqlValue, MaybeUnset};
use spark_ds_core::{BatchSink, Error, ErrorKind, Result, RetryPolicy, TaskMetrics};
use tokio::sync::Mutex;
use tokio::task::JoinSet;

use crate::SYSTEM;
use crate::errors::{execution_error, prepare_error};
use crate::from_arrow::ValueConverter;
use crate::options::{BatchGrouping, Config, SaveMode, WriteMode, quote};
use crate::read::retry_policy;
use crate::schema::{TableMeta, nearest_hint, table_meta};
use crate::session::session;
use crate::throttle::{Throttle, acquire};
use crate::types::cql_type_for_arrow;

const LOG: &str = "spark_ds::cassandra";

type Value = MaybeUnset<Option<CqlValue>>;

/// `CREATE KEYSPACE IF NOT EXISTS` when the user gave `keyspaceReplication`.
async fn create_keyspace_if_asked(session: &Session, cfg: &Config, ks: &str) -> Result<()> {
    let Some(replication) = &cfg.keyspace_replication else {
        return Ok(());
    };
    let cql = format!(
        "CREATE KEYSPACE IF NOT EXISTS {} WITH replication = {replication}",
        quote(ks)
    );
    log::info!(target: LOG, "creating keyspace if missing: {cql}");
    session
        .query_unpaged(cql.as_str(), ())
        .await
        .map_err(|e| execution_error("create keyspace", &e))?;
    let _ = session.await_schema_agreement().await;
    session
        .refresh_metadata()
        .await
        .map_err(|e| Error::transient(SYSTEM, "metadata", format!("cannot read the schema: {e}")))
}

/// Driver-side preparation of a write. Every check that needs no write runs first — the
/// DataFrame against the table (columns, types, keys, TTL/timestamp/delete columns), or
/// against the table it would create — so a write that cannot succeed fails before any side
/// effect (CREATE KEYSPACE, CREATE TABLE, TRUNCATE). Then: create when asked, truncate on a
/// confirmed overwrite, apply `saveMode`. Returns whether the tasks should write (false:
/// `ignore` and the table has rows).
pub async fn prepare_write(cfg: &Config, schema: &Schema, overwrite: bool) -> Result<bool> {
    let session = session(cfg).await?;
    let ks = cfg.keyspace()?;
    let table = cfg.table()?;
    let meta = match table_meta(&session, cfg).await {
        Ok(meta) => Some(meta),
        Err(e) if e.kind() == ErrorKind::NotFound && cfg.create_table => None,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(e.with_context(
                "set option `createTable` to true to create it from the DataFrame, or create it first",
            ));
        }
        Err(e) => return Err(e),
    };
    let Some(meta) = meta else {
        let cql = create_table_cql(cfg, schema)?;
        // UDTs named in columnTypes must exist, field by field, before anything is created.
        crate::ddl::check_udts(cfg, schema, &crate::ddl::keyspace_udts(&session, ks))?;
        check_write_columns_in_dataframe(cfg, schema)?;
        create_keyspace_if_asked(&session, cfg, ks).await?;
        log::info!(target: LOG, "creating table: {cql}");
        session
            .query_unpaged(cql.as_str(), ())
            .await
            .map_err(|e| execution_error("create table", &e))?;
        let _ = session.await_schema_agreement().await;
        session.refresh_metadata().await.map_err(|e| {
            Error::transient(SYSTEM, "metadata", format!("cannot read the schema: {e}"))
        })?;
        // The new table is built from this DataFrame, so the write plan holds; checking it
        // here still reports an impossible plan on the driver rather than in every task.
        build_statement(cfg, &table_meta(&session, cfg).await?, schema)?;
        return Ok(true);
    };
    if overwrite && !cfg.confirm_truncate {
        return Err(Error::config(
            SYSTEM,
            format!(
                "mode(\"overwrite\") would TRUNCATE {ks}.{table} (all rows removed); set option `confirmTruncate` to true to allow it, or use mode(\"append\")"
            ),
        ));
    }
    build_statement(cfg, &meta, schema)?;
    if overwrite {
        let cql = format!("TRUNCATE {}", cfg.qualified_table()?);
        log::info!(target: LOG, "{cql}");
        session
            .query_unpaged(cql.as_str(), ())
            .await
            .map_err(|e| execution_error("truncate", &e))?;
    } else if cfg.save_mode != SaveMode::Append && has_rows(&session, cfg).await? {
        if cfg.save_mode == SaveMode::Ignore {
            log::info!(target: LOG, "{ks}.{table} has rows and saveMode is ignore: nothing written");
            return Ok(false);
        }
        return Err(Error::already_exists(
            SYSTEM,
            "save mode",
            format!("table `{ks}.{table}` already has rows and option `saveMode` is errorIfExists"),
        ));
    }
    Ok(true)
}

/// Before a table is created from the DataFrame: the columns that options name must be in it.
fn check_write_columns_in_dataframe(cfg: &Config, schema: &Schema) -> Result<()> {
    let named = [
        ("ttlColumn", cfg.ttl_column.as_deref()),
        ("writetimeColumn", cfg.writetime_column.as_deref()),
    ];
    let deletes = cfg
        .delete_columns
        .iter()
        .map(|c| ("deleteColumns", Some(c.as_str())));
    for (option, column) in named.into_iter().chain(deletes) {
        if let Some(c) = column
            && schema.index_of(c).is_err()
        {
            return Err(Error::config(
                SYSTEM,
                format!(
                    "option `{option}`: the DataFrame has no column `{c}`{}",
                    nearest_hint(c, schema.fields().iter().map(|f| f.name().as_str()))
                ),
            ));
        }
    }
    Ok(())
}

/// Whether the table holds at least one row (one single-row page, not a count).
async fn has_rows(session: &Session, cfg: &Config) -> Result<bool> {
    let cql = format!("SELECT * FROM {} LIMIT 1", cfg.qualified_table()?);
    let result = session
        .query_unpaged(cql.as_str(), ())
        .await
        .map_err(|e| execution_error("check emptiness", &e))?;
    let rows = result
        .into_rows_result()
        .map_err(|e| Error::permanent(SYSTEM, "check emptiness", format!("no rows result: {e}")))?;
    Ok(rows.rows_num() > 0)
}

/// `CREATE TABLE IF NOT EXISTS` from the DataFrame schema and the key options.
pub fn create_table_cql(cfg: &Config, schema: &Schema) -> Result<String> {
    if cfg.partition_key.is_empty() {
        return Err(Error::config(
            SYSTEM,
            "createTable needs option `partitionKey` (comma-separated column names)",
        ));
    }
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let check = |c: &str, what: &str| -> Result<()> {
        if names.contains(&c) {
            Ok(())
        } else {
            Err(Error::config(
                SYSTEM,
                format!(
                    "option `{what}`: column `{c}` is not in the DataFrame{}",
                    nearest_hint(c, names.iter().copied())
                ),
            ))
        }
    };
    let mut order = Vec::new();
    let mut clustering = Vec::new();
    for c in &cfg.partition_key {
        check(c, "partitionKey")?;
    }
    for c in &cfg.clustering_key {
        let mut parts = c.split_whitespace();
        let name = parts.next().unwrap_or_default();
        check(name, "clusteringKey")?;
        clustering.push(name.to_string());
        match parts.next().map(|d| d.to_ascii_uppercase()) {
            None => {}
            Some(d) if d == "ASC" || d == "DESC" => order.push(format!("{} {d}", quote(name))),
            Some(d) => {
                return Err(Error::config(
                    SYSTEM,
                    format!("option `clusteringKey`: unknown order `{d}` (ASC or DESC)"),
                ));
            }
        }
    }
    // Checked before anything is created: columns named, types parsed and writable.
    let chosen = crate::ddl::column_types(cfg, schema)?;
    let mut cols = Vec::new();
    for f in schema.fields() {
        let typ = match chosen.iter().find(|(c, _)| c == f.name()) {
            Some((_, t)) => t.cql(),
            None => cql_type_for_arrow(f.name(), f.data_type(), false)?,
        };
        cols.push(format!("{} {typ}", quote(f.name())));
    }
    let pk = cfg
        .partition_key
        .iter()
        .map(|c| quote(c))
        .collect::<Vec<_>>()
        .join(", ");
    let mut key = format!("({pk})");
    for c in &clustering {
        key.push_str(", ");
        key.push_str(&quote(c));
    }
    let mut with = Vec::new();
    if !order.is_empty() {
        with.push(format!("CLUSTERING ORDER BY ({})", order.join(", ")));
    }
    if let Some(o) = &cfg.table_options {
        with.push(o.clone());
    }
    let mut cql = format!(
        "CREATE TABLE IF NOT EXISTS {} ({}, PRIMARY KEY ({key}))",
        cfg.qualified_table()?,
        cols.join(", ")
    );
    if !with.is_empty() {
        cql.push_str(" WITH ");
        cql.push_str(&with.join(" AND "));
    }
    Ok(cql)
}

/// How each bound value of the statement is taken from a batch.
#[derive(Clone, Debug)]
enum Bind {
    /// Arrow column index and CQL column.
    Column(usize, String),
    Ttl(usize),
    Timestamp(usize),
}

struct Plan {
    binds: Vec<Bind>,
    /// Indexes (into binds) of the partition key values, for grouping.
    partition: Vec<usize>,
    counter: bool,
}

fn build_statement(cfg: &Config, meta: &TableMeta, schema: &Schema) -> Result<(String, Plan)> {
    let index = |name: &str| schema.index_of(name).ok();
    let special = [cfg.ttl_column.as_deref(), cfg.writetime_column.as_deref()];
    // Every DataFrame column must be a table column (or the TTL/timestamp column).
    for f in schema.fields() {
        if special.contains(&Some(f.name().as_str())) {
            continue;
        }
        let Some(col) = meta.column(f.name()) else {
            return Err(meta.unknown_column("write", f.name()));
        };
        ValueConverter {
            column: &col.name,
            cql: &col.typ,
        }
        .check_type(f.data_type())?;
    }
    for key in meta.partition_key.iter().chain(&meta.clustering_key) {
        if index(key).is_none() {
            return Err(Error::config(
                SYSTEM,
                format!(
                    "the DataFrame has no column `{key}`, which is part of the primary key of {}.{} (primary key: {})",
                    meta.keyspace,
                    meta.table,
                    meta.partition_key
                        .iter()
                        .chain(&meta.clustering_key)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    let ttl_idx = match &cfg.ttl_column {
        Some(c) => Some(index(c).ok_or_else(|| {
            Error::config(
                SYSTEM,
                format!("option `ttlColumn`: the DataFrame has no column `{c}`"),
            )
        })?),
        None => None,
    };
    let ts_idx = match &cfg.writetime_column {
        Some(c) => Some(index(c).ok_or_else(|| {
            Error::config(
                SYSTEM,
                format!("option `writetimeColumn`: the DataFrame has no column `{c}`"),
            )
        })?),
        None => None,
    };
    let keys: Vec<&String> = meta
        .partition_key
        .iter()
        .chain(&meta.clustering_key)
        .collect();
    let key_binds = |binds: &mut Vec<Bind>| -> Result<Vec<String>> {
        let mut conds = Vec::new();
        for k in &keys {
            binds.push(Bind::Column(index(k).unwrap_or_default(), (*k).clone()));
            conds.push(format!("{} = ?", quote(k)));
        }
        Ok(conds)
    };
    let table = meta.qualified();
    let mut binds = Vec::new();
    let mut using = Vec::new();
    let counter = meta.is_counter_table();
    let cql = match cfg.write_mode {
        WriteMode::Delete => {
            let cols = cfg
                .delete_columns
                .iter()
                .map(|c| {
                    let col = meta
                        .column(c)
                        .ok_or_else(|| meta.unknown_column("option `deleteColumns`", c))?;
                    if matches!(col.kind, ColumnKind::PartitionKey | ColumnKind::Clustering) {
                        return Err(Error::config(
                            SYSTEM,
                            format!("option `deleteColumns`: `{c}` is a primary key column"),
                        ));
                    }
                    Ok(quote(c))
                })
                .collect::<Result<Vec<_>>>()?;
            if let Some(ts) = cfg.writetime {
                using.push(format!("TIMESTAMP {ts}"));
            } else if let Some(i) = ts_idx {
                using.push("TIMESTAMP ?".into());
                binds.push(Bind::Timestamp(i));
            }
            let conds = key_binds(&mut binds)?;
            format!(
                "DELETE {}FROM {table}{} WHERE {}",
                if cols.is_empty() {
                    String::new()
                } else {
                    format!("{} ", cols.join(", "))
                },
                if using.is_empty() {
                    String::new()
                } else {
                    format!(" USING {}", using.join(" AND "))
                },
                conds.join(" AND ")
            )
        }
        WriteMode::Upsert if counter => {
            if cfg.ttl.is_some()
                || cfg.ttl_column.is_some()
                || cfg.writetime.is_some()
                || cfg.writetime_column.is_some()
                || cfg.if_not_exists
            {
                return Err(Error::config(
                    SYSTEM,
                    "counter tables take no TTL, write timestamp or ifNotExists",
                ));
            }
            let mut sets = Vec::new();
            for f in schema.fields() {
                if keys.contains(&f.name()) {
                    continue;
                }
                sets.push(format!("{0} = {0} + ?", quote(f.name())));
                binds.push(Bind::Column(
                    index(f.name()).unwrap_or_default(),
                    f.name().clone(),
                ));
            }
            if sets.is_empty() {
                return Err(Error::config(
                    SYSTEM,
                    "the DataFrame has no counter column to add",
                ));
            }
            let conds = key_binds(&mut binds)?;
            format!(
                "UPDATE {table} SET {} WHERE {}",
                sets.join(", "),
                conds.join(" AND ")
            )
        }
        WriteMode::Upsert => {
            let mut cols = Vec::new();
            for f in schema.fields() {
                if special.contains(&Some(f.name().as_str())) {
                    continue;
                }
                cols.push(quote(f.name()));
                binds.push(Bind::Column(
                    index(f.name()).unwrap_or_default(),
                    f.name().clone(),
                ));
            }
            if let Some(t) = cfg.ttl {
                using.push(format!("TTL {t}"));
            } else if let Some(i) = ttl_idx {
                using.push("TTL ?".into());
                binds.push(Bind::Ttl(i));
            }
            if let Some(ts) = cfg.writetime {
                using.push(format!("TIMESTAMP {ts}"));
            } else if let Some(i) = ts_idx {
                using.push("TIMESTAMP ?".into());
                binds.push(Bind::Timestamp(i));
            }
            format!(
                "INSERT INTO {table} ({}) VALUES ({}){}{}",
                cols.join(", "),
                vec!["?"; cols.len()].join(", "),
                if cfg.if_not_exists {
                    " IF NOT EXISTS"
                } else {
                    ""
                },
                if using.is_empty() {
                    String::new()
                } else {
                    format!(" USING {}", using.join(" AND "))
                }
            )
        }
    };
    let partition = binds
        .iter()
        .enumerate()
        .filter(|(_, b)| matches!(b, Bind::Column(_, c) if meta.partition_key.contains(c)))
        .map(|(i, _)| i)
        .collect();
    Ok((
        cql,
        Plan {
            binds,
            partition,
            counter,
        },
    ))
}

#[derive(Default)]
struct Counters {
    rows: AtomicU64,
    batches: AtomicU64,
    statements: AtomicU64,
    bytes: AtomicU64,
}

struct Shared {
    session: Arc<Session>,
    prepared: PreparedStatement,
    policy: RetryPolicy,
    metrics: TaskMetrics,
    counters: Counters,
    consistency: scylla::statement::Consistency,
    counter: bool,
}

/// The sink of one write task.
pub struct Writer {
    shared: Arc<Shared>,
    plan: Plan,
    meta: TableMeta,
    cfg: Config,
    tasks: JoinSet<Result<()>>,
    failure: Arc<Mutex<Option<Error>>>,
    throttle: Option<Throttle>,
    label: String,
}

pub async fn open_writer(cfg: &Config, schema: SchemaRef) -> Result<Box<dyn BatchSink>> {
    let session = session(cfg).await?;
    let meta = table_meta(&session, cfg).await?;
    let (cql, plan) = build_statement(cfg, &meta, &schema)?;
    let mut prepared = session
        .prepare(cql.as_str())
        .await
        .map_err(|e| prepare_error("write", &cql, &e))?;
    prepared.set_consistency(cfg.write_consistency.to_driver());
    let idempotent = !plan.counter && !cfg.if_not_exists;
    prepared.set_is_idempotent(idempotent);
    let policy = if idempotent {
        retry_policy(cfg)
    } else {
        RetryPolicy::no_retry()
    };
    log::info!(target: LOG, "write {}.{}: {cql}", meta.keyspace, meta.table);
    Ok(Box::new(Writer {
        label: format!("write {}.{}", meta.keyspace, meta.table),
        shared: Arc::new(Shared {
            session,
            prepared,
            policy,
            metrics: TaskMetrics::with_request_noun("statements"),
            counters: Counters::default(),
            consistency: cfg.write_consistency.to_driver(),
            counter: plan.counter,
        }),
        plan,
        meta,
        cfg: cfg.clone(),
        tasks: JoinSet::new(),
        failure: Arc::new(Mutex::new(None)),
        throttle: cfg
            .write_mb_per_sec
            .map(|mb| Throttle::new(mb * 1024.0 * 1024.0)),
    }))
}

fn int_of(array: &dyn Array, row: usize) -> Option<i64> {
    match array.data_type() {
        DataType::Int32 => Some(i64::from(array.as_primitive::<Int32Type>().value(row))),
        DataType::Int64 => Some(array.as_primitive::<Int64Type>().value(row)),
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            Some(array.as_primitive::<TimestampMicrosecondType>().value(row))
        }
        _ => None,
    }
}

impl Writer {
    fn row_values(&self, batch: &RecordBatch, row: usize) -> Result<Vec<Value>> {
        let mut out = Vec::with_capacity(self.plan.binds.len());
        for b in &self.plan.binds {
            let v = match b {
                Bind::Column(i, name) => {
                    let col = self
                        .meta
                        .column(name)
                        .ok_or_else(|| self.meta.unknown_column("write", name))?;
                    let array = batch.column(*i);
                    let v = ValueConverter {
                        column: name,
                        cql: &col.typ,
                    }
                    .convert(array.as_ref(), row)?;
                    let key = matches!(col.kind, ColumnKind::PartitionKey | ColumnKind::Clustering);
                    match v {
                        None if key => {
                            return Err(Error::data(
                                SYSTEM,
                                "write",
                                format!("primary key column `{name}` is null in row {row}"),
                            ));
                        }
                        None if self.plan.counter => {
                            MaybeUnset::Set(Some(CqlValue::Counter(scylla::value::Counter(0))))
                        }
                        None if self.cfg.ignore_nulls => MaybeUnset::Unset,
                        v => MaybeUnset::Set(v),
                    }
                }
                Bind::Ttl(i) => {
                    let a = batch.column(*i);
                    if a.is_null(row) {
                        MaybeUnset::Set(Some(CqlValue::Int(0)))
                    } else {
                        let t = int_of(a.as_ref(), row)
                            .and_then(|v| i32::try_from(v).ok())
                            .ok_or_else(|| {
                                Error::data(
                                    SYSTEM,
                                    "write",
                                    "option `ttlColumn`: needs an INT/BIGINT column of seconds",
                                )
                            })?;
                        MaybeUnset::Set(Some(CqlValue::Int(t)))
                    }
                }
                Bind::Timestamp(i) => {
                    let a = batch.column(*i);
                    if a.is_null(row) {
                        MaybeUnset::Unset
                    } else {
                        let t = int_of(a.as_ref(), row).ok_or_else(|| {
                            Error::data(
                                SYSTEM,
                                "write",
                                "option `writetimeColumn`: needs a BIGINT (µs) or TIMESTAMP column",
                            )
                        })?;
                        MaybeUnset::Set(Some(CqlValue::BigInt(t)))
                    }
                }
            };
            out.push(v);
        }
        Ok(out)
    }

    async fn check_failure(&self) -> Result<()> {
        match self.failure.lock().await.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    async fn submit(&mut self, rows: Vec<Vec<Value>>, bytes: u64) -> Result<()> {
        acquire(&mut self.throttle, bytes as f64).await;
        while self.tasks.len() >= self.cfg.concurrent_writes.max(1) {
            if let Some(r) = self.tasks.join_next().await {
                r.map_err(|e| Error::internal(SYSTEM, "write", e.to_string()))??;
            }
        }
        let shared = self.shared.clone();
        let rt = spark_ds_core::runtime::runtime()?;
        self.tasks.spawn_on(send(shared, rows, bytes), rt.handle());
        Ok(())
    }

    async fn write_batch(&mut self, batch: RecordBatch) -> Result<()> {
        self.check_failure().await?;
        let n = batch.num_rows();
        if n == 0 {
            return Ok(());
        }
        let per_row = (batch.get_array_memory_size() / n).max(1) as u64;
        if self.cfg.batch_grouping == BatchGrouping::Partition && self.cfg.batch_size_rows > 1 {
            let mut groups: HashMap<String, Vec<Vec<Value>>> = HashMap::new();
            let mut order = Vec::new();
            for row in 0..n {
                let values = self.row_values(&batch, row)?;
                let key = format!(
                    "{:?}",
                    self.plan
                        .partition
                        .iter()
                        .map(|i| &values[*i])
                        .collect::<Vec<_>>()
                );
                let g = groups.entry(key.clone()).or_default();
                if g.is_empty() {
                    order.push(key);
                }
                g.push(values);
            }
            let max_rows = self.cfg.batch_size_rows;
            let max_rows_by_bytes = (self.cfg.batch_size_bytes as u64 / per_row).max(1) as usize;
            for key in order {
                let rows = groups.remove(&key).unwrap_or_default();
                let mut rest = rows;
                while !rest.is_empty() {
                    let take = rest.len().min(max_rows).min(max_rows_by_bytes);
                    let tail = rest.split_off(take);
                    let bytes = per_row * rest.len() as u64;
                    self.submit(std::mem::replace(&mut rest, tail), bytes)
                        .await?;
                }
            }
        } else {
            for row in 0..n {
                let values = self.row_values(&batch, row)?;
                self.submit(vec![values], per_row).await?;
            }
        }
        Ok(())
    }

    async fn finish_all(&mut self) -> Result<Vec<(String, u64)>> {
        let mut first: Option<Error> = None;
        while let Some(r) = self.tasks.join_next().await {
            let r = r
                .map_err(|e| Error::internal(SYSTEM, "write", e.to_string()))
                .and_then(|x| x);
            if let (Err(e), None) = (r, &first) {
                first = Some(e);
            }
        }
        if let Some(e) = self.failure.lock().await.take() {
            first.get_or_insert(e);
        }
        let c = &self.shared.counters;
        log::info!(target: LOG, "{}", self.shared.metrics.summary_line(SYSTEM, &self.label));
        if let Some(e) = first {
            return Err(e);
        }
        Ok(vec![
            ("rows".into(), c.rows.load(Ordering::Relaxed)),
            ("batches".into(), c.batches.load(Ordering::Relaxed)),
            ("statements".into(), c.statements.load(Ordering::Relaxed)),
            ("retries".into(), self.shared.metrics.retries()),
            ("bytes".into(), c.bytes.load(Ordering::Relaxed)),
        ])
    }
}

async fn send(shared: Arc<Shared>, rows: Vec<Vec<Value>>, bytes: u64) -> Result<()> {
    let n = rows.len() as u64;
    let rows = Arc::new(rows);
    spark_ds_core::retry(&shared.policy, &shared.metrics, SYSTEM, "write", || {
        let shared = shared.clone();
        let rows = rows.clone();
        async move {
            shared.metrics.add_request();
            if rows.len() == 1 {
                shared
                    .session
                    .execute_unpaged(&shared.prepared, &rows[0])
                    .await
                    .map_err(|e| execution_error("write", &e))?;
            } else {
                let mut batch = Batch::new(if shared.counter {
                    BatchType::Counter
                } else {
                    BatchType::Unlogged
                });
                for _ in rows.iter() {
                    batch.append_statement(shared.prepared.clone());
                }
                batch.set_consistency(shared.consistency);
                batch.set_is_idempotent(shared.prepared.get_is_idempotent());
                shared
                    .session
                    .batch(&batch, rows.as_slice())
                    .await
                    .map_err(|e| execution_error("write", &e))?;
            }
            Ok(())
        }
    })
    .await
    .inspect_err(|e| crate::session::evict_if_fatal(&shared.session, e))?;
    let c = &shared.counters;
    c.rows.fetch_add(n, Ordering::Relaxed);
    c.statements.fetch_add(n, Ordering::Relaxed);
    c.bytes.fetch_add(bytes, Ordering::Relaxed);
    if n > 1 {
        c.batches.fetch_add(1, Ordering::Relaxed);
    }
    shared.metrics.add_rows(n);
    shared.metrics.add_bytes(bytes);
    Ok(())
}

impl BatchSink for Writer {
    fn write(&mut self, batch: RecordBatch) -> BoxFuture<'_, Result<()>> {
        Box::pin(self.write_batch(batch))
    }

    fn finish(&mut self) -> BoxFuture<'_, Result<Vec<(String, u64)>>> {
        Box::pin(self.finish_all())
    }
}

/// Whether a CQL type is the counter type (used by callers that build schemas).
pub fn is_counter(t: &ColumnType<'_>) -> bool {
    matches!(t, ColumnType::Native(NativeType::Counter))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::Field;

    fn cfg(pairs: &[(&str, &str)]) -> Config {
        Config::parse(
            &pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>(),
        )
        .unwrap()
    }

    fn df() -> Schema {
        Schema::new(vec![
            Field::new("k1", DataType::Int32, true),
            Field::new("k2", DataType::Utf8, true),
            Field::new(
                "c1",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
            Field::new("c2", DataType::Utf8, true),
            Field::new("n", DataType::Int64, true),
        ])
    }

    #[test]
    fn statements() {
        let m = crate::schema::tests::sample_meta();
        let (cql, plan) = build_statement(&cfg(&[("ttl", "60")]), &m, &df()).unwrap();
        assert_eq!(
            cql,
            "INSERT INTO \"ks\".\"t\" (\"k1\", \"k2\", \"c1\", \"c2\", \"n\") VALUES (?, ?, ?, ?, ?) USING TTL 60"
        );
        assert_eq!(plan.partition, vec![0, 1]);
        let (cql, _) = build_statement(
            &cfg(&[("writeMode", "delete"), ("deleteColumns", "n")]),
            &m,
            &df(),
        )
        .unwrap();
        assert_eq!(
            cql,
            "DELETE \"n\" FROM \"ks\".\"t\" WHERE \"k1\" = ? AND \"k2\" = ? AND \"c1\" = ? AND \"c2\" = ?"
        );
        let mut s = df();
        s = Schema::new(
            s.fields()
                .iter()
                .filter(|f| f.name() != "c2")
                .cloned()
                .collect::<Vec<_>>(),
        );
        let e = build_statement(&cfg(&[]), &m, &s).err().unwrap();
        assert!(
            e.message()
                .contains("no column `c2`, which is part of the primary key"),
            "{}",
            e.message()
        );
        let mut fields: Vec<Field> = df().fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.push(Field::new("nn", DataType::Int64, true));
        let e = build_statement(&cfg(&[]), &m, &Schema::new(fields))
            .err()
            .unwrap();
        assert!(e.message().contains("did you mean `n`"), "{}", e.message());
        let mut fields: Vec<Field> = df().fields().iter().map(|f| f.as_ref().clone()).collect();
        fields[4] = Field::new("n", DataType::Boolean, true);
        let e = build_statement(&cfg(&[]), &m, &Schema::new(fields))
            .err()
            .unwrap();
        assert_eq!(e.kind(), spark_ds_core::ErrorKind::Data);
        assert!(
            e.message().contains("CQL type int") && e.message().contains("Boolean"),
            "{}",
            e.message()
        );
    }

    #[test]
    fn create_table() {
        let c = cfg(&[
            ("keyspace", "ks"),
            ("table", "t"),
            ("partitionKey", "k1,k2"),
            ("clusteringKey", "c1 desc, c2"),
        ]);
        assert_eq!(
            create_table_cql(&c, &df()).unwrap(),
            "CREATE TABLE IF NOT EXISTS \"ks\".\"t\" (\"k1\" int, \"k2\" text, \"c1\" timestamp, \"c2\" text, \"n\" bigint, \
             PRIMARY KEY ((\"k1\", \"k2\"), \"c1\", \"c2\")) WITH CLUSTERING ORDER BY (\"c1\" DESC)"
        );
        let c = cfg(&[("keyspace", "ks"), ("table", "t")]);
        assert!(
            create_table_cql(&c, &df())
                .unwrap_err()
                .message()
                .contains("partitionKey")
        );
        let c = cfg(&[("keyspace", "ks"), ("table", "t"), ("partitionKey", "kk1")]);
        assert!(
            create_table_cql(&c, &df())
                .unwrap_err()
                .message()
                .contains("did you mean `k1`")
        );
        let c = cfg(&[
            ("keyspace", "ks"),
            ("table", "t"),
            ("partitionKey", "k1"),
            ("columnTypes", "k2: uuid; c2:inet;n:time"),
        ]);
        assert_eq!(
            create_table_cql(&c, &df()).unwrap(),
            "CREATE TABLE IF NOT EXISTS \"ks\".\"t\" (\"k1\" int, \"k2\" uuid, \"c1\" timestamp, \"c2\" inet, \"n\" time, \
             PRIMARY KEY ((\"k1\")))"
        );
        let c = cfg(&[
            ("keyspace", "ks"),
            ("table", "t"),
            ("partitionKey", "k1"),
            ("columnTypes", "n:uuid"),
        ]);
        let e = create_table_cql(&c, &df()).unwrap_err();
        assert!(
            e.message().contains("option `columnTypes`: column `n`"),
            "{}",
            e.message()
        );
    }
}
