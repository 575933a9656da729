//! Schema inference: each sampled document's BSON types merged into one Spark-compatible
//! Arrow schema (the type contract is in the README: exact merges where one type holds
//! both, STRING for conflicts).

use arrow_schema::{DataType, Field, Fields, Schema};
use futures::TryStreamExt as _;
use mongodb::bson::{RawBsonRef, RawDocument, RawDocumentBuf, doc};
use spark_ds_core::{Error, Result};

use crate::options::Config;
use crate::to_arrow::decimal_parts;
use crate::{SYSTEM, client, errors, hints};

/// Largest precision Spark's DECIMAL has.
const MAX_PRECISION: u32 = 38;

/// A field's type while documents are merged.
#[derive(Clone, Debug, PartialEq)]
enum Ty {
    Null,
    Bool,
    Int32,
    Int64,
    Double,
    /// Precision and scale (scale ≥ 0, precision ≤ 38).
    Decimal(u32, u32),
    String,
    Binary,
    Timestamp,
    Array(Box<Ty>),
    Struct(Vec<(String, Ty)>),
}

fn type_of(v: RawBsonRef<'_>) -> Ty {
    match v {
        RawBsonRef::Double(_) => Ty::Double,
        RawBsonRef::Int32(_) => Ty::Int32,
        RawBsonRef::Int64(_) => Ty::Int64,
        RawBsonRef::Decimal128(d) => match decimal_parts(&d) {
            Some((unscaled, scale)) => {
                let digits = digit_count(unscaled.unsigned_abs());
                // Spark has no negative scale: 1E+3 is DECIMAL(4,0).
                let (p, s) = if scale < 0 {
                    (digits + scale.unsigned_abs(), 0)
                } else {
                    (digits.max(scale as u32), scale as u32)
                };
                if p <= MAX_PRECISION {
                    Ty::Decimal(p, s)
                } else {
                    Ty::String
                }
            }
            None => Ty::String,
        },
        RawBsonRef::Boolean(_) => Ty::Bool,
        RawBsonRef::Null | RawBsonRef::Undefined => Ty::Null,
        RawBsonRef::DateTime(_) | RawBsonRef::Timestamp(_) => Ty::Timestamp,
        RawBsonRef::Binary(_) => Ty::Binary,
        RawBsonRef::Document(d) => {
            let mut fields = Vec::new();
            merge_fields(&mut fields, d);
            Ty::Struct(fields)
        }
        RawBsonRef::Array(a) => {
            let mut item = Ty::Null;
            for v in a.into_iter().flatten() {
                item = merge(item, type_of(v));
            }
            Ty::Array(Box::new(item))
        }
        RawBsonRef::String(_)
        | RawBsonRef::Symbol(_)
        | RawBsonRef::ObjectId(_)
        | RawBsonRef::RegularExpression(_)
        | RawBsonRef::JavaScriptCode(_)
        | RawBsonRef::JavaScriptCodeWithScope(_)
        | RawBsonRef::MinKey
        | RawBsonRef::MaxKey
        | RawBsonRef::DbPointer(_) => Ty::String,
    }
}

