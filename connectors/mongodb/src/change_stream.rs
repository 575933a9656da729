//! Stream reads by change streams: the server's resume tokens are the offsets, never
//! wall-clock times, so a micro-batch is the exact run of events after one token up to and
//! including another, and a replay reads the same events again (while the oplog keeps them).
//!
//! - The initial offset is the stream's resume token when the query starts (change streams
//!   cannot start before that); a restarted query resumes after its checkpointed token.
//! - `latestOffset` opens the stream after `start` and reads ahead (at most
//!   `maxRowsPerTrigger` events, and never past the `Trigger.AvailableNow` target) only to
//!   learn the end token; the micro-batch's task reads those events again from `start`.
//!   Admission control needs nothing on the server beyond the stream itself.
//! - Rows are the events' `fullDocument` (option `change.stream.publish.full.document.only`,
//!   default true; events without one, such as deletes, are skipped) or the whole events.
//!
//! Change streams need a replica set or a sharded cluster; a server without them (FerretDB,
//! a standalone `mongod`) is named as such at the first offset, before any task runs.

use std::sync::Arc;
use std::time::Duration;

use arrow_array::RecordBatch;
use arrow_schema::{Schema, SchemaRef};
use futures::future::BoxFuture;
use mongodb::bson::{Bson, RawDocumentBuf};
use mongodb::change_stream::ChangeStream;
use mongodb::change_stream::event::ResumeToken;
use mongodb::options::{ChangeStreamOptions, FullDocumentBeforeChangeType, FullDocumentType};
use serde_json::json;
use spark_ds_core::offsets::Position;
use spark_ds_core::{BatchSource, Error, ErrorKind, Result, TaskMetrics};

use crate::SYSTEM;
use crate::client;
use crate::deadline;
use crate::errors;
use crate::options::{Config, FullDocument, FullDocumentBefore};
use crate::pipeline;
use crate::to_arrow::BatchBuilder;

/// The offset kind in checkpoints.
const KIND: &str = "mongodb-change-stream";
/// How long one look for new events waits on the server.
const AWAIT: Duration = Duration::from_millis(200);
/// Rows per Arrow batch.
const BATCH_ROWS: usize = 4096;

/// A resume token as checkpoint text (canonical extended JSON of its document).
fn token_text(token: &ResumeToken) -> Result<String> {
    let bson = mongodb::bson::to_bson(token).map_err(|e| {
        Error::internal(
            SYSTEM,
            "change stream",
            format!("cannot encode a resume token: {e}"),
        )
    })?;
    Ok(bson.into_canonical_extjson().to_string())
}

fn token_from(text: &str) -> Result<ResumeToken> {
    let bad = |e: String| {
        Error::config(
            SYSTEM,
            format!(
                "the stream's checkpoint holds {text}, which is not a resume token ({e}); start the query with a new checkpointLocation"
            ),
        )
    };
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    let bson = Bson::try_from(value).map_err(|e| bad(e.to_string()))?;
    mongodb::bson::from_bson(bson).map_err(|e| bad(e.to_string()))
}

/// The sortable part of a token (`_data`, hex): tokens of one stream order by it.
fn token_order(text: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    value.get("_data")?.as_str().map(str::to_owned)
}

fn position(token: &ResumeToken) -> Result<Position> {
    Ok(Position::After {
        key: token_text(token)?,
        tie: None,
    })
}

fn token_of(position: &Position) -> Result<Option<ResumeToken>> {
    match position {
        Position::Start => Ok(None),
        Position::After { key, .. } => token_from(key).map(Some),
    }
}

fn options(cfg: &Config, after: Option<ResumeToken>) -> ChangeStreamOptions {
    let mut o = ChangeStreamOptions::default();
    o.resume_after = after;
    o.max_await_time = Some(AWAIT);
    o.batch_size = cfg.batch_size.map(|n| n as u32);
    o.full_document = match cfg.full_document {
        FullDocument::Default => None,
        FullDocument::UpdateLookup => Some(FullDocumentType::UpdateLookup),
        FullDocument::WhenAvailable => Some(FullDocumentType::WhenAvailable),
        FullDocument::Required => Some(FullDocumentType::Required),
    };
    o.full_document_before_change = match cfg.full_document_before_change {
        FullDocumentBefore::Off => None,
        FullDocumentBefore::WhenAvailable => Some(FullDocumentBeforeChangeType::WhenAvailable),
        FullDocumentBefore::Required => Some(FullDocumentBeforeChangeType::Required),
    };
    o
}

