//! Raw BSON documents → Arrow batches of the schema Spark asked for.
//!
//! A column builder tree is made once from the schema; each document is walked element by
//! element and every element is dispatched to its column by name (the column after the
//! previous one is tried first, since documents mostly keep one field order), so a field
//! is looked up once per document level and strings go straight into the builders' buffers.
//! Conversions are exact (see the type contract in the README); a value that does not
//! convert is malformed and the parse mode decides.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float32Builder,
    Float64Builder, Int8Builder, Int16Builder, Int32Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, ListArray, MapArray, RecordBatch, RecordBatchOptions, StructArray};
use arrow_buffer::{NullBufferBuilder, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, FieldRef, Fields, SchemaRef, TimeUnit};
use mongodb::bson::spec::ElementType;
use mongodb::bson::{Bson, Decimal128, Document, RawBsonRef, RawDocument};
use spark_ds_core::{Error, Result};

use crate::SYSTEM;
use crate::hints::spark_type;
use crate::options::ParseMode;

const MS_PER_DAY: i64 = 86_400_000;

/// A value that did not fit: where, what it was and what was asked.
#[derive(Debug)]
struct Bad {
    /// Path segments, innermost first (added while the error unwinds).
    path: Vec<String>,
    bson: Option<ElementType>,
    spark: String,
}

impl Bad {
    fn at(mut self, segment: &str) -> Bad {
        self.path.push(segment.to_string());
        self
    }
}

/// Per-document state of an append.
struct Ctx {
    /// FAILFAST: the first value that does not fit ends the append.
    strict: bool,
    /// PERMISSIVE: some value was made null.
    malformed: bool,
}

/// Builds one Arrow column from BSON values.
enum Col {
    Utf8(StringBuilder),
    Bool(BooleanBuilder),
    I8(Int8Builder),
    I16(Int16Builder),
    I32(Int32Builder),
    I64(Int64Builder),
    F32(Float32Builder),
    F64(Float64Builder),
    Binary(BinaryBuilder),
    Date(Date32Builder),
    Ts(TimestampMicrosecondBuilder, Option<Arc<str>>),
    Dec(Decimal128Builder, u8, i8),
    List {
        field: FieldRef,
        offsets: Vec<i32>,
        nulls: NullBufferBuilder,
        child: Box<Col>,
    },
    Map {
        entries: FieldRef,
        offsets: Vec<i32>,
        nulls: NullBufferBuilder,
        keys: StringBuilder,
        values: Box<Col>,
    },
    Struct {
        fields: Fields,
        nulls: NullBufferBuilder,
        cols: Cols,
        len: usize,
    },
}

/// The columns of one document level, found by field name.
struct Cols {
    names: Vec<Box<str>>,
    index: HashMap<Box<str>, usize>,
    children: Vec<Col>,
    /// Scratch: which columns the current document set.
    seen: Vec<bool>,
    /// The corrupt-record column (top level only): never filled from a field.
    skip: Option<usize>,
}

fn unsupported(path: &str, dt: &DataType) -> Error {
    Error::config(
        SYSTEM,
        format!(
            "field `{path}` has type {}, which MongoDB reads cannot produce; use STRING, BOOLEAN, TINYINT, SMALLINT, INT, BIGINT, FLOAT, DOUBLE, DECIMAL, BINARY, DATE, TIMESTAMP, TIMESTAMP_NTZ, ARRAY, STRUCT or MAP<STRING, …>",
            spark_type(dt)
        ),
    )
}

impl Cols {
    fn new(fields: &Fields, prefix: &str, skip: Option<usize>) -> Result<Cols> {
        let mut children = Vec::with_capacity(fields.len());
        for (i, f) in fields.iter().enumerate() {
            let path = if prefix.is_empty() {
                f.name().clone()
            } else {
                format!("{prefix}.{}", f.name())
            };
            children.push(if Some(i) == skip {
                Col::Utf8(StringBuilder::new())
            } else {
                Col::new(f.data_type(), &path)?
            });
        }
        let names: Vec<Box<str>> = fields.iter().map(|f| f.name().as_str().into()).collect();
        let mut index = HashMap::with_capacity(names.len());
        for (i, n) in names.iter().enumerate() {
            index.entry(n.clone()).or_insert(i);
        }
        Ok(Cols {
            seen: vec![false; names.len()],
            names,
            index,
            children,
            skip,
        })
    }

    #[inline]
    fn find(&self, key: &str, hint: usize) -> Option<usize> {
        if self.names.get(hint).is_some_and(|n| &**n == key) {
            return Some(hint);
        }
        self.index.get(key).copied()
    }

    /// Appends one document's fields; columns it lacks get null.
    fn append_doc(&mut self, d: &RawDocument, ctx: &mut Ctx) -> Result<(), Bad> {
        self.seen.fill(false);
        let mut hint = 0;
        for el in d.iter_elements() {
            let el = match el {
                Ok(el) => el,
                Err(_) => {
                    // A document the server sent cannot be cut short; should it be, the
                    // rest of it is unreadable and its columns stay null.
                    if ctx.strict {
                        return Err(Bad {
                            path: Vec::new(),
                            bson: None,
                            spark: "a valid BSON document".into(),
                        });
                    }
                    ctx.malformed = true;
                    break;
                }
            };
            let key = el.key();
            let Some(i) = self.find(key, hint) else {
                continue;
            };
            hint = i + 1;
            if self.seen[i] || Some(i) == self.skip {
                continue;
            }
            self.seen[i] = true;
            let r = match el.value() {
                Ok(v) => self.children[i].append(v, ctx),
                Err(_) => self.children[i].bad_value(None, ctx),
            };
            r.map_err(|b| b.at(key))?;
        }
        for (i, seen) in self.seen.iter().enumerate() {
            if !seen && Some(i) != self.skip {
                self.children[i].append_null();
            }
        }
        Ok(())
    }

    /// Whether every field of the document converts (DROPMALFORMED checks before appending).
    fn fits_doc(&self, d: &RawDocument) -> bool {
        let mut hint = 0;
        for el in d.iter_elements() {
            let Ok(el) = el else { return false };
            let Some(i) = self.find(el.key(), hint) else {
                continue;
            };
            hint = i + 1;
            if Some(i) == self.skip {
                continue;
            }
            match el.value() {
                Ok(v) if self.children[i].fits(v) => {}
                _ => return false,
            }
        }
        true
    }
}

fn offsets_buffer(offsets: &mut Vec<i32>) -> OffsetBuffer<i32> {
    let last = *offsets.last().unwrap_or(&0);
    let taken = std::mem::replace(offsets, vec![0]);
    debug_assert!(last >= 0);
    OffsetBuffer::new(ScalarBuffer::from(taken))
}

