//! Messages as Arrow rows: the body, where the message came from, and its AMQP properties,
//! one column each. The same names set the properties when a DataFrame is published.

use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Int32Builder, Int64Builder, MapBuilder, MapFieldNames,
    StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable};
use spark_ds_core::{Error, Result};

use crate::SYSTEM;

/// Column names, in schema order.
pub mod col {
    pub const BODY: &str = "body";
    pub const ROUTING_KEY: &str = "routing_key";
    pub const EXCHANGE: &str = "exchange";
    pub const HEADERS: &str = "headers";
    pub const CONTENT_TYPE: &str = "content_type";
    pub const CONTENT_ENCODING: &str = "content_encoding";
    pub const MESSAGE_ID: &str = "message_id";
    pub const CORRELATION_ID: &str = "correlation_id";
    pub const REPLY_TO: &str = "reply_to";
    pub const EXPIRATION: &str = "expiration";
    pub const TYPE: &str = "type";
    pub const USER_ID: &str = "user_id";
    pub const APP_ID: &str = "app_id";
    pub const TIMESTAMP: &str = "timestamp";
    pub const DELIVERY_MODE: &str = "delivery_mode";
    pub const PRIORITY: &str = "priority";
    pub const REDELIVERED: &str = "redelivered";
    pub const OFFSET: &str = "offset";
}

/// The string properties, in schema order, with how each is read from the properties.
type StringProperty = (&'static str, fn(&BasicProperties) -> Option<&str>);

pub const STRING_PROPERTIES: [StringProperty; 9] = [
    (col::CONTENT_TYPE, |p| {
        p.content_type().as_ref().map(|s| s.as_str())
    }),
    (col::CONTENT_ENCODING, |p| {
        p.content_encoding().as_ref().map(|s| s.as_str())
    }),
    (col::MESSAGE_ID, |p| {
        p.message_id().as_ref().map(|s| s.as_str())
    }),
    (col::CORRELATION_ID, |p| {
        p.correlation_id().as_ref().map(|s| s.as_str())
    }),
    (col::REPLY_TO, |p| p.reply_to().as_ref().map(|s| s.as_str())),
    (col::EXPIRATION, |p| {
        p.expiration().as_ref().map(|s| s.as_str())
    }),
    (col::TYPE, |p| p.kind().as_ref().map(|s| s.as_str())),
    (col::USER_ID, |p| p.user_id().as_ref().map(|s| s.as_str())),
    (col::APP_ID, |p| p.app_id().as_ref().map(|s| s.as_str())),
];

/// Field names of the `headers` map, as Spark's Arrow conversion writes them.
fn map_names() -> MapFieldNames {
    MapFieldNames {
        entry: "entries".into(),
        key: "key".into(),
        value: "value".into(),
    }
}

fn headers_type() -> DataType {
    let entries = Fields::from(vec![
        Field::new("key", DataType::Utf8, false),
        Field::new("value", DataType::Utf8, true),
    ]);
    DataType::Map(
        Arc::new(Field::new("entries", DataType::Struct(entries), false)),
        false,
    )
}

/// The schema of every read: one row per message.
pub fn schema() -> SchemaRef {
    let mut fields = vec![
        Field::new(col::BODY, DataType::Binary, true),
        Field::new(col::ROUTING_KEY, DataType::Utf8, true),
        Field::new(col::EXCHANGE, DataType::Utf8, true),
        Field::new(col::HEADERS, headers_type(), true),
    ];
    fields.extend(
        STRING_PROPERTIES
            .iter()
            .map(|(name, _)| Field::new(*name, DataType::Utf8, true)),
    );
    fields.extend([
        Field::new(
            col::TIMESTAMP,
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        Field::new(col::DELIVERY_MODE, DataType::Int32, true),
        Field::new(col::PRIORITY, DataType::Int32, true),
        Field::new(col::REDELIVERED, DataType::Boolean, true),
        Field::new(col::OFFSET, DataType::Int64, true),
    ]);
    Arc::new(Schema::new(fields))
}

/// A header value as text: numbers and booleans as written, strings and bytes as UTF-8
/// (invalid bytes replaced), tables and arrays as JSON.
pub fn header_text(value: &AMQPValue) -> Option<String> {
    Some(match value {
        AMQPValue::Void => return None,
        AMQPValue::LongString(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
        AMQPValue::ShortString(s) => s.as_str().to_string(),
        AMQPValue::ByteArray(b) => String::from_utf8_lossy(b.as_slice()).into_owned(),
        other => header_json(other).to_string(),
    })
}

fn header_json(value: &AMQPValue) -> serde_json::Value {
    use serde_json::Value;
    match value {
        AMQPValue::Boolean(b) => Value::from(*b),
        AMQPValue::ShortShortInt(n) => Value::from(*n),
        AMQPValue::ShortShortUInt(n) => Value::from(*n),
        AMQPValue::ShortInt(n) => Value::from(*n),
        AMQPValue::ShortUInt(n) => Value::from(*n),
        AMQPValue::LongInt(n) => Value::from(*n),
        AMQPValue::LongUInt(n) => Value::from(*n),
        AMQPValue::LongLongInt(n) => Value::from(*n),
        AMQPValue::Float(f) => Value::from(*f),
        AMQPValue::Double(f) => Value::from(*f),
        AMQPValue::Timestamp(t) => Value::from(*t),
        AMQPValue::DecimalValue(d) => Value::from(d.value as f64 / 10f64.powi(i32::from(d.scale))),
        AMQPValue::FieldArray(items) => {
            Value::Array(items.as_slice().iter().map(header_json).collect())
        }
        AMQPValue::FieldTable(table) => Value::Object(
            table
                .inner()
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), header_json(v)))
                .collect(),
        ),
        text => header_text(text).map_or(Value::Null, Value::from),
    }
}

