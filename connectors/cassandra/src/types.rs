//! CQL types ↔ Spark-compatible Arrow types and CQL type names, and the CQL encodings
//! (dates, varints, decimals) that reading, writing and pushdown share.
//!
//! The Arrow layout mirrors what pyspark's `to_arrow_type` produces, because Spark checks the
//! first batch's schema for strict equality: list items are named `element`, maps are
//! `entries` structs of a non-null `key` and a nullable `value`, everything else nullable.

use std::str::FromStr;
use std::sync::Arc;

use arrow_schema::{DataType, Field, FieldRef, Fields, TimeUnit};
use bigdecimal::BigDecimal;
use num_bigint::BigInt;
use scylla::cluster::metadata::{CollectionType, ColumnType, NativeType};
use scylla::value::CqlDate;
use spark_ds_core::{Error, Result};

use crate::SYSTEM;

/// CQL `date` counts days from 2^31 days before the Unix epoch (the epoch sits in the
/// middle of the unsigned range).
pub const CQL_DATE_EPOCH: i64 = 1 << 31;

/// The CQL date of `days` since the Unix epoch; `None` outside CQL's range.
pub fn cql_date(days: i64) -> Option<CqlDate> {
    u32::try_from(days.checked_add(CQL_DATE_EPOCH)?)
        .ok()
        .map(CqlDate)
}

/// Days since the Unix epoch of a CQL date.
pub fn days_since_epoch(date: CqlDate) -> i64 {
    i64::from(date.0) - CQL_DATE_EPOCH
}

/// Minimal big-endian two's complement bytes, the encoding of CQL `varint` and of the
/// unscaled value of CQL `decimal`.
pub fn i128_to_be_bytes(n: i128) -> Vec<u8> {
    BigInt::from(n).to_signed_bytes_be()
}

/// Big-endian two's complement bytes → i128, if they fit.
pub fn be_bytes_to_i128(bytes: &[u8]) -> Option<i128> {
    i128::try_from(&BigInt::from_signed_bytes_be(bytes)).ok()
}

/// A decimal string (`-12.340`, `1e3`) as (unscaled, scale), exact at any size.
pub fn parse_decimal(s: &str) -> Option<(BigInt, i32)> {
    let (unscaled, scale) = BigDecimal::from_str(s.trim())
        .ok()?
        .into_bigint_and_exponent();
    Some((unscaled, i32::try_from(scale).ok()?))
}

/// Precision and scale of CQL `decimal` in Arrow/Spark.
pub const DECIMAL_PRECISION: u8 = 38;
pub const DECIMAL_SCALE: i8 = 18;

/// The list item field Spark expects.
pub fn list_item(data_type: DataType) -> FieldRef {
    Arc::new(Field::new("element", data_type, true))
}

/// The map entries field Spark expects.
pub fn map_entries(key: DataType, value: DataType) -> FieldRef {
    Arc::new(Field::new(
        "entries",
        DataType::Struct(Fields::from(vec![
            Field::new("key", key, false),
            Field::new("value", value, true),
        ])),
        false,
    ))
}

/// The struct a CQL `duration` becomes.
pub fn duration_fields() -> Fields {
    Fields::from(vec![
        Field::new("months", DataType::Int32, true),
        Field::new("days", DataType::Int32, true),
        Field::new("nanoseconds", DataType::Int64, true),
    ])
}

/// The Arrow type of a CQL type.
pub fn arrow_type(typ: &ColumnType<'_>) -> DataType {
    match typ {
        ColumnType::Native(n) => native_arrow_type(n),
        ColumnType::Collection { typ, .. } => match typ {
            CollectionType::List(e) | CollectionType::Set(e) => {
                DataType::List(list_item(arrow_type(e)))
            }
            CollectionType::Map(k, v) => {
                DataType::Map(map_entries(arrow_type(k), arrow_type(v)), false)
            }
            _ => DataType::Utf8,
        },
        ColumnType::Vector { typ, .. } => DataType::List(list_item(arrow_type(typ))),
        ColumnType::UserDefinedType { definition, .. } => DataType::Struct(Fields::from(
            definition
                .field_types
                .iter()
                .map(|(name, t)| Field::new(name.as_ref(), arrow_type(t), true))
                .collect::<Vec<_>>(),
        )),
        ColumnType::Tuple(items) => DataType::Struct(Fields::from(
            items
                .iter()
                .enumerate()
                .map(|(i, t)| Field::new(format!("_{}", i + 1), arrow_type(t), true))
                .collect::<Vec<_>>(),
        )),
        _ => DataType::Utf8,
    }
}

