//! Read planning (token ranges or partition keys) and the paging Arrow reader.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arrow_array::{RecordBatch, RecordBatchOptions};
use arrow_schema::{Schema, SchemaRef};
use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use scylla::client::session::Session;
use scylla::deserialize::row::{ColumnIterator, RawColumn};
use scylla::deserialize::value::DeserializeValue;
use scylla::policies::load_balancing::{NodeIdentifier, SingleTargetLoadBalancingPolicy};
use scylla::response::{PagingState, PagingStateResponse};
use scylla::routing::Token;
use scylla::statement::prepared::PreparedStatement;
use scylla::value::CqlValue;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use spark_ds_core::{BatchSource, Error, ErrorKind, Result, RetryPolicy, TaskMetrics};
use tokio::task::JoinHandle;

use crate::SYSTEM;
use crate::errors::{execution_error, prepare_error};
use crate::options::{Config, quote};
use crate::pushdown::{PushState, json_to_cql};
use crate::query::CqlQuery;
use crate::ring::{
    OwnedRange, TokenRange, estimate_bytes, plan_splits, ring_ranges, split_count, subdivide,
};
use crate::schema::{Source, TableMeta, project, project_as, table_meta};
use crate::session::{evict_if_fatal, session};
use crate::throttle::{Throttle, acquire};
use crate::to_arrow::{ColumnBuilder, cql_literal, way_through};

const LOG: &str = "spark_ds::cassandra";
/// Partition keys read by one Spark partition in key-lookup mode.
const KEYS_PER_PARTITION: usize = 256;

/// One Spark partition, as JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum PartitionSpec {
    /// Token ranges `(start, end]` owned by `replica`.
    Ranges {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        replica: Option<String>,
        ranges: Vec<(i64, i64)>,
    },
    /// Partition keys, each a list of values in partition-key order.
    Keys { keys: Vec<Vec<Value>> },
    /// The `query` option as written, in one partition: its WHERE clause restricts the
    /// partition key, which CQL does not combine with token ranges.
    Whole,
}

impl PartitionSpec {
    /// Token ranges cut so `concurrency` of them can be scanned at once.
    fn subdivided(self, concurrency: usize) -> PartitionSpec {
        match self {
            PartitionSpec::Ranges { replica, ranges } => {
                let ranges: Vec<TokenRange> = ranges
                    .into_iter()
                    .map(|(start, end)| TokenRange { start, end })
                    .collect();
                PartitionSpec::Ranges {
                    replica,
                    ranges: subdivide(&ranges, concurrency)
                        .into_iter()
                        .map(|r| (r.start, r.end))
                        .collect(),
                }
            }
            keys => keys,
        }
    }
}

/// The first backoff: a node that dropped its connections takes seconds, not milliseconds,
/// to take new ones, so starting at core's 100 ms spends attempts too early.
const INITIAL_BACKOFF: Duration = Duration::from_millis(250);

pub(crate) fn retry_policy(cfg: &Config) -> RetryPolicy {
    cfg.retry.policy(INITIAL_BACKOFF)
}

