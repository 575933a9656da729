//! Reads: schema inference, partition planning and Arrow batches from raw BSON.
//!
//! A partition is one `aggregate`: `[$match partition bounds] + aggregation.pipeline +
//! [$match pre-filter] + [$project schema fields]`. A task on the runtime drives the
//! cursor into a bounded channel, so the server's next batch is on its way while Spark
//! consumes the current one.

use std::collections::VecDeque;
use std::future::Future;
use std::hash::{DefaultHasher, Hasher};
use std::sync::Arc;
use std::time::Duration;

use arrow_array::RecordBatch;
use arrow_schema::{Schema, SchemaRef};
use futures::StreamExt as _;
use futures::future::BoxFuture;
use mongodb::Collection;
use mongodb::bson::{Bson, Document, RawDocumentBuf, doc};
use mongodb::options::{AggregateOptions, ReadConcern, ReadPreference, SelectionCriteria};
use mongodb::raw_batch_cursor::{RawBatch, RawBatchCursor};
use spark_ds_core::{BatchSource, Error, ErrorKind, Result, RetryPolicy, TaskMetrics};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::options::{self, Config};
use crate::partition::{self, Partition};
use crate::to_arrow::BatchBuilder;
use crate::{SYSTEM, retry_policy};
use crate::{client, deadline, errors, pipeline, pushdown};

const LOG: &str = "spark_ds::mongodb";

/// Rows per Arrow batch handed to Spark.
const BATCH_ROWS: usize = 4096;

/// Server batches buffered ahead of the one being converted.
const PREFETCH: usize = 2;

pub(crate) async fn infer_schema(cfg: &Config) -> Result<Schema> {
    crate::infer::infer_schema(cfg).await
}

pub(crate) fn check_schema(cfg: &Config, schema: &Schema) -> Result<()> {
    crate::to_arrow::BatchBuilder::new(
        std::sync::Arc::new(schema.clone()),
        cfg.parse_mode,
        cfg.corrupt_record_column.as_deref(),
    )
    .map(|_| ())
}

pub(crate) async fn plan_partitions(
    cfg: &Config,
    _columns: &[String],
    _pushdown_state: Option<&str>,
) -> Result<Vec<String>> {
    // Pipelines are checked on the driver, before any task.
    pipeline::parse(cfg.pipeline.as_deref())?;
    Ok(partition::plan(cfg)
        .await?
        .iter()
        .map(Partition::to_json)
        .collect())
}

/// The stages of one partition's read of `schema`'s columns.
pub fn read_pipeline(
    cfg: &Config,
    schema: &Schema,
    pushdown_state: Option<&str>,
    partition: &Partition,
) -> Result<Vec<Document>> {
    let mut stages = vec![];
    if !partition.filter.is_empty() {
        stages.push(doc! { "$match": partition.filter.clone() });
    }
    stages.extend(pipeline::parse(cfg.pipeline.as_deref())?);
    if let Some(m) = pushdown::prefilter(pushdown_state, schema, cfg)? {
        stages.push(doc! { "$match": m });
    }
    if let Some(p) = projection(cfg, schema) {
        stages.push(doc! { "$project": p });
    }
    Ok(stages)
}

/// The `$project` of the schema's top-level fields, when pushdown is on and it is exact:
/// not with the corrupt-record column (it holds the whole document) nor with names MongoDB
/// reads as paths.
fn projection(cfg: &Config, schema: &Schema) -> Option<Document> {
    if !cfg.pushdown {
        return None;
    }
    let corrupt = cfg.corrupt_record_column.as_deref();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    if corrupt.is_some_and(|c| names.contains(&c)) {
        return None;
    }
    if names
        .iter()
        .any(|n| n.is_empty() || n.contains('.') || n.starts_with('$'))
    {
        return None;
    }
    let mut p = Document::new();
    // `_id` is in every document unless left out.
    p.insert("_id", i32::from(names.contains(&"_id")));
    for n in names.iter().filter(|n| **n != "_id") {
        p.insert(*n, 1);
    }
    if p.len() == 1 {
        // No field asked for (e.g. count()): the smallest documents.
        p.insert("_id", 1);
    }
    Some(p)
}

