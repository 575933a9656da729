"""Shared fixtures: the services harness, a local SparkSession, built wheels."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from services_fixtures import *  # noqa: F403

# `pytester` runs small pytest sessions in-process (the CI skip rule is tested with it).
pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
PYSPARK_PIN = "pyspark==4.3.0"
PYARROW_PIN = "pyarrow==26.0.1"
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


@dataclass(frozen=True)
class FreshVenv:
    """A new virtualenv with only PySpark, pyarrow and the built wheels: what a user has."""

    python: Path
    env: dict[str, str]

    def run(self, *args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.python), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@pytest.fixture(scope="session")
def fresh_venv(wheels: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> FreshVenv:
    env_dir = tmp_path_factory.mktemp("fresh") / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    # No Rust toolchain and no project checkout on the path: the wheels must be enough.
    env = {
        "PATH": f"{env_dir / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/root"),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PYSPARK_PYTHON": str(python),
    }
    if os.environ.get("JAVA_HOME"):
        env["JAVA_HOME"] = os.environ["JAVA_HOME"]
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", PYSPARK_PIN, PYARROW_PIN]
        + [str(w) for w in wheels.values()],
        check=True,
        env=env,
    )
    return FreshVenv(python=python, env=env)
