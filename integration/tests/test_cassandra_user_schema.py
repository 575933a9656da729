"""A user schema (`.schema(...)`) is checked against the table at load and read exactly.

Each column of a user schema must exist in the table and ask for the connector's type or
one of its documented exact conversions (any type as STRING, integer widening, decimal and
varint to any DECIMAL(p,s), ...); anything else fails on the driver before any job, naming
the column, its CQL type, the Spark type asked for and the choices. Values the default
types cannot hold fail naming the column and the row's key, and read through the override.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from cassandra_support import connector_options, create_keyspace, unique

pytestmark = pytest.mark.services

INT64_MAX = 9_223_372_036_854_775_807


@pytest.fixture(scope="module")
def keyspace(cql) -> str:
    name = unique("uschema")
    create_keyspace(cql, name)
    return name


@pytest.fixture(scope="module")
def typed(cql, keyspace) -> str:
    """A small table of many CQL types, two rows and a row of nulls."""
    table = unique("typed")
    cql.execute(
        f"CREATE TABLE {keyspace}.{table} (id int PRIMARY KEY, d decimal, v varint, "
        "t timestamp, s smallint, f float, u uuid, l list<int>, m map<text, int>, b blob)"
    )
    cql.execute(
        f"INSERT INTO {keyspace}.{table} (id, d, v, t, s, f, u, l, m, b) VALUES "
        "(1, 123.45, 12345, '2024-01-02T03:04:05.678Z', 3, 1.5, "
        "00000000-0000-4000-8000-000000000001, [1, 2], {'a': 1, 'it''s': 2}, 0x0aff)"
    )
    cql.execute(
        f"INSERT INTO {keyspace}.{table} (id, d, v, t, s, f) VALUES "
        "(2, -0.5, -1, '1969-12-31T23:59:59.999Z', -7, -0.25)"
    )
    cql.execute(f"INSERT INTO {keyspace}.{table} (id) VALUES (3)")
    return table


def reader(spark, env, keyspace: str, table: str, schema: str | None):
    r = spark.read.format("cassandra").options(
        **connector_options(env, keyspace=keyspace, table=table)
    )
    return (r.schema(schema) if schema else r).load()


def by_id(rows) -> dict[int, Any]:
    return {int(r[0]): r for r in rows}


def collect_without_jobs(spark, df) -> str:
    """Collects `df`, expecting a failure before Spark submits any job; returns the message."""
    sc = spark.sparkContext
    group = f"uschema-{uuid.uuid4().hex}"
    sc.setJobGroup(group, "a read that must fail on the driver")
    try:
        with pytest.raises(Exception) as caught:
            df.collect()
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)
    assert list(sc.statusTracker().getJobIdsForGroup(group)) == [], "a job ran"
    return str(caught.value)


def test_a_column_the_table_lacks_fails_at_load(spark, env, keyspace, typed):
    df = reader(spark, env, keyspace, typed, "id INT, dd DECIMAL(38,18)")
    message = collect_without_jobs(spark, df)
    assert "ConfigError" in message, message
    assert "column `dd` does not exist" in message, message
    assert "did you mean `d`" in message, message
    assert "user schema" in message, message


def test_an_unconvertible_type_fails_at_load_naming_the_choices(spark, env, keyspace, typed):
    df = reader(spark, env, keyspace, typed, "id BOOLEAN, d DECIMAL(38,18)")
    message = collect_without_jobs(spark, df)
    assert "ConfigError" in message, message
    assert "column `id` is CQL `int`" in message, message
    assert "Spark BOOLEAN" in message, message
    assert "INT (the default), BIGINT, STRING" in message, message
    # A double is not an exact reading of a decimal.
    message = collect_without_jobs(spark, reader(spark, env, keyspace, typed, "id INT, d DOUBLE"))
    assert "column `d` is CQL `decimal`" in message and "any DECIMAL(p,s)" in message, message


def test_any_column_reads_as_its_cql_text(spark, env, keyspace, typed):
    schema = ", ".join(f"{c} STRING" for c in ["id", "d", "v", "t", "s", "f", "u", "l", "m", "b"])
    rows = by_id(reader(spark, env, keyspace, typed, schema).collect())
    assert rows[1].asDict() == {
        "id": "1",
        "d": "123.45",
        "v": "12345",
        "t": "2024-01-02T03:04:05.678Z",
        "s": "3",
        "f": "1.5",
        "u": "00000000-0000-4000-8000-000000000001",
        "l": "[1, 2]",
        "m": "{'a': 1, 'it''s': 2}",
        "b": "0x0aff",
    }
    assert rows[2]["id"] == str(2) and rows[2]["d"] == "-0.5" and rows[2]["v"] == "-1"
    assert rows[2]["t"] == "1969-12-31T23:59:59.999Z" and rows[2]["f"] == "-0.25"
    assert rows[3]["d"] is None and rows[3]["l"] is None


def test_widening_and_other_decimals_read_exactly(spark, env, keyspace, typed):
    schema = (
        "id BIGINT, d DECIMAL(38,30), v DECIMAL(20,2), t BIGINT, s INT, f DOUBLE, "
        "l ARRAY<BIGINT>, m MAP<STRING, STRING>"
    )
    df = reader(spark, env, keyspace, typed, schema)
    assert df.schema.simpleString() == (
        "struct<id:bigint,d:decimal(38,30),v:decimal(20,2),t:bigint,s:int,f:double,"
        "l:array<bigint>,m:map<string,string>>"
    )
    rows = by_id(df.collect())
    assert rows[1]["d"] == Decimal("123.45") and rows[1]["d"].as_tuple().exponent == -30
    assert rows[2]["d"] == Decimal("-0.5")
    assert rows[1]["v"] == Decimal("12345.00") and rows[2]["v"] == Decimal("-1.00")
    assert rows[1]["t"] == 1_704_164_645_678 and rows[2]["t"] == -1
    assert (rows[1]["s"], rows[2]["s"], rows[1]["f"], rows[2]["f"]) == (3, -7, 1.5, -0.25)
    assert rows[1]["l"] == [1, 2] and rows[1]["m"] == {"a": "1", "it's": "2"}
    assert rows[3]["d"] is None and rows[3]["t"] is None and rows[3]["l"] is None


def test_a_narrower_decimal_reads_exactly_or_names_the_row(spark, env, keyspace, cql):
    table = unique("prices")
    cql.execute(f"CREATE TABLE {keyspace}.{table} (id int PRIMARY KEY, d decimal)")
    cql.execute(f"INSERT INTO {keyspace}.{table} (id, d) VALUES (1, 123.45)")
    cql.execute(f"INSERT INTO {keyspace}.{table} (id, d) VALUES (2, -0.5)")
    rows = by_id(reader(spark, env, keyspace, table, "id INT, d DECIMAL(10,2)").collect())
    assert rows == {1: (1, Decimal("123.45")), 2: (2, Decimal("-0.50"))}
    # Three decimal places do not fit DECIMAL(10,2): never rounded.
    cql.execute(f"INSERT INTO {keyspace}.{table} (id, d) VALUES (3, 1.234)")
    with pytest.raises(Exception) as caught:
        reader(spark, env, keyspace, table, "id INT, d DECIMAL(10,2)").collect()
    message = str(caught.value)
    assert "DataError" in message, message
    assert "column `d`: decimal value 1.234 does not fit Spark's DECIMAL(10,2)" in message
    assert "at row (id=3)" in message, message


@pytest.fixture(scope="module")
def unholdable(cql, keyspace) -> str:
    """Values no default Spark type holds, in row (7, 'k'); row (1, 'a') is ordinary."""
    table = unique("unholdable")
    cql.execute(
        f"CREATE TABLE {keyspace}.{table} (id int, ck text, d decimal, v varint, t timestamp, "
        "PRIMARY KEY (id, ck))"
    )
    cql.execute(f"INSERT INTO {keyspace}.{table} (id, ck, d, v, t) VALUES (1, 'a', 1.5, 2, 0)")
    cql.execute(
        f"INSERT INTO {keyspace}.{table} (id, ck, d, v, t) VALUES "
        f"(7, 'k', 1.2345678901234567890123456, {10**40}, {INT64_MAX})"
    )
    return table


@pytest.mark.parametrize(
    "case",
    [
        ("d", "DECIMAL(38,18)", "`d STRING`"),
        ("v", "DECIMAL(38,0)", "`v STRING`"),
        ("t", "TIMESTAMP", "`t BIGINT`"),
    ],
    ids=["decimal", "varint", "timestamp"],
)
def test_a_value_spark_cannot_hold_names_its_row_and_the_way_through(
    spark, env, keyspace, unholdable, case
):
    column, default, advice = case
    df = reader(spark, env, keyspace, unholdable, f"id INT, ck STRING, {column} {default}")
    with pytest.raises(Exception) as caught:
        df.collect()
    message = str(caught.value)
    assert "DataError" in message, message
    assert f"column `{column}`" in message, message
    assert "at row (id=7, ck='k')" in message, message
    assert ".schema(" in message and advice in message, message
    # With no user schema the same value fails the same way.
    with pytest.raises(Exception) as caught:
        reader(spark, env, keyspace, unholdable, None).collect()
    assert "at row (id=7, ck='k')" in str(caught.value), str(caught.value)


def test_the_user_schema_reads_values_spark_cannot_hold(spark, env, keyspace, unholdable):
    df = reader(spark, env, keyspace, unholdable, "id INT, ck STRING, d STRING, v STRING, t STRING")
    rows = by_id(df.collect())
    assert rows[7].asDict() == {
        "id": 7,
        "ck": "k",
        "d": "1.2345678901234567890123456",
        "v": str(10**40),
        "t": str(INT64_MAX),
    }
    assert rows[1]["t"] == "1970-01-01T00:00:00.000Z"
    wide = reader(spark, env, keyspace, unholdable, "id INT, ck STRING, d DECIMAL(38,25), t BIGINT")
    rows = by_id(wide.collect())
    assert rows[7]["d"] == Decimal("1.2345678901234567890123456")
    assert rows[7]["t"] == INT64_MAX
