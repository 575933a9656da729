"""Shared fixtures: the services harness, a local SparkSession, built wheels."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from services_fixtures import *  # noqa: E402, F403

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "dist"

# Spark's Python workers and its static data-source lookup must use this interpreter,
# the one that has the wheels installed.
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    """One local[2] SparkSession for the whole run (starting one costs ~5 s)."""
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("spark-ds-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "65536")
        .config("spark.python.worker.reuse", "true")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("WARN")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def wheels() -> dict[str, Path]:
    """The built wheel of each connector, by connector name."""
    found = {}
    for wheel in sorted(DIST.glob("spark_ds_*.whl")):
        name = wheel.name.split("-")[0].removeprefix("spark_ds_")
        found[name] = wheel
    missing = {"cassandra", "mongodb", "rabbitmq", "mqtt", "rest"} - set(found)
    if missing:
        pytest.fail(f"wheels not built for {sorted(missing)}: run `make wheels`")
    return found
