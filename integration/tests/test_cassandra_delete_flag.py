"""`deleteFlagColumn`: one write that deletes the rows whose flag matches and upserts the rest."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cassandra_support import connector_options, create_keyspace, unique
from conformance.streams import run_available_now, write_json

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def keyspace(cql) -> str:
    name = unique("delflag")
    create_keyspace(cql, name)
    return name


def ten_rows(cql, keyspace: str) -> str:
    """A new table holding ids 0..9 with v = 'v<id>'."""
    table = unique("items")
    cql.execute(f"CREATE TABLE {keyspace}.{table} (id int PRIMARY KEY, v text)")
    insert = cql.prepare(f"INSERT INTO {keyspace}.{table} (id, v) VALUES (?, ?)")
    for i in range(10):
        cql.execute(insert, (i, f"v{i}"))
    return table


def contents(cql, keyspace: str, table: str) -> dict[int, str]:
    return {r.id: r.v for r in cql.execute(f"SELECT id, v FROM {keyspace}.{table}")}


# Ids 1, 4, 7 deleted; 2 and 3 changed; 42 new.
EXPECTED = {0: "v0", 2: "two", 3: "three", 5: "v5", 6: "v6", 8: "v8", 9: "v9", 42: "new"}


@pytest.mark.parametrize(
    ("flag_type", "flags", "extra"),
    [
        ("BOOLEAN", (True, False), {}),
        ("BOOLEAN", (True, False), {"batchGroupingKey": "partition"}),
        ("STRING", ("D", "U"), {"deleteFlagValue": "D"}),
        ("INT", (1, 0), {}),
        ("BIGINT", (-1, 7), {"deleteFlagValue": "-1"}),
    ],
    ids=["boolean", "boolean-batched", "string", "int-default", "bigint"],
)
def test_batch_write_deletes_flagged_rows_and_upserts_the_rest(
    spark, env, cql, keyspace, task_log, *, flag_type, flags, extra
) -> None:
    table = ten_rows(cql, keyspace)
    yes, no = flags
    df = spark.createDataFrame(
        [
            (1, None, yes),
            (4, "ignored", yes),
            (7, None, yes),
            (2, "two", no),
            (3, "three", None),  # a null flag upserts
            (42, "new", no),
        ],
        f"id INT, v STRING, op {flag_type}",
    )
    options = connector_options(
        env, keyspace=keyspace, table=table, deleteFlagColumn="op", logLevel="info", **extra
    )
    df.coalesce(1).write.format("cassandra").options(**options).mode("append").save()
    assert contents(cql, keyspace, table) == EXPECTED
    (summary,) = [s for s in task_log.summaries("cassandra") if s.task.startswith("write")]
    assert summary.rows == 6 and summary.line.endswith(", 3 deletes"), summary.line


def test_stream_write_deletes_flagged_rows(spark, env, cql, keyspace, tmp_path: Path) -> None:
    table = ten_rows(cql, keyspace)
    options = connector_options(env, keyspace=keyspace, table=table, deleteFlagColumn="deleted")
    source, checkpoint = tmp_path / "in", tmp_path / "checkpoint"
    source.mkdir()
    write_json(
        source / "a.json",
        [
            {"id": 1, "deleted": True},
            {"id": 2, "v": "two", "deleted": False},
            {"id": 42, "v": "new"},
        ],
    )
    write_json(
        source / "b.json",
        [
            {"id": 4, "deleted": True},
            {"id": 7, "v": "x", "deleted": True},
            {"id": 3, "v": "three", "deleted": False},
        ],
    )
    query = (
        spark.readStream.schema("id INT, v STRING, deleted BOOLEAN")
        .option("maxFilesPerTrigger", 1)
        .json(str(source))
        .writeStream.format("cassandra")
        .options(**options)
        .option("checkpointLocation", str(checkpoint))
        .trigger(availableNow=True)
        .start()
    )
    run_available_now(query)
    assert contents(cql, keyspace, table) == EXPECTED


def failed_write(spark, df, options: dict[str, str]) -> str:
    """The message of a write that must fail on the driver, before any task."""
    sc = spark.sparkContext
    group = unique("delflag-job")
    sc.setJobGroup(group, "a write that must fail on the driver")
    try:
        with pytest.raises(Exception) as caught:
            df.write.format("cassandra").options(**options).mode("append").save()
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)
    assert list(sc.statusTracker().getJobIdsForGroup(group)) == [], "a task ran"
    return str(caught.value)


@pytest.mark.parametrize(
    ("ddl", "extra", "expected"),
    [
        ("id INT, v STRING, op BOOLEAN", {"deleteFlagColumn": "opp"}, r"`deleteFlagColumn`.*`opp`"),
        (
            "id INT, v STRING, op BOOLEAN",
            {"deleteFlagColumn": "op", "deleteFlagValue": "yes"},
            r"`deleteFlagValue`.*`yes`.*true or false",
        ),
        (
            "id INT, v STRING, op INT",
            {"deleteFlagColumn": "op", "deleteFlagValue": "D"},
            r"`deleteFlagValue`.*`D`.*integer",
        ),
        ("id INT, v STRING, op STRING", {"deleteFlagColumn": "op"}, r"`deleteFlagValue`.*string"),
        (
            "id INT, v STRING, op DOUBLE",
            {"deleteFlagColumn": "op"},
            r"`deleteFlagColumn`.*(DOUBLE|Float64)",
        ),
        (
            "id INT, v STRING, op BOOLEAN",
            {"deleteFlagColumn": "op", "writeMode": "delete"},
            r"`deleteFlagColumn`.*`writeMode`",
        ),
        (
            "id INT, v STRING",
            {"deleteFlagValue": "true"},
            r"`deleteFlagValue` needs `deleteFlagColumn`",
        ),
    ],
    ids=[
        "missing-column",
        "bad-boolean",
        "bad-integer",
        "string-needs-value",
        "double-column",
        "with-writeMode-delete",
        "value-without-column",
    ],
)
def test_bad_delete_flag_options_fail_on_the_driver(
    spark, env, cql, keyspace, *, ddl, extra, expected
) -> None:
    table = ten_rows(cql, keyspace)
    width = len(ddl.split(","))
    df = spark.createDataFrame([(1, "x", None)[:width]], ddl)
    message = failed_write(
        spark, df, connector_options(env, keyspace=keyspace, table=table, **extra)
    )
    assert re.search(expected, message, flags=re.S), message
    assert contents(cql, keyspace, table) == {i: f"v{i}" for i in range(10)}


def test_created_table_has_no_flag_column(spark, env, cql, keyspace) -> None:
    table = unique("created")
    df = spark.createDataFrame([(1, "a", False), (2, "b", True)], "id INT, v STRING, op BOOLEAN")
    options = connector_options(
        env,
        keyspace=keyspace,
        table=table,
        createTable="true",
        partitionKey="id",
        deleteFlagColumn="op",
    )
    df.write.format("cassandra").options(**options).mode("append").save()
    columns = {
        r.column_name
        for r in cql.execute(
            "SELECT column_name FROM system_schema.columns "
            "WHERE keyspace_name = %s AND table_name = %s",
            (keyspace, table),
        )
    }
    assert columns == {"id", "v"}
    assert contents(cql, keyspace, table) == {1: "a"}
