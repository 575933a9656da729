"""Message systems: rows published as messages come back once each, read as a batch and as
a stream restarted from its checkpoint (each message body is the row as JSON); a source
that cannot replay lands every message and keeps none unacknowledged."""

from __future__ import annotations

import time
from typing import Any

import pytest

from .connectors import ConnectorUnderTest
from .standard import SIMPLE_SCHEMA
from .streams import into_parquet, run_available_now

pytestmark = pytest.mark.services
messages = pytest.mark.capability("message_write", "message_read")


def publish(spark: Any, connector: ConnectorUnderTest, target: str, ids: range) -> None:
    frame = spark.createDataFrame([(i, f"n{i}") for i in ids], SIMPLE_SCHEMA).repartition(2)
    frame.write.format(connector.name).options(**connector.options(target)).mode("append").save()


def pairs(rows: list[Any]) -> list[tuple[int, str]]:
    return sorted((r["id"], r["name"]) for r in rows)


@messages
def test_published_rows_read_back_once_each(spark, connector) -> None:
    target = connector.new_target("simple")
    publish(spark, connector, target, range(50))
    publish(spark, connector, target, range(50, 70))
    read = connector.reader(spark, SIMPLE_SCHEMA).options(**connector.options(target)).load()
    assert pairs(read.collect()) == [(i, f"n{i}") for i in range(70)]


@messages
def test_a_restarted_stream_read_lands_every_message_once(spark, connector, tmp_path) -> None:
    target = connector.new_target("simple")
    out, checkpoint = tmp_path / "out", tmp_path / "checkpoint"

    def run() -> None:
        frame = connector.message_stream(spark, connector.options(target), SIMPLE_SCHEMA)
        run_available_now(into_parquet(frame.select("id", "name"), out, checkpoint))

    publish(spark, connector, target, range(30))
    run()
    assert pairs(spark.read.parquet(str(out)).collect()) == [(i, f"n{i}") for i in range(30)]
    publish(spark, connector, target, range(30, 45))
    run()  # a restarted query starts where the last one committed
    assert pairs(spark.read.parquet(str(out)).collect()) == [(i, f"n{i}") for i in range(45)]


@pytest.mark.capability("message_write", "acked_read")
def test_an_acknowledged_stream_read_lands_every_message(spark, connector, tmp_path) -> None:
    # A trigger that keeps running: the source learns a micro-batch committed when Spark
    # plans the next one (Spark before 4.2 never tells it after an AvailableNow's last one).
    target = connector.new_acked_target("simple")
    out, checkpoint = tmp_path / "out", tmp_path / "checkpoint"

    def run_until(expected: int) -> list[tuple[int, str]]:
        frame = connector.message_stream(spark, connector.options(target), SIMPLE_SCHEMA)
        query = into_parquet(
            frame.select("id", "name"), out, checkpoint, processingTime="300 milliseconds"
        )
        try:
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                assert query.exception() is None, query.exception()
                got = landed(spark, out)
                # Acknowledged once committed: none left waiting in the source.
                if len(got) >= expected and connector.waiting(target) == 0:
                    return got
                time.sleep(0.5)
            raise AssertionError(f"{len(landed(spark, out))} of {expected} landed in 180 s")
        finally:
            query.stop()

    publish(spark, connector, target, range(30))
    assert run_until(30) == [(i, f"n{i}") for i in range(30)]
    publish(spark, connector, target, range(30, 45))
    # A restarted query reads what is new, and nothing it already committed.
    assert run_until(45) == [(i, f"n{i}") for i in range(45)]
    assert connector.waiting(target) == 0


def landed(spark: Any, out: Any) -> list[tuple[int, str]]:
    if not (out / "_spark_metadata").exists():
        return []
    # Given the schema: the sink's log may list no file yet.
    return pairs(spark.read.schema(SIMPLE_SCHEMA).parquet(str(out)).collect())
