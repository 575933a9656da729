//! Against the real Cassandra of the services harness (`integration/services.sh up cassandra`).
//! Ignored by a plain `cargo test`, so a contributor without services gets a green run;
//! `make rust-test` (and so CI) runs them with `--include-ignored`, and then they fail, never
//! skip, when the harness is not running.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow_array::builder::{Int32Builder, ListBuilder, MapBuilder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use arrow_array::{
    Array, ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema};
use spark_ds_cassandra::{
    Config, describe, lookup_with_stats, open_reader, open_writer, parse_config, plan_partitions,
    prepare_write, push_filters,
};
use spark_ds_core::ErrorKind;
use spark_ds_core::runtime::block_on;

#[path = "support/spelling.rs"]
mod spelling;
use spelling::spark_ddl;

fn opts(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let env = spark_ds_test_env::env();
    let datacenter = env["cassandra"]["datacenter"].as_str().unwrap();
    let mut all = vec![("localdc", datacenter), ("connecttimeoutms", "10000")];
    all.extend_from_slice(extra);
    spark_ds_test_env::options("cassandra", &all)
}

fn cfg(extra: &[(&str, &str)]) -> Config {
    parse_config(&opts(extra)).unwrap()
}

/// A fresh keyspace per test run.
fn keyspace(tag: &str) -> String {
    let ks = spark_ds_test_env::unique(&format!("sdc_{tag}"), 1_000_000);
    cql(&format!(
        "CREATE KEYSPACE {ks} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': 1}}"
    ));
    ks
}

fn cql(statement: &str) {
    let c = cfg(&[]);
    block_on(async {
        let s = spark_ds_cassandra::session::session(&c).await.unwrap();
        s.query_unpaged(statement, ())
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
        let _ = s.await_schema_agreement().await;
        s.refresh_metadata().await.unwrap();
    })
    .unwrap();
}

fn read_all(c: &Config, columns: &[String], state: Option<&str>) -> (Vec<RecordBatch>, usize) {
    block_on(async {
        let parts = plan_partitions(c, columns, state).await.unwrap();
        let mut out = Vec::new();
        for p in &parts {
            let mut r = open_reader(c, columns, state, p).await.unwrap();
            while let Some(b) = r.next_batch().await.unwrap() {
                out.push(b);
            }
        }
        (out, parts.len())
    })
    .unwrap()
}

fn names(c: &Config) -> Vec<String> {
    let d = block_on(describe(c)).unwrap().unwrap();
    d.schema.fields().iter().map(|f| f.name().clone()).collect()
}

fn rows_as_strings(batches: &[RecordBatch]) -> Vec<String> {
    let mut out = Vec::new();
    for b in batches {
        for row in 0..b.num_rows() {
            let cols: Vec<String> = b
                .columns()
                .iter()
                .map(|c| arrow_cast_display(c.as_ref(), row))
                .collect();
            out.push(cols.join("|"));
        }
    }
    out.sort();
    out
}

fn arrow_cast_display(a: &dyn Array, row: usize) -> String {
    if a.is_null(row) {
        return "null".into();
    }
    format!("{:?}", a.slice(row, 1))
}

