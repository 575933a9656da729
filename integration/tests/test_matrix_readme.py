"""The README's support matrix is the last matrix run's table, not a hand-written claim."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "integration" / "matrix"
BEGIN, END = "<!-- matrix:begin -->", "<!-- matrix:end -->"


def block(text: str, where: str) -> str:
    assert text.count(BEGIN) == 1 and text.count(END) == 1, f"{where}: one pair of matrix markers"
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return text[start:end].strip("\n")


def test_readme_support_matrix_equals_the_last_results_file() -> None:
    readme = block((ROOT / "README.md").read_text(), "README.md")
    results = block((RESULTS / "results.md").read_text(), "results.md")
    assert readme == results, (
        "README.md's support matrix differs from integration/matrix/results.md: "
        "run `make matrix` (it rewrites both), or paste the table from results.md"
    )


def test_results_table_has_a_row_for_every_run_in_the_json() -> None:
    # results.md is written from results.json; a hand edit of one shows here.
    runs = json.loads((RESULTS / "results.json").read_text())["runs"]
    rows = block((RESULTS / "results.md").read_text(), "results.md").splitlines()[2:]
    assert runs, "results.json holds no run"
    assert len(rows) == len(runs), (len(rows), len(runs))
    for run in runs:
        prefix = f"| {run.get('connector', 'all')} | {run['pyspark']} | {run['mode']} |"
        assert any(row.startswith(prefix) for row in rows), prefix


def load_matrix_runner() -> Any:
    spec = importlib.util.spec_from_file_location("matrix_run", RESULTS / "run.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_run_limited_to_one_connector_keeps_the_other_connectors_rows() -> None:
    matrix = load_matrix_runner()
    runs = {
        (connector, "4.1", mode): {"connector": connector}
        for connector in ("cassandra", "mongodb", "rabbitmq")
        for mode in ("classic", "connect")
    }
    only_rabbitmq = {"tests": [{"connector": "rabbitmq", "outcome": "passed"}]}
    assert matrix.replaced_rows(runs, "4.1", "classic", only_rabbitmq) == [
        ("rabbitmq", "4.1", "classic")
    ]
    not_started = {"error": "the line's venv could not be built"}
    assert sorted(matrix.replaced_rows(runs, "4.1", "connect", not_started)) == [
        (c, "4.1", "connect") for c in ("cassandra", "mongodb", "rabbitmq")
    ]


def test_paths_are_named_only_for_capabilities_the_connector_declares() -> None:
    matrix = load_matrix_runner()
    declared_nowhere = {"passed": 0, "failed": 0, "not_offered": 1}
    passed = {"passed": 1, "failed": 0, "not_offered": 0, "notes": []}
    paths = {"pushdown": "pushFilters", "stream_write": "DataSourceStreamArrowWriter"}
    results = {
        "runs": [
            {
                "connector": "queue",
                "pyspark": "4.1.4",
                "mode": "classic",
                "cells": {
                    "pushdown": {**declared_nowhere, "notes": [f"x; {matrix.NOT_DECLARED}"]},
                    "stream_write": passed,
                },
                "paths": paths,
            }
        ]
    }
    row = matrix.render(results).splitlines()[2]
    assert row.endswith("| stream_write: DataSourceStreamArrowWriter |"), row