fn aggregate_options(cfg: &Config) -> AggregateOptions {
    let mut o = AggregateOptions::default();
    o.allow_disk_use = Some(cfg.allow_disk_use);
    o.batch_size = cfg.batch_size.map(|n| n as u32);
    o.comment = cfg.comment.clone().map(Bson::String);
    o.max_time = cfg.max_time_ms.map(|ms| Duration::from_millis(ms as u64));
    o.read_concern = cfg.read_concern.map(|level| match level {
        options::ReadConcern::Local => ReadConcern::local(),
        options::ReadConcern::Available => ReadConcern::available(),
        options::ReadConcern::Majority => ReadConcern::majority(),
        options::ReadConcern::Linearizable => ReadConcern::linearizable(),
        options::ReadConcern::Snapshot => ReadConcern::snapshot(),
    });
    let preference = match cfg.read_preference {
        options::ReadPreference::Primary => ReadPreference::Primary,
        options::ReadPreference::PrimaryPreferred => {
            ReadPreference::PrimaryPreferred { options: None }
        }
        options::ReadPreference::Secondary => ReadPreference::Secondary { options: None },
        options::ReadPreference::SecondaryPreferred => {
            ReadPreference::SecondaryPreferred { options: None }
        }
        options::ReadPreference::Nearest => ReadPreference::Nearest { options: None },
    };
    o.selection_criteria = Some(SelectionCriteria::ReadPreference(preference));
    o
}

pub(crate) async fn open_reader(
    cfg: &Config,
    schema: &Schema,
    pushdown_state: Option<&str>,
    partition_json: &str,
) -> Result<Box<dyn BatchSource>> {
    let partition = Partition::parse(partition_json)?;
    let ns = cfg.namespace()?;
    let stages = read_pipeline(cfg, schema, pushdown_state, &partition)?;
    let schema: SchemaRef = Arc::new(schema.clone());
    let builder = BatchBuilder::new(schema, cfg.parse_mode, cfg.corrupt_record_column.as_deref())?;
    let label = format!("read partition {} of {}", partition.index, partition.count);
    let metrics = Arc::new(TaskMetrics::with_request_noun("batches"));
    let source = Source {
        client: client::client(cfg).await?,
        coll: client::collection(cfg).await?,
        stages,
        options: aggregate_options(cfg),
        ns,
        endpoint: client::endpoint_label(cfg),
        policy: retry_policy(cfg),
        request_timeout: cfg.timeouts.request_timeout,
        metrics: metrics.clone(),
        label: label.clone(),
    };
    // Opening is retried here, in the task, so the retries show in its summary.
    let cursor = source.retried(|| source.open()).await?;
    log::info!(target: LOG, "mongodb {label}: cursor open");
    let (tx, rx) = mpsc::channel(PREFETCH);
    let rt = spark_ds_core::runtime::runtime()?;
    let feeder = rt.spawn(source.feed(cursor, tx));
    Ok(Box::new(MongoReader {
        rx,
        feeder,
        builder,
        ready: VecDeque::new(),
        metrics,
        label,
        done: false,
    }))
}

fn read_error(client: &Arc<mongodb::Client>, ns: &str, e: mongodb::error::Error) -> Error {
    let error = errors::driver("read", ns, e);
    client::evict_if_fatal(client, &error);
    error
}

/// Whether a failure mid-cursor is worth resuming: a transient error (connection cut,
/// server restarting), or a server cursor that is gone (a restarted server forgot it).
fn resumable(e: &Error) -> bool {
    e.is_retryable()
        || errors::as_driver(e)
            .and_then(errors::server_code)
            .is_some_and(|c| {
                c == errors::code::CURSOR_NOT_FOUND || c == errors::code::CURSOR_KILLED
            })
}

/// Server batches for the reader: the documents of `raw` from index `skip` on (a replay's
/// batch that straddles the resume point starts after the documents already handed on).
struct Chunk {
    raw: RawBatch,
    skip: usize,
}

/// An order-sensitive digest of the documents handed to the reader: their count and a
/// 64-bit hash over each one's raw bytes, in order.
#[derive(Clone, Default)]
struct Digest {
    count: u64,
    hasher: DefaultHasher,
}

