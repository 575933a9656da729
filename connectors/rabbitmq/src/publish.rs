//! Publishing a DataFrame: one message per row, with publisher confirms always on.
//!
//! A task succeeds only when the broker confirmed every message it published. Messages the
//! broker refuses (a nack, e.g. a full queue with `x-overflow: reject-publish`) and
//! messages no queue receives (returned, with `mandatory`) fail the task with the row
//! named; nothing is dropped quietly. Confirms in flight are bounded by `maxInFlight`.

use std::collections::VecDeque;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int8Type, Int16Type, Int32Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, ArrayRef, MapArray, RecordBatch};
use arrow_schema::{DataType, Schema, SchemaRef};
use futures::future::BoxFuture;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Confirmation, ExchangeKind, PublisherConfirm};
use spark_ds_core::{BatchSink, Error, ErrorKind, Result, TaskMetrics};

use crate::messages::{STRING_PROPERTIES, col, schema as message_schema};
use crate::options::Config;
use crate::{SYSTEM, client, errors};

/// Checks that the DataFrame can be published as configured (no broker needed).
pub fn check(cfg: &Config, schema: &Schema) -> Result<()> {
    Layout::of(cfg, schema).map(|_| ())
}

/// Checks on the driver, before any task runs, that the exchange exists.
pub async fn check_exchange(cfg: &Config) -> Result<()> {
    let exchange = cfg.exchange();
    if !exchange.is_empty() {
        let channel = client::channel(cfg).await?;
        let passive = ExchangeDeclareOptions {
            passive: true,
            ..ExchangeDeclareOptions::default()
        };
        channel
            .exchange_declare(
                ShortString::from(exchange),
                ExchangeKind::Direct,
                passive,
                FieldTable::default(),
            )
            .await
            .map_err(|e| errors::client("publish to", &format!("exchange `{exchange}`"), e))?;
        let _ = channel.close(200, ShortString::from("checked")).await;
    }
    Ok(())
}

/// Where each part of a message comes from in the DataFrame.
struct Layout {
    /// The body column, or `None` for the row as JSON.
    body: Option<usize>,
    /// The columns the JSON body holds (every column that is not a message column).
    json_columns: Vec<usize>,
    routing_key: RoutingKey,
    /// (column, index into STRING_PROPERTIES) for the string properties present.
    strings: Vec<(usize, usize)>,
    headers: Option<usize>,
    timestamp: Option<usize>,
    delivery_mode: Option<usize>,
    priority: Option<usize>,
    message_id: Option<usize>,
}

enum RoutingKey {
    Constant(String),
    Column(usize),
}

