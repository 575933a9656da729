"""Reads: the standard table round-trips exactly, splitting changes nothing, pushed filters
and key lookups return exactly what Spark's own filtering would."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .connectors import ConnectorUnderTest
from .standard import spark_rows

pytestmark = pytest.mark.services

PUSHDOWN_CONF = "spark.sql.python.filterPushdown.enabled"


# Read tests never change the standard target, so each connector writes it once.
_standard_targets: dict[str, str] = {}


@pytest.fixture
def standard(spark: Any, connector: ConnectorUnderTest) -> tuple[str, Any]:
    """A target holding the standard rows, written through Spark; and those rows' frame."""
    frame = connector.standard(spark)
    if connector.name not in _standard_targets:
        target = connector.new_target("standard")
        options = connector.options(target)
        frame.write.format(connector.name).options(**options).mode("append").save()
        _standard_targets[connector.name] = target
    return _standard_targets[connector.name], frame


def read(spark: Any, connector: ConnectorUnderTest, target: str, **extra: object) -> Any:
    options = connector.options(target, **extra)
    return connector.reader(spark).options(**options).load().select(*connector.columns())


@pytest.mark.capability("batch_write", "batch_read")
def test_standard_table_round_trips_exactly(spark, connector, standard) -> None:
    target, frame = standard
    expected = spark_rows(frame.collect(), connector.columns())
    assert len(expected) == 61
    # Every column but the key holds a null somewhere and a value somewhere.
    for column in connector.columns()[1:]:
        values = [row[column] for row in expected]
        assert None in values and any(v is not None for v in values), column
    columns = connector.columns()
    assert spark_rows(read(spark, connector, target).collect(), columns) == expected
    # The system's own client sees the same values: the round trip is not a pair of bugs
    # that cancel out.
    assert connector.rows(target, columns) == expected


def collect_planned(df: Any, connector: ConnectorUnderTest, task_log: Any) -> tuple[list[Any], int]:
    """The rows of a read made with ``logLevel=info`` and how many partitions it planned.

    Read from the planner's log line, not ``df.rdd``: Spark Connect has no JVM handle.
    """
    rows, planned, _fetched = collect_counted(df, connector, task_log)
    return rows, planned


def collect_counted(
    df: Any, connector: ConnectorUnderTest, task_log: Any
) -> tuple[list[Any], int, int]:
    """``collect_planned`` and how many rows the read's tasks took from the system (their
    summary lines): what the server returned, before Spark's own filtering."""
    task_log.mark()
    rows = df.collect()
    counts = set(task_log.planned_partitions(connector.name))
    assert len(counts) == 1, f"expected one planned read, found {counts}: {task_log.lines()}"
    fetched = sum(s.rows for s in task_log.summaries(connector.name))
    return rows, counts.pop(), fetched


@pytest.mark.capability("batch_write", "batch_read")
def test_partitioned_read_equals_a_single_partition_read(
    spark, connector, standard, task_log
) -> None:
    target, frame = standard
    single = read(spark, connector, target, logLevel="info", **connector.partition_options(1))
    split = read(spark, connector, target, logLevel="info", **connector.partition_options(8))
    single_collected, single_planned = collect_planned(single, connector, task_log)
    split_collected, split_planned = collect_planned(split, connector, task_log)
    assert single_planned == 1
    assert split_planned > 1, "the partitioned read planned one partition"
    columns = connector.columns()
    single_rows = spark_rows(single_collected, columns)
    split_rows = spark_rows(split_collected, columns)
    assert len({r["id"] for r in split_rows}) == len(split_rows), "a row was read twice"
    assert split_rows == single_rows == spark_rows(frame.collect(), columns)


