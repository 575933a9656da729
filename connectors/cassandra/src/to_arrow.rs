//! CQL values → Arrow arrays of the Spark-compatible schema.
//!
//! A [`ColumnBuilder`] tree is made once per column from its Arrow type and filled row by
//! row; lists, maps and structs are assembled from child builders, so any nesting depth works.

use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float32Builder,
    Float64Builder, Int8Builder, Int16Builder, Int32Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, ListArray, MapArray, StructArray};
use arrow_buffer::{NullBufferBuilder, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, FieldRef, Fields};
use scylla::cluster::metadata::{ColumnType, NativeType};
use scylla::deserialize::DeserializationError;
use scylla::deserialize::row::RawColumn;
use scylla::deserialize::value::DeserializeValue;
use scylla::value::{CqlDecimal, CqlTimestamp, CqlValue, CqlVarint};
use spark_ds_core::{Error, Result};

use crate::SYSTEM;
use crate::types::{be_bytes_to_i128, days_since_epoch};
use num_bigint::BigInt;

/// Builds one Arrow column from CQL values.
pub enum ColumnBuilder {
    Utf8(StringBuilder),
    Int64(Int64Builder),
    Int32(Int32Builder),
    Int16(Int16Builder),
    Int8(Int8Builder),
    Float32(Float32Builder),
    Float64(Float64Builder),
    Boolean(BooleanBuilder),
    Binary(BinaryBuilder),
    Date32(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder, Option<Arc<str>>),
    Decimal(Decimal128Builder, u8, i8),
    List {
        field: FieldRef,
        offsets: Vec<i32>,
        nulls: NullBufferBuilder,
        child: Box<ColumnBuilder>,
    },
    Map {
        entries: FieldRef,
        offsets: Vec<i32>,
        nulls: NullBufferBuilder,
        keys: Box<ColumnBuilder>,
        values: Box<ColumnBuilder>,
    },
    Struct {
        fields: Fields,
        nulls: NullBufferBuilder,
        children: Vec<ColumnBuilder>,
        len: usize,
    },
}

/// Types whose zero-length value is a real value (empty string or blob), not "empty".
fn is_variable_length(typ: &ColumnType<'_>) -> bool {
    matches!(
        typ,
        ColumnType::Native(NativeType::Text | NativeType::Ascii | NativeType::Blob)
    )
}

fn mismatch(column: &str, expected: &DataType, v: &CqlValue) -> Error {
    Error::data(
        SYSTEM,
        "read",
        format!("column `{column}`: cannot put CQL value {v:?} into Arrow type {expected}"),
    )
}

impl ColumnBuilder {
    /// A builder for the Arrow type (one of those `types::arrow_type` produces).
    pub fn new(dt: &DataType, capacity: usize) -> Result<Self> {
        Ok(match dt {
            DataType::Utf8 => {
                ColumnBuilder::Utf8(StringBuilder::with_capacity(capacity, capacity * 16))
            }
            DataType::Int64 => ColumnBuilder::Int64(Int64Builder::with_capacity(capacity)),
            DataType::Int32 => ColumnBuilder::Int32(Int32Builder::with_capacity(capacity)),
            DataType::Int16 => ColumnBuilder::Int16(Int16Builder::with_capacity(capacity)),
            DataType::Int8 => ColumnBuilder::Int8(Int8Builder::with_capacity(capacity)),
            DataType::Float32 => ColumnBuilder::Float32(Float32Builder::with_capacity(capacity)),
            DataType::Float64 => ColumnBuilder::Float64(Float64Builder::with_capacity(capacity)),
            DataType::Boolean => ColumnBuilder::Boolean(BooleanBuilder::with_capacity(capacity)),
            DataType::Binary => {
                ColumnBuilder::Binary(BinaryBuilder::with_capacity(capacity, capacity * 16))
            }
            DataType::Date32 => ColumnBuilder::Date32(Date32Builder::with_capacity(capacity)),
            DataType::Timestamp(_, tz) => ColumnBuilder::Timestamp(
                TimestampMicrosecondBuilder::with_capacity(capacity),
                tz.clone(),
            ),
            DataType::Decimal128(p, s) => {
                ColumnBuilder::Decimal(Decimal128Builder::with_capacity(capacity), *p, *s)
            }
            DataType::List(field) => ColumnBuilder::List {
                field: field.clone(),
                offsets: vec![0],
                nulls: NullBufferBuilder::new(capacity),
                child: Box::new(ColumnBuilder::new(field.data_type(), capacity)?),
            },
            DataType::Map(entries, _) => {
                let DataType::Struct(kv) = entries.data_type() else {
                    return Err(Error::internal(
                        SYSTEM,
                        "read",
                        "map entries must be a struct",
                    ));
                };
                ColumnBuilder::Map {
                    entries: entries.clone(),
                    offsets: vec![0],
                    nulls: NullBufferBuilder::new(capacity),
                    keys: Box::new(ColumnBuilder::new(kv[0].data_type(), capacity)?),
                    values: Box::new(ColumnBuilder::new(kv[1].data_type(), capacity)?),
                }
            }
            DataType::Struct(fields) => ColumnBuilder::Struct {
                fields: fields.clone(),
                nulls: NullBufferBuilder::new(capacity),
                children: fields
                    .iter()
                    .map(|f| ColumnBuilder::new(f.data_type(), capacity))
                    .collect::<Result<_>>()?,
                len: 0,
            },
            other => {
                return Err(Error::internal(
                    SYSTEM,
                    "read",
                    format!("no builder for Arrow type {other}"),
                ));
            }
        })
    }

