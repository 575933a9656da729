//! The connector's options: one typed list that validates Spark's map and renders the
//! README table, and [`Config`], the validated, typed view every other module reads.
//! Offset option names follow Spark's Kafka source where RabbitMQ has the same idea.

use std::ops::Deref;
use std::time::Duration;

use spark_ds_core::options::shared::{
    CredentialOptions, EndpointOptions, LogOptions, RetryOptions, TimeoutOptions, TlsOptions,
};
use spark_ds_core::options::{
    Choice, Count, Flag, Millis, OptChoice, OptCount, OptionSpecs, Override, SecretText, Text,
};
use spark_ds_core::{Error, Result, redact};

use crate::SYSTEM;
use crate::offsets::{EndAt, StartAt};

const MAX_I32: i64 = i32::MAX as i64;
const MAX_I64: i64 = i64::MAX;

spark_ds_core::choices! {
    /// What a read makes of message bodies.
    pub enum BodyFormat { Binary = "binary", Json = "json" }
}

spark_ds_core::choices! {
    /// What a JSON read does with a body that does not fit the schema (Spark's names).
    pub enum ParseMode {
        Permissive = "PERMISSIVE",
        DropMalformed = "DROPMALFORMED",
        FailFast = "FAILFAST",
    }
}

spark_ds_core::choices! {
    /// The kind of queue a read consumes, which decides how it is read.
    pub enum QueueType { Stream = "stream", Classic = "classic", Quorum = "quorum" }
}

spark_ds_core::choices! {
    /// The kind of queue to declare when it is missing.
    pub enum DeclareQueue { None = "none", Classic = "classic", Quorum = "quorum", Stream = "stream" }
}

spark_ds_core::choices! {
    /// The kind of exchange to declare when it is missing.
    pub enum DeclareExchange { None = "none", Direct = "direct", Fanout = "fanout", Topic = "topic", Headers = "headers" }
}

