"""Writes: save modes mean the same for every connector, and a write that cannot succeed
leaves the target exactly as it was, whatever the mode.

Targets are checked with the system's own client, not through the connector.
"""

from __future__ import annotations

from typing import Any

import pytest

from .connectors import ConnectorUnderTest
from .standard import SIMPLE_SCHEMA

pytestmark = [pytest.mark.services, pytest.mark.capability("batch_write")]

COLUMNS = ["id", "name"]


def write(
    frame: Any, connector: ConnectorUnderTest, target: str, mode: str = "append", **extra: object
) -> None:
    options = connector.options(target, **extra)
    frame.write.format(connector.name).options(**options).mode(mode).save()


def frame(spark: Any, rows: list[tuple[int, str]]) -> Any:
    return spark.createDataFrame(rows, SIMPLE_SCHEMA)


def rows(connector: ConnectorUnderTest, target: str) -> list[tuple[Any, ...]]:
    return [(r["id"], r["name"]) for r in connector.rows(target, COLUMNS)]


@pytest.fixture
def target(connector: ConnectorUnderTest) -> str:
    """A simple target holding (1, "a"), (2, "b"), written by the system's own client."""
    name = connector.new_target("simple")
    connector.insert(name, [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}])
    assert rows(connector, name) == [(1, "a"), (2, "b")]
    return name


def test_append_adds_rows_and_replaces_same_keys(spark, connector, target) -> None:
    write(frame(spark, [(2, "B"), (3, "c")]), connector, target)
    if connector.keyed:
        assert rows(connector, target) == [(1, "a"), (2, "B"), (3, "c")]
    else:
        assert sorted(rows(connector, target)) == [(1, "a"), (2, "B"), (2, "b"), (3, "c")]


def test_overwrite_replaces_every_row(spark, connector, target) -> None:
    write(frame(spark, [(3, "c")]), connector, target, "overwrite", **connector.overwrite_options)
    assert rows(connector, target) == [(3, "c")]


def test_overwrite_without_its_confirmation_is_refused(spark, connector, target) -> None:
    if not connector.overwrite_options:
        pytest.skip(f"connector `{connector.name}` overwrites without a confirmation option")
    with pytest.raises(Exception) as caught:
        write(frame(spark, [(3, "c")]), connector, target, "overwrite")
    for option in connector.overwrite_options:
        assert option in str(caught.value), str(caught.value)
    assert rows(connector, target) == [(1, "a"), (2, "b")]


def test_error_if_exists_refuses_a_target_with_rows(spark, connector, target) -> None:
    option = {connector.save_mode_option: "errorIfExists"}
    with pytest.raises(Exception, match=r"errorIfExists"):
        write(frame(spark, [(2, "B"), (3, "c")]), connector, target, **option)
    assert rows(connector, target) == [(1, "a"), (2, "b")]
    empty = connector.new_target("simple")
    write(frame(spark, [(3, "c")]), connector, empty, **option)
    assert rows(connector, empty) == [(3, "c")]


def test_ignore_writes_nothing_to_a_target_with_rows(spark, connector, target) -> None:
    option = {connector.save_mode_option: "ignore"}
    write(frame(spark, [(2, "B"), (3, "c")]), connector, target, **option)
    assert rows(connector, target) == [(1, "a"), (2, "b")]
    empty = connector.new_target("simple")
    write(frame(spark, [(3, "c")]), connector, empty, **option)
    assert rows(connector, empty) == [(3, "c")]


# Every mode that has a side effect or a check of its own.
MODES = {
    "overwrite": lambda c: ("overwrite", dict(c.overwrite_options)),
    "append": lambda c: ("append", {}),
    "create_table": lambda c: ("append", c.create_options()),
    "error_if_exists": lambda c: ("append", {c.save_mode_option: "errorIfExists"}),
    "ignore": lambda c: ("append", {c.save_mode_option: "ignore"}),
}


@pytest.fixture
def full_target(connector: ConnectorUnderTest) -> tuple[str, list[tuple[Any, ...]]]:
    """A simple target holding 200 rows, and those rows as the system's client reads them."""
    name = connector.new_target("simple")
    connector.insert(name, [{"id": i, "name": f"row {i}"} for i in range(200)])
    before = rows(connector, name)
    assert len(before) == 200
    return name, before


@pytest.mark.parametrize("mode_name", list(MODES))
@pytest.mark.parametrize("bad", [0, 1])
def test_rejected_write_leaves_the_target_untouched(
    spark, connector, full_target, bad, mode_name
) -> None:
    # Each connector names two writes that cannot succeed (ConnectorUnderTest.bad_frames).
    target, before = full_target
    schema, data, culprit = list(connector.bad_frames.values())[bad]
    mode, extra = MODES[mode_name](connector)
    with pytest.raises(Exception) as caught:
        write(spark.createDataFrame(data, schema), connector, target, mode, **extra)
    message = str(caught.value)
    # The failure is about the bad column (errorIfExists may refuse the full target first).
    named = f"`{culprit}`" in message or (
        mode_name == "error_if_exists" and "errorIfExists" in message
    )
    assert named, message
    assert rows(connector, target) == before
