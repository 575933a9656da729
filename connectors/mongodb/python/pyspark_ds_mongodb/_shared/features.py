"""What the running PySpark offers, detected by import and attribute, never by version."""

from __future__ import annotations

import importlib
import sys
from functools import cache


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


_PUSHDOWN_PLANNER = "data_source_pushdown_filters"


def called_from_pushdown_planner() -> bool:
    """Whether Spark is creating the reader in order to push filters into it.

    Spark creates readers in two places: its filter-pushdown planner, which runs only when
    ``spark.sql.python.filterPushdown.enabled`` is true, and its read planner, which fails
    the query if the reader overrides ``pushFilters`` while pushdown is off. The conf itself
    is not visible to the reader, so the caller is the signal: only the pushdown planner
    gets a reader that pushes filters. If Spark renames the module, pushdown is simply off.
    """
    frame = sys._getframe(1)
    while frame is not None:
        name = str(frame.f_globals.get("__name__", ""))
        path = str(frame.f_globals.get("__file__", ""))
        if name.endswith(_PUSHDOWN_PLANNER) or path.endswith(_PUSHDOWN_PLANNER + ".py"):
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


def stream_writer_base() -> type:
    """The newest stream-writer interface this Spark has: Arrow batches (4.1+) or Rows."""
    from pyspark.sql import datasource

    return getattr(datasource, "DataSourceStreamArrowWriter", datasource.DataSourceStreamWriter)
