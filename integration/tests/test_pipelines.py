"""Spark Declarative Pipelines: the example pipeline streams MongoDB into Cassandra exactly
once.

`spark-pipelines run` runs ``integration/pipelines/mongodb_to_cassandra`` (a ``create_sink``
with format ``cassandra`` fed by an ``append_flow`` reading the ``mongodb`` polling stream)
in its own local Spark Connect server, where both formats are found by static registration
of the installed wheels. Each run takes what its streaming source has available and ends;
the next run continues from the checkpoint in the pipeline's storage.

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
from mongodb_support import mongo_client

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "integration" / "pipelines" / "mongodb_to_cassandra"
ROWS_PER_RUN = 300
# The connector this test proves as a pipeline sink; the version matrix attributes the
# result to it. The source is the `mongodb` stream.
CONNECTOR = "cassandra"
SOURCE = "mongodb"
NOT_OFFERED = "not offered: Spark Declarative Pipelines need Spark 4.1+"

pytestmark = [
    pytest.mark.capability("pipelines"),
    pytest.mark.skipif(
        importlib.util.find_spec("pyspark.pipelines") is None,
        reason=f"{NOT_OFFERED} (this PySpark has no `pyspark.pipelines`)",
    ),
]


def pipeline_project(tmp_path: Path, env: dict[str, Any], name: str) -> Path:
    """A copy of the example whose spec points at the harness, fresh names and storage."""
    import yaml

    project = tmp_path / "mongodb_to_cassandra"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__"))
    spec_path = project / "spark-pipeline.yml"
    spec = yaml.safe_load(spec_path.read_text())
    spec["storage"] = (tmp_path / "storage").as_uri()
    spec["configuration"].update(
        {
            "spark_ds.example.mongodb.host": str(env["mongodb"]["host"]),
            "spark_ds.example.mongodb.port": str(env["mongodb"]["port"]),
            "spark_ds.example.mongodb.database": name,
            "spark_ds.example.mongodb.collection": "events",
            "spark_ds.example.cassandra.host": str(env["cassandra"]["host"]),
            "spark_ds.example.cassandra.port": str(env["cassandra"]["port"]),
            "spark_ds.example.cassandra.keyspace": name,
            "spark_ds.example.cassandra.table": "events",
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
            # Credentials through the connectors' environment chains, never in the pipeline.
            "SPARK_DS_CASSANDRA_USERNAME": str(env["cassandra"]["username"]),
            "SPARK_DS_CASSANDRA_PASSWORD": str(env["cassandra"]["password"]),
            "SPARK_DS_MONGODB_USERNAME": str(env["mongodb"]["username"]),
            "SPARK_DS_MONGODB_PASSWORD": str(env["mongodb"]["password"]),
            # Every task's summary line (rows read or written) goes to one file.
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
    env = services_env(["cassandra", "mongodb"])
    name = unique("pipelines")
    project = pipeline_project(tmp_path, env, name)
    log_file = tmp_path / "spark_ds.log"
    log_file.touch()
    cql = cql_session(env)
    mongo = mongo_client(env)
    events = mongo[name]["events"]
    try:
        for run in (1, 2):
            first = (run - 1) * ROWS_PER_RUN
            # Inserted out of order: the stream reads in `seq` order whatever the insert order.
            seqs = list(range(first, first + ROWS_PER_RUN))[::-1]
            events.insert_many([{"seq": i, "name": f"event {i}"} for i in seqs])
            log = TaskLog(log_file)
            run_pipeline(project, env, log_file)
            rows = {
                row.seq: row.name for row in cql.execute(f"SELECT seq, name FROM {name}.events")
            }
            # Each run takes the documents inserted since the last: every seq once, no gaps.
            assert sorted(rows) == list(range(run * ROWS_PER_RUN)), f"run {run}"
            assert all(text == f"event {i}" for i, text in rows.items()), f"run {run}"
            # The table upserts by seq, which would hide a row written twice: the connectors'
            # own counts of rows read and sent prove each was taken exactly once in this run.
            for connector, task in ((SOURCE, "read"), (CONNECTOR, "write")):
                done = [s for s in log.summaries(connector) if s.task.startswith(task)]
                assert done, f"run {run}: no {connector} {task} summary in {log_file}"
                assert sum(s.rows for s in done) == ROWS_PER_RUN, [s.line for s in done]
    finally:
        cql.execute(f"DROP KEYSPACE IF EXISTS {name}")
        cql.cluster.shutdown()
        mongo.drop_database(name)
        mongo.close()
