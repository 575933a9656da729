"""spark-ds-cassandra batch reads and writes through Spark against the harness's Cassandra."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from decimal import Decimal
from typing import Any

import pytest
from cassandra_support import connector_options, create_keyspace, unique

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def keyspace(cql) -> str:
    name = unique("batch")
    create_keyspace(cql, name)
    return name


@pytest.fixture
def utc(spark):
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    return spark


def read(spark, env, keyspace: str, table: str, **extra: object):
    options = connector_options(env, keyspace=keyspace, table=table, **extra)
    return spark.read.format("cassandra").options(**options).load()


def write(df, env, keyspace: str, table: str, mode: str = "append", **extra: object) -> None:
    options = connector_options(env, keyspace=keyspace, table=table, **extra)
    df.write.format("cassandra").options(**options).mode(mode).save()


ALL_TYPES_DDL = """
CREATE TABLE {ks}.{table} (
  id int PRIMARY KEY,
  a ascii, t text, vc varchar, bi bigint, i int, si smallint, ti tinyint, vi varint,
  dec decimal, f float, d double, b boolean, bl blob, ip inet, u uuid, tu timeuuid,
  dt date, tm time, ts timestamp, du duration,
  l list<int>, s set<text>, m map<text, bigint>, tup tuple<int, text>,
  addr frozen<address>, nested map<text, frozen<list<frozen<map<int, text>>>>>,
  v vector<float, 3>
)"""

ROW_ONE = """
INSERT INTO {ks}.{table} (id, a, t, vc, bi, i, si, ti, vi, dec, f, d, b, bl, ip, u, tu, dt, tm,
  ts, du, l, s, m, tup, addr, nested, v)
VALUES (1, 'ascii', 'text ✓ ünï', 'vc', 4611686018427387904, -7, 32000, -128,
  12345678901234567890123, -3.14159, 1.5, 2.25, true, 0x0001ff, '10.0.0.1',
  5b6962dd-3f90-4c93-8f61-eabfa4a803e2, 50554d6e-29bb-11e5-b345-feff819cdc9f,
  '2024-02-29', '13:14:15.123456789', '2024-01-02 03:04:05.678+0000', 1mo2d3ns,
  [1, 2, 3], {{'y', 'x'}}, {{'a': 1, 'b': -2}}, (5, 'five'),
  {{street: 'Main', zip: 123, tags: {{'b', 'a'}}}}, {{'k': [{{1: 'one'}}, {{}}]}},
  [1.0, 2.5, -3.0])
