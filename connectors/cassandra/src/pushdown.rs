//! Filter pushdown: which of Spark's filters CQL evaluates exactly like Spark.
//!
//! Spark does not re-check accepted filters, so a filter is accepted only when the CQL
//! restriction selects exactly the rows Spark would keep:
//! - equality/IN on **all** partition-key columns → direct partition reads;
//! - clustering columns: equalities on a prefix, then one IN (only with direct partition
//!   reads) or one lower and/or upper bound;
//! - with `allowFiltering=true`: equalities and bounds on regular columns (ALLOW FILTERING).
//!
//! Types whose CQL comparison differs from Spark's are not pushed: float/double (NaN,
//! -0.0), decimal (1.0 vs 1.00 differ in Cassandra's bytes), duration and collections;
//! uuid/timeuuid/inet only by equality with the canonical text. Timestamp literals are µs
//! and Cassandra keeps ms: bounds are rounded so the comparison stays exact, equality only
//! on whole milliseconds.

use scylla::cluster::metadata::{ColumnKind, ColumnType, NativeType};
use scylla::value::{CqlTime, CqlTimestamp, CqlTimeuuid, CqlValue, CqlVarint};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use spark_ds_core::{Error, Result};

use crate::SYSTEM;
use crate::options::quote;
use crate::schema::TableMeta;
use crate::to_arrow::rescale_exact;
use crate::types::{cql_date, i128_to_be_bytes, parse_decimal};

/// Most partition keys one query plan may enumerate (cartesian product of IN lists).
pub const MAX_KEYS: usize = 10_000;

/// One filter as the Python side sends it.
#[derive(Clone, Debug, Deserialize)]
pub struct Filter {
    pub op: String,
    #[serde(default)]
    pub column: Option<String>,
    #[serde(default)]
    pub value: Option<Value>,
    #[serde(default)]
    pub values: Option<Vec<Value>>,
}

/// A CQL restriction `column op ?` (or `IN ?`), values in the JSON form [`json_to_cql`] reads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Restriction {
    pub column: String,
    pub op: String,
    pub values: Vec<Value>,
}

/// The pushdown decision carried from planning to reading.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PushState {
    /// Values per partition-key column (in key order) when all are restricted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<Vec<Vec<Value>>>,
    /// Restrictions on clustering (and, with allow_filtering, regular) columns.
    #[serde(default)]
    pub restrictions: Vec<Restriction>,
    #[serde(default)]
    pub allow_filtering: bool,
}

impl PushState {
    pub fn parse(json: Option<&str>) -> Result<PushState> {
        match json
            .map(str::trim)
            .filter(|s| !s.is_empty() && *s != "null")
        {
            None => Ok(PushState::default()),
            Some(s) => serde_json::from_str(s).map_err(|e| {
                Error::internal(SYSTEM, "pushdown", format!("bad pushdown state: {e}"))
            }),
        }
    }

    /// Every partition key (cartesian product of the per-column values).
    pub fn key_tuples(&self) -> Vec<Vec<Value>> {
        let Some(keys) = &self.keys else {
            return vec![];
        };
        let mut out: Vec<Vec<Value>> = vec![vec![]];
        for values in keys {
            out = out
                .into_iter()
                .flat_map(|prefix| {
                    values.iter().map(move |v| {
                        let mut t = prefix.clone();
                        t.push(v.clone());
                        t
                    })
                })
                .collect();
        }
        out
    }

    /// `a = ? AND b > ? …` for the restrictions (without keys or tokens).
    pub fn restriction_cql(&self) -> Vec<String> {
        self.restrictions
            .iter()
            .map(|r| {
                if r.op == "IN" {
                    format!(
                        "{} IN ({})",
                        quote(&r.column),
                        vec!["?"; r.values.len()].join(", ")
                    )
                } else {
                    format!("{} {} ?", quote(&r.column), r.op)
                }
            })
            .collect()
    }
}

/// The outcome of [`decide`].
#[derive(Clone, Debug, Default)]
pub struct PushDown {
    /// Indexes of the filters Cassandra now applies (Spark drops them).
    pub accepted: Vec<usize>,
    /// JSON of [`PushState`] for planning and reading.
    pub state: String,
    /// Human-readable summary for EXPLAIN and logs.
    pub explain: String,
}

fn eq_ok(t: &ColumnType<'_>) -> bool {
    matches!(
        t,
        ColumnType::Native(
            NativeType::Ascii
                | NativeType::Text
                | NativeType::BigInt
                | NativeType::Int
                | NativeType::SmallInt
                | NativeType::TinyInt
                | NativeType::Varint
                | NativeType::Boolean
                | NativeType::Blob
                | NativeType::Inet
                | NativeType::Uuid
                | NativeType::Timeuuid
                | NativeType::Date
                | NativeType::Timestamp
                | NativeType::Time
        )
    )
}