spark_ds_core::options! {
    /// The options only RabbitMQ has.
    pub struct RabbitOptions {
        /// AMQP URI (`amqp://user:password@host:5672/vhost`, `amqps://…` for TLS); its host, port, vhost, credentials and `heartbeat` apply, and `host`/`port`/`vhost` are ignored. Never shown.
        uri: SecretText = "uri", aliases ["amqp.uri", "connection.uri"];
        /// Virtual host.
        vhost: Text = "vhost", default "/";
        /// Queue to read (or to declare and bind for a write).
        queue: Text = "queue";
        /// What kind of queue `queue` is, which decides how it is read: `stream` (exact offset ranges in the checkpoint, replayable, batch or stream) or `classic` / `quorum` (a stream only: one consumer held by the driver, acknowledging each message after Spark commits the micro-batch holding it — at-least-once). Default: `declareQueue`'s type when it declares one, else `stream`.
        queue_type: OptChoice<QueueType> = "queueType";
        /// Where a new query (or a batch read) starts: `first`, `last` (the stream's last chunk), `next` (messages published after the query starts) or an offset (a whole number). A restarted query resumes from its checkpoint.
        starting_offsets: Text = "startingOffsets", default "first";
        /// Start at the first message published at or after this time, in ms since the epoch (RabbitMQ keeps second resolution); replaces `startingOffsets`.
        starting_timestamp: Text = "startingTimestamp";
        /// Where a batch read ends: `latest` (the stream's end when the read is planned) or an offset (exclusive).
        ending_offsets: Text = "endingOffsets", default "latest";
        /// Fail the query when offsets it still needs were removed by the stream's retention; `false` logs the loss and goes on from the first remaining message.
        fail_on_data_loss: Flag = "failOnDataLoss", default "true";
        /// Most messages per micro-batch: stream queues count offsets (Spark 4.2+ admission control); classic and quorum queues count messages on every Spark 4. `Trigger.AvailableNow` reads in batches of this size too.
        max_messages_per_trigger: OptCount<1, MAX_I32> = "maxMessagesPerTrigger", aliases ["maxRowsPerTrigger", "maxOffsetsPerTrigger"];
        /// Most body bytes per micro-batch of a classic or quorum queue (a micro-batch still takes one larger message).
        max_bytes_per_trigger: OptCount<1, MAX_I64> = "maxBytesPerTrigger";
        /// Most stream offsets one Spark partition reads: a larger range is split into partitions read in parallel.
        offsets_per_partition: Count<1, MAX_I32> = "offsetsPerPartition", default "250000";
        /// Unacknowledged deliveries a consumer may hold (`basic.qos`). A classic or quorum queue's micro-batch holds at most this many messages, since they stay unacknowledged until Spark commits it.
        prefetch_count: Count<1, 65_535> = "prefetchCount", default "2000";
        /// AMQP 0-9-1 cannot ask a stream for its last offset: the connector reads the stream's last chunk and takes the quiet time after its last delivery as the end of it. For classic and quorum queues: the quiet time that ends a micro-batch's messages.
        latest_offset_idle: Millis<1, 60_000> = "latestOffsetIdleMs", default "50";
        /// How long that probe waits for a first delivery before it takes the stream as empty (an idle, empty stream costs this much per trigger); for classic and quorum queues, how long a trigger waits for a first message.
        latest_offset_timeout: Millis<1, 600_000> = "latestOffsetTimeoutMs", default "500";
        /// `binary`: the body is the `body` column; `json`: each body is parsed as a JSON object into the fields of the read's schema (`.schema(...)`), beside any message columns it names.
        body_format: Choice<BodyFormat> = "bodyFormat", default "binary";
        /// JSON bodies that do not fit the schema: `PERMISSIVE` (JSON columns null, the body in `columnNameOfCorruptRecord`), `DROPMALFORMED` (the message skipped, counted in the task summary) or `FAILFAST` (the read fails naming the message).
        parse_mode: Choice<ParseMode> = "mode", default "PERMISSIVE";
        /// String column that receives, in PERMISSIVE mode, a JSON body that did not fit (when the schema names it).
        corrupt_record_column: Text = "columnNameOfCorruptRecord", default "_corrupt_record";
        /// Exchange rows are published to (`""`: the default exchange, which routes by queue name).
        exchange: Text = "exchange", default "";
        /// Routing key of every row (use `routingKeyColumn` for one per row).
        routing_key: Text = "routingKey";
        /// String column holding each row's routing key.
        routing_key_column: Text = "routingKeyColumn";
        /// Binary or string column that becomes the message body; default: the column `body` if there is one, else the row (without property columns) as JSON.
        body_column: Text = "bodyColumn";
        /// Publish with `mandatory`: a message no queue receives is returned and fails the write, never dropped.
        mandatory: Flag = "mandatory", default "true";
        /// Persistent delivery (`delivery_mode` 2) unless a `delivery_mode` column says otherwise.
        persistent: Flag = "persistent", default "true";
        /// Published messages awaiting the broker's confirm, per task.
        max_in_flight: Count<1, 100_000> = "maxInFlight", default "1000";
        /// Declare `queue` (durable, of this type) on the driver before anything runs, if it is missing: `none`, `classic`, `quorum` or `stream`. An existing queue of another type fails with the broker's reason.
        declare_queue: Choice<DeclareQueue> = "declareQueue", default "none";
        /// Declare `exchange` (durable, of this type) on the driver before anything runs, if it is missing: `none`, `direct`, `fanout`, `topic` or `headers`.
        declare_exchange: Choice<DeclareExchange> = "declareExchange", default "none";
        /// Bind `queue` to `exchange` with `routingKey` on the driver before anything runs.
        bind_queue: Flag = "bindQueue", default "false";
        /// AMQP heartbeat in seconds (0: off); default: the broker's.
        heartbeat: OptCount<0, 65_535> = "heartbeat";
    }
}

/// Every option the connector accepts, in README order.
pub static OPTIONS: OptionSpecs = OptionSpecs::new(
    SYSTEM,
    &[
        RabbitOptions::SPECS,
        EndpointOptions::SPECS,
        CredentialOptions::SPECS,
        TimeoutOptions::SPECS,
        TlsOptions::SPECS,
        RetryOptions::SPECS,
        LogOptions::SPECS,
    ],
    &[Override {
        name: "port",
        default: Some("5672"),
        aliases: &[],
    }],
);

/// Validated, typed configuration: the shared groups and RabbitMQ's own options (reached
/// through `Deref`). `Debug` never shows the URI or the password.
#[derive(Clone, Debug)]
pub struct Config {
    pub endpoint: EndpointOptions,
    pub credentials: CredentialOptions,
    pub timeouts: TimeoutOptions,
    pub tls: TlsOptions,
    pub retry: RetryOptions,
    pub log: LogOptions,
    pub own: RabbitOptions,
    /// `startingOffsets` / `startingTimestamp`, parsed.
    pub start_at: StartAt,
    /// `endingOffsets`, parsed.
    pub end_at: EndAt,
}

