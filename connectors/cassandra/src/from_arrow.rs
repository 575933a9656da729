//! Arrow values → CQL values of the target column's type.
//!
//! Conversions follow the target CQL type, so one Arrow type can feed several CQL types
//! (string → uuid/inet/text, Int64 → int with a range check, list → set, struct → UDT by
//! field name or tuple by position, list<float> → vector with a length check). A value that
//! does not fit is a data error naming the column, the CQL type and the Arrow type.

use std::net::IpAddr;

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, GenericListArray, OffsetSizeTrait};
use arrow_schema::{DataType, IntervalUnit, TimeUnit};
use scylla::cluster::metadata::{CollectionType, ColumnType, NativeType};
use scylla::value::{
    Counter, CqlDecimal, CqlDuration, CqlTime, CqlTimestamp, CqlTimeuuid, CqlValue, CqlVarint,
};
use spark_ds_core::{Error, Result};

use crate::SYSTEM;
use crate::types::{cql_date, cql_name, i128_to_be_bytes, parse_decimal};

/// Converts one value of an Arrow column for a CQL column.
pub struct ValueConverter<'a> {
    pub column: &'a str,
    pub cql: &'a ColumnType<'static>,
}

impl ValueConverter<'_> {
    fn err(&self, array: &dyn Array, detail: impl AsRef<str>) -> Error {
        Error::data(
            SYSTEM,
            "write",
            format!(
                "column `{}` (CQL {}) cannot take Arrow {}: {}",
                self.column,
                cql_name(self.cql),
                array.data_type(),
                detail.as_ref()
            ),
        )
    }

    /// Checks up front that the Arrow type can feed the CQL type at all.
    pub fn check_type(&self, dt: &DataType) -> Result<()> {
        if compatible(self.cql, dt) {
            Ok(())
        } else {
            Err(Error::data(
                SYSTEM,
                "write",
                format!(
                    "column `{}` has CQL type {} but the DataFrame column has Arrow type {dt}, which cannot be converted",
                    self.column,
                    cql_name(self.cql)
                ),
            ))
        }
    }

    /// The value at `row`; `None` for null.
    pub fn convert(&self, array: &dyn Array, row: usize) -> Result<Option<CqlValue>> {
        convert(self, self.cql, array, row)
    }
}

/// Whether an Arrow type can be converted to the CQL type (values may still fail ranges).
pub fn compatible(cql: &ColumnType<'_>, dt: &DataType) -> bool {
    use DataType as D;
    let int = matches!(
        dt,
        D::Int8 | D::Int16 | D::Int32 | D::Int64 | D::UInt8 | D::UInt16 | D::UInt32 | D::UInt64
    );
    let string = matches!(dt, D::Utf8 | D::LargeUtf8 | D::Utf8View);
    let binary = matches!(
        dt,
        D::Binary | D::LargeBinary | D::BinaryView | D::FixedSizeBinary(_)
    );
    let list_item = match dt {
        D::List(f) | D::LargeList(f) | D::FixedSizeList(f, _) => Some(f.data_type()),
        _ => None,
    };
    match cql {
        ColumnType::Native(n) => match n {
            NativeType::Ascii | NativeType::Text => string,
            NativeType::Int
            | NativeType::BigInt
            | NativeType::SmallInt
            | NativeType::TinyInt
            | NativeType::Counter => int || matches!(dt, D::Decimal128(_, 0)),
            NativeType::Varint => int || matches!(dt, D::Decimal128(_, 0)) || string,
            NativeType::Decimal => int || matches!(dt, D::Decimal128(_, _)) || string,
            NativeType::Float | NativeType::Double => int || matches!(dt, D::Float32 | D::Float64),
            NativeType::Boolean => matches!(dt, D::Boolean),
            NativeType::Blob => binary,
            NativeType::Date => matches!(dt, D::Date32) || string,
            NativeType::Timestamp => matches!(dt, D::Timestamp(_, _) | D::Date32 | D::Int64),
            NativeType::Time => matches!(dt, D::Int64 | D::Time64(_) | D::Time32(_)),
            NativeType::Uuid | NativeType::Timeuuid => string || binary,
            NativeType::Inet => string,
            NativeType::Duration => {
                matches!(dt, D::Struct(_) | D::Interval(IntervalUnit::MonthDayNano))
            }
            _ => false,
        },
        ColumnType::Collection { typ, .. } => match typ {
            CollectionType::List(e) | CollectionType::Set(e) => {
                list_item.is_some_and(|i| compatible(e, i))
            }
            CollectionType::Map(k, v) => match dt {
                D::Map(entries, _) => match entries.data_type() {
                    D::Struct(kv) if kv.len() == 2 => {
                        compatible(k, kv[0].data_type()) && compatible(v, kv[1].data_type())
                    }
                    _ => false,
                },
                _ => false,
            },
            _ => false,
        },
        ColumnType::Vector { typ, .. } => list_item.is_some_and(|i| compatible(typ, i)),
        ColumnType::UserDefinedType { definition, .. } => match dt {
            D::Struct(fields) => fields.iter().all(|f| {
                definition
                    .field_types
                    .iter()
                    .find(|(n, _)| n.as_ref() == f.name())
                    .is_some_and(|(_, t)| compatible(t, f.data_type()))
            }),
            _ => false,
        },
        ColumnType::Tuple(items) => match dt {
            D::Struct(fields) => {
                fields.len() == items.len()
                    && items
                        .iter()
                        .zip(fields.iter())
                        .all(|(t, f)| compatible(t, f.data_type()))
            }
            _ => false,
        },
        _ => false,
    }
}