    /// Appends one column of a raw result row. The common scalar types are read straight
    /// from the response frame (borrowed text and bytes, no `CqlValue`, no allocation per
    /// value); everything else goes through [`ColumnBuilder::append`].
    pub fn append_raw(&mut self, column: &RawColumn<'_, '_>, name: &str) -> Result<()> {
        let typ = column.spec.typ();
        let slice = column.slice;
        let bad =
            |e: DeserializationError| Error::data(SYSTEM, "read", format!("column `{name}`: {e}"));
        // CQL's "empty" value of a fixed-size type reads as null, as in `append`.
        if slice.is_some_and(|s| s.is_empty()) && !is_variable_length(typ) {
            self.append_null();
            return Ok(());
        }
        match (self, typ) {
            (ColumnBuilder::Utf8(b), ColumnType::Native(NativeType::Text | NativeType::Ascii)) => {
                b.append_option(<Option<&str>>::deserialize(typ, slice).map_err(bad)?)
            }
            (ColumnBuilder::Int64(b), ColumnType::Native(NativeType::BigInt)) => {
                b.append_option(<Option<i64>>::deserialize(typ, slice).map_err(bad)?)
            }
            (ColumnBuilder::Int32(b), ColumnType::Native(NativeType::Int)) => {
                b.append_option(<Option<i32>>::deserialize(typ, slice).map_err(bad)?)
            }
            (ColumnBuilder::Int16(b), ColumnType::Native(NativeType::SmallInt)) => {
                b.append_option(<Option<i16>>::deserialize(typ, slice).map_err(bad)?)
            }
            (ColumnBuilder::Int8(b), ColumnType::Native(NativeType::TinyInt)) => {
                b.append_option(<Option<i8>>::deserialize(typ, slice).map_err(bad)?)
            }
            (ColumnBuilder::Float32(b), ColumnType::Native(NativeType::Float)) => {
                b.append_option(<Option<f32>>::deserialize(typ, slice).map_err(bad)?)
            }
            (ColumnBuilder::Float64(b), ColumnType::Native(NativeType::Double)) => {
                b.append_option(<Option<f64>>::deserialize(typ, slice).map_err(bad)?)
            }
            (ColumnBuilder::Boolean(b), ColumnType::Native(NativeType::Boolean)) => {
                b.append_option(<Option<bool>>::deserialize(typ, slice).map_err(bad)?)
            }
            (ColumnBuilder::Binary(b), ColumnType::Native(NativeType::Blob)) => {
                b.append_option(<Option<&[u8]>>::deserialize(typ, slice).map_err(bad)?)
            }
            (ColumnBuilder::Timestamp(b, _), ColumnType::Native(NativeType::Timestamp)) => {
                match <Option<CqlTimestamp>>::deserialize(typ, slice).map_err(bad)? {
                    None => b.append_null(),
                    Some(CqlTimestamp(millis)) => b.append_value(timestamp_micros(millis, name)?),
                }
            }
            (builder, _) => {
                let value = <Option<CqlValue>>::deserialize(typ, slice).map_err(bad)?;
                return builder.append(value.as_ref(), name);
            }
        }
        Ok(())
    }

