//! Arrow rows to BSON bytes, written straight from the Arrow arrays (no `Document` or
//! `RawBson` in between). The plan is built once from the schema, which is also how the
//! driver checks that every column can be written before anything is changed.

use std::collections::HashSet;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Decimal128Type, Float16Type, Float32Type, Float64Type, Int8Type,
    Int16Type, Int32Type, Int64Type, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type, UInt32Type,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use mongodb::bson::oid::ObjectId;
use mongodb::bson::spec::BinarySubtype;
use mongodb::bson::{Bson, Decimal128, RawBson, RawDocument};
use spark_ds_core::{Error, Result};

use crate::SYSTEM;
use crate::bson_out::{self, Key, tag};
use crate::options::Config;

const MS_PER_DAY: i64 = 86_400_000;

/// What the connected server refuses to store (FerretDB lacks several BSON features; on
/// some of them it closes the connection and the whole command is lost).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// The server is FerretDB: no Decimal128, NaN/±Infinity, nested arrays, keys with `.`
    /// or a leading `$`.
    pub ferretdb: bool,
}

/// How one value is written; built from the Arrow type, with the field's dotted path.
#[derive(Debug)]
enum Node {
    Null,
    Str { object_id: bool },
    Int32,
    Int64,
    Double,
    Decimal { scale: i8 },
    Bool,
    Timestamp(TimeUnit),
    Date32,
    Date64,
    Binary { uuid: bool },
    List(Box<Node>),
    Struct(Vec<(String, Node)>),
    Map(Box<Node>),
}

/// Encodes the rows of batches of one schema into documents.
#[derive(Debug)]
pub struct Encoder {
    columns: Vec<(String, Node)>,
    ignore_nulls: bool,
    limits: Limits,
}

/// A field's dotted path, built on the stack while the encoder descends and rendered only
/// for an error message (formatting it for every value of every row costs more than the
/// encoding).
#[derive(Clone, Copy)]
struct FieldPath<'a> {
    parent: Option<&'a FieldPath<'a>>,
    name: &'a str,
}

impl<'a> FieldPath<'a> {
    fn top(name: &'a str) -> Self {
        FieldPath { parent: None, name }
    }

    fn child(&'a self, name: &'a str) -> FieldPath<'a> {
        FieldPath {
            parent: Some(self),
            name,
        }
    }
}

impl std::fmt::Display for FieldPath<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(parent) = self.parent {
            write!(f, "{parent}.")?;
        }
        f.write_str(self.name)
    }
}

/// A decimal's digits do not fit Decimal128's 34 significant digits.
const MAX_COEFFICIENT: u128 = 10u128.pow(34);

struct Ctx<'a> {
    object_ids: HashSet<&'a str>,
    uuids: HashSet<&'a str>,
    limits: Limits,
}

impl Encoder {
    /// The plan of `schema`, or a Config error naming the first column that cannot be
    /// written (to this server, when `limits` says what it refuses).
    pub fn new(cfg: &Config, schema: &Schema, limits: Limits) -> Result<Encoder> {
        let ctx = Ctx {
            object_ids: cfg.object_id_fields.iter().map(String::as_str).collect(),
            uuids: cfg.uuid_fields.iter().map(String::as_str).collect(),
            limits,
        };
        let mut seen = HashSet::new();
        let columns = schema
            .fields()
            .iter()
            .map(|f| {
                if !seen.insert(f.name().as_str()) {
                    return Err(Error::config(
                        SYSTEM,
                        format!(
                            "the DataFrame has two columns named `{}`: a document cannot have a field twice",
                            f.name()
                        ),
                    ));
                }
                Ok((f.name().clone(), compile(f, f.name(), &ctx)?))
            })
            .collect::<Result<_>>()?;
        Ok(Encoder {
            columns,
            ignore_nulls: cfg.ignore_null_values,
            limits,
        })
    }

