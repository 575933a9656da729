"""Static-only partitions: a partition holding static values but no clustering row.

Spark reads such a partition as one row whose clustering columns are null. Writing that row
back writes the partition key and the static columns only, so copying a table with static
columns reproduces it exactly; a row that is neither a full row nor static-only is refused.
"""

from __future__ import annotations

from typing import Any

import pytest
from cassandra_support import connector_options, create_keyspace, unique

pytestmark = pytest.mark.services

SCHEMA = "pk int, ck int, s text static, v text, PRIMARY KEY (pk, ck)"


@pytest.fixture(scope="module")
def keyspace(cql) -> str:
    name = unique("statics")
    create_keyspace(cql, name)
    return name


def new_table(cql, keyspace: str, prefix: str) -> str:
    table = unique(prefix)
    cql.execute(f"CREATE TABLE {keyspace}.{table} ({SCHEMA})")
    return table


def contents(cql, keyspace: str, table: str) -> set[tuple[Any, ...]]:
    return {
        (r.pk, r.ck, r.s, r.v) for r in cql.execute(f"SELECT pk, ck, s, v FROM {keyspace}.{table}")
    }


def static_cells(cql, keyspace: str, table: str) -> dict[int, str | None]:
    """Each partition's static value (one entry per partition)."""
    return {r.pk: r.s for r in cql.execute(f"SELECT DISTINCT pk, s FROM {keyspace}.{table}")}


def write(df, env, keyspace: str, table: str, **extra: object) -> None:
    options = connector_options(env, keyspace=keyspace, table=table, **extra)
    df.write.format("cassandra").options(**options).mode("append").save()


@pytest.mark.parametrize(
    "extra",
    [{}, {"batchGroupingKey": "partition", "batchSizeRows": "4"}, {"ignoreNulls": "true"}],
    ids=["row-by-row", "partition-batches", "ignoreNulls"],
)
def test_copying_a_table_with_static_only_partitions(spark, env, cql, keyspace, extra) -> None:
    source = new_table(cql, keyspace, "src")
    copy = new_table(cql, keyspace, "copy")
    # Partitions 1..3: clustering rows plus a static value; 10..13: the static value only.
    for pk in range(1, 4):
        cql.execute(f"INSERT INTO {keyspace}.{source} (pk, s) VALUES ({pk}, 's{pk}')")
        for ck in range(3):
            cql.execute(
                f"INSERT INTO {keyspace}.{source} (pk, ck, v) VALUES ({pk}, {ck}, 'v{pk}.{ck}')"
            )
    for pk in range(10, 14):
        cql.execute(f"INSERT INTO {keyspace}.{source} (pk, s) VALUES ({pk}, 'only{pk}')")
    expected = contents(cql, keyspace, source)
    assert (10, None, "only10", None) in expected  # how Cassandra returns a static-only partition

    df = (
        spark.read.format("cassandra")
        .options(**connector_options(env, keyspace=keyspace, table=source))
        .load()
    )
    write(df, env, keyspace, copy, **extra)

    assert contents(cql, keyspace, copy) == expected
    assert static_cells(cql, keyspace, copy) == static_cells(cql, keyspace, source)


def test_a_dataframe_of_partition_key_and_static_columns_writes_the_statics(
    spark, env, cql, keyspace
) -> None:
    table = new_table(cql, keyspace, "only")
    cql.execute(f"INSERT INTO {keyspace}.{table} (pk, ck, s, v) VALUES (1, 7, 'old', 'kept')")
    df = spark.createDataFrame([(1, "new"), (2, "fresh")], "pk INT, s STRING")
    write(df, env, keyspace, table)
    assert contents(cql, keyspace, table) == {(1, 7, "new", "kept"), (2, None, "fresh", None)}


def test_a_dataframe_without_clustering_but_with_a_regular_column_fails(
    spark, env, cql, keyspace
) -> None:
    table = new_table(cql, keyspace, "noclust")
    df = spark.createDataFrame([(1, "x", "y")], "pk INT, s STRING, v STRING")
    with pytest.raises(Exception, match=r"no column `ck`, which is part of the primary key"):
        write(df, env, keyspace, table)
    assert contents(cql, keyspace, table) == set()


def test_a_row_without_clustering_key_that_sets_a_regular_column_fails(
    spark, env, cql, keyspace
) -> None:
    table = new_table(cql, keyspace, "regular")
    df = spark.createDataFrame([(5, None, "s", "v")], "pk INT, ck INT, s STRING, v STRING")
    with pytest.raises(Exception) as caught:
        write(df, env, keyspace, table)
    message = str(caught.value)
    assert "`v`" in message and "pk=5" in message, message
    assert contents(cql, keyspace, table) == set()


def test_a_row_with_some_clustering_columns_null_fails(spark, env, cql, keyspace) -> None:
    table = unique("partial")
    cql.execute(
        f"CREATE TABLE {keyspace}.{table} "
        "(pk int, c1 int, c2 int, s text static, PRIMARY KEY (pk, c1, c2))"
    )
    df = spark.createDataFrame([(3, 1, None, "s")], "pk INT, c1 INT, c2 INT, s STRING")
    options = connector_options(env, keyspace=keyspace, table=table)
    with pytest.raises(Exception) as caught:
        df.write.format("cassandra").options(**options).mode("append").save()
    message = str(caught.value)
    assert "primary key column `c2` is null" in message and "pk=3" in message, message
    assert list(cql.execute(f"SELECT * FROM {keyspace}.{table}")) == []