#[test]
#[ignore = "needs the harness Cassandra: make rust-test"]
fn round_trip_of_every_type_with_nulls_and_nesting() {
    let ks = keyspace("types");
    cql(&format!(
        "CREATE TYPE {ks}.addr (street text, no int, tags frozen<list<text>>)"
    ));
    cql(&format!(
        "CREATE TABLE {ks}.all_types (id int PRIMARY KEY, a ascii, t text, bi bigint, i int, si smallint, ti tinyint, \
         vi varint, de decimal, f float, d double, b boolean, bl blob, ip inet, u uuid, tu timeuuid, dt date, tm time, \
         ts timestamp, du duration, l list<int>, s set<text>, m map<text, int>, tp tuple<int, text>, ad frozen<addr>, \
         nested map<text, frozen<list<frozen<addr>>>>, v vector<float, 3>)"
    ));
    // Rows written with CQL literals, read back, written again through the sink, read again.
    cql(&format!(
        "INSERT INTO {ks}.all_types (id, a, t, bi, i, si, ti, vi, de, f, d, b, bl, ip, u, tu, dt, tm, ts, du, l, s, m, tp, ad, nested, v) VALUES \
         (1, 'abc', 'héllo', -9000000000, 42, -7, 3, 123456789012345678901234567890, 12.345, 1.5, -2.25, true, 0xcafe, '::1', \
         6f1b4e0c-0000-4000-8000-000000000001, 50554d6e-29bb-11e5-b345-feff819cdc9f, '2024-02-29', '13:14:15.123456789', \
         '2024-01-02 03:04:05.678+0000', 1mo2d3ns, [1, 2, 3], {{'x', 'y'}}, {{'k': 1}}, (5, 'five'), \
         {{street: 'Main', no: 7, tags: ['a']}}, {{'home': [{{street: 'S', no: null, tags: []}}]}}, [0.5, 1.5, 2.5])"
    ));
    cql(&format!("INSERT INTO {ks}.all_types (id) VALUES (2)"));
    let src = cfg(&[("keyspace", &ks), ("table", "all_types")]);
    let d = block_on(describe(&src)).unwrap().unwrap();
    assert_eq!(
        spark_ddl(d.schema.fields()),
        "id INT, a STRING, ad STRUCT<street: STRING, no: INT, tags: ARRAY<STRING>>, b BOOLEAN, bi BIGINT, bl BINARY, d DOUBLE, \
         de DECIMAL(38,18), dt DATE, du STRUCT<months: INT, days: INT, nanoseconds: BIGINT>, f FLOAT, i INT, ip STRING, \
         l ARRAY<INT>, m MAP<STRING, INT>, nested MAP<STRING, ARRAY<STRUCT<street: STRING, no: INT, tags: ARRAY<STRING>>>>, \
         s ARRAY<STRING>, si SMALLINT, t STRING, ti TINYINT, tm BIGINT, tp STRUCT<_1: INT, _2: STRING>, ts TIMESTAMP, \
         tu STRING, u STRING, v ARRAY<FLOAT>, vi DECIMAL(38,0)"
    );
    let cols = names(&src);
    let (first, _) = read_all(&src, &cols, None);
    assert_eq!(first.iter().map(|b| b.num_rows()).sum::<usize>(), 2);
    for b in &first {
        assert_eq!(b.schema(), d.schema, "every batch has the described schema");
    }
    let before = rows_as_strings(&first);
    assert!(
        before
            .iter()
            .any(|r| r.contains("123456789012345678901234567890")),
        "{before:?}"
    );
    assert!(
        before
            .iter()
            .any(|r| r.contains("6f1b4e0c-0000-4000-8000-000000000001"))
    );

    // Copy through the sink into a second table of the same shape.
    cql(&format!(
        "CREATE TABLE {ks}.copy (id int PRIMARY KEY, a ascii, t text, bi bigint, i int, si smallint, ti tinyint, \
         vi varint, de decimal, f float, d double, b boolean, bl blob, ip inet, u uuid, tu timeuuid, dt date, tm time, \
         ts timestamp, du duration, l list<int>, s set<text>, m map<text, int>, tp tuple<int, text>, ad frozen<addr>, \
         nested map<text, frozen<list<frozen<addr>>>>, v vector<float, 3>)"
    ));
    let dst = cfg(&[("keyspace", &ks), ("table", "copy")]);
    let counters = block_on(async {
        prepare_write(&dst, &d.schema, false).await.unwrap();
        let mut w = open_writer(&dst, d.schema.clone()).await.unwrap();
        for b in &first {
            w.write(b.clone()).await.unwrap();
        }
        w.finish().await.unwrap()
    })
    .unwrap();
    assert!(counters.contains(&("rows".to_string(), 2)), "{counters:?}");
    let (second, _) = read_all(&dst, &cols, None);
    assert_eq!(rows_as_strings(&second), before);
}

