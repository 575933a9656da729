//! TEMPORARY stand-in for the BSON → Arrow conversion (replaced by the conversion module at
//! merge): the `BatchBuilder` interface the reader codes against, for the basic types the
//! read tests use (string, integers, double, boolean, timestamp). Not a conversion contract.

use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_schema::{DataType, SchemaRef, TimeUnit};
use mongodb::bson::{RawBsonRef, RawDocument};
use spark_ds_core::{Error, Result};

use crate::SYSTEM;
use crate::options::ParseMode;

enum Column {
    Str(StringBuilder),
    I32(Int32Builder),
    I64(Int64Builder),
    F64(Float64Builder),
    Bool(BooleanBuilder),
    Ts(TimestampMicrosecondBuilder, Option<Arc<str>>),
}

pub struct BatchBuilder {
    schema: SchemaRef,
    columns: Vec<Column>,
    rows: usize,
}

fn text(v: RawBsonRef<'_>) -> Option<String> {
    Some(match v {
        RawBsonRef::String(s) => s.to_string(),
        RawBsonRef::ObjectId(o) => o.to_hex(),
        RawBsonRef::Int32(i) => i.to_string(),
        RawBsonRef::Int64(i) => i.to_string(),
        RawBsonRef::Double(d) => d.to_string(),
        RawBsonRef::Boolean(b) => b.to_string(),
        RawBsonRef::Null | RawBsonRef::Undefined => return None,
        other => format!("{other:?}"),
    })
}

impl BatchBuilder {
    pub fn new(
        schema: SchemaRef,
        _mode: ParseMode,
        _corrupt_column: Option<&str>,
    ) -> Result<BatchBuilder> {
        let columns = schema
            .fields()
            .iter()
            .map(|f| {
                Ok(match f.data_type() {
                    DataType::Utf8 => Column::Str(StringBuilder::new()),
                    DataType::Int32 => Column::I32(Int32Builder::new()),
                    DataType::Int64 => Column::I64(Int64Builder::new()),
                    DataType::Float64 => Column::F64(Float64Builder::new()),
                    DataType::Boolean => Column::Bool(BooleanBuilder::new()),
                    DataType::Timestamp(TimeUnit::Microsecond, tz) => {
                        Column::Ts(TimestampMicrosecondBuilder::new(), tz.clone())
                    }
                    other => {
                        return Err(Error::config(
                            SYSTEM,
                            format!("column `{}`: type {other} is not read yet", f.name()),
                        ));
                    }
                })
            })
            .collect::<Result<_>>()?;
        Ok(BatchBuilder {
            schema,
            columns,
            rows: 0,
        })
    }

    pub fn append(&mut self, doc: &RawDocument) -> Result<bool> {
        for (field, column) in self.schema.fields().iter().zip(self.columns.iter_mut()) {
            let value = doc
                .get(field.name())
                .map_err(|e| Error::data(SYSTEM, "read", e.to_string()))?;
            match column {
                Column::Str(b) => b.append_option(value.and_then(text)),
                Column::I32(b) => b.append_option(match value {
                    Some(RawBsonRef::Int32(i)) => Some(i),
                    _ => None,
                }),
                Column::I64(b) => b.append_option(match value {
                    Some(RawBsonRef::Int32(i)) => Some(i64::from(i)),
                    Some(RawBsonRef::Int64(i)) => Some(i),
                    Some(RawBsonRef::Double(d)) if d.fract() == 0.0 && d.abs() < 9.0e15 => {
                        Some(d as i64)
                    }
                    _ => None,
                }),
                Column::F64(b) => b.append_option(match value {
                    Some(RawBsonRef::Double(d)) => Some(d),
                    Some(RawBsonRef::Int32(i)) => Some(f64::from(i)),
                    _ => None,
                }),
                Column::Bool(b) => b.append_option(match value {
                    Some(RawBsonRef::Boolean(v)) => Some(v),
                    _ => None,
                }),
                Column::Ts(b, _) => b.append_option(match value {
                    Some(RawBsonRef::DateTime(d)) => Some(d.timestamp_millis() * 1000),
                    _ => None,
                }),
            }
        }
        self.rows += 1;
        Ok(true)
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    pub fn finish(&mut self) -> Result<RecordBatch> {
        let arrays: Vec<ArrayRef> = self
            .columns
            .iter_mut()
            .map(|c| -> ArrayRef {
                match c {
                    Column::Str(b) => Arc::new(b.finish()),
                    Column::I32(b) => Arc::new(b.finish()),
                    Column::I64(b) => Arc::new(b.finish()),
                    Column::F64(b) => Arc::new(b.finish()),
                    Column::Bool(b) => Arc::new(b.finish()),
                    Column::Ts(b, tz) => Arc::new(b.finish().with_timezone_opt(tz.clone())),
                }
            })
            .collect();
        let rows = std::mem::take(&mut self.rows);
        RecordBatch::try_new_with_options(
            self.schema.clone(),
            arrays,
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )
        .map_err(|e| Error::internal(SYSTEM, "read", e.to_string()))
    }

    pub fn malformed(&self) -> u64 {
        0
    }
}