fn native_arrow_type(n: &NativeType) -> DataType {
    match n {
        NativeType::Ascii
        | NativeType::Text
        | NativeType::Inet
        | NativeType::Uuid
        | NativeType::Timeuuid => DataType::Utf8,
        NativeType::BigInt | NativeType::Counter | NativeType::Time => DataType::Int64,
        NativeType::Int => DataType::Int32,
        NativeType::SmallInt => DataType::Int16,
        NativeType::TinyInt => DataType::Int8,
        NativeType::Varint => DataType::Decimal128(DECIMAL_PRECISION, 0),
        NativeType::Decimal => DataType::Decimal128(DECIMAL_PRECISION, DECIMAL_SCALE),
        NativeType::Float => DataType::Float32,
        NativeType::Double => DataType::Float64,
        NativeType::Boolean => DataType::Boolean,
        NativeType::Blob => DataType::Binary,
        NativeType::Date => DataType::Date32,
        NativeType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        NativeType::Duration => DataType::Struct(duration_fields()),
        _ => DataType::Utf8,
    }
}

/// Equal Arrow types, ignoring nullability and the names of list items and map entries
/// (Spark's return-schema check is made against the requested schema itself).
fn same_shape(a: &DataType, b: &DataType) -> bool {
    match (a, b) {
        (DataType::List(x), DataType::List(y)) => same_shape(x.data_type(), y.data_type()),
        (DataType::Map(x, _), DataType::Map(y, _)) => same_shape(x.data_type(), y.data_type()),
        (DataType::Struct(x), DataType::Struct(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|(f, g)| f.name() == g.name() && same_shape(f.data_type(), g.data_type()))
        }
        _ => a == b,
    }
}

/// Whether a CQL column reads exactly as the requested Arrow type (a user schema's type).
///
/// Besides the default mapping: any type as STRING (its CQL text), integer widening,
/// float → DOUBLE, decimal and varint → any DECIMAL(p,s) (each value rescaled exactly or
/// refused), timestamp → TIMESTAMP_NTZ (UTC wall clock) or BIGINT (milliseconds since the
/// epoch), and collections, UDTs and tuples whose parts convert.
pub fn reads_as(typ: &ColumnType<'_>, requested: &DataType) -> bool {
    if same_shape(&arrow_type(typ), requested) || matches!(requested, DataType::Utf8) {
        return true;
    }
    match (typ, requested) {
        (ColumnType::Native(n), _) => native_reads_as(n, requested),
        (
            ColumnType::Collection {
                typ: CollectionType::List(e) | CollectionType::Set(e),
                ..
            },
            DataType::List(item),
        ) => reads_as(e, item.data_type()),
        (ColumnType::Vector { typ, .. }, DataType::List(item)) => reads_as(typ, item.data_type()),
        (
            ColumnType::Collection {
                typ: CollectionType::Map(k, v),
                ..
            },
            DataType::Map(entries, _),
        ) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => {
                reads_as(k, kv[0].data_type()) && reads_as(v, kv[1].data_type())
            }
            _ => false,
        },
        (ColumnType::UserDefinedType { definition, .. }, DataType::Struct(fields)) => {
            definition.field_types.len() == fields.len()
                && definition
                    .field_types
                    .iter()
                    .zip(fields.iter())
                    .all(|((name, t), f)| name.as_ref() == f.name() && reads_as(t, f.data_type()))
        }
        // Tuple items are read by position: any field names.
        (ColumnType::Tuple(items), DataType::Struct(fields)) => {
            items.len() == fields.len()
                && items
                    .iter()
                    .zip(fields.iter())
                    .all(|(t, f)| reads_as(t, f.data_type()))
        }
        _ => false,
    }
}

fn native_reads_as(n: &NativeType, requested: &DataType) -> bool {
    use DataType as D;
    matches!(
        (n, requested),
        (NativeType::TinyInt, D::Int16 | D::Int32 | D::Int64)
            | (NativeType::SmallInt, D::Int32 | D::Int64)
            | (NativeType::Int, D::Int64)
            | (NativeType::Float, D::Float64)
            | (
                NativeType::Decimal | NativeType::Varint,
                D::Decimal128(_, _)
            )
            | (
                NativeType::Timestamp,
                D::Timestamp(TimeUnit::Microsecond, None) | D::Int64
            )
    )
}