fn int_table(ks: &str, n: i32) {
    cql(&format!(
        "CREATE TABLE {ks}.nums (k int, c int, v text, PRIMARY KEY (k, c))"
    ));
    let c = cfg(&[
        ("keyspace", ks),
        ("table", "nums"),
        ("concurrentWrites", "64"),
    ]);
    let schema = Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int32, true),
        Field::new("c", DataType::Int32, true),
        Field::new("v", DataType::Utf8, true),
    ]));
    let k: Int32Array = (0..n).collect();
    let cc: Int32Array = (0..n).map(|i| i % 3).collect();
    let v: StringArray = (0..n).map(|i| Some(format!("v{i}"))).collect();
    let batch =
        RecordBatch::try_new(schema.clone(), vec![Arc::new(k), Arc::new(cc), Arc::new(v)]).unwrap();
    block_on(async {
        let mut w = open_writer(&c, schema).await.unwrap();
        w.write(batch).await.unwrap();
        w.finish().await.unwrap();
    })
    .unwrap();
}

#[test]
#[ignore = "needs the harness Cassandra: make rust-test"]
fn token_ranges_cover_the_table_exactly() {
    let ks = keyspace("ring");
    int_table(&ks, 3000);
    let cols = vec!["k".to_string(), "c".to_string()];
    for split in ["1", "7", "64"] {
        let c = cfg(&[
            ("keyspace", &ks),
            ("table", "nums"),
            ("splitCount", split),
            ("fetchSize", "97"),
        ]);
        let (batches, parts) = read_all(&c, &cols, None);
        assert!(
            parts >= split.parse::<usize>().unwrap() * 3 / 4,
            "{parts} partitions for {split}"
        );
        let mut seen = BTreeSet::new();
        let mut total = 0;
        for b in &batches {
            let k = b.column(0).as_primitive::<Int32Type>();
            for i in 0..b.num_rows() {
                assert!(seen.insert(k.value(i)), "duplicate key {}", k.value(i));
                total += 1;
            }
        }
        assert_eq!(total, 3000, "splitCount {split}");
        assert_eq!(seen.len(), 3000);
    }
    // Default planning (size estimates or the fallback count).
    let c = cfg(&[("keyspace", &ks), ("table", "nums")]);
    let (batches, parts) = read_all(&c, &cols, None);
    assert!(parts >= 3);
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 3000);
}

#[test]
#[ignore = "needs the harness Cassandra: make rust-test"]
fn pushdown_and_lookup_read_only_what_is_asked() {
    let ks = keyspace("push");
    int_table(&ks, 300);
    let c = cfg(&[("keyspace", &ks), ("table", "nums")]);
    let cols = vec!["k".to_string(), "c".to_string(), "v".to_string()];
    let filters = r#"[{"op":"in","column":"k","values":[5,6,7,100000]},{"op":"eq","column":"v","value":"v5"}]"#;
    let p = block_on(push_filters(&c, &cols, filters)).unwrap().unwrap();
    assert_eq!(p.accepted, vec![0], "{}", p.explain);
    let (batches, parts) = read_all(&c, &cols, Some(&p.state));
    assert_eq!(parts, 1);
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 3);
    // Clustering range on a token scan.
    let filters = r#"[{"op":"gt","column":"c","value":1}]"#;
    let p = block_on(push_filters(&c, &cols, filters)).unwrap().unwrap();
    assert_eq!(p.accepted, vec![0], "{}", p.explain);
    let (batches, _) = read_all(&c, &cols, Some(&p.state));
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 100);
    // allowFiltering on a regular column.
    let c2 = cfg(&[
        ("keyspace", &ks),
        ("table", "nums"),
        ("allowFiltering", "true"),
    ]);
    let p = block_on(push_filters(
        &c2,
        &cols,
        r#"[{"op":"eq","column":"v","value":"v9"}]"#,
    ))
    .unwrap()
    .unwrap();
    assert_eq!(p.accepted, vec![0]);
    let (batches, _) = read_all(&c2, &cols, Some(&p.state));
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 1);

    let keys = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("k", DataType::Int64, true)])),
        vec![Arc::new(Int64Array::from(vec![
            Some(1),
            Some(2),
            None,
            Some(999_999),
        ])) as ArrayRef],
    )
    .unwrap();
    let (batch, stats) = block_on(lookup_with_stats(
        &c,
        &["v".to_string(), "k".to_string()],
        keys,
    ))
    .unwrap()
    .unwrap();
    assert_eq!(stats.queries, 3, "null key skipped");
    assert_eq!(batch.num_rows(), 2);
    assert_eq!(batch.schema().field(0).name(), "v");
}

