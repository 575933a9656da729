"""What needs a real `mongod`: change streams, the `sample` and `bucketAuto` partitioners,
the `sharded` partitioner's refusal of an unsharded collection, and the BSON types FerretDB
refuses (Decimal128, JavaScript, MinKey/MaxKey, NaN).

These run against a MongoDB replica set named by ``SPARK_DS_MONGOD_URI``, e.g. the one
``docker compose up mongodb`` starts::

    SPARK_DS_MONGOD_URI='mongodb://sparkds:sparkds@localhost:27017/?directConnection=true' \\
        .venv/bin/pytest integration/tests/test_mongodb_mongod.py

Without it every test here is reported skipped as "not run here" (never as a pass); the
harness's FerretDB has none of these features. README's test table names them.
"""

from __future__ import annotations

import decimal
import json
import math
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conformance.streams import into_parquet, run_available_now
from mongodb_support import unique

URI = os.environ.get("SPARK_DS_MONGOD_URI", "")
NOT_RUN = (
    "not run here: needs a real mongod replica set named by SPARK_DS_MONGOD_URI "
    "(`docker compose up mongodb`); the harness's FerretDB lacks this feature"
)

pytestmark = pytest.mark.skipif(not URI, reason=NOT_RUN)

STREAM_SCHEMA = "_id INT, v STRING"


@pytest.fixture(scope="module")
def mongod() -> Iterator[Any]:
    from pymongo import MongoClient

    client: Any = MongoClient(URI, serverSelectionTimeoutMS=10_000)
    client.admin.command("ping")
    yield client
    client.close()


@pytest.fixture
def target(mongod: Any) -> Iterator[dict[str, str]]:
    database = unique("mongod")
    yield {"database": database, "collection": "events"}
    mongod.drop_database(database)


def options(target: dict[str, str], **extra: object) -> dict[str, str]:
    return {"connection.uri": URI, **target, **{k: str(v) for k, v in extra.items()}}


def collection(mongod: Any, target: dict[str, str]) -> Any:
    return mongod[target["database"]][target["collection"]]


def start_change_stream(
    spark: Any, opts: dict[str, str], out: Path, checkpoint: Path, **trigger: Any
) -> Any:
    """A change-stream read into Parquet; by default triggered every 200 ms."""
    frame = (
        spark.readStream.format("mongodb")
        .schema(STREAM_SCHEMA)
        .options(**opts, **{"stream.mode": "changeStream"})
        .load()
    )
    return into_parquet(
        frame, out, checkpoint, **(trigger or {"processingTime": "200 milliseconds"})
    )


def landed(spark: Any, out: Path) -> list[tuple[int, str]]:
    if not out.exists():
        return []
    return sorted((r["_id"], r["v"]) for r in spark.read.parquet(str(out)).collect())


