//! From a batch of messages to the rows Spark asked for: the schema's message columns and,
//! with `bodyFormat=json`, the fields parsed from each body.

use arrow_array::cast::AsArray;
use arrow_array::{Array, RecordBatch};
use arrow_schema::SchemaRef;
use spark_ds_core::{Error, Result};

use crate::SYSTEM;
use crate::json_body::{self, JsonLayout, Label};
use crate::messages::{self, col};
use crate::options::{BodyFormat, Config};

/// How the messages of one read become rows of its schema.
pub struct RowShape {
    schema: SchemaRef,
    /// How bodies become columns when they are JSON.
    json: Option<JsonLayout>,
    /// Messages DROPMALFORMED left out so far.
    pub dropped: u64,
}

impl RowShape {
    pub fn new(cfg: &Config, schema: &SchemaRef) -> Result<RowShape> {
        let json = match cfg.body_format {
            BodyFormat::Json => Some(JsonLayout::of(
                schema,
                cfg.parse_mode,
                cfg.corrupt_column(),
            )?),
            BodyFormat::Binary => None,
        };
        Ok(RowShape {
            schema: schema.clone(),
            json,
            dropped: 0,
        })
    }

    /// Whether bodies are parsed as JSON (and so may be dropped).
    pub fn parses_json(&self) -> bool {
        self.json.is_some()
    }

    /// The rows of a batch of [`messages::schema`]; `label(i)` names message `i` in errors.
    pub fn apply(&mut self, batch: &RecordBatch, label: Label<'_>) -> Result<RecordBatch> {
        let Some(layout) = &self.json else {
            return messages::project(batch, &self.schema);
        };
        let bodies = batch
            .column_by_name(col::BODY)
            .map(|c| c.as_binary::<i32>())
            .ok_or_else(|| Error::internal(SYSTEM, "read", "a message batch without bodies"))?;
        let texts: Vec<&[u8]> = (0..bodies.len()).map(|i| bodies.value(i)).collect();
        let parsed = json_body::parse(layout, &texts, label)?;
        self.dropped += parsed.dropped;
        json_body::assemble(&self.schema, layout, batch, parsed)
    }
}
