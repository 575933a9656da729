"""Spark Declarative Pipelines: the example pipeline streams into Cassandra exactly once.

`spark-pipelines run` runs ``integration/pipelines/cassandra_sink`` (a ``create_sink`` with
format ``cassandra`` fed by an ``append_flow``) in its own local Spark Connect server, where
the ``cassandra`` format is found by static registration of the installed wheel. Each run
takes what its streaming source has available and ends; the next run continues from the
checkpoint in the pipeline's storage.

Spark Declarative Pipelines arrived in Spark 4.1: on older lines the test is not offered.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cassandra_support import cql_session, unique
from conftest import TaskLog

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "integration" / "pipelines" / "cassandra_sink"
ROWS_PER_BATCH = 300
# The connector this test proves; the version matrix attributes the result to it.
CONNECTOR = "cassandra"
NOT_OFFERED = "not offered: Spark Declarative Pipelines need Spark 4.1+"

pytestmark = [
    pytest.mark.capability("pipelines"),
    pytest.mark.skipif(
        importlib.util.find_spec("pyspark.pipelines") is None,
        reason=f"{NOT_OFFERED} (this PySpark has no `pyspark.pipelines`)",
    ),
]


def pipeline_project(tmp_path: Path, env: dict[str, Any], keyspace: str) -> Path:
    """A copy of the example whose spec points at the harness, a fresh keyspace and storage."""
    import yaml

    project = tmp_path / "cassandra_sink"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__"))
    spec_path = project / "spark-pipeline.yml"
    spec = yaml.safe_load(spec_path.read_text())
    spec["storage"] = (tmp_path / "storage").as_uri()
    spec["configuration"].update(
        {
            "spark_ds.example.host": str(env["cassandra"]["host"]),
            "spark_ds.example.port": str(env["cassandra"]["port"]),
            "spark_ds.example.keyspace": keyspace,
            "spark_ds.example.table": "events",
            "spark_ds.example.rowsPerBatch": str(ROWS_PER_BATCH),
        }
    )
    spec_path.write_text(yaml.safe_dump(spec))
    return project


def run_pipeline(project: Path, env: dict[str, Any], log_file: Path) -> None:
    """``spark-pipelines run`` in ``project``, as a user runs it from the test's venv."""
    bin_dir = Path(sys.executable).parent
    run_env = {k: v for k, v in os.environ.items() if k not in ("SPARK_HOME", "SPARK_REMOTE")}
    run_env.update(
        {
            # The venv's Spark, and its Python (with the wheels) for the CLI, the static
            # data-source lookup and the Python workers.
            "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",
            "PYSPARK_PYTHON": sys.executable,
            "PYSPARK_DRIVER_PYTHON": sys.executable,
            # Credentials through the connector's environment chain, never in the pipeline.
            "SPARK_DS_CASSANDRA_USERNAME": str(env["cassandra"]["username"]),
            "SPARK_DS_CASSANDRA_PASSWORD": str(env["cassandra"]["password"]),
            # Every write task's summary line (rows written) goes to one file.
            "SPARK_DS_LOG_FILE": str(log_file),
            "SPARK_DS_LOG_LEVEL": "info",
        }
    )
    proc = subprocess.run(
        [str(bin_dir / "spark-pipelines"), "run"],
        cwd=project,
        env=run_env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"spark-pipelines run exited {proc.returncode}:\n{output[-6000:]}"
    assert "Run is COMPLETED" in output, output[-6000:]


def test_pipeline_appends_every_row_once_across_runs(services_env, tmp_path) -> None:
    if importlib.util.find_spec("yaml") is None:
        pytest.fail("spark-pipelines needs PyYAML: install `pyspark[pipelines]`", pytrace=False)
    env = services_env(["cassandra"])
    keyspace = unique("pipelines")
    project = pipeline_project(tmp_path, env, keyspace)
    log_file = tmp_path / "spark_ds.log"
    log_file.touch()
    cql = cql_session(env)
    try:
        for run, expected in enumerate((ROWS_PER_BATCH, 2 * ROWS_PER_BATCH), start=1):
            log = TaskLog(log_file)
            run_pipeline(project, env, log_file)
            rows = {
                row.id: row.name for row in cql.execute(f"SELECT id, name FROM {keyspace}.events")
            }
            # Each run takes the next batch of the stream: together, every id once, no gaps.
            assert sorted(rows) == list(range(expected)), f"run {run}"
            assert all(name == f"event {i}" for i, name in rows.items()), f"run {run}"
            # The table upserts by id, which would hide a row written twice: the connector's
            # own count of rows sent proves each was written exactly once in this run.
            writes = [s for s in log.summaries(CONNECTOR) if s.task.startswith("write")]
            assert writes, f"run {run}: no write summary in {log_file}"
            assert sum(s.rows for s in writes) == ROWS_PER_BATCH, [s.line for s in writes]
    finally:
        cql.execute(f"DROP KEYSPACE IF EXISTS {keyspace}")
        cql.cluster.shutdown()