impl Col {
    fn new(dt: &DataType, path: &str) -> Result<Col> {
        Ok(match dt {
            DataType::Utf8 => Col::Utf8(StringBuilder::new()),
            DataType::Boolean => Col::Bool(BooleanBuilder::new()),
            DataType::Int8 => Col::I8(Int8Builder::new()),
            DataType::Int16 => Col::I16(Int16Builder::new()),
            DataType::Int32 => Col::I32(Int32Builder::new()),
            DataType::Int64 => Col::I64(Int64Builder::new()),
            DataType::Float32 => Col::F32(Float32Builder::new()),
            DataType::Float64 => Col::F64(Float64Builder::new()),
            DataType::Binary => Col::Binary(BinaryBuilder::new()),
            DataType::Date32 => Col::Date(Date32Builder::new()),
            DataType::Timestamp(TimeUnit::Microsecond, tz) => Col::Ts(
                TimestampMicrosecondBuilder::new().with_timezone_opt(tz.clone()),
                tz.clone(),
            ),
            DataType::Decimal128(p, s) if (1..=38).contains(p) && *s >= 0 && (*s as u8) <= *p => {
                Col::Dec(
                    Decimal128Builder::new()
                        .with_precision_and_scale(*p, *s)
                        .map_err(|_| unsupported(path, dt))?,
                    *p,
                    *s,
                )
            }
            DataType::List(field) => Col::List {
                field: field.clone(),
                offsets: vec![0],
                nulls: NullBufferBuilder::new(0),
                child: Box::new(Col::new(field.data_type(), &format!("{path}[]"))?),
            },
            DataType::Map(entries, _) => match entries.data_type() {
                DataType::Struct(kv) if kv.len() == 2 && kv[0].data_type() == &DataType::Utf8 => {
                    Col::Map {
                        entries: entries.clone(),
                        offsets: vec![0],
                        nulls: NullBufferBuilder::new(0),
                        keys: StringBuilder::new(),
                        values: Box::new(Col::new(kv[1].data_type(), &format!("{path}{{}}"))?),
                    }
                }
                _ => return Err(unsupported(path, dt)),
            },
            DataType::Struct(fields) => Col::Struct {
                fields: fields.clone(),
                nulls: NullBufferBuilder::new(0),
                cols: Cols::new(fields, path, None)?,
                len: 0,
            },
            _ => return Err(unsupported(path, dt)),
        })
    }

    fn data_type(&self) -> DataType {
        match self {
            Col::Utf8(_) => DataType::Utf8,
            Col::Bool(_) => DataType::Boolean,
            Col::I8(_) => DataType::Int8,
            Col::I16(_) => DataType::Int16,
            Col::I32(_) => DataType::Int32,
            Col::I64(_) => DataType::Int64,
            Col::F32(_) => DataType::Float32,
            Col::F64(_) => DataType::Float64,
            Col::Binary(_) => DataType::Binary,
            Col::Date(_) => DataType::Date32,
            Col::Ts(_, tz) => DataType::Timestamp(TimeUnit::Microsecond, tz.clone()),
            Col::Dec(_, p, s) => DataType::Decimal128(*p, *s),
            Col::List { field, .. } => DataType::List(field.clone()),
            Col::Map { entries, .. } => DataType::Map(entries.clone(), false),
            Col::Struct { fields, .. } => DataType::Struct(fields.clone()),
        }
    }

    fn append_null(&mut self) {
        match self {
            Col::Utf8(b) => b.append_null(),
            Col::Bool(b) => b.append_null(),
            Col::I8(b) => b.append_null(),
            Col::I16(b) => b.append_null(),
            Col::I32(b) => b.append_null(),
            Col::I64(b) => b.append_null(),
            Col::F32(b) => b.append_null(),
            Col::F64(b) => b.append_null(),
            Col::Binary(b) => b.append_null(),
            Col::Date(b) => b.append_null(),
            Col::Ts(b, _) => b.append_null(),
            Col::Dec(b, ..) => b.append_null(),
            Col::List { offsets, nulls, .. } | Col::Map { offsets, nulls, .. } => {
                offsets.push(*offsets.last().unwrap_or(&0));
                nulls.append_null();
            }
            Col::Struct {
                nulls, cols, len, ..
            } => {
                for c in &mut cols.children {
                    c.append_null();
                }
                nulls.append_null();
                *len += 1;
            }
        }
    }

    /// A value that does not fit: null in PERMISSIVE, an error in FAILFAST.
    fn bad_value(&mut self, bson: Option<ElementType>, ctx: &mut Ctx) -> Result<(), Bad> {
        if ctx.strict {
            return Err(Bad {
                path: Vec::new(),
                bson,
                spark: spark_type(&self.data_type()),
            });
        }
        ctx.malformed = true;
        self.append_null();
        Ok(())
    }

    fn append(&mut self, v: RawBsonRef<'_>, ctx: &mut Ctx) -> Result<(), Bad> {
        if matches!(v, RawBsonRef::Null | RawBsonRef::Undefined) {
            self.append_null();
            return Ok(());
        }
        let ok = match self {
            Col::Utf8(b) => {
                write_text(b, v);
                true
            }
            Col::Bool(b) => put(b, as_bool(v)),
            Col::I8(b) => put(b, as_i64(v).and_then(|i| i8::try_from(i).ok())),
            Col::I16(b) => put(b, as_i64(v).and_then(|i| i16::try_from(i).ok())),
            Col::I32(b) => put(b, as_i64(v).and_then(|i| i32::try_from(i).ok())),
            Col::I64(b) => put(b, as_i64(v)),
            Col::F32(b) => put(b, as_f32(v)),
            Col::F64(b) => put(b, as_f64(v)),
            Col::Binary(b) => match v {
                RawBsonRef::Binary(bin) => {
                    b.append_value(bin.bytes);
                    true
                }
                _ => false,
            },
            Col::Date(b) => put(b, as_date(v)),
            Col::Ts(b, _) => put(b, as_micros(v)),
            Col::Dec(b, p, s) => put(b, as_decimal(v, *p, *s)),
            Col::List {
                offsets,
                nulls,
                child,
                ..
            } => match v {
                RawBsonRef::Array(a) => {
                    let mut n: i32 = 0;
                    for (i, item) in a.into_iter().enumerate() {
                        let r = match item {
                            Ok(item) => child.append(item, ctx),
                            Err(_) => child.bad_value(None, ctx),
                        };
                        r.map_err(|b| b.at(&format!("[{i}]")))?;
                        n += 1;
                    }
                    offsets.push(offsets.last().unwrap_or(&0) + n);
                    nulls.append_non_null();
                    true
                }
                _ => false,
            },
            Col::Map {
                offsets,
                nulls,
                keys,
                values,
                ..
            } => match v {
                RawBsonRef::Document(d) => {
                    let mut n: i32 = 0;
                    for el in d.iter_elements() {
                        let Ok(el) = el else {
                            if ctx.strict {
                                return Err(Bad {
                                    path: Vec::new(),
                                    bson: None,
                                    spark: "a valid BSON document".into(),
                                });
                            }
                            ctx.malformed = true;
                            break;
                        };
                        keys.append_value(el.key());
                        let r = match el.value() {
                            Ok(item) => values.append(item, ctx),
                            Err(_) => values.bad_value(None, ctx),
                        };
                        r.map_err(|b| b.at(el.key()))?;
                        n += 1;
                    }
                    offsets.push(offsets.last().unwrap_or(&0) + n);
                    nulls.append_non_null();
                    true
                }
                _ => false,
            },
            Col::Struct {
                nulls, cols, len, ..
            } => match v {
                RawBsonRef::Document(d) => {
                    cols.append_doc(d, ctx)?;
                    nulls.append_non_null();
                    *len += 1;
                    true
                }
                _ => false,
            },
        };
        if ok {
            Ok(())
        } else {
            self.bad_value(Some(v.element_type()), ctx)
        }
    }

