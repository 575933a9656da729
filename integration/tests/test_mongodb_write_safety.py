"""A write that cannot succeed fails on the driver before any side effect and any task.

The lesson of the Cassandra overwrite bug: emptying the target and then failing in every
task loses the data. Here `drop`, `deleteAll` and the errorIfExists check run only after
every check that needs no write passed.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from mongodb_support import connector_options, unique

pytestmark = pytest.mark.services

DOCS = 1_000


@pytest.fixture(scope="module")
def database(mongo: Any) -> Any:
    name = unique("safety")
    yield name
    mongo.drop_database(name)


@pytest.fixture
def full_collection(mongo: Any, database: str) -> tuple[str, str]:
    """(database, collection) of a new collection holding DOCS documents."""
    coll = unique("people")
    mongo[database][coll].insert_many([{"_id": i, "name": f"n{i}"} for i in range(DOCS)])
    return database, coll


def documents(mongo: Any, database: str, coll: str) -> list[dict[str, Any]]:
    return sorted(mongo[database][coll].find(), key=lambda d: d["_id"])


def write_without_tasks(spark: Any, df: Any, options: dict[str, str], mode: str) -> str:
    """Writes `df`, expecting a failure before Spark submits any job; returns the message."""
    sc = spark.sparkContext
    group = f"safety-{uuid.uuid4().hex}"
    sc.setJobGroup(group, "a write that must fail on the driver")
    try:
        with pytest.raises(Exception) as caught:
            df.write.format("mongodb").options(**options).mode(mode).save()
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)
    assert list(sc.statusTracker().getJobIdsForGroup(group)) == [], "a task ran"
    return str(caught.value)


MODES = {
    "overwrite drop": ("overwrite", {"overwriteStrategy": "drop"}),
    "overwrite deleteAll": ("overwrite", {"overwriteStrategy": "deleteAll"}),
    "saveMode=errorIfExists": ("append", {"saveMode": "errorIfExists"}),
    "saveMode=ignore": ("append", {"saveMode": "ignore"}),
    "append": ("append", {}),
}


@pytest.mark.parametrize("mode_name", list(MODES))
def test_decimal_column_on_ferretdb_fails_before_any_side_effect(
    spark, mongo_env, mongo, full_collection, mode_name
) -> None:
    database, full_collection = full_collection
    mode, extra = MODES[mode_name]
    before = documents(mongo, database, full_collection)
    assert len(before) == DOCS
    df = spark.createDataFrame([(1, Decimal("1.50"))], "_id INT, price DECIMAL(10,2)")
    options = connector_options(mongo_env, database=database, collection=full_collection, **extra)
    message = write_without_tasks(spark, df, options, mode)
    assert "column `price`" in message and "Decimal128" in message, message
    assert documents(mongo, database, full_collection) == before


@pytest.mark.parametrize("mode_name", list(MODES))
def test_missing_id_field_column_fails_before_any_side_effect(
    spark, mongo_env, mongo, full_collection, mode_name
) -> None:
    database, full_collection = full_collection
    mode, extra = MODES[mode_name]
    before = documents(mongo, database, full_collection)
    df = spark.createDataFrame([(1, "x")], "_id INT, name STRING")
    options = connector_options(
        mongo_env,
        database=database,
        collection=full_collection,
        idFieldList="_id,nme",
        **extra,
    )
    message = write_without_tasks(spark, df, options, mode)
    assert "option `idFieldList` names `nme`" in message, message
    assert documents(mongo, database, full_collection) == before


def test_overwrite_without_strategy_fails_and_touches_nothing(
    spark, mongo_env, mongo, full_collection
) -> None:
    database, full_collection = full_collection
    before = documents(mongo, database, full_collection)
    df = spark.createDataFrame([(1, "x")], "_id INT, name STRING")
    options = connector_options(mongo_env, database=database, collection=full_collection)
    message = write_without_tasks(spark, df, options, "overwrite")
    assert "option `overwriteStrategy`" in message, message
    assert "`drop`" in message and "`deleteAll`" in message, message
    assert documents(mongo, database, full_collection) == before


def test_unsupported_column_type_fails_before_any_side_effect(
    spark, mongo_env, mongo, full_collection
) -> None:
    database, full_collection = full_collection
    before = documents(mongo, database, full_collection)
    df = spark.createDataFrame([(1, [[1, 2], [3]])], "_id INT, grid ARRAY<ARRAY<INT>>")
    options = connector_options(
        mongo_env, database=database, collection=full_collection, overwriteStrategy="drop"
    )
    message = write_without_tasks(spark, df, options, "overwrite")
    assert "column `grid`" in message and "array of arrays" in message, message
    assert documents(mongo, database, full_collection) == before
