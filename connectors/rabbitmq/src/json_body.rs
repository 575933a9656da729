//! Message bodies parsed as JSON into the columns of a user's schema (`bodyFormat=json`),
//! with Spark's parse modes for bodies that do not fit: PERMISSIVE (the row kept, its JSON
//! columns null, the body in `columnNameOfCorruptRecord`), DROPMALFORMED (the message
//! dropped and counted) and FAILFAST (the read fails naming the message).
//!
//! Bodies are decoded by `arrow-json` a whole batch at a time; only a batch holding a bad
//! body is decoded again one body at a time, to find it.

use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, RecordBatch, StringArray, new_null_array};
use arrow_json::ReaderBuilder;
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use arrow_select::concat::concat_batches;
use arrow_select::filter::filter_record_batch;
use spark_ds_core::{Error, ErrorKind, Result};

use crate::SYSTEM;
use crate::messages;
#[cfg(test)]
use crate::messages::col;
use crate::options::ParseMode;

/// How the columns of a requested schema are filled when bodies are JSON.
#[derive(Clone, Debug)]
pub struct JsonLayout {
    /// The requested columns that come from the body.
    pub body_schema: SchemaRef,
    /// The PERMISSIVE column that receives a body that did not fit.
    pub corrupt_column: Option<String>,
    pub mode: ParseMode,
}

impl JsonLayout {
    /// Splits `requested` into message columns, the corrupt-record column and JSON fields;
    /// refuses a corrupt-record column that is not a string and a schema with no JSON field.
    pub fn of(requested: &Schema, mode: ParseMode, corrupt: &str) -> Result<JsonLayout> {
        let message_columns = messages::schema();
        let mut body_fields: Vec<Field> = Vec::new();
        let mut corrupt_column = None;
        for f in requested.fields() {
            if f.name() == corrupt && mode == ParseMode::Permissive {
                if f.data_type() != &DataType::Utf8 {
                    return Err(Error::config(
                        SYSTEM,
                        format!(
                            "column `{corrupt}` (option `columnNameOfCorruptRecord`) receives bodies that did not fit and must be a string; it is {}",
                            f.data_type()
                        ),
                    ));
                }
                corrupt_column = Some(corrupt.to_string());
            } else if message_columns.field_with_name(f.name()).is_err() {
                body_fields.push(f.as_ref().clone());
            }
        }
        if body_fields.is_empty() {
            return Err(Error::config(
                SYSTEM,
                "option `bodyFormat` is `json` but the schema names no field of the body: give the read a schema (`.schema(\"id INT, name STRING\")`) with the body's fields, beside any message columns",
            ));
        }
        Ok(JsonLayout {
            body_schema: Arc::new(Schema::new(body_fields)),
            corrupt_column,
            mode,
        })
    }
}

/// Bodies of one batch parsed: the JSON columns (one row per kept message), which
/// messages are kept, and for PERMISSIVE the bodies that did not fit.
#[derive(Debug)]
pub struct Parsed {
    pub columns: RecordBatch,
    pub keep: Option<BooleanArray>,
    pub corrupt: Option<ArrayRef>,
    pub dropped: u64,
}

/// A row label for errors: the message id or the stream offset.
pub type Label<'a> = &'a dyn Fn(usize) -> String;

/// Parses `bodies` (one per message, in order) under the layout's mode.
pub fn parse(layout: &JsonLayout, bodies: &[&[u8]], label: Label<'_>) -> Result<Parsed> {
    if let Ok(columns) = decode_all(&layout.body_schema, bodies) {
        let corrupt = layout
            .corrupt_column
            .as_ref()
            .map(|_| new_null_array(&DataType::Utf8, bodies.len()));
        return Ok(Parsed {
            columns,
            keep: None,
            corrupt,
            dropped: 0,
        });
    }
    // One body at a time, to find the ones that do not fit.
    let mut rows = Vec::with_capacity(bodies.len());
    let mut keep = Vec::with_capacity(bodies.len());
    let mut corrupt: Vec<Option<String>> = Vec::with_capacity(bodies.len());
    let mut dropped = 0;
    for (i, body) in bodies.iter().enumerate() {
        match decode_all(&layout.body_schema, &[body]) {
            Ok(row) => {
                rows.push(row);
                keep.push(true);
                corrupt.push(None);
            }
            Err(why) => match layout.mode {
                ParseMode::FailFast => {
                    return Err(Error::new(
                        ErrorKind::Data,
                        SYSTEM,
                        "read",
                        format!(
                            "{}: its body does not fit the schema as JSON ({why}); option `mode` is FAILFAST (PERMISSIVE keeps it in `columnNameOfCorruptRecord`, DROPMALFORMED skips it)",
                            label(i)
                        ),
                    ));
                }
                ParseMode::DropMalformed => {
                    keep.push(false);
                    dropped += 1;
                }
                ParseMode::Permissive => {
                    rows.push(null_row(&layout.body_schema)?);
                    keep.push(true);
                    corrupt.push(Some(String::from_utf8_lossy(body).into_owned()));
                }
            },
        }
    }
    let columns = concat_batches(&layout.body_schema, &rows).map_err(arrow_error)?;
    Ok(Parsed {
        columns,
        keep: (dropped > 0).then(|| BooleanArray::from(keep)),
        corrupt: layout
            .corrupt_column
            .as_ref()
            .map(|_| Arc::new(StringArray::from(corrupt)) as ArrayRef),
        dropped,
    })
}

