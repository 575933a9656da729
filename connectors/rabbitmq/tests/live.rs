//! Against the harness's RabbitMQ (`integration/services.sh up rabbitmq`): publishing with
//! confirms, stream-queue ends, exact offset-range reads, and classic-queue consumers
//! acknowledged after commit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{BinaryArray, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use lapin::options::{QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use spark_ds_core::ErrorKind;
use spark_ds_core::held::{HeldStream, Limits};
use spark_ds_core::runtime::block_on;
use spark_ds_rabbitmq::{self as rabbitmq, Config, StreamPoint};
use spark_ds_test_env::{options, unique};

fn config(extra: &[(&str, &str)]) -> Config {
    rabbitmq::parse_config(&options("rabbitmq", extra)).unwrap()
}

/// A queue of `kind` with extra arguments, declared for one test.
struct TestQueue {
    name: String,
}

impl TestQueue {
    async fn declare(kind: &str, args: &[(&str, AMQPValue)]) -> TestQueue {
        let name = unique(&format!("live_{kind}"), 1_000_000_000);
        let channel = rabbitmq::client::channel(&config(&[])).await.unwrap();
        let mut arguments = FieldTable::default();
        arguments.insert(
            ShortString::from("x-queue-type"),
            AMQPValue::LongString(LongString::from(kind)),
        );
        for (k, v) in args {
            arguments.insert(ShortString::from(*k), v.clone());
        }
        channel
            .queue_declare(
                ShortString::from(name.as_str()),
                QueueDeclareOptions {
                    durable: true,
                    ..QueueDeclareOptions::default()
                },
                arguments,
            )
            .await
            .unwrap();
        TestQueue { name }
    }

    async fn delete(&self) {
        let channel = rabbitmq::client::channel(&config(&[])).await.unwrap();
        channel
            .queue_delete(
                ShortString::from(self.name.as_str()),
                QueueDeleteOptions::default(),
            )
            .await
            .unwrap();
    }
}

fn bodies(n: usize, tag: &str) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("body", DataType::Binary, true),
        Field::new("message_id", DataType::Utf8, true),
    ]));
    let body: BinaryArray = (0..n)
        .map(|i| Some(format!("{tag}-{i}").into_bytes()))
        .collect::<Vec<_>>()
        .iter()
        .map(|b| b.as_deref())
        .collect();
    let ids = StringArray::from_iter_values((0..n).map(|i| format!("{tag}-{i}")));
    RecordBatch::try_new(schema, vec![Arc::new(body), Arc::new(ids)]).unwrap()
}

async fn publish(cfg: &Config, batch: RecordBatch) -> spark_ds_core::Result<u64> {
    rabbitmq::prepare_write(cfg, &batch.schema()).await?;
    let mut sink = rabbitmq::open_writer(cfg, batch.schema(), None).await?;
    sink.write(batch).await?;
    let counters = sink.finish().await?;
    Ok(counters.iter().find(|(k, _)| k == "rows").unwrap().1)
}

/// Every partition of the plan read to its end: (offsets, bodies) in read order.
async fn read_all(cfg: &Config, partitions: &[String]) -> Vec<(i64, String)> {
    let schema = rabbitmq::describe();
    let mut out = Vec::new();
    for p in partitions {
        let mut reader = rabbitmq::open_reader(cfg, &schema, p).await.unwrap();
        while let Some(batch) = reader.next_batch().await.unwrap() {
            let offsets = batch
                .column_by_name("offset")
                .unwrap()
                .as_primitive::<Int64Type>();
            let bodies = batch.column_by_name("body").unwrap().as_binary::<i32>();
            for i in 0..batch.num_rows() {
                out.push((
                    offsets.value(i),
                    String::from_utf8(bodies.value(i).to_vec()).unwrap(),
                ));
            }
        }
    }
    out
}