    /// Appends one value (`None` = null).
    pub fn append(&mut self, v: Option<&CqlValue>, column: &str) -> Result<()> {
        let v = match v {
            None | Some(CqlValue::Empty) => {
                self.append_null();
                return Ok(());
            }
            Some(v) => v,
        };
        match self {
            ColumnBuilder::Utf8(b) => match v {
                CqlValue::Text(s) | CqlValue::Ascii(s) => b.append_value(s),
                CqlValue::Uuid(u) => b.append_value(
                    u.hyphenated()
                        .encode_lower(&mut uuid::Uuid::encode_buffer()),
                ),
                CqlValue::Timeuuid(u) => {
                    let u: &uuid::Uuid = u.as_ref();
                    b.append_value(
                        u.hyphenated()
                            .encode_lower(&mut uuid::Uuid::encode_buffer()),
                    )
                }
                CqlValue::Inet(ip) => b.append_value(ip.to_string()),
                // A user schema asked for the text of another type (checked at load).
                _ => b.append_value(cql_text(v)),
            },
            ColumnBuilder::Int64(b) => match v {
                CqlValue::BigInt(n) => b.append_value(*n),
                CqlValue::Counter(c) => b.append_value(c.0),
                CqlValue::Time(t) => b.append_value(t.0),
                CqlValue::Int(n) => b.append_value(i64::from(*n)),
                CqlValue::SmallInt(n) => b.append_value(i64::from(*n)),
                CqlValue::TinyInt(n) => b.append_value(i64::from(*n)),
                CqlValue::Timestamp(t) => b.append_value(t.0),
                _ => return Err(mismatch(column, &DataType::Int64, v)),
            },
            ColumnBuilder::Int32(b) => match v {
                CqlValue::Int(n) => b.append_value(*n),
                CqlValue::SmallInt(n) => b.append_value(i32::from(*n)),
                CqlValue::TinyInt(n) => b.append_value(i32::from(*n)),
                _ => return Err(mismatch(column, &DataType::Int32, v)),
            },
            ColumnBuilder::Int16(b) => match v {
                CqlValue::SmallInt(n) => b.append_value(*n),
                CqlValue::TinyInt(n) => b.append_value(i16::from(*n)),
                _ => return Err(mismatch(column, &DataType::Int16, v)),
            },
            ColumnBuilder::Int8(b) => match v {
                CqlValue::TinyInt(n) => b.append_value(*n),
                _ => return Err(mismatch(column, &DataType::Int8, v)),
            },
            ColumnBuilder::Float32(b) => match v {
                CqlValue::Float(n) => b.append_value(*n),
                _ => return Err(mismatch(column, &DataType::Float32, v)),
            },
            ColumnBuilder::Float64(b) => match v {
                CqlValue::Double(n) => b.append_value(*n),
                CqlValue::Float(n) => b.append_value(f64::from(*n)),
                _ => return Err(mismatch(column, &DataType::Float64, v)),
            },
            ColumnBuilder::Boolean(b) => match v {
                CqlValue::Boolean(x) => b.append_value(*x),
                _ => return Err(mismatch(column, &DataType::Boolean, v)),
            },
            ColumnBuilder::Binary(b) => match v {
                CqlValue::Blob(x) => b.append_value(x),
                _ => return Err(mismatch(column, &DataType::Binary, v)),
            },
            ColumnBuilder::Date32(b) => match v {
                CqlValue::Date(d) => b.append_value(days_since_epoch(*d) as i32),
                _ => return Err(mismatch(column, &DataType::Date32, v)),
            },
            ColumnBuilder::Timestamp(b, _) => match v {
                CqlValue::Timestamp(t) => b.append_value(timestamp_micros(t.0, column)?),
                _ => return Err(mismatch(column, &DataType::Int64, v)),
            },
            ColumnBuilder::Decimal(b, p, s) => {
                let n = match v {
                    CqlValue::Decimal(d) => decimal_to_i128(d, *p, *s, column)?,
                    CqlValue::Varint(x) => varint_to_i128(x, *p, *s, column)?,
                    _ => return Err(mismatch(column, &DataType::Decimal128(*p, *s), v)),
                };
                b.append_value(n)
            }
            ColumnBuilder::List {
                offsets,
                nulls,
                child,
                ..
            } => {
                let items = match v {
                    CqlValue::List(x) | CqlValue::Set(x) | CqlValue::Vector(x) => x,
                    _ => return Err(mismatch(column, &DataType::Null, v)),
                };
                for item in items {
                    child.append(Some(item), column)?;
                }
                push_offset(offsets, items.len(), column)?;
                nulls.append_non_null();
            }
            ColumnBuilder::Map {
                offsets,
                nulls,
                keys,
                values,
                ..
            } => {
                let CqlValue::Map(pairs) = v else {
                    return Err(mismatch(column, &DataType::Null, v));
                };
                for (k, val) in pairs {
                    keys.append(Some(k), column)?;
                    values.append(Some(val), column)?;
                }
                push_offset(offsets, pairs.len(), column)?;
                nulls.append_non_null();
            }
            ColumnBuilder::Struct {
                fields,
                nulls,
                children,
                len,
            } => {
                match v {
                    CqlValue::Tuple(items) => {
                        for (i, child) in children.iter_mut().enumerate() {
                            child.append(items.get(i).and_then(Option::as_ref), column)?;
                        }
                    }
                    CqlValue::UserDefinedType { fields: values, .. } => {
                        for (f, child) in fields.iter().zip(children.iter_mut()) {
                            let value = values
                                .iter()
                                .find(|(n, _)| n == f.name())
                                .and_then(|(_, x)| x.as_ref());
                            child.append(value, column)?;
                        }
                    }
                    CqlValue::Duration(d) => {
                        let parts = [
                            CqlValue::Int(d.months),
                            CqlValue::Int(d.days),
                            CqlValue::BigInt(d.nanoseconds),
                        ];
                        for (child, part) in children.iter_mut().zip(parts.iter()) {
                            child.append(Some(part), column)?;
                        }
                    }
                    _ => return Err(mismatch(column, &DataType::Struct(fields.clone()), v)),
                }
                nulls.append_non_null();
                *len += 1;
            }
        }
        Ok(())
    }

    pub fn append_null(&mut self) {
        match self {
            ColumnBuilder::Utf8(b) => b.append_null(),
            ColumnBuilder::Int64(b) => b.append_null(),
            ColumnBuilder::Int32(b) => b.append_null(),
            ColumnBuilder::Int16(b) => b.append_null(),
            ColumnBuilder::Int8(b) => b.append_null(),
            ColumnBuilder::Float32(b) => b.append_null(),
            ColumnBuilder::Float64(b) => b.append_null(),
            ColumnBuilder::Boolean(b) => b.append_null(),
            ColumnBuilder::Binary(b) => b.append_null(),
            ColumnBuilder::Date32(b) => b.append_null(),
            ColumnBuilder::Timestamp(b, _) => b.append_null(),
            ColumnBuilder::Decimal(b, _, _) => b.append_null(),
            ColumnBuilder::List { offsets, nulls, .. }
            | ColumnBuilder::Map { offsets, nulls, .. } => {
                let last = offsets.last().copied().unwrap_or(0);
                offsets.push(last);
                nulls.append_null();
            }
            ColumnBuilder::Struct {
                nulls,
                children,
                len,
                ..
            } => {
                for child in children.iter_mut() {
                    child.append_null();
                }
                nulls.append_null();
                *len += 1;
            }
        }
    }

