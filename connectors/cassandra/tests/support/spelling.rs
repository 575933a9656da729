//! Spark's DDL spelling of Arrow types, for assertions that read like Spark's schemas.
//!
//! The connector hands Spark the Arrow schema itself (PySpark's `from_arrow_schema`
//! converts it); tests pin the Arrow types that conversion starts from. Included by the
//! unit tests (`types::spelling`) and the live tests.
#![allow(dead_code)]

use arrow_schema::{DataType, Fields};

/// Spark's DDL spelling of an Arrow type.
pub(crate) fn spark_type(dt: &DataType) -> String {
    match dt {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "STRING".into(),
        DataType::Int64 => "BIGINT".into(),
        DataType::Int32 => "INT".into(),
        DataType::Int16 => "SMALLINT".into(),
        DataType::Int8 => "TINYINT".into(),
        DataType::Float32 => "FLOAT".into(),
        DataType::Float64 => "DOUBLE".into(),
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => "BINARY".into(),
        DataType::Date32 => "DATE".into(),
        DataType::Timestamp(_, Some(_)) => "TIMESTAMP".into(),
        DataType::Timestamp(_, None) => "TIMESTAMP_NTZ".into(),
        DataType::Decimal128(p, s) => format!("DECIMAL({p},{s})"),
        DataType::List(f) | DataType::LargeList(f) => {
            format!("ARRAY<{}>", spark_type(f.data_type()))
        }
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => {
                format!(
                    "MAP<{}, {}>",
                    spark_type(kv[0].data_type()),
                    spark_type(kv[1].data_type())
                )
            }
            _ => "MAP<STRING, STRING>".into(),
        },
        DataType::Struct(fields) => format!(
            "STRUCT<{}>",
            fields
                .iter()
                .map(|f| format!("{}: {}", spark_ident(f.name()), spark_type(f.data_type())))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => format!("{other}"),
    }
}

/// A Spark identifier, back-quoted when it is not a plain word.
pub(crate) fn spark_ident(name: &str) -> String {
    if !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
    {
        name.to_string()
    } else {
        format!("`{}`", name.replace('`', "``"))
    }
}

/// `name TYPE, …` for a list of fields.
pub(crate) fn spark_ddl(fields: &Fields) -> String {
    fields
        .iter()
        .map(|f| format!("{} {}", spark_ident(f.name()), spark_type(f.data_type())))
        .collect::<Vec<_>>()
        .join(", ")
}