impl Digest {
    fn add(&mut self, doc: &[u8]) {
        self.hasher.write_usize(doc.len());
        self.hasher.write(doc);
        self.count += 1;
    }

    fn value(&self) -> u64 {
        self.hasher.finish()
    }
}

/// What a replayed batch means for a resume.
#[derive(Debug, PartialEq)]
enum Replayed {
    /// Every document of the batch was handed on before: read on.
    Skip,
    /// The replay matched what was handed on; the batch continues at this index.
    ResumeAt(usize),
    /// The replay's first documents differ from those handed on.
    Differs,
}

/// Checks a replayed cursor, batch by batch, against the documents handed on before.
struct Replay {
    delivered: Digest,
    seen: Digest,
}

impl Replay {
    fn new(delivered: &Digest) -> Replay {
        Replay {
            delivered: delivered.clone(),
            seen: Digest::default(),
        }
    }

    fn batch<'a>(&mut self, docs: impl IntoIterator<Item = &'a [u8]>) -> Replayed {
        if self.seen.count == self.delivered.count {
            return Replayed::ResumeAt(0);
        }
        for (i, doc) in docs.into_iter().enumerate() {
            self.seen.add(doc);
            if self.seen.count == self.delivered.count {
                return if self.seen.value() == self.delivered.value() {
                    Replayed::ResumeAt(i + 1)
                } else {
                    Replayed::Differs
                };
            }
        }
        Replayed::Skip
    }
}

/// The raw documents of a server batch.
fn documents(raw: &RawBatch) -> Result<Vec<&[u8]>> {
    let docs = raw
        .doc_slices()
        .map_err(|e| Error::internal(SYSTEM, "read", format!("bad server batch: {e}")))?;
    docs.into_iter()
        .map(|item| {
            let value =
                item.map_err(|e| Error::data(SYSTEM, "read", format!("bad server batch: {e}")))?;
            value.as_document().map(|d| d.as_bytes()).ok_or_else(|| {
                Error::internal(SYSTEM, "read", "the server returned a non-document")
            })
        })
        .collect()
}

/// One partition's aggregate, which the feeder opens again to resume after a failure.
struct Source {
    client: Arc<mongodb::Client>,
    coll: Collection<RawDocumentBuf>,
    stages: Vec<Document>,
    options: AggregateOptions,
    ns: String,
    endpoint: String,
    policy: RetryPolicy,
    /// How long one reply (the aggregate's or a getMore's) may take.
    request_timeout: Duration,
    metrics: Arc<TaskMetrics>,
    label: String,
}

impl Source {
    async fn open(&self) -> Result<RawBatchCursor> {
        self.metrics.add_request();
        let aggregate = async {
            self.coll
                .aggregate(self.stages.clone())
                .with_options(self.options.clone())
                .batch()
                .await
                .map_err(|e| read_error(&self.client, &self.ns, e))
        };
        deadline::within(self.request_timeout, "read", &self.ns, aggregate).await
    }

    /// The cursor's next batch: `None` at its end.
    async fn next_batch(&self, cursor: &mut RawBatchCursor) -> Option<Result<RawBatch>> {
        let next = async {
            match cursor.next().await {
                None => Ok(None),
                Some(batch) => batch
                    .map(Some)
                    .map_err(|e| read_error(&self.client, &self.ns, e)),
            }
        };
        deadline::within(self.request_timeout, "read", &self.ns, next)
            .await
            .transpose()
    }

    /// `step` under the retry policy, retries counted in the task's metrics; a failure
    /// that ends the retries names the servers.
    async fn retried<T, F, Fut>(&self, step: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        spark_ds_core::retry(&self.policy, &self.metrics, SYSTEM, "read", step)
            .await
            .map_err(|e| self.name_endpoint(e))
    }

    fn name_endpoint(&self, e: Error) -> Error {
        if e.is_retryable() {
            e.with_context(format!("servers {}", self.endpoint))
        } else {
            e
        }
    }

