//! Filter pushdown as a pre-filter: Spark re-checks every filter; MongoDB only removes
//! documents Spark would remove anyway.
//!
//! # Why nothing is accepted
//! Spark does not re-check a filter reported as accepted, so an accepted filter must select
//! exactly the rows Spark would keep. MongoDB's query semantics differ from Spark's on the
//! converted rows: arrays match element-wise, `{f: null}` and `$ne` match missing fields,
//! numbers compare across BSON types, decimals compare exactly where Spark compares the
//! converted double, and the parse mode turns values that do not fit the column into nulls.
//! No filter is reported as accepted; the translated `$match` runs after the user's
//! pipeline and only has to be a *superset* of the rows Spark keeps.
//!
//! # Why the pre-filter never removes a row Spark keeps
//! Each comparison `c op v` becomes `{$or: [{c: {op: v}}, {c: {$not: {$type: T}}},
//! {c: {$type: "array"}}]}` where `T` are the BSON types whose values Spark reads into the
//! column's type *exactly* (the same number, string or instant) and MongoDB compares the
//! way Spark does:
//! - STRING: `string` (both compare UTF-8 strings bytewise; other types become text in
//!   Spark and pass through);
//! - INT/BIGINT/SMALLINT/TINYINT: `int`, `long`, `double` (a value is read only when it is
//!   the same integer; a double with a fraction or out of range is null in Spark, and a
//!   comparison with null removes the row there too);
//! - DOUBLE: `int`, `long` (read only when exact; doubles and decimals pass through:
//!   NaN orders differently and decimals compare exactly in MongoDB);
//! - BOOLEAN: `bool`;
//! - TIMESTAMP (with time zone): `date`, the µs literal rounded to the date's ms so the
//!   comparison is the same (equality only on whole ms).
//!
//! Documents whose field is missing, null or of any other type match the `$not $type`
//! branch; arrays (element-wise in MongoDB, text or null in Spark) match the last branch.
//! `IS NOT NULL` becomes `{c: {$exists: true}}` (a missing field is null in Spark).
//! `IS NULL` removes only the values that never read as null: `{$or: [{c: {$not: {$type:
//! N}}}, {c: {$type: "array"}}]}`, where `N` are the BSON types that always convert to a
//! value of the column's type (the common types for STRING; `int` and `long` for BIGINT; `int` for
//! INT; numbers for DOUBLE; `bool`; `date`; types some servers do not name, such as
//! `decimal`, are left out, which only sends more). SMALLINT and TINYINT are not translated: any
//! number may fall outside them.
//! `StartsWith`/`EndsWith`/`Contains` on STRING become an escaped `$regex` with the same
//! guard.
//!
//! `NOT` (Spark passes it around a single comparison; `AND` arrives as separate filters and
//! `OR` is never passed to a Python source) negates the comparison inside the same guard:
//! `{$or: [{c: {$not: cond}}, {c: {$not: {$type: T}}}, {c: {$type: "array"}}]}`. For a value
//! of a type in `T` MongoDB's `$not` is Spark's `NOT`; the timestamp conditions round so
//! that each negation still keeps every date Spark keeps. `NOT IS NULL` is `IS NOT NULL`
//! and the reverse. FLOAT, DECIMAL, DATE, BINARY and nested types are not translated, nor are the
//! corrupt-record column (not a document field) and names MongoDB reads as paths (`.`, a
//! leading `$`). One effect: with `mode` FAILFAST, a document the pre-filter removes is
//! never converted, so it cannot fail the read.

use arrow_schema::{DataType, Schema, TimeUnit};
use mongodb::bson::{Bson, DateTime, Document, doc};
use serde_json::Value;
use spark_ds_core::{Error, Result};

use crate::SYSTEM;
use crate::options::Config;

/// Filter kinds the pre-filter translates (the JSON of `spark_ds_shared.filters`).
const OPS: &[&str] = &[
    "eq",
    "gt",
    "ge",
    "lt",
    "le",
    "in",
    "is_null",
    "is_not_null",
    "not",
    "starts_with",
    "ends_with",
    "contains",
];

