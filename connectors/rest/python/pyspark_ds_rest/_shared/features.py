"""What the running PySpark offers, detected by import and attribute, never by version."""

from __future__ import annotations

import importlib
import logging
import sys
from functools import cache
from types import FrameType


def _has(module: str, name: str) -> bool:
    try:
        return hasattr(importlib.import_module(module), name)
    except ImportError:
        return False


@cache
def has_filter_pushdown() -> bool:
    """``pushFilters`` and the filter classes (Spark 4.1+)."""
    return _has("pyspark.sql.datasource", "EqualTo")


@cache
def has_stream_arrow_writer() -> bool:
    """``DataSourceStreamArrowWriter`` (Spark 4.1+)."""
    return _has("pyspark.sql.datasource", "DataSourceStreamArrowWriter")


@cache
def has_admission_control() -> bool:
    """``latestOffset(start, limit)``, ``ReadLimit`` and ``Trigger.AvailableNow`` support for
    Python stream readers (Spark 4.2+)."""
    return _has("pyspark.sql.streaming.datasource", "SupportsTriggerAvailableNow")


def stream_reader_bases() -> tuple[type, ...]:
    """The stream-reader interfaces this Spark has: the reader, plus the AvailableNow mixin
    (4.2+) so ``Trigger.AvailableNow`` stops at the offset latest when the query started."""
    from pyspark.sql.datasource import DataSourceStreamReader

    if not has_admission_control():
        return (DataSourceStreamReader,)
    from pyspark.sql.streaming.datasource import SupportsTriggerAvailableNow

    return (DataSourceStreamReader, SupportsTriggerAvailableNow)


# Spark's Python worker modules (pyspark.sql.worker.*) that create batch readers.
_PUSHDOWN_PLANNER = "data_source_pushdown_filters"
_READ_PLANNER = "plan_data_source_read"
# The read planner's local holding `spark.sql.python.filterPushdown.enabled`.
_READ_PLANNER_PUSHDOWN_FLAG = "enable_pushdown"


def _caller_frame(module: str) -> FrameType | None:
    frame: FrameType | None = sys._getframe(2)
    while frame is not None:
        name = str(frame.f_globals.get("__name__", ""))
        path = str(frame.f_globals.get("__file__", ""))
        if name.endswith(module) or path.endswith(module + ".py"):
            return frame
        frame = frame.f_back
    return None


def called_from_pushdown_planner() -> bool:
    """Whether Spark is creating the reader in order to push filters into it.

    Spark creates readers in two places: its filter-pushdown planner, which runs only when
    ``spark.sql.python.filterPushdown.enabled`` is true, and its read planner, which fails
    the query if the reader overrides ``pushFilters`` while pushdown is off. The conf itself
    is not visible to the reader, so the caller is the signal: only the pushdown planner
    gets a reader that pushes filters. If Spark renames the module, pushdown is off, the
    reader logs a warning, and ``test_pushdown_planner_module_still_exists`` fails.
    """
    return _caller_frame(_PUSHDOWN_PLANNER) is not None


def read_planner_has_pushdown_on() -> bool | None:
    """Whether Spark's read planner, if it is the caller, was told pushdown is enabled.

    Spark sends unfiltered reads to the read planner even with pushdown enabled; only then
    is the missing pushdown planner expected. None when the caller is not that planner or
    Spark no longer holds the flag where this looks.
    """
    frame = _caller_frame(_READ_PLANNER)
    if frame is None:
        return None
    value = frame.f_locals.get(_READ_PLANNER_PUSHDOWN_FLAG)
    return value if isinstance(value, bool) else None


_warned_no_pushdown = False


def warn_pushdown_not_planned(log: logging.Logger, system: str) -> None:
    """Says, once per process, that filters will not reach the source, and how to fix it."""
    global _warned_no_pushdown  # noqa: PLW0603 - once per process, by design
    if _warned_no_pushdown:
        return
    _warned_no_pushdown = True
    log.warning(
        "%s: option `pushdown` is on, but Spark's filter-pushdown planner did not create "
        "this reader, so filters on this read run in Spark after every row is read. Set "
        "spark.sql.python.filterPushdown.enabled=true in the Spark session to push them "
        "into %s (or set option `pushdown` to false to silence this).",
        system,
        system,
    )


def stream_writer_base() -> type:
    """The newest stream-writer interface this Spark has: Arrow batches (4.1+) or Rows."""
    from pyspark.sql import datasource

    return getattr(datasource, "DataSourceStreamArrowWriter", datasource.DataSourceStreamWriter)