impl Deref for Config {
    type Target = RabbitOptions;

    fn deref(&self) -> &RabbitOptions {
        &self.own
    }
}

impl Config {
    /// Validates Spark's option map (keys lower-cased by Spark, matched case-insensitively).
    pub fn parse(raw: &[(String, String)]) -> Result<Config> {
        let o = OPTIONS.parse(raw.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
        let endpoint = EndpointOptions::from_options(&o)?;
        endpoint.check(SYSTEM)?;
        let tls = TlsOptions::from_options(&o)?;
        tls.check(SYSTEM)?;
        let own = RabbitOptions::from_options(&o)?;
        if let Some(uri) = &own.uri {
            redact::register_uri_password(uri.expose());
        }
        let start_at = StartAt::parse(
            own.starting_offsets.as_deref().unwrap_or("first"),
            own.starting_timestamp.as_deref(),
        )?;
        let end_at = EndAt::parse(own.ending_offsets.as_deref().unwrap_or("latest"))?;
        if own.routing_key.is_some() && own.routing_key_column.is_some() {
            return Err(Error::config(
                SYSTEM,
                "options `routingKey` and `routingKeyColumn` exclude each other: give one",
            ));
        }
        if own.bind_queue
            && (own.queue.as_deref().is_none_or(str::is_empty)
                || own.exchange.as_deref().is_none_or(str::is_empty))
        {
            return Err(Error::config(
                SYSTEM,
                "option `bindQueue` needs `queue` and a named `exchange` (the default exchange binds every queue by name already)",
            ));
        }
        // Options set to other than their defaults that only a stream queue can honour.
        let stream_only = [
            ("startingTimestamp", own.starting_timestamp.is_some()),
            ("startingOffsets", start_at != StartAt::First),
            ("endingOffsets", end_at != EndAt::Latest),
        ];
        let held = matches!(
            queue_type(own.queue_type, own.declare_queue),
            QueueType::Classic | QueueType::Quorum
        );
        if held && let Some((name, _)) = stream_only.iter().find(|(_, set)| *set) {
            return Err(Error::config(
                SYSTEM,
                format!(
                    "option `{name}` applies to stream queues only: a classic or quorum queue is read from its head, each message once it is acknowledged"
                ),
            ));
        }
        if !held && own.max_bytes_per_trigger.is_some() {
            return Err(Error::config(
                SYSTEM,
                "option `maxBytesPerTrigger` applies to classic and quorum queues (`queueType`): a stream queue's micro-batches are planned by offsets before they are read, so limit them with `maxMessagesPerTrigger`",
            ));
        }
        Ok(Config {
            endpoint,
            credentials: CredentialOptions::from_options(&o)?,
            timeouts: TimeoutOptions::from_options(&o)?,
            tls,
            retry: RetryOptions::from_options(&o)?,
            log: LogOptions::from_options(&o)?,
            own,
            start_at,
            end_at,
        })
    }

    /// The queue to read, or a config error saying to set it.
    pub fn queue(&self) -> Result<&str> {
        match self.own.queue.as_deref() {
            Some(q) if !q.is_empty() => Ok(q),
            _ => Err(Error::config(
                SYSTEM,
                "option `queue` is required: the stream queue to read",
            )),
        }
    }

    /// What kind of queue a read consumes.
    pub fn queue_type(&self) -> QueueType {
        queue_type(self.own.queue_type, self.own.declare_queue)
    }

    /// Whether reads go through one consumer the driver holds (classic and quorum queues),
    /// rather than exact offset ranges (stream queues).
    pub fn reads_held(&self) -> bool {
        self.queue_type() != QueueType::Stream
    }

    /// The exchange rows are published to (`""` is the default exchange).
    pub fn exchange(&self) -> &str {
        self.own.exchange.as_deref().unwrap_or("")
    }

    /// The virtual host (the URI's when a URI is given).
    pub fn vhost(&self) -> &str {
        self.own.vhost.as_deref().unwrap_or("/")
    }

    /// The PERMISSIVE column for JSON bodies that did not fit.
    pub fn corrupt_column(&self) -> &str {
        self.own
            .corrupt_record_column
            .as_deref()
            .unwrap_or("_corrupt_record")
    }

    /// Quiet time after the last delivery of the stream's last chunk.
    pub fn latest_idle(&self) -> Duration {
        self.own.latest_offset_idle
    }
}

/// `queueType`, else the type `declareQueue` declares, else a stream.
fn queue_type(given: Option<QueueType>, declared: DeclareQueue) -> QueueType {
    given.unwrap_or(match declared {
        DeclareQueue::Classic => QueueType::Classic,
        DeclareQueue::Quorum => QueueType::Quorum,
        DeclareQueue::None | DeclareQueue::Stream => QueueType::Stream,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use spark_ds_core::ErrorKind;

    fn parse(pairs: &[(&str, &str)]) -> Result<Config> {
        let raw: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_lowercase(), v.to_string()))
            .collect();
        Config::parse(&raw)
    }

    #[test]
    fn defaults() {
        let c = parse(&[("queue", "q")]).unwrap();
        assert_eq!(c.endpoint.port, 5672);
        assert_eq!(c.queue().unwrap(), "q");
        assert_eq!(c.vhost(), "/");
        assert_eq!(c.exchange(), "");
        assert_eq!(c.start_at, StartAt::First);
        assert_eq!(c.end_at, EndAt::Latest);
        assert!(c.mandatory && c.persistent && c.fail_on_data_loss);
        assert_eq!(c.prefetch_count, 2000);
    }

    #[test]
    fn offsets_and_aliases() {
        let c = parse(&[
            ("queue", "q"),
            ("startingOffsets", "42"),
            ("endingOffsets", "100"),
            ("maxOffsetsPerTrigger", "10"),
        ])
        .unwrap();
        assert_eq!(c.start_at, StartAt::Offset(42));
        assert_eq!(c.end_at, EndAt::Offset(100));
        assert_eq!(c.max_messages_per_trigger, Some(10));
        let c = parse(&[("startingTimestamp", "1700000000500")]).unwrap();
        assert_eq!(c.start_at, StartAt::Timestamp(1_700_000_000));
    }

    #[test]
    fn bad_values_name_the_option() {
        for (pairs, name) in [
            (vec![("startingOffsets", "earliest")], "startingOffsets"),
            (vec![("startingOffsets", "-3")], "startingOffsets"),
            (
                vec![("startingTimestamp", "yesterday")],
                "startingTimestamp",
            ),
            (vec![("endingOffsets", "first")], "endingOffsets"),
            (vec![("prefetchCount", "0")], "prefetchCount"),
            (
                vec![("routingKey", "a"), ("routingKeyColumn", "b")],
                "routingKey",
            ),
        ] {
            let e = parse(&pairs).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config, "{pairs:?}");
            assert!(e.message().contains(name), "{pairs:?}: {}", e.message());
        }
        assert!(parse(&[]).unwrap().queue().is_err());
    }