@pytest.mark.capability("batch_write", "batch_read")
def test_every_read_task_logs_its_summary(spark, connector, standard, task_log) -> None:
    # Fault tests rely on these lines (from every Python worker, via SPARK_DS_LOG_FILE).
    target, _frame = standard
    df = read(spark, connector, target, logLevel="info", **connector.partition_options(4))
    collected, tasks = collect_planned(df, connector, task_log)
    assert len(collected) == 61
    summaries = [s for s in task_log.summaries(connector.name) if s.task.startswith("read")]
    lines = "\n".join(task_log.lines())
    assert len(summaries) == tasks, lines
    assert sum(s.rows for s in summaries) == 61, lines
    assert all(s.retries == 0 for s in summaries), lines


@pytest.mark.capability("batch_write", "batch_read")
def test_log_level_option_does_not_outlive_its_job(spark, connector, standard, task_log) -> None:
    # Python workers are reused across jobs: one job's logLevel=info must not make the next
    # job, which did not ask, print INFO lines (per range, per task) to the console.
    target, _frame = standard
    options = connector.partition_options(4)
    read(spark, connector, target, logLevel="info", **options).collect()
    task_log.mark()
    assert len(read(spark, connector, target, **options).collect()) == 61
    assert not [line for line in task_log.lines() if " INFO " in line], task_log.lines()
    task_log.mark()
    read(spark, connector, target, logLevel="info", **options).collect()
    assert task_log.summaries(connector.name), "asked for INFO, got no task summary"


# Filters on the standard table: ones a connector can push (key equality and IN) and ones it
# cannot; either way the rows must be exactly Spark's own filtering of the whole table.
FILTERS = {
    "key_eq": "id = 7",
    "key_in": "id IN (1, 2, 40, 999)",
    "key_eq_and_not_null": "id = 7 AND name IS NOT NULL",
    "key_in_or_other": "id IN (3, 4) OR big > 0",
    "key_range": "id >= 10 AND id < 20",
    "string_eq": "name = 'név-8 ✓'",
    "is_null": "name IS NULL",
    "bool_and_double": "flag = true AND score > 0",
    "date_lt": "day < DATE'1970-06-01'",
    "decimal_gt": "amount > 1000",
    "not_key_eq": "NOT (id = 5)",
}


@pytest.mark.capability("batch_write", "pushdown")
@pytest.mark.parametrize("filter_name", list(FILTERS))
def test_pushed_filter_equals_spark_filtering(spark, connector, standard, filter_name) -> None:
    target, _frame = standard
    condition = FILTERS[filter_name]
    for column, why in connector.unstorable.items():
        if re.search(rf"\b{column}\b", condition):
            pytest.skip(f"{connector.name} leaves `{column}` out of its rows: {why}")
    before = spark.conf.get(PUSHDOWN_CONF)
    try:
        spark.conf.set(PUSHDOWN_CONF, "false")
        columns = connector.columns()
        expected = spark_rows(read(spark, connector, target).where(condition).collect(), columns)
        spark.conf.set(PUSHDOWN_CONF, "true")
        pushed = spark_rows(read(spark, connector, target).where(condition).collect(), columns)
    finally:
        spark.conf.set(PUSHDOWN_CONF, before)
    assert pushed == expected


@pytest.mark.capability("batch_write", "pushdown")
def test_pushed_key_filter_reads_less(spark, connector, standard, task_log) -> None:
    # Equal rows alone would not show that anything was pushed: the server must return
    # fewer rows, and where the key decides the partitions, the plan must shrink too.
    target, _frame = standard
    before = spark.conf.get(PUSHDOWN_CONF)
    try:
        options = {"logLevel": "info", **connector.partition_options(8)}
        spark.conf.set(PUSHDOWN_CONF, "false")
        whole = read(spark, connector, target, **options).where("id IN (7, 8)")
        unpushed_rows, unpushed, fetched_whole = collect_counted(whole, connector, task_log)
        spark.conf.set(PUSHDOWN_CONF, "true")
        filtered = read(spark, connector, target, **options).where("id IN (7, 8)")
        rows, pushed, fetched = collect_counted(filtered, connector, task_log)
        ids = sorted(r["id"] for r in rows)
    finally:
        spark.conf.set(PUSHDOWN_CONF, before)
    assert unpushed == 8
    assert ids == sorted(r["id"] for r in unpushed_rows) == [7, 8]
    assert fetched_whole >= 60, f"the unpushed read's tasks took {fetched_whole} rows"
    assert fetched == 2, f"the pushed read's tasks took {fetched} rows, not the 2 matching"
    if connector.pushdown_prunes_partitions:
        assert pushed < unpushed, f"{pushed} partitions with the key filter pushed"