/// The Spark types a CQL column can be read as, for messages: the default first.
pub fn read_choices(typ: &ColumnType<'_>) -> String {
    let default = spelling::spark_type(&arrow_type(typ));
    let more: &[&str] = match typ {
        ColumnType::Native(NativeType::TinyInt) => &["SMALLINT", "INT", "BIGINT"],
        ColumnType::Native(NativeType::SmallInt) => &["INT", "BIGINT"],
        ColumnType::Native(NativeType::Int) => &["BIGINT"],
        ColumnType::Native(NativeType::Float) => &["DOUBLE"],
        ColumnType::Native(NativeType::Decimal | NativeType::Varint) => &["any DECIMAL(p,s)"],
        ColumnType::Native(NativeType::Timestamp) => &[
            "TIMESTAMP_NTZ (UTC wall clock)",
            "BIGINT (milliseconds since the epoch)",
        ],
        ColumnType::Native(_) => &[],
        _ => &["the same shape with parts converted as for scalar columns"],
    };
    let mut out = vec![format!("{default} (the default)")];
    out.extend(more.iter().map(|s| s.to_string()));
    if default != "STRING" {
        out.push("STRING (the CQL text)".into());
    }
    out.join(", ")
}

/// The CQL spelling of a type, for messages and DDL.
pub fn cql_name(typ: &ColumnType<'_>) -> String {
    match typ {
        ColumnType::Native(n) => native_cql_name(n).to_string(),
        ColumnType::Collection { frozen, typ } => {
            let inner = match typ {
                CollectionType::List(e) => format!("list<{}>", cql_name(e)),
                CollectionType::Set(e) => format!("set<{}>", cql_name(e)),
                CollectionType::Map(k, v) => format!("map<{}, {}>", cql_name(k), cql_name(v)),
                _ => "collection".into(),
            };
            if *frozen {
                format!("frozen<{inner}>")
            } else {
                inner
            }
        }
        ColumnType::Vector { typ, dimensions } => {
            format!("vector<{}, {dimensions}>", cql_name(typ))
        }
        ColumnType::UserDefinedType { frozen, definition } => {
            if *frozen {
                format!("frozen<{}>", definition.name)
            } else {
                definition.name.to_string()
            }
        }
        ColumnType::Tuple(items) => {
            format!(
                "tuple<{}>",
                items.iter().map(cql_name).collect::<Vec<_>>().join(", ")
            )
        }
        _ => "unknown".into(),
    }
}

fn native_cql_name(n: &NativeType) -> &'static str {
    match n {
        NativeType::Ascii => "ascii",
        NativeType::Boolean => "boolean",
        NativeType::Blob => "blob",
        NativeType::Counter => "counter",
        NativeType::Date => "date",
        NativeType::Decimal => "decimal",
        NativeType::Double => "double",
        NativeType::Duration => "duration",
        NativeType::Float => "float",
        NativeType::Int => "int",
        NativeType::BigInt => "bigint",
        NativeType::Text => "text",
        NativeType::Timestamp => "timestamp",
        NativeType::Inet => "inet",
        NativeType::SmallInt => "smallint",
        NativeType::TinyInt => "tinyint",
        NativeType::Time => "time",
        NativeType::Timeuuid => "timeuuid",
        NativeType::Uuid => "uuid",
        NativeType::Varint => "varint",
        _ => "unknown",
    }
}