    /// Index of a top-level column.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|(n, _)| n == name)
    }

    /// Name of a top-level column.
    pub fn column_name(&self, index: usize) -> &str {
        &self.columns[index].0
    }

    /// Whether nulls are left out of documents (`ignoreNullValues`) rather than written.
    pub fn ignores_nulls(&self) -> bool {
        self.ignore_nulls
    }

    /// Whether column `index` is null at `row` (it would be written as null, or left out).
    pub fn is_null(&self, batch: &RecordBatch, index: usize, row: usize) -> bool {
        matches!(self.columns[index].1, Node::Null) || batch.column(index).is_null(row)
    }

    /// Appends column `index` of `row` as an element of the document being written.
    pub fn write_column(
        &self,
        batch: &RecordBatch,
        index: usize,
        row: usize,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let (name, node) = &self.columns[index];
        self.put(
            node,
            batch.column(index).as_ref(),
            row,
            &FieldPath::top(name),
            Key::Name(name),
            !self.ignore_nulls,
            out,
        )
    }

    /// Appends the columns of `row` whose index `keep` accepts, as elements of the
    /// document being written.
    pub fn write_fields(
        &self,
        batch: &RecordBatch,
        row: usize,
        keep: impl Fn(usize) -> bool,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        for i in 0..self.columns.len() {
            if keep(i) {
                self.write_column(batch, i, row, out)?;
            }
        }
        Ok(())
    }

    /// Row `row` as a document of the columns whose index `keep` accepts.
    #[cfg(test)]
    fn document(
        &self,
        batch: &RecordBatch,
        row: usize,
        keep: impl Fn(usize) -> bool,
    ) -> Result<mongodb::bson::RawDocumentBuf> {
        let mut out = Vec::new();
        let at = bson_out::begin(&mut out);
        self.write_fields(batch, row, keep, &mut out)?;
        bson_out::end(&mut out, at)?;
        bson_out::finish(out)
    }

    /// Appends the element `key` holding `node`'s value at `row` of `array`. A null is
    /// written as BSON null when `keep_null` holds, and left out otherwise. On an error
    /// `out` holds part of the element: the caller drops the document.
    #[allow(clippy::too_many_arguments)]
    fn put(
        &self,
        node: &Node,
        array: &dyn Array,
        row: usize,
        path: &FieldPath<'_>,
        key: Key<'_>,
        keep_null: bool,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        if matches!(node, Node::Null) || array.is_null(row) {
            if keep_null {
                key.put(out, tag::NULL);
            }
            return Ok(());
        }
        match node {
            Node::Null => {}
            Node::Str { object_id } => {
                let s = string_at(array, row);
                match (*object_id && s.len() == 24)
                    .then(|| ObjectId::parse_str(s).ok())
                    .flatten()
                {
                    Some(oid) => key.put_fixed(out, tag::OBJECT_ID, &oid.bytes()),
                    None => {
                        key.put(out, tag::STRING);
                        bson_out::string(out, s)?;
                    }
                }
            }
            Node::Int32 => {
                let v = match array.data_type() {
                    DataType::Int8 => i32::from(array.as_primitive::<Int8Type>().value(row)),
                    DataType::Int16 => i32::from(array.as_primitive::<Int16Type>().value(row)),
                    DataType::UInt8 => i32::from(array.as_primitive::<UInt8Type>().value(row)),
                    DataType::UInt16 => i32::from(array.as_primitive::<UInt16Type>().value(row)),
                    _ => array.as_primitive::<Int32Type>().value(row),
                };
                key.put_fixed(out, tag::INT32, &v.to_le_bytes());
            }
            Node::Int64 => {
                let v = match array.data_type() {
                    DataType::UInt32 => i64::from(array.as_primitive::<UInt32Type>().value(row)),
                    _ => array.as_primitive::<Int64Type>().value(row),
                };
                key.put_fixed(out, tag::INT64, &v.to_le_bytes());
            }
            Node::Double => {
                let d = match array.data_type() {
                    DataType::Float16 => f64::from(array.as_primitive::<Float16Type>().value(row)),
                    DataType::Float32 => f64::from(array.as_primitive::<Float32Type>().value(row)),
                    _ => array.as_primitive::<Float64Type>().value(row),
                };
                if self.limits.ferretdb && !d.is_finite() {
                    return Err(Error::data(
                        SYSTEM,
                        "write",
                        format!(
                            "field `{path}` is {d}: the server (FerretDB) cannot store NaN or ±Infinity; filter or replace such values (e.g. with null) before writing"
                        ),
                    ));
                }
                key.put_fixed(out, tag::DOUBLE, &d.to_le_bytes());
            }
            Node::Decimal { scale } => {
                let v = array.as_primitive::<Decimal128Type>().value(row);
                let d = decimal128(v, *scale).ok_or_else(|| {
                    Error::data(
                        SYSTEM,
                        "write",
                        format!(
                            "field `{path}`: the decimal {v}e-{scale} has more than 34 significant digits, more than BSON Decimal128 holds"
                        ),
                    )
                })?;
                key.put_fixed(out, tag::DECIMAL128, &d.bytes());
            }
            Node::Bool => {
                let b = array.as_boolean().value(row);
                key.put_fixed(out, tag::BOOLEAN, &[u8::from(b)]);
            }
            Node::Timestamp(_) | Node::Date32 | Node::Date64 => {
                let ms = millis(node, array, row);
                key.put_fixed(out, tag::DATE_TIME, &ms.to_le_bytes());
            }
            Node::Binary { uuid } => {
                let bytes = binary_at(array, row);
                let subtype = if *uuid && bytes.len() == 16 {
                    BinarySubtype::Uuid
                } else {
                    BinarySubtype::Generic
                };
                key.put(out, tag::BINARY);
                bson_out::binary(out, u8::from(subtype), bytes)?;
            }
            Node::List(element) => {
                // The row's range of the child array, read in place (`value(row)` would
                // allocate a slice of it for every row).
                let (values, range) = match array.data_type() {
                    DataType::LargeList(_) => {
                        let list = array.as_list::<i64>();
                        let offsets = list.value_offsets();
                        let (start, end) = (offsets[row], offsets[row + 1]);
                        (list.values(), start as usize..end as usize)
                    }
                    DataType::FixedSizeList(..) => {
                        let list = array.as_fixed_size_list();
                        let start = list.value_offset_at(row);
                        (list.values(), start..start + list.value_length() as usize)
                    }
                    _ => {
                        let list = array.as_list::<i32>();
                        let offsets = list.value_offsets();
                        let (start, end) = (offsets[row], offsets[row + 1]);
                        (list.values(), start as usize..end as usize)
                    }
                };
                key.put(out, tag::ARRAY);
                let at = bson_out::begin(out);
                for (position, i) in range.enumerate() {
                    // Arrays keep their nulls: leaving one out would shift the positions.
                    self.put(
                        element,
                        values.as_ref(),
                        i,
                        path,
                        Key::Index(position),
                        true,
                        out,
                    )?;
                }
                bson_out::end(out, at)?;
            }
            Node::Struct(fields) => {
                let s = array.as_struct();
                key.put(out, tag::DOCUMENT);
                let at = bson_out::begin(out);
                for (i, (name, child)) in fields.iter().enumerate() {
                    let child_path = path.child(name);
                    self.put(
                        child,
                        s.column(i).as_ref(),
                        row,
                        &child_path,
                        Key::Name(name),
                        !self.ignore_nulls,
                        out,
                    )?;
                }
                bson_out::end(out, at)?;
            }
            Node::Map(value) => {
                let map = array.as_map();
                let offsets = map.value_offsets();
                let (keys, values) = (map.keys(), map.values());
                key.put(out, tag::DOCUMENT);
                let at = bson_out::begin(out);
                for i in offsets[row] as usize..offsets[row + 1] as usize {
                    let name = string_at(keys.as_ref(), i);
                    check_key(name, path, self.limits)
                        .map_err(|m| Error::data(SYSTEM, "write", m))?;
                    let child_path = path.child(name);
                    self.put(
                        value,
                        values.as_ref(),
                        i,
                        &child_path,
                        Key::Name(name),
                        !self.ignore_nulls,
                        out,
                    )?;
                }
                bson_out::end(out, at)?;
            }
        }
        Ok(())
    }
}

