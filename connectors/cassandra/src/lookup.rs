//! `joinWithCassandraTable`: reads only the partitions named by a batch of keys.

use std::sync::Arc;

use arrow_array::RecordBatch;
use futures::stream::{self, StreamExt, TryStreamExt};
use scylla::response::{PagingState, PagingStateResponse};
use scylla::value::{CqlValue, Row};
use spark_ds_core::{Error, Result};

use crate::SYSTEM;
use crate::errors::{execution_error, prepare_error};
use crate::from_arrow::ValueConverter;
use crate::options::{Config, quote};
use crate::schema::{project, table_meta};
use crate::session::{evict_if_fatal, session};
use crate::to_arrow::ColumnBuilder;

/// What a lookup did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LookupStats {
    /// Queries sent (one per key row, plus extra pages).
    pub queries: u64,
    /// Rows returned.
    pub rows: u64,
}

/// The rows matching each key row (inner-join semantics), as one batch in `columns` order.
pub async fn lookup_with_stats(
    cfg: &Config,
    columns: &[String],
    keys: RecordBatch,
) -> Result<(RecordBatch, LookupStats)> {
    let session = session(cfg).await?;
    let meta = table_meta(&session, cfg).await?;
    let (schema, sources) = project(&meta, cfg, columns)?;
    // Key columns: the whole partition key, then a prefix of the clustering key.
    let mut key_cols = Vec::new();
    for pk in &meta.partition_key {
        if keys.schema().index_of(pk).is_err() {
            return Err(Error::config(
                SYSTEM,
                format!(
                    "lookup keys need every partition key column of {}.{} ({}); `{pk}` is missing",
                    meta.keyspace,
                    meta.table,
                    meta.partition_key.join(", ")
                ),
            ));
        }
        key_cols.push(pk.clone());
    }
    for ck in &meta.clustering_key {
        if keys.schema().index_of(ck).is_ok() {
            key_cols.push(ck.clone());
        } else {
            break;
        }
    }
    let selectors: Vec<String> = if sources.is_empty() {
        vec![quote(&meta.partition_key[0])]
    } else {
        sources.iter().map(|s| s.selector()).collect()
    };
    let cql = format!(
        "SELECT {} FROM {} WHERE {}",
        selectors.join(", "),
        meta.qualified(),
        key_cols
            .iter()
            .map(|c| format!("{} = ?", quote(c)))
            .collect::<Vec<_>>()
            .join(" AND ")
    );
    let mut prepared = session
        .prepare(cql.as_str())
        .await
        .map_err(|e| prepare_error("lookup", &cql, &e))?;
    prepared.set_consistency(cfg.consistency.to_driver());
    // The option's range (1–1,000,000) fits an i32.
    prepared.set_page_size(cfg.fetch_size as i32);
    prepared.set_is_idempotent(true);
    let prepared = Arc::new(prepared);
    let mut binds: Vec<Vec<CqlValue>> = Vec::with_capacity(keys.num_rows());
    'rows: for row in 0..keys.num_rows() {
        let mut values = Vec::with_capacity(key_cols.len());
        for c in &key_cols {
            let typ = meta
                .column_type(c)
                .ok_or_else(|| meta.unknown_column("lookup", c))?;
            let array = keys
                .column_by_name(c)
                .ok_or_else(|| meta.unknown_column("lookup", c))?;
            match (ValueConverter {
                column: c,
                cql: typ,
            })
            .convert(array.as_ref(), row)?
            {
                Some(v) => values.push(v),
                // A null key matches nothing (as in a join).
                None => continue 'rows,
            }
        }
        binds.push(values);
    }
    let concurrency = cfg.concurrent_reads.max(1);
    let results: Vec<(Vec<Row>, u64)> = stream::iter(binds.into_iter().map(|values| {
        let session = session.clone();
        let prepared = prepared.clone();
        async move {
            let mut rows = Vec::new();
            let mut queries = 0u64;
            let mut paging = PagingState::start();
            loop {
                queries += 1;
                let (res, next) = session
                    .execute_single_page(&prepared, values.as_slice(), paging)
                    .await
                    .map_err(|e| execution_error("lookup", &e))
                    .inspect_err(|e| evict_if_fatal(&session, e))?;
                let res = res
                    .into_rows_result()
                    .map_err(|e| Error::permanent(SYSTEM, "lookup", e.to_string()))?;
                for r in res
                    .rows::<Row>()
                    .map_err(|e| Error::data(SYSTEM, "lookup", e.to_string()))?
                {
                    rows.push(r.map_err(|e| Error::data(SYSTEM, "lookup", e.to_string()))?);
                }
                match next {
                    PagingStateResponse::HasMorePages { state } => paging = state,
                    PagingStateResponse::NoMorePages => break,
                }
            }
            Ok::<_, Error>((rows, queries))
        }
    }))
    .buffered(concurrency)
    .try_collect()
    .await?;
    let total: usize = results.iter().map(|(r, _)| r.len()).sum();
    let mut stats = LookupStats {
        queries: results.iter().map(|(_, q)| q).sum(),
        rows: total as u64,
    };
    let fields = schema.fields();
    let batch = if fields.is_empty() {
        RecordBatch::try_new_with_options(
            schema.clone(),
            vec![],
            &arrow_array::RecordBatchOptions::new().with_row_count(Some(total)),
        )
    } else {
        let mut builders = fields
            .iter()
            .map(|f| ColumnBuilder::new(f.data_type(), total))
            .collect::<Result<Vec<_>>>()?;
        for (rows, _) in &results {
            for row in rows {
                for ((b, v), f) in builders.iter_mut().zip(&row.columns).zip(fields.iter()) {
                    b.append(v.as_ref(), f.name())?;
                }
            }
        }
        let arrays = builders
            .iter_mut()
            .map(ColumnBuilder::finish)
            .collect::<Result<Vec<_>>>()?;
        RecordBatch::try_new(schema.clone(), arrays)
    }
    .map_err(|e| Error::internal(SYSTEM, "lookup", e.to_string()))?;
    stats.rows = batch.num_rows() as u64;
    log::info!(target: "spark_ds::cassandra", "lookup {}.{}: {} queries, {} rows", meta.keyspace, meta.table, stats.queries, stats.rows);
    Ok((batch, stats))
}
