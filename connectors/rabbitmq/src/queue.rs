//! Classic and quorum queues: one consumer, held by the driver's stream reader for the whole
//! query (core's [`HeldConsumer`]). A queue cannot replay, so each message is acknowledged
//! only after Spark commits the micro-batch that holds it; whatever a dead query had not
//! acknowledged the broker delivers again, `redelivered` set (at-least-once).
//!
//! The consumer's prefetch bounds what it holds unacknowledged, so it also bounds a
//! micro-batch. A lost connection fails the query rather than reconnecting: the broker has
//! already put the held messages back, and the restarted query reads them again.

use std::time::Duration;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use futures::future::BoxFuture;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, QueueDeclareOptions};
use lapin::types::{FieldTable, ShortString};
use lapin::{Channel, Consumer};
use spark_ds_core::held::{Deliveries, HeldConsumer, HeldStream, Waits};
use spark_ds_core::{Error, Result};

use crate::messages::{Message, MessageBuilder};
use crate::options::Config;
use crate::shape::RowShape;
use crate::{SYSTEM, client, errors, topology};

/// Rows of one Arrow batch at most.
const MAX_BATCH_ROWS: usize = 10_000;

/// A consumer on a classic or quorum queue, on a channel of its own.
pub struct QueueConsumer {
    channel: Channel,
    consumer: Consumer,
    queue: String,
    shape: RowShape,
}

/// Opens the consumer a stream read of a classic or quorum queue holds on the driver.
pub async fn open(cfg: &Config, schema: &SchemaRef) -> Result<Box<dyn HeldStream>> {
    topology::declare(cfg).await?;
    let consumer = QueueConsumer::open(cfg, schema).await?;
    let waits = Waits {
        first: cfg.latest_offset_timeout,
        idle: cfg.latest_idle(),
    };
    let capacity = cfg.prefetch_count;
    Ok(Box::new(HeldConsumer::new(
        SYSTEM, consumer, capacity, waits,
    )))
}

impl QueueConsumer {
    async fn open(cfg: &Config, schema: &SchemaRef) -> Result<QueueConsumer> {
        let queue = cfg.queue()?.to_string();
        let shape = RowShape::new(cfg, schema)?;
        let (channel, consumer) = client::consume(cfg, &queue, FieldTable::default()).await?;
        log::info!(target: "spark_ds::rabbitmq", "consuming queue `{queue}` (prefetch {}), acknowledging after each commit", cfg.prefetch_count);
        Ok(QueueConsumer {
            channel,
            consumer,
            queue,
            shape,
        })
    }

    fn object(&self) -> String {
        format!("queue `{}`", self.queue)
    }

    async fn next_delivery(&mut self, wait: Duration) -> Result<Option<Delivery>> {
        match client::next_within(&mut self.consumer, wait).await {
            Err(_) => Ok(None),
            Ok(Some(Ok(delivery))) => Ok(Some(delivery)),
            Ok(Some(Err(e))) => Err(errors::client("consume", &self.object(), e)),
            Ok(None) => Err(Error::transient(
                SYSTEM,
                "consume",
                format!(
                    "the broker cancelled the consumer of {} (deleted, or the connection closed); its unacknowledged messages go back to the queue and a restarted query reads them again",
                    self.object()
                ),
            )),
        }
    }

    async fn ack_through(&mut self, committed: Vec<Delivery>) -> Result<()> {
        let Some(last) = committed.last() else {
            return Ok(());
        };
        // Tags grow on the channel: one `multiple` ack covers every committed delivery and
        // none of the later ones still held.
        self.channel
            .basic_ack(last.delivery_tag, BasicAckOptions { multiple: true })
            .await
            .map_err(|e| errors::client("acknowledge", &self.object(), e))
    }

    async fn waiting(&mut self) -> Result<Option<u64>> {
        let passive = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        let queue = self
            .channel
            .queue_declare(
                ShortString::from(self.queue.as_str()),
                passive,
                FieldTable::default(),
            )
            .await
            .map_err(|e| errors::client("count the messages of", &self.object(), e))?;
        Ok(Some(u64::from(queue.message_count())))
    }

    fn build(&mut self, deliveries: &[Delivery]) -> Result<Vec<RecordBatch>> {
        let mut out = Vec::with_capacity(deliveries.len().div_ceil(MAX_BATCH_ROWS));
        let queue = self.queue.clone();
        for chunk in deliveries.chunks(MAX_BATCH_ROWS) {
            let mut builder = MessageBuilder::new();
            for d in chunk {
                builder.push(&Message {
                    body: &d.data,
                    routing_key: d.routing_key.as_str(),
                    exchange: d.exchange.as_str(),
                    properties: &d.properties,
                    redelivered: d.redelivered,
                    offset: None,
                })?;
            }
            let batch = builder.finish()?;
            let label = |i: usize| match chunk[i].properties.message_id() {
                Some(id) => format!("queue `{queue}`, the message with id `{id}`"),
                None => format!(
                    "queue `{queue}`, delivery {} of this consumer",
                    chunk[i].delivery_tag
                ),
            };
            let rows = self.shape.apply(&batch, &label)?;
            if rows.num_rows() > 0 {
                out.push(rows);
            }
        }
        Ok(out)
    }
}

impl Deliveries for QueueConsumer {
    type Delivery = Delivery;

    fn next(&mut self, wait: Duration) -> BoxFuture<'_, Result<Option<Delivery>>> {
        Box::pin(self.next_delivery(wait))
    }

    fn size(delivery: &Delivery) -> usize {
        delivery.data.len()
    }

    fn ack(&mut self, committed: Vec<Delivery>) -> BoxFuture<'_, Result<()>> {
        Box::pin(self.ack_through(committed))
    }

    fn rows(&mut self, deliveries: &[Delivery]) -> Result<Vec<RecordBatch>> {
        self.build(deliveries)
    }

    fn backlog(&mut self) -> BoxFuture<'_, Result<Option<u64>>> {
        Box::pin(self.waiting())
    }

    fn close(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            client::stop_consuming(&self.channel, &self.consumer).await;
            if self.shape.parses_json() {
                log::info!(target: "spark_ds::rabbitmq", "{}: {} malformed bodies dropped", self.object(), self.shape.dropped);
            }
        })
    }
}
