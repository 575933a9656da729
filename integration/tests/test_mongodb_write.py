"""Batch and stream writes into the harness's MongoDB-wire server, checked with pymongo."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from conformance.streams import forget_last_commit, run_available_now
from mongodb_support import connector_options, unique

pytestmark = pytest.mark.services

UTC = dt.timezone.utc


@pytest.fixture(scope="module")
def database(mongo: Any) -> Any:
    name = unique("write")
    yield name
    mongo.drop_database(name)


class Target:
    """The harness's server as the tests write to it and check it."""

    def __init__(self, spark: Any, env: dict[str, Any], mongo: Any, database: str) -> None:
        self.spark, self.env, self.mongo, self.db = spark, env, mongo, database

    def options(self, coll: str, **opts: str) -> dict[str, str]:
        return connector_options(self.env, database=self.db, collection=coll, **opts)

    def write(self, df: Any, coll: str, mode: str = "append", **opts: str) -> None:
        df.write.format("mongodb").options(**self.options(coll, **opts)).mode(mode).save()

    def stored(self, coll: str) -> dict[Any, dict[str, Any]]:
        return stored(self.mongo, self.db, coll)

    def coll(self, name: str) -> Any:
        return self.mongo[self.db][name]


@pytest.fixture(scope="module")
def target(spark: Any, mongo_env: dict[str, Any], mongo: Any, database: str) -> Target:
    return Target(spark, mongo_env, mongo, database)


def stored(mongo: Any, db: str, coll: str) -> dict[Any, dict[str, Any]]:
    return {d["_id"]: d for d in mongo[db][coll].find()}


def one_task(spark: Any, rows: list[Any], schema: str) -> Any:
    """A DataFrame written by one task in row order (one bulk command)."""
    return spark.createDataFrame(rows, schema).coalesce(1)


# operationType x upsertDocument, on {1: old/keep, 2: old/keep} with rows 2 and 3 written.
EXPECTED = {
    ("replace", "true"): {1: {"a": "old", "b": "keep"}, 2: {"a": "new"}, 3: {"a": "new"}},
    ("replace", "false"): {1: {"a": "old", "b": "keep"}, 2: {"a": "new"}},
    ("update", "true"): {
        1: {"a": "old", "b": "keep"},
        2: {"a": "new", "b": "keep"},
        3: {"a": "new"},
    },
    ("update", "false"): {1: {"a": "old", "b": "keep"}, 2: {"a": "new", "b": "keep"}},
}


@pytest.mark.parametrize(("operation", "upsert"), list(EXPECTED))
def test_replace_and_update_with_and_without_upsert(target, operation, upsert) -> None:
    coll = unique("ops")
    target.coll(coll).insert_many(
        [{"_id": 1, "a": "old", "b": "keep"}, {"_id": 2, "a": "old", "b": "keep"}]
    )
    df = target.spark.createDataFrame([(2, "new"), (3, "new")], "_id INT, a STRING")
    target.write(df, coll, operationType=operation, upsertDocument=upsert)
    got = {k: {f: v for f, v in d.items() if f != "_id"} for k, d in target.stored(coll).items()}
    assert got == EXPECTED[(operation, upsert)]


@pytest.mark.parametrize("upsert", ["true", "false"])
def test_insert_adds_documents_whatever_upsert_says(target, upsert) -> None:
    coll = unique("insert")
    target.coll(coll).insert_one({"_id": 1, "a": "old"})
    df = target.spark.createDataFrame([(2, "x"), (3, "y")], "_id INT, a STRING")
    target.write(df, coll, operationType="insert", upsertDocument=upsert)
    assert target.stored(coll) == {
        1: {"_id": 1, "a": "old"},
        2: {"_id": 2, "a": "x"},
        3: {"_id": 3, "a": "y"},
    }


def test_insert_without_id_column_gets_object_ids(target) -> None:
    coll = unique("noid")
    df = target.spark.createDataFrame([(i,) for i in range(20)], "v INT")
    target.write(df, coll, operationType="insert")
    docs = list(target.coll(coll).find())
    assert sorted(d["v"] for d in docs) == list(range(20))
    assert all(type(d["_id"]).__name__ == "ObjectId" for d in docs)