pub(crate) fn int_at(array: &dyn Array, row: usize) -> Option<i128> {
    Some(match array.data_type() {
        DataType::Int8 => i128::from(array.as_primitive::<Int8Type>().value(row)),
        DataType::Int16 => i128::from(array.as_primitive::<Int16Type>().value(row)),
        DataType::Int32 => i128::from(array.as_primitive::<Int32Type>().value(row)),
        DataType::Int64 => i128::from(array.as_primitive::<Int64Type>().value(row)),
        DataType::UInt8 => i128::from(array.as_primitive::<UInt8Type>().value(row)),
        DataType::UInt16 => i128::from(array.as_primitive::<UInt16Type>().value(row)),
        DataType::UInt32 => i128::from(array.as_primitive::<UInt32Type>().value(row)),
        DataType::UInt64 => i128::from(array.as_primitive::<UInt64Type>().value(row)),
        DataType::Decimal128(_, 0) => array.as_primitive::<Decimal128Type>().value(row),
        _ => return None,
    })
}

pub(crate) fn str_at(array: &dyn Array, row: usize) -> Option<&str> {
    Some(match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().value(row),
        DataType::LargeUtf8 => array.as_string::<i64>().value(row),
        DataType::Utf8View => array.as_string_view().value(row),
        _ => return None,
    })
}

fn bytes_at(array: &dyn Array, row: usize) -> Option<&[u8]> {
    Some(match array.data_type() {
        DataType::Binary => array.as_binary::<i32>().value(row),
        DataType::LargeBinary => array.as_binary::<i64>().value(row),
        DataType::BinaryView => array.as_binary_view().value(row),
        DataType::FixedSizeBinary(_) => array.as_fixed_size_binary().value(row),
        _ => return None,
    })
}

/// Items of the list at `row`.
fn list_at(array: &dyn Array, row: usize) -> Option<ArrayRef> {
    Some(match array.data_type() {
        DataType::List(_) => list_value::<i32>(array.as_list::<i32>(), row),
        DataType::LargeList(_) => list_value::<i64>(array.as_list::<i64>(), row),
        DataType::FixedSizeList(_, _) => array.as_fixed_size_list().value(row),
        _ => return None,
    })
}

fn list_value<O: OffsetSizeTrait>(a: &GenericListArray<O>, row: usize) -> ArrayRef {
    a.value(row)
}

