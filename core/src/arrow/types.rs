//! The Arrow types Spark accepts, and the Spark DDL string for a schema.
//!
//! Nested field names follow Spark's own Arrow conversion (`element` for list items,
//! `entries`/`key`/`value` for maps) so schemas built here compare equal to Spark's.

use std::fmt::Write as _;
use std::sync::Arc;

use arrow_schema::{DataType, Field, Fields, Schema, TimeUnit};

use super::SYSTEM;
use crate::error::{Error, Result};

/// Spark's StringType.
pub const STRING: DataType = DataType::Utf8;
/// Spark's BinaryType.
pub const BINARY: DataType = DataType::Binary;
/// Spark's DateType (days since 1970-01-01).
pub const DATE: DataType = DataType::Date32;
/// Spark's BooleanType.
pub const BOOLEAN: DataType = DataType::Boolean;
/// Spark's IntegerType.
pub const INT: DataType = DataType::Int32;
/// Spark's LongType.
pub const BIGINT: DataType = DataType::Int64;
/// Spark's DoubleType.
pub const DOUBLE: DataType = DataType::Float64;
/// The largest decimal precision Spark (and Decimal128) holds.
pub const MAX_DECIMAL_PRECISION: u8 = 38;

/// Spark's TimestampType: microseconds, UTC.
pub fn timestamp() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// Spark's TimestampNTZType: microseconds, no time zone.
pub fn timestamp_ntz() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, None)
}

/// Spark's DecimalType(precision, scale); precision 1..=38, scale 0..=precision.
pub fn decimal(precision: u8, scale: i8) -> Result<DataType> {
    if precision == 0 || precision > MAX_DECIMAL_PRECISION || scale < 0 || scale as u8 > precision {
        return Err(Error::config(
            SYSTEM,
            format!(
                "DECIMAL({precision},{scale}) is not a Spark decimal: precision 1-38, scale 0-precision"
            ),
        ));
    }
    Ok(DataType::Decimal128(precision, scale))
}

/// Spark's ArrayType (items nullable).
pub fn list(item: DataType) -> DataType {
    DataType::List(Arc::new(Field::new("element", item, true)))
}

/// Spark's MapType (keys never null, values nullable).
pub fn map(key: DataType, value: DataType) -> DataType {
    let entries = Fields::from(vec![
        Field::new("key", key, false),
        Field::new("value", value, true),
    ]);
    DataType::Map(
        Arc::new(Field::new("entries", DataType::Struct(entries), false)),
        false,
    )
}

/// Spark's StructType.
pub fn struct_of(fields: Vec<Field>) -> DataType {
    DataType::Struct(Fields::from(fields))
}

/// The Spark DDL for a schema, e.g. `a INT, b STRING NOT NULL, c ARRAY<STRING>`; an error
/// names the first column whose type Spark would not accept.
pub fn spark_ddl(schema: &Schema) -> Result<String> {
    fields_ddl(schema.fields(), " ")
}

fn fields_ddl(fields: &Fields, separator: &str) -> Result<String> {
    let mut out = String::new();
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let ty = spark_type_name(field.data_type())
            .map_err(|e| e.with_context(format!("column `{}`", field.name())))?;
        let _ = write!(out, "{}{separator}{ty}", quote_identifier(field.name()));
        if !field.is_nullable() {
            out.push_str(" NOT NULL");
        }
    }
    Ok(out)
}