@pytest.mark.parametrize("operation", ["replace", "update"])
def test_two_id_fields_find_the_document(target, operation) -> None:
    coll = unique("twoids")
    target.coll(coll).insert_one({"_id": "x", "region": "eu", "code": 1, "v": "old"})
    df = target.spark.createDataFrame(
        [("eu", 1, "new"), ("us", 1, "new"), ("eu", 2, "new")], "region STRING, code INT, v STRING"
    )
    target.write(df, coll, operationType=operation, idFieldList="region,code")
    docs = list(target.coll(coll).find())
    assert len(docs) == 3
    by_key = {(d["region"], d["code"]): d for d in docs}
    assert by_key[("eu", 1)]["_id"] == "x", "the matched document keeps its _id"
    assert {k: d["v"] for k, d in by_key.items()} == {
        ("eu", 1): "new",
        ("us", 1): "new",
        ("eu", 2): "new",
    }


@pytest.mark.parametrize(
    ("operation", "ignore", "expected"),
    [
        ("update", "true", {"_id": 1, "a": "A", "b": "B2"}),
        ("update", "false", {"_id": 1, "a": None, "b": "B2"}),
        ("replace", "true", {"_id": 1, "b": "B2"}),
        ("replace", "false", {"_id": 1, "a": None, "b": "B2"}),
    ],
)
def test_ignore_null_values(target, operation, ignore, expected) -> None:
    coll = unique("nulls")
    target.coll(coll).insert_one({"_id": 1, "a": "A", "b": "B"})
    df = target.spark.createDataFrame([(1, None, "B2")], "_id INT, a STRING, b STRING")
    target.write(df, coll, operationType=operation, ignoreNullValues=ignore)
    assert target.stored(coll) == {1: expected}


def test_null_id_value_fails_naming_the_row(target) -> None:
    coll = unique("nullid")
    df = target.spark.createDataFrame([(None, "x")], "_id INT, a STRING")
    with pytest.raises(Exception) as caught:
        target.write(df, coll, operationType="replace")
    message = str(caught.value)
    assert "null `_id`" in message and "idFieldList" in message, message
    assert target.coll(coll).count_documents({}) == 0


def test_ignore_duplicates_on_insert(target) -> None:
    coll = unique("dups")
    target.coll(coll).insert_one({"_id": 2, "a": "old"})
    df = one_task(target.spark, [(1, "x"), (2, "x"), (3, "x")], "_id INT, a STRING")
    target.write(
        df,
        coll,
        operationType="insert",
        ignoreDuplicatesOnInsert="true",
    )
    assert target.stored(coll) == {
        1: {"_id": 1, "a": "x"},
        2: {"_id": 2, "a": "old"},
        3: {"_id": 3, "a": "x"},
    }


@pytest.mark.parametrize("ordered", ["true", "false"])
def test_a_refused_document_is_named_and_the_rest_is_reported(target, ordered) -> None:
    coll = unique("refused")
    target.coll(coll).insert_one({"_id": 5, "a": "old"})
    df = one_task(target.spark, [(i, "new") for i in range(1, 11)], "_id INT, a STRING")
    with pytest.raises(Exception) as caught:
        target.write(df, coll, operationType="insert", ordered=ordered)
    message = str(caught.value)
    assert "{_id: 5} (code 11000" in message, message
    assert "ignoreDuplicatesOnInsert" in message, message
    ids = set(target.stored(coll))
    assert target.stored(coll)[5]["a"] == "old"
    if ordered == "true":
        # The server stops at the refused document: what came before it landed, nothing after.
        assert ids == {1, 2, 3, 4, 5}
        assert "4 of the 10 documents of this bulk landed" in message, message
    else:
        assert ids == set(range(1, 11))
        assert "9 of 10 landed" in message, message