    /// Whether the value converts (nothing is appended).
    fn fits(&self, v: RawBsonRef<'_>) -> bool {
        if matches!(v, RawBsonRef::Null | RawBsonRef::Undefined) {
            return true;
        }
        match self {
            Col::Utf8(_) => true,
            Col::Bool(_) => as_bool(v).is_some(),
            Col::I8(_) => as_i64(v).is_some_and(|i| i8::try_from(i).is_ok()),
            Col::I16(_) => as_i64(v).is_some_and(|i| i16::try_from(i).is_ok()),
            Col::I32(_) => as_i64(v).is_some_and(|i| i32::try_from(i).is_ok()),
            Col::I64(_) => as_i64(v).is_some(),
            Col::F32(_) => as_f32(v).is_some(),
            Col::F64(_) => as_f64(v).is_some(),
            Col::Binary(_) => matches!(v, RawBsonRef::Binary(_)),
            Col::Date(_) => as_date(v).is_some(),
            Col::Ts(..) => as_micros(v).is_some(),
            Col::Dec(_, p, s) => as_decimal(v, *p, *s).is_some(),
            Col::List { child, .. } => match v {
                RawBsonRef::Array(a) => a
                    .into_iter()
                    .all(|item| item.is_ok_and(|item| child.fits(item))),
                _ => false,
            },
            Col::Map { values, .. } => match v {
                RawBsonRef::Document(d) => d
                    .iter()
                    .all(|el| el.is_ok_and(|(_, item)| values.fits(item))),
                _ => false,
            },
            Col::Struct { cols, .. } => match v {
                RawBsonRef::Document(d) => cols.fits_doc(d),
                _ => false,
            },
        }
    }

    fn finish(&mut self) -> Result<ArrayRef, arrow_schema::ArrowError> {
        Ok(match self {
            Col::Utf8(b) => Arc::new(b.finish()),
            Col::Bool(b) => Arc::new(b.finish()),
            Col::I8(b) => Arc::new(b.finish()),
            Col::I16(b) => Arc::new(b.finish()),
            Col::I32(b) => Arc::new(b.finish()),
            Col::I64(b) => Arc::new(b.finish()),
            Col::F32(b) => Arc::new(b.finish()),
            Col::F64(b) => Arc::new(b.finish()),
            Col::Binary(b) => Arc::new(b.finish()),
            Col::Date(b) => Arc::new(b.finish()),
            Col::Ts(b, _) => Arc::new(b.finish()),
            Col::Dec(b, ..) => Arc::new(b.finish()),
            Col::List {
                field,
                offsets,
                nulls,
                child,
            } => Arc::new(ListArray::try_new(
                field.clone(),
                offsets_buffer(offsets),
                child.finish()?,
                nulls.finish(),
            )?),
            Col::Map {
                entries,
                offsets,
                nulls,
                keys,
                values,
            } => {
                let DataType::Struct(kv) = entries.data_type() else {
                    unreachable!("map entries are a struct (checked in Col::new)")
                };
                let entry_values = StructArray::try_new(
                    kv.clone(),
                    vec![Arc::new(keys.finish()), values.finish()?],
                    None,
                )?;
                Arc::new(MapArray::try_new(
                    entries.clone(),
                    offsets_buffer(offsets),
                    entry_values,
                    nulls.finish(),
                    false,
                )?)
            }
            Col::Struct {
                fields,
                nulls,
                cols,
                len,
            } => {
                let n = std::mem::take(len);
                let nulls = nulls.finish();
                if fields.is_empty() {
                    Arc::new(StructArray::new_empty_fields(n, nulls))
                } else {
                    let arrays = cols
                        .children
                        .iter_mut()
                        .map(Col::finish)
                        .collect::<Result<Vec<_>, _>>()?;
                    Arc::new(StructArray::try_new(fields.clone(), arrays, nulls)?)
                }
            }
        })
    }
}

trait Put<T> {
    fn put(&mut self, v: T);
}

macro_rules! put_impl {
    ($($b:ty => $t:ty),*) => {$(
        impl Put<$t> for $b {
            #[inline]
            fn put(&mut self, v: $t) {
                self.append_value(v)
            }
        }
    )*};
}

put_impl!(BooleanBuilder => bool, Int8Builder => i8, Int16Builder => i16, Int32Builder => i32,
    Int64Builder => i64, Float32Builder => f32, Float64Builder => f64, Date32Builder => i32,
    TimestampMicrosecondBuilder => i64, Decimal128Builder => i128);

#[inline]
fn put<T, B: Put<T>>(b: &mut B, v: Option<T>) -> bool {
    match v {
        Some(v) => {
            b.put(v);
            true
        }
        None => false,
    }
}

fn as_bool(v: RawBsonRef<'_>) -> Option<bool> {
    match v {
        RawBsonRef::Boolean(b) => Some(b),
        _ => None,
    }
}

/// -2^63 and 2^63 as doubles: the range a double must be in to be an i64.
const I64_LOW: f64 = -9_223_372_036_854_775_808.0;
const I64_HIGH: f64 = 9_223_372_036_854_775_808.0;

fn as_i64(v: RawBsonRef<'_>) -> Option<i64> {
    match v {
        RawBsonRef::Int32(i) => Some(i.into()),
        RawBsonRef::Int64(i) => Some(i),
        RawBsonRef::Double(f) if f.fract() == 0.0 && (I64_LOW..I64_HIGH).contains(&f) => {
            Some(f as i64)
        }
        RawBsonRef::Decimal128(d) => {
            let (unscaled, scale) = decimal_parts(&d)?;
            i64::try_from(rescale(unscaled, scale, 0)?).ok()
        }
        _ => None,
    }
}

fn as_f64(v: RawBsonRef<'_>) -> Option<f64> {
    match v {
        RawBsonRef::Double(f) => Some(f),
        RawBsonRef::Int32(i) => Some(i.into()),
        // Exact only: 2^53 + 1 has no double.
        RawBsonRef::Int64(i) => {
            let f = i as f64;
            (f as i128 == i as i128).then_some(f)
        }
        RawBsonRef::Decimal128(d) => decimal_to_f64(&d),
        _ => None,
    }
}

fn as_f32(v: RawBsonRef<'_>) -> Option<f32> {
    match v {
        // Decimals are approximate in any binary float, as into DOUBLE.
        RawBsonRef::Decimal128(d) => decimal_to_f64(&d).map(|f| f as f32),
        _ => {
            let f = as_f64(v)?;
            let g = f as f32;
            (f64::from(g) == f || f.is_nan()).then_some(g)
        }
    }
}

fn decimal_to_f64(d: &Decimal128) -> Option<f64> {
    let (unscaled, scale) = decimal_parts(d)?;
    // Through text, so the double is the correctly rounded one.
    format!("{unscaled}e{}", -scale).parse().ok()
}