/// A date or timestamp value as BSON's milliseconds since the epoch.
fn millis(node: &Node, array: &dyn Array, row: usize) -> i64 {
    match node {
        Node::Timestamp(TimeUnit::Second) => array
            .as_primitive::<TimestampSecondType>()
            .value(row)
            .saturating_mul(1000),
        Node::Timestamp(TimeUnit::Millisecond) => {
            array.as_primitive::<TimestampMillisecondType>().value(row)
        }
        // BSON dates hold milliseconds: finer digits are cut (toward the past).
        Node::Timestamp(TimeUnit::Microsecond) => array
            .as_primitive::<TimestampMicrosecondType>()
            .value(row)
            .div_euclid(1000),
        Node::Timestamp(TimeUnit::Nanosecond) => array
            .as_primitive::<TimestampNanosecondType>()
            .value(row)
            .div_euclid(1_000_000),
        Node::Date32 => i64::from(array.as_primitive::<Date32Type>().value(row)) * MS_PER_DAY,
        _ => array.as_primitive::<Date64Type>().value(row),
    }
}

fn string_at(array: &dyn Array, row: usize) -> &str {
    match array.data_type() {
        DataType::LargeUtf8 => array.as_string::<i64>().value(row),
        DataType::Utf8View => array.as_string_view().value(row),
        _ => array.as_string::<i32>().value(row),
    }
}