fn range_ok(t: &ColumnType<'_>) -> bool {
    matches!(
        t,
        ColumnType::Native(
            NativeType::Ascii
                | NativeType::Text
                | NativeType::BigInt
                | NativeType::Int
                | NativeType::SmallInt
                | NativeType::TinyInt
                | NativeType::Varint
                | NativeType::Blob
                | NativeType::Date
                | NativeType::Timestamp
                | NativeType::Time
        )
    )
}

fn tagged<'a>(v: &'a Value, tag: &str) -> Option<&'a Value> {
    v.as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.get(tag))
}

fn hex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A filter literal (or a stored restriction value) as a CQL value of the column's type,
/// when the conversion is exact. Timestamps: `{"$ms": n}` (stored) or `{"$ts": µs}` whole ms.
pub fn json_to_cql(v: &Value, t: &ColumnType<'_>) -> Option<CqlValue> {
    let ColumnType::Native(n) = t else {
        return None;
    };
    let int = || v.as_i64();
    Some(match n {
        NativeType::Text => CqlValue::Text(v.as_str()?.to_owned()),
        NativeType::Ascii => CqlValue::Ascii(v.as_str().filter(|s| s.is_ascii())?.to_owned()),
        NativeType::BigInt => CqlValue::BigInt(int()?),
        NativeType::Int => CqlValue::Int(i32::try_from(int()?).ok()?),
        NativeType::SmallInt => CqlValue::SmallInt(i16::try_from(int()?).ok()?),
        NativeType::TinyInt => CqlValue::TinyInt(i8::try_from(int()?).ok()?),
        NativeType::Time => CqlValue::Time(CqlTime(
            int().filter(|n| (0..86_400_000_000_000).contains(n))?,
        )),
        NativeType::Varint => {
            let n = match v.as_i64() {
                Some(n) => i128::from(n),
                None => {
                    let (u, s) = parse_decimal(tagged(v, "$dec")?.as_str()?)?;
                    rescale_exact(i128::try_from(&u).ok()?, s, 38, 0)?
                }
            };
            CqlValue::Varint(CqlVarint::from_signed_bytes_be(i128_to_be_bytes(n)))
        }
        NativeType::Boolean => CqlValue::Boolean(v.as_bool()?),
        NativeType::Blob => CqlValue::Blob(hex(tagged(v, "$bin")?.as_str()?)?),
        NativeType::Inet => {
            let s = v.as_str()?;
            let ip: std::net::IpAddr = s.parse().ok()?;
            // Spark compares the text: only the canonical spelling matches what we read.
            (ip.to_string() == s).then_some(CqlValue::Inet(ip))?
        }
        NativeType::Uuid | NativeType::Timeuuid => {
            let s = v.as_str()?;
            let u = uuid::Uuid::parse_str(s).ok()?;
            if u.hyphenated().to_string() != s {
                return None;
            }
            if matches!(n, NativeType::Timeuuid) {
                (u.get_version_num() == 1).then_some(CqlValue::Timeuuid(CqlTimeuuid::from(u)))?
            } else {
                CqlValue::Uuid(u)
            }
        }
        NativeType::Date => {
            let days = tagged(v, "$date")?.as_i64()?;
            CqlValue::Date(cql_date(days)?)
        }
        NativeType::Timestamp => {
            if let Some(ms) = tagged(v, "$ms") {
                CqlValue::Timestamp(CqlTimestamp(ms.as_i64()?))
            } else {
                let us = tagged(v, "$ts")?.as_i64()?;
                (us % 1000 == 0).then_some(CqlValue::Timestamp(CqlTimestamp(us / 1000)))?
            }
        }
        _ => return None,
    })
}

/// A comparison of a candidate filter, normalised.
struct Cand {
    idx: usize,
    column: String,
    op: &'static str,
    values: Vec<Value>,
}

/// Normalises a comparison on a timestamp column so CQL (ms) matches Spark (µs) exactly.
fn timestamp_bound(op: &'static str, v: &Value) -> Option<(&'static str, Value)> {
    let us = tagged(v, "$ts")?.as_i64()?;
    let floor = us.div_euclid(1000);
    let ceil = floor + i64::from(us.rem_euclid(1000) != 0);
    let ms = match op {
        ">" | "<=" => floor,
        ">=" | "<" => ceil,
        _ => return None,
    };
    Some((op, json!({ "$ms": ms })))
}

