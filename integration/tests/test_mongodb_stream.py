"""The polling stream read: exact `(start, end]` ranges of one field, ties broken by `_id`,
so a query killed mid-stream and restarted from its checkpoint loses nothing and repeats
nothing; admission control (`maxRowsPerTrigger`, Spark 4.2+) splits the work into
micro-batches, and `Trigger.AvailableNow` stops at what existed when the query started."""

from __future__ import annotations

import datetime as dt
import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from conformance.streams import into_parquet, kill_after_commits, run_available_now
from mongodb_support import connector_options, unique

pytestmark = pytest.mark.services

SCHEMA = "_id INT, at TIMESTAMP, v STRING"


@pytest.fixture
def target(mongo: Any) -> dict[str, str]:
    return {"database": unique("stream"), "collection": "events"}


def insert(mongo: Any, target: dict[str, str], ids: range, at: Any = None) -> None:
    docs = []
    for i in ids:
        doc: dict[str, Any] = {"_id": i, "v": f"v{i}"}
        if at is not None:
            doc["at"] = at(i)
        docs.append(doc)
    mongo[target["database"]][target["collection"]].insert_many(docs)


def run(spark: Any, options: dict[str, str], out: Path, checkpoint: Path, **extra: str) -> Any:
    frame = spark.readStream.format("mongodb").schema(SCHEMA).options(**options, **extra).load()
    query = into_parquet(frame, out, checkpoint)
    run_available_now(query)
    return query


def landed(spark: Any, out: Path) -> list[int]:
    # The parquet sink's metadata log lists only committed files: exactly what landed.
    return sorted(r["_id"] for r in spark.read.parquet(str(out)).collect())


def test_restarted_stream_reads_every_document_once(spark, mongo, mongo_env, target, tmp_path):
    options = connector_options(mongo_env, **target)
    out, checkpoint = tmp_path / "out", tmp_path / "checkpoint"
    insert(mongo, target, range(0, 50))
    run(spark, options, out, checkpoint)
    assert landed(spark, out) == list(range(50))
    insert(mongo, target, range(50, 80))
    run(spark, options, out, checkpoint)
    assert landed(spark, out) == list(range(80))
    # Nothing new: a restart adds nothing.
    run(spark, options, out, checkpoint)
    assert landed(spark, out) == list(range(80))


def has_admission_control() -> bool:
    from pyspark_ds_mongodb._shared import features

    return features.has_admission_control()