def test_every_type_round_trips(target) -> None:
    from bson import ObjectId
    from pyspark.sql import Row

    coll = unique("types")
    oid, ref = "5f0c6b2a9d3e4a1b2c3d4e5f", "65a1b2c3d4e5f60718293a4b"
    uuid_bytes = bytes(range(16))
    schema = (
        "_id STRING, s STRING, not_oid STRING, i INT, sm SMALLINT, ti TINYINT, l BIGINT, f FLOAT,"
        " d DOUBLE, b BOOLEAN, ts TIMESTAMP, ntz TIMESTAMP_NTZ, day DATE, bin BINARY, u BINARY,"
        " arr ARRAY<INT>, st STRUCT<x: INT, ref: STRING, inner: STRUCT<y: STRING>>,"
        " m MAP<STRING, INT>, structs ARRAY<STRUCT<k: STRING>>, n STRING"
    )
    row = (
        oid,
        "text",
        "not hex",
        7,
        -3,
        1,
        2**40,
        1.5,
        -0.25,
        True,
        dt.datetime(2024, 1, 2, 3, 4, 5, 678912, tzinfo=UTC),
        dt.datetime(2024, 1, 2, 3, 4, 5, 678000),
        dt.date(2024, 2, 29),
        b"\x00\x01raw",
        uuid_bytes,
        [1, None, 3],
        Row(x=1, ref=ref, inner=Row(y="deep")),
        {"k1": 1, "k2": None},
        [Row(k="a"), Row(k="b")],
        None,
    )
    df = target.spark.createDataFrame([row], schema)
    target.write(
        df,
        coll,
        operationType="insert",
        objectIdFields="_id,st.ref",
        uuidFields="u",
    )
    doc = target.coll(coll).find_one()
    assert doc["_id"] == ObjectId(oid)
    assert doc["s"] == "text" and doc["not_oid"] == "not hex"
    assert (doc["i"], doc["sm"], doc["ti"], doc["l"]) == (7, -3, 1, 2**40)
    assert (doc["f"], doc["d"], doc["b"]) == (1.5, -0.25, True)
    # BSON dates hold milliseconds: the microseconds are cut.
    assert doc["ts"] == dt.datetime(2024, 1, 2, 3, 4, 5, 678000)
    assert doc["ntz"] == dt.datetime(2024, 1, 2, 3, 4, 5, 678000)
    assert doc["day"] == dt.datetime(2024, 2, 29)
    assert doc["bin"] == b"\x00\x01raw"
    assert doc["u"].subtype == 4 and bytes(doc["u"]) == uuid_bytes
    assert doc["arr"] == [1, None, 3]
    assert doc["st"] == {"x": 1, "ref": ObjectId(ref), "inner": {"y": "deep"}}
    assert doc["m"] == {"k1": 1, "k2": None}
    assert doc["structs"] == [{"k": "a"}, {"k": "b"}]
    assert "n" in doc and doc["n"] is None
    assert list(doc)[:2] == ["_id", "s"]


def test_values_ferretdb_cannot_store_fail_before_sending(target) -> None:
    coll = unique("nan")
    df = one_task(target.spark, [(1, 1.0), (2, float("nan"))], "_id INT, x DOUBLE")
    with pytest.raises(Exception) as caught:
        target.write(df, coll)
    message = str(caught.value)
    assert "field `x`" in message and "NaN" in message, message
    assert target.coll(coll).count_documents({}) == 0, "nothing of the task was sent"


def seeded(target: Target) -> str:
    coll = unique("modes")
    target.coll(coll).insert_many([{"_id": i, "a": "old"} for i in range(5)])
    target.coll(coll).create_index("a")
    return coll


def test_save_mode_append_adds(target) -> None:
    coll = seeded(target)
    df = target.spark.createDataFrame([(10, "new")], "_id INT, a STRING")
    target.write(df, coll, saveMode="append")
    assert set(target.stored(coll)) == {0, 1, 2, 3, 4, 10}


def test_save_mode_error_if_exists(target) -> None:
    coll = seeded(target)
    df = target.spark.createDataFrame([(10, "new")], "_id INT, a STRING")
    with pytest.raises(Exception) as caught:
        target.write(df, coll, saveMode="errorIfExists")
    assert "already has documents" in str(caught.value) and "errorIfExists" in str(caught.value)
    assert set(target.stored(coll)) == set(range(5))
    empty = unique("fresh")
    target.write(df, empty, saveMode="errorIfExists")
    assert set(target.stored(empty)) == {10}