fn binary_at(array: &dyn Array, row: usize) -> &[u8] {
    match array.data_type() {
        DataType::LargeBinary => array.as_binary::<i64>().value(row),
        DataType::BinaryView => array.as_binary_view().value(row),
        DataType::FixedSizeBinary(_) => array.as_fixed_size_binary().value(row),
        _ => array.as_binary::<i32>().value(row),
    }
}

/// A field name the server would refuse, as the message to show.
fn check_key(
    key: &str,
    path: impl std::fmt::Display,
    limits: Limits,
) -> std::result::Result<(), String> {
    if key.contains('\0') {
        return Err(format!(
            "field `{path}` has a key with a NUL character, which BSON cannot hold"
        ));
    }
    if limits.ferretdb && (key.contains('.') || key.starts_with('$')) {
        return Err(format!(
            "field `{path}` has the key `{key}`: the server (FerretDB) refuses keys containing `.` or starting with `$`; rename it before writing"
        ));
    }
    Ok(())
}

fn compile(field: &Field, path: &str, ctx: &Ctx<'_>) -> Result<Node> {
    let bad = |what: String| {
        Error::config(
            SYSTEM,
            format!("column `{path}` cannot be written to MongoDB: {what}"),
        )
    };
    check_key(field.name(), path, ctx.limits).map_err(|m| Error::config(SYSTEM, m))?;
    Ok(match field.data_type() {
        DataType::Null => Node::Null,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Node::Str {
            object_id: ctx.object_ids.contains(path),
        },
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::UInt8 | DataType::UInt16 => {
            Node::Int32
        }
        DataType::Int64 | DataType::UInt32 => Node::Int64,
        DataType::Float16 | DataType::Float32 | DataType::Float64 => Node::Double,
        DataType::Decimal128(_, scale) => {
            if ctx.limits.ferretdb {
                return Err(bad(format!(
                    "type {} becomes BSON Decimal128, which the server (FerretDB) cannot store; cast it to DOUBLE (inexact) or STRING first",
                    field.data_type()
                )));
            }
            Node::Decimal { scale: *scale }
        }
        DataType::Boolean => Node::Bool,
        DataType::Timestamp(unit, _) => Node::Timestamp(*unit),
        DataType::Date32 => Node::Date32,
        DataType::Date64 => Node::Date64,
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => Node::Binary {
            uuid: ctx.uuids.contains(path),
        },
        DataType::List(element)
        | DataType::LargeList(element)
        | DataType::FixedSizeList(element, _) => {
            if ctx.limits.ferretdb
                && matches!(
                    element.data_type(),
                    DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..)
                )
            {
                return Err(bad(
                    "an array of arrays, which the server (FerretDB) cannot store; flatten it or wrap the inner arrays in structs".into(),
                ));
            }
            // Elements share the array's path, so `objectIdFields`/`uuidFields` reach them.
            let renamed = Field::new(path, element.data_type().clone(), true);
            Node::List(Box::new(compile_element(&renamed, path, ctx)?))
        }
        DataType::Struct(fields) => {
            let mut seen = HashSet::new();
            Node::Struct(
                fields
                    .iter()
                    .map(|f| {
                        if !seen.insert(f.name().as_str()) {
                            return Err(bad(format!("it has two fields named `{}`", f.name())));
                        }
                        let child = format!("{path}.{}", f.name());
                        Ok((f.name().clone(), compile(f, &child, ctx)?))
                    })
                    .collect::<Result<_>>()?,
            )
        }
        DataType::Map(entries, _) => {
            let DataType::Struct(kv) = entries.data_type() else {
                return Err(bad("a map without key and value".into()));
            };
            if kv.len() != 2
                || !matches!(
                    kv[0].data_type(),
                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                )
            {
                return Err(bad(format!(
                    "type {}: only maps with STRING keys become documents",
                    field.data_type()
                )));
            }
            let value = Field::new(path, kv[1].data_type().clone(), true);
            Node::Map(Box::new(compile_element(
                &value,
                &format!("{path}.*"),
                ctx,
            )?))
        }
        other => {
            return Err(bad(format!(
                "type {other} has no BSON counterpart here; cast it to a supported type (string, numbers, boolean, timestamp, date, binary, decimal, array, struct, map<string, …>)"
            )));
        }
    })
}

