"""The README's support matrix is the last matrix run's table, not a hand-written claim."""

from __future__ import annotations

import json
from pathlib import Path

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