    /// Drives the cursor into the channel. A failure mid-cursor that [`resumable`] accepts
    /// re-runs the aggregate and replays it up to the documents already handed on,
    /// checking they are the same ones in the same order (see [`Replay`]); the retry
    /// policy bounds the resumes that make no progress. Only what was sent down the
    /// channel counts as handed on: the reader converts all of it, in order.
    async fn feed(self, cursor: RawBatchCursor, tx: mpsc::Sender<Result<Chunk>>) {
        let mut cursor = cursor;
        // The aggregate's reply holds the first batch; each later one is a getMore.
        let mut first = true;
        let mut delivered = Digest::default();
        // When the cursor first failed since documents last flowed.
        let mut stalled: Option<tokio::time::Instant> = None;
        loop {
            let Some(next) = self.next_batch(&mut cursor).await else {
                return;
            };
            if !std::mem::take(&mut first) {
                self.metrics.add_request();
            }
            let chunk = match next {
                Ok(raw) => Some(Chunk { raw, skip: 0 }),
                Err(error) => {
                    let resumed = if resumable(&error) {
                        self.resume(error, &delivered, &mut stalled).await
                    } else {
                        Err(error)
                    };
                    match resumed {
                        Ok((next, rest)) => {
                            cursor = next;
                            rest
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e)).await;
                            return;
                        }
                    }
                }
            };
            let Some(chunk) = chunk else {
                continue;
            };
            let before = delivered.count;
            let docs = documents(&chunk.raw).map(|docs| {
                for doc in docs.into_iter().skip(chunk.skip) {
                    delivered.add(doc);
                }
            });
            if let Err(e) = docs {
                let _ = tx.send(Err(e)).await;
                return;
            }
            if delivered.count > before {
                stalled = None;
            }
            if tx.send(Ok(chunk)).await.is_err() {
                // The reader was dropped: nothing left to do.
                return;
            }
        }
    }

    /// Re-runs the aggregate after `cause` and replays it to the documents handed on:
    /// the new cursor, and the rest of the batch the replay stopped in. `cause` is the
    /// first failed attempt of the retry policy (backoff, count, budget); the budget runs
    /// from the first failure since documents last flowed, so failures that keep
    /// recurring without progress end within it.
    async fn resume(
        &self,
        cause: Error,
        delivered: &Digest,
        stalled: &mut Option<tokio::time::Instant>,
    ) -> Result<(RawBatchCursor, Option<Chunk>)> {
        let since = *stalled.get_or_insert_with(tokio::time::Instant::now);
        let policy = RetryPolicy {
            max_elapsed: self.policy.max_elapsed.saturating_sub(since.elapsed()),
            ..self.policy
        };
        log::debug!(
            target: LOG,
            "mongodb {}: cursor failed after {} documents ({}); resuming",
            self.label,
            delivered.count,
            cause.message()
        );
        let what = cause.message().to_string();
        // A cursor the server forgot is worth a re-run like a cut connection is.
        let mut failed = Some(if cause.is_retryable() {
            cause
        } else {
            cause.with_kind(ErrorKind::Transient)
        });
        let resumed = spark_ds_core::retry(&policy, &self.metrics, SYSTEM, "read", || {
            let failed = failed.take();
            async move {
                match failed {
                    Some(cause) => Err(cause),
                    None => self.replay(delivered).await,
                }
            }
        })
        .await
        .map_err(|e| self.name_endpoint(e))?;
        log::info!(
            target: LOG,
            "mongodb {}: resumed after {} documents (replayed and checked) following: {what}",
            self.label,
            delivered.count,
        );
        Ok(resumed)
    }

    /// Opens the aggregate again and reads it up to the documents handed on.
    async fn replay(&self, delivered: &Digest) -> Result<(RawBatchCursor, Option<Chunk>)> {
        let mut cursor = self.open().await?;
        let mut replay = Replay::new(delivered);
        let mut first = true;
        loop {
            let next = self.next_batch(&mut cursor).await;
            if next.is_some() && !std::mem::take(&mut first) {
                self.metrics.add_request();
            }
            let raw = match next {
                Some(batch) => batch?,
                None if delivered.count == 0 => return Ok((cursor, None)),
                None => {
                    return Err(self.changed(delivered, "it now ends before them"));
                }
            };
            let verdict = replay.batch(documents(&raw)?);
            match verdict {
                Replayed::Skip => {}
                Replayed::ResumeAt(skip) => {
                    return Ok((cursor, Some(Chunk { raw, skip })));
                }
                Replayed::Differs => {
                    return Err(self.changed(delivered, "its first documents differ from them"));
                }
            }
        }
    }

    fn changed(&self, delivered: &Digest, how: &str) -> Error {
        Error::data(
            SYSTEM,
            "read",
            format!(
                "{}: the cursor failed after {} documents and was re-run to resume, but {how}: the collection changed during the read (or `aggregation.pipeline` is not deterministic), so resuming could lose or repeat documents; the task fails instead (run the read again)",
                self.ns, delivered.count
            ),
        )
    }
}