fn digit_count(mut n: u128) -> u32 {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

/// Merges a document's fields into `fields`, keeping first-seen order.
fn merge_fields(fields: &mut Vec<(String, Ty)>, d: &RawDocument) {
    for (key, value) in d.iter().flatten() {
        let t = type_of(value);
        match fields.iter_mut().find(|(k, _)| k == key) {
            Some((_, old)) => *old = merge(std::mem::replace(old, Ty::Null), t),
            None => fields.push((key.to_string(), t)),
        }
    }
}

fn decimal_of_int(t: &Ty) -> Option<(u32, u32)> {
    match t {
        Ty::Int32 => Some((10, 0)),
        Ty::Int64 => Some((19, 0)),
        Ty::Decimal(p, s) => Some((*p, *s)),
        _ => None,
    }
}

fn merge(a: Ty, b: Ty) -> Ty {
    use Ty::*;
    match (a, b) {
        (a, b) if a == b => a,
        (Null, x) | (x, Null) => x,
        (Int32, Int64) | (Int64, Int32) => Int64,
        (Int32 | Int64, Double) | (Double, Int32 | Int64) => Double,
        (Decimal(..), Double) | (Double, Decimal(..)) => Double,
        (a, b) => match (decimal_of_int(&a), decimal_of_int(&b), a, b) {
            (Some((p1, s1)), Some((p2, s2)), _, _) => {
                let s = s1.max(s2);
                let p = (p1 - s1).max(p2 - s2) + s;
                if p <= MAX_PRECISION {
                    Decimal(p, s)
                } else {
                    String
                }
            }
            (_, _, Array(x), Array(y)) => Array(Box::new(merge(*x, *y))),
            (_, _, Struct(mut x), Struct(y)) => {
                for (k, t) in y {
                    match x.iter_mut().find(|(n, _)| *n == k) {
                        Some((_, old)) => *old = merge(std::mem::replace(old, Null), t),
                        None => x.push((k, t)),
                    }
                }
                Struct(x)
            }
            _ => String,
        },
    }
}

fn arrow_type(t: &Ty) -> DataType {
    match t {
        Ty::Null | Ty::String => DataType::Utf8,
        Ty::Bool => DataType::Boolean,
        Ty::Int32 => DataType::Int32,
        Ty::Int64 => DataType::Int64,
        Ty::Double => DataType::Float64,
        Ty::Decimal(p, s) => DataType::Decimal128(*p as u8, *s as i8),
        Ty::Binary => DataType::Binary,
        Ty::Timestamp => hints::timestamp(),
        Ty::Array(item) => DataType::List(hints::list_item(arrow_type(item))),
        Ty::Struct(fields) => DataType::Struct(
            fields
                .iter()
                .map(|(k, t)| Field::new(k, arrow_type(t), true))
                .collect::<Fields>(),
        ),
    }
}

/// Infers the Spark-compatible Arrow schema from sampled raw documents, `hints` pinned
/// (hinted top-level fields keep the hinted type, also when no sample has them).
pub fn infer(docs: &[RawDocumentBuf], hints: Option<&Schema>) -> Schema {
    let mut fields: Vec<(String, Ty)> = Vec::new();
    for d in docs {
        merge_fields(&mut fields, d);
    }
    if let Some(i) = fields.iter().position(|(k, _)| k == "_id") {
        let id = fields.remove(i);
        fields.insert(0, id);
    }
    let mut out: Vec<Field> = fields
        .iter()
        .map(
            |(k, t)| match hints.and_then(|h| h.field_with_name(k).ok()) {
                Some(h) => Field::new(k, h.data_type().clone(), true),
                None => Field::new(k, arrow_type(t), true),
            },
        )
        .collect();
    if let Some(h) = hints {
        for f in h.fields() {
            if !fields.iter().any(|(k, _)| k == f.name()) {
                out.push(Field::new(f.name(), f.data_type().clone(), true));
            }
        }
    }
    Schema::new(out)
}

/// Extra `$skip` windows after the first documents in natural order. FerretDB has no
/// `$sample`, and a skip there reads every skipped document (~0.14 ms each on its SQLite
/// backend, about what reading it costs), so the windows spread over the collection only
/// as far as [`SKIP_BUDGET`] sample sizes (at most [`MAX_SKIPPED`] documents) allow.
/// Measured on 100k documents of ~500 bytes: `collStats` 0.17 s, the first 1,000
/// documents 0.2 s, a `$skip` of 50,000 6.7 s; an estimated count alone took 12 s.
const EXTRA_WINDOWS: u64 = 3;
/// Documents skipped in all, in sample sizes.
const SKIP_BUDGET: u64 = 3;
/// Documents skipped in all, at most.
const MAX_SKIPPED: u64 = 20_000;

/// `(skip, limit)` windows: a quarter of the sample from the start, the rest in
/// [`EXTRA_WINDOWS`] windows evenly spaced over the collection, or over its first part
/// when it is too large for the skip budget.
fn windows(count: Option<u64>, sample: u64) -> Vec<(u64, u64)> {
    let Some(count) = count.filter(|&c| c > sample) else {
        return vec![(0, sample)];
    };
    let per = sample.div_ceil(EXTRA_WINDOWS + 1);
    let first = sample - per * EXTRA_WINDOWS;
    // The k-th window skips k·step: 6·step skipped in all for three windows.
    let spread = (count - per) / EXTRA_WINDOWS;
    let budget =
        (SKIP_BUDGET * sample).min(MAX_SKIPPED) / (EXTRA_WINDOWS * (EXTRA_WINDOWS + 1) / 2);
    let step = spread.min(budget);
    if step < first {
        // Windows that close would overlap the first one: read straight on instead.
        return vec![(0, sample)];
    }
    let mut out = vec![(0, first)];
    out.extend((1..=EXTRA_WINDOWS).map(|k| (k * step, per)));
    out
}

/// The collection's document count from `collStats` (answered from metadata; a `count`
/// scans the whole collection on FerretDB). `None` when the server does not say.
async fn document_count(db: &mongodb::Database, collection: &str) -> Option<u64> {
    let stats = db
        .run_command(doc! { "collStats": collection })
        .await
        .ok()?;
    match stats.get("count")? {
        mongodb::bson::Bson::Int32(n) => u64::try_from(*n).ok(),
        mongodb::bson::Bson::Int64(n) => u64::try_from(*n).ok(),
        mongodb::bson::Bson::Double(n) if *n >= 0.0 => Some(*n as u64),
        _ => None,
    }
}

/// Samples up to `sampleSize` documents spread over the collection without `$sample` and
/// infers; `aggregation.pipeline` runs before sampling.
pub async fn infer_schema(cfg: &Config) -> Result<Schema> {
    let hints = match cfg.schema_hints.as_deref() {
        Some(h) if !h.trim().is_empty() => Some(hints::parse(h)?),
        _ => None,
    };
    let pipeline = crate::pipeline::parse(cfg.pipeline.as_deref())?;
    let namespace = cfg.namespace()?;
    let coll = client::collection(cfg).await?;
    let db = coll.client().database(cfg.database()?);
    // FerretDB answers a missing collection with an empty result, so ask first.
    let exists = db
        .list_collection_names()
        .filter(doc! { "name": cfg.collection()? })
        .await
        .map_err(|e| errors::driver("infer schema", &namespace, e))?;
    if exists.is_empty() {
        return Err(Error::not_found(
            SYSTEM,
            "infer schema",
            format!(
                "collection `{namespace}` does not exist: check options `database` and `collection`"
            ),
        ));
    }
    let sample = cfg.sample_size as u64;
    // With a user pipeline the result size is unknown: its first documents are the sample.
    let count = if pipeline.is_empty() {
        document_count(&db, cfg.collection()?).await
    } else {
        None
    };
    let windows = windows(count, sample);
    let mut docs: Vec<RawDocumentBuf> = Vec::with_capacity(sample.min(100_000) as usize);
    for (skip, limit) in windows {
        let mut stages = pipeline.clone();
        if skip > 0 {
            stages.push(doc! { "$skip": skip as i64 });
        }
        stages.push(doc! { "$limit": limit as i64 });
        let mut agg = coll.aggregate(stages).allow_disk_use(cfg.allow_disk_use);
        if let Some(c) = &cfg.comment {
            agg = agg.comment(c.clone());
        }
        if let Some(ms) = cfg.max_time_ms {
            agg = agg.max_time(std::time::Duration::from_millis(ms as u64));
        }
        let cursor = agg
            .await
            .map_err(|e| errors::driver("infer schema", &namespace, e))?;
        let mut cursor = cursor.with_type::<RawDocumentBuf>();
        while let Some(d) = cursor
            .try_next()
            .await
            .map_err(|e| errors::driver("infer schema", &namespace, e))?
        {
            docs.push(d);
        }
    }
    if docs.is_empty() {
        if let Some(h) = hints {
            return Ok(h);
        }
        return Err(Error::config(
            SYSTEM,
            format!(
                "collection `{namespace}` has no documents{} to infer a schema from: give one with `.schema(...)` or write documents first",
                if pipeline.is_empty() {
                    ""
                } else {
                    " after option `aggregation.pipeline`"
                }
            ),
        ));
    }
    log::debug!(target: "spark_ds::mongodb", "schema of {namespace} inferred from {} documents", docs.len());
    Ok(infer(&docs, hints.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hints::spark_type;
    use mongodb::bson::spec::BinarySubtype;
    use mongodb::bson::{
        Binary, DateTime, Decimal128, JavaScriptCodeWithScope, Regex, Timestamp, oid::ObjectId,
        rawdoc,
    };

    fn ddl(s: &Schema) -> String {
        s.fields()
            .iter()
            .map(|f| format!("{} {}", f.name(), spark_type(f.data_type())))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn dec(s: &str) -> Decimal128 {
        s.parse().unwrap()
    }

    #[test]
    fn every_bson_type() {
        let d = rawdoc! {
            "dbl": 1.5, "s": "x", "sym": mongodb::bson::RawBson::Symbol("y".into()),
            "doc": { "a": 1, "b": "c" }, "arr": [1, 2],
            "bin": Binary { subtype: BinarySubtype::Generic, bytes: vec![1] },
            "uuid": Binary { subtype: BinarySubtype::Uuid, bytes: vec![0; 16] },
            "oid": ObjectId::new(), "b": true, "date": DateTime::from_millis(0),
            "nul": mongodb::bson::RawBson::Null, "re": Regex { pattern: "a".into(), options: "i".into() },
            "js": mongodb::bson::RawBson::JavaScriptCode("f()".into()),
            "jss": mongodb::bson::RawJavaScriptCodeWithScope { code: "g()".into(), scope: rawdoc! {"x": 1} },
            "i": 1_i32, "l": 2_i64, "ts": Timestamp { time: 1, increment: 2 },
            "dec": dec("12.345"), "min": mongodb::bson::RawBson::MinKey, "max": mongodb::bson::RawBson::MaxKey,
            "undef": mongodb::bson::RawBson::Undefined, "empty": [],
        };
        let _ = JavaScriptCodeWithScope {
            code: String::new(),
            scope: mongodb::bson::Document::new(),
        };
        let s = infer(&[d], None);
        assert_eq!(
            ddl(&s),
            "dbl DOUBLE, s STRING, sym STRING, doc STRUCT<a: INT, b: STRING>, arr ARRAY<INT>, \
             bin BINARY, uuid BINARY, oid STRING, b BOOLEAN, date TIMESTAMP, nul STRING, re STRING, \
             js STRING, jss STRING, i INT, l BIGINT, ts TIMESTAMP, dec DECIMAL(5,3), min STRING, \
             max STRING, undef STRING, empty ARRAY<STRING>"
        );
        assert_eq!(
            s.field_with_name("date").unwrap().data_type(),
            &hints::timestamp()
        );
    }

    #[test]
    fn merging_follows_the_contract() {
        let docs = [
            rawdoc! { "a": 1_i32, "b": 1_i32, "c": dec("1.5"), "d": dec("1.25"), "e": DateTime::from_millis(1),
            "f": mongodb::bson::RawBson::Null, "g": "x", "h": { "x": 1_i32 }, "i": [1_i32], "j": dec("1.5"),
            "k": dec("1.5"), "_id": 7_i32 },
            rawdoc! { "a": 2_i64, "b": 2.5, "c": 7_i32, "d": 2.0, "e": Timestamp { time: 1, increment: 0 },
            "f": true, "g": 1_i32, "h": { "y": "z", "x": 2_i64 }, "i": [2.5, mongodb::bson::RawBson::Null],
            "j": dec("12345678901234567890123456789012.5"), "k": i64::MAX, "m": mongodb::bson::RawBson::Null },
        ];
        let s = infer(&docs, None);
        assert_eq!(
            ddl(&s),
            "_id INT, a BIGINT, b DOUBLE, c DECIMAL(11,1), d DOUBLE, e TIMESTAMP, f BOOLEAN, g STRING, \
             h STRUCT<x: BIGINT, y: STRING>, i ARRAY<DOUBLE>, j DECIMAL(33,1), k DECIMAL(20,1), m STRING"
        );
        // Widening past 38 digits is a conflict.
        let s = infer(
            &[
                rawdoc! { "x": dec("1234567890123456789012345678901234") },
                rawdoc! { "x": dec("0.00001") },
            ],
            None,
        );
        assert_eq!(ddl(&s), "x STRING");
        // Struct against scalar, array against scalar: conflicts.
        let s = infer(
            &[
                rawdoc! { "x": {"a": 1}, "y": [1] },
                rawdoc! { "x": 1, "y": 1 },
            ],
            None,
        );
        assert_eq!(ddl(&s), "x STRING, y STRING");
    }

    #[test]
    fn decimal_shapes() {
        let s = infer(
            &[rawdoc! { "a": dec("1E+3"), "b": dec("0.001"), "c": dec("NaN"), "d": dec("-12.50") }],
            None,
        );
        assert_eq!(
            ddl(&s),
            "a DECIMAL(4,0), b DECIMAL(3,3), c STRING, d DECIMAL(4,2)"
        );
    }

    #[test]
    fn hints_are_pinned() {
        let h = hints::parse("a STRING, z DECIMAL(10,2)").unwrap();
        let s = infer(&[rawdoc! { "a": 1_i32, "b": 2_i32 }], Some(&h));
        assert_eq!(ddl(&s), "a STRING, b INT, z DECIMAL(10,2)");
    }

    #[test]
    fn sample_windows() {
        assert_eq!(windows(None, 1000), [(0, 1000)]);
        assert_eq!(windows(Some(1000), 1000), [(0, 1000)]);
        // Small enough: spread over the whole collection.
        assert_eq!(
            windows(Some(150), 100),
            [(0, 25), (41, 25), (82, 25), (123, 25)]
        );
        assert_eq!(
            windows(Some(1600), 1000),
            [(0, 250), (450, 250), (900, 250), (1350, 250)]
        );
        // Past the budget: 400 documents, windows over the first 175.
        assert_eq!(
            windows(Some(400), 100),
            [(0, 25), (50, 25), (100, 25), (150, 25)]
        );
        // Large: 3 sample sizes of skipped documents at most, 20,000 at most.
        let w = windows(Some(10_000_000), 1000);
        assert_eq!(w.iter().map(|(skip, _)| skip).sum::<u64>(), 3000);
        assert_eq!(windows(Some(10_000_000), 100_000), [(0, 100_000)]);
        let w = windows(Some(10_000_000), 10_000);
        assert_eq!(w.iter().map(|(skip, _)| skip).sum::<u64>(), 19_998);
        assert_eq!(w.iter().map(|(_, limit)| limit).sum::<u64>(), 10_000);
        // Windows never overlap the first one.
        assert_eq!(
            windows(Some(1001), 1000),
            [(0, 250), (250, 250), (500, 250), (750, 250)]
        );
    }
}
