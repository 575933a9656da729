"""Publishing through Spark with confirms: what the broker refuses or cannot route fails the
write loudly; properties and headers round-trip; a peer client (pika) reads what the
connector publishes; TLS, bad credentials and an unreachable broker give clear errors."""

from __future__ import annotations

import datetime as dt
import json
import socket
from typing import Any

import pytest
from conformance.streams import forget_last_commit, run_available_now, write_json
from rabbitmq_support import connector_options, declare_stream, drain, unique

pytestmark = pytest.mark.services

MESSAGES = (
    "body BINARY, message_id STRING, headers MAP<STRING,STRING>, priority INT, timestamp TIMESTAMP"
)


def frame(spark: Any, n: int) -> Any:
    at = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    rows = [(f"b{i}".encode(), f"id-{i}", {"k": str(i)}, i % 3, at) for i in range(n)]
    return spark.createDataFrame(rows, MESSAGES)


def error_of(action: Any) -> str:
    with pytest.raises(Exception) as caught:
        action()
    return str(caught.value)


def test_written_messages_read_back_with_their_properties(spark, rabbit_env, amqp):
    queue = declare_stream(amqp, unique("roundtrip"))
    options = connector_options(rabbit_env, queue=queue)
    frame(spark, 40).write.format("rabbitmq").options(**options).mode("append").save()
    rows = spark.read.format("rabbitmq").options(**options).load().collect()
    assert sorted(r["message_id"] for r in rows) == sorted(f"id-{i}" for i in range(40))
    one = next(r for r in rows if r["message_id"] == "id-7")
    assert bytes(one["body"]) == b"b7"
    assert one["headers"] == {"k": "7"}
    assert one["priority"] == 1
    assert one["delivery_mode"] == 2  # persistent by default
    assert one["routing_key"] == queue and one["exchange"] == ""
    assert one["timestamp"].replace(tzinfo=None) == dt.datetime(2026, 1, 2, 3, 4, 5)


def test_a_peer_client_reads_rows_published_as_json(spark, rabbit_env, amqp):
    queue = unique("peer")
    amqp.queue_declare(queue)
    data = spark.createDataFrame(
        [(i, f"n{i}", f"c-{i}") for i in range(25)], "id INT, name STRING, correlation_id STRING"
    )
    data.write.format("rabbitmq").options(**connector_options(rabbit_env, queue=queue)).mode(
        "append"
    ).save()
    got = drain(amqp, queue, 25)
    assert len(got) == 25
    bodies = sorted((json.loads(body) for _, _, body in got), key=lambda b: b["id"])
    # The row without its property columns is the body; the property columns set properties.
    assert bodies == [{"id": i, "name": f"n{i}"} for i in range(25)]
    props = {p.correlation_id: p for _, p, _ in got}
    assert set(props) == {f"c-{i}" for i in range(25)}
    assert props["c-3"].content_type == "application/json"
    assert props["c-3"].delivery_mode == 2


def stream_into_queue(spark: Any, options: dict[str, str], source: Any, checkpoint: Any) -> None:
    frame = spark.readStream.schema("id INT, name STRING").json(str(source))
    query = (
        frame.writeStream.format("rabbitmq")
        .options(**options)
        .option("checkpointLocation", str(checkpoint))
        .trigger(availableNow=True)
        .start()
    )
    run_available_now(query)


def test_a_stream_write_tags_each_message_and_a_replay_repeats_the_tags(
    spark, rabbit_env, amqp, tmp_path
):
    queue = unique("tagged")
    amqp.queue_declare(queue)
    source, checkpoint = tmp_path / "in", tmp_path / "checkpoint"
    source.mkdir()
    write_json(source / "a.json", [{"id": i, "name": f"n{i}"} for i in range(20)])
    options = connector_options(rabbit_env, queue=queue)
    stream_into_queue(spark, options, source, checkpoint)
    first = drain(amqp, queue, 20)
    assert len(first) == 20
    ids = [p.message_id for _, p, _ in first]
    assert len(set(ids)) == 20
    query_id = ids[0].split(":")[0]
    for _, p, _ in first:
        assert p.headers["x-spark-batch-id"] == 0 and p.headers["x-spark-query-id"] == query_id
        assert p.message_id.startswith(f"{query_id}:0:")
    # A crash after the publish and before the commit: the batch is replayed, and its
    # messages come again with the same ids, so a consumer can drop them.
    forget_last_commit(checkpoint)
    stream_into_queue(spark, options, source, checkpoint)
    replayed = drain(amqp, queue, 20)
    assert sorted(p.message_id for _, p, _ in replayed) == sorted(ids)
    assert sorted(json.loads(b)["id"] for _, _, b in replayed) == list(range(20))