    /// The finished array; the builder is reset for the next batch.
    pub fn finish(&mut self) -> Result<ArrayRef> {
        Ok(match self {
            ColumnBuilder::Utf8(b) => Arc::new(b.finish()),
            ColumnBuilder::Int64(b) => Arc::new(b.finish()),
            ColumnBuilder::Int32(b) => Arc::new(b.finish()),
            ColumnBuilder::Int16(b) => Arc::new(b.finish()),
            ColumnBuilder::Int8(b) => Arc::new(b.finish()),
            ColumnBuilder::Float32(b) => Arc::new(b.finish()),
            ColumnBuilder::Float64(b) => Arc::new(b.finish()),
            ColumnBuilder::Boolean(b) => Arc::new(b.finish()),
            ColumnBuilder::Binary(b) => Arc::new(b.finish()),
            ColumnBuilder::Date32(b) => Arc::new(b.finish()),
            ColumnBuilder::Timestamp(b, tz) => Arc::new(b.finish().with_timezone_opt(tz.clone())),
            ColumnBuilder::Decimal(b, p, s) => Arc::new(
                b.finish()
                    .with_precision_and_scale(*p, *s)
                    .map_err(|e| Error::internal(SYSTEM, "read", e.to_string()))?,
            ),
            ColumnBuilder::List {
                field,
                offsets,
                nulls,
                child,
            } => {
                let offsets =
                    OffsetBuffer::new(ScalarBuffer::from(std::mem::replace(offsets, vec![0])));
                Arc::new(
                    ListArray::try_new(field.clone(), offsets, child.finish()?, nulls.finish())
                        .map_err(|e| Error::internal(SYSTEM, "read", e.to_string()))?,
                )
            }
            ColumnBuilder::Map {
                entries,
                offsets,
                nulls,
                keys,
                values,
            } => {
                let DataType::Struct(kv) = entries.data_type() else {
                    return Err(Error::internal(
                        SYSTEM,
                        "read",
                        "map entries must be a struct",
                    ));
                };
                let entries_array =
                    StructArray::try_new(kv.clone(), vec![keys.finish()?, values.finish()?], None)
                        .map_err(|e| Error::internal(SYSTEM, "read", e.to_string()))?;
                let offsets =
                    OffsetBuffer::new(ScalarBuffer::from(std::mem::replace(offsets, vec![0])));
                Arc::new(
                    MapArray::try_new(
                        entries.clone(),
                        offsets,
                        entries_array,
                        nulls.finish(),
                        false,
                    )
                    .map_err(|e| Error::internal(SYSTEM, "read", e.to_string()))?,
                )
            }
            ColumnBuilder::Struct {
                fields,
                nulls,
                children,
                len,
            } => {
                let arrays = children
                    .iter_mut()
                    .map(ColumnBuilder::finish)
                    .collect::<Result<Vec<_>>>()?;
                let n = std::mem::take(len);
                let array = if fields.is_empty() {
                    StructArray::new_empty_fields(n, nulls.finish())
                } else {
                    StructArray::try_new(fields.clone(), arrays, nulls.finish())
                        .map_err(|e| Error::internal(SYSTEM, "read", e.to_string()))?
                };
                Arc::new(array)
            }
        })
    }
}

fn push_offset(offsets: &mut Vec<i32>, n: usize, column: &str) -> Result<()> {
    let last = offsets.last().copied().unwrap_or(0);
    let next = i32::try_from(n)
        .ok()
        .and_then(|n| last.checked_add(n))
        .ok_or_else(|| {
            Error::data(
                SYSTEM,
                "read",
                format!("column `{column}`: too many collection items in one batch"),
            )
        })?;
    offsets.push(next);
    Ok(())
}

/// `unscaled × 10^-scale` rescaled exactly to `target_scale`, within `precision` digits.
pub fn rescale_exact(unscaled: i128, scale: i32, precision: u8, target_scale: i8) -> Option<i128> {
    let target = i32::from(target_scale);
    let value = if scale <= target {
        let factor = 10i128.checked_pow(u32::try_from(target - scale).ok()?)?;
        unscaled.checked_mul(factor)?
    } else {
        let factor = 10i128.checked_pow(u32::try_from(scale - target).ok()?);
        match factor {
            Some(f) => {
                if unscaled % f != 0 {
                    return None;
                }
                unscaled / f
            }
            // Dividing by more than i128 can hold: only zero stays exact.
            None if unscaled == 0 => 0,
            None => return None,
        }
    };
    let limit = 10i128.checked_pow(u32::from(precision))?;
    (value.abs() < limit).then_some(value)
}

/// Spark's microseconds of a CQL timestamp, or an error when they overflow an i64.
fn timestamp_micros(millis: i64, column: &str) -> Result<i64> {
    millis.checked_mul(1000).ok_or_else(|| {
        Error::data(
            SYSTEM,
            "read",
            format!(
                "column `{column}`: timestamp {millis} ms since the epoch ({}) is outside Spark's TIMESTAMP range",
                timestamp_text(millis)
            ),
        )
    })
}

