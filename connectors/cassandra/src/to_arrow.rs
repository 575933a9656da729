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
    pub fn append_raw(&mut self, column: RawColumn<'_, '_>, name: &str) -> Result<()> {
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
                    Some(CqlTimestamp(millis)) => {
                        b.append_value(millis.checked_mul(1000).ok_or_else(|| {
                            Error::data(
                                SYSTEM,
                                "read",
                                format!("column `{name}`: timestamp {millis} ms is out of range"),
                            )
                        })?)
                    }
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
                _ => return Err(mismatch(column, &DataType::Utf8, v)),
            },
            ColumnBuilder::Int64(b) => match v {
                CqlValue::BigInt(n) => b.append_value(*n),
                CqlValue::Counter(c) => b.append_value(c.0),
                CqlValue::Time(t) => b.append_value(t.0),
                CqlValue::Int(n) => b.append_value(i64::from(*n)),
                _ => return Err(mismatch(column, &DataType::Int64, v)),
            },
            ColumnBuilder::Int32(b) => match v {
                CqlValue::Int(n) => b.append_value(*n),
                _ => return Err(mismatch(column, &DataType::Int32, v)),
            },
            ColumnBuilder::Int16(b) => match v {
                CqlValue::SmallInt(n) => b.append_value(*n),
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
                CqlValue::Timestamp(t) => {
                    let us = t.0.checked_mul(1000).ok_or_else(|| {
                        Error::data(
                            SYSTEM,
                            "read",
                            format!(
                                "column `{column}`: timestamp {} ms is out of Spark's range",
                                t.0
                            ),
                        )
                    })?;
                    b.append_value(us)
                }
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

fn decimal_to_i128(d: &CqlDecimal, precision: u8, target_scale: i8, column: &str) -> Result<i128> {
    let (bytes, scale) = d.as_signed_be_bytes_slice_and_exponent();
    be_bytes_to_i128(bytes)
        .and_then(|u| rescale_exact(u, scale, precision, target_scale))
        .ok_or_else(|| {
            Error::data(
                SYSTEM,
                "read",
                format!(
                    "column `{column}`: decimal value (scale {scale}) does not fit DECIMAL({precision},{target_scale}) exactly; \
                     it would be rounded or overflow"
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
                format!("column `{column}`: varint value does not fit DECIMAL({precision},0)"),
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
