//! Writes: table preparation on the driver, and the Arrow sink of each task.

use std::collections::HashMap;
use std::fmt::Write as _;
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
use crate::from_arrow::{ValueConverter, int_at, str_at};
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
    delete_flag(cfg, schema)?;
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
    // The TTL, writetime and delete-flag columns steer the write and are never stored.
    let control = [
        cfg.ttl_column.as_deref(),
        cfg.writetime_column.as_deref(),
        cfg.delete_flag_column.as_deref(),
    ];
    let mut cols = Vec::new();
    for f in schema.fields() {
        if control.contains(&Some(f.name().as_str())) {
            continue;
        }
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

/// How each bound value of a statement is taken from a batch.
#[derive(Clone, Debug)]
enum Bind {
    /// Arrow column index and CQL column.
    Column(usize, String),
    Ttl(usize),
    Timestamp(usize),
}

/// One prepared statement of a write and where its values come from.
#[derive(Clone, Debug)]
struct Statement {
    cql: String,
    binds: Vec<Bind>,
    /// Indexes (into binds) of the partition key values, for grouping.
    partition: Vec<usize>,
}

/// Index of the statement most rows use (INSERT, counter UPDATE or DELETE per `writeMode`).
const MAIN: usize = 0;

/// `deleteFlagValue`, parsed for the type of `deleteFlagColumn`.
#[derive(Clone, Debug, PartialEq, Eq)]
enum FlagValue {
    Bool(bool),
    Int(i128),
    Text(String),
}

/// Which rows `deleteFlagColumn` marks for deletion.
#[derive(Clone, Debug)]
struct DeleteFlag {
    /// Arrow column index of the flag.
    index: usize,
    value: FlagValue,
}

impl DeleteFlag {
    /// Whether the row is to be deleted; a null flag never is.
    fn matches(&self, array: &dyn Array, row: usize) -> bool {
        if array.is_null(row) {
            return false;
        }
        match &self.value {
            FlagValue::Bool(b) => array.as_boolean_opt().is_some_and(|a| a.value(row) == *b),
            FlagValue::Int(i) => int_at(array, row) == Some(*i),
            FlagValue::Text(t) => str_at(array, row) == Some(t.as_str()),
        }
    }
}

/// `deleteFlagColumn`/`deleteFlagValue` checked against the options and the DataFrame: the
/// column exists and is boolean, integer or string, and the value parses for its type.
fn delete_flag(cfg: &Config, schema: &Schema) -> Result<Option<DeleteFlag>> {
    let Some(column) = cfg.delete_flag_column.as_deref() else {
        if cfg.delete_flag_value.is_some() {
            return Err(Error::config(
                SYSTEM,
                "option `deleteFlagValue` needs `deleteFlagColumn` (the DataFrame column it is compared with)",
            ));
        }
        return Ok(None);
    };
    if cfg.write_mode == WriteMode::Delete {
        return Err(Error::config(
            SYSTEM,
            "options `deleteFlagColumn` and `writeMode` = delete exclude each other: the flag already chooses, per row, between delete and upsert (use the default `writeMode` = upsert)",
        ));
    }
    if cfg.if_not_exists {
        return Err(Error::config(
            SYSTEM,
            "options `deleteFlagColumn` and `ifNotExists` exclude each other: plain deletes mixed with lightweight-transaction inserts of the same rows are not ordered reliably",
        ));
    }
    let Ok(index) = schema.index_of(column) else {
        return Err(Error::config(
            SYSTEM,
            format!(
                "option `deleteFlagColumn`: the DataFrame has no column `{column}`{}",
                nearest_hint(column, schema.fields().iter().map(|f| f.name().as_str()))
            ),
        ));
    };
    let given = cfg.delete_flag_value.as_deref();
    let dt = schema.field(index).data_type();
    let bad_value = |what: &str| {
        Error::config(
            SYSTEM,
            format!(
                "option `deleteFlagValue`: `{}` is not {what} (`deleteFlagColumn` `{column}` is {dt})",
                given.unwrap_or_default()
            ),
        )
    };
    let value = match dt {
        DataType::Boolean => match given.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            None | Some("true") => FlagValue::Bool(true),
            Some("false") => FlagValue::Bool(false),
            Some(_) => return Err(bad_value("true or false")),
        },
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => match given {
            None => FlagValue::Int(1),
            Some(v) => FlagValue::Int(
                v.trim()
                    .parse::<i64>()
                    .map_err(|_| bad_value("an integer"))?
                    .into(),
            ),
        },
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => match given {
            Some(v) => FlagValue::Text(v.to_string()),
            None => {
                return Err(Error::config(
                    SYSTEM,
                    format!(
                        "option `deleteFlagValue` is required when `deleteFlagColumn` `{column}` is a string column (rows whose value equals it exactly are deleted)"
                    ),
                ));
            }
        },
        other => {
            return Err(Error::config(
                SYSTEM,
                format!(
                    "option `deleteFlagColumn`: column `{column}` has type {other}; it must be boolean, integer or string"
                ),
            ));
        }
    };
    Ok(Some(DeleteFlag { index, value }))
}