impl Layout {
    fn of(cfg: &Config, schema: &Schema) -> Result<Layout> {
        let find = |name: &str| schema.index_of(name).ok();
        let field_type = |i: usize| schema.field(i).data_type().clone();
        let refuse = |what: String| Error::config(SYSTEM, what);
        let body = match &cfg.body_column {
            Some(name) => Some(find(name).ok_or_else(|| {
                refuse(format!(
                    "option `bodyColumn` names column `{name}`, which the DataFrame does not have"
                ))
            })?),
            None => find(col::BODY),
        };
        if let Some(i) = body
            && !matches!(
                field_type(i),
                DataType::Binary | DataType::Utf8 | DataType::LargeBinary | DataType::LargeUtf8
            )
        {
            return Err(refuse(format!(
                "the body column `{}` is {}; it must be binary or string (or leave it out to publish each row as JSON)",
                schema.field(i).name(),
                field_type(i)
            )));
        }
        let message_columns: Vec<String> = message_schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let json_columns = if body.is_none() {
            (0..schema.fields().len())
                .filter(|i| !message_columns.contains(schema.field(*i).name()))
                .collect()
        } else {
            Vec::new()
        };
        let string_column = |name: &str, what: &str| -> Result<Option<usize>> {
            match find(name) {
                None => Ok(None),
                Some(i) if matches!(field_type(i), DataType::Utf8 | DataType::LargeUtf8) => {
                    Ok(Some(i))
                }
                Some(i) => Err(refuse(format!(
                    "column `{name}` sets the {what} and must be a string; it is {}",
                    field_type(i)
                ))),
            }
        };
        let routing_key = match (&cfg.routing_key, &cfg.routing_key_column) {
            (Some(key), _) => RoutingKey::Constant(key.clone()),
            (None, Some(name)) => RoutingKey::Column(
                string_column(name, "routing key")?.ok_or_else(|| {
                    refuse(format!(
                        "option `routingKeyColumn` names column `{name}`, which the DataFrame does not have"
                    ))
                })?,
            ),
            (None, None) => match string_column(col::ROUTING_KEY, "routing key")? {
                Some(i) => RoutingKey::Column(i),
                // The default exchange routes by queue name: `queue` is the natural key.
                None => RoutingKey::Constant(cfg.queue.clone().unwrap_or_default()),
            },
        };
        if cfg.exchange().is_empty()
            && matches!(&routing_key, RoutingKey::Constant(k) if k.is_empty())
        {
            return Err(refuse(
                "nothing says where messages go: give `queue` (the default exchange routes to it), or `exchange` with `routingKey` or `routingKeyColumn`".into(),
            ));
        }
        let mut strings = Vec::new();
        for (p, (name, _)) in STRING_PROPERTIES.iter().enumerate() {
            if let Some(i) = string_column(name, "property of the same name")? {
                strings.push((i, p));
            }
        }
        let integer_column = |name: &str| -> Result<Option<usize>> {
            match find(name) {
                None => Ok(None),
                Some(i) if field_type(i).is_integer() => Ok(Some(i)),
                Some(i) => Err(refuse(format!(
                    "column `{name}` sets the property of the same name and must be an integer; it is {}",
                    field_type(i)
                ))),
            }
        };
        let timestamp = match find(col::TIMESTAMP) {
            None => None,
            Some(i)
                if matches!(
                    field_type(i),
                    DataType::Timestamp(arrow_schema::TimeUnit::Microsecond, _)
                ) =>
            {
                Some(i)
            }
            Some(i) => {
                return Err(refuse(format!(
                    "column `timestamp` sets the message timestamp and must be a timestamp; it is {}",
                    field_type(i)
                )));
            }
        };
        let headers = match find(col::HEADERS) {
            None => None,
            Some(i) => match field_type(i) {
                DataType::Map(entries, _)
                    if matches!(entries.data_type(), DataType::Struct(f) if f.len() == 2
                        && f.iter().all(|f| matches!(f.data_type(), DataType::Utf8))) =>
                {
                    Some(i)
                }
                other => {
                    return Err(refuse(format!(
                        "column `headers` sets the message headers and must be map<string,string>; it is {other}"
                    )));
                }
            },
        };
        Ok(Layout {
            body,
            json_columns,
            routing_key,
            message_id: string_column(col::MESSAGE_ID, "message id")?,
            strings,
            headers,
            timestamp,
            delivery_mode: integer_column(col::DELIVERY_MODE)?,
            priority: integer_column(col::PRIORITY)?,
        })
    }
}

fn string_at(array: &ArrayRef, row: usize) -> Option<&str> {
    if array.is_null(row) {
        return None;
    }
    match array.data_type() {
        DataType::Utf8 => Some(array.as_string::<i32>().value(row)),
        DataType::LargeUtf8 => Some(array.as_string::<i64>().value(row)),
        _ => None,
    }
}

fn bytes_at(array: &ArrayRef, row: usize) -> Option<&[u8]> {
    if array.is_null(row) {
        return None;
    }
    match array.data_type() {
        DataType::Binary => Some(array.as_binary::<i32>().value(row)),
        DataType::LargeBinary => Some(array.as_binary::<i64>().value(row)),
        _ => string_at(array, row).map(str::as_bytes),
    }
}

fn integer_at(array: &ArrayRef, row: usize) -> Option<i64> {
    if array.is_null(row) {
        return None;
    }
    Some(match array.data_type() {
        DataType::Int8 => i64::from(array.as_primitive::<Int8Type>().value(row)),
        DataType::Int16 => i64::from(array.as_primitive::<Int16Type>().value(row)),
        DataType::Int32 => i64::from(array.as_primitive::<Int32Type>().value(row)),
        DataType::Int64 => array.as_primitive::<Int64Type>().value(row),
        _ => return None,
    })
}

fn headers_at(array: &ArrayRef, row: usize) -> Option<FieldTable> {
    if array.is_null(row) {
        return None;
    }
    let map: &MapArray = array.as_map();
    let entries = map.value(row);
    let keys = entries.column(0).as_string::<i32>();
    let values = entries.column(1).as_string::<i32>();
    let mut table = FieldTable::default();
    for i in 0..entries.len() {
        let value = if values.is_null(i) {
            AMQPValue::Void
        } else {
            AMQPValue::LongString(LongString::from(values.value(i)))
        };
        table.insert(ShortString::from(keys.value(i)), value);
    }
    Some(table)
}