/// Opens the collection's change stream after `after` (now, when `None`).
async fn open(cfg: &Config, after: Option<ResumeToken>) -> Result<ChangeStream<RawDocumentBuf>> {
    let ns = cfg.namespace()?;
    let coll = client::collection(cfg).await?;
    coll.watch()
        .pipeline(pipeline::parse(cfg.pipeline.as_deref())?)
        .with_options(options(cfg, after))
        .await
        .map(|s| s.with_type::<RawDocumentBuf>())
        .map_err(|e| {
            if errors::is_unsupported(&e) {
                Error::new(
                    ErrorKind::Config,
                    SYSTEM,
                    "change stream",
                    format!(
                        "{ns}: this server has no change streams (they need a MongoDB replica set or sharded cluster; FerretDB and a standalone mongod have none): use option `stream.mode` = poll. Server said: {e}"
                    ),
                )
                .with_source(e)
            } else {
                errors::driver("change stream", &ns, e)
            }
        })
}

fn event_token(event: &RawDocumentBuf) -> Result<ResumeToken> {
    let id =
        event.get("_id").ok().flatten().ok_or_else(|| {
            Error::internal(SYSTEM, "change stream", "an event has no resume token")
        })?;
    let bson = Bson::try_from(id.to_raw_bson())
        .map_err(|e| Error::internal(SYSTEM, "change stream", format!("bad resume token: {e}")))?;
    mongodb::bson::from_bson(bson)
        .map_err(|e| Error::internal(SYSTEM, "change stream", format!("bad resume token: {e}")))
}

/// The offset when the query starts: the stream's token now.
pub async fn initial_offset(cfg: &Config) -> Result<String> {
    let stream = open(cfg, None).await?;
    let position = match stream.resume_token() {
        Some(token) => position(&token)?,
        None => Position::Start,
    };
    Ok(position.to_json(KIND))
}

/// The end of the next micro-batch: the token of the last of at most `max_rows` events
/// after `start` (all available when `None`) and not beyond `cap`; `start` when none.
pub async fn latest_offset(
    cfg: &Config,
    start: Option<&str>,
    max_rows: Option<u64>,
    cap: Option<&str>,
) -> Result<String> {
    let start = match start {
        Some(text) => Position::from_json(SYSTEM, KIND, text)?,
        None => Position::from_json(SYSTEM, KIND, &initial_offset(cfg).await?)?,
    };
    let cap = cap
        .map(|c| Position::from_json(SYSTEM, KIND, c))
        .transpose()?;
    let cap_order = match &cap {
        Some(Position::After { key, .. }) => token_order(key),
        _ => None,
    };
    let mut stream = open(cfg, token_of(&start)?).await?;
    let ns = cfg.namespace()?;
    let limit = cfg.timeouts.request_timeout;
    let mut end = start.clone();
    let mut seen = 0u64;
    while max_rows.is_none_or(|m| seen < m) {
        let next = async {
            stream
                .next_if_any()
                .await
                .map_err(|e| errors::driver("change stream", &ns, e))
        };
        let Some(event) = deadline::within(limit, "change stream", &ns, next).await? else {
            break;
        };
        let next = position(&event_token(&event)?)?;
        if let (Some(cap), Position::After { key, .. }) = (&cap_order, &next)
            && token_order(key).is_some_and(|o| o > *cap)
        {
            break;
        }
        end = next;
        seen += 1;
    }
    Ok(end.to_json(KIND))
}

/// The one partition of the micro-batch `(start, end]`, none when it is empty.
pub fn partitions(start: &str, end: &str) -> Result<Vec<String>> {
    let start_pos = Position::from_json(SYSTEM, KIND, start)?;
    let end_pos = Position::from_json(SYSTEM, KIND, end)?;
    if start_pos == end_pos || end_pos == Position::Start {
        return Ok(vec![]);
    }
    Ok(vec![
        json!({ "changeStream": { "after": start, "until": end } }).to_string(),
    ])
}

/// Whether a partition's JSON is a change-stream micro-batch.
pub fn is_change_stream_partition(partition_json: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(partition_json)
        .ok()
        .is_some_and(|v| v.get("changeStream").is_some())
}