fn candidate(idx: usize, f: &Filter, meta: &TableMeta) -> Option<Cand> {
    let column = f.column.clone()?;
    let typ = meta.column_type(&column)?;
    let op: &'static str = match f.op.to_ascii_lowercase().as_str() {
        "eq" | "equalto" | "=" => "=",
        "in" => "IN",
        "gt" | ">" => ">",
        "ge" | ">=" => ">=",
        "lt" | "<" => "<",
        "le" | "<=" => "<=",
        _ => return None,
    };
    let raw: Vec<Value> = if op == "IN" {
        f.values.clone()?
    } else {
        vec![f.value.clone()?]
    };
    if raw.is_empty() || raw.iter().any(Value::is_null) {
        return None;
    }
    let values = if op == "=" || op == "IN" {
        if !eq_ok(typ) {
            return None;
        }
        let mut out = Vec::with_capacity(raw.len());
        for v in &raw {
            json_to_cql(v, typ)?;
            out.push(match (typ, tagged(v, "$ts")) {
                (ColumnType::Native(NativeType::Timestamp), Some(us)) => {
                    json!({ "$ms": us.as_i64()? / 1000 })
                }
                _ => v.clone(),
            });
        }
        out.dedup();
        out
    } else {
        if !range_ok(typ) {
            return None;
        }
        if matches!(typ, ColumnType::Native(NativeType::Timestamp)) {
            let (_, v) = timestamp_bound(op, &raw[0])?;
            vec![v]
        } else {
            json_to_cql(&raw[0], typ)?;
            raw
        }
    };
    Some(Cand {
        idx,
        column,
        op,
        values,
    })
}

/// Decides which filters go to Cassandra.
pub fn decide(meta: &TableMeta, filters: &[Filter], allow_filtering: bool) -> PushDown {
    let cands: Vec<Cand> = filters
        .iter()
        .enumerate()
        .filter_map(|(i, f)| candidate(i, f, meta))
        .collect();
    let mut accepted = Vec::new();
    let mut state = PushState {
        allow_filtering: false,
        ..PushState::default()
    };
    let mut notes = Vec::new();

    // Partition key: every column by = or IN.
    let mut key_values = Vec::new();
    let mut key_idx = Vec::new();
    for pk in &meta.partition_key {
        match cands
            .iter()
            .find(|c| &c.column == pk && (c.op == "=" || c.op == "IN"))
        {
            Some(c) => {
                key_values.push(c.values.clone());
                key_idx.push(c.idx);
            }
            None => break,
        }
    }
    let product: usize = key_values.iter().map(Vec::len).product();
    let keyed = key_values.len() == meta.partition_key.len()
        && !meta.partition_key.is_empty()
        && product <= MAX_KEYS;
    if keyed {
        accepted.extend(key_idx);
        notes.push(format!("{product} partition key(s) read directly"));
        state.keys = Some(key_values);
    }

    // Clustering: = on a prefix, then IN (keyed only) or bounds.
    for ck in &meta.clustering_key {
        let on = |op: &str| cands.iter().find(|c| &c.column == ck && c.op == op);
        if let Some(c) = on("=") {
            accepted.push(c.idx);
            state.restrictions.push(Restriction {
                column: ck.clone(),
                op: "=".into(),
                values: c.values.clone(),
            });
            continue;
        }
        if keyed {
            if let Some(c) = on("IN") {
                accepted.push(c.idx);
                state.restrictions.push(Restriction {
                    column: ck.clone(),
                    op: "IN".into(),
                    values: c.values.clone(),
                });
                break;
            }
        }
        let lower = cands
            .iter()
            .find(|c| &c.column == ck && (c.op == ">" || c.op == ">="));
        let upper = cands
            .iter()
            .find(|c| &c.column == ck && (c.op == "<" || c.op == "<="));
        for c in [lower, upper].into_iter().flatten() {
            accepted.push(c.idx);
            state.restrictions.push(Restriction {
                column: ck.clone(),
                op: c.op.into(),
                values: c.values.clone(),
            });
        }
        break;
    }

    // Regular columns, only when the user accepts ALLOW FILTERING.
    if allow_filtering {
        for col in meta
            .columns
            .iter()
            .filter(|c| c.kind == ColumnKind::Regular)
        {
            let eq = cands.iter().find(|c| c.column == col.name && c.op == "=");
            let picked: Vec<&Cand> = match eq {
                Some(c) => vec![c],
                None => {
                    let lower = cands
                        .iter()
                        .find(|c| c.column == col.name && (c.op == ">" || c.op == ">="));
                    let upper = cands
                        .iter()
                        .find(|c| c.column == col.name && (c.op == "<" || c.op == "<="));
                    [lower, upper].into_iter().flatten().collect()
                }
            };
            for c in picked {
                accepted.push(c.idx);
                state.restrictions.push(Restriction {
                    column: col.name.clone(),
                    op: c.op.into(),
                    values: c.values.clone(),
                });
                state.allow_filtering = true;
            }
        }
    }
    // Clustering restrictions on a token-range scan need ALLOW FILTERING too (they are
    // still applied within each partition, no extra rows are read).
    if !keyed && !state.restrictions.is_empty() {
        state.allow_filtering = true;
    }
    accepted.sort_unstable();
    accepted.dedup();
    let cql = state.restriction_cql();
    if !cql.is_empty() {
        notes.push(format!("WHERE {}", cql.join(" AND ")));
    }
    if state.allow_filtering {
        notes.push("ALLOW FILTERING".into());
    }
    let explain = if accepted.is_empty() {
        "no filter pushed".to_string()
    } else {
        format!(
            "pushed {} of {} filter(s): {}",
            accepted.len(),
            filters.len(),
            notes.join("; ")
        )
    };
    PushDown {
        accepted,
        state: serde_json::to_string(&state).unwrap_or_else(|_| "{}".into()),
        explain,
    }
}