/// The rows of `batch` (its JSON columns) as one JSON object each.
fn json_bodies(batch: &RecordBatch, columns: &[usize]) -> Result<Vec<Vec<u8>>> {
    let projected = batch
        .project(columns)
        .map_err(|e| Error::internal(SYSTEM, "write", e.to_string()))?;
    let mut writer = arrow_json::LineDelimitedWriter::new(Vec::new());
    writer
        .write(&projected)
        .and_then(|()| writer.finish())
        .map_err(|e| {
            Error::data(
                SYSTEM,
                "write",
                format!("a row cannot be written as JSON: {e}"),
            )
        })?;
    let text = writer.into_inner();
    Ok(text
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .map(<[u8]>::to_vec)
        .collect())
}

/// Which streaming micro-batch a write task publishes, from Spark's task-local properties.
/// A replayed micro-batch publishes its rows again with the same tags, so consumers can
/// deduplicate by `message_id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamTask {
    /// The streaming query's id (kept in its checkpoint: the same after a restart).
    pub query_id: String,
    pub batch_id: i64,
    pub partition: u32,
}

/// Header naming the streaming query that published a message.
pub const QUERY_ID_HEADER: &str = "x-spark-query-id";
/// Header naming the micro-batch that published a message.
pub const BATCH_ID_HEADER: &str = "x-spark-batch-id";

impl StreamTask {
    /// The message id of the task's `index`-th row (0-based): the same on every replay of
    /// the micro-batch, since a replay reads the same offsets into the same partitions.
    fn message_id(&self, index: u64) -> String {
        format!(
            "{}:{}:{}:{}",
            self.query_id, self.batch_id, self.partition, index
        )
    }

    fn tag(&self, headers: &mut FieldTable) {
        headers.insert(
            ShortString::from(QUERY_ID_HEADER),
            AMQPValue::LongString(LongString::from(self.query_id.as_str())),
        );
        headers.insert(
            ShortString::from(BATCH_ID_HEADER),
            AMQPValue::LongLongInt(self.batch_id),
        );
    }
}

/// One published message awaiting its confirm.
struct InFlight {
    label: String,
    routing_key: String,
    confirm: PublisherConfirm,
}

/// Publishes the rows of one write task.
pub struct Publisher {
    cfg: Config,
    schema: SchemaRef,
    layout: Layout,
    channel: Channel,
    in_flight: VecDeque<InFlight>,
    rows_seen: u64,
    confirmed: u64,
    metrics: Arc<TaskMetrics>,
    stream_task: Option<StreamTask>,
}

