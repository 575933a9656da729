//! Reads: schema inference, partition planning and Arrow batches from raw BSON.
//!
//! A partition is one `aggregate`: `[$match partition bounds] + aggregation.pipeline +
//! [$match pre-filter] + [$project schema fields]`. A task on the runtime drives the
//! cursor into a bounded channel, so the server's next batch is on its way while Spark
//! consumes the current one.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use arrow_array::RecordBatch;
use arrow_schema::{Schema, SchemaRef};
use futures::StreamExt as _;
use futures::future::BoxFuture;
use mongodb::bson::{Bson, Document, doc};
use mongodb::options::{AggregateOptions, ReadConcern, ReadPreference, SelectionCriteria};
use mongodb::raw_batch_cursor::RawBatch;
use spark_ds_core::{BatchSource, Error, Result, TaskMetrics};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::SYSTEM;
use crate::options::{self, Config};
use crate::partition::{self, Partition};
use crate::to_arrow::BatchBuilder;
use crate::{client, errors, pipeline, pushdown};

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
    let client = client::client(cfg).await?;
    let coll = client::collection(cfg).await?;
    let metrics = Arc::new(TaskMetrics::with_request_noun("batches"));
    metrics.add_request();
    let cursor = coll
        .aggregate(stages)
        .with_options(aggregate_options(cfg))
        .batch()
        .await
        .map_err(|e| read_error(&client, &ns, e))?;
    let (tx, rx) = mpsc::channel(PREFETCH);
    let rt = spark_ds_core::runtime::runtime()?;
    let task_metrics = metrics.clone();
    let task_client = client.clone();
    let task_ns = ns.clone();
    let feeder = rt.spawn(async move {
        let mut cursor = cursor;
        let mut first = true;
        while let Some(next) = cursor.next().await {
            if !first {
                task_metrics.add_request();
            }
            first = false;
            let item = next.map_err(|e| read_error(&task_client, &task_ns, e));
            let stop = item.is_err();
            // The reader was dropped: nothing left to do.
            if tx.send(item).await.is_err() || stop {
                return;
            }
        }
    });
    Ok(Box::new(MongoReader {
        rx,
        feeder,
        builder,
        ready: VecDeque::new(),
        metrics,
        label: format!("read partition {} of {}", partition.index, partition.count),
        done: false,
    }))
}

fn read_error(client: &Arc<mongodb::Client>, ns: &str, e: mongodb::error::Error) -> Error {
    let error = errors::driver("read", ns, e);
    client::evict_if_fatal(client, &error);
    error
}

/// One partition's cursor, its server batches converted into Arrow batches.
struct MongoReader {
    rx: mpsc::Receiver<Result<RawBatch>>,
    feeder: JoinHandle<()>,
    builder: BatchBuilder,
    ready: VecDeque<RecordBatch>,
    metrics: Arc<TaskMetrics>,
    label: String,
    done: bool,
}

impl MongoReader {
    fn convert(&mut self, raw: &RawBatch) -> Result<()> {
        self.metrics
            .add_bytes(raw.as_raw_document().as_bytes().len() as u64);
        let docs = raw
            .doc_slices()
            .map_err(|e| Error::internal(SYSTEM, "read", format!("bad server batch: {e}")))?;
        for item in docs {
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
                Some(Ok(raw)) => self
                    .convert(&raw)
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
}
