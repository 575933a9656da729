"""Stream queues through Spark: exact offset ranges, so a query killed again and again while
messages keep arriving, and restarted from its checkpoint, lands every message once;
admission control splits the work; batch reads take an offset range."""

from __future__ import annotations

import json
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conformance.streams import into_parquet, kill_after_commits, run_available_now
from rabbitmq_support import connector_options, declare_stream, pika_connection, unique

pytestmark = pytest.mark.services


def has_admission_control() -> bool:
    from pyspark_ds_rabbitmq._shared import features

    return features.has_admission_control()


def publish(channel: Any, queue: str, ids: range, tag: str = "m") -> None:
    """Messages `tag-<i>` (body and message id) through pika, each confirmed."""
    import pika

    channel.confirm_delivery()
    for i in ids:
        channel.basic_publish(
            "",
            queue,
            f"{tag}-{i}".encode(),
            pika.BasicProperties(message_id=f"{tag}-{i}", headers={"seq": i}),
        )


def landed(spark: Any, out: Path) -> list[str]:
    # The parquet sink's metadata log lists only committed files: exactly what landed.
    return [r["message_id"] for r in spark.read.parquet(str(out)).collect()]


def run(spark: Any, options: dict[str, str], out: Path, checkpoint: Path) -> Any:
    frame = spark.readStream.format("rabbitmq").options(**options).load()
    query = into_parquet(frame.select("message_id", "body", "offset"), out, checkpoint)
    run_available_now(query)
    return query


@pytest.fixture
def stream(amqp: Any) -> str:
    return declare_stream(amqp, unique("stream"))


def test_batch_read_takes_an_offset_range(spark, rabbit_env, amqp, stream):
    publish(amqp, stream, range(30))
    options = connector_options(rabbit_env, queue=stream)
    everything = spark.read.format("rabbitmq").options(**options).load()
    rows = everything.select("message_id", "body", "offset", "headers", "redelivered").collect()
    assert [r["message_id"] for r in rows] == [f"m-{i}" for i in range(30)]
    assert [bytes(r["body"]) for r in rows] == [f"m-{i}".encode() for i in range(30)]
    assert rows[3]["headers"] == {"seq": "3"}
    assert not any(r["redelivered"] for r in rows)
    offsets = [r["offset"] for r in rows]
    assert offsets == sorted(set(offsets))
    # [offset of m-10, offset of m-20): exactly m-10 .. m-19, split into partitions of 4.
    window = (
        spark.read.format("rabbitmq")
        .options(
            **options,
            startingOffsets=str(offsets[10]),
            endingOffsets=str(offsets[20]),
            offsetsPerPartition="4",
        )
        .load()
    )
    assert window.rdd.getNumPartitions() >= 3
    assert sorted(r["message_id"] for r in window.collect()) == sorted(
        f"m-{i}" for i in range(10, 20)
    )


def test_batch_read_of_an_empty_stream_is_empty(spark, rabbit_env, stream):
    # Nothing to plan: Spark still runs one task, given no partition.
    options = connector_options(rabbit_env, queue=stream)
    assert spark.read.format("rabbitmq").options(**options).load().count() == 0


def test_restarted_stream_reads_every_message_once(spark, rabbit_env, amqp, stream, tmp_path):
    options = connector_options(rabbit_env, queue=stream)
    out, checkpoint = tmp_path / "out", tmp_path / "checkpoint"
    publish(amqp, stream, range(50))
    run(spark, options, out, checkpoint)
    assert sorted(landed(spark, out)) == sorted(f"m-{i}" for i in range(50))
    publish(amqp, stream, range(50, 80))
    run(spark, options, out, checkpoint)
    got = landed(spark, out)
    assert len(got) == 80 and set(got) == {f"m-{i}" for i in range(80)}
    # Nothing new: a third run lands nothing.
    run(spark, options, out, checkpoint)
    assert len(landed(spark, out)) == 80


def test_starting_at_next_skips_what_was_there(spark, rabbit_env, amqp, stream, tmp_path):
    publish(amqp, stream, range(10), tag="old")
    options = connector_options(rabbit_env, queue=stream, startingOffsets="next")
    out, checkpoint = tmp_path / "out", tmp_path / "checkpoint"
    run(spark, options, out, checkpoint)  # fixes the start: after what exists now
    publish(amqp, stream, range(5), tag="new")
    run(spark, options, out, checkpoint)
    assert sorted(landed(spark, out)) == [f"new-{i}" for i in range(5)]


@pytest.mark.skipif(not has_admission_control(), reason="admission control needs Spark 4.2+")
def test_max_messages_per_trigger_splits_available_now(spark, rabbit_env, amqp, stream, tmp_path):
    publish(amqp, stream, range(250))
    options = connector_options(rabbit_env, queue=stream, maxMessagesPerTrigger="60")
    out, checkpoint = tmp_path / "out", tmp_path / "checkpoint"
    run(spark, options, out, checkpoint)
    assert len(list((checkpoint / "commits").glob("[0-9]*"))) >= 5
    got = landed(spark, out)
    assert len(got) == 250 and set(got) == {f"m-{i}" for i in range(250)}