/// One partition's cursor, its server batches converted into Arrow batches.
struct MongoReader {
    rx: mpsc::Receiver<Result<Chunk>>,
    feeder: JoinHandle<()>,
    builder: BatchBuilder,
    ready: VecDeque<RecordBatch>,
    metrics: Arc<TaskMetrics>,
    label: String,
    done: bool,
}

impl MongoReader {
    fn convert(&mut self, chunk: &Chunk) -> Result<()> {
        let raw = &chunk.raw;
        self.metrics
            .add_bytes(raw.as_raw_document().as_bytes().len() as u64);
        let docs = raw
            .doc_slices()
            .map_err(|e| Error::internal(SYSTEM, "read", format!("bad server batch: {e}")))?;
        for item in docs.into_iter().skip(chunk.skip) {
            let value =
                item.map_err(|e| Error::data(SYSTEM, "read", format!("bad server batch: {e}")))?;
            let doc = value.as_document().ok_or_else(|| {
                Error::internal(SYSTEM, "read", "the server returned a non-document")
            })?;
            self.builder.append(doc)?;
            if self.builder.len() >= BATCH_ROWS {
                self.finish_batch()?;
            }
        }
        Ok(())
    }

    fn finish_batch(&mut self) -> Result<()> {
        let batch = self.builder.finish()?;
        self.metrics.add_rows(batch.num_rows() as u64);
        self.ready.push_back(batch);
        Ok(())
    }

    async fn next(&mut self) -> Result<Option<RecordBatch>> {
        loop {
            if let Some(batch) = self.ready.pop_front() {
                return Ok(Some(batch));
            }
            if self.done {
                return Ok(None);
            }
            match self.rx.recv().await {
                Some(Ok(chunk)) => self
                    .convert(&chunk)
                    .inspect_err(|_| self.metrics.add_error())?,
                Some(Err(e)) => {
                    self.done = true;
                    self.metrics.add_error();
                    return Err(e);
                }
                None => {
                    self.done = true;
                    if !self.builder.is_empty() {
                        self.finish_batch()?;
                    }
                    self.log_end();
                }
            }
        }
    }

    fn log_end(&self) {
        log::info!(target: LOG, "{}", self.metrics.summary_line(SYSTEM, &self.label));
        let malformed = self.builder.malformed();
        if malformed > 0 {
            log::info!(
                target: LOG,
                "mongodb {}: {malformed} malformed documents skipped (option `mode`)",
                self.label
            );
        }
    }
}

impl BatchSource for MongoReader {
    fn next_batch(&mut self) -> BoxFuture<'_, Result<Option<RecordBatch>>> {
        Box::pin(self.next())
    }
}