/// The CQL column type for an Arrow column of a table created from a DataFrame.
/// `nested` types are frozen (Cassandra requires it inside collections).
pub fn cql_type_for_arrow(column: &str, dt: &DataType, nested: bool) -> Result<String> {
    let frozen = |s: String| if nested { format!("frozen<{s}>") } else { s };
    Ok(match dt {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "text".into(),
        DataType::Int64 => "bigint".into(),
        DataType::Int32 => "int".into(),
        DataType::Int16 => "smallint".into(),
        DataType::Int8 => "tinyint".into(),
        DataType::Float32 => "float".into(),
        DataType::Float64 => "double".into(),
        DataType::Boolean => "boolean".into(),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => "blob".into(),
        DataType::Date32 => "date".into(),
        DataType::Timestamp(_, _) => "timestamp".into(),
        DataType::Decimal128(_, 0) => "varint".into(),
        DataType::Decimal128(_, _) => "decimal".into(),
        DataType::List(f) | DataType::LargeList(f) => frozen(format!(
            "list<{}>",
            cql_type_for_arrow(column, f.data_type(), true)?
        )),
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => frozen(format!(
                "map<{}, {}>",
                cql_type_for_arrow(column, kv[0].data_type(), true)?,
                cql_type_for_arrow(column, kv[1].data_type(), true)?
            )),
            _ => return Err(unsupported_create(column, dt)),
        },
        DataType::Struct(fields) => format!(
            "frozen<tuple<{}>>",
            fields
                .iter()
                .map(|f| cql_type_for_arrow(column, f.data_type(), true))
                .collect::<Result<Vec<_>>>()?
                .join(", ")
        ),
        _ => return Err(unsupported_create(column, dt)),
    })
}

fn unsupported_create(column: &str, dt: &DataType) -> Error {
    Error::config(
        SYSTEM,
        format!(
            "createTable: column `{column}` has Arrow type {dt}, which has no CQL column type here; create the table yourself"
        ),
    )
}

/// Spark's DDL spelling of Arrow types, for messages; shared with the live tests.
#[path = "../tests/support/spelling.rs"]
pub(crate) mod spelling;

#[cfg(test)]
mod tests {
    use super::spelling::{spark_ddl, spark_type};
    use super::*;
    use scylla::cluster::metadata::UserDefinedType;

