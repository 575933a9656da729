//! Stream queues over AMQP 0-9-1: finding the stream's ends, and reading an exact offset
//! range `(start, end]`.
//!
//! AMQP 0-9-1 cannot ask a stream for its last offset. A consumer opened at `last` gets the
//! stream's whole last chunk, so the highest offset delivered before the stream goes quiet
//! (`latestOffsetIdleMs`) is the last one; an empty stream delivers nothing and is known
//! only by a timeout (`latestOffsetTimeoutMs`). An end found this way is an offset that
//! exists, so a range reader always meets an offset at or beyond its end and stops there,
//! even though offsets have gaps.
//!
//! A consumer asking for an offset retention removed silently starts at the first one the
//! stream still has; the range reader compares what it got with what it asked for.

use std::time::Duration;

use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_schema::SchemaRef;
use futures::future::BoxFuture;
use lapin::options::BasicAckOptions;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{Channel, Consumer};
use serde_json::json;
use spark_ds_core::{BatchSource, Error, ErrorKind, Result, TaskMetrics};

use crate::messages::{self, Message, MessageBuilder, col};
use crate::offsets::{EndAt, StartAt, StreamPoint, split};
use crate::options::Config;
use crate::shape::RowShape;
use crate::{SYSTEM, client, errors};

/// The consumer argument that says where a stream consumer starts (deliveries carry
/// their offset in a header of the same name).
const STREAM_OFFSET: &str = messages::STREAM_OFFSET_HEADER;
/// Rows of one Arrow batch at most.
const MAX_BATCH_ROWS: usize = 10_000;
/// Body bytes of one Arrow batch at most.
const MAX_BATCH_BYTES: usize = 16 << 20;

/// Where a stream consumer starts.
#[derive(Clone, Copy, Debug)]
enum From {
    First,
    Last,
    Offset(u64),
    Timestamp(i64),
}

impl From {
    fn argument(self) -> AMQPValue {
        match self {
            From::First => AMQPValue::LongString(LongString::from("first")),
            From::Last => AMQPValue::LongString(LongString::from("last")),
            // Offsets above i64::MAX cannot be asked for; the stream has none either.
            From::Offset(n) => AMQPValue::LongLongInt(i64::try_from(n).unwrap_or(i64::MAX)),
            From::Timestamp(s) => AMQPValue::Timestamp(u64::try_from(s).unwrap_or(0)),
        }
    }
}

/// One consumer on a stream queue, on its own channel.
struct StreamConsumer {
    channel: Channel,
    consumer: Consumer,
    queue: String,
    /// Deliveries received and not yet acknowledged (acks return credit, nothing else).
    unacked: u32,
    last_tag: u64,
    prefetch: u16,
}

impl StreamConsumer {
    async fn open(cfg: &Config, from: From) -> Result<StreamConsumer> {
        let queue = cfg.queue()?.to_string();
        let mut arguments = FieldTable::default();
        arguments.insert(ShortString::from(STREAM_OFFSET), from.argument());
        let (channel, consumer) = client::consume(cfg, &queue, arguments).await?;
        // The option's range (1–65535) fits a u16.
        let prefetch = cfg.prefetch_count as u16;
        Ok(StreamConsumer {
            channel,
            consumer,
            queue,
            unacked: 0,
            last_tag: 0,
            prefetch,
        })
    }