/// The Spark SQL name of one Arrow type.
pub fn spark_type_name(data_type: &DataType) -> Result<String> {
    Ok(match data_type {
        DataType::Null => "VOID".into(),
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Int8 => "TINYINT".into(),
        DataType::Int16 => "SMALLINT".into(),
        DataType::Int32 => "INT".into(),
        DataType::Int64 => "BIGINT".into(),
        DataType::Float32 => "FLOAT".into(),
        DataType::Float64 => "DOUBLE".into(),
        DataType::Utf8 => "STRING".into(),
        DataType::Binary => "BINARY".into(),
        DataType::Date32 => "DATE".into(),
        DataType::Timestamp(TimeUnit::Microsecond, Some(_)) => "TIMESTAMP".into(),
        DataType::Timestamp(TimeUnit::Microsecond, None) => "TIMESTAMP_NTZ".into(),
        DataType::Decimal128(p, s) if *p <= MAX_DECIMAL_PRECISION && *s >= 0 => {
            format!("DECIMAL({p},{s})")
        }
        DataType::List(item) => format!("ARRAY<{}>", spark_type_name(item.data_type())?),
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => format!(
                "MAP<{},{}>",
                spark_type_name(kv[0].data_type())?,
                spark_type_name(kv[1].data_type())?
            ),
            other => return Err(unsupported(other)),
        },
        DataType::Struct(fields) => format!("STRUCT<{}>", fields_ddl(fields, ": ")?),
        other => return Err(unsupported(other)),
    })
}

fn unsupported(data_type: &DataType) -> Error {
    let hint = match data_type {
        DataType::LargeUtf8 | DataType::Utf8View => "; use Utf8",
        DataType::LargeBinary | DataType::BinaryView => "; use Binary",
        DataType::LargeList(_) | DataType::ListView(_) => "; use List",
        DataType::Timestamp(_, _) => "; use microseconds",
        _ => "",
    };
    Error::internal(
        SYSTEM,
        "schema",
        format!("Arrow type {data_type} has no Spark equivalent{hint}"),
    )
}

/// Backticks unless the name is a plain identifier; a backtick inside is doubled.
fn quote_identifier(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        name.to_owned()
    } else {
        format!("`{}`", name.replace('`', "``"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn ddl_renders_scalars_and_nesting() {
        let schema = Schema::new(vec![
            Field::new("a", INT, true),
            Field::new("b", STRING, false),
            Field::new("c", list(STRING), true),
            Field::new("d", map(STRING, BIGINT), true),
            Field::new("e", struct_of(vec![Field::new("x", INT, true)]), true),
            Field::new("f", timestamp(), true),
            Field::new("g", decimal(38, 10).unwrap(), true),
            Field::new("h", DATE, true),
            Field::new("i", BINARY, true),
            Field::new("j k", timestamp_ntz(), true),
            Field::new("l`m", BOOLEAN, true),
        ]);
        assert_eq!(
            spark_ddl(&schema).unwrap(),
            "a INT, b STRING NOT NULL, c ARRAY<STRING>, d MAP<STRING,BIGINT>, e STRUCT<x: INT>, \
             f TIMESTAMP, g DECIMAL(38,10), h DATE, i BINARY, `j k` TIMESTAMP_NTZ, `l``m` BOOLEAN"
        );
    }

    #[test]
    fn types_spark_rejects_are_errors_naming_the_column() {
        let schema = Schema::new(vec![Field::new("s", DataType::LargeUtf8, true)]);
        let e = spark_ddl(&schema).unwrap_err();
        assert!(
            e.message().contains("column `s`") && e.message().contains("use Utf8"),
            "{e}"
        );
        let nested = Schema::new(vec![Field::new(
            "t",
            list(DataType::Timestamp(TimeUnit::Nanosecond, None)),
            true,
        )]);
        assert!(
            spark_ddl(&nested)
                .unwrap_err()
                .message()
                .contains("use microseconds")
        );
    }

    #[test]
    fn decimal_bounds_are_checked() {
        assert_eq!(decimal(38, 0).unwrap(), DataType::Decimal128(38, 0));
        for (p, s) in [(0, 0), (39, 0), (10, 11), (10, -1)] {
            assert_eq!(decimal(p, s).unwrap_err().kind(), ErrorKind::Config);
        }
    }

    #[test]
    fn nested_names_follow_spark() {
        let DataType::List(item) = list(INT) else {
            panic!("not a list")
        };
        assert_eq!(item.name(), "element");
        let DataType::Map(entries, sorted) = map(STRING, INT) else {
            panic!("not a map")
        };
        assert!(!sorted);
        assert_eq!(entries.name(), "entries");
        assert!(
            matches!(timestamp(), DataType::Timestamp(TimeUnit::Microsecond, Some(tz)) if &*tz == "UTC")
        );
    }
}
