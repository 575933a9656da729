//! Schema inference and BSON → Arrow against the harness's MongoDB-wire server (FerretDB:
//! `integration/services.sh up mongodb`). Ignored by a plain `cargo test`; `make rust-test`
//! runs them with `--include-ignored`, and then they fail, never skip, without the server.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, RecordBatch};
use arrow_schema::Schema;
use futures::TryStreamExt as _;
use mongodb::bson::spec::BinarySubtype;
use mongodb::bson::{
    Binary, DateTime, Document, RawDocumentBuf, Regex, Timestamp, doc, oid::ObjectId,
};
use spark_ds_core::ErrorKind;

/// The future run on the process runtime.
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    spark_ds_core::runtime::block_on(f).unwrap()
}
use spark_ds_mongodb::hints::spark_type;
use spark_ds_mongodb::options::ParseMode;
use spark_ds_mongodb::to_arrow::BatchBuilder;
use spark_ds_mongodb::{Config, client, describe, parse_config};

fn cfg(collection: &str, extra: &[(&str, &str)]) -> Config {
    let mut all = vec![
        ("database", "sdm_types"),
        ("collection", collection),
        ("connecttimeoutms", "10000"),
    ];
    all.extend_from_slice(extra);
    parse_config(&spark_ds_test_env::options("mongodb", &all)).unwrap()
}

/// A collection name no other run uses.
fn unique(tag: &str) -> String {
    spark_ds_test_env::unique(tag, 10_000_000)
}

fn insert(cfg: &Config, docs: Vec<Document>) {
    block_on(async {
        let c = client::client(cfg).await.unwrap();
        c.database(cfg.database().unwrap())
            .collection::<Document>(cfg.collection().unwrap())
            .insert_many(docs)
            .await
            .unwrap();
    })
}

fn drop(cfg: &Config) {
    block_on(async {
        let c = client::client(cfg).await.unwrap();
        c.database(cfg.database().unwrap())
            .collection::<Document>(cfg.collection().unwrap())
            .drop()
            .await
            .unwrap();
    })
}

/// Every document of the collection (by `_id`) through the batch builder.
fn read_all(cfg: &Config, schema: &Schema) -> RecordBatch {
    block_on(async {
        let coll = client::collection(cfg).await.unwrap();
        let mut cursor = coll.find(doc! {}).sort(doc! { "_id": 1 }).await.unwrap();
        let mut b = BatchBuilder::new(Arc::new(schema.clone()), ParseMode::FailFast, None).unwrap();
        while let Some(d) = cursor.try_next().await.unwrap() {
            let d: RawDocumentBuf = d;
            assert!(b.append(&d).unwrap());
        }
        b.finish().unwrap()
    })
}

fn ddl(s: &Schema) -> String {
    s.fields()
        .iter()
        .map(|f| format!("{} {}", f.name(), spark_type(f.data_type())))
        .collect::<Vec<_>>()
        .join(", ")
}