/// The pushdown decision carried from planning to reading.
#[derive(Clone, Debug, Default)]
pub struct PushDown {
    /// Indexes of the filters MongoDB applies exactly (always none: see the module doc).
    pub accepted: Vec<usize>,
    /// The filters kept for the pre-filter, as JSON.
    pub state: String,
    /// Human-readable summary for logs.
    pub explain: String,
}

fn plain(column: &str) -> bool {
    !column.is_empty()
        && !column.contains('.')
        && !column.starts_with('$')
        && !column.contains('\0')
}

/// Keeps the filters the reader can turn into a pre-filter; Spark gets every filter back.
pub fn push_filters(cfg: &Config, columns: &[String], filters_json: &str) -> Result<PushDown> {
    let filters: Vec<Value> = serde_json::from_str(filters_json)
        .map_err(|e| Error::internal(SYSTEM, "push filters", format!("bad filter JSON: {e}")))?;
    if !cfg.pushdown {
        return Ok(PushDown {
            accepted: vec![],
            state: "[]".into(),
            explain: "pushdown disabled (option `pushdown`)".into(),
        });
    }
    let corrupt = cfg.corrupt_record_column.as_deref();
    let kept: Vec<Value> = filters
        .into_iter()
        .filter(|f| {
            let op = f["op"].as_str().unwrap_or("");
            let column = f["column"].as_str().unwrap_or("");
            OPS.contains(&op)
                && plain(column)
                && Some(column) != corrupt
                && columns.iter().any(|c| c == column)
        })
        .collect();
    let explain = if kept.is_empty() {
        "no filter MongoDB can pre-filter".to_string()
    } else {
        let names: Vec<String> = kept
            .iter()
            .map(|f| {
                format!(
                    "{} {}",
                    f["column"].as_str().unwrap_or(""),
                    f["op"].as_str().unwrap_or("")
                )
            })
            .collect();
        format!(
            "pre-filter $match on {} (Spark re-checks every filter)",
            names.join(", ")
        )
    };
    Ok(PushDown {
        accepted: vec![],
        state: Value::Array(kept).to_string(),
        explain,
    })
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Str,
    Int,
    Double,
    Bool,
    Timestamp,
}

fn kind(t: &DataType) -> Option<Kind> {
    Some(match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Kind::Str,
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => Kind::Int,
        DataType::Float64 => Kind::Double,
        DataType::Boolean => Kind::Bool,
        DataType::Timestamp(TimeUnit::Microsecond, Some(_)) => Kind::Timestamp,
        _ => return None,
    })
}

/// BSON types read exactly into the column and compared by MongoDB as Spark does.
fn guarded_types(k: Kind) -> Vec<&'static str> {
    match k {
        Kind::Str => vec!["string"],
        Kind::Int => vec!["int", "long", "double"],
        Kind::Double => vec!["int", "long"],
        Kind::Bool => vec!["bool"],
        Kind::Timestamp => vec!["date"],
    }
}

/// BSON types that always read as a non-null value of the column's type, for `IS NULL`.
/// Leaving a type out only sends more documents; aliases some servers lack (`decimal` on
/// FerretDB) are left out.
fn never_null_types(t: &DataType, k: Kind) -> Option<Vec<&'static str>> {
    Some(match (k, t) {
        (Kind::Str, _) => vec![
            "string", "int", "long", "double", "bool", "date", "objectId", "object", "array",
            "binData",
        ],
        (Kind::Int, DataType::Int64) => vec!["int", "long"],
        (Kind::Int, DataType::Int32) => vec!["int"],
        (Kind::Int, _) => return None,
        (Kind::Double, _) => vec!["int", "long", "double"],
        (Kind::Bool, _) => vec!["bool"],
        (Kind::Timestamp, _) => vec!["date"],
    })
}

