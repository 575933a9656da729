"""Stream writes: each micro-batch upserted, so a replayed batch changes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cassandra_support import connector_options, cql_session, create_keyspace, unique

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def env(services_env) -> dict[str, Any]:
    services_env(["cassandra"])
    return services_env.data


def write_json(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def run_available_now(spark, source: Path, checkpoint: Path, options: dict[str, str]) -> None:
    query = (
        spark.readStream.schema("id INT, v STRING")
        .json(str(source))
        .writeStream.format("cassandra")
        .options(**options)
        .option("checkpointLocation", str(checkpoint))
        .trigger(availableNow=True)
        .start()
    )
    finished = query.awaitTermination(300)
    query.stop()  # availableNow ends by itself; stop() also waits for its threads to exit
    assert finished, "the availableNow query did not finish within 300 s"
    assert query.exception() is None, query.exception()


def test_restarted_stream_leaves_no_duplicate_effect(spark, env, tmp_path) -> None:
    cql = cql_session(env)
    keyspace = unique("stream")
    create_keyspace(cql, keyspace)
    cql.execute(f"CREATE TABLE {keyspace}.events (id int PRIMARY KEY, v text)")
    options = connector_options(env, keyspace=keyspace, table="events")
    source, checkpoint = tmp_path / "in", tmp_path / "checkpoint"
    source.mkdir()

    write_json(source / "a.json", [{"id": i, "v": "a"} for i in range(100)])
    run_available_now(spark, source, checkpoint, options)
    write_json(source / "b.json", [{"id": i, "v": "b"} for i in range(50, 150)])
    run_available_now(spark, source, checkpoint, options)
    expected = {i: ("a" if i < 50 else "b") for i in range(150)}

    def table() -> dict[int, str]:
        return {r.id: r.v for r in cql.execute(f"SELECT id, v FROM {keyspace}.events")}

    assert table() == expected
    # A crash after the write but before Spark recorded the commit: the batch is replayed.
    commits = sorted((checkpoint / "commits").glob("[0-9]*"), key=lambda p: int(p.name))
    commits[-1].unlink()
    (commits[-1].parent / f".{commits[-1].name}.crc").unlink(missing_ok=True)
    run_available_now(spark, source, checkpoint, options)
    assert table() == expected
    cql.cluster.shutdown()