#[test]
#[ignore = "needs the services harness (make rust-test)"]
fn every_stored_type_inferred_and_read() {
    let name = unique("every");
    let cfg = cfg(&name, &[]);
    let oid = ObjectId::parse_str("65a1b2c3d4e5f60718293a4b").unwrap();
    insert(
        &cfg,
        vec![
            doc! {
                "_id": 1, "dbl": 1.5, "s": "héllo", "doc": { "a": 1, "b": "c" }, "arr": [1, 2],
                "bin": Binary { subtype: BinarySubtype::Generic, bytes: vec![1, 2, 3] },
                "uuid": Binary { subtype: BinarySubtype::Uuid, bytes: vec![7; 16] },
                "oid": oid, "b": true, "date": DateTime::from_millis(1_704_164_645_678),
                "nul": null, "re": Regex { pattern: "^a".into(), options: "i".into() },
                "i": 7, "l": 8_000_000_000_i64, "ts": Timestamp { time: 1_700_000_000, increment: 1 },
                "mixed": 1,
            },
            doc! { "_id": 2, "mixed": "two", "extra": 2.5, "doc": { "z": true } },
        ],
    );
    let schema = block_on(describe(&cfg)).unwrap();
    assert_eq!(
        ddl(&schema),
        "_id INT, dbl DOUBLE, s STRING, doc STRUCT<a: INT, b: STRING, z: BOOLEAN>, arr ARRAY<INT>, \
         bin BINARY, uuid BINARY, oid STRING, b BOOLEAN, date TIMESTAMP, nul STRING, re STRING, \
         i INT, l BIGINT, ts TIMESTAMP, mixed STRING, extra DOUBLE"
    );
    let batch = read_all(&cfg, &schema);
    assert_eq!(batch.num_rows(), 2);
    let col = |c: &str| batch.column_by_name(c).unwrap().clone();
    let text = |c: &str| {
        col(c)
            .as_string::<i32>()
            .iter()
            .map(|s| s.map(str::to_string))
            .collect::<Vec<_>>()
    };
    assert_eq!(text("oid")[0].as_deref(), Some("65a1b2c3d4e5f60718293a4b"));
    assert_eq!(text("re")[0].as_deref(), Some("/^a/i"));
    assert_eq!(text("mixed"), [Some("1".into()), Some("two".into())]);
    assert_eq!(text("nul"), [None, None]);
    assert_eq!(col("bin").as_binary::<i32>().value(0), &[1, 2, 3]);
    assert_eq!(col("uuid").as_binary::<i32>().value(0), &[7; 16]);
    assert!(col("uuid").is_null(1));
    assert_eq!(col("l").as_primitive::<Int64Type>().value(0), 8_000_000_000);
    assert_eq!(col("dbl").as_primitive::<Float64Type>().value(0), 1.5);
    assert_eq!(
        col("date")
            .as_primitive::<TimestampMicrosecondType>()
            .value(0),
        1_704_164_645_678_000
    );
    assert_eq!(
        col("ts")
            .as_primitive::<TimestampMicrosecondType>()
            .value(0),
        1_700_000_000_000_000
    );
    let d = col("doc");
    let d = d.as_struct();
    assert_eq!(d.column(0).as_primitive::<Int32Type>().value(0), 1);
    assert!(d.column(2).as_boolean().value(1));
    assert_eq!(
        col("extra")
            .as_primitive::<Float64Type>()
            .iter()
            .collect::<Vec<_>>(),
        [None, Some(2.5)]
    );
    drop(&cfg);
}

#[test]
#[ignore = "needs the services harness (make rust-test)"]
fn sampling_hints_and_pipeline() {
    let name = unique("sample");
    // More documents than the sample, a field only late in natural order: the spread
    // windows (the first 25, then 25 at 50, 100 and 150) find it.
    let docs: Vec<Document> = (0..400)
        .map(|i| {
            if (160..165).contains(&i) {
                doc! { "_id": i, "v": i, "late": "yes" }
            } else {
                doc! { "_id": i, "v": i }
            }
        })
        .collect();
    let base = cfg(&name, &[("sampleSize", "100")]);
    insert(&base, docs);
    let schema = block_on(describe(&base)).unwrap();
    assert_eq!(ddl(&schema), "_id INT, v INT, late STRING");

    let hinted = cfg(
        &name,
        &[
            ("sampleSize", "100"),
            ("schemaHints", "v BIGINT, never DECIMAL(10,2)"),
        ],
    );
    let schema = block_on(describe(&hinted)).unwrap();
    assert_eq!(
        ddl(&schema),
        "_id INT, v BIGINT, late STRING, never DECIMAL(10,2)"
    );

    // The pipeline runs before sampling: only what it lets through is inferred.
    let piped = cfg(
        &name,
        &[(
            "aggregation.pipeline",
            r#"[{"$match": {"v": {"$lt": 10}}}, {"$project": {"v": 1}}, {"$addFields": {"w": "x"}}]"#,
        )],
    );
    let schema = block_on(describe(&piped)).unwrap();
    assert_eq!(ddl(&schema), "_id INT, v INT, w STRING");
    drop(&base);
}

#[test]
#[ignore = "needs the services harness (make rust-test)"]
fn missing_and_empty_collections() {
    let name = unique("missing");
    let cfg = cfg(&name, &[]);
    let e = block_on(describe(&cfg)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{}", e.message());
    assert!(
        e.message().contains(&format!("sdm_types.{name}")),
        "{}",
        e.message()
    );

    block_on(async {
        let c = client::client(&cfg).await.unwrap();
        c.database("sdm_types")
            .create_collection(&name)
            .await
            .unwrap();
    });
    let e = block_on(describe(&cfg)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{}", e.message());
    assert!(
        e.message().contains("no documents") && e.message().contains(".schema("),
        "{}",
        e.message()
    );
    drop(&cfg);
}
