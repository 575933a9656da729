"""MongoDB reads through Spark against the harness's server (FerretDB): partitioners read
every document exactly once, pushed filters cut what the server sends and keep results exact,
and the user's pipeline runs before them."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from mongodb_support import connector_options, unique

PUSHDOWN_CONF = "spark.sql.python.filterPushdown.enabled"
SCHEMA = "_id STRING, n BIGINT, name STRING, k STRING"
TOTAL = 3000


def partition_value(i: int) -> Any:
    """The `k` field: numbers mostly, but missing, null, strings, arrays and doubles too."""
    if i % 7 == 0:
        return ...
    if i % 11 == 0:
        return None
    if i % 13 == 0:
        return f"s{i}"
    if i % 17 == 0:
        return [i % 500, i % 500 + 300]
    if i % 19 == 0:
        return i % 500 + 0.5
    return i % 500


@pytest.fixture(scope="module")
def collection(mongo: Any) -> Iterator[tuple[str, str]]:
    from bson import ObjectId

    database = unique("read")
    coll = mongo[database]["docs"]
    docs: list[dict[str, Any]] = []
    for i in range(TOTAL):
        # `pad` (never read) makes the collection a few MB, so a 1 MB size target splits it.
        doc: dict[str, Any] = {"_id": i, "n": i, "name": f"name-{i}", "pad": "p" * 700}
        k = partition_value(i)
        if k is not ...:
            doc["k"] = k
        docs.append(doc)
    # `_id`s of other BSON types than the ranges' (numbers) must land in some partition.
    docs += [
        {"_id": "text-id", "n": -1, "name": "by text", "k": 1},
        {"_id": ObjectId("5f0000000000000000000001"), "n": -2, "name": "by oid", "k": "x"},
        {"_id": 1.5, "n": -3, "name": "by double"},
    ]
    for start in range(0, len(docs), 500):
        coll.insert_many(docs[start : start + 500])
    yield database, "docs"
    mongo.drop_database(database)


def load(spark: Any, env: dict[str, Any], database: str, coll: str, **extra: object) -> Any:
    options = connector_options(env, database=database, collection=coll, logLevel="info", **extra)
    return spark.read.format("mongodb").options(**options).schema(SCHEMA).load()


def rows(df: Any) -> Counter[tuple[Any, ...]]:
    return Counter(tuple(r) for r in df.collect())


@pytest.fixture
def pushdown_on(spark: Any) -> Iterator[None]:
    before = spark.conf.get(PUSHDOWN_CONF, "false")
    spark.conf.set(PUSHDOWN_CONF, "true")
    yield
    spark.conf.set(PUSHDOWN_CONF, before)


def read_rows(task_log: Any, since: int) -> int:
    """Documents the reader received (its end-of-partition summaries) after `since` lines."""
    return sum(s.rows for s in task_log.summaries("mongodb")[since:] if s.task.startswith("read"))


@pytest.mark.parametrize(
    "case",
    [
        ("paginateIntoPartitions", {"partitioner.options.max.number.of.partitions": "5"}, 5),
        (
            "paginateIntoPartitions",
            {
                "partitioner.options.partition.field": "k",
                "partitioner.options.max.number.of.partitions": "4",
            },
            4,
        ),
        ("paginateBySize", {"partitioner.options.partition.size": "1"}, None),
        (
            "paginateBySize",
            {"partitioner.options.partition.size": "1", "partitioner.options.partition.field": "k"},
            None,
        ),
        ("auto", {}, 1),
    ],
)
def test_partitioned_read_equals_single_read(
    spark: Any,
    mongo_env: dict[str, Any],
    collection: tuple[str, str],
    task_log: Any,
    case: tuple[str, dict[str, str], int | None],
) -> None:
    partitioner, extra, split = case
    database, coll = collection
    single = rows(load(spark, mongo_env, database, coll, partitioner="single"))
    assert sum(single.values()) == TOTAL + 3
    assert task_log.planned_partitions("mongodb")[-1] == 1
    partitioned = rows(load(spark, mongo_env, database, coll, partitioner=partitioner, **extra))
    planned = task_log.planned_partitions("mongodb")[-1]
    if split is None:
        assert planned > 1, "the size target should split this collection"
    else:
        # auto reads FerretDB in one partition (a split is only slower there).
        assert planned == split
    assert partitioned == single


def test_cursor_batches_are_all_read_with_read_options(
    spark: Any, mongo_env: dict[str, Any], collection: tuple[str, str], task_log: Any
) -> None:
    """Small server batches: every getMore is fetched (ahead of Spark) and nothing is lost."""
    database, coll = collection
    single = rows(load(spark, mongo_env, database, coll, partitioner="single"))
    since = len(task_log.summaries("mongodb"))
    options = {"batchSize": "250", "maxTimeMS": "60000", "comment": "spark-ds read test"}
    options |= {"readPreference.name": "primaryPreferred", "aggregation.allowDiskUse": "false"}
    got = rows(load(spark, mongo_env, database, coll, partitioner="single", **options))
    assert got == single
    (summary,) = [s for s in task_log.summaries("mongodb")[since:] if s.task.startswith("read")]
    assert summary.rows == TOTAL + 3
    # One request per server batch of at most 250 documents (a server may end with an empty one).
    assert summary.requests >= -(-(TOTAL + 3) // 250)


@pytest.mark.parametrize(
    ("partitioner", "message"),
    [
        ("sample", r"`\$sample`.*FerretDB.*paginateBySize"),
        ("bucketAuto", r"`\$bucketAuto`.*FerretDB.*paginateBySize"),
        ("sharded", r"not sharded.*paginateBySize"),
    ],
)
def test_partitioners_the_server_lacks_fail_clearly(
    spark: Any,
    mongo_env: dict[str, Any],
    collection: tuple[str, str],
    partitioner: str,
    message: str,
) -> None:
    database, coll = collection
    with pytest.raises(Exception, match=message):
        load(spark, mongo_env, database, coll, partitioner=partitioner).collect()


@pytest.mark.usefixtures("pushdown_on")
@pytest.mark.parametrize(
    "case",
    [
        ("n >= 2900", 100),
        ("n > 2899 AND n < 2950", 50),
        ("n <= 9", 13),  # the three extra documents have negative n
        ("n = 42", 1),
        ("n IN (1, 2, 2999)", 3),
        ("name LIKE 'name-29%'", 111),
        ("name = 'by text'", 1),
        ("name LIKE '%99'", 30),  # EndsWith
        ("name LIKE '%me-123%'", 11),  # Contains
        ("NOT (name LIKE 'name-%')", 3),  # Not(StartsWith)
        ("n NOT IN (5, 6)", TOTAL + 1),  # Not(In)
        ("n <=> 7", 1),
        ("k IS NOT NULL", None),
        # Missing (every 7th and `by double`) or null: the documents Spark keeps, and the
        # arrays (always sent: MongoDB matches them element-wise).
        ("k IS NULL", "kept and arrays"),
    ],
)
def test_pushed_filters_cut_documents_and_keep_results(
    spark: Any,
    mongo_env: dict[str, Any],
    collection: tuple[str, str],
    task_log: Any,
    case: tuple[str, int | str | None],
) -> None:
    condition, sent = case
    database, coll = collection
    expected = rows(load(spark, mongo_env, database, coll, pushdown="false").where(condition))
    assert expected, "the filter should keep rows"
    since = len(task_log.summaries("mongodb"))
    got = rows(load(spark, mongo_env, database, coll).where(condition))
    assert got == expected
    received = read_rows(task_log, since)
    if sent == "kept and arrays":
        arrays = sum(isinstance(partition_value(i), list) for i in range(TOTAL))
        assert received == sum(expected.values()) + arrays
    elif sent is not None:
        assert received == sent
    else:
        # Documents without `k` (every 7th) are not sent; null ones are (Spark removes them).
        assert received == TOTAL + 3 - len(range(0, TOTAL, 7)) - 1


def test_pipeline_runs_before_pushed_filters(
    spark: Any,
    mongo_env: dict[str, Any],
    collection: tuple[str, str],
    task_log: Any,
    pushdown_on: None,
) -> None:
    database, coll = collection
    pipeline = [{"$match": {"n": {"$lt": 100}}}, {"$addFields": {"name": "renamed"}}]
    df = load(spark, mongo_env, database, coll, **{"aggregation.pipeline": json.dumps(pipeline)})
    since = len(task_log.summaries("mongodb"))
    got = df.where("name = 'renamed'").select("n").collect()
    # Filtered before the pipeline, `name = 'renamed'` would match no stored document.
    assert sorted(r.n for r in got) == [-3, -2, -1, *range(100)]
    assert read_rows(task_log, since) == 103
    one_stage = load(spark, mongo_env, database, coll, pipeline='{"$match": {"n": 5}}')
    assert [r.n for r in one_stage.collect()] == [5]


def test_bad_pipeline_names_the_option(
    spark: Any, mongo_env: dict[str, Any], collection: tuple[str, str]
) -> None:
    database, coll = collection
    for bad in ("[{", '[{"match": {}}]', "42"):
        with pytest.raises(Exception, match=r"aggregation\.pipeline"):
            load(spark, mongo_env, database, coll, **{"aggregation.pipeline": bad}).collect()


def test_missing_collection_is_a_clear_error(
    spark: Any, mongo_env: dict[str, Any], collection: tuple[str, str]
) -> None:
    database, _ = collection
    with pytest.raises(Exception, match=r"collection `.*\.nope` does not exist"):
        load(spark, mongo_env, database, "nope").collect()