/// What to write in the user schema to read a value the default type cannot hold.
pub fn way_through(column: &str, typ: &ColumnType<'_>) -> String {
    let col = crate::types::spelling::spark_ident(column);
    let how = match typ {
        ColumnType::Native(NativeType::Decimal) => format!(
            "declare `{col} STRING` (its exact text) or a `{col} DECIMAL(p,s)` that holds it"
        ),
        ColumnType::Native(NativeType::Varint) => format!(
            "declare `{col} STRING` (its exact text) or a `{col} DECIMAL(38,s)` that holds it"
        ),
        ColumnType::Native(NativeType::Timestamp) => format!(
            "declare `{col} STRING` (ISO-8601 text) or `{col} BIGINT` (milliseconds since the epoch)"
        ),
        _ => format!("declare `{col} STRING` (its CQL text)"),
    };
    format!(
        "to read it, give a user schema with .schema(...) in which you {how} (see the README, \"Values Spark cannot hold\")"
    )
}

/// A value as text: strings as they are, everything else in CQL's literal syntax
/// (`[1, 2]`, `{'a': 1}`, `0x0a`, `2024-01-02T03:04:05.678Z`, `1mo2d3ns`).
pub fn cql_text(v: &CqlValue) -> String {
    match v {
        CqlValue::Text(s) | CqlValue::Ascii(s) => s.clone(),
        CqlValue::Date(d) => date_text(days_since_epoch(*d)),
        CqlValue::Timestamp(t) => timestamp_text(t.0),
        CqlValue::Time(t) => time_text(t.0),
        other => cql_literal(other),
    }
}

/// A value in CQL's literal syntax (strings, dates and times quoted), for nested values.
pub fn cql_literal(v: &CqlValue) -> String {
    let quoted = |s: &str| format!("'{}'", s.replace('\'', "''"));
    let join = |items: &mut dyn Iterator<Item = String>| items.collect::<Vec<_>>().join(", ");
    let opt = |x: &Option<CqlValue>| x.as_ref().map_or("null".to_string(), cql_literal);
    match v {
        CqlValue::Text(s) | CqlValue::Ascii(s) => quoted(s),
        CqlValue::Date(_) | CqlValue::Timestamp(_) | CqlValue::Time(_) => quoted(&cql_text(v)),
        CqlValue::Boolean(b) => b.to_string(),
        CqlValue::Blob(bytes) => {
            let mut out = String::with_capacity(2 + bytes.len() * 2);
            out.push_str("0x");
            for b in bytes {
                out.push_str(&format!("{b:02x}"));
            }
            out
        }
        CqlValue::Counter(c) => c.0.to_string(),
        CqlValue::Decimal(d) => {
            let (bytes, scale) = d.as_signed_be_bytes_slice_and_exponent();
            decimal_text(&BigInt::from_signed_bytes_be(bytes), scale)
        }
        CqlValue::Varint(x) => {
            BigInt::from_signed_bytes_be(x.as_signed_bytes_be_slice()).to_string()
        }
        CqlValue::Double(x) => float_text(*x),
        CqlValue::Float(x) => float_text(f64::from(*x)),
        CqlValue::Duration(d) => duration_text(d.months, d.days, d.nanoseconds),
        CqlValue::Empty => String::new(),
        CqlValue::Int(n) => n.to_string(),
        CqlValue::BigInt(n) => n.to_string(),
        CqlValue::SmallInt(n) => n.to_string(),
        CqlValue::TinyInt(n) => n.to_string(),
        CqlValue::Inet(ip) => ip.to_string(),
        CqlValue::Uuid(u) => u.to_string(),
        CqlValue::Timeuuid(u) => {
            let u: &uuid::Uuid = u.as_ref();
            u.to_string()
        }
        CqlValue::List(items) | CqlValue::Vector(items) => {
            format!("[{}]", join(&mut items.iter().map(cql_literal)))
        }
        CqlValue::Set(items) => format!("{{{}}}", join(&mut items.iter().map(cql_literal))),
        CqlValue::Map(pairs) => format!(
            "{{{}}}",
            join(
                &mut pairs
                    .iter()
                    .map(|(k, x)| format!("{}: {}", cql_literal(k), cql_literal(x)))
            )
        ),
        CqlValue::UserDefinedType { fields, .. } => format!(
            "{{{}}}",
            join(
                &mut fields
                    .iter()
                    .map(|(n, x)| format!("{}: {}", cql_ident(n), opt(x)))
            )
        ),
        CqlValue::Tuple(items) => format!("({})", join(&mut items.iter().map(opt))),
        other => format!("{other:?}"),
    }
}

/// A CQL identifier, double-quoted unless it is a plain lower-case word.
fn cql_ident(name: &str) -> String {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
    {
        name.to_string()
    } else {
        crate::options::quote(name)
    }
}

/// Scales beyond this are written with an exponent, not with that many zeros.
const PLAIN_SCALE_LIMIT: u32 = 100;

