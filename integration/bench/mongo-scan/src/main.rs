//! The practical limit of the MongoDB connector: its own reader and writer (the same
//! driver, the same BSON/Arrow conversion) with no Spark and no Python in between.
//!
//! ```text
//! mongo-scan read  --tasks 2 -o host=127.0.0.1 -o database=db -o collection=c
//! mongo-scan write --tasks 2 --rows 1000000 [--batch-rows 65536] -o operationType=insert -o ...
//! ```
//!
//! `read` does what the Python layer does for `spark.read.format("mongodb").load()`: infers
//! the schema (`describe`), plans the partitions and drains them with `--tasks` concurrent
//! tasks; `write` generates the benchmark's documents (the same values as
//! `integration/bench/workload.py`) and writes them with `--tasks` sinks after
//! `prepare_write`. One JSON line goes to stdout: rows, seconds, Arrow bytes, partitions.

use std::process::ExitCode;
use std::sync::Arc;

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::{
    ArrayRef, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray, StructArray,
    TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use scan_driver::{BoxError, Tally};
use spark_ds_mongodb::Config;

const TS_BASE: i64 = 1_700_000_000;

fn nested_fields() -> (Fields, Fields) {
    let inner = Fields::from(vec![Field::new("x", DataType::Float64, true)]);
    let nested = Fields::from(vec![
        Field::new("a", DataType::Int32, true),
        Field::new("b", DataType::Utf8, true),
        Field::new("inner", DataType::Struct(inner.clone()), true),
    ]);
    (nested, inner)
}

/// Spark's Arrow schema of the generated DataFrame (`workload.mongo_spark_frame`).
fn spark_schema() -> SchemaRef {
    let (nested, _) = nested_fields();
    Arc::new(Schema::new(vec![
        Field::new("_id", DataType::Int64, true),
        Field::new("i", DataType::Int32, true),
        Field::new("d", DataType::Float64, true),
        Field::new("s", DataType::Utf8, true),
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        Field::new(
            "tags",
            DataType::List(Arc::new(Field::new("element", DataType::Utf8, true))),
            true,
        ),
        Field::new("nested", DataType::Struct(nested), true),
    ]))
}

/// Documents [start, end) of the benchmark data set: the same values as `workload.py`.
fn batch(schema: &SchemaRef, start: u64, end: u64) -> Result<RecordBatch, BoxError> {
    let ids: Vec<i64> = (start as i64..end as i64).collect();
    let mut tags = ListBuilder::new(StringBuilder::new()).with_field(Arc::new(Field::new(
        "element",
        DataType::Utf8,
        true,
    )));
    for i in &ids {
        tags.values().append_value(format!("t{}", i % 10));
        tags.values().append_value(format!("g{}", i % 7));
        tags.append(true);
    }
    let (nested_fields, inner_fields) = nested_fields();
    let inner = StructArray::try_new(
        inner_fields,
        vec![Arc::new(Float64Array::from_iter_values(
            ids.iter().map(|i| *i as f64 * 0.25),
        )) as ArrayRef],
        None,
    )?;
    let nested = StructArray::try_new(
        nested_fields,
        vec![
            Arc::new(Int32Array::from_iter_values(
                ids.iter().map(|i| (i % 1000) as i32),
            )) as ArrayRef,
            Arc::new(StringArray::from_iter_values(
                ids.iter().map(|i| format!("b{}", i % 13)),
            )),
            Arc::new(inner),
        ],
        None,
    )?;
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(ids.clone())),
        Arc::new(Int32Array::from_iter_values(
            ids.iter().map(|i| (i % 100_000) as i32),
        )),
        Arc::new(Float64Array::from_iter_values(
            ids.iter().map(|i| *i as f64 * 0.5),
        )),
        Arc::new(StringArray::from_iter_values(
            ids.iter().map(|i| format!("name-{i}")),
        )),
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(
                ids.iter().map(|i| (i + TS_BASE) * 1_000_000),
            )
            .with_timezone("UTC"),
        ),
        Arc::new(tags.finish()),
        Arc::new(nested),
    ];
    Ok(RecordBatch::try_new(schema.clone(), cols)?)
}

async fn read(cfg: Arc<Config>, tasks: usize) -> Result<(Tally, usize), BoxError> {
    // The schema a default read gets: inferred, as `spark.read.format("mongodb")` does.
    let schema = Arc::new(spark_ds_mongodb::describe(&cfg).await?);
    spark_ds_mongodb::check_read_schema(&cfg, &schema)?;
    let cols: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let planned = spark_ds_mongodb::plan_partitions(&cfg, &cols, None).await?;
    scan_driver::drain(planned, tasks, move |partition| {
        let (cfg, schema) = (cfg.clone(), schema.clone());
        async move { spark_ds_mongodb::open_reader(&cfg, &schema, None, &partition).await }
    })
    .await
}

async fn write(
    cfg: Arc<Config>,
    tasks: usize,
    rows: u64,
    batch_rows: u64,
) -> Result<(Tally, usize), BoxError> {
    let schema = spark_schema();
    if !spark_ds_mongodb::prepare_write(&cfg, &schema, false).await? {
        return Err("prepare_write says nothing is to be written (saveMode)".into());
    }
    let sink_schema = schema.clone();
    let open = move || {
        let (cfg, schema) = (cfg.clone(), sink_schema.clone());
        async move { spark_ds_mongodb::open_writer(&cfg, schema).await }
    };
    scan_driver::fill(rows, tasks, batch_rows, open, move |start, end| {
        batch(&schema, start, end)
    })
    .await
}

fn main() -> ExitCode {
    scan_driver::main(
        "mongo-scan",
        |options| Ok(Arc::new(spark_ds_mongodb::parse_config(options)?)),
        |args, cfg| {
            if args.is_read() {
                spark_ds_core::runtime::block_on(read(cfg, args.tasks))?
            } else {
                spark_ds_core::runtime::block_on(write(
                    cfg,
                    args.tasks,
                    args.rows,
                    args.batch_rows,
                ))?
            }
        },
    )
}