def test_a_checkpoint_of_another_queue_is_refused(spark, rabbit_env, amqp, stream, tmp_path):
    publish(amqp, stream, range(3))
    out, checkpoint = tmp_path / "out", tmp_path / "checkpoint"
    run(spark, connector_options(rabbit_env, queue=stream), out, checkpoint)
    other = declare_stream(amqp, unique("other"))
    publish(amqp, other, range(3))
    frame = spark.readStream.format("rabbitmq").options(
        **connector_options(rabbit_env, queue=other)
    )
    query = into_parquet(frame.load().select("message_id"), out, checkpoint)
    with pytest.raises(Exception) as caught:
        query.awaitTermination(120)
    assert "checkpointLocation" in str(caught.value) and other in str(caught.value)


KILLED_JOB = textwrap.dedent(
    """
    import json, sys
    from pyspark.sql import SparkSession
    options, out, checkpoint = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
    spark = SparkSession.builder.master("local[2]").getOrCreate()
    query = (
        spark.readStream.format("rabbitmq").options(**options).load()
        .select("message_id", "body", "offset", "redelivered")
        .writeStream.format("parquet").option("path", out)
        .option("checkpointLocation", checkpoint)
        .trigger(processingTime="200 milliseconds").start()
    )
    query.awaitTermination()
    """
)


def test_killed_five_times_while_messages_arrive_loses_and_repeats_nothing(
    spark, rabbit_env, stream, tmp_path
):
    total = 3000
    extra = {"maxMessagesPerTrigger": "150"} if has_admission_control() else {}
    options = connector_options(rabbit_env, queue=stream, **extra)
    out, checkpoint = tmp_path / "out", tmp_path / "checkpoint"
    script = tmp_path / "job.py"
    script.write_text(KILLED_JOB)

    # A peer keeps publishing through every kill and restart.
    def keep_publishing() -> None:
        connection = pika_connection(rabbit_env)
        channel = connection.channel()
        for start in range(0, total, 100):
            publish(channel, stream, range(start, start + 100))
            time.sleep(0.1)
        connection.close()

    publisher = threading.Thread(target=keep_publishing)
    publisher.start()
    try:
        for _ in range(5):
            args = [json.dumps(options), str(out), str(checkpoint)]
            kill_after_commits(script, args, checkpoint, 2)
    finally:
        publisher.join()
    run(spark, options, out, checkpoint)
    got = spark.read.parquet(str(out)).collect()
    ids = [r["message_id"] for r in got]
    assert len(ids) == total, f"{len(ids)} rows landed for {total} messages"
    assert set(ids) == {f"m-{i}" for i in range(total)}
    assert all(bytes(r["body"]) == r["message_id"].encode() for r in got)
    assert len({r["offset"] for r in got}) == total


def publish_bodies(channel: Any, queue: str, bodies: list[bytes]) -> None:
    channel.confirm_delivery()
    for body in bodies:
        channel.basic_publish("", queue, body)


JSON_BODIES = [b'{"id": 1, "name": "a"}', b"not json", b'{"id": "two"}', b'{"id": 4}']
JSON_SCHEMA = "id INT, name STRING, offset BIGINT, _corrupt_record STRING"


def json_read(spark: Any, env: dict[str, Any], queue: str, **extra: str) -> Any:
    options = connector_options(env, queue=queue, bodyFormat="json", **extra)
    return spark.read.format("rabbitmq").options(**options).schema(JSON_SCHEMA).load()


def test_json_bodies_in_each_parse_mode(spark, rabbit_env, amqp, stream):
    publish_bodies(amqp, stream, JSON_BODIES)
    rows = json_read(spark, rabbit_env, stream).orderBy("offset").collect()
    assert [(r["id"], r["name"], r["_corrupt_record"]) for r in rows] == [
        (1, "a", None),
        (None, None, "not json"),
        (None, None, '{"id": "two"}'),
        (4, None, None),
    ]
    kept = json_read(spark, rabbit_env, stream, mode="DROPMALFORMED").collect()
    assert sorted(r["id"] for r in kept) == [1, 4]
    with pytest.raises(Exception) as caught:
        json_read(spark, rabbit_env, stream, mode="FAILFAST").collect()
    assert "FAILFAST" in str(caught.value) and stream in str(caught.value)


def test_json_without_body_fields_is_refused_at_load(spark, rabbit_env, stream):
    options = connector_options(rabbit_env, queue=stream, bodyFormat="json")
    with pytest.raises(Exception) as caught:
        spark.read.format("rabbitmq").options(**options).load().collect()
    assert "bodyFormat" in str(caught.value)