/// An array element or map value: no own key to check.
fn compile_element(field: &Field, path: &str, ctx: &Ctx<'_>) -> Result<Node> {
    let named = Field::new("element", field.data_type().clone(), true);
    let node = compile(&named, path, ctx)?;
    Ok(node)
}

/// An Arrow decimal (unscaled value and scale) as BSON Decimal128 (IEEE 754-2008, binary
/// integer decimal), `None` when it has more than 34 significant digits.
pub fn decimal128(value: i128, scale: i8) -> Option<Decimal128> {
    let negative = value < 0;
    let mut coefficient = value.unsigned_abs();
    let mut exponent = -i32::from(scale);
    while coefficient >= MAX_COEFFICIENT && coefficient % 10 == 0 {
        coefficient /= 10;
        exponent += 1;
    }
    if coefficient >= MAX_COEFFICIENT {
        return None;
    }
    let biased = u128::try_from(exponent + 6176).ok()?;
    let bits = (u128::from(negative) << 127) | (biased << 113) | coefficient;
    Some(Decimal128::from_bytes(bits.to_le_bytes()))
}

/// A value as relaxed extended JSON, for messages (a document's key).
pub fn show(value: &RawBson) -> String {
    match Bson::try_from(value.clone()) {
        Ok(b) => b.into_relaxed_extjson().to_string(),
        Err(_) => format!("{value:?}"),
    }
}