/// One message as the builder takes it.
pub struct Message<'a> {
    pub body: &'a [u8],
    pub routing_key: &'a str,
    pub exchange: &'a str,
    pub properties: &'a BasicProperties,
    pub redelivered: bool,
    pub offset: Option<i64>,
}

/// Builds a batch of messages in [`schema`] order.
pub struct MessageBuilder {
    body: BinaryBuilder,
    routing_key: StringBuilder,
    exchange: StringBuilder,
    headers: MapBuilder<StringBuilder, StringBuilder>,
    strings: Vec<StringBuilder>,
    timestamp: TimestampMicrosecondBuilder,
    delivery_mode: Int32Builder,
    priority: Int32Builder,
    redelivered: BooleanBuilder,
    offset: Int64Builder,
    rows: usize,
    bytes: usize,
}

impl Default for MessageBuilder {
    fn default() -> Self {
        MessageBuilder::new()
    }
}

impl MessageBuilder {
    pub fn new() -> Self {
        MessageBuilder {
            body: BinaryBuilder::new(),
            routing_key: StringBuilder::new(),
            exchange: StringBuilder::new(),
            headers: MapBuilder::new(
                Some(map_names()),
                StringBuilder::new(),
                StringBuilder::new(),
            ),
            strings: STRING_PROPERTIES
                .iter()
                .map(|_| StringBuilder::new())
                .collect(),
            timestamp: TimestampMicrosecondBuilder::new().with_timezone("UTC"),
            delivery_mode: Int32Builder::new(),
            priority: Int32Builder::new(),
            redelivered: BooleanBuilder::new(),
            offset: Int64Builder::new(),
            rows: 0,
            bytes: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Bodies held so far, in bytes (a batch is cut by size as well as by rows).
    pub fn body_bytes(&self) -> usize {
        self.bytes
    }

    pub fn push(&mut self, m: &Message<'_>) -> Result<()> {
        self.body.append_value(m.body);
        self.routing_key.append_value(m.routing_key);
        self.exchange.append_value(m.exchange);
        let p = m.properties;
        // The stream offset is the `offset` column, not a header the publisher set.
        let published = p
            .headers()
            .as_ref()
            .filter(|t| t.inner().keys().any(|k| k.as_str() != STREAM_OFFSET_HEADER));
        match published {
            Some(table) => {
                push_headers(&mut self.headers, table);
                self.headers.append(true).map_err(arrow_error)?;
            }
            None => self.headers.append(false).map_err(arrow_error)?,
        }
        for (builder, (_, read)) in self.strings.iter_mut().zip(STRING_PROPERTIES.iter()) {
            builder.append_option(read(p));
        }
        self.timestamp.append_option(
            p.timestamp()
                .and_then(|s| i64::try_from(s).ok())
                .and_then(|s| s.checked_mul(1_000_000)),
        );
        self.delivery_mode
            .append_option(p.delivery_mode().map(i32::from));
        self.priority.append_option(p.priority().map(i32::from));
        self.redelivered.append_value(m.redelivered);
        self.offset.append_option(m.offset);
        self.rows += 1;
        self.bytes += m.body.len();
        Ok(())
    }

    /// The rows so far as a batch of [`schema`]; the builder starts empty again.
    pub fn finish(&mut self) -> Result<RecordBatch> {
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(self.body.finish()),
            Arc::new(self.routing_key.finish()),
            Arc::new(self.exchange.finish()),
            Arc::new(self.headers.finish()),
        ];
        columns.extend(
            self.strings
                .iter_mut()
                .map(|b| Arc::new(b.finish()) as ArrayRef),
        );
        columns.extend([
            Arc::new(self.timestamp.finish()) as ArrayRef,
            Arc::new(self.delivery_mode.finish()),
            Arc::new(self.priority.finish()),
            Arc::new(self.redelivered.finish()),
            Arc::new(self.offset.finish()),
        ]);
        self.rows = 0;
        self.bytes = 0;
        RecordBatch::try_new(schema(), columns).map_err(arrow_error)
    }
}

/// The header each delivery from a stream queue carries: its offset.
pub const STREAM_OFFSET_HEADER: &str = "x-stream-offset";

fn push_headers(builder: &mut MapBuilder<StringBuilder, StringBuilder>, table: &FieldTable) {
    for (key, value) in table.inner() {
        if key.as_str() == STREAM_OFFSET_HEADER {
            continue;
        }
        builder.keys().append_value(key.as_str());
        builder.values().append_option(header_text(value));
    }
}

fn arrow_error(e: arrow_schema::ArrowError) -> Error {
    Error::internal(SYSTEM, "build batch", e.to_string())
}

/// The columns of `requested` taken by name from a batch of [`schema`].
pub fn project(batch: &RecordBatch, requested: &SchemaRef) -> Result<RecordBatch> {
    let columns = requested
        .fields()
        .iter()
        .map(|f| {
            batch.column_by_name(f.name()).cloned().ok_or_else(|| {
                Error::config(
                    SYSTEM,
                    format!(
                        "the schema names column `{}`, which a message does not have",
                        f.name()
                    ),
                )
            })
        })
        .collect::<Result<Vec<_>>>()?;
    RecordBatch::try_new(requested.clone(), columns).map_err(arrow_error)
}

/// Checks on the driver that a user's schema asks only for message columns, with their
/// types (with `json_fields`, other columns are fields of a JSON body).
pub fn check_schema(requested: &Schema, json_fields: bool) -> Result<()> {
    let full = schema();
    for f in requested.fields() {
        match full.field_with_name(f.name()) {
            Err(_) if json_fields => {}
            Err(_) => {
                let names: Vec<&str> = full.fields().iter().map(|f| f.name().as_str()).collect();
                return Err(Error::config(
                    SYSTEM,
                    format!(
                        "the schema names column `{}`; a message has {} (with option `bodyFormat` = `json`, other columns are fields of the body)",
                        f.name(),
                        names.join(", ")
                    ),
                ));
            }
            Ok(known) if !known.data_type().equals_datatype(f.data_type()) => {
                return Err(Error::config(
                    SYSTEM,
                    format!(
                        "the schema gives column `{}` type {}; it is {}",
                        f.name(),
                        f.data_type(),
                        known.data_type()
                    ),
                ));
            }
            Ok(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;
    use lapin::types::{FieldArray, LongString, ShortString};

    #[test]
    fn a_message_becomes_one_row_of_every_column() {
        let mut headers = FieldTable::default();
        headers.insert(ShortString::from("n"), AMQPValue::LongInt(7));
        headers.insert(
            ShortString::from("s"),
            AMQPValue::LongString(LongString::from("é")),
        );
        headers.insert(
            ShortString::from("a"),
            AMQPValue::FieldArray(FieldArray::from(vec![AMQPValue::Boolean(true)])),
        );
        let props = BasicProperties::default()
            .with_headers(headers)
            .with_message_id("m1".into())
            .with_timestamp(1_700_000_000)
            .with_delivery_mode(2);
        let mut b = MessageBuilder::new();
        b.push(&Message {
            body: b"hi",
            routing_key: "rk",
            exchange: "",
            properties: &props,
            redelivered: false,
            offset: Some(41),
        })
        .unwrap();
        b.push(&Message {
            body: b"",
            routing_key: "rk",
            exchange: "x",
            properties: &BasicProperties::default(),
            redelivered: true,
            offset: None,
        })
        .unwrap();
        let batch = b.finish().unwrap();
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(batch.schema(), schema());
        let headers = batch.column_by_name(col::HEADERS).unwrap();
        assert!(headers.is_valid(0) && headers.is_null(1));
        let offsets = batch.column_by_name(col::OFFSET).unwrap();
        assert!(offsets.is_valid(0) && offsets.is_null(1));
        assert!(b.is_empty());
        assert_eq!(header_text(&AMQPValue::LongInt(7)).as_deref(), Some("7"));
        assert_eq!(
            header_text(&AMQPValue::FieldArray(FieldArray::from(vec![
                AMQPValue::LongInt(1)
            ])))
            .as_deref(),
            Some("[1]")
        );
    }

    #[test]
    fn a_schema_is_checked_by_name_and_type() {
        let ok = Schema::new(vec![Field::new(col::OFFSET, DataType::Int64, true)]);
        check_schema(&ok, false).unwrap();
        let unknown = Schema::new(vec![Field::new("value", DataType::Binary, true)]);
        assert!(
            check_schema(&unknown, false)
                .unwrap_err()
                .message()
                .contains("`value`")
        );
        let wrong = Schema::new(vec![Field::new(col::BODY, DataType::Utf8, true)]);
        assert!(
            check_schema(&wrong, false)
                .unwrap_err()
                .message()
                .contains("`body`")
        );
    }
}