@pytest.mark.skipif(not has_admission_control(), reason="admission control needs Spark 4.2+")
def test_ties_on_the_field_split_across_micro_batches_exactly(
    spark, mongo, mongo_env, target, tmp_path
):
    # Ten documents per timestamp, and batches of seven: every boundary falls inside a tie.
    base = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    insert(mongo, target, range(0, 60), at=lambda i: base + dt.timedelta(seconds=i // 10))
    # A document without the field is outside the order: the stream never reads it.
    mongo[target["database"]][target["collection"]].insert_one({"_id": 1000, "v": "no at"})
    options = connector_options(
        mongo_env, **target, **{"stream.poll.field": "at", "maxRowsPerTrigger": "7"}
    )
    out, checkpoint = tmp_path / "out", tmp_path / "checkpoint"
    query = run(spark, options, out, checkpoint)
    batches = [p for p in query.recentProgress if p["numInputRows"] > 0]
    assert [p["numInputRows"] for p in batches] == [7] * 8 + [4], batches
    assert landed(spark, out) == list(range(60))


@pytest.mark.skipif(not has_admission_control(), reason="admission control needs Spark 4.2+")
def test_available_now_stops_at_what_existed_when_it_started(
    spark, mongo, mongo_env, target, tmp_path
):
    insert(mongo, target, range(0, 30))
    options = connector_options(mongo_env, **target, maxRowsPerTrigger="10")
    out, checkpoint = tmp_path / "out", tmp_path / "checkpoint"
    query = (
        spark.readStream.format("mongodb")
        .schema(SCHEMA)
        .options(**options)
        .load()
        .writeStream.foreachBatch(
            # Documents written while the query runs are after its target: not read now.
            lambda df, batch: (
                insert(mongo, target, range(100 + batch * 5, 105 + batch * 5)),
                df.write.mode("append").parquet(str(out)),
            )
        )
        .option("checkpointLocation", str(checkpoint))
        .trigger(availableNow=True)
        .start()
    )
    run_available_now(query)
    assert sorted(r["_id"] for r in spark.read.parquet(str(out)).collect()) == list(range(30))


KILLED_JOB = textwrap.dedent(
    """
    import json, sys
    from pyspark.sql import SparkSession
    options, out, checkpoint = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
    spark = SparkSession.builder.master("local[2]").getOrCreate()
    query = (
        spark.readStream.format("mongodb").schema("_id INT, at TIMESTAMP, v STRING")
        .options(**options).load()
        .writeStream.format("parquet").option("path", out)
        .option("checkpointLocation", checkpoint)
        .trigger(processingTime="200 milliseconds").start()
    )
    query.awaitTermination()
    """
)


@pytest.mark.skipif(not has_admission_control(), reason="admission control needs Spark 4.2+")
def test_killed_query_restarts_without_loss_or_duplicates(
    spark, mongo, mongo_env, target, tmp_path
):
    insert(mongo, target, range(0, 400))
    options = connector_options(mongo_env, **target, maxRowsPerTrigger="25")
    out, checkpoint = tmp_path / "out", tmp_path / "checkpoint"
    script = tmp_path / "job.py"
    script.write_text(KILLED_JOB)
    kill_after_commits(script, [json.dumps(options), str(out), str(checkpoint)], checkpoint, 3)
    landed_before = landed(spark, out)
    assert 0 < len(landed_before) < 400, len(landed_before)
    run(spark, options, out, checkpoint)
    assert landed(spark, out) == list(range(400))


def test_max_rows_per_trigger_on_older_spark_says_to_upgrade(spark, mongo_env, target):
    if has_admission_control():
        pytest.skip("this Spark has admission control")
    options = connector_options(mongo_env, **target, maxRowsPerTrigger="5")
    with pytest.raises(Exception, match=r"maxRowsPerTrigger.*Spark 4\.2"):
        spark.readStream.format("mongodb").schema(SCHEMA).options(
            **options
        ).load().writeStream.format("console").start().awaitTermination(30)


def test_a_checkpoint_of_another_source_is_refused(spark, mongo, mongo_env, target, tmp_path):
    insert(mongo, target, range(0, 3))
    options = connector_options(mongo_env, **target)
    out, checkpoint = tmp_path / "out", tmp_path / "checkpoint"
    run(spark, options, out, checkpoint)
    offsets = sorted((checkpoint / "offsets").glob("[0-9]*"), key=lambda p: int(p.name))
    text = offsets[-1].read_text()
    offsets[-1].write_text(text.replace("mongodb-poll", "something-else"))
    (checkpoint / "commits" / offsets[-1].name).unlink(missing_ok=True)
    with pytest.raises(Exception, match="checkpointLocation"):
        run(spark, options, out, checkpoint)


def test_change_streams_on_a_server_without_them_name_the_missing_feature(
    spark, mongo, mongo_env, target, tmp_path
):
    # FerretDB has no change streams (nor has a standalone mongod): the query fails before
    # any task, saying what the server lacks and what to use instead.
    insert(mongo, target, range(0, 3))
    options = connector_options(mongo_env, **target, **{"stream.mode": "changeStream"})
    with pytest.raises(Exception) as caught:
        run(spark, options, tmp_path / "out", tmp_path / "checkpoint")
    message = str(caught.value)
    assert "no change streams" in message and "stream.mode" in message, message