impl Publisher {
    pub async fn open(
        cfg: &Config,
        schema: SchemaRef,
        stream_task: Option<StreamTask>,
    ) -> Result<Publisher> {
        let layout = Layout::of(cfg, &schema)?;
        let channel = client::channel(cfg).await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|e| errors::client("turn on publisher confirms on", "a channel", e))?;
        Ok(Publisher {
            cfg: cfg.clone(),
            schema,
            layout,
            channel,
            in_flight: VecDeque::new(),
            rows_seen: 0,
            confirmed: 0,
            metrics: Arc::new(TaskMetrics::with_request_noun("messages")),
            stream_task,
        })
    }

    fn properties(&self, batch: &RecordBatch, row: usize) -> BasicProperties {
        let l = &self.layout;
        let mut p = BasicProperties::default();
        for (column, which) in &l.strings {
            if let Some(value) = string_at(batch.column(*column), row) {
                let value = ShortString::from(value);
                p = match STRING_PROPERTIES[*which].0 {
                    col::CONTENT_TYPE => p.with_content_type(value),
                    col::CONTENT_ENCODING => p.with_content_encoding(value),
                    col::MESSAGE_ID => p.with_message_id(value),
                    col::CORRELATION_ID => p.with_correlation_id(value),
                    col::REPLY_TO => p.with_reply_to(value),
                    col::EXPIRATION => p.with_expiration(value),
                    col::TYPE => p.with_type(value),
                    col::USER_ID => p.with_user_id(value),
                    _ => p.with_app_id(value),
                };
            }
        }
        if l.body.is_none() && p.content_type().is_none() {
            p = p.with_content_type(ShortString::from("application/json"));
        }
        let mut headers = l.headers.and_then(|c| headers_at(batch.column(c), row));
        if let Some(task) = &self.stream_task {
            if p.message_id().is_none() {
                let index = self.rows_seen + row as u64;
                p = p.with_message_id(ShortString::from(task.message_id(index)));
            }
            task.tag(headers.get_or_insert_with(FieldTable::default));
        }
        if let Some(headers) = headers {
            p = p.with_headers(headers);
        }
        if let Some(micros) = l.timestamp.and_then(|c| {
            let a = batch.column(c);
            (!a.is_null(row)).then(|| a.as_primitive::<TimestampMicrosecondType>().value(row))
        }) {
            p = p.with_timestamp(u64::try_from(micros.div_euclid(1_000_000)).unwrap_or(0));
        }
        let mode = l
            .delivery_mode
            .and_then(|c| integer_at(batch.column(c), row))
            .and_then(|m| u8::try_from(m).ok())
            .unwrap_or(if self.cfg.persistent { 2 } else { 1 });
        p = p.with_delivery_mode(mode);
        if let Some(priority) = l
            .priority
            .and_then(|c| integer_at(batch.column(c), row))
            .and_then(|m| u8::try_from(m).ok())
        {
            p = p.with_priority(priority);
        }
        p
    }

    fn label(&self, batch: &RecordBatch, row: usize) -> String {
        let index = self.rows_seen + row as u64;
        match self
            .layout
            .message_id
            .and_then(|c| string_at(batch.column(c), row))
        {
            Some(id) => format!("message_id `{id}`"),
            None => match &self.stream_task {
                Some(task) => format!("message_id `{}`", task.message_id(index)),
                None => format!("row {} of this task", index + 1),
            },
        }
    }

    async fn publish_batch(&mut self, batch: RecordBatch) -> Result<()> {
        let json = match self.layout.body {
            Some(_) => None,
            None => Some(json_bodies(&batch, &self.layout.json_columns)?),
        };
        let exchange = ShortString::from(self.cfg.exchange());
        let options = BasicPublishOptions {
            mandatory: self.cfg.mandatory,
            ..BasicPublishOptions::default()
        };
        for row in 0..batch.num_rows() {
            while self.in_flight.len() >= self.cfg.max_in_flight {
                self.settle_oldest().await?;
            }
            let body: &[u8] = match (&json, self.layout.body) {
                (Some(bodies), _) => &bodies[row],
                (None, Some(c)) => bytes_at(batch.column(c), row).unwrap_or_default(),
                (None, None) => &[],
            };
            let routing_key = match &self.layout.routing_key {
                RoutingKey::Constant(k) => k.as_str(),
                RoutingKey::Column(c) => string_at(batch.column(*c), row).ok_or_else(|| {
                    Error::data(
                        SYSTEM,
                        "write",
                        format!(
                            "{}: the routing key column is null; every row needs a routing key",
                            self.label(&batch, row)
                        ),
                    )
                })?,
            };
            let properties = self.properties(&batch, row);
            let confirm = self
                .channel
                .basic_publish(
                    exchange.clone(),
                    ShortString::from(routing_key),
                    options,
                    body,
                    properties,
                )
                .await
                .map_err(|e| self.failed(errors::client("publish to", &self.target(), e)))?;
            self.metrics.add_bytes(body.len() as u64);
            self.in_flight.push_back(InFlight {
                label: self.label(&batch, row),
                routing_key: routing_key.to_string(),
                confirm,
            });
        }
        self.rows_seen += batch.num_rows() as u64;
        Ok(())
    }

    fn target(&self) -> String {
        match self.cfg.exchange() {
            "" => "the default exchange".into(),
            x => format!("exchange `{x}`"),
        }
    }

    /// The error of a failed task, saying how many of its messages the broker confirmed.
    fn failed(&self, e: Error) -> Error {
        let kind = e.kind();
        Error::new(
            kind,
            SYSTEM,
            "write",
            format!(
                "{}; {} messages of this task were confirmed by the broker before this",
                e.message(),
                self.confirmed
            ),
        )
    }

    /// Waits for the oldest message's confirm; a refusal or a return fails the task.
    async fn settle_oldest(&mut self) -> Result<()> {
        let Some(m) = self.in_flight.pop_front() else {
            return Ok(());
        };
        let outcome = m.confirm.await.map_err(|e| {
            self.failed(errors::client(
                "confirm a message published to",
                &self.target(),
                e,
            ))
        })?;
        match outcome {
            Confirmation::Ack(None) => {
                self.confirmed += 1;
                self.metrics.add_rows(1);
                Ok(())
            }
            Confirmation::Ack(Some(returned)) | Confirmation::Nack(Some(returned)) => {
                Err(self.failed(Error::new(
                    ErrorKind::Data,
                    SYSTEM,
                    "write",
                    format!(
                        "{} was returned by the broker: {} {} — no queue is bound to {} with routing key `{}` (published with `mandatory`, so it is reported instead of dropped)",
                        m.label,
                        returned.reply_code,
                        returned.reply_text.as_str(),
                        self.target(),
                        m.routing_key
                    ),
                )))
            }
            Confirmation::Nack(None) => Err(self.failed(Error::new(
                ErrorKind::Data,
                SYSTEM,
                "write",
                format!(
                    "the broker refused {} (routing key `{}`): a queue it routes to is full with `x-overflow: reject-publish`, or the broker could not store it",
                    m.label, m.routing_key
                ),
            ))),
            Confirmation::NotRequested => Err(Error::internal(
                SYSTEM,
                "write",
                "a publish was not confirmed although confirms are on",
            )),
        }
    }

    async fn finish_all(&mut self) -> Result<Vec<(String, u64)>> {
        while !self.in_flight.is_empty() {
            self.settle_oldest().await?;
        }
        let _ = self.channel.close(200, ShortString::from("done")).await;
        log::info!(
            target: "spark_ds::rabbitmq",
            "{}",
            self.metrics.summary_line(SYSTEM, &format!("publish to {}", self.target()))
        );
        Ok(vec![
            ("rows".into(), self.confirmed),
            ("bytes".into(), self.metrics.snapshot().bytes),
        ])
    }
}