    /// The next delivery and its stream offset, or `None` when none comes within `wait`.
    async fn next(&mut self, wait: Duration) -> Result<Option<(lapin::message::Delivery, u64)>> {
        let delivery = match client::next_within(&mut self.consumer, wait).await {
            Err(_) => return Ok(None),
            Ok(None) => {
                return Err(Error::transient(
                    SYSTEM,
                    "consume",
                    format!(
                        "the broker cancelled the consumer of queue `{}` (deleted, or the connection closed)",
                        self.queue
                    ),
                ));
            }
            Ok(Some(Err(e))) => {
                return Err(errors::client(
                    "consume",
                    &format!("queue `{}`", self.queue),
                    e,
                ));
            }
            Ok(Some(Ok(d))) => d,
        };
        let offset = delivery_offset(&delivery).ok_or_else(|| {
            Error::config(
                SYSTEM,
                format!(
                    "queue `{}` is not a stream queue: its deliveries carry no `{STREAM_OFFSET}` (declare it with `x-queue-type: stream`, or read a classic or quorum queue with option `queueType`)",
                    self.queue
                ),
            )
        })?;
        self.last_tag = delivery.delivery_tag;
        self.unacked += 1;
        if self.unacked >= u32::from(self.prefetch).div_ceil(2) {
            self.ack().await?;
        }
        Ok(Some((delivery, offset)))
    }

    /// Acknowledges everything received so far, so the stream sends more.
    async fn ack(&mut self) -> Result<()> {
        if self.unacked == 0 {
            return Ok(());
        }
        self.channel
            .basic_ack(self.last_tag, BasicAckOptions { multiple: true })
            .await
            .map_err(|e| errors::client("acknowledge", &format!("queue `{}`", self.queue), e))?;
        self.unacked = 0;
        Ok(())
    }

    /// Stops the consumer and closes its channel; errors here lose nothing.
    async fn close(self) {
        client::stop_consuming(&self.channel, &self.consumer).await;
    }
}

/// The stream offset a delivery carries in its headers.
fn delivery_offset(delivery: &lapin::message::Delivery) -> Option<u64> {
    let headers = delivery.properties.headers().as_ref()?;
    match headers.inner().get(STREAM_OFFSET)? {
        AMQPValue::LongLongInt(n) => u64::try_from(*n).ok(),
        AMQPValue::LongInt(n) => u64::try_from(*n).ok(),
        _ => None,
    }
}

/// The first offset delivered from `from`, or `None` when nothing comes within the timeout.
async fn first_offset_from(cfg: &Config, from: From) -> Result<Option<u64>> {
    let mut consumer = StreamConsumer::open(cfg, from).await?;
    let first = consumer.next(cfg.latest_offset_timeout).await;
    consumer.close().await;
    Ok(first?.map(|(_, offset)| offset))
}

/// The stream's last offset now, or `None` when the stream is empty.
pub async fn last_offset(cfg: &Config) -> Result<Option<u64>> {
    let mut consumer = StreamConsumer::open(cfg, From::Last).await?;
    let mut last = None;
    let mut wait = cfg.latest_offset_timeout;
    let outcome = loop {
        match consumer.next(wait).await {
            Ok(Some((_, offset))) => {
                last = last.max(Some(offset));
                wait = cfg.latest_idle();
            }
            Ok(None) => break Ok(last),
            Err(e) => break Err(e),
        }
    };
    consumer.close().await;
    outcome
}

/// The point a new query (or a batch read) starts after, from `startingOffsets`.
pub async fn starting_point(cfg: &Config) -> Result<StreamPoint> {
    Ok(match cfg.start_at {
        StartAt::First => StreamPoint::Start,
        StartAt::Offset(n) => StreamPoint::before(n),
        StartAt::Next => last_offset(cfg)
            .await?
            .map_or(StreamPoint::Start, StreamPoint::After),
        StartAt::Last => match first_offset_from(cfg, From::Last).await? {
            Some(first) => StreamPoint::before(first),
            None => StreamPoint::Start,
        },
        StartAt::Timestamp(seconds) => {
            match first_offset_from(cfg, From::Timestamp(seconds)).await? {
                Some(first) => StreamPoint::before(first),
                // Nothing published at or after that time yet: start after the end.
                None => last_offset(cfg)
                    .await?
                    .map_or(StreamPoint::Start, StreamPoint::After),
            }
        }
    })
}

