"""Filter pushdown really reaches the planner, and says so loudly when it cannot.

The connector detects Spark's pushdown planner from the call stack (the conf is not visible
to a data source). These tests fail if Spark moves that planner, and prove through Spark
that a pushed partition-key filter plans fewer partitions, not only the right rows.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from cassandra_support import connector_options, cql_session, create_keyspace, unique

PUSHDOWN_CONF = "spark.sql.python.filterPushdown.enabled"


@pytest.fixture(scope="module")
def keyspace(env) -> str:
    session = cql_session(env)
    name = unique("pushplan")
    create_keyspace(session, name)
    session.execute(f"CREATE TABLE {name}.events (id int PRIMARY KEY, label text)")
    insert = session.prepare(f"INSERT INTO {name}.events (id, label) VALUES (?, ?)")
    for i in range(200):
        session.execute(insert, (i, f"label-{i}"))
    session.cluster.shutdown()
    return name


@pytest.fixture
def pushdown_on(spark) -> Iterator[None]:
    before = spark.conf.get(PUSHDOWN_CONF, "false")
    spark.conf.set(PUSHDOWN_CONF, "true")
    yield
    spark.conf.set(PUSHDOWN_CONF, before)


def test_pushdown_planner_module_still_exists() -> None:
    """The names the detector looks for are Spark's planners (pyspark.sql.worker.*)."""
    from pyspark_ds_cassandra._shared import features

    pushdown = importlib.import_module("pyspark.sql.worker.data_source_pushdown_filters")
    assert pushdown.__name__.rsplit(".", 1)[-1] == features._PUSHDOWN_PLANNER
    assert ".reader(" in inspect.getsource(pushdown), "the planner no longer creates readers"
    read = importlib.import_module("pyspark.sql.worker.plan_data_source_read")
    assert read.__name__.rsplit(".", 1)[-1] == features._READ_PLANNER
    assert features._READ_PLANNER_PUSHDOWN_FLAG in inspect.getsource(read)


@pytest.fixture
def connector_log(caplog) -> Iterator[Any]:
    from pyspark_ds_cassandra._shared import features

    features._warned_no_pushdown = False
    logger = logging.getLogger("spark_ds")
    propagate = logger.propagate
    logger.propagate = False  # caplog's handler on the root would see each record twice
    logger.addHandler(caplog.handler)
    yield caplog
    logger.removeHandler(caplog.handler)
    logger.propagate = propagate
    features._warned_no_pushdown = False


def test_a_reader_made_outside_spark_planners_warns_how_to_enable_pushdown(connector_log) -> None:
    from pyspark.sql.types import IntegerType, StructField, StructType
    from pyspark_ds_cassandra import DefaultSource
    from pyspark_ds_cassandra._shared import features

    schema = StructType([StructField("id", IntegerType())])
    if not features.has_filter_pushdown():
        pytest.skip("this PySpark has no filter pushdown (Spark 4.0)")
    DefaultSource({"keyspace": "k", "table": "t", "pushdown": "false"}).reader(schema)
    assert not [r for r in connector_log.records if r.levelno >= logging.WARNING]
    DefaultSource({"keyspace": "k", "table": "t"}).reader(schema)
    warnings = [r.getMessage() for r in connector_log.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert f"{PUSHDOWN_CONF}=true" in warnings[0]
    assert "option `pushdown`" in warnings[0]


def test_partition_key_filter_plans_fewer_partitions(spark, env, keyspace, pushdown_on) -> None:
    options = connector_options(env, keyspace=keyspace, table="events", splitCount="8")
    table = spark.read.format("cassandra").options(**options).load()
    unfiltered = table.rdd.getNumPartitions()
    assert unfiltered >= 4, unfiltered

    by_in = table.where("id IN (3, 7, 150)")
    assert by_in.rdd.getNumPartitions() < unfiltered
    assert sorted((r.id, r.label) for r in by_in.collect()) == [
        (3, "label-3"),
        (7, "label-7"),
        (150, "label-150"),
    ]

    by_eq = table.where("id = 42")
    assert by_eq.rdd.getNumPartitions() < unfiltered
    assert [(r.id, r.label) for r in by_eq.collect()] == [(42, "label-42")]

    # A filter Cassandra cannot take (not on the key) still plans the full scan.
    by_label = table.where("label = 'label-5'")
    assert by_label.rdd.getNumPartitions() == unfiltered
    assert [r.id for r in by_label.collect()] == [5]


NON_FINITE = [float("nan"), float("inf"), float("-inf"), 0.0, -0.0, 2.5]


@pytest.mark.parametrize(
    "condition",
    [
        "c = double('NaN')",
        "pk = 1 AND c = double('NaN')",
        "pk = 1 AND c > double('-Infinity')",
        "pk = 1 AND c < double('Infinity')",
        "pk = 1 AND c = 0.0",
        "f = float('NaN')",
        "f >= float('-Infinity') AND f < float('Infinity')",
        "f IN (float('NaN'), float('Infinity'))",
    ],
)
def test_non_finite_floats_on_key_and_regular_columns(spark, env, condition, pushdown_on) -> None:
    """A clustering double and a regular float holding NaN, ±Infinity and ±0.0: pushed reads
    return exactly Spark's own filtering (CQL orders -0.0 before 0.0; Spark calls them equal)."""
    session = cql_session(env)
    name = unique("floats")
    create_keyspace(session, name)
    session.execute(f"CREATE TABLE {name}.t (pk int, c double, f float, PRIMARY KEY (pk, c))")
    insert = session.prepare(f"INSERT INTO {name}.t (pk, c, f) VALUES (?, ?, ?)")
    for pk in (1, 2):
        for value in NON_FINITE:
            session.execute(insert, (pk, value, value))
    session.cluster.shutdown()
    options = connector_options(env, keyspace=name, table="t")

    def rows() -> list[tuple[int, str, str]]:
        df = spark.read.format("cassandra").options(**options).load().where(condition)
        return sorted((r["pk"], repr(r["c"]), repr(r["f"])) for r in df.collect())

    pushed = rows()
    spark.conf.set(PUSHDOWN_CONF, "false")
    expected = rows()
    assert pushed == expected
    assert expected, f"{condition} matched nothing"
