"""pytest plugin the version matrix loads (``-p matrix_plugin``) into the conformance suite.

It does three things, driven by environment variables that ``run.py`` sets:

- ``SPARK_DS_SPARK_MODE`` (read by conftest.py's ``spark`` fixture, which connects that way)
  names the mode the report is for.
- A capability that needs a newer Spark than the running PySpark is not run but reported
  "not offered", with the reason, found by the same import checks the connectors use.
- Every test's outcome, with its connector and capabilities, goes to the JSON file
  ``SPARK_DS_MATRIX_REPORT``; ``run.py`` turns those into the results table.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
from pathlib import Path
from typing import Any

import pytest

MODE = os.environ.get("SPARK_DS_SPARK_MODE", "classic")
REPORT = os.environ.get("SPARK_DS_MATRIX_REPORT")
MODES = ("classic", "connect", "cluster")
# Tests with no capability marker check what every connector shares: option errors, secrets.
COMMON = "options"

# A test the running Spark cannot host is "not offered"; the skip reason starts with this.
NOT_OFFERED = "not offered"


def _has(module: str, name: str) -> bool:
    try:
        return hasattr(importlib.import_module(module), name)
    except ImportError:
        return False


def feature_paths() -> dict[str, str]:
    """Which implementation the running PySpark makes the connectors use, per feature."""
    pushdown = _has("pyspark.sql.datasource", "EqualTo")
    arrow_stream = _has("pyspark.sql.datasource", "DataSourceStreamArrowWriter")
    read_limit = _has("pyspark.sql.datasource", "ReadLimit") or _has(
        "pyspark.sql.streaming.datasource", "ReadLimit"
    )
    return {
        "batch_read": "Arrow RecordBatch reader",
        "batch_write": "DataSourceArrowWriter"
        if _has("pyspark.sql.datasource", "DataSourceArrowWriter")
        else "Row writer",
        "pushdown": "pushFilters" if pushdown else "Spark filters (no pushFilters before 4.1)",
        "stream_write": "DataSourceStreamArrowWriter"
        if arrow_stream
        else "Row stream writer, batched into Arrow",
        "stream_read": "admission control (ReadLimit)" if read_limit else "no ReadLimit",
    }


def missing_feature(capability: str) -> str | None:
    """Why the running PySpark cannot host ``capability`` at all, or None."""
    if capability == "pushdown" and not _has("pyspark.sql.datasource", "EqualTo"):
        return "pushFilters needs Spark 4.1+; Spark filters the rows itself"
    if capability == "pipelines" and importlib.util.find_spec("pyspark.pipelines") is None:
        return "Spark Declarative Pipelines need Spark 4.1+"
    return None


def pytest_configure(config: pytest.Config) -> None:
    if MODE not in MODES:
        raise pytest.UsageError(f"SPARK_DS_SPARK_MODE={MODE!r}: expected one of {MODES}")


# One pytest session per process: what the hooks below gather.
_items: dict[str, dict[str, Any]] = {}
_results: list[dict[str, Any]] = []


def _capabilities(item: pytest.Item) -> list[str]:
    names = [n for mark in item.iter_markers("capability") for n in mark.args]
    return list(dict.fromkeys(names)) or [COMMON]


def _connector(item: pytest.Item) -> str | None:
    """The conformance suite's ``connector`` parameter, else the module's ``CONNECTOR``."""
    callspec = getattr(item, "callspec", None)
    chosen = callspec.params.get("connector") if callspec else None
    module = getattr(item, "module", None)
    return getattr(chosen, "name", None) or getattr(module, "CONNECTOR", None)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        capabilities = _capabilities(item)
        _items[item.nodeid] = {"connector": _connector(item), "capabilities": capabilities}
        for capability in capabilities:
            reason = missing_feature(capability)
            if reason:
                item.add_marker(pytest.mark.skip(reason=f"{NOT_OFFERED}: {reason}"))
                break


def _message(report: pytest.TestReport) -> str:
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    text = str(report.longrepr or "")
    # The assertion or exception line, not the whole traceback.
    lines = [line for line in text.splitlines() if line.startswith("E ")]
    return "\n".join(lines[:6])[:1500] or text[-1500:]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" or report.outcome != "passed":
        _results.append(
            {
                "nodeid": report.nodeid,
                "when": report.when,
                "outcome": report.outcome,
                "message": "" if report.passed else _message(report),
                "duration": round(report.duration, 2),
            }
        )


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not REPORT:
        return
    tests: dict[str, dict[str, Any]] = {}
    for result in _results:
        entry = tests.setdefault(result["nodeid"], {**_items.get(result["nodeid"], {})})
        # Setup errors and teardown failures override a passing call.
        if "outcome" not in entry or result["outcome"] != "passed":
            entry.update(result)
    import pyspark

    Path(REPORT).write_text(
        json.dumps(
            {
                "mode": MODE,
                "pyspark": pyspark.__version__,
                "paths": feature_paths(),
                "tests": list(tests.values()),
            },
            indent=2,
        )
    )