#[test]
fn stream_ranges_are_exact_and_split_reads_equal_one_read() {
    block_on(async {
        let q = TestQueue::declare("stream", &[]).await;
        let cfg = config(&[("queue", &q.name)]);
        // An empty stream has no last offset.
        assert_eq!(rabbitmq::stream::last_offset(&cfg).await.unwrap(), None);
        assert_eq!(publish(&cfg, bodies(2500, "a")).await.unwrap(), 2500);
        let last = rabbitmq::stream::last_offset(&cfg).await.unwrap().unwrap();
        assert!(last >= 2499, "last offset {last}");

        let whole = rabbitmq::plan_partitions(&cfg).await.unwrap();
        assert_eq!(whole.len(), 1);
        let one = read_all(&cfg, &whole).await;
        assert_eq!(one.len(), 2500);
        assert_eq!(one.last().unwrap().1, "a-2499");

        // The same range split into parts of 700 offsets reads the same messages once each.
        let split_cfg = config(&[("queue", &q.name), ("offsetsPerPartition", "700")]);
        let parts = rabbitmq::plan_partitions(&split_cfg).await.unwrap();
        assert!(parts.len() >= 4, "{} parts", parts.len());
        assert_eq!(read_all(&split_cfg, &parts).await, one);

        // Micro-batches: (start, end] with a limit, then the rest; nothing twice, nothing lost.
        let start = rabbitmq::stream_initial_offset(&cfg).await.unwrap();
        let end1 = rabbitmq::stream_latest_offset(&cfg, Some(&start), Some(1000), None)
            .await
            .unwrap();
        let end2 = rabbitmq::stream_latest_offset(&cfg, Some(&end1), None, None)
            .await
            .unwrap();
        let first = read_all(
            &cfg,
            &rabbitmq::stream_partitions(&cfg, &start, &end1).unwrap(),
        )
        .await;
        let rest = read_all(
            &cfg,
            &rabbitmq::stream_partitions(&cfg, &end1, &end2).unwrap(),
        )
        .await;
        assert!(first.len() <= 1000 && !first.is_empty());
        assert_eq!([first, rest].concat(), one);
        // Nothing new: the next end is the previous one.
        let end3 = rabbitmq::stream_latest_offset(&cfg, Some(&end2), None, None)
            .await
            .unwrap();
        assert_eq!(end3, end2);
        q.delete().await;
    })
    .unwrap();
}

#[test]
fn starting_offsets_next_and_explicit() {
    block_on(async {
        let q = TestQueue::declare("stream", &[]).await;
        let cfg = config(&[("queue", &q.name)]);
        publish(&cfg, bodies(10, "old")).await.unwrap();
        let next = config(&[("queue", &q.name), ("startingOffsets", "next")]);
        let start = rabbitmq::stream_initial_offset(&next).await.unwrap();
        publish(&cfg, bodies(5, "new")).await.unwrap();
        let end = rabbitmq::stream_latest_offset(&next, Some(&start), None, None)
            .await
            .unwrap();
        let got = read_all(
            &next,
            &rabbitmq::stream_partitions(&next, &start, &end).unwrap(),
        )
        .await;
        let names: Vec<&str> = got.iter().map(|(_, b)| b.as_str()).collect();
        assert_eq!(names, ["new-0", "new-1", "new-2", "new-3", "new-4"]);

        let from = got[2].0.to_string();
        let explicit = config(&[
            ("queue", &q.name),
            ("startingOffsets", &from),
            ("endingOffsets", &(got[4].0).to_string()),
        ]);
        let got = read_all(
            &explicit,
            &rabbitmq::plan_partitions(&explicit).await.unwrap(),
        )
        .await;
        let names: Vec<&str> = got.iter().map(|(_, b)| b.as_str()).collect();
        assert_eq!(names, ["new-2", "new-3"]);
        assert_eq!(
            StreamPoint::from_json(&q.name, &start)
                .unwrap()
                .next_offset(),
            10
        );
        q.delete().await;
    })
    .unwrap();
}

#[test]
fn unroutable_and_refused_messages_fail_the_write() {
    block_on(async {
        // No queue has this name: the default exchange returns the mandatory message.
        let missing = unique("live_missing", 1_000_000_000);
        let e = publish(&config(&[("queue", &missing)]), bodies(3, "x"))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Data, "{}", e.message());
        assert!(e.message().contains("returned"), "{}", e.message());
        assert!(e.message().contains("x-0"), "{}", e.message());

        // A full queue with reject-publish nacks what does not fit.
        let q = TestQueue::declare(
            "classic",
            &[
                ("x-max-length", AMQPValue::LongLongInt(5)),
                (
                    "x-overflow",
                    AMQPValue::LongString(LongString::from("reject-publish")),
                ),
            ],
        )
        .await;
        let e = publish(&config(&[("queue", &q.name)]), bodies(20, "y"))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Data, "{}", e.message());
        assert!(e.message().contains("refused"), "{}", e.message());
        assert!(
            e.message()
                .contains("5 messages of this task were confirmed"),
            "{}",
            e.message()
        );
        q.delete().await;
    })
    .unwrap();
}

