"""`createTable` with `columnTypes`: the user chooses the CQL type of columns (sets, uuid,
inet, time, vectors, a UDT of the keyspace), a bad choice fails on the driver before any
CREATE, and the data written reads back equal."""

from __future__ import annotations

import uuid

import pytest
from cassandra_support import connector_options, create_keyspace, unique

pytestmark = pytest.mark.services

COLUMN_TYPES = (
    "id:uuid; tags:set<text>; ip:inet; emb:vector<float, 3>; addr:frozen<address>; t:time"
)
SCHEMA = (
    "id STRING, tags ARRAY<STRING>, ip STRING, emb ARRAY<FLOAT>, "
    "addr STRUCT<street: STRING, zip: INT>, t BIGINT, n BIGINT"
)


@pytest.fixture(scope="module")
def keyspace(cql) -> str:
    name = unique("create")
    create_keyspace(cql, name)
    cql.execute(f"CREATE TYPE {name}.address (street text, zip int)")
    cql.execute(f"CREATE TYPE {name}.point (x int, label text)")
    return name


def column_types_of(cql, keyspace: str, table: str) -> dict[str, str]:
    rows = cql.execute(
        "SELECT column_name, type FROM system_schema.columns "
        "WHERE keyspace_name = %s AND table_name = %s",
        (keyspace, table),
    )
    return {r.column_name: r.type for r in rows}


def table_exists(cql, keyspace: str, table: str) -> bool:
    rows = cql.execute(
        "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s AND table_name = %s",
        (keyspace, table),
    )
    return bool(list(rows))


def test_column_types_make_the_table_and_the_data_round_trips(spark, env, cql, keyspace) -> None:
    table = unique("typed")
    rows = [
        (
            str(uuid.UUID(int=1)),
            ["a", "b"],
            "10.0.0.1",
            [0.5, 1.25, -2.0],
            ("Main St", 12345),
            3_600_000_000_000,
            7,
        ),
        (str(uuid.UUID(int=2)), ["z"], "::1", [1.0, 2.0, 3.0], ("Side St", 1), 0, 8),
    ]
    df = spark.createDataFrame(rows, SCHEMA)
    options = connector_options(
        env,
        keyspace=keyspace,
        table=table,
        createTable="true",
        partitionKey="id",
        columnTypes=COLUMN_TYPES,
    )
    df.write.format("cassandra").options(**options).mode("append").save()

    assert column_types_of(cql, keyspace, table) == {
        "id": "uuid",
        "tags": "set<text>",
        "ip": "inet",
        "emb": "vector<float, 3>",
        "addr": "frozen<address>",
        "t": "time",
        "n": "bigint",
    }
    read = spark.read.format("cassandra").options(
        **connector_options(env, keyspace=keyspace, table=table)
    )
    got = sorted(
        (
            r.id,
            sorted(r.tags),
            r.ip,
            list(r.emb),
            (r.addr.street, r.addr.zip),
            r.t,
            r.n,
        )
        for r in read.load().collect()
    )
    assert got == sorted((a, sorted(b), c, d, e, f, g) for a, b, c, d, e, f, g in rows)


@pytest.mark.parametrize(
    "case",
    [
        ("tgas:set<text>", r"column `tgas` is not in the DataFrame.*did you mean `tags`"),
        ("tags:sett<text>", r"cannot parse CQL type `sett<text>`"),
        ("n:uuid", r"column `n` of Arrow type Int64 cannot be written to CQL type uuid"),
        ("tags", r"is not `column:type`"),
        ("addr:frozen<adress>", r"user-defined type `adress` does not exist.*did you mean"),
        ("addr:frozen<point>", r"column `addr` of Arrow type .* cannot be written to .*point"),
    ],
)
def test_a_bad_column_type_fails_before_any_create(
    spark, env, cql, keyspace, case: tuple[str, str]
) -> None:
    column_types, says = case
    table = unique("never")
    df = spark.createDataFrame([], SCHEMA)
    options = connector_options(
        env,
        keyspace=keyspace,
        table=table,
        createTable="true",
        partitionKey="id",
        columnTypes=column_types,
    )
    with pytest.raises(Exception, match=r"option `columnTypes`: .*" + says):
        df.write.format("cassandra").options(**options).mode("append").save()
    assert not table_exists(cql, keyspace, table)