def test_save_mode_ignore(target) -> None:
    coll = seeded(target)
    df = target.spark.createDataFrame([(10, "new")], "_id INT, a STRING")
    target.write(df, coll, saveMode="ignore")
    assert set(target.stored(coll)) == set(range(5))
    empty = unique("fresh")
    target.write(df, empty, saveMode="ignore")
    assert set(target.stored(empty)) == {10}


@pytest.mark.parametrize(("strategy", "index_kept"), [("drop", False), ("deleteAll", True)])
def test_overwrite(target, strategy, index_kept) -> None:
    coll = seeded(target)
    df = target.spark.createDataFrame([(10, "new"), (11, "new")], "_id INT, a STRING")
    target.write(df, coll, mode="overwrite", overwriteStrategy=strategy)
    assert target.stored(coll) == {
        10: {"_id": 10, "a": "new"},
        11: {"_id": 11, "a": "new"},
    }
    indexes = {i["name"] for i in target.coll(coll).list_indexes()}
    assert ("a_1" in indexes) == index_kept, indexes


def test_many_documents_in_several_bulks(target) -> None:
    coll = unique("many")
    df = target.spark.range(0, 20_000, numPartitions=2).selectExpr("id AS _id", "id * 2 AS v")
    # Inserts: FerretDB answers each replace/update statement with a scan of the
    # collection, so bulk upserts of thousands of documents are slow there (server side).
    target.write(df, coll, operationType="insert", maxBatchSize="1000", concurrentWrites="3")
    assert target.coll(coll).count_documents({}) == 20_000
    assert target.coll(coll).find_one({"_id": 12_345}) == {"_id": 12_345, "v": 24_690}


def run_rate_stream(spark: Any, checkpoint: Path, options: dict[str, str]) -> None:
    query = (
        spark.readStream.format("rate-micro-batch")
        .option("rowsPerBatch", 50)
        .option("startTimestamp", 1_700_000_000_000)
        .load()
        # Every batch maps its rows on the same 20 keys and values, so a replay, and any
        # batch the second run reads past it, must leave exactly the same documents.
        .selectExpr("value % 20 AS _id", "(value % 20) * 10 AS v")
        .writeStream.format("mongodb")
        .options(**options)
        .option("checkpointLocation", str(checkpoint))
        .trigger(availableNow=True)
        .start()
    )
    run_available_now(query)


def test_replayed_micro_batch_changes_nothing(target, tmp_path) -> None:
    coll = unique("stream")
    options = target.options(coll)
    checkpoint = tmp_path / "checkpoint"
    run_rate_stream(target.spark, checkpoint, options)
    first = target.stored(coll)
    # Upserts by `_id`: 50 rows on 20 keys leave 20 documents.
    assert first == {k: {"_id": k, "v": k * 10} for k in range(20)}
    # A crash after the write but before Spark recorded the commit: the batch is replayed.
    forget_last_commit(checkpoint)
    run_rate_stream(target.spark, checkpoint, options)
    assert target.stored(coll) == first


@pytest.mark.parametrize("ordered", ["true", "false"])
def test_a_refused_replacement_is_named(target, ordered) -> None:
    # FerretDB's `update` stops at a failing statement and reports it at index 0 whatever
    # `ordered` says: the writer resends the bulk one statement at a time to name it.
    coll = unique("refusedreplace")
    target.coll(coll).insert_one({"_id": 1, "k": "b"})
    df = one_task(target.spark, [(10, "a"), (2, "b"), (11, "c")], "_id INT, k STRING")
    with pytest.raises(Exception) as caught:
        target.write(df, coll, operationType="replace", idFieldList="k", ordered=ordered)
    message = str(caught.value)
    # Replacing the document of k=b with another `_id` is refused (immutable `_id`).
    assert '{k: "b"} (code 66' in message, message
    keys = {d["k"]: d["_id"] for d in target.stored(coll).values()}
    if ordered == "true":
        assert keys == {"a": 10, "b": 1}
        assert "1 of the 3 documents of this bulk landed" in message, message
    else:
        assert keys == {"a": 10, "b": 1, "c": 11}
        assert "2 of 3 landed" in message, message