/// `unscaled × 10^-scale` in plain notation, every digit kept (`1.50`, `500`, `-0.001`);
/// `5E-1000` when the scale is beyond ±100.
pub fn decimal_text(unscaled: &BigInt, scale: i32) -> String {
    if scale.unsigned_abs() > PLAIN_SCALE_LIMIT {
        return format!("{unscaled}E{}", -i64::from(scale));
    }
    let digits = unscaled.magnitude().to_string();
    let sign = if unscaled.sign() == num_bigint::Sign::Minus {
        "-"
    } else {
        ""
    };
    if scale <= 0 {
        let zeros = if unscaled.magnitude().bits() == 0 {
            0
        } else {
            scale.unsigned_abs() as usize
        };
        return format!("{sign}{digits}{}", "0".repeat(zeros));
    }
    let scale = scale as usize;
    let digits = if digits.len() <= scale {
        format!("{}{digits}", "0".repeat(scale + 1 - digits.len()))
    } else {
        digits
    };
    let (int, frac) = digits.split_at(digits.len() - scale);
    format!("{sign}{int}.{frac}")
}

/// Shortest text that reads back as the same float; CQL's `NaN`, `Infinity`, `-Infinity`.
fn float_text(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x.is_infinite() {
        if x > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else {
        format!("{x:?}")
    }
}

/// ISO-8601 date; the day count since the epoch where chrono has no calendar date.
fn date_text(days: i64) -> String {
    chrono::NaiveDate::from_ymd_opt(1970, 1, 1)
        .and_then(|epoch| epoch.checked_add_signed(chrono::TimeDelta::try_days(days)?))
        .map_or_else(|| days.to_string(), |d| d.format("%Y-%m-%d").to_string())
}

/// ISO-8601 UTC with milliseconds; the millisecond count where chrono has no calendar date.
pub fn timestamp_text(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis).map_or_else(
        || millis.to_string(),
        |t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
    )
}

/// `HH:MM:SS.nnnnnnnnn` of nanoseconds since midnight.
fn time_text(nanos: i64) -> String {
    let secs = nanos.div_euclid(1_000_000_000);
    format!(
        "{:02}:{:02}:{:02}.{:09}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        nanos.rem_euclid(1_000_000_000)
    )
}