impl Drop for MongoReader {
    fn drop(&mut self) {
        // Stops the cursor's prefetch; the driver kills the server cursor when it drops.
        self.feeder.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::{DataType, Field};

    fn cfg(extra: &[(&str, &str)]) -> Config {
        let mut raw = vec![
            ("database".to_string(), "d".to_string()),
            ("collection".into(), "c".into()),
        ];
        raw.extend(extra.iter().map(|(k, v)| (k.to_lowercase(), v.to_string())));
        Config::parse(&raw).unwrap()
    }

    fn schema(names: &[&str]) -> Schema {
        Schema::new(
            names
                .iter()
                .map(|n| Field::new(*n, DataType::Utf8, true))
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn stages_run_partition_then_pipeline_then_filters_then_projection() {
        let c = cfg(&[("aggregation.pipeline", r#"{"$addFields": {"s": "x"}}"#)]);
        let partition = &partition::ranges("_id", &[Bson::Int32(5)])[1];
        let state = r#"[{"op": "eq", "column": "s", "value": "x"}]"#;
        let stages = read_pipeline(&c, &schema(&["s"]), Some(state), partition).unwrap();
        let names: Vec<&str> = stages
            .iter()
            .map(|s| s.keys().next().unwrap().as_str())
            .collect();
        assert_eq!(names, ["$match", "$addFields", "$match", "$project"]);
        assert_eq!(stages[0], doc! { "$match": { "_id": { "$gte": 5 } } });
        assert_eq!(stages[3], doc! { "$project": { "_id": 0, "s": 1 } });
    }

    #[test]
    fn projection_keeps_what_the_schema_needs() {
        let c = cfg(&[]);
        assert_eq!(
            projection(&c, &schema(&["a", "_id"])),
            Some(doc! { "_id": 1, "a": 1 })
        );
        // count(): only `_id`, the smallest document the server can send.
        assert_eq!(projection(&c, &schema(&[])), Some(doc! { "_id": 1 }));
        // Names MongoDB reads as paths, the corrupt-record column, or pushdown off: none.
        assert_eq!(projection(&c, &schema(&["a.b"])), None);
        let corrupt = cfg(&[("columnNameOfCorruptRecord", "bad")]);
        assert_eq!(projection(&corrupt, &schema(&["a", "bad"])), None);
        assert_eq!(
            projection(&cfg(&[("pushdown", "false")]), &schema(&["a"])),
            None
        );
        // Everything in one partition: no partition `$match`.
        let all = &partition::ranges("_id", &[])[0];
        let stages = read_pipeline(&c, &schema(&["a"]), None, all).unwrap();
        assert_eq!(stages, vec![doc! { "$project": { "_id": 0, "a": 1 } }]);
    }

    fn digest(docs: &[&[u8]]) -> Digest {
        let mut d = Digest::default();
        for doc in docs {
            d.add(doc);
        }
        d
    }

    #[test]
    fn a_replay_resumes_after_the_same_documents_in_the_same_order() {
        let delivered = digest(&[b"a", b"b", b"c"]);
        // Across batches: skip the first, resume inside the second.
        let mut r = Replay::new(&delivered);
        assert_eq!(r.batch([&b"a"[..], b"b"]), Replayed::Skip);
        assert_eq!(r.batch([&b"c"[..], b"d", b"e"]), Replayed::ResumeAt(1));
        // The batch ends exactly where the delivered documents did.
        let mut r = Replay::new(&delivered);
        assert_eq!(r.batch([&b"a"[..], b"b", b"c"]), Replayed::ResumeAt(3));
        // Nothing delivered yet: every document is new.
        let mut r = Replay::new(&Digest::default());
        assert_eq!(r.batch([&b"a"[..]]), Replayed::ResumeAt(0));
    }

    #[test]
    fn a_replay_that_differs_is_caught() {
        let delivered = digest(&[b"a", b"b", b"c"]);
        // A document changed, one replaced, the order changed, one inserted before.
        for replayed in [
            [&b"a"[..], b"B", b"c"],
            [&b"a"[..], b"b", b"x"],
            [&b"b"[..], b"a", b"c"],
            [&b"z"[..], b"a", b"b"],
        ] {
            let mut r = Replay::new(&delivered);
            assert_eq!(r.batch(replayed), Replayed::Differs, "{replayed:?}");
        }
        // Byte boundaries count: "ab" + "c" is not "a" + "bc".
        let mut r = Replay::new(&digest(&[b"ab", b"c"]));
        assert_eq!(r.batch([&b"a"[..], b"bc"]), Replayed::Differs);
    }

    #[test]
    fn only_cursor_failures_worth_a_rerun_resume() {
        assert!(resumable(&Error::transient(SYSTEM, "read", "cut")));
        assert!(!resumable(&Error::auth(SYSTEM, "read", "no")));
        assert!(!resumable(&Error::permanent(SYSTEM, "read", "bad stage")));
        assert!(!resumable(&Error::data(SYSTEM, "read", "changed")));
    }
}