struct Plan {
    /// `statements[MAIN]`, then the static-only INSERT and the delete-flag DELETE if any.
    statements: Vec<Statement>,
    /// Index of the INSERT of partition key + static columns, for rows whose clustering
    /// columns are all null (how a partition holding only static values reads).
    static_only: Option<usize>,
    /// Index of the whole-row DELETE and the flag choosing it.
    delete: Option<(usize, DeleteFlag)>,
    /// Arrow indexes and names of the primary key columns in the DataFrame (for messages).
    key_columns: Vec<(usize, String)>,
    /// Arrow indexes of the clustering columns (empty when the DataFrame has none).
    clustering: Vec<usize>,
    /// Arrow indexes and names of the regular (non-key, non-static) columns written.
    regular: Vec<(usize, String)>,
    counter: bool,
}

/// `USING TTL … AND TIMESTAMP …`, binding per-row values after the columns.
fn using_clause(
    cfg: &Config,
    ttl_idx: Option<usize>,
    ts_idx: Option<usize>,
    with_ttl: bool,
    binds: &mut Vec<Bind>,
) -> String {
    let mut using = Vec::new();
    if with_ttl {
        if let Some(t) = cfg.ttl {
            using.push(format!("TTL {t}"));
        } else if let Some(i) = ttl_idx {
            using.push("TTL ?".into());
            binds.push(Bind::Ttl(i));
        }
    }
    if let Some(ts) = cfg.writetime {
        using.push(format!("TIMESTAMP {ts}"));
    } else if let Some(i) = ts_idx {
        using.push("TIMESTAMP ?".into());
        binds.push(Bind::Timestamp(i));
    }
    if using.is_empty() {
        String::new()
    } else {
        format!(" USING {}", using.join(" AND "))
    }
}