def test_a_full_queue_that_rejects_publishes_fails_the_write(spark, rabbit_env, amqp):
    queue = unique("full")
    amqp.queue_declare(queue, arguments={"x-max-length": 10, "x-overflow": "reject-publish"})
    message = error_of(
        lambda: (
            frame(spark, 50)
            .coalesce(1)
            .write.format("rabbitmq")
            .options(**connector_options(rabbit_env, queue=queue))
            .mode("append")
            .save()
        )
    )
    assert "refused" in message and "reject-publish" in message, message
    assert "10 messages of this task were confirmed" in message, message
    assert amqp.queue_declare(queue, passive=True).method.message_count == 10


def test_an_unroutable_message_fails_the_write_instead_of_vanishing(spark, rabbit_env, amqp):
    exchange = unique("nowhere")
    amqp.exchange_declare(exchange, exchange_type="direct")
    options = connector_options(rabbit_env, exchange=exchange, routingKey="nobody-listens")
    message = error_of(
        lambda: frame(spark, 3).write.format("rabbitmq").options(**options).mode("append").save()
    )
    assert "returned" in message and "nobody-listens" in message, message


def test_bad_options_fail_on_the_driver_naming_them(spark, rabbit_env, amqp):
    queue = declare_stream(amqp, unique("opts"))
    options = connector_options(rabbit_env, queue=queue)
    writer = frame(spark, 1).write.format("rabbitmq")
    message = error_of(lambda: writer.options(**options).mode("overwrite").save())
    assert "append" in message, message
    message = error_of(
        lambda: writer.options(**options, exchange=unique("absent")).mode("append").save()
    )
    assert "404" in message and "exchange" in message, message
    message = error_of(
        lambda: spark.read.format("rabbitmq").options(**options, startingOffsets="earliest").load()
    )
    assert "startingOffsets" in message, message


def test_bad_credentials_and_an_unreachable_broker_are_named(spark, rabbit_env):
    options = connector_options(rabbit_env, queue="any", password="not-the-password-42")
    message = error_of(lambda: spark.read.format("rabbitmq").options(**options).load().collect())
    assert "AuthError" in message or "403" in message, message
    assert "not-the-password-42" not in message
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free_port = s.getsockname()[1]
    options = connector_options(rabbit_env, queue="any", port=free_port, connectTimeoutMs=2000)
    message = error_of(lambda: spark.read.format("rabbitmq").options(**options).load().collect())
    assert f"127.0.0.1:{free_port}" in message, message


def test_amqps_with_the_harness_ca(spark, rabbit_env, amqp):
    queue = declare_stream(amqp, unique("tls"))
    r = rabbit_env["rabbitmq"]
    options = {
        "uri": f"amqps://{r['username']}:{r['password']}@localhost:{r['tls_port']}/%2F",
        "sslCaCert": rabbit_env["tls"]["ca"],
        "queue": queue,
    }
    frame(spark, 5).write.format("rabbitmq").options(**options).mode("append").save()
    rows = spark.read.format("rabbitmq").options(**options).load().collect()
    assert sorted(r["message_id"] for r in rows) == [f"id-{i}" for i in range(5)]
    # Without the CA the server's certificate is not trusted: verification is on by default.
    untrusted = {k: v for k, v in options.items() if k != "sslCaCert"}
    message = error_of(lambda: spark.read.format("rabbitmq").options(**untrusted).load().collect())
    assert "certificate" in message.lower() or "tls" in message.lower(), message