#[test]
#[ignore = "needs the harness Cassandra: make rust-test"]
fn counters_deletes_ttl_and_writetime() {
    let ks = keyspace("modes");
    cql(&format!(
        "CREATE TABLE {ks}.cnt (k text PRIMARY KEY, hits counter)"
    ));
    let c = cfg(&[("keyspace", &ks), ("table", "cnt")]);
    let schema = Arc::new(Schema::new(vec![
        Field::new("k", DataType::Utf8, true),
        Field::new("hits", DataType::Int64, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(vec!["a", "b", "a"])),
            Arc::new(Int64Array::from(vec![1, 2, 3])),
        ],
    )
    .unwrap();
    for _ in 0..2 {
        block_on(async {
            let mut w = open_writer(&c, schema.clone()).await.unwrap();
            w.write(batch.clone()).await.unwrap();
            w.finish().await.unwrap();
        })
        .unwrap();
    }
    let (b, _) = read_all(&c, &["k".into(), "hits".into()], None);
    assert_eq!(rows_as_strings(&b).len(), 2);
    let all = rows_as_strings(&b).join(" ");
    assert!(
        all.contains("[\n  8,\n]") && all.contains("[\n  4,\n]"),
        "{all}"
    );

    int_table(&ks, 30);
    let del = cfg(&[
        ("keyspace", &ks),
        ("table", "nums"),
        ("writeMode", "delete"),
    ]);
    let keys = Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int32, true),
        Field::new("c", DataType::Int32, true),
    ]));
    let kb = RecordBatch::try_new(
        keys.clone(),
        vec![
            Arc::new(Int32Array::from(vec![0, 1])),
            Arc::new(Int32Array::from(vec![0, 1])),
        ],
    )
    .unwrap();
    block_on(async {
        let mut w = open_writer(&del, keys).await.unwrap();
        w.write(kb).await.unwrap();
        w.finish().await.unwrap();
    })
    .unwrap();
    let r = cfg(&[
        ("keyspace", &ks),
        ("table", "nums"),
        ("writetimeColumns", "v"),
        ("ttlColumns", "v"),
    ]);
    let (b, _) = read_all(&r, &["k".into()], None);
    assert_eq!(b.iter().map(|x| x.num_rows()).sum::<usize>(), 28);

    // TTL and write timestamp, constant and read back as extra columns.
    let w = cfg(&[
        ("keyspace", &ks),
        ("table", "nums"),
        ("ttl", "5000"),
        ("writetime", "1700000000000000"),
    ]);
    let schema = Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int32, true),
        Field::new("c", DataType::Int32, true),
        Field::new("v", DataType::Utf8, true),
    ]));
    let one = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int32Array::from(vec![500])),
            Arc::new(Int32Array::from(vec![0])),
            Arc::new(StringArray::from(vec!["x"])),
        ],
    )
    .unwrap();
    block_on(async {
        let mut s = open_writer(&w, schema.clone()).await.unwrap();
        s.write(one).await.unwrap();
        s.finish().await.unwrap();
    })
    .unwrap();
    let p = block_on(push_filters(
        &r,
        &["k".into()],
        r#"[{"op":"eq","column":"k","value":500}]"#,
    ))
    .unwrap()
    .unwrap();
    let (b, _) = read_all(&r, &["v_writetime".into(), "v_ttl".into()], Some(&p.state));
    assert_eq!(
        b[0].column(0)
            .as_primitive::<arrow_array::types::Int64Type>()
            .value(0),
        1_700_000_000_000_000
    );
    let ttl = b[0].column(1).as_primitive::<Int32Type>().value(0);
    assert!((4900..=5000).contains(&ttl), "{ttl}");

    // Per-row timestamp column and ignoreNulls (unset leaves the old value).
    let w = cfg(&[
        ("keyspace", &ks),
        ("table", "nums"),
        ("ignoreNulls", "true"),
    ]);
    let nulls = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int32Array::from(vec![500])),
            Arc::new(Int32Array::from(vec![0])),
            Arc::new(StringArray::from(vec![None::<&str>])),
        ],
    )
    .unwrap();
    block_on(async {
        let mut s = open_writer(&w, schema.clone()).await.unwrap();
        s.write(nulls).await.unwrap();
        s.finish().await.unwrap();
    })
    .unwrap();
    let (b, _) = read_all(&r, &["v".into()], Some(&p.state));
    assert_eq!(b[0].column(0).as_string::<i32>().value(0), "x");
    let _ = TimestampMicrosecondArray::from(vec![0]);
    let _ = ListBuilder::new(Int32Builder::new());
    let _ = MapBuilder::new(None, StringBuilder::new(), Int32Builder::new());
}

