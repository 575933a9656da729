"""The RabbitMQ README is true: its option table is the code's, its quick start runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "connectors" / "rabbitmq" / "README.md"


def test_readme_option_table_matches_the_code() -> None:
    from pyspark_ds_rabbitmq import _native

    assert _native.options_table().strip() in README.read_text(), (
        "connectors/rabbitmq/README.md's option table is out of date: paste "
        "`python -c 'from pyspark_ds_rabbitmq import _native; print(_native.options_table())'`"
    )


@pytest.mark.services
def test_quick_start_runs_as_written_in_a_fresh_virtualenv(fresh_venv, amqp):
    # The quick start declares its stream queue when missing: start without one, so the
    # run proves the declaration, the write and the read.
    amqp.queue_delete("quickstart-events")
    match = re.search(r"```python\n(.*?)```", README.read_text(), re.S)
    assert match, "no python example in the README"
    result = fresh_venv.run("-c", match.group(1))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    declared = amqp.queue_declare("quickstart-events", passive=True)
    assert declared.method.queue == "quickstart-events"