fn as_micros(v: RawBsonRef<'_>) -> Option<i64> {
    match v {
        RawBsonRef::DateTime(d) => d.timestamp_millis().checked_mul(1000),
        RawBsonRef::Timestamp(t) => Some(i64::from(t.time) * 1_000_000),
        _ => None,
    }
}

fn as_date(v: RawBsonRef<'_>) -> Option<i32> {
    let ms = match v {
        RawBsonRef::DateTime(d) => d.timestamp_millis(),
        _ => return None,
    };
    // Exact only: a DATE holds midnight UTC.
    (ms % MS_PER_DAY == 0)
        .then(|| i32::try_from(ms / MS_PER_DAY).ok())
        .flatten()
}

fn as_decimal(v: RawBsonRef<'_>, precision: u8, scale: i8) -> Option<i128> {
    let (unscaled, from_scale) = match v {
        RawBsonRef::Int32(i) => (i128::from(i), 0),
        RawBsonRef::Int64(i) => (i128::from(i), 0),
        RawBsonRef::Decimal128(d) => decimal_parts(&d)?,
        RawBsonRef::Double(f) if f.is_finite() => double_parts(f)?,
        _ => return None,
    };
    let value = rescale(unscaled, from_scale, i32::from(scale))?;
    (value.unsigned_abs() < 10u128.pow(u32::from(precision))).then_some(value)
}

/// The shortest decimal that reads back as the double (what it prints as).
fn double_parts(f: f64) -> Option<(i128, i32)> {
    let text = format!("{f:e}");
    let (mantissa, exp) = text.split_once('e')?;
    let exp: i32 = exp.parse().ok()?;
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits: i128 = format!("{int}{frac}").parse().ok()?;
    Some((digits, frac.len() as i32 - exp))
}

/// `unscaled × 10^-from` as a number of scale `to`, or `None` when digits would be lost.
fn rescale(unscaled: i128, from: i32, to: i32) -> Option<i128> {
    if to >= from {
        let k = u32::try_from(to - from).ok()?;
        unscaled.checked_mul(10i128.checked_pow(k)?)
    } else {
        let k = u32::try_from(from - to).ok()?;
        match 10i128.checked_pow(k) {
            Some(m) => (unscaled % m == 0).then_some(unscaled / m),
            // Dividing by more than i128 holds: only zero stays exact.
            None => (unscaled == 0).then_some(0),
        }
    }
}

/// A finite Decimal128 as (signed coefficient, scale): value = coefficient × 10^-scale.
/// `None` for NaN and ±Infinity.
pub(crate) fn decimal_parts(d: &Decimal128) -> Option<(i128, i32)> {
    const BIAS: i32 = 6176;
    const MAX_COEFFICIENT: u128 = 10u128.pow(34) - 1;
    let bits = u128::from_le_bytes(d.bytes());
    let negative = bits >> 127 == 1;
    let (exponent, coefficient) = if (bits >> 125) & 0b11 == 0b11 {
        if (bits >> 123) & 0b11 == 0b11 {
            return None; // Infinity or NaN
        }
        // The long form holds coefficients above 10^34: non-canonical, read as zero.
        (((bits >> 111) & 0x3fff) as i32, 0u128)
    } else {
        let c = bits & ((1u128 << 113) - 1);
        (
            ((bits >> 113) & 0x3fff) as i32,
            if c > MAX_COEFFICIENT { 0 } else { c },
        )
    };
    let c = coefficient as i128;
    Some((if negative { -c } else { c }, BIAS - exponent))
}

/// Any BSON value's text: strings as they are, numbers and bools as text, dates as
/// ISO-8601 UTC, ObjectIds as hex, documents and arrays as relaxed extended JSON.
fn write_text(b: &mut StringBuilder, v: RawBsonRef<'_>) {
    // Writing into the builder needs no temporary string; `append_value("")` ends the value.
    let _ = match v {
        RawBsonRef::String(s) | RawBsonRef::Symbol(s) | RawBsonRef::JavaScriptCode(s) => {
            b.write_str(s)
        }
        RawBsonRef::JavaScriptCodeWithScope(c) => b.write_str(c.code),
        RawBsonRef::Int32(i) => write!(b, "{i}"),
        RawBsonRef::Int64(i) => write!(b, "{i}"),
        RawBsonRef::Double(f) => write_double(b, f),
        RawBsonRef::Boolean(x) => b.write_str(if x { "true" } else { "false" }),
        RawBsonRef::DateTime(d) => write_iso(b, d.timestamp_millis()),
        RawBsonRef::Timestamp(t) => write_iso(b, i64::from(t.time) * 1000),
        RawBsonRef::ObjectId(oid) => write_oid(b, &oid.bytes()),
        RawBsonRef::Decimal128(d) => write!(b, "{d}"),
        RawBsonRef::RegularExpression(r) => write!(b, "/{}/{}", r.pattern, r.options),
        RawBsonRef::MinKey => b.write_str("MinKey"),
        RawBsonRef::MaxKey => b.write_str("MaxKey"),
        RawBsonRef::Null | RawBsonRef::Undefined => Ok(()),
        RawBsonRef::Document(_)
        | RawBsonRef::Array(_)
        | RawBsonRef::Binary(_)
        | RawBsonRef::DbPointer(_) => b.write_str(&relaxed_json(v)),
    };
    b.append_value("");
}

/// Relaxed extended JSON of a value (conflicts and corrupt records; not the hot path).
fn relaxed_json(v: RawBsonRef<'_>) -> String {
    match Bson::try_from(v) {
        Ok(b) => b.into_relaxed_extjson().to_string(),
        Err(e) => format!("<invalid BSON: {e}>"),
    }
}

fn document_json(d: &RawDocument) -> String {
    match Document::try_from(d) {
        Ok(doc) => Bson::Document(doc).into_relaxed_extjson().to_string(),
        Err(e) => format!("<invalid BSON: {e}>"),
    }
}

/// 24 lowercase hex digits, without a temporary string.
fn write_oid(b: &mut StringBuilder, bytes: &[u8; 12]) -> std::fmt::Result {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 24];
    for (i, byte) in bytes.iter().enumerate() {
        out[2 * i] = HEX[usize::from(byte >> 4)];
        out[2 * i + 1] = HEX[usize::from(byte & 0xf)];
    }
    // Hex digits are ASCII.
    b.write_str(std::str::from_utf8(&out).unwrap_or_default())
}