"""


@pytest.fixture(scope="module")
def all_types(cql, keyspace) -> str:
    cql.execute(
        f"CREATE TYPE IF NOT EXISTS {keyspace}.address "
        "(street text, zip int, tags frozen<set<text>>)"
    )
    for table in ("all_types", "all_types_copy"):
        cql.execute(ALL_TYPES_DDL.format(ks=keyspace, table=table))
    cql.execute(ROW_ONE.format(ks=keyspace, table="all_types"))
    cql.execute(f"INSERT INTO {keyspace}.all_types (id) VALUES (2)")
    return "all_types"


def test_every_cql_type_reads_into_spark(utc, env, keyspace, all_types) -> None:
    rows = {r["id"]: r for r in read(utc, env, keyspace, all_types).collect()}
    one = rows[1].asDict(recursive=True)
    assert one["a"] == "ascii" and one["t"] == "text ✓ ünï" and one["vc"] == "vc"
    assert one["bi"] == 4611686018427387904 and one["i"] == -7
    assert one["si"] == 32000 and one["ti"] == -128
    assert one["vi"] == Decimal("12345678901234567890123")
    assert one["dec"] == Decimal("-3.14159")
    assert one["f"] == 1.5 and one["d"] == 2.25 and one["b"] is True
    assert one["bl"] == bytearray(b"\x00\x01\xff")
    assert one["ip"] == "10.0.0.1"
    assert one["u"] == "5b6962dd-3f90-4c93-8f61-eabfa4a803e2"
    assert one["tu"] == "50554d6e-29bb-11e5-b345-feff819cdc9f"
    assert one["dt"] == dt.date(2024, 2, 29)
    assert one["tm"] == (13 * 3600 + 14 * 60 + 15) * 1_000_000_000 + 123_456_789
    assert one["ts"] == dt.datetime(2024, 1, 2, 3, 4, 5, 678000)
    assert one["du"] == {"months": 1, "days": 2, "nanoseconds": 3}
    assert one["l"] == [1, 2, 3] and one["s"] == ["x", "y"]
    assert one["m"] == {"a": 1, "b": -2}
    assert one["tup"] == {"_1": 5, "_2": "five"}
    assert one["addr"] == {"street": "Main", "zip": 123, "tags": ["a", "b"]}
    assert one["nested"] == {"k": [{1: "one"}, {}]}
    assert one["v"] == [1.0, 2.5, -3.0]
    two = rows[2].asDict()
    assert all(value is None for key, value in two.items() if key != "id"), two


def test_every_cql_type_round_trips_through_the_writer(utc, env, cql, keyspace, all_types) -> None:
    write(read(utc, env, keyspace, all_types), env, keyspace, "all_types_copy")
    original = sorted(cql.execute(f"SELECT * FROM {keyspace}.all_types"), key=lambda r: r.id)
    copied = sorted(cql.execute(f"SELECT * FROM {keyspace}.all_types_copy"), key=lambda r: r.id)
    assert len(copied) == 2
    for before, after in zip(original, copied, strict=True):
        for field in before._fields:
            assert getattr(after, field) == getattr(before, field), field


@pytest.fixture(scope="module")
def wide(spark, env, keyspace) -> str:
    """3,000 partitions of 2 rows, written by the connector itself (createTable)."""
    df = spark.range(3000).selectExpr(
        "CAST(id AS INT) AS pk", "explode(array(0, 1)) AS ck", "concat('v', id) AS v"
    )
    write(df, env, keyspace, "wide", createTable="true", partitionKey="pk", clusteringKey="ck")
    return "wide"


def test_token_range_reads_equal_a_single_full_scan(spark, env, keyspace, wide) -> None:
    whole = read(spark, env, keyspace, wide, splitCount=1)
    split = read(spark, env, keyspace, wide, splitCount=48)
    assert split.rdd.getNumPartitions() > 8
    full_rows = sorted(tuple(r) for r in whole.collect())
    split_rows = sorted(tuple(r) for r in split.collect())
    assert len(full_rows) == 6000
    assert len(set(split_rows)) == len(split_rows) == 6000
    assert split_rows == full_rows


def test_concurrent_scans_and_key_reads_are_exact(spark, env, keyspace, wide) -> None:
    sequential = read(spark, env, keyspace, wide, splitCount=1, concurrentScans=1)
    expected = sorted(tuple(r) for r in sequential.collect())
    for scans in (3, 16):
        df = read(spark, env, keyspace, wide, splitCount=4, concurrentScans=scans)
        assert sorted(tuple(r) for r in df.collect()) == expected, f"concurrentScans={scans}"
    # 600 pushed keys: three key partitions, each read 7 keys at a time.
    from pyspark_ds_cassandra import _native

    options = connector_options(env, keyspace=keyspace, table=wide, concurrentReads=7)
    columns = ["pk", "ck", "v"]
    pushed = json.dumps([{"op": "in", "column": "pk", "values": list(range(600))}])
    accepted, state, explain = _native.push_filters(options, columns, pushed)
    assert accepted == [0], explain
    partitions = _native.plan_partitions(options, columns, state)
    assert len(partitions) == 3
    rows = sorted(
        tuple(row.values())
        for p in partitions
        for batch in _native.open_reader(options, columns, p, state)
        for row in batch.to_pylist()
    )
    assert rows == [r for r in expected if r[0] < 600]
    assert len(rows) == 1200


def drain(options: dict[str, str], columns: list[str]) -> list[Any]:
    from pyspark_ds_cassandra import _native

    return [
        batch
        for p in _native.plan_partitions(options, columns, None)
        for batch in _native.open_reader(options, columns, p, None)
    ]


# A throttle guarantees a lower bound on elapsed time (a slow machine only adds to it), so
# these tests assert only that bound, with the one second of burst a throttle allows.
def test_read_throttles_hold_their_rates(env, keyspace, wide) -> None:
    columns = ["pk", "ck", "v"]
    sequential = {"splitCount": "1", "concurrentScans": "1", "fetchSize": "100"}
    base = connector_options(env, keyspace=keyspace, table=wide, **sequential)
    started = time.monotonic()
    batches = drain({**base, "readsPerSec": "20"}, columns)
    elapsed = time.monotonic() - started
    assert sum(b.num_rows for b in batches) == 6000
    assert len(batches) >= 60
    assert elapsed >= (len(batches) - 20) / 20, f"{len(batches)} pages in {elapsed:.2f} s"

    rate = 0.02 * 1024 * 1024
    started = time.monotonic()
    batches = drain({**base, "readThroughputMBPerSec": "0.02"}, columns)
    elapsed = time.monotonic() - started
    size = sum(b.nbytes for b in batches)
    assert sum(b.num_rows for b in batches) == 6000
    assert size > 3 * rate, "enough data to outlast the burst"
    # The last batch is handed out before its bytes are paid for.
    assert elapsed >= (size - batches[-1].nbytes) / rate - 1, f"{size} B in {elapsed:.2f} s"


def test_write_throttle_holds_its_rate(env, keyspace) -> None:
    import pyarrow as pa
    from pyspark_ds_cassandra import _native

    options = connector_options(
        env,
        keyspace=keyspace,
        table="throttled",
        createTable="true",
        partitionKey="id",
        writeThroughputMBPerSec="0.1",
    )
    text = [f"value-{i:06}-{'x' * 24}" for i in range(8000)]
    batch = pa.record_batch({"id": pa.array(range(8000), pa.int64()), "v": text})
    rate = 0.1 * 1024 * 1024
    assert batch.nbytes > 3 * rate, "enough data to outlast the burst"
    _native.prepare_write(options, batch.schema, False)
    writer = _native.open_writer(options, batch.schema)
    started = time.monotonic()
    writer.write(batch)
    stats = writer.finish()
    elapsed = time.monotonic() - started
    assert stats["rows"] == 8000, stats
    assert elapsed >= batch.nbytes / rate - 1, f"{batch.nbytes} B in {elapsed:.2f} s"


def test_default_planning_splits_and_covers_the_table(spark, env, keyspace, wide) -> None:
    df = read(spark, env, keyspace, wide)
    assert df.count() == 6000
    assert df.select("pk", "ck").distinct().count() == 6000


def test_query_option_reads_a_restricted_select(spark, env, keyspace, wide) -> None:
    def query(cql: str, **extra: object):
        options = connector_options(env, query=cql, **extra)
        return spark.read.format("cassandra").options(**options).load()

    # No partition-key restriction: still split by token range, WHERE applied in Cassandra.
    df = query(f"SELECT pk, v FROM {keyspace}.{wide} WHERE ck = 1 ALLOW FILTERING", splitCount=8)
    assert df.columns == ["pk", "v"]
    assert df.rdd.getNumPartitions() >= 8
    rows = df.collect()
    assert len(rows) == len({r.pk for r in rows}) == 3000
    assert all(r.v == f"v{r.pk}" for r in rows)
    # A partition-key restriction: the query runs as written, in one partition.
    df = query(f'select * from "{wide}" where pk = 7', keyspace=keyspace)
    assert df.rdd.getNumPartitions() == 1
    assert sorted(tuple(r) for r in df.collect()) == [(7, 0, "v7"), (7, 1, "v7")]

    with pytest.raises(Exception, match=r"option `query`: LIMIT cannot be split"):
        query(f"SELECT * FROM {keyspace}.{wide} LIMIT 5").collect()
    with pytest.raises(Exception, match=r"column `nope` does not exist"):
        query(f"SELECT pk, nope FROM {keyspace}.{wide}").collect()
    with pytest.raises(Exception, match=r"options `query` and `table` exclude each other"):
        query(f"SELECT * FROM {keyspace}.{wide}", table=wide).collect()
    frame = spark.createDataFrame([(1, 0, "x")], "pk INT, ck INT, v STRING")
    options = connector_options(env, query=f"SELECT * FROM {keyspace}.{wide}")
    with pytest.raises(Exception, match=r"option `query` is for reads"):
        frame.write.format("cassandra").options(**options).mode("append").save()


def test_user_schema_subset_projects_columns(spark, env, keyspace, wide) -> None:
    options = connector_options(env, keyspace=keyspace, table=wide)
    df = spark.read.format("cassandra").schema("v STRING, pk INT").options(**options).load()
    row = df.where("pk = 11").first()
    assert df.columns == ["v", "pk"]
    assert row["v"] == "v11"


def test_pushdown_reads_only_the_requested_partitions(spark, env, keyspace, wide) -> None:
    from pyspark_ds_cassandra import _native

    options = connector_options(env, keyspace=keyspace, table=wide)
    columns = ["pk", "ck", "v"]
    filters = [
        {"op": "in", "column": "pk", "values": [7, 8]},
        {"op": "ge", "column": "ck", "value": 1},
        {"op": "eq", "column": "v", "value": "v7"},
    ]
    accepted, state, explain = _native.push_filters(options, columns, json.dumps(filters))
    assert accepted == [0, 1], explain
    partitions = _native.plan_partitions(options, columns, state)
    pushed_rows = sum(
        batch.num_rows
        for p in partitions
        for batch in _native.open_reader(options, columns, p, state)
    )
    all_rows = sum(
        batch.num_rows
        for p in _native.plan_partitions(options, columns, None)
        for batch in _native.open_reader(options, columns, p, None)
    )
    assert pushed_rows == 2
    assert all_rows == 6000


def test_pushdown_through_spark_gives_exact_results(spark, env, keyspace, wide) -> None:
    spark.conf.set("spark.sql.python.filterPushdown.enabled", "true")
    try:
        df = read(spark, env, keyspace, wide)
        rows = df.where("pk IN (7, 8) AND ck >= 1 AND v = 'v7'").collect()
        assert [tuple(r) for r in rows] == [(7, 1, "v7")]
        assert df.where("pk = 2999").count() == 2
        assert df.where("ck < 1").count() == 3000
    finally:
        spark.conf.set("spark.sql.python.filterPushdown.enabled", "false")


def test_overwrite_truncates_only_when_confirmed(spark, env, cql, keyspace) -> None:
    table = "overwrite_me"
    first = spark.createDataFrame([(1, "a"), (2, "b")], "id INT, name STRING")
    write(first, env, keyspace, table, createTable="true", partitionKey="id")
    second = spark.createDataFrame([(3, "c")], "id INT, name STRING")
    with pytest.raises(Exception, match="confirmTruncate"):
        write(second, env, keyspace, table, mode="overwrite")
    assert read(spark, env, keyspace, table).count() == 2
    write(second, env, keyspace, table, mode="overwrite", confirmTruncate="true")
    assert [tuple(r) for r in read(spark, env, keyspace, table).collect()] == [(3, "c")]


def test_append_is_an_upsert(spark, env, keyspace) -> None:
    table = "upserts"
    df = spark.createDataFrame([(1, "a"), (2, "b")], "id INT, name STRING")
    write(df, env, keyspace, table, createTable="true", partitionKey="id")
    write(spark.createDataFrame([(2, "B")], "id INT, name STRING"), env, keyspace, table)
    rows = sorted(tuple(r) for r in read(spark, env, keyspace, table).collect())
    assert rows == [(1, "a"), (2, "B")]


def test_ttl_and_writetime_constants_and_columns(spark, env, keyspace) -> None:
    table = "timed"
    df = spark.createDataFrame([(1, "a", 600), (2, "b", 900)], "id INT, v STRING, life INT")
    write(
        df.select("id", "v"),
        env,
        keyspace,
        table,
        createTable="true",
        partitionKey="id",
        ttl=3600,
        writetime=1_700_000_000_000_000,
    )
    got = read(spark, env, keyspace, table, ttlColumns="v", writetimeColumns="v")
    for row in got.collect():
        assert 3500 < row["v_ttl"] <= 3600
        assert row["v_writetime"] == 1_700_000_000_000_000
    write(df, env, keyspace, "timed_rows", createTable="true", partitionKey="id", ttlColumn="life")
    ttls = {
        r["id"]: r["v_ttl"]
        for r in read(spark, env, keyspace, "timed_rows", ttlColumns="v").collect()
    }
    assert 500 < ttls[1] <= 600 and 800 < ttls[2] <= 900


def test_counter_tables_are_incremented(spark, env, cql, keyspace) -> None:
    cql.execute(f"CREATE TABLE {keyspace}.hits (page text PRIMARY KEY, views counter)")
    df = spark.createDataFrame([("home", 1), ("docs", 5)], "page STRING, views LONG")
    write(df, env, keyspace, "hits")
    write(df, env, keyspace, "hits")
    views = {r.page: r.views for r in cql.execute(f"SELECT * FROM {keyspace}.hits")}
    assert views == {"home": 2, "docs": 10}


def test_deletes_rows_and_columns_by_key(spark, env, cql, keyspace) -> None:
    table = "deletable"
    df = spark.createDataFrame(
        [(1, "a", "x"), (2, "b", "y"), (3, "c", "z")], "id INT, v STRING, w STRING"
    )
    write(df, env, keyspace, table, createTable="true", partitionKey="id")
    keys = spark.createDataFrame([(1,)], "id INT")
    write(keys, env, keyspace, table, writeMode="delete")
    write(
        spark.createDataFrame([(2,)], "id INT"),
        env,
        keyspace,
        table,
        writeMode="delete",
        deleteColumns="w",
    )
    rows = {r.id: (r.v, r.w) for r in cql.execute(f"SELECT * FROM {keyspace}.{table}")}
    assert rows == {2: ("b", None), 3: ("c", "z")}


def test_if_not_exists_keeps_existing_rows(spark, env, keyspace) -> None:
    table = "first_wins"
    write(
        spark.createDataFrame([(1, "first")], "id INT, v STRING"),
        env,
        keyspace,
        table,
        createTable="true",
        partitionKey="id",
    )
    write(
        spark.createDataFrame([(1, "second"), (2, "new")], "id INT, v STRING"),
        env,
        keyspace,
        table,
        ifNotExists="true",
    )
    rows = sorted(tuple(r) for r in read(spark, env, keyspace, table).collect())
    assert rows == [(1, "first"), (2, "new")]


def test_ignore_nulls_leaves_columns_unset(spark, env, cql, keyspace) -> None:
    table = "sparse"
    write(
        spark.createDataFrame([(1, "keep", "w")], "id INT, v STRING, w STRING"),
        env,
        keyspace,
        table,
        createTable="true",
        partitionKey="id",
    )
    patch = spark.createDataFrame([(1, None, "w2")], "id INT, v STRING, w STRING")
    write(patch, env, keyspace, table, ignoreNulls="true")
    row = cql.execute(f"SELECT v, w FROM {keyspace}.{table} WHERE id = 1").one()
    assert (row.v, row.w) == ("keep", "w2")
    write(patch, env, keyspace, table, ignoreNulls="false")
    row = cql.execute(f"SELECT v, w FROM {keyspace}.{table} WHERE id = 1").one()
    assert (row.v, row.w) == (None, "w2")


def test_lookup_join_reads_only_the_requested_partitions(spark, env, keyspace, wide) -> None:
    import pyarrow as pa
    from pyspark_ds_cassandra import _native, join_with_cassandra_table

    keys = spark.createDataFrame([(5,), (17,), (999_999,)], "pk INT")
    joined = join_with_cassandra_table(keys, connector_options(env, keyspace=keyspace, table=wide))
    rows = sorted(tuple(r) for r in joined.collect())
    assert rows == [(5, 0, "v5"), (5, 1, "v5"), (17, 0, "v17"), (17, 1, "v17")]
    options = connector_options(env, keyspace=keyspace, table=wide)
    batch = pa.record_batch({"pk": pa.array([5, 17, 999_999], pa.int32())})
    found, queries, rows_read = _native.lookup(options, ["pk", "ck", "v"], batch)
    assert (found.num_rows, queries, rows_read) == (4, 3, 4)


def test_uuid_strings_write_into_uuid_columns(spark, env, cql, keyspace) -> None:
    cql.execute(f"CREATE TABLE {keyspace}.ids (id uuid PRIMARY KEY, n int)")
    value = uuid.uuid4()
    write(spark.createDataFrame([(str(value), 1)], "id STRING, n INT"), env, keyspace, "ids")
    assert cql.execute(f"SELECT id FROM {keyspace}.ids").one().id == value


def test_unlogged_batches_by_partition_write_every_row(spark, env, keyspace) -> None:
    df = spark.range(2000).selectExpr(
        "CAST(id % 50 AS INT) AS pk", "CAST(id AS INT) AS ck", "concat('v', id) AS v"
    )
    write(
        df,
        env,
        keyspace,
        "grouped",
        createTable="true",
        partitionKey="pk",
        clusteringKey="ck",
        batchGroupingKey="partition",
        batchSizeRows=16,
    )
    back = read(spark, env, keyspace, "grouped")
    assert back.count() == 2000
    assert back.exceptAll(df).count() == 0


def test_save_mode_option_error_if_exists_and_ignore(spark, env, keyspace) -> None:
    # Spark lets Python sources use only append/overwrite; `saveMode` brings the other two.
    table = "modes"
    first = spark.createDataFrame([(1, "first")], "id INT, v STRING")
    write(
        first, env, keyspace, table, createTable="true", partitionKey="id", saveMode="errorIfExists"
    )
    second = spark.createDataFrame([(1, "second"), (2, "new")], "id INT, v STRING")
    with pytest.raises(Exception, match=r"already has rows and option `saveMode` is errorIfExists"):
        write(second, env, keyspace, table, saveMode="errorIfExists")
    write(second, env, keyspace, table, saveMode="ignore")
    assert [tuple(r) for r in read(spark, env, keyspace, table).collect()] == [(1, "first")]
