"""Message systems: rows published as messages come back once each, read as a batch and as
a stream restarted from its checkpoint (each message body is the row as JSON)."""

from __future__ import annotations

from typing import Any

import pytest

from .connectors import ConnectorUnderTest
from .standard import SIMPLE_SCHEMA
from .streams import into_parquet, run_available_now

pytestmark = [pytest.mark.services, pytest.mark.capability("message_write", "message_read")]


def publish(spark: Any, connector: ConnectorUnderTest, target: str, ids: range) -> None:
    frame = spark.createDataFrame([(i, f"n{i}") for i in ids], SIMPLE_SCHEMA).repartition(2)
    frame.write.format(connector.name).options(**connector.options(target)).mode("append").save()


def pairs(rows: list[Any]) -> list[tuple[int, str]]:
    return sorted((r["id"], r["name"]) for r in rows)


def test_published_rows_read_back_once_each(spark, connector) -> None:
    target = connector.new_target("simple")
    publish(spark, connector, target, range(50))
    publish(spark, connector, target, range(50, 70))
    read = connector.reader(spark, SIMPLE_SCHEMA).options(**connector.options(target)).load()
    assert pairs(read.collect()) == [(i, f"n{i}") for i in range(70)]


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