/// Doubles as Spark prints them where Rust differs: `1.0`, `NaN`, `Infinity`.
fn write_double(b: &mut StringBuilder, f: f64) -> std::fmt::Result {
    if f.is_nan() {
        b.write_str("NaN")
    } else if f.is_infinite() {
        b.write_str(if f > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        write!(b, "{f:?}")
    }
}

/// `2024-01-02T03:04:05.678Z` (UTC, milliseconds).
fn write_iso(b: &mut impl std::fmt::Write, ms: i64) -> std::fmt::Result {
    let days = ms.div_euclid(MS_PER_DAY);
    let rem = ms.rem_euclid(MS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    write!(
        b,
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

/// Days since 1970-01-01 → proleptic Gregorian (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn element_name(t: Option<ElementType>) -> &'static str {
    match t {
        None => "invalid BSON",
        Some(t) => match t {
            ElementType::Double => "double",
            ElementType::String => "string",
            ElementType::EmbeddedDocument => "document",
            ElementType::Array => "array",
            ElementType::Binary => "binary",
            ElementType::Undefined => "undefined",
            ElementType::ObjectId => "objectId",
            ElementType::Boolean => "bool",
            ElementType::DateTime => "date",
            ElementType::Null => "null",
            ElementType::RegularExpression => "regex",
            ElementType::DbPointer => "dbPointer",
            ElementType::JavaScriptCode => "javascript",
            ElementType::Symbol => "symbol",
            ElementType::JavaScriptCodeWithScope => "javascriptWithScope",
            ElementType::Int32 => "int",
            ElementType::Timestamp => "timestamp",
            ElementType::Int64 => "long",
            ElementType::Decimal128 => "decimal",
            ElementType::MaxKey => "maxKey",
            ElementType::MinKey => "minKey",
        },
    }
}

/// Builds Arrow batches of one schema from raw documents.
pub struct BatchBuilder {
    schema: SchemaRef,
    mode: ParseMode,
    cols: Cols,
    /// Index of the corrupt-record column when it is in the schema.
    corrupt: Option<usize>,
    rows: usize,
    malformed: u64,
}

impl BatchBuilder {
    /// Builds batches of exactly `schema` (types as Spark's to_arrow_schema makes them:
    /// Utf8, Timestamp(Microsecond, tz) with whatever tz label the schema carries).
    pub fn new(
        schema: SchemaRef,
        mode: ParseMode,
        corrupt_column: Option<&str>,
    ) -> Result<BatchBuilder> {
        let corrupt = corrupt_column.and_then(|c| schema.index_of(c).ok());
        if let Some(i) = corrupt {
            let f = schema.field(i);
            if f.data_type() != &DataType::Utf8 {
                return Err(Error::config(
                    SYSTEM,
                    format!(
                        "option `columnNameOfCorruptRecord`: column `{}` must be STRING, the schema gives {}",
                        f.name(),
                        spark_type(f.data_type())
                    ),
                ));
            }
        }
        let cols = Cols::new(schema.fields(), "", corrupt)?;
        Ok(BatchBuilder {
            schema,
            mode,
            cols,
            corrupt,
            rows: 0,
            malformed: 0,
        })
    }

    /// Appends one document; `Ok(false)` when it was dropped (DROPMALFORMED); `Err` in
    /// FAILFAST (the builder is not to be used after that).
    pub fn append(&mut self, doc: &RawDocument) -> Result<bool> {
        if self.mode == ParseMode::DropMalformed && !self.cols.fits_doc(doc) {
            self.malformed += 1;
            return Ok(false);
        }
        let mut ctx = Ctx {
            strict: self.mode == ParseMode::FailFast,
            malformed: false,
        };
        if let Err(bad) = self.cols.append_doc(doc, &mut ctx) {
            return Err(self.failfast_error(doc, bad));
        }
        if let Some(i) = self.corrupt {
            let Col::Utf8(b) = &mut self.cols.children[i] else {
                unreachable!("the corrupt-record column is a string column")
            };
            if ctx.malformed {
                b.append_value(document_json(doc));
            } else {
                b.append_null();
            }
        }
        if ctx.malformed {
            self.malformed += 1;
        }
        self.rows += 1;
        Ok(true)
    }

    fn failfast_error(&self, doc: &RawDocument, mut bad: Bad) -> Error {
        bad.path.reverse();
        let mut path = String::new();
        for segment in &bad.path {
            if !path.is_empty() && !segment.starts_with('[') {
                path.push('.');
            }
            path.push_str(segment);
        }
        let id = match doc.get("_id") {
            Ok(Some(v)) => relaxed_json(v),
            _ => "(none)".into(),
        };
        Error::data(
            SYSTEM,
            "read",
            format!(
                "document _id {id}: field `{path}` holds a BSON {} value that does not convert to {} (option `mode` is FAILFAST; PERMISSIVE reads it as null, DROPMALFORMED skips the document)",
                element_name(bad.bson),
                bad.spark
            ),
        )
    }

    /// Rows appended since the last finish.
    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// The rows appended since the last finish, as one batch (the builder is reused).
    pub fn finish(&mut self) -> Result<RecordBatch> {
        let rows = std::mem::take(&mut self.rows);
        let internal = |e: arrow_schema::ArrowError| {
            Error::internal(SYSTEM, "read", format!("cannot assemble a batch: {e}"))
        };
        let columns = self
            .cols
            .children
            .iter_mut()
            .map(Col::finish)
            .collect::<Result<Vec<_>, _>>()
            .map_err(internal)?;
        RecordBatch::try_new_with_options(
            self.schema.clone(),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )
        .map_err(internal)
    }

    /// Documents dropped (DROPMALFORMED) or made partly null (PERMISSIVE) so far.
    pub fn malformed(&self) -> u64 {
        self.malformed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hints;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{
        Date32Type, Decimal128Type, Float32Type, Float64Type, Int8Type, Int32Type, Int64Type,
        TimestampMicrosecondType,
    };
    use arrow_array::{Array, RecordBatch};
    use arrow_schema::{Field, Schema};
    use mongodb::bson::spec::BinarySubtype;
    use mongodb::bson::{
        Binary, DateTime, RawBson, RawDocumentBuf, RawJavaScriptCodeWithScope, Regex, Timestamp,
        oid::ObjectId, rawdoc,
    };
    use spark_ds_core::ErrorKind;

    fn dec(s: &str) -> Decimal128 {
        s.parse().unwrap()
    }

    fn builder(ddl: &str, mode: ParseMode, corrupt: Option<&str>) -> BatchBuilder {
        BatchBuilder::new(Arc::new(hints::parse(ddl).unwrap()), mode, corrupt).unwrap()
    }

    fn read(ddl: &str, docs: &[RawDocumentBuf]) -> RecordBatch {
        let mut b = builder(ddl, ParseMode::FailFast, None);
        for d in docs {
            assert!(b.append(d).unwrap());
        }
        assert_eq!(b.len(), docs.len());
        b.finish().unwrap()
    }

    fn strings(batch: &RecordBatch, col: &str) -> Vec<Option<String>> {
        batch
            .column_by_name(col)
            .unwrap()
            .as_string::<i32>()
            .iter()
            .map(|s| s.map(str::to_string))
            .collect()
    }

    /// The document with a DBPointer field appended (the crate has no public constructor).
    fn with_db_pointer(d: RawDocumentBuf, key: &str, oid: &ObjectId) -> RawDocumentBuf {
        let mut bytes = d.into_bytes();
        bytes.pop();
        bytes.push(0x0C);
        bytes.extend(key.as_bytes());
        bytes.push(0);
        bytes.extend(5_i32.to_le_bytes());
        bytes.extend(b"db.c\0");
        bytes.extend(oid.bytes());
        bytes.push(0);
        let len = bytes.len() as i32;
        bytes[..4].copy_from_slice(&len.to_le_bytes());
        RawDocumentBuf::from_bytes(bytes).unwrap()
    }

    #[test]
    fn every_bson_type_into_its_inferred_type() {
        let oid = ObjectId::parse_str("65a1b2c3d4e5f60718293a4b").unwrap();
        let d = rawdoc! {
            "_id": oid, "dbl": 1.5, "s": "héllo", "sym": RawBson::Symbol("sy".into()),
            "doc": { "a": 1_i32, "b": "c" }, "arr": [1_i32, 2_i32],
            "bin": Binary { subtype: BinarySubtype::Generic, bytes: vec![1, 2] },
            "uuid": Binary { subtype: BinarySubtype::Uuid, bytes: vec![7; 16] },
            "old": Binary { subtype: BinarySubtype::UuidOld, bytes: vec![8; 16] },
            "b": true, "date": DateTime::from_millis(1_704_164_645_678),
            "nul": RawBson::Null, "re": Regex { pattern: "^a.*".into(), options: "im".into() },
            "js": RawBson::JavaScriptCode("f()".into()),
            "jss": RawJavaScriptCodeWithScope { code: "g()".into(), scope: rawdoc! {"x": 1} },
            "i": 1_i32, "l": 2_i64, "ts": Timestamp { time: 1_700_000_000, increment: 2 },
            "dec": dec("-12.345"), "min": RawBson::MinKey, "max": RawBson::MaxKey,
            "undef": RawBson::Undefined, "empty": [],
        };
        let d = with_db_pointer(d, "ptr", &oid);
        let schema = crate::infer::infer(std::slice::from_ref(&d), None);
        let mut b = BatchBuilder::new(Arc::new(schema), ParseMode::FailFast, None).unwrap();
        assert!(b.append(&d).unwrap());
        let batch = b.finish().unwrap();
        let s = |c: &str| strings(&batch, c)[0].clone();
        assert_eq!(s("_id").as_deref(), Some("65a1b2c3d4e5f60718293a4b"));
        assert_eq!(s("s").as_deref(), Some("héllo"));
        assert_eq!(s("sym").as_deref(), Some("sy"));
        assert_eq!(s("re").as_deref(), Some("/^a.*/im"));
        assert_eq!(s("js").as_deref(), Some("f()"));
        assert_eq!(s("jss").as_deref(), Some("g()"));
        assert_eq!(s("min").as_deref(), Some("MinKey"));
        assert_eq!(s("max").as_deref(), Some("MaxKey"));
        assert_eq!(s("nul"), None);
        assert_eq!(s("undef"), None);
        assert!(s("ptr").unwrap().contains("$dbPointer"), "{:?}", s("ptr"));
        let col = |c: &str| batch.column_by_name(c).unwrap().clone();
        assert_eq!(col("dbl").as_primitive::<Float64Type>().value(0), 1.5);
        assert!(col("b").as_boolean().value(0));
        assert_eq!(col("i").as_primitive::<Int32Type>().value(0), 1);
        assert_eq!(col("l").as_primitive::<Int64Type>().value(0), 2);
        assert_eq!(col("bin").as_binary::<i32>().value(0), &[1, 2]);
        assert_eq!(col("uuid").as_binary::<i32>().value(0), &[7; 16]);
        assert_eq!(col("old").as_binary::<i32>().value(0), &[8; 16]);
        let date = col("date");
        assert_eq!(date.data_type(), &hints::timestamp());
        assert_eq!(
            date.as_primitive::<TimestampMicrosecondType>().value(0),
            1_704_164_645_678_000
        );
        assert_eq!(
            col("ts")
                .as_primitive::<TimestampMicrosecondType>()
                .value(0),
            1_700_000_000_000_000
        );
        let d = col("dec");
        assert_eq!(d.data_type(), &DataType::Decimal128(5, 3));
        assert_eq!(d.as_primitive::<Decimal128Type>().value(0), -12345);
        let st = col("doc");
        let st = st.as_struct();
        assert_eq!(
            st.column_by_name("a")
                .unwrap()
                .as_primitive::<Int32Type>()
                .value(0),
            1
        );
        assert_eq!(
            st.column_by_name("b").unwrap().as_string::<i32>().value(0),
            "c"
        );
        let arr = col("arr");
        let arr = arr.as_list::<i32>().value(0);
        assert_eq!(arr.as_primitive::<Int32Type>().values(), &[1, 2]);
        let empty = col("empty");
        assert_eq!(empty.as_list::<i32>().value(0).len(), 0);
        assert!(!empty.is_null(0));
    }

    #[test]
    fn anything_reads_as_string() {
        let oid = ObjectId::parse_str("65a1b2c3d4e5f60718293a4b").unwrap();
        let docs = [
            rawdoc! { "v": 42_i32 },
            rawdoc! { "v": -7_i64 },
            rawdoc! { "v": 1.0 },
            rawdoc! { "v": 0.1 },
            rawdoc! { "v": f64::NAN },
            rawdoc! { "v": f64::NEG_INFINITY },
            rawdoc! { "v": true },
            rawdoc! { "v": DateTime::from_millis(1_704_164_645_678) },
            rawdoc! { "v": DateTime::from_millis(-1) },
            rawdoc! { "v": oid },
            rawdoc! { "v": dec("1.50") },
            rawdoc! { "v": { "a": 1_i32, "d": DateTime::from_millis(0) } },
            rawdoc! { "v": [1_i32, "x"] },
            rawdoc! { "v": Timestamp { time: 86_400, increment: 1 } },
            rawdoc! { "w": 1_i32 },
        ];
        let batch = read("v STRING", &docs);
        let got: Vec<Option<String>> = strings(&batch, "v");
        let want = [
            Some("42"),
            Some("-7"),
            Some("1.0"),
            Some("0.1"),
            Some("NaN"),
            Some("-Infinity"),
            Some("true"),
            Some("2024-01-02T03:04:05.678Z"),
            Some("1969-12-31T23:59:59.999Z"),
            Some("65a1b2c3d4e5f60718293a4b"),
            Some("1.50"),
            Some(r#"{"a":1,"d":{"$date":"1970-01-01T00:00:00Z"}}"#),
            Some(r#"[1,"x"]"#),
            Some("1970-01-02T00:00:00.000Z"),
            None,
        ];
        assert_eq!(got, want.map(|w| w.map(str::to_string)));
    }

    #[test]
    fn numbers_convert_only_when_exact() {
        let mut b = builder("v BIGINT", ParseMode::Permissive, None);
        for v in [
            RawBson::Int32(3),
            RawBson::Double(4.0),
            RawBson::Decimal128(dec("5.00")),
            RawBson::Double(4.5),
            RawBson::Double(1e19),
            RawBson::Decimal128(dec("5.01")),
            RawBson::String("6".into()),
        ] {
            assert!(b.append(&rawdoc! { "v": v }).unwrap());
        }
        assert_eq!(b.malformed(), 4);
        let batch = b.finish().unwrap();
        let got: Vec<Option<i64>> = batch.column(0).as_primitive::<Int64Type>().iter().collect();
        assert_eq!(got, [Some(3), Some(4), Some(5), None, None, None, None]);

        let batch = read(
            "v DOUBLE, w DOUBLE",
            &[
                rawdoc! { "v": 1_i32, "w": dec("0.1") },
                rawdoc! { "v": 9_007_199_254_740_992_i64 },
            ],
        );
        let v: Vec<Option<f64>> = batch
            .column(0)
            .as_primitive::<Float64Type>()
            .iter()
            .collect();
        assert_eq!(v, [Some(1.0), Some(9_007_199_254_740_992.0)]);
        assert_eq!(batch.column(1).as_primitive::<Float64Type>().value(0), 0.1);
        let e = builder("v DOUBLE", ParseMode::FailFast, None)
            .append(&rawdoc! { "_id": 1_i32, "v": 9_007_199_254_740_993_i64 })
            .unwrap_err();
        assert!(e.message().contains("long"), "{}", e.message());

        let batch = read(
            "v DECIMAL(6,2)",
            &[
                rawdoc! { "v": 12_i32 },
                rawdoc! { "v": dec("1.5") },
                rawdoc! { "v": 2.25 },
                rawdoc! { "v": 1_i64 },
            ],
        );
        let v: Vec<Option<i128>> = batch
            .column(0)
            .as_primitive::<Decimal128Type>()
            .iter()
            .collect();
        assert_eq!(v, [Some(1200), Some(150), Some(225), Some(100)]);
        for bad in [
            RawBson::Decimal128(dec("1.005")),
            RawBson::Int32(10_000),
            RawBson::Double(0.1 + 0.2),
            RawBson::Decimal128(dec("NaN")),
        ] {
            assert!(
                !builder("v DECIMAL(6,2)", ParseMode::DropMalformed, None)
                    .append(&rawdoc! { "v": bad.clone() })
                    .unwrap(),
                "{bad:?}"
            );
        }
        let batch = read(
            "a TINYINT, b FLOAT, c INT",
            &[rawdoc! { "a": 5_i64, "b": 0.5, "c": 3.0 }],
        );
        assert_eq!(batch.column(0).as_primitive::<Int8Type>().value(0), 5);
        assert_eq!(batch.column(1).as_primitive::<Float32Type>().value(0), 0.5);
        assert_eq!(batch.column(2).as_primitive::<Int32Type>().value(0), 3);
        assert!(
            !builder("a TINYINT", ParseMode::DropMalformed, None)
                .append(&rawdoc! { "a": 300_i32 })
                .unwrap()
        );
        assert!(
            !builder("b FLOAT", ParseMode::DropMalformed, None)
                .append(&rawdoc! { "b": 0.1 })
                .unwrap()
        );
    }

    #[test]
    fn dates_and_timestamps() {
        let batch = read(
            "t TIMESTAMP, n TIMESTAMP_NTZ, d DATE",
            &[
                rawdoc! { "t": DateTime::from_millis(1500), "n": Timestamp { time: 2, increment: 9 }, "d": DateTime::from_millis(86_400_000) },
            ],
        );
        assert_eq!(
            batch
                .column(0)
                .as_primitive::<TimestampMicrosecondType>()
                .value(0),
            1_500_000
        );
        assert_eq!(
            batch.column(1).data_type(),
            &DataType::Timestamp(TimeUnit::Microsecond, None)
        );
        assert_eq!(
            batch
                .column(1)
                .as_primitive::<TimestampMicrosecondType>()
                .value(0),
            2_000_000
        );
        assert_eq!(batch.column(2).as_primitive::<Date32Type>().value(0), 1);
        // Whatever label the schema carries is kept.
        let schema = Schema::new(vec![Field::new(
            "t",
            DataType::Timestamp(TimeUnit::Microsecond, Some("Europe/Paris".into())),
            true,
        )]);
        let mut b = BatchBuilder::new(Arc::new(schema), ParseMode::FailFast, None).unwrap();
        b.append(&rawdoc! { "t": DateTime::from_millis(1) })
            .unwrap();
        let batch = b.finish().unwrap();
        assert_eq!(
            batch.column(0).data_type(),
            &DataType::Timestamp(TimeUnit::Microsecond, Some("Europe/Paris".into()))
        );
        assert!(
            !builder("d DATE", ParseMode::DropMalformed, None)
                .append(&rawdoc! { "d": DateTime::from_millis(1) })
                .unwrap()
        );
    }

    #[test]
    fn nested_structs_arrays_maps_and_missing_fields() {
        let docs = [
            rawdoc! { "s": { "b": "x", "a": 1_i32, "extra": 0 }, "l": [[1_i32], [], [2_i32, 3_i32]], "m": { "k1": 1_i64, "k2": RawBson::Null } },
            rawdoc! { "other": 1 },
            rawdoc! { "s": RawBson::Null, "l": [RawBson::Null, [4_i32]], "m": {} },
            rawdoc! { "s": { "a": 2_i32 }, "l": [], "s2": { "deep": [{ "x": 1.5 }] } },
        ];
        let batch = read(
            "s STRUCT<a: INT, b: STRING>, l ARRAY<ARRAY<INT>>, m MAP<STRING, BIGINT>, s2 STRUCT<deep: ARRAY<STRUCT<x: DOUBLE>>>",
            &docs,
        );
        let s = batch.column(0).as_struct();
        assert_eq!(s.null_count(), 2);
        let a: Vec<Option<i32>> = s.column(0).as_primitive::<Int32Type>().iter().collect();
        assert_eq!(a, [Some(1), None, None, Some(2)]);
        let b: Vec<Option<&str>> = s.column(1).as_string::<i32>().iter().collect();
        assert_eq!(b, [Some("x"), None, None, None]);
        let l = batch.column(1).as_list::<i32>();
        assert!(l.is_null(1));
        assert_eq!(l.value(0).len(), 3);
        assert_eq!(
            l.value(0)
                .as_list::<i32>()
                .value(2)
                .as_primitive::<Int32Type>()
                .values(),
            &[2, 3]
        );
        assert!(l.value(2).as_list::<i32>().is_null(0));
        assert_eq!(l.value(3).len(), 0);
        let m = batch.column(2).as_map();
        assert_eq!(
            m.value(0)
                .column(0)
                .as_string::<i32>()
                .iter()
                .collect::<Vec<_>>(),
            [Some("k1"), Some("k2")]
        );
        assert_eq!(
            m.value(0)
                .column(1)
                .as_primitive::<Int64Type>()
                .iter()
                .collect::<Vec<_>>(),
            [Some(1), None]
        );
        assert!(m.is_null(1));
        assert_eq!(m.value(2).len(), 0);
        let deep = batch.column(3).as_struct().column(0).as_list::<i32>();
        assert_eq!(
            deep.value(3)
                .as_struct()
                .column(0)
                .as_primitive::<Float64Type>()
                .value(0),
            1.5
        );
        // The builder is reused after finish.
        let mut b = builder("a INT", ParseMode::Permissive, None);
        b.append(&rawdoc! { "a": 1_i32 }).unwrap();
        assert_eq!(b.finish().unwrap().num_rows(), 1);
        assert!(b.is_empty());
        b.append(&rawdoc! { "a": 2_i32 }).unwrap();
        b.append(&rawdoc! { "a": 3_i32 }).unwrap();
        let batch = b.finish().unwrap();
        assert_eq!(
            batch.column(0).as_primitive::<Int32Type>().values(),
            &[2, 3]
        );
    }

    #[test]
    fn field_order_and_duplicates_do_not_matter() {
        let batch = read(
            "a INT, b INT, c INT",
            &[
                rawdoc! { "c": 3_i32, "a": 1_i32 },
                rawdoc! { "b": 2_i32, "a": 4_i32, "a": 5_i32 },
            ],
        );
        let got = |i: usize| {
            batch
                .column(i)
                .as_primitive::<Int32Type>()
                .iter()
                .collect::<Vec<_>>()
        };
        assert_eq!(got(0), [Some(1), Some(4)]);
        assert_eq!(got(1), [None, Some(2)]);
        assert_eq!(got(2), [Some(3), None]);
    }

    #[test]
    fn parse_modes() {
        let docs = [
            rawdoc! { "_id": 1_i32, "a": 1_i32, "s": { "x": 1_i32 } },
            rawdoc! { "_id": ObjectId::parse_str("65a1b2c3d4e5f60718293a4b").unwrap(), "a": "nope", "s": { "x": 2_i32 } },
            rawdoc! { "_id": 3_i32, "a": 3_i32, "s": { "x": [true] } },
        ];
        // PERMISSIVE: unfit values null, the whole document in the corrupt-record column.
        let mut b = builder(
            "_id STRING, a INT, s STRUCT<x: INT>, _corrupt STRING",
            ParseMode::Permissive,
            Some("_corrupt"),
        );
        for d in &docs {
            assert!(b.append(d).unwrap());
        }
        assert_eq!(b.malformed(), 2);
        let batch = b.finish().unwrap();
        assert_eq!(
            batch
                .column(1)
                .as_primitive::<Int32Type>()
                .iter()
                .collect::<Vec<_>>(),
            [Some(1), None, Some(3)]
        );
        let x = batch
            .column(2)
            .as_struct()
            .column(0)
            .as_primitive::<Int32Type>()
            .iter()
            .collect::<Vec<_>>();
        assert_eq!(x, [Some(1), Some(2), None]);
        let corrupt = strings(&batch, "_corrupt");
        assert_eq!(corrupt[0], None);
        assert_eq!(
            corrupt[1].as_deref(),
            Some(r#"{"_id":{"$oid":"65a1b2c3d4e5f60718293a4b"},"a":"nope","s":{"x":2}}"#)
        );
        assert!(corrupt[2].as_deref().unwrap().contains(r#""x":[true]"#));
        // A document field of the corrupt column's name is not read into it.
        let mut b = builder(
            "a INT, _corrupt STRING",
            ParseMode::Permissive,
            Some("_corrupt"),
        );
        b.append(&rawdoc! { "a": 1_i32, "_corrupt": "mine" })
            .unwrap();
        assert_eq!(strings(&b.finish().unwrap(), "_corrupt"), [None]);
        // PERMISSIVE without the column: nulls only.
        let mut b = builder("a INT", ParseMode::Permissive, Some("_corrupt"));
        b.append(&docs[1]).unwrap();
        assert_eq!(b.malformed(), 1);
        assert!(b.finish().unwrap().column(0).is_null(0));
        // DROPMALFORMED: skipped and counted, nothing half-appended.
        let mut b = builder(
            "_id STRING, a INT, s STRUCT<x: INT>",
            ParseMode::DropMalformed,
            None,
        );
        let kept: Vec<bool> = docs.iter().map(|d| b.append(d).unwrap()).collect();
        assert_eq!(kept, [true, false, false]);
        assert_eq!((b.len(), b.malformed()), (1, 2));
        let batch = b.finish().unwrap();
        assert_eq!(batch.num_rows(), 1);
        assert_eq!(batch.column(2).as_struct().len(), 1);
        // FAILFAST: a Data error naming the _id, the field path, the BSON and Spark types.
        let mut b = builder(
            "_id STRING, a INT, s STRUCT<x: INT>",
            ParseMode::FailFast,
            None,
        );
        b.append(&docs[0]).unwrap();
        let e = b.append(&docs[1]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Data);
        let m = e.message();
        assert!(
            m.contains(r#"{"$oid":"65a1b2c3d4e5f60718293a4b"}"#)
                && m.contains("`a`")
                && m.contains("string")
                && m.contains("INT"),
            "{m}"
        );
        let e = builder(
            "_id STRING, a INT, s STRUCT<x: INT>",
            ParseMode::FailFast,
            None,
        )
        .append(&docs[2])
        .unwrap_err();
        assert!(
            e.message().contains("_id 3")
                && e.message().contains("`s.x`")
                && e.message().contains("array"),
            "{}",
            e.message()
        );
        let e = builder("l ARRAY<STRUCT<y: BOOLEAN>>", ParseMode::FailFast, None)
            .append(&rawdoc! { "l": [{ "y": true }, { "y": 1_i32 }] })
            .unwrap_err();
        assert!(
            e.message().contains("`l[1].y`") && e.message().contains("_id (none)"),
            "{}",
            e.message()
        );
    }

    #[test]
    fn schema_checks() {
        let e = BatchBuilder::new(
            Arc::new(hints::parse("a INT, c INT").unwrap()),
            ParseMode::Permissive,
            Some("c"),
        )
        .err()
        .unwrap();
        assert!(
            e.message().contains("columnNameOfCorruptRecord") && e.message().contains("`c`"),
            "{}",
            e.message()
        );
        let e = BatchBuilder::new(
            Arc::new(hints::parse("s STRUCT<m: MAP<INT, STRING>>").unwrap()),
            ParseMode::Permissive,
            None,
        )
        .err()
        .unwrap();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(
            e.message().contains("`s.m`") && e.message().contains("MAP<INT, STRING>"),
            "{}",
            e.message()
        );
        let schema = Schema::new(vec![Field::new("n", DataType::Null, true)]);
        let e = BatchBuilder::new(Arc::new(schema), ParseMode::Permissive, None)
            .err()
            .unwrap();
        assert!(e.message().contains("`n`"), "{}", e.message());
        // No columns at all (count()) still counts rows.
        let mut b =
            BatchBuilder::new(Arc::new(Schema::empty()), ParseMode::Permissive, None).unwrap();
        b.append(&rawdoc! { "a": 1 }).unwrap();
        assert_eq!(b.finish().unwrap().num_rows(), 1);
    }

    #[test]
    fn decimal128_decoding() {
        for (text, want) in [
            ("0", Some((0, 0))),
            ("-1.5", Some((-15, 1))),
            ("1E+3", Some((1, -3))),
            (
                "9999999999999999999999999999999999",
                Some((10_i128.pow(34) - 1, 0)),
            ),
            ("1E-6176", Some((1, 6176))),
            ("NaN", None),
            ("-Infinity", None),
        ] {
            assert_eq!(decimal_parts(&dec(text)), want, "{text}");
        }
    }
}