fn build_statement(cfg: &Config, meta: &TableMeta, schema: &Schema) -> Result<Plan> {
    let index = |name: &str| schema.index_of(name).ok();
    let flag = delete_flag(cfg, schema)?;
    let special = [
        cfg.ttl_column.as_deref(),
        cfg.writetime_column.as_deref(),
        cfg.delete_flag_column.as_deref(),
    ];
    // Every DataFrame column must be a table column (or the TTL/timestamp/flag column).
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
    let counter = meta.is_counter_table();
    let written: Vec<&str> = schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .filter(|n| !special.contains(&Some(*n)))
        .collect();
    let kind_of = |name: &str| meta.column(name).map(|c| c.kind.clone());
    // Without any clustering column, a DataFrame of partition key + static columns writes
    // the static values (CQL's `INSERT INTO t (pk, s) VALUES (?, ?)`).
    let statics_only_frame = !meta.clustering_key.is_empty()
        && meta.clustering_key.iter().all(|k| index(k).is_none())
        && cfg.write_mode == WriteMode::Upsert
        && !counter
        && flag.is_none()
        && written
            .iter()
            .any(|n| kind_of(n) == Some(ColumnKind::Static))
        && written.iter().all(|n| {
            matches!(
                kind_of(n),
                Some(ColumnKind::Static | ColumnKind::PartitionKey)
            )
        });
    for key in meta.partition_key.iter().chain(&meta.clustering_key) {
        if index(key).is_none() && !(statics_only_frame && meta.clustering_key.contains(key)) {
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
    if counter && flag.is_some() {
        return Err(Error::config(
            SYSTEM,
            "option `deleteFlagColumn` does not apply to counter tables (a deleted counter cannot be written again)",
        ));
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
        .filter(|k| index(k).is_some())
        .collect();
    let key_binds = |binds: &mut Vec<Bind>| -> Vec<String> {
        let mut conds = Vec::new();
        for k in &keys {
            binds.push(Bind::Column(index(k).unwrap_or_default(), (*k).clone()));
            conds.push(format!("{} = ?", quote(k)));
        }
        conds
    };
    let table = meta.qualified();
    // INSERT of the named DataFrame columns.
    let insert = |columns: &[&str]| -> Statement {
        let mut binds: Vec<Bind> = columns
            .iter()
            .map(|c| Bind::Column(index(c).unwrap_or_default(), (*c).to_string()))
            .collect();
        let using = using_clause(cfg, ttl_idx, ts_idx, true, &mut binds);
        let cql = format!(
            "INSERT INTO {table} ({}) VALUES ({}){}{using}",
            columns
                .iter()
                .map(|c| quote(c))
                .collect::<Vec<_>>()
                .join(", "),
            vec!["?"; columns.len()].join(", "),
            if cfg.if_not_exists {
                " IF NOT EXISTS"
            } else {
                ""
            },
        );
        Statement::new(cql, binds, meta)
    };
    // DELETE of whole rows (or of `deleteColumns`) by primary key.
    let delete = |columns: &[String]| -> Statement {
        let mut binds = Vec::new();
        let using = using_clause(cfg, ttl_idx, ts_idx, false, &mut binds);
        let conds = key_binds(&mut binds);
        let cql = format!(
            "DELETE {}FROM {table}{using} WHERE {}",
            if columns.is_empty() {
                String::new()
            } else {
                format!("{} ", columns.join(", "))
            },
            conds.join(" AND ")
        );
        Statement::new(cql, binds, meta)
    };
    let main = match cfg.write_mode {
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
            delete(&cols)
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
            let mut binds = Vec::new();
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
            let conds = key_binds(&mut binds);
            let cql = format!(
                "UPDATE {table} SET {} WHERE {}",
                sets.join(", "),
                conds.join(" AND ")
            );
            Statement::new(cql, binds, meta)
        }
        WriteMode::Upsert => insert(&written),
    };
    let mut statements = vec![main];
    let clustering: Vec<usize> = meta
        .clustering_key
        .iter()
        .filter_map(|k| index(k))
        .collect();
    // A row whose clustering columns are all null is a partition's static values only.
    let statics: Vec<&str> = written
        .iter()
        .copied()
        .filter(|n| kind_of(n) == Some(ColumnKind::Static))
        .collect();
    let static_only = if cfg.write_mode == WriteMode::Upsert
        && !counter
        && !clustering.is_empty()
        && !statics.is_empty()
    {
        let columns: Vec<&str> = meta
            .partition_key
            .iter()
            .map(String::as_str)
            .chain(statics)
            .collect();
        statements.push(insert(&columns));
        Some(statements.len() - 1)
    } else {
        None
    };
    let delete = match flag {
        Some(flag) => {
            statements.push(delete(&[]));
            Some((statements.len() - 1, flag))
        }
        None => None,
    };
    Ok(Plan {
        statements,
        static_only,
        delete,
        key_columns: keys
            .iter()
            .map(|k| (index(k).unwrap_or_default(), (*k).clone()))
            .collect(),
        clustering,
        regular: written
            .iter()
            .filter(|n| kind_of(n) == Some(ColumnKind::Regular))
            .map(|n| (index(n).unwrap_or_default(), (*n).to_string()))
            .collect(),
        counter,
    })
}

impl Plan {
    /// `pk=1, ck=null`: the row's primary key values, for messages.
    fn row_key(&self, meta: &TableMeta, batch: &RecordBatch, row: usize) -> String {
        self.key_columns
            .iter()
            .map(|(i, name)| {
                let shown = match meta.column(name) {
                    Some(col) => ValueConverter {
                        column: name,
                        cql: &col.typ,
                    }
                    .convert(batch.column(*i).as_ref(), row)
                    .ok()
                    .flatten()
                    .map_or_else(|| "null".to_string(), |v| show(&v)),
                    None => "?".to_string(),
                };
                format!("{name}={shown}")
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The statement a row is written with: the delete-flag DELETE when its flag matches,
    /// the static-only INSERT when every clustering column is null, else the main one.
    fn statement_of(&self, meta: &TableMeta, batch: &RecordBatch, row: usize) -> Result<usize> {
        if let Some((i, flag)) = &self.delete
            && flag.matches(batch.column(flag.index).as_ref(), row)
        {
            return Ok(*i);
        }
        let Some(i) = self.static_only else {
            return Ok(MAIN);
        };
        if !self
            .clustering
            .iter()
            .all(|c| batch.column(*c).is_null(row))
        {
            return Ok(MAIN);
        }
        if let Some((_, name)) = self
            .regular
            .iter()
            .find(|(c, _)| !batch.column(*c).is_null(row))
        {
            return Err(Error::data(
                SYSTEM,
                "write",
                format!(
                    "row {row} ({}) has every clustering column null but sets regular column `{name}`: without a clustering key only the partition key and static columns can be written",
                    self.row_key(meta, batch, row)
                ),
            ));
        }
        Ok(i)
    }
}

impl Statement {
    fn new(cql: String, binds: Vec<Bind>, meta: &TableMeta) -> Statement {
        let partition = binds
            .iter()
            .enumerate()
            .filter(|(_, b)| matches!(b, Bind::Column(_, c) if meta.partition_key.contains(c)))
            .map(|(i, _)| i)
            .collect();
        Statement {
            cql,
            binds,
            partition,
        }
    }
}

#[derive(Default)]
struct Counters {
    rows: AtomicU64,
    batches: AtomicU64,
    statements: AtomicU64,
    bytes: AtomicU64,
    /// Rows deleted because of `deleteFlagColumn` (also counted in `rows`).
    deletes: AtomicU64,
}

/// Rows bound for one request: each with the index of its statement in `Shared::prepared`.
type Rows = Vec<(usize, Vec<Value>)>;

struct Shared {
    session: Arc<Session>,
    /// Parallel to `Plan::statements`.
    prepared: Vec<PreparedStatement>,
    /// Index of the delete-flag DELETE, whose rows count as deletes.
    delete: Option<usize>,
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
    let plan = build_statement(cfg, &meta, &schema)?;
    let idempotent = !plan.counter && !cfg.if_not_exists;
    let mut prepared = Vec::with_capacity(plan.statements.len());
    for st in &plan.statements {
        let mut p = session
            .prepare(st.cql.as_str())
            .await
            .map_err(|e| prepare_error("write", &st.cql, &e))?;
        p.set_consistency(cfg.write_consistency.to_driver());
        p.set_is_idempotent(idempotent);
        log::info!(target: LOG, "write {}.{}: {}", meta.keyspace, meta.table, st.cql);
        prepared.push(p);
    }
    let policy = if idempotent {
        retry_policy(cfg)
    } else {
        RetryPolicy::no_retry()
    };
    Ok(Box::new(Writer {
        label: format!("write {}.{}", meta.keyspace, meta.table),
        shared: Arc::new(Shared {
            session,
            prepared,
            delete: plan.delete.as_ref().map(|(i, _)| *i),
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
    fn row_values(&self, batch: &RecordBatch, row: usize) -> Result<(usize, Vec<Value>)> {
        let stmt = self.plan.statement_of(&self.meta, batch, row)?;
        let binds = &self.plan.statements[stmt].binds;
        let mut out = Vec::with_capacity(binds.len());
        for b in binds {
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
                                format!(
                                    "primary key column `{name}` is null in row {row} ({}){}",
                                    self.plan.row_key(&self.meta, batch, row),
                                    self.null_key_hint(batch, row)
                                ),
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
        Ok((stmt, out))
    }

    /// Why a row without a clustering key was not taken as static values only.
    fn null_key_hint(&self, batch: &RecordBatch, row: usize) -> &'static str {
        let all_null = !self.plan.clustering.is_empty()
            && self
                .plan
                .clustering
                .iter()
                .all(|c| batch.column(*c).is_null(row));
        let flagged = self
            .plan
            .delete
            .as_ref()
            .is_some_and(|(_, f)| f.matches(batch.column(f.index).as_ref(), row));
        if !all_null || (self.plan.static_only.is_some() && !flagged) {
            ""
        } else if flagged {
            "; a row marked by `deleteFlagColumn` needs its whole primary key"
        } else if self.plan.counter || self.cfg.write_mode != WriteMode::Upsert {
            "; rows without a clustering key are written only as static values, by upserts into non-counter tables"
        } else {
            "; rows without a clustering key are written only as static values, and the DataFrame has no static column"
        }
    }

    async fn check_failure(&self) -> Result<()> {
        match self.failure.lock().await.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    async fn submit(&mut self, rows: Rows, bytes: u64) -> Result<()> {
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
            let mut groups: HashMap<String, Rows> = HashMap::new();
            let mut order = Vec::new();
            for row in 0..n {
                let (stmt, values) = self.row_values(&batch, row)?;
                // Every statement binds the whole partition key, converted alike.
                let key = format!(
                    "{:?}",
                    self.plan.statements[stmt]
                        .partition
                        .iter()
                        .map(|i| &values[*i])
                        .collect::<Vec<_>>()
                );
                let g = groups.entry(key.clone()).or_default();
                if g.is_empty() {
                    order.push(key);
                }
                g.push((stmt, values));
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
        let mut summary = self.shared.metrics.summary_line(SYSTEM, &self.label);
        if self.shared.delete.is_some() {
            // After the core summary, so its parsed shape (rows … retries … in) holds.
            let _ = write!(summary, ", {} deletes", c.deletes.load(Ordering::Relaxed));
        }
        log::info!(target: LOG, "{summary}");
        if let Some(e) = first {
            return Err(e);
        }
        let mut counters = vec![
            ("rows".into(), c.rows.load(Ordering::Relaxed)),
            ("batches".into(), c.batches.load(Ordering::Relaxed)),
            ("statements".into(), c.statements.load(Ordering::Relaxed)),
            ("retries".into(), self.shared.metrics.retries()),
            ("bytes".into(), c.bytes.load(Ordering::Relaxed)),
        ];
        if self.shared.delete.is_some() {
            counters.push(("deletes".into(), c.deletes.load(Ordering::Relaxed)));
        }
        Ok(counters)
    }
}

async fn send(shared: Arc<Shared>, rows: Rows, bytes: u64) -> Result<()> {
    let n = rows.len() as u64;
    let deletes = rows
        .iter()
        .filter(|(stmt, _)| Some(*stmt) == shared.delete)
        .count() as u64;
    let rows = Arc::new(rows);
    spark_ds_core::retry(&shared.policy, &shared.metrics, SYSTEM, "write", || {
        let shared = shared.clone();
        let rows = rows.clone();
        async move {
            shared.metrics.add_request();
            if rows.len() == 1 {
                let (stmt, values) = &rows[0];
                shared
                    .session
                    .execute_unpaged(&shared.prepared[*stmt], values)
                    .await
                    .map_err(|e| execution_error("write", &e))?;
            } else {
                let mut batch = Batch::new(if shared.counter {
                    BatchType::Counter
                } else {
                    BatchType::Unlogged
                });
                for (stmt, _) in rows.iter() {
                    batch.append_statement(shared.prepared[*stmt].clone());
                }
                batch.set_consistency(shared.consistency);
                batch.set_is_idempotent(shared.prepared[MAIN].get_is_idempotent());
                let values: Vec<&Vec<Value>> = rows.iter().map(|(_, v)| v).collect();
                shared
                    .session
                    .batch(&batch, values.as_slice())
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
    c.deletes.fetch_add(deletes, Ordering::Relaxed);
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

/// A key value as a user would write it in CQL (text quoted), for messages.
fn show(v: &CqlValue) -> String {
    match v {
        CqlValue::Ascii(s) | CqlValue::Text(s) => format!("'{s}'"),
        CqlValue::Int(i) => i.to_string(),
        CqlValue::BigInt(i) => i.to_string(),
        CqlValue::SmallInt(i) => i.to_string(),
        CqlValue::TinyInt(i) => i.to_string(),
        CqlValue::Boolean(b) => b.to_string(),
        CqlValue::Double(f) => f.to_string(),
        CqlValue::Float(f) => f.to_string(),
        CqlValue::Uuid(u) => u.to_string(),
        CqlValue::Timeuuid(u) => u.to_string(),
        other => format!("{other:?}"),
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
    use spark_ds_core::ErrorKind;

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
        let plan = build_statement(&cfg(&[("ttl", "60")]), &m, &df()).unwrap();
        assert_eq!(
            plan.statements[MAIN].cql,
            "INSERT INTO \"ks\".\"t\" (\"k1\", \"k2\", \"c1\", \"c2\", \"n\") VALUES (?, ?, ?, ?, ?) USING TTL 60"
        );
        assert_eq!(plan.statements[MAIN].partition, vec![0, 1]);
        assert_eq!(plan.statements.len(), 1, "no static column, no delete flag");
        let plan = build_statement(
            &cfg(&[("writeMode", "delete"), ("deleteColumns", "n")]),
            &m,
            &df(),
        )
        .unwrap();
        assert_eq!(
            plan.statements[MAIN].cql,
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

    /// `pk int, ck int, s text static, s2 int static, v text, PRIMARY KEY (pk, ck)`.
    fn static_meta(counter: bool) -> TableMeta {
        let col = |name: &str, n: NativeType, kind: ColumnKind| crate::schema::ColumnMeta {
            name: name.into(),
            typ: ColumnType::Native(n),
            kind,
        };
        let value = if counter {
            NativeType::Counter
        } else {
            NativeType::Text
        };
        TableMeta {
            keyspace: "ks".into(),
            table: "st".into(),
            columns: vec![
                col("pk", NativeType::Int, ColumnKind::PartitionKey),
                col("ck", NativeType::Int, ColumnKind::Clustering),
                col("s", value.clone(), ColumnKind::Static),
                col("s2", NativeType::Int, ColumnKind::Static),
                col("v", value, ColumnKind::Regular),
            ],
            partition_key: vec!["pk".into()],
            clustering_key: vec!["ck".into()],
            strategy: None,
        }
    }

    fn frame(columns: &[(&str, DataType)]) -> Schema {
        Schema::new(
            columns
                .iter()
                .map(|(n, t)| Field::new(*n, t.clone(), true))
                .collect::<Vec<_>>(),
        )
    }

    fn full_frame() -> Schema {
        frame(&[
            ("pk", DataType::Int32),
            ("ck", DataType::Int32),
            ("s", DataType::Utf8),
            ("v", DataType::Utf8),
        ])
    }

    #[test]
    fn rows_without_clustering_key_insert_static_columns_only() {
        let m = static_meta(false);
        let plan =
            build_statement(&cfg(&[("writetime", "5"), ("ttl", "9")]), &m, &full_frame()).unwrap();
        let i = plan.static_only.expect("a static-only statement");
        assert_eq!(
            plan.statements[i].cql,
            "INSERT INTO \"ks\".\"st\" (\"pk\", \"s\") VALUES (?, ?) USING TTL 9 AND TIMESTAMP 5"
        );
        assert_eq!(plan.statements[i].partition, vec![0]);
        assert_eq!(plan.clustering, vec![1]);
        assert_eq!(plan.regular, vec![(3, "v".to_string())]);
        // Counters, deletes and frames without a static column have no static-only form.
        let no_static = frame(&[
            ("pk", DataType::Int32),
            ("ck", DataType::Int32),
            ("v", DataType::Utf8),
        ]);
        assert!(
            build_statement(&cfg(&[]), &m, &no_static)
                .unwrap()
                .static_only
                .is_none()
        );
        let plan = build_statement(&cfg(&[("writeMode", "delete")]), &m, &full_frame()).unwrap();
        assert!(plan.static_only.is_none());
        let counters = frame(&[
            ("pk", DataType::Int32),
            ("ck", DataType::Int32),
            ("s", DataType::Int64),
        ]);
        let plan = build_statement(&cfg(&[]), &static_meta(true), &counters).unwrap();
        assert!(plan.static_only.is_none() && plan.counter);
    }

    #[test]
    fn a_frame_of_partition_key_and_statics_needs_no_clustering_column() {
        let m = static_meta(false);
        let statics = frame(&[
            ("pk", DataType::Int32),
            ("s", DataType::Utf8),
            ("s2", DataType::Int32),
        ]);
        let plan = build_statement(&cfg(&[]), &m, &statics).unwrap();
        assert_eq!(
            plan.statements[MAIN].cql,
            "INSERT INTO \"ks\".\"st\" (\"pk\", \"s\", \"s2\") VALUES (?, ?, ?)"
        );
        assert!(plan.static_only.is_none() && plan.clustering.is_empty());
        let missing_ck = |schema: &Schema, c: Config, meta: &TableMeta| {
            let e = build_statement(&c, meta, schema).err().expect("an error");
            assert!(
                e.message()
                    .contains("no column `ck`, which is part of the primary key"),
                "{}",
                e.message()
            );
        };
        // A regular column needs the clustering key; so do deletes, counters, a flag, and
        // a frame of the partition key alone.
        let with_regular = frame(&[
            ("pk", DataType::Int32),
            ("s", DataType::Utf8),
            ("v", DataType::Utf8),
        ]);
        missing_ck(&with_regular, cfg(&[]), &m);
        missing_ck(&statics, cfg(&[("writeMode", "delete")]), &m);
        missing_ck(&frame(&[("pk", DataType::Int32)]), cfg(&[]), &m);
        let counters = frame(&[("pk", DataType::Int32), ("s", DataType::Int64)]);
        missing_ck(&counters, cfg(&[]), &static_meta(true));
        let flagged = frame(&[
            ("pk", DataType::Int32),
            ("s", DataType::Utf8),
            ("d", DataType::Boolean),
        ]);
        missing_ck(&flagged, cfg(&[("deleteFlagColumn", "d")]), &m);
        // A partial primary key is still refused.
        let partial = crate::schema::tests::sample_meta();
        let s = frame(&[
            ("k1", DataType::Int32),
            ("k2", DataType::Utf8),
            ("c1", DataType::Int64),
        ]);
        assert!(build_statement(&cfg(&[]), &partial, &s).is_err());
    }

    fn with_flag(t: DataType) -> Schema {
        let mut fields: Vec<Field> = full_frame()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        fields.push(Field::new("op", t, true));
        Schema::new(fields)
    }

    #[test]
    fn delete_flag_adds_a_whole_row_delete_and_is_never_written() {
        let m = static_meta(false);
        let plan = build_statement(
            &cfg(&[("deleteFlagColumn", "op"), ("writetime", "7")]),
            &m,
            &with_flag(DataType::Boolean),
        )
        .unwrap();
        assert_eq!(
            plan.statements[MAIN].cql,
            "INSERT INTO \"ks\".\"st\" (\"pk\", \"ck\", \"s\", \"v\") VALUES (?, ?, ?, ?) USING TIMESTAMP 7"
        );
        let (i, flag) = plan.delete.as_ref().expect("a delete statement");
        assert_eq!(
            plan.statements[*i].cql,
            "DELETE FROM \"ks\".\"st\" USING TIMESTAMP 7 WHERE \"pk\" = ? AND \"ck\" = ?"
        );
        assert_eq!(plan.statements[*i].partition, vec![0]);
        assert_eq!((flag.index, &flag.value), (4, &FlagValue::Bool(true)));
        // A per-row timestamp applies to deletes too; a TTL does not.
        let mut fields: Vec<Field> = with_flag(DataType::Int64)
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        fields.push(Field::new("ts", DataType::Int64, true));
        fields.push(Field::new("t", DataType::Int32, true));
        let plan = build_statement(
            &cfg(&[
                ("deleteFlagColumn", "op"),
                ("writetimeColumn", "ts"),
                ("ttlColumn", "t"),
            ]),
            &m,
            &Schema::new(fields),
        )
        .unwrap();
        let (i, flag) = plan.delete.as_ref().unwrap();
        assert_eq!(
            plan.statements[*i].cql,
            "DELETE FROM \"ks\".\"st\" USING TIMESTAMP ? WHERE \"pk\" = ? AND \"ck\" = ?"
        );
        assert!(matches!(
            plan.statements[*i].binds[..],
            [Bind::Timestamp(5), Bind::Column(0, _), Bind::Column(1, _)]
        ));
        assert_eq!(flag.value, FlagValue::Int(1));
    }

    #[test]
    fn delete_flag_values_parse_for_the_column_type() {
        let m = static_meta(false);
        let value = |t: DataType, v: Option<&str>| {
            let mut pairs = vec![("deleteFlagColumn", "op")];
            if let Some(v) = v {
                pairs.push(("deleteFlagValue", v));
            }
            build_statement(&cfg(&pairs), &m, &with_flag(t)).map(|p| p.delete.unwrap().1.value)
        };
        assert_eq!(
            value(DataType::Boolean, Some(" FALSE")).unwrap(),
            FlagValue::Bool(false)
        );
        assert_eq!(
            value(DataType::Int8, Some("-3")).unwrap(),
            FlagValue::Int(-3)
        );
        // Exact and case-sensitive (option values lose surrounding spaces, as every option's do).
        assert_eq!(
            value(DataType::Utf8, Some("Del")).unwrap(),
            FlagValue::Text("Del".into())
        );
        let message = |r: Result<FlagValue>| r.unwrap_err().message().to_string();
        let e = message(value(DataType::Boolean, Some("yes")));
        assert!(
            e.contains("`deleteFlagValue`: `yes` is not true or false"),
            "{e}"
        );
        let e = message(value(DataType::Int32, Some("1.5")));
        assert!(e.contains("`1.5` is not an integer"), "{e}");
        let e = message(value(DataType::Utf8, None));
        assert!(
            e.contains("`deleteFlagValue` is required") && e.contains("string"),
            "{e}"
        );
        let e = message(value(DataType::Float64, None));
        assert!(
            e.contains("`deleteFlagColumn`: column `op` has type Float64"),
            "{e}"
        );
    }

    #[test]
    fn delete_flag_refuses_what_makes_no_sense() {
        let m = static_meta(false);
        let err = |pairs: &[(&str, &str)], meta: &TableMeta, schema: &Schema| {
            build_statement(&cfg(pairs), meta, schema)
                .err()
                .expect("an error")
                .message()
                .to_string()
        };
        let flagged = with_flag(DataType::Boolean);
        let e = err(&[("deleteFlagColumn", "opp")], &m, &flagged);
        assert!(
            e.contains("`deleteFlagColumn`: the DataFrame has no column `opp`; did you mean `op`?"),
            "{e}"
        );
        let e = err(&[("deleteFlagValue", "true")], &m, &full_frame());
        assert!(
            e.contains("`deleteFlagValue` needs `deleteFlagColumn`"),
            "{e}"
        );
        let e = err(
            &[("deleteFlagColumn", "op"), ("writeMode", "delete")],
            &m,
            &flagged,
        );
        assert!(
            e.contains("`deleteFlagColumn` and `writeMode` = delete"),
            "{e}"
        );
        let e = err(
            &[("deleteFlagColumn", "op"), ("ifNotExists", "true")],
            &m,
            &flagged,
        );
        assert!(e.contains("`deleteFlagColumn` and `ifNotExists`"), "{e}");
        let counters = frame(&[
            ("pk", DataType::Int32),
            ("ck", DataType::Int32),
            ("v", DataType::Int64),
            ("op", DataType::Boolean),
        ]);
        let e = err(&[("deleteFlagColumn", "op")], &static_meta(true), &counters);
        assert!(e.contains("counter tables"), "{e}");
        // Checked before a table is created from the DataFrame, too.
        let e = check_write_columns_in_dataframe(&cfg(&[("deleteFlagColumn", "x")]), &flagged)
            .unwrap_err();
        assert!(
            e.message().contains("`deleteFlagColumn`"),
            "{}",
            e.message()
        );
    }

    fn batch(schema: &Schema, columns: Vec<arrow_array::ArrayRef>) -> RecordBatch {
        RecordBatch::try_new(Arc::new(schema.clone()), columns).unwrap()
    }

    #[test]
    fn each_row_picks_its_statement() {
        use arrow_array::{BooleanArray, Int32Array, StringArray};
        let m = static_meta(false);
        let schema = with_flag(DataType::Boolean);
        let plan = build_statement(&cfg(&[("deleteFlagColumn", "op")]), &m, &schema).unwrap();
        let b = batch(
            &schema,
            vec![
                Arc::new(Int32Array::from(vec![1, 2, 3, 4, 5])),
                Arc::new(Int32Array::from(vec![Some(1), None, None, Some(4), None])),
                Arc::new(StringArray::from(vec![
                    Some("s"),
                    Some("s"),
                    None,
                    None,
                    None,
                ])),
                Arc::new(StringArray::from(vec![
                    Some("v"),
                    None,
                    Some("v"),
                    None,
                    None,
                ])),
                Arc::new(BooleanArray::from(vec![
                    None,
                    Some(false),
                    Some(false),
                    Some(true),
                    Some(true),
                ])),
            ],
        );
        let static_only = plan.static_only.unwrap();
        let delete = plan.delete.as_ref().unwrap().0;
        let pick = |row| plan.statement_of(&m, &b, row);
        assert_eq!(pick(0).unwrap(), MAIN, "null flag: upsert");
        assert_eq!(pick(1).unwrap(), static_only);
        let e = pick(2).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Data);
        assert!(
            e.message().contains("row 2 (pk=3, ck=null)")
                && e.message().contains("regular column `v`"),
            "{}",
            e.message()
        );
        assert_eq!(pick(3).unwrap(), delete);
        assert_eq!(
            pick(4).unwrap(),
            delete,
            "the flag wins; the null key is refused when bound"
        );
        assert_eq!(plan.row_key(&m, &b, 4), "pk=5, ck=null");
    }

    #[test]
    fn flags_match_by_type() {
        use arrow_array::{Int64Array, StringArray};
        let ints = Int64Array::from(vec![Some(1), Some(2), None]);
        let flag = DeleteFlag {
            index: 0,
            value: FlagValue::Int(2),
        };
        assert_eq!(
            (0..3).map(|r| flag.matches(&ints, r)).collect::<Vec<_>>(),
            [false, true, false]
        );
        let texts = StringArray::from(vec![Some("D"), Some("d"), None]);
        let flag = DeleteFlag {
            index: 0,
            value: FlagValue::Text("D".into()),
        };
        assert_eq!(
            (0..3).map(|r| flag.matches(&texts, r)).collect::<Vec<_>>(),
            [true, false, false]
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
        // Control columns steer the write and get no table column.
        let c = cfg(&[
            ("keyspace", "ks"),
            ("table", "t"),
            ("partitionKey", "k1"),
            ("ttlColumn", "n"),
            ("deleteFlagColumn", "c2"),
        ]);
        assert_eq!(
            create_table_cql(&c, &df()).unwrap(),
            "CREATE TABLE IF NOT EXISTS \"ks\".\"t\" (\"k1\" int, \"k2\" text, \"c1\" timestamp, \
             PRIMARY KEY ((\"k1\")))"
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
