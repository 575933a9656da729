"""Classic and quorum queues through Spark: one consumer held by the driver, each message
acknowledged only after Spark commits the micro-batch holding it. A query killed again and
again loses nothing; what it had not committed comes back, counted as duplicates."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conformance.streams import committed, into_parquet, kill_after_commits, run_available_now
from rabbitmq_support import connector_options, pika_connection, unique
from test_rabbitmq_stream import KILLED_JOB, publish, publish_bodies

pytestmark = pytest.mark.services


def declare_queue(channel: Any, kind: str) -> str:
    name = unique(kind)
    channel.queue_declare(name, durable=True, arguments={"x-queue-type": kind})
    return name


def waiting(channel: Any, queue: str) -> int:
    """Messages ready in `queue` (unacknowledged ones of a closed consumer are back here)."""
    return int(channel.queue_declare(queue, passive=True).method.message_count)


def landed(spark: Any, out: Path) -> list[Any]:
    # The parquet sink's metadata log lists only committed files: exactly what landed.
    if not (out / "_spark_metadata").exists():
        return []
    return spark.read.parquet(str(out)).collect()


def run(spark: Any, options: dict[str, str], out: Path, checkpoint: Path) -> None:
    frame = spark.readStream.format("rabbitmq").options(**options).load()
    columns = frame.select("message_id", "body", "redelivered", "offset")
    run_available_now(into_parquet(columns, out, checkpoint))


@pytest.fixture
def classic(amqp: Any) -> str:
    return declare_queue(amqp, "classic")


def test_classic_queue_lands_every_message_once_and_acknowledges_it(
    spark, rabbit_env, amqp, classic, tmp_path
):
    options = connector_options(rabbit_env, queue=classic, queueType="classic")
    out, checkpoint = tmp_path / "out", tmp_path / "checkpoint"
    publish(amqp, classic, range(50))
    run(spark, options, out, checkpoint)
    rows = landed(spark, out)
    assert sorted(r["message_id"] for r in rows) == sorted(f"m-{i}" for i in range(50))
    assert all(bytes(r["body"]) == r["message_id"].encode() for r in rows)
    assert not any(r["redelivered"] for r in rows)
    assert all(r["offset"] is None for r in rows)
    # Acknowledged after the commit: nothing came back to the queue when the query stopped.
    assert waiting(amqp, classic) == 0
    # A restart from the checkpoint reads only what is new.
    publish(amqp, classic, range(50, 80))
    run(spark, options, out, checkpoint)
    ids = [r["message_id"] for r in landed(spark, out)]
    assert len(ids) == 80 and set(ids) == {f"m-{i}" for i in range(80)}
    assert waiting(amqp, classic) == 0


def test_quorum_queue_declared_by_the_read(spark, rabbit_env, amqp, tmp_path):
    queue = unique("quorum")
    # `declareQueue=quorum` declares the queue on the driver and reads it as a quorum queue.
    options = connector_options(rabbit_env, queue=queue, declareQueue="quorum")
    out, checkpoint = tmp_path / "out", tmp_path / "checkpoint"
    run(spark, options, out, checkpoint)
    assert landed(spark, out) == []
    publish(amqp, queue, range(40))
    run(spark, options, out, checkpoint)
    assert sorted(r["message_id"] for r in landed(spark, out)) == sorted(
        f"m-{i}" for i in range(40)
    )
    assert waiting(amqp, queue) == 0


def test_max_messages_per_trigger_splits_a_backlog(spark, rabbit_env, amqp, classic, tmp_path):
    publish(amqp, classic, range(250))
    options = connector_options(
        rabbit_env, queue=classic, queueType="classic", maxMessagesPerTrigger="60"
    )
    out, checkpoint = tmp_path / "out", tmp_path / "checkpoint"
    run(spark, options, out, checkpoint)
    assert committed(checkpoint) >= 5
    ids = [r["message_id"] for r in landed(spark, out)]
    assert len(ids) == 250 and set(ids) == {f"m-{i}" for i in range(250)}


def test_a_micro_batch_is_bounded_by_the_prefetch(spark, rabbit_env, amqp, classic, tmp_path):
    # Messages stay unacknowledged until their micro-batch commits, so no micro-batch holds
    # more than `prefetchCount`; the backlog still drains, batch after batch.
    publish(amqp, classic, range(100))
    options = connector_options(rabbit_env, queue=classic, queueType="classic", prefetchCount="30")
    out, checkpoint = tmp_path / "out", tmp_path / "checkpoint"
    run(spark, options, out, checkpoint)
    assert committed(checkpoint) >= 4
    assert len(landed(spark, out)) == 100


def test_json_bodies_of_a_classic_queue(spark, rabbit_env, amqp, classic, tmp_path):
    publish_bodies(amqp, classic, [b'{"n": 1}', b"not json", b'{"n": 3}'])
    options = connector_options(
        rabbit_env, queue=classic, queueType="classic", bodyFormat="json", mode="DROPMALFORMED"
    )
    frame = spark.readStream.format("rabbitmq").options(**options).schema("n int").load()
    out, checkpoint = tmp_path / "out", tmp_path / "checkpoint"
    run_available_now(into_parquet(frame, out, checkpoint))
    assert sorted(r["n"] for r in spark.read.parquet(str(out)).collect()) == [1, 3]
    # The malformed body was acknowledged with its micro-batch, not left in the queue.
    assert waiting(amqp, classic) == 0


def test_batch_read_of_a_classic_queue_is_refused(spark, rabbit_env, classic):
    options = connector_options(rabbit_env, queue=classic, queueType="classic")
    with pytest.raises(Exception) as caught:
        spark.read.format("rabbitmq").options(**options).load().count()
    message = str(caught.value)
    assert "queueType" in message and "readStream" in message


def test_a_stream_queue_checkpoint_is_refused(spark, rabbit_env, amqp, classic, tmp_path):
    stream = unique("stream")
    amqp.queue_declare(stream, durable=True, arguments={"x-queue-type": "stream"})
    publish(amqp, stream, range(3))
    out, checkpoint = tmp_path / "out", tmp_path / "checkpoint"
    run(spark, connector_options(rabbit_env, queue=stream), out, checkpoint)
    publish(amqp, classic, range(3))
    options = connector_options(rabbit_env, queue=classic, queueType="classic")
    frame = spark.readStream.format("rabbitmq").options(**options).load()
    query = into_parquet(frame.select("message_id"), out, checkpoint)
    with pytest.raises(Exception) as caught:
        query.awaitTermination(120)
    assert "checkpointLocation" in str(caught.value)
    # Refused before consuming: nothing was taken from the queue.
    assert waiting(amqp, classic) == 3


def test_killed_five_times_loses_nothing_and_counts_duplicates(
    spark, rabbit_env, classic, tmp_path, record_property
):
    total = 3000
    options = connector_options(
        rabbit_env, queue=classic, queueType="classic", maxMessagesPerTrigger="150"
    )
    out, checkpoint = tmp_path / "out", tmp_path / "checkpoint"
    script = tmp_path / "job.py"
    script.write_text(KILLED_JOB)

    # A peer keeps publishing through every kill and restart.
    def keep_publishing() -> None:
        connection = pika_connection(rabbit_env)
        channel = connection.channel()
        for start in range(0, total, 100):
            publish(channel, classic, range(start, start + 100))
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
    rows = landed(spark, out)
    copies = Counter(r["message_id"] for r in rows)
    # At-least-once: every message landed.
    assert set(copies) == {f"m-{i}" for i in range(total)}
    assert all(bytes(r["body"]) == r["message_id"].encode() for r in rows)
    # A duplicate is a message a killed query had written but not acknowledged: the broker
    # delivered it again, and says so.
    duplicated = {m for m, n in copies.items() if n > 1}
    redelivered = {r["message_id"] for r in rows if r["redelivered"]}
    assert duplicated <= redelivered
    duplicates = sum(copies.values()) - total
    record_property("duplicates", duplicates)
    print(f"classic queue, 5 kills: {total} messages, {duplicates} duplicates landed")
    with pika_connection(rabbit_env) as connection:
        assert waiting(connection.channel(), classic) == 0