def wait_for(spark: Any, out: Path, count: int, query: Any, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert query.exception() is None, query.exception()
        if len(landed(spark, out)) >= count:
            return
        time.sleep(0.5)
    raise AssertionError(f"{len(landed(spark, out))} of {count} events landed in {timeout} s")


def running_change_stream(spark: Any, opts: dict[str, str], out: Path, checkpoint: Path) -> Any:
    query = start_change_stream(spark, opts, out, checkpoint)
    # The stream starts at the query's start (its first trigger): events before are not read.
    deadline = time.monotonic() + 120
    while query.lastProgress is None and time.monotonic() < deadline:
        assert query.exception() is None, query.exception()
        time.sleep(0.2)
    return query


def test_change_stream_resumes_after_its_checkpointed_token(spark, mongod, target, tmp_path):
    out, checkpoint = tmp_path / "out", tmp_path / "checkpoint"
    events = collection(mongod, target)
    events.insert_one({"_id": -1, "v": "before the query"})
    query = running_change_stream(spark, options(target), out, checkpoint)
    try:
        events.insert_many([{"_id": i, "v": f"v{i}"} for i in range(50)])
        wait_for(spark, out, 50, query)
    finally:
        query.stop()
    # Events while the query is down are read from the checkpointed resume token.
    events.insert_many([{"_id": i, "v": f"v{i}"} for i in range(50, 80)])
    events.delete_one({"_id": 0})  # no fullDocument: not a row
    run_available_now(
        start_change_stream(spark, options(target), out, checkpoint, availableNow=True)
    )
    assert landed(spark, out) == [(i, f"v{i}") for i in range(80)]


def test_change_stream_updates_carry_the_looked_up_document(spark, mongod, target, tmp_path):
    out, checkpoint = tmp_path / "out", tmp_path / "checkpoint"
    events = collection(mongod, target)
    query = running_change_stream(spark, options(target), out, checkpoint)
    try:
        events.insert_many([{"_id": i, "v": f"v{i}"} for i in range(3)])
        events.update_one({"_id": 1}, {"$set": {"v": "updated"}})
        wait_for(spark, out, 4, query)
    finally:
        query.stop()
    assert landed(spark, out) == [(0, "v0"), (1, "updated"), (1, "v1"), (2, "v2")]


def test_change_stream_pipeline_filters_events(spark, mongod, target, tmp_path):
    out, checkpoint = tmp_path / "out", tmp_path / "checkpoint"
    events = collection(mongod, target)
    pipeline = [{"$match": {"fullDocument.v": {"$regex": "^keep"}}}]
    opts = options(target, **{"aggregation.pipeline": json.dumps(pipeline)})
    query = running_change_stream(spark, opts, out, checkpoint)
    try:
        events.insert_many([{"_id": i, "v": ("keep" if i % 3 == 0 else "drop")} for i in range(30)])
        wait_for(spark, out, 10, query)
        time.sleep(2)  # a filtered-out event arriving late would show here
    finally:
        query.stop()
    assert landed(spark, out) == [(i, "keep") for i in range(0, 30, 3)]


def has_admission_control() -> bool:
    from pyspark_ds_mongodb._shared import features

    return features.has_admission_control()


def test_change_stream_admission_control_splits_events_exactly(spark, mongod, target, tmp_path):
    if not has_admission_control():
        pytest.skip("admission control needs Spark 4.2+")
    out, checkpoint = tmp_path / "out", tmp_path / "checkpoint"
    events = collection(mongod, target)
    query = running_change_stream(spark, options(target), out, checkpoint)
    try:
        # One event landed: the checkpoint holds a token to resume after.
        events.insert_one({"_id": -1, "v": "first"})
        wait_for(spark, out, 1, query)
    finally:
        query.stop()
    events.insert_many([{"_id": i, "v": f"v{i}"} for i in range(30)])
    opts = options(target, maxRowsPerTrigger=7)
    query = start_change_stream(spark, opts, out, checkpoint, availableNow=True)
    run_available_now(query)
    batches = [p["numInputRows"] for p in query.recentProgress if p["numInputRows"] > 0]
    assert batches == [7, 7, 7, 7, 2], batches
    assert landed(spark, out) == [(-1, "first")] + [(i, f"v{i}") for i in range(30)]


@pytest.fixture(scope="module")
def partitioned(mongod: Any) -> Iterator[dict[str, str]]:
    database = unique("mongod_read")
    docs: list[dict[str, Any]] = [{"_id": i, "n": i, "pad": "p" * 500} for i in range(5000)]
    docs += [{"_id": "text", "n": -1}, {"_id": 2.5, "n": -2}]
    mongod[database]["docs"].insert_many(docs)
    yield {"database": database, "collection": "docs"}
    mongod.drop_database(database)


@pytest.mark.parametrize("partitioner", ["sample", "bucketAuto"])
def test_server_side_partitioners_read_every_document_once(spark, partitioned, partitioner):
    def read(**extra: object) -> Counter[int]:
        df = (
            spark.read.format("mongodb")
            .schema("n BIGINT")
            .options(**options(partitioned, **extra))
            .load()
        )
        return Counter(r.n for r in df.collect())

    single = read(partitioner="single")
    assert sum(single.values()) == 5002
    split = read(
        partitioner=partitioner,
        **{
            "partitioner.options.partition.size": "1",
            "partitioner.options.max.number.of.partitions": "6",
        },
    )
    assert split == single


def test_sharded_partitioner_refuses_an_unsharded_collection(spark, partitioned):
    df = (
        spark.read.format("mongodb")
        .schema("n BIGINT")
        .options(**options(partitioned, partitioner="sharded"))
        .load()
    )
    with pytest.raises(Exception, match=r"partitioner `sharded` needs a sharded collection"):
        df.collect()


def test_types_ferretdb_refuses_read_and_round_trip(spark, mongod, target):
    from bson import Code, Decimal128, MaxKey, MinKey

    collection(mongod, target).insert_one(
        {
            "_id": 1,
            "dec": Decimal128("12345.6789"),
            "code": Code("function () { return 1; }"),
            "lo": MinKey(),
            "hi": MaxKey(),
            "nan": math.nan,
        }
    )
    df = spark.read.format("mongodb").options(**options(target)).load()
    fields = {f.name: f.dataType.simpleString() for f in df.schema.fields}
    assert fields["dec"].startswith("decimal(") and fields["code"] == "string", fields
    row = df.collect()[0]
    assert row.dec == decimal.Decimal("12345.6789")
    assert (row.code, row.lo, row.hi) == ("function () { return 1; }", "MinKey", "MaxKey")
    assert math.isnan(row.nan)
    # Decimals written back are Decimal128, unchanged.
    sink = {**target, "collection": "sink"}
    df.select("_id", "dec").write.format("mongodb").options(**options(sink)).mode("append").save()
    stored = collection(mongod, sink).find_one({"_id": 1})
    assert stored["dec"] == Decimal128("12345.6789"), stored


def test_change_stream_keeps_up_with_concurrent_writes(spark, mongod, target, tmp_path):
    # Inserts while micro-batches run: every event lands exactly once.
    out, checkpoint = tmp_path / "out", tmp_path / "checkpoint"
    events = collection(mongod, target)
    query = running_change_stream(spark, options(target), out, checkpoint)

    def writer() -> None:
        for start in range(0, 200, 20):
            events.insert_many([{"_id": i, "v": f"v{i}"} for i in range(start, start + 20)])
            time.sleep(0.1)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        thread.join()
        wait_for(spark, out, 200, query)
    finally:
        query.stop()
    assert landed(spark, out) == [(i, f"v{i}") for i in range(200)]