#[test]
#[ignore = "needs the harness Cassandra: make rust-test"]
fn errors_are_clear() {
    let ks = keyspace("errs");
    int_table(&ks, 3);
    let e = block_on(describe(&cfg(&[
        ("keyspace", &format!("{ks}x")),
        ("table", "nums"),
    ])))
    .unwrap()
    .unwrap_err();
    // A missing keyspace is its own kind: write preparation branches on it.
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(
        e.message().contains("does not exist") && e.message().contains(&ks),
        "{e}"
    );
    let e = block_on(describe(&cfg(&[("keyspace", &ks), ("table", "numz")])))
        .unwrap()
        .unwrap_err();
    assert!(e.message().contains("did you mean `nums`"), "{e}");
    let c = cfg(&[("keyspace", &ks), ("table", "nums")]);
    let e = block_on(plan_partitions(&c, &["vv".into()], None))
        .unwrap()
        .unwrap_err();
    assert!(e.message().contains("did you mean `v`"), "{e}");
    let bad = Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int32, true),
        Field::new("c", DataType::Int32, true),
        Field::new("v", DataType::Boolean, true),
    ]));
    let e = block_on(open_writer(&c, bad)).unwrap().err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Data);
    assert!(
        e.message().contains("`v`")
            && e.message().contains("text")
            && e.message().contains("Boolean"),
        "{e}"
    );
    // Overwrite needs confirmation.
    let s = Schema::new(vec![Field::new("k", DataType::Int32, true)]);
    let e = block_on(prepare_write(&c, &s, true)).unwrap().unwrap_err();
    assert!(e.message().contains("confirmTruncate"), "{e}");

    // Unreachable: with retries off the error comes within the connect timeout; with
    // retries on (the default) it comes within the retry budget instead.
    let started = std::time::Instant::now();
    let e = block_on(describe(&cfg(&[
        ("host", "127.0.0.1"),
        ("port", "1"),
        ("connectTimeoutMs", "1000"),
        ("retryMaxAttempts", "1"),
        ("keyspace", "x"),
        ("table", "y"),
    ])))
    .unwrap()
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transient, "{e}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(e.message().contains("127.0.0.1"), "{e}");

    let e = block_on(describe(&cfg(&[
        ("password", "wrong-password-123"),
        ("keyspace", &ks),
        ("table", "nums"),
    ])))
    .unwrap()
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    assert!(!e.to_string().contains("wrong-password-123"), "{e}");
}

#[test]
#[ignore = "needs the harness Cassandra: make rust-test"]
fn mutual_tls_with_the_harness_certificates() {
    let e = spark_ds_test_env::env();
    let tls = |k: &str| e["tls"][k].as_str().unwrap().to_string();
    let (ca, cert, key) = (tls("ca"), tls("client_cert"), tls("client_key"));
    let c = cfg(&[
        ("ssl", "true"),
        ("sslCaCert", &ca),
        ("sslClientCert", &cert),
        ("sslClientKey", &key),
        ("sslVerifyHostname", "false"),
        ("keyspace", "system"),
        ("table", "local"),
    ]);
    let d = block_on(describe(&c)).unwrap().unwrap();
    let ddl = spark_ddl(d.schema.fields());
    assert!(ddl.contains("release_version STRING"), "{ddl}");
}