fn convert(
    c: &ValueConverter<'_>,
    cql: &ColumnType<'static>,
    array: &dyn Array,
    row: usize,
) -> Result<Option<CqlValue>> {
    if array.is_null(row) {
        return Ok(None);
    }
    let mismatch = || c.err(array, "unsupported conversion");
    let value = match cql {
        ColumnType::Native(n) => match n {
            NativeType::Text | NativeType::Ascii => {
                let s = str_at(array, row).ok_or_else(mismatch)?;
                if matches!(n, NativeType::Ascii) {
                    if !s.is_ascii() {
                        return Err(c.err(array, format!("value {s:?} is not ASCII")));
                    }
                    CqlValue::Ascii(s.to_owned())
                } else {
                    CqlValue::Text(s.to_owned())
                }
            }
            NativeType::BigInt
            | NativeType::Counter
            | NativeType::Int
            | NativeType::SmallInt
            | NativeType::TinyInt => {
                let v = int_at(array, row).ok_or_else(mismatch)?;
                let range = || c.err(array, format!("value {v} is out of range"));
                match n {
                    NativeType::BigInt => CqlValue::BigInt(i64::try_from(v).map_err(|_| range())?),
                    NativeType::Counter => {
                        CqlValue::Counter(Counter(i64::try_from(v).map_err(|_| range())?))
                    }
                    NativeType::Int => CqlValue::Int(i32::try_from(v).map_err(|_| range())?),
                    NativeType::SmallInt => {
                        CqlValue::SmallInt(i16::try_from(v).map_err(|_| range())?)
                    }
                    _ => CqlValue::TinyInt(i8::try_from(v).map_err(|_| range())?),
                }
            }
            NativeType::Varint => {
                let bytes = match int_at(array, row) {
                    Some(v) => i128_to_be_bytes(v),
                    None => {
                        let s = str_at(array, row).ok_or_else(mismatch)?;
                        match parse_decimal(s) {
                            Some((u, 0)) => u.to_signed_bytes_be(),
                            _ => return Err(c.err(array, format!("{s:?} is not a whole number"))),
                        }
                    }
                };
                CqlValue::Varint(CqlVarint::from_signed_bytes_be(bytes))
            }
            NativeType::Decimal => {
                let (unscaled, scale) = match array.data_type() {
                    DataType::Decimal128(_, s) => (
                        i128_to_be_bytes(array.as_primitive::<Decimal128Type>().value(row)),
                        i32::from(*s),
                    ),
                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                        let s = str_at(array, row).ok_or_else(mismatch)?;
                        let (u, scale) = parse_decimal(s).ok_or_else(|| {
                            c.err(array, format!("{s:?} is not a decimal number"))
                        })?;
                        (u.to_signed_bytes_be(), scale)
                    }
                    _ => (
                        i128_to_be_bytes(int_at(array, row).ok_or_else(mismatch)?),
                        0,
                    ),
                };
                CqlValue::Decimal(CqlDecimal::from_signed_be_bytes_and_exponent(
                    unscaled, scale,
                ))
            }
            NativeType::Float | NativeType::Double => {
                let v = match array.data_type() {
                    DataType::Float32 => f64::from(array.as_primitive::<Float32Type>().value(row)),
                    DataType::Float64 => array.as_primitive::<Float64Type>().value(row),
                    _ => int_at(array, row).ok_or_else(mismatch)? as f64,
                };
                if matches!(n, NativeType::Float) {
                    CqlValue::Float(v as f32)
                } else {
                    CqlValue::Double(v)
                }
            }
            NativeType::Boolean => match array.data_type() {
                DataType::Boolean => CqlValue::Boolean(array.as_boolean().value(row)),
                _ => return Err(mismatch()),
            },
            NativeType::Blob => CqlValue::Blob(bytes_at(array, row).ok_or_else(mismatch)?.to_vec()),
            NativeType::Date => {
                let days = match array.data_type() {
                    DataType::Date32 => i64::from(array.as_primitive::<Date32Type>().value(row)),
                    _ => {
                        let s = str_at(array, row).ok_or_else(mismatch)?;
                        let d = chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(
                            |_| c.err(array, format!("{s:?} is not a date (YYYY-MM-DD)")),
                        )?;
                        i64::from(
                            d.signed_duration_since(chrono::NaiveDate::default())
                                .num_days() as i32,
                        )
                    }
                };
                CqlValue::Date(
                    cql_date(days).ok_or_else(|| c.err(array, "date out of CQL's range"))?,
                )
            }
            NativeType::Timestamp => {
                let ms = match array.data_type() {
                    DataType::Timestamp(unit, _) => {
                        let v = match unit {
                            TimeUnit::Second => {
                                array.as_primitive::<TimestampSecondType>().value(row)
                            }
                            TimeUnit::Millisecond => {
                                array.as_primitive::<TimestampMillisecondType>().value(row)
                            }
                            TimeUnit::Microsecond => {
                                array.as_primitive::<TimestampMicrosecondType>().value(row)
                            }
                            TimeUnit::Nanosecond => {
                                array.as_primitive::<TimestampNanosecondType>().value(row)
                            }
                        };
                        // Cassandra keeps milliseconds: finer digits are dropped (floor).
                        match unit {
                            TimeUnit::Second => v
                                .checked_mul(1000)
                                .ok_or_else(|| c.err(array, "out of range"))?,
                            TimeUnit::Millisecond => v,
                            TimeUnit::Microsecond => v.div_euclid(1000),
                            TimeUnit::Nanosecond => v.div_euclid(1_000_000),
                        }
                    }
                    DataType::Date32 => {
                        i64::from(array.as_primitive::<Date32Type>().value(row)) * 86_400_000
                    }
                    DataType::Int64 => array.as_primitive::<Int64Type>().value(row),
                    _ => return Err(mismatch()),
                };
                CqlValue::Timestamp(CqlTimestamp(ms))
            }
            NativeType::Time => {
                let ns = match array.data_type() {
                    DataType::Int64 => array.as_primitive::<Int64Type>().value(row),
                    DataType::Time64(TimeUnit::Nanosecond) => {
                        array.as_primitive::<Time64NanosecondType>().value(row)
                    }
                    DataType::Time64(_) => {
                        array.as_primitive::<Time64MicrosecondType>().value(row) * 1000
                    }
                    DataType::Time32(TimeUnit::Second) => {
                        i64::from(array.as_primitive::<Time32SecondType>().value(row))
                            * 1_000_000_000
                    }
                    DataType::Time32(_) => {
                        i64::from(array.as_primitive::<Time32MillisecondType>().value(row))
                            * 1_000_000
                    }
                    _ => return Err(mismatch()),
                };
                if !(0..86_400_000_000_000).contains(&ns) {
                    return Err(c.err(array, format!("{ns} ns is not a time of day")));
                }
                CqlValue::Time(CqlTime(ns))
            }
            NativeType::Uuid | NativeType::Timeuuid => {
                let u = match str_at(array, row) {
                    Some(s) => uuid::Uuid::parse_str(s.trim())
                        .map_err(|_| c.err(array, format!("{s:?} is not a UUID")))?,
                    None => {
                        let b = bytes_at(array, row).ok_or_else(mismatch)?;
                        uuid::Uuid::from_slice(b)
                            .map_err(|_| c.err(array, "a UUID needs 16 bytes"))?
                    }
                };
                if matches!(n, NativeType::Timeuuid) {
                    if u.get_version_num() != 1 {
                        return Err(c.err(array, format!("{u} is not a version 1 (time) UUID")));
                    }
                    CqlValue::Timeuuid(CqlTimeuuid::from(u))
                } else {
                    CqlValue::Uuid(u)
                }
            }
            NativeType::Inet => {
                let s = str_at(array, row).ok_or_else(mismatch)?;
                let ip: IpAddr = s
                    .trim()
                    .parse()
                    .map_err(|_| c.err(array, format!("{s:?} is not an IP address")))?;
                CqlValue::Inet(ip)
            }
            NativeType::Duration => match array.data_type() {
                DataType::Interval(IntervalUnit::MonthDayNano) => {
                    let v = array.as_primitive::<IntervalMonthDayNanoType>().value(row);
                    CqlValue::Duration(CqlDuration {
                        months: v.months,
                        days: v.days,
                        nanoseconds: v.nanoseconds,
                    })
                }
                DataType::Struct(_) => {
                    let s = array.as_struct();
                    let part = |name: &str| -> Result<i64> {
                        let col = s
                            .column_by_name(name)
                            .ok_or_else(|| c.err(array, format!("struct has no field `{name}`")))?;
                        if col.is_null(row) {
                            return Ok(0);
                        }
                        int_at(col.as_ref(), row)
                            .and_then(|v| i64::try_from(v).ok())
                            .ok_or_else(mismatch)
                    };
                    let months = i32::try_from(part("months")?)
                        .map_err(|_| c.err(array, "months out of range"))?;
                    let days = i32::try_from(part("days")?)
                        .map_err(|_| c.err(array, "days out of range"))?;
                    CqlValue::Duration(CqlDuration {
                        months,
                        days,
                        nanoseconds: part("nanoseconds")?,
                    })
                }
                _ => return Err(mismatch()),
            },
            _ => return Err(mismatch()),
        },
        ColumnType::Collection { typ, .. } => match typ {
            CollectionType::List(e) | CollectionType::Set(e) => {
                let items = list_at(array, row).ok_or_else(mismatch)?;
                let values = collection_items(c, e, items.as_ref())?;
                if matches!(typ, CollectionType::Set(_)) {
                    CqlValue::Set(values)
                } else {
                    CqlValue::List(values)
                }
            }
            CollectionType::Map(k, v) => {
                let DataType::Map(_, _) = array.data_type() else {
                    return Err(mismatch());
                };
                let entries = array.as_map().value(row);
                let keys = collection_items(c, k, entries.column(0).as_ref())?;
                let vals = entries.column(1);
                let mut pairs = Vec::with_capacity(keys.len());
                for (i, key) in keys.into_iter().enumerate() {
                    let value = convert(c, v, vals.as_ref(), i)?
                        .ok_or_else(|| c.err(array, "map values cannot be null in Cassandra"))?;
                    pairs.push((key, value));
                }
                CqlValue::Map(pairs)
            }
            _ => return Err(mismatch()),
        },
        ColumnType::Vector { typ, dimensions } => {
            let items = list_at(array, row).ok_or_else(mismatch)?;
            if items.len() != usize::from(*dimensions) {
                return Err(c.err(
                    array,
                    format!("vector needs {dimensions} items, got {}", items.len()),
                ));
            }
            CqlValue::Vector(collection_items(c, typ, items.as_ref())?)
        }
        ColumnType::UserDefinedType { definition, .. } => {
            let DataType::Struct(fields) = array.data_type() else {
                return Err(mismatch());
            };
            let s = array.as_struct();
            for f in fields.iter() {
                if !definition
                    .field_types
                    .iter()
                    .any(|(n, _)| n.as_ref() == f.name())
                {
                    return Err(c.err(
                        array,
                        format!(
                            "type {} has no field `{}` (fields: {})",
                            definition.name,
                            f.name(),
                            definition
                                .field_types
                                .iter()
                                .map(|(n, _)| n.as_ref())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                }
            }
            let mut out = Vec::with_capacity(definition.field_types.len());
            for (name, t) in &definition.field_types {
                let v = match s.column_by_name(name) {
                    Some(col) => convert(c, t, col.as_ref(), row)?,
                    None => None,
                };
                out.push((name.to_string(), v));
            }
            CqlValue::UserDefinedType {
                keyspace: definition.keyspace.to_string(),
                name: definition.name.to_string(),
                fields: out,
            }
        }
        ColumnType::Tuple(items) => {
            let DataType::Struct(fields) = array.data_type() else {
                return Err(mismatch());
            };
            if fields.len() != items.len() {
                return Err(c.err(
                    array,
                    format!(
                        "a tuple of {} items needs a struct of as many fields",
                        items.len()
                    ),
                ));
            }
            let s = array.as_struct();
            let values = items
                .iter()
                .enumerate()
                .map(|(i, t)| convert(c, t, s.column(i).as_ref(), row))
                .collect::<Result<Vec<_>>>()?;
            CqlValue::Tuple(values)
        }
        _ => return Err(mismatch()),
    };
    Ok(Some(value))
}

fn collection_items(
    c: &ValueConverter<'_>,
    typ: &ColumnType<'static>,
    items: &dyn Array,
) -> Result<Vec<CqlValue>> {
    (0..items.len())
        .map(|i| {
            convert(c, typ, items, i)?
                .ok_or_else(|| c.err(items, "collections cannot hold null items in Cassandra"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use arrow_array::builder::{Int32Builder, ListBuilder, StringBuilder};
    use arrow_array::{
        Decimal128Array, Int64Array, StringArray, StructArray, TimestampMicrosecondArray,
    };
    use arrow_schema::Field;
    use num_bigint::BigInt;
    use scylla::cluster::metadata::UserDefinedType;

    fn native(n: NativeType) -> ColumnType<'static> {
        ColumnType::Native(n)
    }

    fn one(cql: &ColumnType<'static>, array: &dyn Array, row: usize) -> Result<Option<CqlValue>> {
        ValueConverter { column: "c", cql }.convert(array, row)
    }

    #[test]
    fn ints_with_range_checks() {
        let a = Int64Array::from(vec![Some(5), None, Some(1 << 40)]);
        assert_eq!(
            one(&native(NativeType::Int), &a, 0).unwrap(),
            Some(CqlValue::Int(5))
        );
        assert_eq!(one(&native(NativeType::Int), &a, 1).unwrap(), None);
        let e = one(&native(NativeType::Int), &a, 2).unwrap_err();
        assert_eq!(e.kind(), spark_ds_core::ErrorKind::Data);
        assert!(
            e.message()
                .contains("column `c` (CQL int) cannot take Arrow Int64"),
            "{}",
            e.message()
        );
        let v = one(&native(NativeType::Varint), &a, 2).unwrap().unwrap();
        assert_eq!(
            v,
            CqlValue::Varint(CqlVarint::from_signed_bytes_be(vec![1, 0, 0, 0, 0, 0]))
        );
    }

    #[test]
    fn minimal_twos_complement() {
        assert_eq!(i128_to_be_bytes(0), vec![0]);
        assert_eq!(i128_to_be_bytes(127), vec![127]);
        assert_eq!(i128_to_be_bytes(128), vec![0, 128]);
        assert_eq!(i128_to_be_bytes(-1), vec![0xff]);
        assert_eq!(i128_to_be_bytes(-129), vec![0xff, 0x7f]);
        for n in [
            0i128,
            1,
            -1,
            255,
            -256,
            i128::MAX,
            i128::MIN,
            10i128.pow(37),
        ] {
            assert_eq!(
                crate::types::be_bytes_to_i128(&i128_to_be_bytes(n)),
                Some(n)
            );
        }
        assert_eq!(parse_decimal("-12.340"), Some((BigInt::from(-12340), 3)));
        assert_eq!(parse_decimal("1e3"), Some((BigInt::from(1), -3)));
        assert_eq!(parse_decimal("x"), None);
        // Beyond i128: exact, not rounded or refused.
        let big = "123456789012345678901234567890123456789012.5";
        let (u, s) = parse_decimal(big).unwrap();
        assert_eq!((u.to_string(), s), (big.replace('.', ""), 1));
    }

    #[test]
    fn strings_to_uuid_inet_decimal() {
        let a = StringArray::from(vec![
            "6F1B4E0C-0000-4000-8000-000000000001",
            "::1",
            "12.5",
            "nope",
        ]);
        let u = one(&native(NativeType::Uuid), &a, 0).unwrap().unwrap();
        assert_eq!(
            u,
            CqlValue::Uuid(uuid::Uuid::from_u128(
                0x6F1B4E0C_0000_4000_8000_000000000001
            ))
        );
        assert!(
            one(&native(NativeType::Timeuuid), &a, 0)
                .unwrap_err()
                .message()
                .contains("version 1")
        );
        assert_eq!(
            one(&native(NativeType::Inet), &a, 1).unwrap(),
            Some(CqlValue::Inet("::1".parse().unwrap()))
        );
        assert!(
            one(&native(NativeType::Inet), &a, 3)
                .unwrap_err()
                .message()
                .contains("not an IP")
        );
        assert_eq!(
            one(&native(NativeType::Decimal), &a, 2).unwrap(),
            Some(CqlValue::Decimal(
                CqlDecimal::from_signed_be_bytes_and_exponent(vec![125], 1)
            ))
        );
        let d = Decimal128Array::from(vec![12345])
            .with_precision_and_scale(38, 2)
            .unwrap();
        assert_eq!(
            one(&native(NativeType::Decimal), &d, 0).unwrap(),
            Some(CqlValue::Decimal(
                CqlDecimal::from_signed_be_bytes_and_exponent(vec![0x30, 0x39], 2)
            ))
        );
    }

    #[test]
    fn timestamps_floor_to_ms() {
        let a = TimestampMicrosecondArray::from(vec![1_500, -1]).with_timezone("UTC");
        assert_eq!(
            one(&native(NativeType::Timestamp), &a, 0).unwrap(),
            Some(CqlValue::Timestamp(CqlTimestamp(1)))
        );
        assert_eq!(
            one(&native(NativeType::Timestamp), &a, 1).unwrap(),
            Some(CqlValue::Timestamp(CqlTimestamp(-1)))
        );
    }

    #[test]
    fn lists_sets_vectors_and_null_items() {
        let mut b = ListBuilder::new(Int32Builder::new());
        b.append_value([Some(1), Some(2)]);
        b.append_value([Some(1), None]);
        b.append_null();
        let a = b.finish();
        let set = ColumnType::Collection {
            frozen: false,
            typ: CollectionType::Set(Box::new(native(NativeType::BigInt))),
        };
        assert_eq!(
            one(&set, &a, 0).unwrap(),
            Some(CqlValue::Set(vec![
                CqlValue::BigInt(1),
                CqlValue::BigInt(2)
            ]))
        );
        assert!(
            one(&set, &a, 1)
                .unwrap_err()
                .message()
                .contains("null items")
        );
        assert_eq!(one(&set, &a, 2).unwrap(), None);
        let vector = ColumnType::Vector {
            typ: Box::new(native(NativeType::Float)),
            dimensions: 3,
        };
        assert!(
            one(&vector, &a, 0)
                .unwrap_err()
                .message()
                .contains("needs 3 items, got 2")
        );
        assert!(compatible(&vector, a.data_type()));
        assert!(!compatible(&native(NativeType::Text), a.data_type()));
    }

    #[test]
    fn structs_to_udt_and_tuple() {
        let mut names = StringBuilder::new();
        names.append_value("x");
        let s = StructArray::from(vec![
            (
                Arc::new(Field::new("b", DataType::Utf8, true)),
                Arc::new(names.finish()) as ArrayRef,
            ),
            (
                Arc::new(Field::new("a", DataType::Int64, true)),
                Arc::new(Int64Array::from(vec![Some(3)])) as ArrayRef,
            ),
        ]);
        let udt = ColumnType::UserDefinedType {
            frozen: true,
            definition: Arc::new(UserDefinedType {
                name: "u".into(),
                keyspace: "ks".into(),
                field_types: vec![
                    ("a".into(), native(NativeType::Int)),
                    ("b".into(), native(NativeType::Text)),
                    ("z".into(), native(NativeType::Text)),
                ],
            }),
        };
        let v = one(&udt, &s, 0).unwrap().unwrap();
        assert_eq!(
            v,
            CqlValue::UserDefinedType {
                keyspace: "ks".into(),
                name: "u".into(),
                fields: vec![
                    ("a".into(), Some(CqlValue::Int(3))),
                    ("b".into(), Some(CqlValue::Text("x".into()))),
                    ("z".into(), None)
                ]
            }
        );
        let tuple = ColumnType::Tuple(vec![native(NativeType::Text), native(NativeType::BigInt)]);
        assert_eq!(
            one(&tuple, &s, 0).unwrap(),
            Some(CqlValue::Tuple(vec![
                Some(CqlValue::Text("x".into())),
                Some(CqlValue::BigInt(3))
            ]))
        );
    }
}