#[test]
fn bad_credentials_and_missing_queue_are_named() {
    block_on(async {
        let e = rabbitmq::stream::last_offset(&config(&[
            ("queue", "nope"),
            ("password", "wrong-password-123"),
        ]))
        .await
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Auth, "{}", e.message());
        assert!(
            !e.message().contains("wrong-password-123"),
            "{}",
            e.message()
        );

        let missing = unique("live_absent", 1_000_000_000);
        let e = rabbitmq::stream::last_offset(&config(&[("queue", &missing)]))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound, "{}", e.message());
        assert!(e.message().contains(&missing), "{}", e.message());
    })
    .unwrap();
}

#[test]
fn declare_if_missing_creates_once_and_refuses_another_type() {
    block_on(async {
        let name = unique("live_declared", 1_000_000_000);
        let cfg = config(&[("queue", &name), ("declareQueue", "stream")]);
        // Declared on the first write, kept by the second; a stream reads back both.
        publish(&cfg, bodies(3, "d")).await.unwrap();
        publish(&cfg, bodies(2, "e")).await.unwrap();
        let got = read_all(&cfg, &rabbitmq::plan_partitions(&cfg).await.unwrap()).await;
        assert_eq!(got.len(), 5);
        let classic = config(&[("queue", &name), ("declareQueue", "classic")]);
        let e = publish(&classic, bodies(1, "f")).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config, "{}", e.message());
        assert!(e.message().contains("406"), "{}", e.message());
        TestQueue { name }.delete().await;
    })
    .unwrap();
}

/// The message ids of a held consumer's deliveries `(after, through]`.
fn held_ids(consumer: &mut Box<dyn HeldStream>, after: u64, through: u64) -> Vec<String> {
    let mut ids = Vec::new();
    for batch in consumer.batches(after, through).unwrap() {
        let column = batch
            .column_by_name("message_id")
            .unwrap()
            .as_string::<i32>();
        ids.extend((0..batch.num_rows()).map(|i| column.value(i).to_string()));
    }
    ids
}

#[test]
fn a_held_consumer_acknowledges_only_what_was_committed() {
    block_on(async {
        let queue = TestQueue::declare("classic", &[]).await;
        let cfg = config(&[
            ("queue", queue.name.as_str()),
            ("queueType", "classic"),
            ("prefetchCount", "8"),
        ]);
        publish(&cfg, bodies(20, "h")).await.unwrap();
        let schema = rabbitmq::describe();
        let mut consumer = rabbitmq::open_held_consumer(&cfg, &schema).await.unwrap();
        let limits = Limits {
            max_messages: Some(5),
            max_bytes: None,
        };
        assert_eq!(consumer.poll(0, limits).await.unwrap(), 5);
        let first: Vec<String> = (0..5).map(|i| format!("h-{i}")).collect();
        assert_eq!(held_ids(&mut consumer, 0, 5), first);
        // The prefetch (8) bounds what is held unacknowledged: 3 more, not 5.
        assert_eq!(consumer.poll(5, limits).await.unwrap(), 8);
        consumer.commit(5).await.unwrap();
        consumer.close().await;
        // Closed with 5..8 unacknowledged: they come back, redelivered, before the rest.
        let mut again = rabbitmq::open_held_consumer(&cfg, &schema).await.unwrap();
        let everything = Limits {
            max_messages: Some(15),
            max_bytes: None,
        };
        let end = again.poll(0, everything).await.unwrap();
        assert_eq!(end, 8, "the prefetch bounds a fresh consumer too");
        let ids = held_ids(&mut again, 0, end);
        assert_eq!(&ids[..3], ["h-5", "h-6", "h-7"]);
        let redelivered = again.batches(0, 3).unwrap()[0]
            .column_by_name("redelivered")
            .unwrap()
            .as_boolean()
            .clone();
        assert!((0..3).all(|i| redelivered.value(i)));
        again.commit(end).await.unwrap();
        let rest = again.poll(end, everything).await.unwrap();
        assert_eq!(rest - end, 7);
        again.commit(rest).await.unwrap();
        // Acknowledged deliveries cannot be planned again.
        assert!(again.batches(end, rest).is_err());
        again.close().await;
        // 5 + 8 + 7 acknowledged: nothing comes back.
        let mut last = rabbitmq::open_held_consumer(&cfg, &schema).await.unwrap();
        assert_eq!(last.poll(0, everything).await.unwrap(), 0);
        last.close().await;
        queue.delete().await;
    })
    .unwrap();
}