    #[test]
    fn queue_type_decides_the_read_and_its_options() {
        assert!(!parse(&[("queue", "q")]).unwrap().reads_held());
        assert!(parse(&[("queueType", "quorum")]).unwrap().reads_held());
        assert!(parse(&[("declareQueue", "classic")]).unwrap().reads_held());
        let pinned = parse(&[("declareQueue", "classic"), ("queueType", "stream")]).unwrap();
        assert_eq!(pinned.queue_type(), QueueType::Stream);
        for (pairs, name) in [
            (
                vec![("queueType", "classic"), ("endingOffsets", "10")],
                "endingOffsets",
            ),
            (
                vec![("queueType", "classic"), ("startingTimestamp", "1")],
                "startingTimestamp",
            ),
            (
                vec![("queueType", "quorum"), ("startingOffsets", "last")],
                "startingOffsets",
            ),
            (vec![("maxBytesPerTrigger", "1000")], "maxBytesPerTrigger"),
            (vec![("queueType", "fifo")], "queueType"),
        ] {
            let e = parse(&pairs).unwrap_err();
            assert!(e.message().contains(name), "{pairs:?}: {}", e.message());
        }
        let c = parse(&[("queueType", "classic"), ("maxBytesPerTrigger", "1000")]).unwrap();
        assert_eq!(c.max_bytes_per_trigger, Some(1000));
    }

    #[test]
    fn uri_password_never_shows() {
        let c = parse(&[("uri", "amqp://u:s3cr%40t-pw@h:5672/v")]).unwrap();
        assert!(!format!("{c:?}").contains("s3cr"));
        let masked = redact::redact("login refused for s3cr@t-pw and s3cr%40t-pw");
        assert!(!masked.contains("s3cr"), "{masked}");
    }
}