/// A literal of the column's kind, when JSON holds it exactly.
fn literal(k: Kind, v: &Value) -> Option<Bson> {
    match k {
        Kind::Str => v.as_str().map(|s| Bson::String(s.to_string())),
        Kind::Int => v.as_i64().map(Bson::Int64),
        Kind::Double => v.as_f64().filter(|f| f.is_finite()).map(Bson::Double),
        Kind::Bool => v.as_bool().map(Bson::Boolean),
        Kind::Timestamp => None,
    }
}

/// µs of a timestamp literal `{"$ts": µs}`.
fn micros(v: &Value) -> Option<i64> {
    v.as_object().filter(|o| o.len() == 1)?.get("$ts")?.as_i64()
}

fn date(ms: i64) -> Bson {
    Bson::DateTime(DateTime::from_millis(ms))
}

/// The MongoDB operator and operand for `op v` on a timestamp column, exact on ms dates.
fn timestamp_condition(op: &str, v: &Value) -> Option<Document> {
    let us = micros(v)?;
    let floor = us.div_euclid(1000);
    let ceil = floor + i64::from(us.rem_euclid(1000) != 0);
    Some(match op {
        "gt" => doc! { "$gt": date(floor) },
        "ge" => doc! { "$gte": date(ceil) },
        "lt" => doc! { "$lt": date(ceil) },
        "le" => doc! { "$lte": date(floor) },
        "eq" if us.rem_euclid(1000) == 0 => doc! { "$eq": date(floor) },
        "eq" => doc! { "$in": [] },
        "in" => return None,
        _ => return None,
    })
}

