"""The MongoDB README is true: its option table is the code's, its quick start runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "connectors" / "mongodb" / "README.md"


def test_readme_option_table_matches_the_code() -> None:
    from pyspark_ds_mongodb import _native

    assert _native.options_table().strip() in README.read_text(), (
        "connectors/mongodb/README.md's option table is out of date: paste "
        "`python -c 'from pyspark_ds_mongodb import _native; print(_native.options_table())'`"
    )


@pytest.mark.services
def test_quick_start_runs_as_written_in_a_fresh_virtualenv(services_env, fresh_venv, mongo):
    services_env(["mongodb"])
    # The quick start appends with upserts by `_id`: start from an empty collection so the
    # run proves the write, not an earlier run's documents.
    mongo["quickstart"]["people"].drop()
    match = re.search(r"```python\n(.*?)```", README.read_text(), re.S)
    assert match, "no python example in the README"
    result = fresh_venv.run("-c", match.group(1))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    assert mongo["quickstart"]["people"].count_documents({}) == 2