/// CQL's duration literal (`1y2mo3d4h5m6s7ms8us9ns`, zero units left out, `0s` for zero).
fn duration_text(months: i32, days: i32, nanos: i64) -> String {
    let negative = months < 0 || days < 0 || nanos < 0;
    let mut out = String::from(if negative { "-" } else { "" });
    let months = i64::from(months).unsigned_abs();
    let nanos = nanos.unsigned_abs();
    let units = [
        (months / 12, "y"),
        (months % 12, "mo"),
        (u64::from(days.unsigned_abs()), "d"),
        (nanos / 3_600_000_000_000, "h"),
        (nanos / 60_000_000_000 % 60, "m"),
        (nanos / 1_000_000_000 % 60, "s"),
        (nanos / 1_000_000 % 1000, "ms"),
        (nanos / 1000 % 1000, "us"),
        (nanos % 1000, "ns"),
    ];
    for (n, unit) in units {
        if n != 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    if out.is_empty() || out == "-" {
        "0s".into()
    } else {
        out
    }
}

fn decimal_to_i128(d: &CqlDecimal, precision: u8, target_scale: i8, column: &str) -> Result<i128> {
    let (bytes, scale) = d.as_signed_be_bytes_slice_and_exponent();
    be_bytes_to_i128(bytes)
        .and_then(|u| rescale_exact(u, scale, precision, target_scale))
        .ok_or_else(|| {
            Error::data(
                SYSTEM,
                "read",
                format!(
                    "column `{column}`: decimal value {} does not fit Spark's DECIMAL({precision},{target_scale}) exactly \
                     (it would be rounded or overflow)",
                    decimal_text(&BigInt::from_signed_bytes_be(bytes), scale)
                ),
            )
        })
}

fn varint_to_i128(v: &CqlVarint, precision: u8, target_scale: i8, column: &str) -> Result<i128> {
    be_bytes_to_i128(v.as_signed_bytes_be_slice())
        .and_then(|u| rescale_exact(u, 0, precision, target_scale))
        .ok_or_else(|| {
            Error::data(
                SYSTEM,
                "read",
                format!(
                    "column `{column}`: varint value {} does not fit Spark's DECIMAL({precision},{target_scale})",
                    BigInt::from_signed_bytes_be(v.as_signed_bytes_be_slice())
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Array, Decimal128Array, Int32Array, StringArray};
    use scylla::value::{CqlDate, CqlDuration, CqlTimestamp};

    use crate::types::{list_item, map_entries};

    #[test]
    fn decimals_are_exact_or_errors() {
        assert_eq!(be_bytes_to_i128(&[0xff]), Some(-1));
        assert_eq!(be_bytes_to_i128(&[0x00, 0x80]), Some(128));
        assert_eq!(be_bytes_to_i128(&[0; 20]), Some(0));
        assert_eq!(be_bytes_to_i128(&[0x01; 17]), None);
        assert_eq!(
            rescale_exact(12345, 3, 38, 18),
            Some(12345 * 10i128.pow(15))
        );
        assert_eq!(rescale_exact(12345, 20, 38, 18), None, "would round");
        assert_eq!(rescale_exact(12300, 20, 38, 18), Some(123));
        assert_eq!(
            rescale_exact(10i128.pow(21), 0, 38, 18),
            None,
            "overflows 38 digits"
        );
        assert_eq!(rescale_exact(-5, -2, 38, 0), Some(-500));
        let mut b = ColumnBuilder::new(&DataType::Decimal128(38, 18), 2).unwrap();
        let d = CqlDecimal::from_signed_be_bytes_and_exponent(vec![0x30, 0x39], 2); // 123.45
        b.append(Some(&CqlValue::Decimal(d)), "d").unwrap();
        let bad = CqlDecimal::from_signed_be_bytes_and_exponent(vec![0x01], 30);
        assert!(
            b.append(Some(&CqlValue::Decimal(bad)), "d")
                .unwrap_err()
                .message()
                .contains("`d`")
        );
        let a = b.finish().unwrap();
        let a = a.as_any().downcast_ref::<Decimal128Array>().unwrap();
        assert_eq!(a.value_as_string(0), "123.450000000000000000");
    }

    #[test]
    fn cql_text_of_every_kind() {
        let dec = |unscaled: i64, scale: i32| decimal_text(&BigInt::from(unscaled), scale);
        assert_eq!(dec(12345, 2), "123.45");
        assert_eq!(dec(-5, 1), "-0.5");
        assert_eq!(dec(-1, 3), "-0.001");
        assert_eq!(dec(150, 2), "1.50");
        assert_eq!(dec(5, -2), "500");
        assert_eq!(dec(0, -2), "0");
        assert_eq!(dec(0, 3), "0.000");
        assert_eq!(dec(-5, 1000), "-5E-1000");
        assert_eq!(dec(5, -101), "5E101");
        let text = |v: CqlValue| cql_text(&v);
        assert_eq!(text(CqlValue::Text("it's".into())), "it's");
        assert_eq!(text(CqlValue::Int(-7)), "-7");
        assert_eq!(text(CqlValue::Double(0.1)), "0.1");
        assert_eq!(text(CqlValue::Double(1.0)), "1.0");
        assert_eq!(text(CqlValue::Float(f32::NEG_INFINITY)), "-Infinity");
        assert_eq!(text(CqlValue::Blob(vec![0x0a, 0xff])), "0x0aff");
        assert_eq!(
            text(CqlValue::Timestamp(CqlTimestamp(1_704_164_645_678))),
            "2024-01-02T03:04:05.678Z"
        );
        assert_eq!(
            text(CqlValue::Timestamp(CqlTimestamp(i64::MAX))),
            i64::MAX.to_string(),
            "beyond any calendar: the millisecond count"
        );
        assert_eq!(text(CqlValue::Date(CqlDate((1 << 31) - 1))), "1969-12-31");
        assert_eq!(
            text(CqlValue::Time(scylla::value::CqlTime(3_723_000_000_004))),
            "01:02:03.000000004"
        );
        let d = |months, days, nanoseconds| {
            text(CqlValue::Duration(CqlDuration {
                months,
                days,
                nanoseconds,
            }))
        };
        assert_eq!(d(14, 3, 3_600_000_000_005), "1y2mo3d1h5ns");
        assert_eq!(d(0, -1, -1_000_000), "-1d1ms");
        assert_eq!(d(0, 0, 0), "0s");
        let nested = CqlValue::Map(vec![
            (
                CqlValue::Text("it's".into()),
                CqlValue::List(vec![CqlValue::Int(1), CqlValue::Int(2)]),
            ),
            (CqlValue::Text("b".into()), CqlValue::Set(vec![])),
        ]);
        assert_eq!(text(nested), "{'it''s': [1, 2], 'b': {}}");
        assert_eq!(
            text(CqlValue::Tuple(vec![
                Some(CqlValue::Date(CqlDate(1 << 31))),
                None
            ])),
            "('1970-01-01', null)"
        );
        assert_eq!(
            text(CqlValue::UserDefinedType {
                keyspace: "k".into(),
                name: "u".into(),
                fields: vec![
                    ("street".into(), Some(CqlValue::Text("x".into()))),
                    ("No".into(), None)
                ],
            }),
            "{street: 'x', \"No\": null}"
        );
    }

    #[test]
    fn widening_and_text_builders() {
        let mut b = ColumnBuilder::new(&DataType::Int64, 3).unwrap();
        b.append(Some(&CqlValue::SmallInt(-3)), "c").unwrap();
        b.append(Some(&CqlValue::Timestamp(CqlTimestamp(i64::MAX))), "c")
            .unwrap();
        let a = b.finish().unwrap();
        let a = a
            .as_any()
            .downcast_ref::<arrow_array::Int64Array>()
            .unwrap();
        assert_eq!((a.value(0), a.value(1)), (-3, i64::MAX));
        let mut t = ColumnBuilder::new(
            &DataType::Timestamp(arrow_schema::TimeUnit::Microsecond, None),
            1,
        )
        .unwrap();
        let e = t
            .append(Some(&CqlValue::Timestamp(CqlTimestamp(i64::MAX))), "t")
            .unwrap_err();
        assert!(
            e.message().contains("column `t`") && e.message().contains("outside Spark's"),
            "{}",
            e.message()
        );
        let mut s = ColumnBuilder::new(&DataType::Utf8, 1).unwrap();
        s.append(Some(&CqlValue::List(vec![CqlValue::Int(1)])), "l")
            .unwrap();
        let a = s.finish().unwrap();
        assert_eq!(
            a.as_any().downcast_ref::<StringArray>().unwrap().value(0),
            "[1]"
        );
        // A decimal asked for as DECIMAL(10,2): rescaled exactly, or refused naming it.
        let mut d = ColumnBuilder::new(&DataType::Decimal128(10, 2), 2).unwrap();
        let half = CqlDecimal::from_signed_be_bytes_and_exponent(vec![0xfb], 1); // -0.5
        d.append(Some(&CqlValue::Decimal(half)), "d").unwrap();
        let three = CqlDecimal::from_signed_be_bytes_and_exponent(vec![0x04, 0xd2], 3); // 1.234
        let e = d.append(Some(&CqlValue::Decimal(three)), "d").unwrap_err();
        assert!(
            e.message()
                .contains("decimal value 1.234 does not fit Spark's DECIMAL(10,2)"),
            "{}",
            e.message()
        );
        let a = d.finish().unwrap();
        let a = a.as_any().downcast_ref::<Decimal128Array>().unwrap();
        assert_eq!(a.value_as_string(0), "-0.50");
        assert!(way_through("d", &ColumnType::Native(NativeType::Decimal)).contains("`d STRING`"));
    }

    #[test]
    fn nested_with_nulls() {
        // map<text, frozen<list<int>>>
        let dt = DataType::Map(
            map_entries(DataType::Utf8, DataType::List(list_item(DataType::Int32))),
            false,
        );
        let mut b = ColumnBuilder::new(&dt, 4).unwrap();
        let v = CqlValue::Map(vec![
            (
                CqlValue::Text("a".into()),
                CqlValue::List(vec![CqlValue::Int(1), CqlValue::Int(2)]),
            ),
            (CqlValue::Text("b".into()), CqlValue::List(vec![])),
        ]);
        b.append(Some(&v), "m").unwrap();
        b.append(None, "m").unwrap();
        b.append(Some(&CqlValue::Map(vec![])), "m").unwrap();
        let a = b.finish().unwrap();
        assert_eq!(a.data_type(), &dt);
        assert_eq!(a.len(), 3);
        assert!(a.is_null(1) && a.is_valid(2));
        let m = a.as_any().downcast_ref::<MapArray>().unwrap();
        assert_eq!(m.value_offsets(), &[0, 2, 2, 2]);
        let keys = m.keys().as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(keys.value(1), "b");
    }

    #[test]
    fn structs_from_udt_tuple_duration() {
        let fields = Fields::from(vec![
            arrow_schema::Field::new("x", DataType::Int32, true),
            arrow_schema::Field::new("y", DataType::Utf8, true),
        ]);
        let mut b = ColumnBuilder::new(&DataType::Struct(fields), 3).unwrap();
        b.append(
            Some(&CqlValue::UserDefinedType {
                keyspace: "k".into(),
                name: "u".into(),
                fields: vec![
                    ("y".into(), Some(CqlValue::Text("hi".into()))),
                    ("x".into(), None),
                ],
            }),
            "s",
        )
        .unwrap();
        b.append(
            Some(&CqlValue::Tuple(vec![Some(CqlValue::Int(7)), None])),
            "s",
        )
        .unwrap();
        b.append(None, "s").unwrap();
        let a = b.finish().unwrap();
        let s = a.as_any().downcast_ref::<StructArray>().unwrap();
        let x = s.column(0).as_any().downcast_ref::<Int32Array>().unwrap();
        assert!(x.is_null(0) && x.value(1) == 7 && s.is_null(2));
        let y = s.column(1).as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(y.value(0), "hi");

        let mut d =
            ColumnBuilder::new(&DataType::Struct(crate::types::duration_fields()), 1).unwrap();
        d.append(
            Some(&CqlValue::Duration(CqlDuration {
                months: 1,
                days: 2,
                nanoseconds: 3,
            })),
            "d",
        )
        .unwrap();
        assert_eq!(d.finish().unwrap().len(), 1);
    }

    #[test]
    fn temporal_and_uuid() {
        let mut t = ColumnBuilder::new(
            &DataType::Timestamp(arrow_schema::TimeUnit::Microsecond, Some("UTC".into())),
            1,
        )
        .unwrap();
        t.append(Some(&CqlValue::Timestamp(CqlTimestamp(-1))), "t")
            .unwrap();
        let a = t.finish().unwrap();
        assert_eq!(
            a.as_any()
                .downcast_ref::<arrow_array::TimestampMicrosecondArray>()
                .unwrap()
                .value(0),
            -1000
        );
        let mut d = ColumnBuilder::new(&DataType::Date32, 1).unwrap();
        d.append(Some(&CqlValue::Date(CqlDate((1 << 31) + 3))), "d")
            .unwrap();
        assert_eq!(
            d.finish()
                .unwrap()
                .as_any()
                .downcast_ref::<arrow_array::Date32Array>()
                .unwrap()
                .value(0),
            3
        );
        let mut s = ColumnBuilder::new(&DataType::Utf8, 1).unwrap();
        let u = uuid::Uuid::from_u128(0xABCDEF00_0000_4000_8000_000000000001);
        s.append(Some(&CqlValue::Uuid(u)), "u").unwrap();
        let a = s.finish().unwrap();
        assert_eq!(
            a.as_any().downcast_ref::<StringArray>().unwrap().value(0),
            "abcdef00-0000-4000-8000-000000000001"
        );
    }
}