@pytest.mark.capability("batch_write", "key_lookup")
def test_key_lookup_returns_exactly_the_matching_rows(spark, connector, standard) -> None:
    target, frame = standard
    wanted = [5, 17, -1, 59, 999_999]
    keys = spark.createDataFrame([(k,) for k in wanted], "id INT")
    found = connector.lookup(keys, connector.options(target))
    columns = connector.columns()
    expected = [r for r in spark_rows(frame.collect(), columns) if r["id"] in wanted]
    assert [r["id"] for r in expected] == [-1, 5, 17, 59]
    assert spark_rows(found.select(*columns).collect(), columns) == expected


# Floats JSON has no literal for: a filter on them must neither break the pushdown (it did:
# the encoded list held a bare NaN) nor change the rows Spark's own filtering returns.
SPECIAL_SCORES = [
    (1, float("nan")),
    (2, float("inf")),
    (3, float("-inf")),
    (4, 0.0),
    (5, -0.0),
    (6, 1.5),
    (7, None),
    (8, -2.5),
]
NON_FINITE_FILTERS = {
    "eq_nan": "score = double('NaN')",
    "eq_infinity": "score = double('Infinity')",
    "gt_minus_infinity": "score > double('-Infinity')",
    "le_infinity": "score <= double('Infinity')",
    "in_with_nan": "score IN (double('NaN'), 1.5, double('-Infinity'))",
    "not_eq_nan": "NOT (score = double('NaN'))",
    "id_and_nan": "id IN (1, 2, 6) AND score = double('NaN')",
}
_special_targets: dict[str, str] = {}


def float_rows(rows: list[Any]) -> list[tuple[int, str | None]]:
    # repr keeps NaN comparable and -0.0 apart from 0.0.
    return sorted((r["id"], None if r["score"] is None else repr(r["score"])) for r in rows)


@pytest.mark.capability("batch_write", "pushdown")
@pytest.mark.parametrize("filter_name", list(NON_FINITE_FILTERS))
def test_non_finite_float_filters_equal_spark_filtering(spark, connector, filter_name) -> None:
    if connector.non_finite_floats:
        pytest.skip(connector.non_finite_floats)
    if connector.name not in _special_targets:
        target = connector.new_target("standard")
        frame = spark.createDataFrame(SPECIAL_SCORES, "id INT, score DOUBLE")
        frame.write.format(connector.name).options(**connector.options(target)).mode(
            "append"
        ).save()
        _special_targets[connector.name] = target
    target = _special_targets[connector.name]
    frame_schema = "id INT, score DOUBLE"
    condition = NON_FINITE_FILTERS[filter_name]
    before = spark.conf.get(PUSHDOWN_CONF)

    def filtered() -> list[tuple[int, str | None]]:
        df = connector.reader(spark, frame_schema).options(**connector.options(target)).load()
        return float_rows(df.select("id", "score").where(condition).collect())

    try:
        spark.conf.set(PUSHDOWN_CONF, "false")
        expected = filtered()
        spark.conf.set(PUSHDOWN_CONF, "true")
        pushed = filtered()
    finally:
        spark.conf.set(PUSHDOWN_CONF, before)
    assert pushed == expected
    assert expected, f"{condition} matched nothing: the case proves little"