/// The fields `names` of a document as `{name: value, …}` (relaxed extended JSON).
pub fn key_of(doc: &RawDocument, names: &[String]) -> String {
    let parts: Vec<String> = names
        .iter()
        .map(|n| {
            let v = doc
                .get(n)
                .ok()
                .flatten()
                .map(|v| v.to_raw_bson())
                .map_or_else(|| "(missing)".to_string(), |v| show(&v));
            format!("{n}: {v}")
        })
        .collect();
    format!("{{{}}}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::builder::{Int32Builder, MapBuilder, StringBuilder};
    use arrow_array::{
        ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float64Array,
        Int64Array, ListArray, StringArray, StructArray, TimestampMicrosecondArray,
    };
    use arrow_schema::Fields;
    use mongodb::bson::{Document, doc};

    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> Config {
        let raw: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_lowercase(), v.to_string()))
            .collect();
        Config::parse(&raw).unwrap()
    }

    fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
        RecordBatch::try_from_iter(columns).unwrap()
    }

    fn docs(enc: &Encoder, b: &RecordBatch) -> Vec<Document> {
        (0..b.num_rows())
            .map(|r| enc.document(b, r, |_| true).unwrap().to_document().unwrap())
            .collect()
    }

    #[test]
    fn decimals_are_exact() {
        assert_eq!(decimal128(123, 2).unwrap().to_string(), "1.23");
        assert_eq!(decimal128(-5, 0).unwrap().to_string(), "-5");
        assert_eq!(decimal128(0, 3).unwrap().to_string(), "0.000");
        let big = 10i128.pow(37);
        assert_eq!(
            decimal128(big, 0).unwrap().to_string(),
            "1.000000000000000000000000000000000E+37"
        );
        assert!(decimal128(10i128.pow(37) + 1, 0).is_none());
    }

    #[test]
    fn every_type_of_the_write_map() {
        let b = batch(vec![
            (
                "_id",
                Arc::new(StringArray::from(vec!["5f0c6b2a9d3e4a1b2c3d4e5f", "plain"])) as ArrayRef,
            ),
            ("n", Arc::new(Int64Array::from(vec![Some(1), None]))),
            ("d", Arc::new(Float64Array::from(vec![1.5, -0.25]))),
            ("b", Arc::new(BooleanArray::from(vec![true, false]))),
            (
                "t",
                Arc::new(
                    TimestampMicrosecondArray::from(vec![1_704_164_645_678_999, -1])
                        .with_timezone("UTC"),
                ),
            ),
            ("day", Arc::new(Date32Array::from(vec![1, 0]))),
            (
                "u",
                Arc::new(BinaryArray::from(vec![&[7u8; 16][..], &[1u8, 2][..]])),
            ),
            (
                "dec",
                Arc::new(
                    Decimal128Array::from(vec![1234, -1])
                        .with_precision_and_scale(10, 2)
                        .unwrap(),
                ),
            ),
        ]);
        let c = cfg(&[("uuidFields", "u")]);
        let enc = Encoder::new(&c, &b.schema(), Limits::default()).unwrap();
        let got = docs(&enc, &b);
        let oid = ObjectId::parse_str("5f0c6b2a9d3e4a1b2c3d4e5f").unwrap();
        assert_eq!(got[0].get_object_id("_id").unwrap(), oid);
        assert_eq!(got[1].get_str("_id").unwrap(), "plain");
        assert_eq!(got[0].get_i64("n").unwrap(), 1);
        assert_eq!(got[1].get("n"), Some(&Bson::Null));
        assert_eq!(got[0].get_f64("d").unwrap(), 1.5);
        assert!(got[0].get_bool("b").unwrap());
        assert_eq!(
            got[0].get_datetime("t").unwrap().timestamp_millis(),
            1_704_164_645_678
        );
        assert_eq!(got[1].get_datetime("t").unwrap().timestamp_millis(), -1);
        assert_eq!(
            got[0].get_datetime("day").unwrap().timestamp_millis(),
            86_400_000
        );
        let u = got[0].get_binary_generic("u").err();
        assert!(u.is_some(), "16 bytes of a uuidFields column are a UUID");
        match got[0].get("u") {
            Some(Bson::Binary(bin)) => assert_eq!(bin.subtype, BinarySubtype::Uuid),
            other => panic!("{other:?}"),
        }
        match got[1].get("u") {
            Some(Bson::Binary(bin)) => assert_eq!(bin.subtype, BinarySubtype::Generic),
            other => panic!("{other:?}"),
        }
        match got[0].get("dec") {
            Some(Bson::Decimal128(d)) => assert_eq!(d.to_string(), "12.34"),
            other => panic!("{other:?}"),
        }
        let ignoring = cfg(&[("ignoreNullValues", "true")]);
        let enc = Encoder::new(&ignoring, &b.schema(), Limits::default()).unwrap();
        assert!(!docs(&enc, &b)[1].contains_key("n"));
    }

    #[test]
    fn nested_structs_lists_and_maps() {
        let inner_fields = Fields::from(vec![
            Field::new("ref", DataType::Utf8, true),
            Field::new("w", DataType::Int32, true),
        ]);
        let inner = StructArray::new(
            inner_fields.clone(),
            vec![
                Arc::new(StringArray::from(vec![
                    Some("5f0c6b2a9d3e4a1b2c3d4e5f"),
                    None,
                ])),
                Arc::new(arrow_array::Int32Array::from(vec![1, 2])),
            ],
            None,
        );
        let list = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
            Some(vec![Some(1), None, Some(3)]),
            Some(vec![]),
        ]);
        let mut mb = MapBuilder::new(None, StringBuilder::new(), Int32Builder::new());
        mb.keys().append_value("a");
        mb.values().append_value(1);
        mb.append(true).unwrap();
        mb.append(true).unwrap();
        let b = batch(vec![
            ("s", Arc::new(inner) as ArrayRef),
            ("l", Arc::new(list)),
            ("m", Arc::new(mb.finish())),
        ]);
        let c = cfg(&[("objectIdFields", "s.ref")]);
        let enc = Encoder::new(&c, &b.schema(), Limits::default()).unwrap();
        let got = docs(&enc, &b);
        let s = got[0].get_document("s").unwrap();
        assert!(matches!(s.get("ref"), Some(Bson::ObjectId(_))));
        assert_eq!(
            got[0].get_array("l").unwrap(),
            &vec![Bson::Int32(1), Bson::Null, Bson::Int32(3)]
        );
        assert_eq!(got[0].get_document("m").unwrap(), &doc! {"a": 1});
        assert_eq!(got[1].get_document("m").unwrap(), &doc! {});
        // A sliced batch (as Spark's batches can be) reads each row's own range.
        assert_eq!(docs(&enc, &b.slice(1, 1)), vec![got[1].clone()]);
    }

    #[test]
    fn an_error_inside_nested_values_names_the_whole_path() {
        let c = cfg(&[]);
        let ferret = Limits { ferretdb: true };
        let point = StructArray::new(
            Fields::from(vec![Field::new("x", DataType::Float64, true)]),
            vec![Arc::new(Float64Array::from(vec![1.0, f64::INFINITY]))],
            None,
        );
        let b = batch(vec![("at", Arc::new(point) as ArrayRef)]);
        let enc = Encoder::new(&c, &b.schema(), ferret).unwrap();
        assert!(enc.document(&b, 0, |_| true).is_ok());
        let e = enc.document(&b, 1, |_| true).unwrap_err();
        assert!(e.message().contains("field `at.x`"), "{}", e.message());
    }

    #[test]
    fn ferretdb_limits_are_checked_before_sending() {
        let c = cfg(&[]);
        let ferret = Limits { ferretdb: true };
        let dec = Schema::new(vec![Field::new("price", DataType::Decimal128(10, 2), true)]);
        let e = Encoder::new(&c, &dec, ferret).unwrap_err();
        assert!(e.message().contains("column `price`") && e.message().contains("Decimal128"));
        assert!(Encoder::new(&c, &dec, Limits::default()).is_ok());
        let nested = Schema::new(vec![Field::new(
            "grid",
            DataType::List(Arc::new(Field::new(
                "item",
                DataType::List(Arc::new(Field::new("item", DataType::Int32, true))),
                true,
            ))),
            true,
        )]);
        let e = Encoder::new(&c, &nested, ferret).unwrap_err();
        assert!(e.message().contains("array of arrays"), "{}", e.message());
        let dotted = Schema::new(vec![Field::new("a.b", DataType::Int32, true)]);
        assert!(Encoder::new(&c, &dotted, ferret).is_err());
        let b = batch(vec![(
            "x",
            Arc::new(Float64Array::from(vec![f64::NAN])) as ArrayRef,
        )]);
        let enc = Encoder::new(&c, &b.schema(), ferret).unwrap();
        let e = enc.document(&b, 0, |_| true).unwrap_err();
        assert!(e.message().contains("field `x`") && e.message().contains("NaN"));
        let unsupported = Schema::new(vec![Field::new(
            "i",
            DataType::Interval(arrow_schema::IntervalUnit::DayTime),
            true,
        )]);
        let e = Encoder::new(&c, &unsupported, Limits::default()).unwrap_err();
        assert!(e.message().contains("column `i`"), "{}", e.message());
    }
}
