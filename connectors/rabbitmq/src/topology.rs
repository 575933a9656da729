//! Declare-if-missing: the queue, the exchange and their binding, on the driver before any
//! task runs (off unless asked for). Declarations are idempotent; one that conflicts with
//! what exists (another queue type, another exchange kind) fails with the broker's reason.

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{Channel, ExchangeKind};
use spark_ds_core::Result;

use crate::options::{Config, DeclareExchange, DeclareQueue};
use crate::{client, errors};

/// Declares what the options ask for; nothing when they ask for nothing.
pub async fn declare(cfg: &Config) -> Result<()> {
    let nothing = cfg.declare_queue == DeclareQueue::None
        && cfg.declare_exchange == DeclareExchange::None
        && !cfg.bind_queue;
    if nothing {
        return Ok(());
    }
    let channel = client::channel(cfg).await?;
    let outcome = declare_on(cfg, &channel).await;
    let _ = channel.close(200, ShortString::from("declared")).await;
    outcome
}

async fn declare_on(cfg: &Config, channel: &Channel) -> Result<()> {
    let durable = |passive| QueueDeclareOptions {
        durable: true,
        passive,
        ..QueueDeclareOptions::default()
    };
    let queue_type = match cfg.declare_queue {
        DeclareQueue::None => None,
        DeclareQueue::Classic => Some("classic"),
        DeclareQueue::Quorum => Some("quorum"),
        DeclareQueue::Stream => Some("stream"),
    };
    if let Some(kind) = queue_type {
        let queue = cfg.queue()?;
        let mut arguments = FieldTable::default();
        arguments.insert(
            ShortString::from("x-queue-type"),
            AMQPValue::LongString(LongString::from(kind)),
        );
        channel
            .queue_declare(ShortString::from(queue), durable(false), arguments)
            .await
            .map_err(|e| errors::client("declare", &format!("{kind} queue `{queue}`"), e))?;
    }
    let exchange_kind = match cfg.declare_exchange {
        DeclareExchange::None => None,
        DeclareExchange::Direct => Some(ExchangeKind::Direct),
        DeclareExchange::Fanout => Some(ExchangeKind::Fanout),
        DeclareExchange::Topic => Some(ExchangeKind::Topic),
        DeclareExchange::Headers => Some(ExchangeKind::Headers),
    };
    if let Some(kind) = exchange_kind {
        let exchange = cfg.exchange();
        let options = ExchangeDeclareOptions {
            durable: true,
            ..ExchangeDeclareOptions::default()
        };
        channel
            .exchange_declare(
                ShortString::from(exchange),
                kind,
                options,
                FieldTable::default(),
            )
            .await
            .map_err(|e| errors::client("declare", &format!("exchange `{exchange}`"), e))?;
    }
    if cfg.bind_queue {
        let (queue, exchange) = (cfg.queue()?, cfg.exchange());
        let key = cfg.routing_key.clone().unwrap_or_default();
        channel
            .queue_bind(
                ShortString::from(queue),
                ShortString::from(exchange),
                ShortString::from(key.as_str()),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|e| {
                errors::client(
                    "bind",
                    &format!("queue `{queue}` to exchange `{exchange}` with routing key `{key}`"),
                    e,
                )
            })?;
    }
    Ok(())
}
