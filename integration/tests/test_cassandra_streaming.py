"""Stream writes: each micro-batch upserted, so a replayed batch changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from cassandra_support import connector_options, cql_session, create_keyspace, unique
from conformance.streams import forget_last_commit, run_available_now, write_json

pytestmark = pytest.mark.services


def run_json_stream(spark, source: Path, checkpoint: Path, options: dict[str, str]) -> None:
    query = (
        spark.readStream.schema("id INT, v STRING")
        .json(str(source))
        .writeStream.format("cassandra")
        .options(**options)
        .option("checkpointLocation", str(checkpoint))
        .trigger(availableNow=True)
        .start()
    )
    run_available_now(query)


def test_restarted_stream_leaves_no_duplicate_effect(spark, env, tmp_path) -> None:
    cql = cql_session(env)
    keyspace = unique("stream")
    create_keyspace(cql, keyspace)
    cql.execute(f"CREATE TABLE {keyspace}.events (id int PRIMARY KEY, v text)")
    options = connector_options(env, keyspace=keyspace, table="events")
    source, checkpoint = tmp_path / "in", tmp_path / "checkpoint"
    source.mkdir()

    write_json(source / "a.json", [{"id": i, "v": "a"} for i in range(100)])
    run_json_stream(spark, source, checkpoint, options)
    write_json(source / "b.json", [{"id": i, "v": "b"} for i in range(50, 150)])
    run_json_stream(spark, source, checkpoint, options)
    expected = {i: ("a" if i < 50 else "b") for i in range(150)}

    def table() -> dict[int, str]:
        return {r.id: r.v for r in cql.execute(f"SELECT id, v FROM {keyspace}.events")}

    assert table() == expected
    # A crash after the write but before Spark recorded the commit: the batch is replayed.
    forget_last_commit(checkpoint)
    run_json_stream(spark, source, checkpoint, options)
    assert table() == expected
    cql.cluster.shutdown()