/// The end of the next micro-batch: the stream's last offset, at most `max_offsets` past
/// `start` and never beyond `cap` (Trigger.AvailableNow), never before `start`.
pub async fn next_end(
    cfg: &Config,
    start: Option<StreamPoint>,
    max_offsets: Option<u64>,
    cap: Option<StreamPoint>,
) -> Result<StreamPoint> {
    let start = start.unwrap_or(StreamPoint::Start);
    let mut end = last_offset(cfg)
        .await?
        .map_or(StreamPoint::Start, StreamPoint::After);
    if let Some(max) = max_offsets.filter(|m| *m > 0) {
        let limit = StreamPoint::After(start.next_offset() + max - 1);
        if limit.next_offset() < end.next_offset() {
            end = limit;
        }
    }
    if let Some(cap) = cap
        && cap.next_offset() < end.next_offset()
    {
        end = cap;
    }
    Ok(end.max(start))
}

/// The end of a batch read, from `endingOffsets`.
pub async fn ending_point(cfg: &Config) -> Result<StreamPoint> {
    Ok(match cfg.end_at {
        EndAt::Offset(n) => StreamPoint::before(n),
        EndAt::Latest => last_offset(cfg)
            .await?
            .map_or(StreamPoint::Start, StreamPoint::After),
    })
}

/// The partitions of `(start, end]` as the JSON each read task gets.
pub fn plan(cfg: &Config, start: StreamPoint, end: StreamPoint) -> Result<Vec<String>> {
    let queue = cfg.queue()?;
    Ok(split(start, end, cfg.offsets_per_partition as u64)
        .into_iter()
        .map(|(from, to)| {
            json!({"queue": queue, "after": from.to_json(queue), "through": to.to_json(queue)})
                .to_string()
        })
        .collect())
}

/// A planned partition: the offsets after `start` up to and including `end`.
fn parse_partition(cfg: &Config, text: &str) -> Result<(StreamPoint, StreamPoint)> {
    let queue = cfg.queue()?;
    let bad = || Error::internal(SYSTEM, "read", format!("malformed partition {text}"));
    let value: serde_json::Value = serde_json::from_str(text).map_err(|_| bad())?;
    if value.get("queue").and_then(|q| q.as_str()) != Some(queue) {
        return Err(bad());
    }
    let point = |name: &str| -> Result<StreamPoint> {
        let text = value.get(name).and_then(|v| v.as_str()).ok_or_else(bad)?;
        StreamPoint::from_json(queue, text)
    };
    Ok((point("after")?, point("through")?))
}

/// Reads the messages with offsets in `(start, end]` of one planned partition.
pub struct RangeReader {
    cfg: Config,
    /// The first offset still to read.
    next: u64,
    /// The last offset to read; `None` for an empty range.
    last: Option<u64>,
    consumer: Option<StreamConsumer>,
    builder: MessageBuilder,
    done: bool,
    /// Whether the first delivery was compared with the offset asked for.
    loss_checked: bool,
    shape: RowShape,
    metrics: TaskMetrics,
}

impl RangeReader {
    pub async fn open(cfg: &Config, schema: &SchemaRef, partition: &str) -> Result<RangeReader> {
        let (start, end) = parse_partition(cfg, partition)?;
        let last = match end {
            StreamPoint::After(n) if n >= start.next_offset() => Some(n),
            _ => None,
        };
        Ok(RangeReader {
            cfg: cfg.clone(),
            next: start.next_offset(),
            last,
            consumer: None,
            builder: MessageBuilder::new(),
            done: last.is_none(),
            loss_checked: false,
            shape: RowShape::new(cfg, schema)?,
            metrics: TaskMetrics::with_request_noun("deliveries"),
        })
    }