    fn native(n: NativeType) -> ColumnType<'static> {
        ColumnType::Native(n)
    }

    #[test]
    fn scalar_map() {
        let cases = [
            (NativeType::Ascii, "STRING"),
            (NativeType::Text, "STRING"),
            (NativeType::Uuid, "STRING"),
            (NativeType::Timeuuid, "STRING"),
            (NativeType::Inet, "STRING"),
            (NativeType::BigInt, "BIGINT"),
            (NativeType::Counter, "BIGINT"),
            (NativeType::Time, "BIGINT"),
            (NativeType::Int, "INT"),
            (NativeType::SmallInt, "SMALLINT"),
            (NativeType::TinyInt, "TINYINT"),
            (NativeType::Varint, "DECIMAL(38,0)"),
            (NativeType::Decimal, "DECIMAL(38,18)"),
            (NativeType::Float, "FLOAT"),
            (NativeType::Double, "DOUBLE"),
            (NativeType::Boolean, "BOOLEAN"),
            (NativeType::Blob, "BINARY"),
            (NativeType::Date, "DATE"),
            (NativeType::Timestamp, "TIMESTAMP"),
            (
                NativeType::Duration,
                "STRUCT<months: INT, days: INT, nanoseconds: BIGINT>",
            ),
        ];
        for (n, ddl) in cases {
            assert_eq!(spark_type(&arrow_type(&native(n.clone()))), ddl, "{n:?}");
        }
        assert_eq!(
            arrow_type(&native(NativeType::Timestamp)),
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        );
    }

    #[test]
    fn nested_map_like_pyspark() {
        let udt = ColumnType::UserDefinedType {
            frozen: true,
            definition: Arc::new(UserDefinedType {
                name: "addr".into(),
                keyspace: "ks".into(),
                field_types: vec![
                    ("street".into(), native(NativeType::Text)),
                    ("no".into(), native(NativeType::Int)),
                ],
            }),
        };
        let t = ColumnType::Collection {
            frozen: false,
            typ: CollectionType::Map(
                Box::new(native(NativeType::Text)),
                Box::new(ColumnType::Collection {
                    frozen: true,
                    typ: CollectionType::List(Box::new(udt)),
                }),
            ),
        };
        let dt = arrow_type(&t);
        assert_eq!(
            spark_type(&dt),
            "MAP<STRING, ARRAY<STRUCT<street: STRING, no: INT>>>"
        );
        let DataType::Map(entries, sorted) = &dt else {
            panic!()
        };
        assert!(!sorted && entries.name() == "entries" && !entries.is_nullable());
        let DataType::Struct(kv) = entries.data_type() else {
            panic!()
        };
        assert_eq!((kv[0].name().as_str(), kv[0].is_nullable()), ("key", false));
        assert_eq!(
            (kv[1].name().as_str(), kv[1].is_nullable()),
            ("value", true)
        );
        let DataType::List(item) = kv[1].data_type() else {
            panic!()
        };
        assert_eq!(item.name(), "element");
        assert_eq!(cql_name(&t), "map<text, frozen<list<frozen<addr>>>>");
        let tuple = ColumnType::Tuple(vec![native(NativeType::Int), native(NativeType::Text)]);
        assert_eq!(
            spark_type(&arrow_type(&tuple)),
            "STRUCT<_1: INT, _2: STRING>"
        );
        let vector = ColumnType::Vector {
            typ: Box::new(native(NativeType::Float)),
            dimensions: 3,
        };
        assert_eq!(spark_type(&arrow_type(&vector)), "ARRAY<FLOAT>");
        assert_eq!(cql_name(&vector), "vector<float, 3>");
    }

    #[test]
    fn user_schema_conversions_are_exact_ones_only() {
        let ts = DataType::Timestamp(TimeUnit::Microsecond, None);
        let yes = [
            (NativeType::Int, DataType::Int32),
            (NativeType::Int, DataType::Int64),
            (NativeType::TinyInt, DataType::Int16),
            (NativeType::SmallInt, DataType::Int64),
            (NativeType::Float, DataType::Float64),
            (NativeType::Decimal, DataType::Decimal128(10, 2)),
            (NativeType::Decimal, DataType::Decimal128(38, 30)),
            (NativeType::Varint, DataType::Decimal128(20, 2)),
            (NativeType::Timestamp, ts.clone()),
            (NativeType::Timestamp, DataType::Int64),
            (NativeType::Uuid, DataType::Utf8),
            (NativeType::Duration, DataType::Utf8),
            (NativeType::Blob, DataType::Utf8),
            (NativeType::Int, DataType::Utf8),
        ];
        for (n, dt) in yes {
            assert!(reads_as(&native(n.clone()), &dt), "{n:?} as {dt}");
        }
        let no = [
            (NativeType::Int, DataType::Boolean),
            (NativeType::Int, DataType::Int16),
            (NativeType::BigInt, DataType::Int32),
            (NativeType::BigInt, DataType::Float64),
            (NativeType::Double, DataType::Float32),
            (NativeType::Decimal, DataType::Float64),
            (NativeType::Text, DataType::Int32),
            (NativeType::Date, ts),
        ];
        for (n, dt) in no {
            assert!(!reads_as(&native(n.clone()), &dt), "{n:?} as {dt}");
        }
        // Collections convert part by part; nullability does not matter.
        let list = ColumnType::Collection {
            frozen: false,
            typ: CollectionType::Set(Box::new(native(NativeType::Int))),
        };
        let wide = DataType::List(Arc::new(Field::new("element", DataType::Int64, false)));
        assert!(reads_as(&list, &wide));
        assert!(reads_as(&list, &DataType::Utf8));
        assert!(!reads_as(
            &list,
            &DataType::List(list_item(DataType::Boolean))
        ));
        assert_eq!(
            read_choices(&native(NativeType::Int)),
            "INT (the default), BIGINT, STRING (the CQL text)"
        );
        assert!(read_choices(&native(NativeType::Decimal)).contains("any DECIMAL(p,s)"));
    }

    #[test]
    fn ddl_quotes_odd_names() {
        let fields = Fields::from(vec![
            Field::new("id", DataType::Int32, true),
            Field::new("Odd Name", DataType::Utf8, true),
        ]);
        assert_eq!(spark_ddl(&fields), "id INT, `Odd Name` STRING");
    }

    #[test]
    fn create_table_types() {
        let dt = DataType::List(list_item(DataType::Map(
            map_entries(DataType::Utf8, DataType::Int64),
            false,
        )));
        assert_eq!(
            cql_type_for_arrow("c", &dt, false).unwrap(),
            "list<frozen<map<text, bigint>>>"
        );
        assert_eq!(
            cql_type_for_arrow("c", &DataType::Decimal128(10, 2), false).unwrap(),
            "decimal"
        );
        assert!(cql_type_for_arrow("c", &DataType::Null, false).is_err());
    }
}
