"""Streams: every row of a stream lands exactly, and a replayed micro-batch changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .connectors import ConnectorUnderTest
from .standard import spark_rows
from .streams import forget_last_commit, into_parquet, run_available_now, write_parquet

pytestmark = pytest.mark.services


def stream_into(
    spark: Any, connector: ConnectorUnderTest, source: Path, checkpoint: Path, target: str
) -> None:
    schema = connector.standard(spark, 0, 1).schema
    query = (
        spark.readStream.schema(schema)
        .parquet(str(source))
        .writeStream.format(connector.name)
        .options(**connector.options(target))
        .option("checkpointLocation", str(checkpoint))
        .trigger(availableNow=True)
        .start()
    )
    run_available_now(query)


@pytest.mark.capability("stream_write")
def test_stream_write_lands_every_row_and_a_replay_changes_nothing(
    spark, connector, tmp_path
) -> None:
    target = connector.new_target("standard")
    source, checkpoint = tmp_path / "in", tmp_path / "checkpoint"
    source.mkdir()
    first = connector.standard(spark, 0, 40)
    # Keys 30..39 again with new values, and new keys 40..59.
    second = connector.standard(spark, 30, 60, tag=" second")
    columns = connector.columns()

    write_parquet(spark, first, source, "a.parquet")
    stream_into(spark, connector, source, checkpoint, target)
    assert connector.rows(target, columns) == spark_rows(first.collect(), columns)

    write_parquet(spark, second, source, "b.parquet")
    stream_into(spark, connector, source, checkpoint, target)
    if connector.keyed:
        expected = spark_rows(first.where("id < 30").unionByName(second).collect(), columns)
    else:
        expected = spark_rows(first.unionByName(second).collect(), columns)
    got = connector.rows(target, columns)
    assert len(got) == len(expected)
    assert got == expected

    # A crash after the write but before Spark recorded the commit: the batch is replayed.
    forget_last_commit(checkpoint)
    stream_into(spark, connector, source, checkpoint, target)
    assert connector.rows(target, columns) == expected


@pytest.mark.capability("batch_write", "stream_read")
def test_stream_read_delivers_every_row_once_across_restarts(spark, connector, tmp_path) -> None:
    target = connector.new_target("standard")
    out, checkpoint = tmp_path / "out", tmp_path / "checkpoint"
    options = connector.options(target)

    def run() -> None:
        run_available_now(into_parquet(connector.stream_read(spark, options), out, checkpoint))

    first, second = connector.standard(spark, 0, 30), connector.standard(spark, 30, 60)
    first.write.format(connector.name).options(**options).mode("append").save()
    columns = connector.columns()
    run()
    landed = spark_rows(spark.read.parquet(str(out)).collect(), columns)
    assert landed == spark_rows(first.collect(), columns)
    second.write.format(connector.name).options(**options).mode("append").save()
    run()  # a restarted query starts where the last one committed
    both = first.unionByName(second)
    landed = spark_rows(spark.read.parquet(str(out)).collect(), columns)
    assert landed == spark_rows(both.collect(), columns)