    /// What to do when the first delivery is beyond the offset asked for: a gap (offsets
    /// that never held a message) reads on; offsets retention removed fail the query
    /// unless `failOnDataLoss=false`.
    async fn check_loss(&self, first_delivered: u64) -> Result<()> {
        // A segment's first chunk takes one offset and is never delivered.
        if first_delivered <= self.next + 1 {
            return Ok(());
        }
        let kept_from = first_offset_from(&self.cfg, From::First).await?;
        let lost_through = match kept_from {
            Some(first) if first > self.next + 1 => first.min(first_delivered) - 1,
            _ => return Ok(()),
        };
        let queue = self.cfg.queue()?;
        let message = format!(
            "queue `{queue}`: offsets {} to {lost_through} were removed by the stream's retention before this query read them",
            self.next
        );
        if self.cfg.fail_on_data_loss {
            return Err(Error::new(
                ErrorKind::Data,
                SYSTEM,
                "read",
                format!(
                    "{message}; set option `failOnDataLoss` to `false` to go on from offset {}",
                    lost_through + 1
                ),
            ));
        }
        log::warn!(target: "spark_ds::rabbitmq", "{message}; going on (failOnDataLoss=false)");
        Ok(())
    }

    async fn fill(&mut self) -> Result<Option<RecordBatch>> {
        let Some(last) = self.last.filter(|_| !self.done) else {
            return Ok(None);
        };
        if self.consumer.is_none() {
            self.consumer = Some(StreamConsumer::open(&self.cfg, From::Offset(self.next)).await?);
        }
        let wait = self.cfg.timeouts.request_timeout;
        while !self.done
            && self.builder.len() < MAX_BATCH_ROWS
            && self.builder.body_bytes() < MAX_BATCH_BYTES
        {
            let consumer = self.consumer.as_mut().ok_or_else(|| {
                Error::internal(SYSTEM, "read", "the range reader lost its consumer")
            })?;
            let Some((delivery, offset)) = consumer.next(wait).await? else {
                return Err(Error::transient(
                    SYSTEM,
                    "read",
                    format!(
                        "queue `{}`: no delivery within {} ms (option `requestTimeoutMs`) while offsets up to {last} exist",
                        self.cfg.queue()?,
                        wait.as_millis()
                    ),
                ));
            };
            self.metrics.add_request();
            if !self.loss_checked {
                self.loss_checked = true;
                self.check_loss(offset).await?;
            }
            if offset < self.next {
                // A chunk starts before the offset asked for: its earlier messages are skipped.
                continue;
            }
            if offset > last {
                self.done = true;
                break;
            }
            self.builder.push(&Message {
                body: &delivery.data,
                routing_key: delivery.routing_key.as_str(),
                exchange: delivery.exchange.as_str(),
                properties: &delivery.properties,
                redelivered: delivery.redelivered,
                offset: i64::try_from(offset).ok(),
            })?;
            self.metrics.add_bytes(delivery.data.len() as u64);
            self.next = offset + 1;
            if offset == last {
                self.done = true;
            }
        }
        if self.done
            && let Some(consumer) = self.consumer.take()
        {
            consumer.close().await;
            let mut summary = self
                .metrics
                .summary_line(SYSTEM, &format!("read queue `{}`", self.cfg.queue()?));
            if self.shape.parses_json() {
                summary.push_str(&format!(
                    ", {} malformed bodies dropped",
                    self.shape.dropped
                ));
            }
            log::info!(target: "spark_ds::rabbitmq", "{summary}");
        }
        if self.builder.is_empty() {
            return Ok(None);
        }
        let batch = self.builder.finish()?;
        let offsets = batch
            .column_by_name(col::OFFSET)
            .map(|c| c.as_primitive::<Int64Type>())
            .ok_or_else(|| Error::internal(SYSTEM, "read", "a message batch without offsets"))?;
        let queue = self.cfg.queue()?;
        let label = |i: usize| {
            format!(
                "queue `{queue}`, the message at offset {}",
                offsets.value(i)
            )
        };
        let out = self.shape.apply(&batch, &label)?;
        self.metrics.add_rows(out.num_rows() as u64);
        Ok(Some(out))
    }
}

impl BatchSource for RangeReader {
    fn next_batch(&mut self) -> BoxFuture<'_, Result<Option<RecordBatch>>> {
        Box::pin(self.fill())
    }
}