/// A batch must have the columns the layout was planned for, by name, order and type; a
/// timestamp's zone label and nullability may differ (Spark labels by session zone).
fn check_batch_shape(opened: &Schema, batch: &Schema) -> Result<()> {
    let strip = |t: &DataType| match t {
        DataType::Timestamp(unit, _) => DataType::Timestamp(*unit, None),
        other => other.clone(),
    };
    let names = |s: &Schema| {
        s.fields()
            .iter()
            .map(|f| f.name().clone())
            .collect::<Vec<_>>()
    };
    if names(opened) != names(batch) {
        return Err(Error::internal(
            SYSTEM,
            "write",
            format!(
                "a batch has columns {:?} where the writer was opened for {:?}",
                names(batch),
                names(opened)
            ),
        ));
    }
    for (want, got) in opened.fields().iter().zip(batch.fields()) {
        if strip(want.data_type()) != strip(got.data_type()) {
            return Err(Error::internal(
                SYSTEM,
                "write",
                format!(
                    "column `{}` of a batch is {} where the writer was opened for {}",
                    got.name(),
                    got.data_type(),
                    want.data_type()
                ),
            ));
        }
    }
    Ok(())
}

impl BatchSink for Publisher {
    fn write(&mut self, batch: RecordBatch) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            check_batch_shape(&self.schema, &batch.schema())?;
            self.publish_batch(batch).await
        })
    }

    fn finish(&mut self) -> BoxFuture<'_, Result<Vec<(String, u64)>>> {
        Box::pin(self.finish_all())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int64Array, TimestampMicrosecondArray};
    use arrow_schema::Field;

    #[test]
    fn rows_with_zoned_timestamps_become_json_bodies() {
        // Spark labels timestamps with a zone name ("UTC"), not an offset.
        let at = TimestampMicrosecondArray::from(vec![1_700_000_000_000_000]).with_timezone("UTC");
        let schema = Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("at", at.data_type().clone(), true),
        ]);
        let batch = RecordBatch::try_new(
            Arc::new(schema),
            vec![Arc::new(Int64Array::from(vec![7])), Arc::new(at)],
        )
        .unwrap();
        let bodies = json_bodies(&batch, &[0, 1]).unwrap();
        let body: serde_json::Value = serde_json::from_slice(&bodies[0]).unwrap();
        assert_eq!(body["id"], 7);
        assert!(
            body["at"]
                .as_str()
                .unwrap()
                .starts_with("2023-11-14T22:13:20"),
            "{body}"
        );
    }
}
