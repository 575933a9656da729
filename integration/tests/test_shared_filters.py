"""The shared filter encoder (pure logic): what each Spark filter becomes for the native
planners, and which filters stay with Spark."""

from __future__ import annotations

import json
import math
from typing import Any

from pyspark.sql.datasource import (
    EqualNullSafe,
    EqualTo,
    GreaterThan,
    In,
    IsNotNull,
    IsNull,
    Not,
    StringContains,
    StringEndsWith,
    StringStartsWith,
)


def encode(filters: list[Any]) -> tuple[list[dict[str, Any]], list[int]]:
    from pyspark_ds_mongodb._shared.filters import encode_filters

    text, positions = encode_filters(filters)
    return json.loads(text), positions


def test_string_matches_encode_each_kind() -> None:
    got, positions = encode(
        [
            StringStartsWith(("s",), "a"),
            StringEndsWith(("s",), "b"),
            StringContains(("s",), "c"),
        ]
    )
    assert [f["op"] for f in got] == ["starts_with", "ends_with", "contains"]
    assert [f["value"] for f in got] == ["a", "b", "c"]
    assert positions == [0, 1, 2]


def test_not_wraps_its_child_and_names_the_column() -> None:
    got, _ = encode([Not(In(("n",), (1, 2))), Not(IsNull(("k",)))])
    assert got == [
        {"op": "not", "column": "n", "child": {"op": "in", "column": "n", "values": [1, 2]}},
        {"op": "not", "column": "k", "child": {"op": "is_null", "column": "k"}},
    ]


def test_null_safe_equality_is_equality_or_is_null() -> None:
    got, _ = encode([EqualNullSafe(("n",), 4), EqualNullSafe(("n",), None)])
    assert got == [
        {"op": "eq", "column": "n", "value": 4},
        {"op": "is_null", "column": "n"},
    ]


def test_unencodable_filters_stay_with_spark_and_keep_positions() -> None:
    got, positions = encode(
        [
            EqualTo(("a", "b"), 1),  # nested path
            GreaterThan(("x",), object()),  # no JSON form
            Not(EqualTo(("a", "b"), 1)),
            IsNotNull(("y",)),
            EqualTo(("z",), math.nan),
        ]
    )
    assert positions == [3, 4]
    assert got == [
        {"op": "is_not_null", "column": "y"},
        {"op": "eq", "column": "z", "value": {"$double": "NaN"}},
    ]
