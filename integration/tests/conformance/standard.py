"""The standard table every connector round-trips, and the canonical form rows are compared in.

Rows come from Spark SQL over ``range`` so any size is cheap; every column but the key is null
in some rows and set in others, and one row carries edge values (empty strings and binary,
extreme integers, a date and a timestamp before 1970, the largest DECIMAL(38,18)).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

COLUMNS = [
    "id",
    "name",
    "big",
    "score",
    "flag",
    "day",
    "at",
    "amount",
    "raw",
    "tags",
    "attrs",
    "point",
]
# Key first; the rest null in some rows (no column of the standard table is never null).
SCHEMA = (
    "id INT, name STRING, big BIGINT, score DOUBLE, flag BOOLEAN, day DATE, at TIMESTAMP, "
    "amount DECIMAL(38,18), raw BINARY, tags ARRAY<INT>, attrs MAP<STRING,BIGINT>, "
    "point STRUCT<x: INT, label: STRING>"
)
SIMPLE_SCHEMA = "id INT, name STRING"

_GENERATED = [
    "CAST(id AS INT) AS id",
    "CASE WHEN id % 5 = 1 THEN NULL ELSE concat('név-', id, ' ✓{tag}') END AS name",
    "CASE WHEN id % 5 = 2 THEN NULL ELSE id * 4611686018427 END AS big",
    "CASE WHEN id % 5 = 3 THEN NULL ELSE CAST(id AS DOUBLE) / 8 - 3.25 END AS score",
    "CASE WHEN id % 5 = 4 THEN NULL ELSE id % 2 = 0 END AS flag",
    "CASE WHEN id % 7 = 1 THEN NULL ELSE date_add(DATE'1969-12-20', CAST(id * 37 AS INT)) END"
    " AS day",
    "CASE WHEN id % 7 = 2 THEN NULL ELSE timestamp_millis(1700000000123 + id * 3600007) END AS at",
    "CASE WHEN id % 7 = 3 THEN NULL"
    " ELSE CAST(id * 1234.5678901 - 1000 AS DECIMAL(38,18)) END AS amount",
    "CASE WHEN id % 7 = 4 THEN NULL ELSE unhex(concat('00FF', hex(id))) END AS raw",
    "CASE WHEN id % 7 = 5 THEN NULL ELSE array(CAST(id AS INT), -1, 0) END AS tags",
    "CASE WHEN id % 7 = 6 THEN NULL ELSE map('a', id, 'b', -id) END AS attrs",
    "CASE WHEN id % 6 = 0 THEN NULL ELSE named_struct("
    "'x', CASE WHEN id % 4 = 0 THEN NULL ELSE CAST(id AS INT) END, 'label', concat('p', id))"
    " END AS point",
]

_EDGE = [
    "-1 AS id",
    "'' AS name",
    "CAST(-9223372036854775808 AS BIGINT) AS big",
    "CAST(1.0E308 AS DOUBLE) AS score",
    "false AS flag",
    "DATE'1900-01-01' AS day",
    "timestamp_millis(-2000000000123) AS at",
    "CAST('99999999999999999999.999999999999999999' AS DECIMAL(38,18)) AS amount",
    "X'' AS raw",
    "array(2147483647, -2147483648) AS tags",
    "map('', CAST(0 AS BIGINT)) AS attrs",
    "named_struct('x', -2147483648, 'label', '') AS point",
]


def standard_frame(spark: Any, start: int = 0, end: int = 60, tag: str = "") -> Any:
    """Rows ``start <= id < end`` of the standard table (plus the edge row when start is 0).

    ``tag`` goes into every generated ``name``: a second generation of the same keys.
    """
    generated = spark.range(start, end).selectExpr(*(e.format(tag=tag) for e in _GENERATED))
    frame = generated
    if start == 0:
        frame = generated.unionByName(spark.range(1).selectExpr(*_EDGE))
    return frame.select(*COLUMNS)


def canonical(value: Any) -> Any:
    """One form for values from Spark and from a system's own client, so they compare.

    Structs and maps become dicts, binary becomes bytes, timestamps become aware UTC
    datetimes (a naive one from Spark is in the local zone, as PySpark hands them out).
    Connectors' own clients return naive UTC datetimes: they convert before calling this.
    """
    if hasattr(value, "asDict"):
        return {k: canonical(v) for k, v in value.asDict().items()}
    if isinstance(value, Mapping):
        return {canonical(k): canonical(v) for k, v in value.items()}
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc)
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    return value


def spark_rows(rows: Iterable[Any], columns: list[str] = COLUMNS) -> list[dict[str, Any]]:
    """Collected Spark rows in canonical form, sorted by the key ``id``."""
    out = [{c: canonical(row[c]) for c in columns} for row in rows]
    return sorted(out, key=lambda r: r["id"])