/// Reads the events of one micro-batch as Arrow batches of `schema`.
pub async fn open_reader(
    cfg: &Config,
    schema: &Schema,
    partition_json: &str,
) -> Result<Box<dyn BatchSource>> {
    let value: serde_json::Value = serde_json::from_str(partition_json)
        .map_err(|e| Error::internal(SYSTEM, "change stream", format!("bad partition: {e}")))?;
    let bound = |name: &str| -> Result<Position> {
        let text = value["changeStream"][name].as_str().ok_or_else(|| {
            Error::internal(
                SYSTEM,
                "change stream",
                format!("partition without `{name}`"),
            )
        })?;
        Position::from_json(SYSTEM, KIND, text)
    };
    let (after, until) = (bound("after")?, bound("until")?);
    let until = match &until {
        Position::After { key, .. } => key.clone(),
        Position::Start => String::new(),
    };
    let stream = open(cfg, token_of(&after)?).await?;
    let schema: SchemaRef = Arc::new(schema.clone());
    Ok(Box::new(EventReader {
        stream,
        builder: BatchBuilder::new(schema, cfg.parse_mode, cfg.corrupt_record_column.as_deref())?,
        until,
        full_document_only: cfg.full_document_only,
        ns: cfg.namespace()?,
        request_timeout: cfg.timeouts.request_timeout,
        metrics: TaskMetrics::with_request_noun("events"),
        done: false,
    }))
}

struct EventReader {
    stream: ChangeStream<RawDocumentBuf>,
    builder: BatchBuilder,
    /// The last event's token (checkpoint text): the batch ends with it.
    until: String,
    full_document_only: bool,
    ns: String,
    /// How long one getMore (which the server holds for `AWAIT` at most) may take.
    request_timeout: Duration,
    metrics: TaskMetrics,
    done: bool,
}

impl EventReader {
    async fn next(&mut self) -> Result<Option<RecordBatch>> {
        while !self.done && self.builder.len() < BATCH_ROWS {
            let next = async {
                self.stream
                    .next_if_any()
                    .await
                    .map_err(|e| errors::driver("change stream", &self.ns, e))
            };
            let event =
                deadline::within(self.request_timeout, "change stream", &self.ns, next).await?;
            let Some(event) = event else {
                // The events of a planned batch exist: waiting is a slow server, not the end.
                continue;
            };
            self.metrics.add_request();
            let token = token_text(&event_token(&event)?)?;
            if token == self.until {
                self.done = true;
            } else if token_order(&token) > token_order(&self.until) {
                return Err(Error::permanent(
                    SYSTEM,
                    "change stream",
                    format!(
                        "{}: the event that ends this micro-batch ({}) was not delivered again; the change stream's history may have been lost (oplog too short)",
                        self.ns, self.until
                    ),
                ));
            }
            if self.full_document_only {
                // Events without a document (deletes, drops) have no row to give.
                if let Ok(doc) = event.get_document("fullDocument") {
                    self.builder.append(doc)?;
                }
            } else {
                self.builder.append(&event)?;
            }
        }
        if self.builder.is_empty() {
            log::info!(target: "spark_ds::mongodb", "{}", self.metrics.summary_line(SYSTEM, "change stream"));
            return Ok(None);
        }
        let batch = self.builder.finish()?;
        self.metrics.add_rows(batch.num_rows() as u64);
        Ok(Some(batch))
    }
}

impl BatchSource for EventReader {
    fn next_batch(&mut self) -> BoxFuture<'_, Result<Option<RecordBatch>>> {
        Box::pin(self.next())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::doc;

    fn token(data: &str) -> ResumeToken {
        mongodb::bson::from_bson(Bson::Document(doc! { "_data": data })).unwrap()
    }

    #[test]
    fn tokens_round_trip_through_checkpoint_text() {
        let t = token("8263A1B2C3000000012B022C0100296E5A1004");
        let text = token_text(&t).unwrap();
        assert_eq!(token_from(&text).unwrap(), t);
        assert_eq!(
            token_order(&text).as_deref(),
            Some("8263A1B2C3000000012B022C0100296E5A1004")
        );
        let offset = position(&t).unwrap().to_json(KIND);
        assert_eq!(
            token_of(&Position::from_json(SYSTEM, KIND, &offset).unwrap()).unwrap(),
            Some(t)
        );
    }

    #[test]
    fn a_micro_batch_is_one_partition_between_two_tokens() {
        let a = position(&token("82AA")).unwrap().to_json(KIND);
        let b = position(&token("82AB")).unwrap().to_json(KIND);
        assert!(partitions(&a, &a).unwrap().is_empty());
        let planned = partitions(&a, &b).unwrap();
        assert_eq!(planned.len(), 1);
        assert!(is_change_stream_partition(&planned[0]));
        assert!(!is_change_stream_partition(
            "{\"index\":0,\"count\":1,\"match\":{}}"
        ));
        // A polling offset is not a change-stream offset.
        assert!(partitions("{\"kind\":\"mongodb-poll\"}", &b).is_err());
    }
}
