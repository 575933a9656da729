"""A write that cannot succeed fails on the driver before any side effect and any task.

Repro of the data-loss bug this guards: a table with 1,000 rows, `mode("overwrite")` with
`confirmTruncate=true` and a DataFrame whose column `nme` the table lacks. The TRUNCATE
used to run on the driver, then every task failed: the job failed and the table was empty.
"""

from __future__ import annotations

import uuid

import pytest
from cassandra_support import connector_options, create_keyspace, unique

pytestmark = pytest.mark.services

ROWS = 1_000


@pytest.fixture(scope="module")
def keyspace(cql) -> str:
    name = unique("safety")
    create_keyspace(cql, name)
    return name


@pytest.fixture
def full_table(cql, keyspace) -> tuple[str, str]:
    """(keyspace, table) of a new table holding ROWS rows."""
    table = unique("people")
    cql.execute(f"CREATE TABLE {keyspace}.{table} (id int PRIMARY KEY, name text)")
    insert = cql.prepare(f"INSERT INTO {keyspace}.{table} (id, name) VALUES (?, ?)")
    for i in range(ROWS):
        cql.execute(insert, (i, f"n{i}"))
    return keyspace, table


def rows_of(cql, keyspace: str, table: str) -> set[tuple[int, str]]:
    return {(r.id, r.name) for r in cql.execute(f"SELECT id, name FROM {keyspace}.{table}")}


def write_without_tasks(spark, df, options: dict[str, str], mode: str) -> str:
    """Writes `df`, expecting a failure before Spark submits any job; returns the message."""
    sc = spark.sparkContext
    group = f"safety-{uuid.uuid4().hex}"
    sc.setJobGroup(group, "a write that must fail on the driver")
    try:
        with pytest.raises(Exception) as caught:
            df.write.format("cassandra").options(**options).mode(mode).save()
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)
    assert list(sc.statusTracker().getJobIdsForGroup(group)) == [], "a task ran"
    return str(caught.value)


UNKNOWN_COLUMN = [(1, "x")], "id INT, nme STRING"
STRING_KEY = [("1", "x")], "id STRING, name STRING"

MODES = {
    "overwrite": ("overwrite", {"confirmTruncate": "true"}),
    "append": ("append", {}),
    "createTable on an existing table": ("append", {"createTable": "true", "partitionKey": "id"}),
    "saveMode=errorIfExists": ("append", {"saveMode": "errorIfExists"}),
    "saveMode=ignore": ("append", {"saveMode": "ignore"}),
    "overwrite with createTable": (
        "overwrite",
        {"confirmTruncate": "true", "createTable": "true", "partitionKey": "id"},
    ),
}


@pytest.mark.parametrize("mode_name", list(MODES))
def test_unknown_column_fails_before_any_side_effect(
    spark, env, cql, full_table, mode_name
) -> None:
    keyspace, table = full_table
    mode, extra = MODES[mode_name]
    before = rows_of(cql, keyspace, table)
    assert len(before) == ROWS
    df = spark.createDataFrame(*UNKNOWN_COLUMN)
    options = connector_options(env, keyspace=keyspace, table=table, **extra)
    message = write_without_tasks(spark, df, options, mode)
    assert "column `nme` does not exist" in message, message
    assert "did you mean `name`" in message, message
    assert rows_of(cql, keyspace, table) == before


@pytest.mark.parametrize("mode_name", list(MODES))
def test_unconvertible_key_type_fails_before_any_side_effect(
    spark, env, cql, full_table, mode_name
) -> None:
    keyspace, table = full_table
    mode, extra = MODES[mode_name]
    before = rows_of(cql, keyspace, table)
    df = spark.createDataFrame(*STRING_KEY)
    options = connector_options(env, keyspace=keyspace, table=table, **extra)
    message = write_without_tasks(spark, df, options, mode)
    assert "`id`" in message and "int" in message.lower(), message
    assert rows_of(cql, keyspace, table) == before


def test_create_table_with_a_missing_option_column_creates_nothing(
    spark, env, cql, keyspace
) -> None:
    table = unique("never")
    df = spark.createDataFrame([(1, "x")], "id INT, name STRING")
    options = connector_options(
        env,
        keyspace=keyspace,
        table=table,
        createTable="true",
        partitionKey="id",
        ttlColumn="ttl_s",
    )
    message = write_without_tasks(spark, df, options, "append")
    assert "option `ttlColumn`" in message and "`ttl_s`" in message, message
    found = cql.execute(
        "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s AND table_name = %s",
        (keyspace, table),
    ).one()
    assert found is None, "the table was created although the write could not succeed"


def test_create_table_with_an_unknown_partition_key_creates_no_keyspace(spark, env, cql) -> None:
    new_keyspace = unique("nokeyspace")
    df = spark.createDataFrame([(1, "x")], "id INT, name STRING")
    options = connector_options(
        env,
        keyspace=new_keyspace,
        table="t",
        createTable="true",
        partitionKey="idd",
        keyspaceReplication="{'class': 'SimpleStrategy', 'replication_factor': 1}",
    )
    message = write_without_tasks(spark, df, options, "append")
    assert "option `partitionKey`" in message and "did you mean `id`" in message, message
    found = cql.execute(
        "SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = %s",
        (new_keyspace,),
    ).one()
    assert found is None, "the keyspace was created although the write could not succeed"