fn escape_regex(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if "\\^$.|?*+()[]{}/-#".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The comparison part (`{$gt: v}`, `{$in: […]}`, `{$regex: …}`) of one filter.
fn condition(k: Kind, op: &str, f: &Value) -> Option<Document> {
    let value = &f["value"];
    if k == Kind::Timestamp {
        if op == "in" {
            let dates: Vec<Bson> = f["values"]
                .as_array()?
                .iter()
                .filter_map(micros)
                .filter(|us| us.rem_euclid(1000) == 0)
                .map(|us| date(us.div_euclid(1000)))
                .collect();
            return Some(doc! { "$in": dates });
        }
        return timestamp_condition(op, value);
    }
    let operator = match op {
        "eq" => "$eq",
        "gt" => "$gt",
        "ge" => "$gte",
        "lt" => "$lt",
        "le" => "$lte",
        "in" => {
            let values = f["values"].as_array()?;
            // Spark's `c IN (…, null)` is never true for a null element.
            let items: Option<Vec<Bson>> = values
                .iter()
                .filter(|v| !v.is_null())
                .map(|v| literal(k, v))
                .collect();
            return Some(doc! { "$in": items? });
        }
        "starts_with" | "ends_with" | "contains" if k == Kind::Str => {
            let s = value.as_str().filter(|s| !s.contains('\0'))?;
            let pattern = match op {
                "starts_with" => format!("^{}", escape_regex(s)),
                "ends_with" => format!("{}\\z", escape_regex(s)),
                _ => escape_regex(s),
            };
            return Some(doc! { "$regex": pattern });
        }
        _ => return None,
    };
    Some(doc! { operator: literal(k, value)? })
}

/// The `$match` of one filter on a column of type `t`, or `None` when not translated.
fn clause(f: &Value, t: &DataType) -> Option<Document> {
    let op = f["op"].as_str()?;
    let column = f["column"].as_str().filter(|c| plain(c))?;
    match op {
        "is_not_null" => return Some(doc! { column: { "$exists": true } }),
        "is_null" => return is_null_clause(column, t),
        "not" => return not_clause(column, &f["child"], t),
        _ => {}
    }
    let k = kind(t)?;
    let cond = condition(k, op, f)?;
    Some(guarded(column, k, cond))
}

/// `cond` on the column, or any value Spark does not read exactly (see the module doc).
fn guarded(column: &str, k: Kind, cond: Document) -> Document {
    doc! { "$or": [
        { column: cond },
        { column: { "$not": { "$type": guarded_types(k) } } },
        { column: { "$type": "array" } },
    ] }
}

fn is_null_clause(column: &str, t: &DataType) -> Option<Document> {
    let never_null = never_null_types(t, kind(t)?)?;
    Some(doc! { "$or": [
        { column: { "$not": { "$type": never_null } } },
        { column: { "$type": "array" } },
    ] })
}

/// `NOT child`, where the child is one comparison on the same column.
fn not_clause(column: &str, child: &Value, t: &DataType) -> Option<Document> {
    if child["column"].as_str() != Some(column) {
        return None;
    }
    match child["op"].as_str()? {
        "is_null" => Some(doc! { column: { "$exists": true } }),
        "is_not_null" => is_null_clause(column, t),
        "not" => None,
        op => {
            let k = kind(t)?;
            let cond = condition(k, op, child)?;
            Some(guarded(column, k, doc! { "$not": cond }))
        }
    }
}

/// The pre-filter `$match` for the filters in `state`, on the columns of `schema`.
pub fn prefilter(state: Option<&str>, schema: &Schema, cfg: &Config) -> Result<Option<Document>> {
    let Some(state) = state
        .map(str::trim)
        .filter(|s| !s.is_empty() && *s != "null")
    else {
        return Ok(None);
    };
    if !cfg.pushdown {
        return Ok(None);
    }
    let filters: Vec<Value> = serde_json::from_str(state)
        .map_err(|e| Error::internal(SYSTEM, "read", format!("bad pushdown state: {e}")))?;
    let corrupt = cfg.corrupt_record_column.as_deref();
    let clauses: Vec<Document> = filters
        .iter()
        .filter_map(|f| {
            let column = f["column"].as_str()?;
            if Some(column) == corrupt {
                return None;
            }
            let field = schema.field_with_name(column).ok()?;
            clause(f, field.data_type())
        })
        .collect();
    Ok(match clauses.len() {
        0 => None,
        1 => clauses.into_iter().next(),
        _ => Some(doc! { "$and": clauses }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::Field;
    use serde_json::json;

    fn cfg(extra: &[(&str, &str)]) -> Config {
        let mut raw = vec![
            ("database".to_string(), "d".to_string()),
            ("collection".into(), "c".into()),
        ];
        raw.extend(extra.iter().map(|(k, v)| (k.to_lowercase(), v.to_string())));
        Config::parse(&raw).unwrap()
    }

    fn schema() -> Schema {
        Schema::new(vec![
            Field::new("s", DataType::Utf8, true),
            Field::new("i", DataType::Int64, true),
            Field::new("d", DataType::Float64, true),
            Field::new("b", DataType::Boolean, true),
            Field::new(
                "t",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
            Field::new("f", DataType::Float32, true),
            Field::new("bad", DataType::Utf8, true),
        ])
    }

    fn pre(filters: Value, extra: &[(&str, &str)]) -> Option<Document> {
        let c = cfg(extra);
        let cols: Vec<String> = schema().fields().iter().map(|f| f.name().clone()).collect();
        let p = push_filters(&c, &cols, &filters.to_string()).unwrap();
        assert!(p.accepted.is_empty(), "Spark re-checks every filter");
        prefilter(Some(&p.state), &schema(), &c).unwrap()
    }

    #[test]
    fn comparisons_carry_the_type_guard() {
        let m = pre(json!([{"op": "gt", "column": "i", "value": 5}]), &[]).unwrap();
        assert_eq!(
            m,
            doc! { "$or": [
                { "i": { "$gt": 5_i64 } },
                { "i": { "$not": { "$type": ["int", "long", "double"] } } },
                { "i": { "$type": "array" } },
            ] }
        );
        let m = pre(json!([{"op": "eq", "column": "s", "value": "x"}, {"op": "le", "column": "d", "value": 2.5}]), &[]).unwrap();
        let and = m.get_array("$and").unwrap();
        assert_eq!(and.len(), 2);
        let d = and[1].as_document().unwrap().get_array("$or").unwrap();
        assert_eq!(d[0].as_document().unwrap(), &doc! { "d": { "$lte": 2.5 } });
        assert_eq!(
            d[1].as_document().unwrap(),
            &doc! { "d": { "$not": { "$type": ["int", "long"] } } }
        );
    }

    #[test]
    fn untranslatable_filters_add_nothing() {
        for f in [
            json!({"op": "is_null", "column": "f"}),
            json!({"op": "not", "column": "i", "child": {"op": "eq", "column": "s", "value": 1}}),
            json!({"op": "not", "column": "f", "child": {"op": "eq", "column": "f", "value": 1.5}}),
            json!({"op": "eq", "column": "f", "value": 1.5}),
            json!({"op": "eq", "column": "d", "value": {"$double": "NaN"}}),
            json!({"op": "eq", "column": "i", "value": 1.5}),
            json!({"op": "eq", "column": "missing", "value": 1}),
            json!({"op": "eq", "column": "bad", "value": "x"}),
            json!({"op": "starts_with", "column": "i", "value": "1"}),
            json!({"op": "in", "column": "i", "values": [1, "x"]}),
        ] {
            assert_eq!(
                pre(json!([f.clone()]), &[("columnNameOfCorruptRecord", "bad")]),
                None,
                "{f}"
            );
        }
        assert_eq!(
            pre(
                json!([{"op": "eq", "column": "s", "value": "x"}]),
                &[("pushdown", "false")]
            ),
            None
        );
    }

    #[test]
    fn not_null_in_and_strings() {
        assert_eq!(
            pre(json!([{"op": "is_not_null", "column": "s"}]), &[]).unwrap(),
            doc! { "s": { "$exists": true } }
        );
        let m = pre(
            json!([{"op": "in", "column": "i", "values": [1, null, 3]}]),
            &[],
        )
        .unwrap();
        let or = m.get_array("$or").unwrap();
        assert_eq!(
            or[0].as_document().unwrap(),
            &doc! { "i": { "$in": [1_i64, 3_i64] } }
        );
        let m = pre(
            json!([{"op": "starts_with", "column": "s", "value": "a.b*(c"}]),
            &[],
        )
        .unwrap();
        let or = m.get_array("$or").unwrap();
        assert_eq!(
            or[0].as_document().unwrap(),
            &doc! { "s": { "$regex": "^a\\.b\\*\\(c" } }
        );
        assert_eq!(
            condition(Kind::Str, "ends_with", &json!({"value": "x$"})).unwrap(),
            doc! { "$regex": "x\\$\\z" }
        );
        assert_eq!(
            condition(Kind::Str, "contains", &json!({"value": "[1]"})).unwrap(),
            doc! { "$regex": "\\[1\\]" }
        );
    }

    #[test]
    fn is_null_keeps_every_value_that_may_read_as_null() {
        assert_eq!(
            pre(json!([{"op": "is_null", "column": "i"}]), &[]).unwrap(),
            doc! { "$or": [
                { "i": { "$not": { "$type": ["int", "long"] } } },
                { "i": { "$type": "array" } },
            ] }
        );
        let m = pre(json!([{"op": "is_null", "column": "s"}]), &[]).unwrap();
        let or = m.get_array("$or").unwrap();
        let types = or[0].as_document().unwrap().get_document("s").unwrap();
        let types = types
            .get_document("$not")
            .unwrap()
            .get_array("$type")
            .unwrap();
        assert!(types.contains(&Bson::String("object".into())) && types.len() == 10);
        let narrow = Schema::new(vec![Field::new("x", DataType::Int16, true)]);
        assert_eq!(
            clause(
                &json!({"op": "is_null", "column": "x"}),
                narrow.field(0).data_type()
            ),
            None
        );
    }

    #[test]
    fn not_negates_inside_the_guard() {
        let m = pre(
            json!([{"op": "not", "column": "i", "child": {"op": "in", "column": "i", "values": [1, 2]}}]),
            &[],
        )
        .unwrap();
        assert_eq!(
            m,
            doc! { "$or": [
                { "i": { "$not": { "$in": [1_i64, 2_i64] } } },
                { "i": { "$not": { "$type": ["int", "long", "double"] } } },
                { "i": { "$type": "array" } },
            ] }
        );
        let m = pre(
            json!([{"op": "not", "column": "s", "child": {"op": "ends_with", "column": "s", "value": "x"}}]),
            &[],
        )
        .unwrap();
        let or = m.get_array("$or").unwrap();
        assert_eq!(
            or[0].as_document().unwrap(),
            &doc! { "s": { "$not": { "$regex": "x\\z" } } }
        );
        assert_eq!(
            pre(
                json!([{"op": "not", "column": "s", "child": {"op": "is_null", "column": "s"}}]),
                &[]
            )
            .unwrap(),
            doc! { "s": { "$exists": true } }
        );
        let m = pre(
            json!([{"op": "not", "column": "i", "child": {"op": "is_not_null", "column": "i"}}]),
            &[],
        );
        assert_eq!(m, pre(json!([{"op": "is_null", "column": "i"}]), &[]));
    }

    #[test]
    fn negated_timestamp_bounds_keep_every_date_spark_keeps() {
        for us in [-2500_i64, -2000, -1, 0, 1, 1500, 2000] {
            for op in ["gt", "ge", "lt", "le", "eq"] {
                let cond = timestamp_condition(op, &json!({"$ts": us})).unwrap();
                for ms in -5_i64..=5 {
                    let x = ms * 1000;
                    let spark_op = match op {
                        "gt" => x > us,
                        "ge" => x >= us,
                        "lt" => x < us,
                        "le" => x <= us,
                        _ => x == us,
                    };
                    let mongo_op = mongo_compare(&cond, ms);
                    // Exact on ms dates, so `$not` keeps exactly what Spark's NOT keeps;
                    // an equality with a sub-ms literal matches no date in either.
                    assert_eq!(spark_op, mongo_op, "{op} {us} µs vs {ms} ms");
                }
            }
        }
    }

    fn mongo_compare(cond: &Document, ms: i64) -> bool {
        let (op, v) = cond.iter().next().unwrap();
        if op == "$in" {
            return v.as_array().unwrap().contains(&date(ms));
        }
        let Bson::DateTime(d) = v else { panic!() };
        let b = d.timestamp_millis();
        match op.as_str() {
            "$gt" => ms > b,
            "$gte" => ms >= b,
            "$lt" => ms < b,
            "$lte" => ms <= b,
            _ => ms == b,
        }
    }

    #[test]
    fn timestamps_round_to_the_dates_milliseconds() {
        let c = |op: &str, us: i64| timestamp_condition(op, &json!({"$ts": us})).unwrap();
        // 1500 µs: a date of 1 ms is 1000 µs (< 1500), of 2 ms is 2000 µs (> 1500).
        assert_eq!(c("gt", 1500), doc! { "$gt": date(1) });
        assert_eq!(c("ge", 1500), doc! { "$gte": date(2) });
        assert_eq!(c("lt", 1500), doc! { "$lt": date(2) });
        assert_eq!(c("le", 1500), doc! { "$lte": date(1) });
        assert_eq!(c("eq", 2000), doc! { "$eq": date(2) });
        assert_eq!(c("eq", 1500), doc! { "$in": [] });
        assert_eq!(c("gt", -1500), doc! { "$gt": date(-2) });
        assert_eq!(c("ge", -1500), doc! { "$gte": date(-1) });
        let m = pre(
            json!([{"op": "in", "column": "t", "values": [{"$ts": 3000}, {"$ts": 3001}]}]),
            &[],
        )
        .unwrap();
        let or = m.get_array("$or").unwrap();
        assert_eq!(
            or[0].as_document().unwrap(),
            &doc! { "t": { "$in": [date(3)] } }
        );
        assert_eq!(
            or[1].as_document().unwrap(),
            &doc! { "t": { "$not": { "$type": ["date"] } } }
        );
    }
}