/// Every body decoded into one batch of `schema`, or the first reason one does not fit.
fn decode_all(schema: &SchemaRef, bodies: &[&[u8]]) -> std::result::Result<RecordBatch, String> {
    let mut decoder = ReaderBuilder::new(schema.clone())
        .with_batch_size(bodies.len().max(1))
        .build_decoder()
        .map_err(|e| e.to_string())?;
    for body in bodies {
        let trimmed = body.trim_ascii();
        if !trimmed.starts_with(b"{") {
            return Err("the body is not a JSON object".into());
        }
        let used = decoder.decode(trimmed).map_err(|e| e.to_string())?;
        if used != trimmed.len() || decoder.has_partial_record() {
            return Err("the body is not one complete JSON object".into());
        }
    }
    let batch = decoder
        .flush()
        .map_err(|e| e.to_string())?
        .unwrap_or_else(|| RecordBatch::new_empty(schema.clone()));
    if batch.num_rows() != bodies.len() {
        return Err("a body holds more than one JSON value".into());
    }
    Ok(batch)
}

fn null_row(schema: &SchemaRef) -> Result<RecordBatch> {
    let columns = schema
        .fields()
        .iter()
        .map(|f| new_null_array(f.data_type(), 1))
        .collect();
    RecordBatch::try_new(schema.clone(), columns).map_err(arrow_error)
}

/// The requested batch: message columns from `messages`, JSON columns from `parsed`,
/// dropped messages left out.
pub fn assemble(
    requested: &SchemaRef,
    layout: &JsonLayout,
    messages: &RecordBatch,
    parsed: Parsed,
) -> Result<RecordBatch> {
    let messages = match &parsed.keep {
        Some(keep) => filter_record_batch(messages, keep).map_err(arrow_error)?,
        None => messages.clone(),
    };
    let columns = requested
        .fields()
        .iter()
        .map(|f| {
            if Some(f.name()) == layout.corrupt_column.as_ref() {
                parsed.corrupt.clone().ok_or_else(|| {
                    Error::internal(SYSTEM, "read", "no corrupt-record column was built")
                })
            } else if let Some(c) = parsed.columns.column_by_name(f.name()) {
                Ok(c.clone())
            } else {
                messages.column_by_name(f.name()).cloned().ok_or_else(|| {
                    Error::internal(
                        SYSTEM,
                        "read",
                        format!("no column `{}` was built", f.name()),
                    )
                })
            }
        })
        .collect::<Result<Vec<_>>>()?;
    RecordBatch::try_new(requested.clone(), columns).map_err(arrow_error)
}

fn arrow_error(e: arrow_schema::ArrowError) -> Error {
    Error::internal(SYSTEM, "read", e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int32Type;

    fn requested() -> Schema {
        Schema::new(vec![
            Field::new("id", DataType::Int32, true),
            Field::new("name", DataType::Utf8, true),
            Field::new(col::OFFSET, DataType::Int64, true),
            Field::new("_corrupt_record", DataType::Utf8, true),
        ])
    }

    const BODIES: [&[u8]; 4] = [
        br#"{"id": 1, "name": "a"}"#,
        b"not json",
        br#"{"id": "two"}"#,
        br#" {"id": 4, "extra": true} "#,
    ];

    fn label(i: usize) -> String {
        format!("message {i}")
    }

    #[test]
    fn permissive_keeps_every_message_and_the_bad_bodies() {
        let layout =
            JsonLayout::of(&requested(), ParseMode::Permissive, "_corrupt_record").unwrap();
        assert_eq!(layout.body_schema.fields().len(), 2);
        let parsed = parse(&layout, &BODIES, &label).unwrap();
        let ids = parsed.columns.column(0).as_primitive::<Int32Type>();
        assert_eq!(ids.len(), 4);
        assert_eq!(
            (ids.value(0), ids.is_null(1), ids.is_null(2), ids.value(3)),
            (1, true, true, 4)
        );
        let corrupt = parsed.corrupt.unwrap();
        let corrupt = corrupt.as_string::<i32>();
        assert!(corrupt.is_null(0) && corrupt.is_null(3));
        assert_eq!(corrupt.value(1), "not json");
        assert_eq!(corrupt.value(2), r#"{"id": "two"}"#);
    }

    #[test]
    fn dropmalformed_drops_and_failfast_names_the_message() {
        let layout =
            JsonLayout::of(&requested(), ParseMode::DropMalformed, "_corrupt_record").unwrap();
        // DROPMALFORMED: `_corrupt_record` is a body field like any other (absent: null).
        assert_eq!(layout.body_schema.fields().len(), 3);
        let parsed = parse(&layout, &BODIES, &label).unwrap();
        assert_eq!((parsed.columns.num_rows(), parsed.dropped), (2, 2));
        let layout = JsonLayout::of(&requested(), ParseMode::FailFast, "_corrupt_record").unwrap();
        let e = parse(&layout, &BODIES, &label).unwrap_err();
        assert!(
            e.message().contains("message 1") && e.message().contains("FAILFAST"),
            "{}",
            e.message()
        );
    }

    #[test]
    fn a_schema_without_body_fields_is_refused() {
        let only_messages = Schema::new(vec![Field::new(col::OFFSET, DataType::Int64, true)]);
        let e =
            JsonLayout::of(&only_messages, ParseMode::Permissive, "_corrupt_record").unwrap_err();
        assert!(e.message().contains("bodyFormat"), "{}", e.message());
        let bad_corrupt = Schema::new(vec![
            Field::new("id", DataType::Int32, true),
            Field::new("_corrupt_record", DataType::Int32, true),
        ]);
        assert!(JsonLayout::of(&bad_corrupt, ParseMode::Permissive, "_corrupt_record").is_err());
    }
}