fn token_expr(meta: &TableMeta) -> String {
    format!(
        "token({})",
        meta.partition_key
            .iter()
            .map(|c| quote(c))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Estimated table size from `system.size_estimates` (0 when unknown).
async fn table_bytes(session: &Session, meta: &TableMeta) -> u64 {
    let q = "SELECT range_start, range_end, partitions_count, mean_partition_size FROM system.size_estimates \
             WHERE keyspace_name = ? AND table_name = ?";
    let rows = match session
        .query_unpaged(q, (&meta.keyspace, &meta.table))
        .await
    {
        Ok(r) => r,
        Err(e) => {
            log::debug!(target: LOG, "no size estimates: {e}");
            return 0;
        }
    };
    let Ok(rows) = rows.into_rows_result() else {
        return 0;
    };
    let Ok(iter) = rows.rows::<(String, String, i64, i64)>() else {
        return 0;
    };
    let parsed: Vec<(i64, i64, i64, i64)> = iter
        .filter_map(|r| r.ok())
        .filter_map(|(s, e, n, m)| Some((s.parse().ok()?, e.parse().ok()?, n, m)))
        .collect();
    estimate_bytes(&parsed)
}

/// Plans the Spark partitions.
pub async fn plan_partitions(
    cfg: &Config,
    columns: &[String],
    pushdown_state: Option<&str>,
) -> Result<Vec<String>> {
    let session = session(cfg).await?;
    let meta = table_meta(&session, cfg).await?;
    project(&meta, cfg, columns)?;
    let state = PushState::parse(pushdown_state)?;
    let whole = cfg
        .query
        .as_ref()
        .is_some_and(|q| q.restricts_partition(&meta.partition_key));
    let specs: Vec<PartitionSpec> = if whole {
        vec![PartitionSpec::Whole]
    } else if state.keys.is_some() {
        state
            .key_tuples()
            .chunks(KEYS_PER_PARTITION)
            .map(|c| PartitionSpec::Keys { keys: c.to_vec() })
            .collect()
    } else {
        let cluster = session.get_cluster_state();
        let ring: Vec<(i64, Option<SocketAddr>)> = cluster
            .replica_locator()
            .ring()
            .iter()
            .map(|(token, _)| {
                let replicas = cluster.get_token_endpoints(&meta.keyspace, &meta.table, *token);
                let local = replicas
                    .iter()
                    .find(|(n, _)| cfg.local_dc.is_none() || n.datacenter == cfg.local_dc)
                    .or(replicas.first())
                    .map(|(n, _)| SocketAddr::new(n.address.ip(), n.address.port()));
                (token.value(), local)
            })
            .collect();
        let nodes = cluster.get_nodes_info().len();
        let owned: Vec<OwnedRange<Option<SocketAddr>>> = if ring.is_empty() {
            vec![OwnedRange {
                range: TokenRange {
                    start: i64::MIN,
                    end: i64::MAX,
                },
                owner: None,
            }]
        } else {
            ring_ranges(&ring)
        };
        let count = match cfg.split_count {
            Some(n) => n,
            None => {
                let bytes = table_bytes(&session, &meta).await;
                let n = split_count(bytes, cfg.split_size_mb as u64, nodes);
                log::info!(target: LOG, "{}.{}: estimated {bytes} bytes → {n} splits", meta.keyspace, meta.table);
                n
            }
        };
        plan_splits(&owned, count)
            .into_iter()
            .map(|s| PartitionSpec::Ranges {
                replica: s.owner.map(|a| a.to_string()),
                ranges: s.ranges.iter().map(|r| (r.start, r.end)).collect(),
            })
            .collect()
    };
    specs
        .iter()
        .map(|s| {
            serde_json::to_string(s).map_err(|e| Error::internal(SYSTEM, "plan", e.to_string()))
        })
        .collect()
}

/// The CQL of a read and the binds of each of its queries.
pub(crate) struct ReadPlan {
    pub cql: String,
    pub binds: Vec<Vec<CqlValue>>,
}

fn restriction_values(meta: &TableMeta, state: &PushState) -> Result<Vec<CqlValue>> {
    let mut out = Vec::new();
    for r in &state.restrictions {
        let typ = meta
            .column_type(&r.column)
            .ok_or_else(|| meta.unknown_column("pushdown", &r.column))?;
        for v in &r.values {
            out.push(json_to_cql(v, typ).ok_or_else(|| {
                Error::internal(
                    SYSTEM,
                    "pushdown",
                    format!("cannot convert pushed value {v} for `{}`", r.column),
                )
            })?);
        }
    }
    Ok(out)
}

pub(crate) fn read_plan(
    meta: &TableMeta,
    sources: &[Source],
    (state, query): (&PushState, Option<&CqlQuery>),
    spec: &PartitionSpec,
) -> Result<ReadPlan> {
    let selectors: Vec<String> = if sources.is_empty() {
        vec![quote(&meta.partition_key[0])]
    } else {
        sources.iter().map(Source::selector).collect()
    };
    let extra = restriction_values(meta, state)?;
    let mut conditions = Vec::new();
    let mut binds = Vec::new();
    match spec {
        PartitionSpec::Keys { keys } => {
            conditions.extend(
                meta.partition_key
                    .iter()
                    .map(|c| format!("{} = ?", quote(c))),
            );
            for key in keys {
                let mut row = Vec::with_capacity(key.len() + extra.len());
                for (col, v) in meta.partition_key.iter().zip(key) {
                    let typ = meta
                        .column_type(col)
                        .ok_or_else(|| meta.unknown_column("read", col))?;
                    row.push(json_to_cql(v, typ).ok_or_else(|| {
                        Error::internal(
                            SYSTEM,
                            "read",
                            format!("cannot convert key value {v} for `{col}`"),
                        )
                    })?);
                }
                row.extend(extra.iter().cloned());
                binds.push(row);
            }
        }
        PartitionSpec::Whole => binds.push(extra.clone()),
        PartitionSpec::Ranges { ranges, .. } => {
            let token = token_expr(meta);
            // The range starting at the minimum token includes it (see ring.rs).
            let starts_at_min = ranges.iter().any(|(s, _)| *s == i64::MIN);
            let op = if starts_at_min { ">=" } else { ">" };
            conditions.push(format!("{token} {op} ? AND {token} <= ?"));
            for (s, e) in ranges {
                if starts_at_min && *s != i64::MIN {
                    // Mixed: keep ">=" exact by starting one token later.
                    let mut row = vec![CqlValue::BigInt(s.saturating_add(1)), CqlValue::BigInt(*e)];
                    row.extend(extra.iter().cloned());
                    binds.push(row);
                } else {
                    let mut row = vec![CqlValue::BigInt(*s), CqlValue::BigInt(*e)];
                    row.extend(extra.iter().cloned());
                    binds.push(row);
                }
            }
        }
    }
    conditions.extend(state.restriction_cql());
    if let Some(w) = query.and_then(|q| q.where_clause.as_ref()) {
        conditions.push(format!("({w})"));
    }
    let mut cql = format!("SELECT {} FROM {}", selectors.join(", "), meta.qualified());
    if !conditions.is_empty() {
        cql.push_str(" WHERE ");
        cql.push_str(&conditions.join(" AND "));
    }
    if state.allow_filtering || query.is_some_and(|q| q.allow_filtering) {
        cql.push_str(" ALLOW FILTERING");
    }
    Ok(ReadPlan { cql, binds })
}

/// Checks a user schema against the table (see [`project_as`]) before any task runs.
pub async fn check_schema(cfg: &Config, requested: &Schema) -> Result<()> {
    let session = session(cfg).await?;
    let meta = table_meta(&session, cfg).await?;
    project_as(&meta, cfg, &[], Some(requested)).map(|_| ())
}

/// Opens the reader of one partition, building the columns in the `requested` types
/// (a user schema) or the default mapping.
pub async fn open_reader(
    cfg: &Config,
    columns: &[String],
    requested: Option<&Schema>,
    pushdown_state: Option<&str>,
    partition_json: &str,
) -> Result<Box<dyn BatchSource>> {
    let spec: PartitionSpec = serde_json::from_str(partition_json)
        .map_err(|e| Error::internal(SYSTEM, "read", format!("bad partition description: {e}")))?;
    let session = session(cfg).await?;
    let meta = table_meta(&session, cfg).await?;
    let (schema, sources) = project_as(&meta, cfg, columns, requested)?;
    let state = PushState::parse(pushdown_state)?;
    let spec = spec.subdivided(cfg.concurrent_scans);
    let plan = read_plan(&meta, &sources, (&state, cfg.query.as_ref()), &spec)?;
    let mut prepared = session
        .prepare(plan.cql.as_str())
        .await
        .map_err(|e| prepare_error("read", &plan.cql, &e))?;
    // The option's range (1–1,000,000) fits an i32.
    prepared.set_page_size(cfg.fetch_size as i32);
    prepared.set_consistency(cfg.consistency.to_driver());
    prepared.set_is_idempotent(true);
    if let PartitionSpec::Ranges {
        replica: Some(addr),
        ..
    } = &spec
    {
        if let Ok(addr) = addr.parse::<SocketAddr>() {
            let cluster = session.get_cluster_state();
            if let Some(node) = cluster
                .get_nodes_info()
                .iter()
                .find(|n| SocketAddr::new(n.address.ip(), n.address.port()) == addr)
            {
                if node.is_connected() {
                    prepared.set_load_balancing_policy(Some(SingleTargetLoadBalancingPolicy::new(
                        NodeIdentifier::Node(node.clone()),
                        None,
                    )));
                }
            }
        }
    }
    let label = match &spec {
        PartitionSpec::Keys { keys } => format!(
            "read {}.{} ({} keys)",
            meta.keyspace,
            meta.table,
            keys.len()
        ),
        PartitionSpec::Ranges { ranges, replica } => format!(
            "read {}.{} ({} token ranges on {})",
            meta.keyspace,
            meta.table,
            ranges.len(),
            replica.as_deref().unwrap_or("any replica")
        ),
        PartitionSpec::Whole => format!("read {}.{} (query as written)", meta.keyspace, meta.table),
    };
    log::info!(target: LOG, "{label}: {}", plan.cql);
    let concurrency = match &spec {
        PartitionSpec::Keys { .. } => cfg.concurrent_reads,
        PartitionSpec::Ranges { .. } | PartitionSpec::Whole => cfg.concurrent_scans,
    };
    let key_columns: Vec<String> = meta
        .partition_key
        .iter()
        .chain(&meta.clustering_key)
        .cloned()
        .collect();
    Ok(Box::new(PagedReader::new(
        cfg,
        session,
        prepared,
        (schema, sources, key_columns),
        plan.binds,
        concurrency,
        label,
    )))
}

struct Shared {
    session: Arc<Session>,
    prepared: PreparedStatement,
    schema: SchemaRef,
    names: Vec<String>,
    /// The primary key columns, with their position among the selected columns when read:
    /// a value that cannot be converted is reported with its row's key.
    keys: Vec<(String, Option<usize>)>,
    metrics: TaskMetrics,
    policy: RetryPolicy,
    capacity: usize,
}

struct Page {
    batch: Option<RecordBatch>,
    next: Option<PagingState>,
}

/// A page fetch running on the runtime; it hands back the query's binds so the reader can
/// ask for the query's next page.
type Fetch = JoinHandle<Result<(Arc<Vec<CqlValue>>, Page)>>;

/// Reads the queries of a partition (token ranges or keys), up to `concurrency` at once.
///
/// Each running query keeps its next page in flight while the consumer works on the
/// current one, so a task has `concurrency` requests outstanding and at most that many
/// pages buffered. Pages come out in completion order.
pub struct PagedReader {
    shared: Arc<Shared>,
    queue: VecDeque<Arc<Vec<CqlValue>>>,
    in_flight: FuturesUnordered<Fetch>,
    concurrency: usize,
    pages: Option<Throttle>,
    bytes: Option<Throttle>,
    label: String,
    done: bool,
}

impl PagedReader {
    fn new(
        cfg: &Config,
        session: Arc<Session>,
        prepared: PreparedStatement,
        (schema, sources, key_columns): (SchemaRef, Vec<Source>, Vec<String>),
        binds: Vec<Vec<CqlValue>>,
        concurrency: usize,
        label: String,
    ) -> Self {
        let keys = key_columns
            .into_iter()
            .map(|k| {
                let at = sources.iter().position(|s| *s == Source::Column(k.clone()));
                (k, at)
            })
            .collect();
        let names = sources
            .iter()
            .map(|s| match s {
                Source::Column(c) => c.clone(),
                Source::WriteTime(c) => format!("{c}_writetime"),
                Source::Ttl(c) => format!("{c}_ttl"),
            })
            .collect();
        PagedReader {
            shared: Arc::new(Shared {
                session,
                prepared,
                schema,
                names,
                keys,
                metrics: TaskMetrics::with_request_noun("pages"),
                policy: retry_policy(cfg),
                capacity: cfg.fetch_size,
            }),
            queue: binds.into_iter().map(Arc::new).collect(),
            in_flight: FuturesUnordered::new(),
            concurrency: concurrency.max(1),
            pages: cfg.reads_per_sec.map(|n| Throttle::new(n as f64)),
            bytes: cfg
                .read_mb_per_sec
                .map(|mb| Throttle::new(mb * 1024.0 * 1024.0)),
            label,
            done: false,
        }
    }

    /// Starts fetching one page of a query.
    async fn spawn(&mut self, values: Arc<Vec<CqlValue>>, paging: PagingState) -> Result<()> {
        acquire(&mut self.pages, 1.0).await;
        let rt = spark_ds_core::runtime::runtime()?;
        let shared = self.shared.clone();
        self.in_flight.push(rt.spawn(async move {
            let page = fetch_page(shared, values.clone(), paging).await?;
            Ok((values, page))
        }));
        Ok(())
    }

    async fn next(&mut self) -> Result<Option<RecordBatch>> {
        loop {
            if self.done {
                return Ok(None);
            }
            while self.in_flight.len() < self.concurrency {
                let Some(values) = self.queue.pop_front() else {
                    break;
                };
                self.spawn(values, PagingState::start()).await?;
            }
            let Some(joined) = self.in_flight.next().await else {
                self.done = true;
                log::info!(target: LOG, "{}", self.shared.metrics.summary_line(SYSTEM, &self.label));
                return Ok(None);
            };
            let (values, page) = joined
                .map_err(|e| Error::internal(SYSTEM, "read", format!("page task failed: {e}")))?
                .inspect_err(|_| self.done = true)?;
            // Prefetch the query's next page while the caller works on this one.
            if let Some(p) = page.next {
                self.spawn(values, p).await?;
            }
            if let Some(batch) = page.batch {
                let size = batch.get_array_memory_size() as f64;
                acquire(&mut self.bytes, size).await;
                return Ok(Some(batch));
            }
        }
    }
}

impl BatchSource for PagedReader {
    fn next_batch(&mut self) -> BoxFuture<'_, Result<Option<RecordBatch>>> {
        Box::pin(self.next())
    }
}

impl Drop for PagedReader {
    fn drop(&mut self) {
        for fetch in self.in_flight.iter() {
            fetch.abort();
        }
    }
}

async fn fetch_page(
    shared: Arc<Shared>,
    values: Arc<Vec<CqlValue>>,
    paging: PagingState,
) -> Result<Page> {
    let (result, response) =
        spark_ds_core::retry(&shared.policy, &shared.metrics, SYSTEM, "read page", || {
            let shared = shared.clone();
            let values = values.clone();
            let paging = paging.clone();
            async move {
                shared.metrics.add_request();
                shared
                    .session
                    .execute_single_page(&shared.prepared, values.as_slice(), paging)
                    .await
                    .map_err(|e| execution_error("read", &e))
            }
        })
        .await
        .inspect_err(|e| evict_if_fatal(&shared.session, e))?;
    let next = match response {
        PagingStateResponse::HasMorePages { state } => Some(state),
        PagingStateResponse::NoMorePages => None,
    };
    let rows = result.into_rows_result().map_err(|e| {
        Error::permanent(
            SYSTEM,
            "read",
            format!("the query returned no rows result: {e}"),
        )
    })?;
    shared.metrics.add_bytes(rows.rows_bytes_size() as u64);
    let n = rows.rows_num();
    if n == 0 {
        return Ok(Page { batch: None, next });
    }
    let batch = to_batch(
        &shared,
        rows.rows::<ColumnIterator>()
            .map_err(|e| Error::data(SYSTEM, "read", e.to_string()))?,
        n,
    )?;
    shared.metrics.add_rows(n as u64);
    Ok(Page {
        batch: Some(batch),
        next,
    })
}

fn to_batch<'frame, 'metadata, I>(shared: &Shared, rows: I, n: usize) -> Result<RecordBatch>
where
    I: Iterator<
        Item = std::result::Result<
            ColumnIterator<'frame, 'metadata>,
            scylla::deserialize::DeserializationError,
        >,
    >,
{
    let fields = shared.schema.fields();
    if fields.is_empty() {
        let mut count = 0;
        for r in rows {
            r.map_err(|e| Error::data(SYSTEM, "read", e.to_string()))?;
            count += 1;
        }
        return RecordBatch::try_new_with_options(
            shared.schema.clone(),
            vec![],
            &RecordBatchOptions::new().with_row_count(Some(count)),
        )
        .map_err(|e| Error::internal(SYSTEM, "read", e.to_string()));
    }
    let mut builders = fields
        .iter()
        .map(|f| ColumnBuilder::new(f.data_type(), n.max(shared.capacity.min(n))))
        .collect::<Result<Vec<_>>>()?;
    let mut columns: Vec<RawColumn<'frame, 'metadata>> = Vec::with_capacity(fields.len());
    for r in rows {
        let row = r.map_err(|e| Error::data(SYSTEM, "read", e.to_string()))?;
        columns.clear();
        for column in row {
            columns.push(column.map_err(|e| Error::data(SYSTEM, "read", e.to_string()))?);
        }
        for ((b, column), name) in builders.iter_mut().zip(&columns).zip(&shared.names) {
            b.append_raw(column, name)
                .map_err(|e| at_row(e, shared, &columns, name, column))?;
        }
    }
    let arrays = builders
        .iter_mut()
        .map(ColumnBuilder::finish)
        .collect::<Result<Vec<_>>>()?;
    RecordBatch::try_new(shared.schema.clone(), arrays)
        .map_err(|e| Error::internal(SYSTEM, "read", e.to_string()))
}

/// A value error with the row's primary key and, for a value Spark cannot hold in the
/// column's type, the user schema that reads it.
fn at_row(
    e: Error,
    shared: &Shared,
    columns: &[RawColumn<'_, '_>],
    name: &str,
    column: &RawColumn<'_, '_>,
) -> Error {
    if e.kind() != ErrorKind::Data {
        return e;
    }
    let mut known = Vec::new();
    let mut unread = Vec::new();
    for (key, at) in &shared.keys {
        match at.and_then(|i| columns.get(i)) {
            Some(c) => {
                let value = <Option<CqlValue>>::deserialize(c.spec.typ(), c.slice)
                    .ok()
                    .flatten()
                    .map_or_else(|| "null".to_string(), |v| cql_literal(&v));
                known.push(format!("{key}={value}"));
            }
            None => unread.push(format!("`{key}`")),
        }
    }
    let row = if unread.is_empty() {
        format!("at row ({})", known.join(", "))
    } else {
        format!(
            "at row ({}{}key columns {} not read; add them to the user schema to see the key)",
            known.join(", "),
            if known.is_empty() { "" } else { "; " },
            unread.join(", ")
        )
    };
    Error::data(
        SYSTEM,
        e.operation().to_string(),
        format!(
            "{} {row}; {}",
            e.message(),
            way_through(name, column.spec.typ())
        ),
    )
}

/// Token of a partition key, by the driver's partitioner (used by tests and lookups).
pub fn token_of(prepared: &PreparedStatement, values: &[CqlValue]) -> Option<i64> {
    prepared
        .calculate_token(&values)
        .ok()
        .flatten()
        .map(|t: Token| t.value())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::tests::sample_meta;
    use serde_json::json;

    #[test]
    fn partition_json_is_small_and_stable() {
        let s = PartitionSpec::Ranges {
            replica: Some("127.0.0.1:9042".into()),
            ranges: vec![(i64::MIN, -5), (7, 9)],
        };
        let j = serde_json::to_string(&s).unwrap();
        assert_eq!(
            j,
            r#"{"kind":"ranges","replica":"127.0.0.1:9042","ranges":[[-9223372036854775808,-5],[7,9]]}"#
        );
        assert_eq!(serde_json::from_str::<PartitionSpec>(&j).unwrap(), s);
    }

    #[test]
    fn cql_for_the_query_option() {
        let m = sample_meta();
        let sources = vec![Source::Column("n".into())];
        let q = CqlQuery::parse("SELECT n FROM ks.t WHERE n > 3 ALLOW FILTERING").unwrap();
        let ranges = PartitionSpec::Ranges {
            replica: None,
            ranges: vec![(7, 9)],
        };
        let p = read_plan(&m, &sources, (&PushState::default(), Some(&q)), &ranges).unwrap();
        assert_eq!(
            p.cql,
            "SELECT \"n\" FROM \"ks\".\"t\" WHERE token(\"k1\", \"k2\") > ? AND token(\"k1\", \"k2\") <= ? AND (n > 3) ALLOW FILTERING"
        );
        let q = CqlQuery::parse("SELECT n FROM ks.t WHERE k1 = 1 AND k2 = 'a'").unwrap();
        assert!(q.restricts_partition(&m.partition_key));
        let p = read_plan(
            &m,
            &sources,
            (&PushState::default(), Some(&q)),
            &PartitionSpec::Whole,
        )
        .unwrap();
        assert_eq!(
            p.cql,
            "SELECT \"n\" FROM \"ks\".\"t\" WHERE (k1 = 1 AND k2 = 'a')"
        );
        assert_eq!(p.binds, vec![Vec::<CqlValue>::new()]);
    }

    #[test]
    fn cql_for_ranges_and_keys() {
        let m = sample_meta();
        let sources = vec![Source::Column("n".into()), Source::WriteTime("n".into())];
        let spec = PartitionSpec::Ranges {
            replica: None,
            ranges: vec![(i64::MIN, -5), (7, 9)],
        };
        let p = read_plan(&m, &sources, (&PushState::default(), None), &spec).unwrap();
        assert_eq!(
            p.cql,
            "SELECT \"n\", writetime(\"n\") FROM \"ks\".\"t\" WHERE token(\"k1\", \"k2\") >= ? AND token(\"k1\", \"k2\") <= ?"
        );
        assert_eq!(
            p.binds[0],
            vec![CqlValue::BigInt(i64::MIN), CqlValue::BigInt(-5)]
        );
        assert_eq!(
            p.binds[1],
            vec![CqlValue::BigInt(8), CqlValue::BigInt(9)],
            "(7, 9] as [8, 9]"
        );
        let p = read_plan(
            &m,
            &sources,
            (&PushState::default(), None),
            &PartitionSpec::Ranges {
                replica: None,
                ranges: vec![(7, 9)],
            },
        )
        .unwrap();
        assert!(p.cql.contains("> ? AND"));
        let state = PushState {
            keys: Some(vec![vec![json!(1)], vec![json!("a")]]),
            restrictions: vec![crate::pushdown::Restriction {
                column: "c1".into(),
                op: ">".into(),
                values: vec![json!({"$ms": 5})],
            }],
            allow_filtering: false,
        };
        let spec = PartitionSpec::Keys {
            keys: state.key_tuples(),
        };
        let p = read_plan(&m, &[], (&state, None), &spec).unwrap();
        assert_eq!(
            p.cql,
            "SELECT \"k1\" FROM \"ks\".\"t\" WHERE \"k1\" = ? AND \"k2\" = ? AND \"c1\" > ?"
        );
        assert_eq!(p.binds[0].len(), 3);
    }
}