/// Parses the Python side's filter list.
pub fn parse_filters(json: &str) -> Result<Vec<Filter>> {
    serde_json::from_str(json)
        .map_err(|e| Error::internal(SYSTEM, "pushdown", format!("bad filter list: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::tests::sample_meta;
    use scylla::value::CqlDate;

    fn f(op: &str, column: &str, value: Value) -> Filter {
        Filter {
            op: op.into(),
            column: Some(column.into()),
            value: Some(value),
            values: None,
        }
    }

    fn fin(column: &str, values: Vec<Value>) -> Filter {
        Filter {
            op: "in".into(),
            column: Some(column.into()),
            value: None,
            values: Some(values),
        }
    }

    fn state(p: &PushDown) -> PushState {
        PushState::parse(Some(&p.state)).unwrap()
    }

    // sample_meta: PRIMARY KEY ((k1 int, k2 text), c1 timestamp, c2 text), v double, n int, u uuid

    #[test]
    fn full_partition_key_becomes_lookups() {
        let m = sample_meta();
        let p = decide(
            &m,
            &[
                f("eq", "k1", json!(1)),
                fin("k2", vec![json!("a"), json!("b")]),
            ],
            false,
        );
        assert_eq!(p.accepted, vec![0, 1]);
        let s = state(&p);
        assert_eq!(
            s.key_tuples(),
            vec![vec![json!(1), json!("a")], vec![json!(1), json!("b")]]
        );
        assert!(!s.allow_filtering);
        // Only part of the key: nothing.
        let p = decide(&m, &[f("eq", "k1", json!(1))], false);
        assert!(p.accepted.is_empty(), "{}", p.explain);
        // Unconvertible literal: nothing.
        let p = decide(
            &m,
            &[f("eq", "k1", json!("x")), f("eq", "k2", json!("a"))],
            false,
        );
        assert_eq!(p.accepted, Vec::<usize>::new());
    }

    #[test]
    fn clustering_prefix_rules() {
        let m = sample_meta();
        let keys = [f("eq", "k1", json!(1)), f("eq", "k2", json!("a"))];
        // c2 without c1: not pushed.
        let mut fs = keys.to_vec();
        fs.push(f("eq", "c2", json!("z")));
        assert_eq!(decide(&m, &fs, false).accepted, vec![0, 1]);
        // c1 range: pushed, and c2 after a range is not.
        let mut fs = keys.to_vec();
        fs.push(f("gt", "c1", json!({"$ts": 1_500})));
        fs.push(f("le", "c1", json!({"$ts": 2_000_999})));
        fs.push(f("eq", "c2", json!("z")));
        let p = decide(&m, &fs, false);
        assert_eq!(p.accepted, vec![0, 1, 2, 3]);
        let s = state(&p);
        assert_eq!(
            s.restrictions[0],
            Restriction {
                column: "c1".into(),
                op: ">".into(),
                values: vec![json!({"$ms": 1})]
            }
        );
        assert_eq!(s.restrictions[1].values, vec![json!({"$ms": 2000})]);
        // c1 equality on a whole ms, then c2 bound.
        let mut fs = keys.to_vec();
        fs.push(f("eq", "c1", json!({"$ts": 5_000})));
        fs.push(f("lt", "c2", json!("m")));
        assert_eq!(decide(&m, &fs, false).accepted, vec![0, 1, 2, 3]);
        // Equality on a timestamp with µs digits cannot match anything stored: left to Spark.
        let p = decide(&m, &[f("eq", "c1", json!({"$ts": 5_001}))], false);
        assert!(p.accepted.is_empty());
    }

    #[test]
    fn timestamp_bounds_round_exactly() {
        // Spark keeps row r (ms*1000) when ms*1000 OP L.
        for l in [-2_001i64, -2_000, -1_999, -1, 0, 1, 999, 1_000, 1_001] {
            for op in [">", ">=", "<", "<="] {
                let (_, v) = timestamp_bound(op, &json!({"$ts": l})).unwrap();
                let bound = v["$ms"].as_i64().unwrap();
                for ms in -5i64..=5 {
                    let spark = match op {
                        ">" => ms * 1000 > l,
                        ">=" => ms * 1000 >= l,
                        "<" => ms * 1000 < l,
                        _ => ms * 1000 <= l,
                    };
                    let cql = match op {
                        ">" => ms > bound,
                        ">=" => ms >= bound,
                        "<" => ms < bound,
                        _ => ms <= bound,
                    };
                    assert_eq!(spark, cql, "ms={ms} {op} L={l}");
                }
            }
        }
    }

    #[test]
    fn token_scan_with_clustering_uses_allow_filtering_and_regular_needs_opt_in() {
        let m = sample_meta();
        let p = decide(
            &m,
            &[f("ge", "c1", json!({"$ts": 0})), f("eq", "n", json!(3))],
            false,
        );
        assert_eq!(p.accepted, vec![0]);
        assert!(state(&p).allow_filtering);
        let p = decide(
            &m,
            &[
                f("eq", "n", json!(3)),
                f("gt", "v", json!(1.5)),
                fin("n", vec![json!(1)]),
            ],
            true,
        );
        assert_eq!(
            p.accepted,
            vec![0],
            "double never, IN on regular never: {}",
            p.explain
        );
        assert!(p.explain.contains("ALLOW FILTERING"));
    }

    #[test]
    fn non_finite_floats_parse_and_stay_with_spark() {
        // Spark sends NaN and ±Infinity tagged (JSON has no literal for them); CQL orders
        // -0.0 before 0.0 where Spark calls them equal, so float comparisons stay with Spark.
        let filters = parse_filters(
            r#"[{"op":"eq","column":"v","value":{"$double":"NaN"}},
                {"op":"gt","column":"v","value":{"$double":"-Infinity"}},
                {"op":"in","column":"v","values":[{"$double":"Infinity"},1.5]}]"#,
        )
        .unwrap();
        assert!(decide(&sample_meta(), &filters, true).accepted.is_empty());
    }

    #[test]
    fn uuid_only_canonical_equality() {
        let m = sample_meta();
        let u = "6f1b4e0c-0000-4000-8000-000000000001";
        assert_eq!(
            decide(&m, &[f("eq", "u", json!(u))], true).accepted,
            vec![0]
        );
        assert!(
            decide(&m, &[f("eq", "u", json!(u.to_uppercase()))], true)
                .accepted
                .is_empty()
        );
        assert!(
            decide(&m, &[f("gt", "u", json!(u))], true)
                .accepted
                .is_empty()
        );
        assert!(
            decide(&m, &[f("starts_with", "k2", json!("a"))], true)
                .accepted
                .is_empty()
        );
        assert!(
            decide(&m, &[f("eq", "nope", json!(1))], true)
                .accepted
                .is_empty()
        );
        assert!(
            decide(&m, &[f("eq", "n", Value::Null)], true)
                .accepted
                .is_empty()
        );
    }

    #[test]
    fn literal_conversion() {
        let t = |n| ColumnType::Native(n);
        assert_eq!(json_to_cql(&json!(300), &t(NativeType::TinyInt)), None);
        assert_eq!(
            json_to_cql(&json!({"$bin": "00ff"}), &t(NativeType::Blob)),
            Some(CqlValue::Blob(vec![0, 255]))
        );
        assert_eq!(
            json_to_cql(&json!({"$date": 0}), &t(NativeType::Date)),
            Some(CqlValue::Date(CqlDate(1 << 31)))
        );
        assert!(json_to_cql(&json!({"$dec": "12.5"}), &t(NativeType::Varint)).is_none());
        assert!(json_to_cql(&json!({"$dec": "12.0"}), &t(NativeType::Varint)).is_some());
        assert!(json_to_cql(&json!("127.000.0.1"), &t(NativeType::Inet)).is_none());
        assert!(json_to_cql(&json!("é"), &t(NativeType::Ascii)).is_none());
    }
}
