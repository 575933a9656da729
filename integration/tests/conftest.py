"""Shared fixtures: the services harness, a local SparkSession, built wheels."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import venv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
def spark_ds_log_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The file every process's ``spark_ds`` logger appends to (``SPARK_DS_LOG_FILE``).

    Set before the SparkSession starts: the JVM, and so every Python worker it forks,
    inherits the environment. Tests read task summaries from it through ``task_log``.
    """
    given = os.environ.get("SPARK_DS_LOG_FILE")
    path = Path(given) if given else tmp_path_factory.mktemp("logs") / "spark_ds.log"
    os.environ["SPARK_DS_LOG_FILE"] = str(path)
    path.touch()
    return path


# `<system> <task>: <rows> rows, <bytes>, <n> <requests>, <n> retries[, <n> errors] in …`
# as written by core/src/metrics.rs `summary_line`, logged to `spark_ds.<system>`. The system
# word is matched loosely: redaction may have masked it (as when the password is "cassandra").
SUMMARY = re.compile(
    r" (?P<logger>spark_ds\.\w+): (?P<system>\S+) (?P<task>(?:read|write|lookup)\b.*?): "
    r"(?P<rows>\d+) rows, [^,]+, (?P<requests>\d+) \w+, (?P<retries>\d+) retries"
    r"(?:, (?P<errors>\d+) errors)? in "
)


# `<system> read: <n> partitions planned`, logged by the shared reader's planner at INFO.
PLANNED = re.compile(r" spark_ds\.(?P<system>\w+): \S+ read: (?P<count>\d+) partitions planned")


@dataclass(frozen=True)
class TaskSummary:
    """One task's summary line, parsed."""

    system: str
    task: str
    rows: int
    requests: int
    retries: int
    errors: int
    line: str


class TaskLog:
    """The ``spark_ds`` log lines written since this object was made (or since ``mark()``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.mark()

    def mark(self) -> None:
        self.offset = self.path.stat().st_size

    def lines(self) -> list[str]:
        with self.path.open("rb") as f:
            f.seek(self.offset)
            return f.read().decode("utf-8", errors="replace").splitlines()

    def planned_partitions(self, system: str) -> list[int]:
        """The partition count of each read planned (with ``logLevel=info``) by ``system``."""
        return [
            int(match["count"])
            for match in map(PLANNED.search, self.lines())
            if match and match["system"] == system
        ]

    def summaries(self, system: str | None = None) -> list[TaskSummary]:
        """The task summary lines, of one connector's logger (``spark_ds.<system>``) if given."""
        found = []
        for line in self.lines():
            match = SUMMARY.search(line)
            if match and (system is None or match["logger"] == f"spark_ds.{system}"):
                found.append(
                    TaskSummary(
                        system=match["logger"].removeprefix("spark_ds."),
                        task=match["task"],
                        rows=int(match["rows"]),
                        requests=int(match["requests"]),
                        retries=int(match["retries"]),
                        errors=int(match["errors"] or 0),
                        line=line,
                    )
                )
        return found


@pytest.fixture
def task_log(spark: object, spark_ds_log_file: Path) -> TaskLog:
    """What the connector logged (task summaries included) during this test."""
    return TaskLog(spark_ds_log_file)


# How the session-wide `spark` fixture reaches Spark (`make matrix` sets it per run):
# `classic` (local[2] in this process), `connect` (Spark Connect to a local[2] server, the
# mode Databricks shared and serverless compute use) or `cluster` (the standalone master in
# SPARK_DS_SPARK_MASTER, Python workers running SPARK_DS_SPARK_WORKER_PYTHON).
SPARK_MODES = ("classic", "connect", "cluster")


def spark_mode() -> str:
    mode = os.environ.get("SPARK_DS_SPARK_MODE", "classic")
    if mode not in SPARK_MODES:
        raise pytest.UsageError(f"SPARK_DS_SPARK_MODE={mode!r}: expected one of {SPARK_MODES}")
    return mode


@pytest.fixture(scope="session")
def spark(spark_ds_log_file: Path) -> Iterator[object]:
    """One SparkSession for the whole run (starting one costs ~5 s), in SPARK_DS_SPARK_MODE."""
    from pyspark.sql import SparkSession

    mode = spark_mode()
    if mode == "connect":
        yield from connect_session()
        return
    if mode == "cluster":
        builder = (
            SparkSession.builder.master(os.environ["SPARK_DS_SPARK_MASTER"])
            .config("spark.pyspark.python", os.environ["SPARK_DS_SPARK_WORKER_PYTHON"])
            .config("spark.executor.memory", "512m")
            # Executors are started by the workers, not by this process: pass the log on.
            .config("spark.executorEnv.SPARK_DS_LOG_FILE", str(spark_ds_log_file))
        )
    else:
        builder = SparkSession.builder.master("local[2]")
    session = session_config(builder, mode).getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    yield session
    session.stop()


def session_config(builder: Any, mode: str) -> Any:
    return (
        builder.appName(f"spark-ds-tests-{mode}")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "65536")
        .config("spark.python.worker.reuse", "true")
    )


def connect_session() -> Iterator[object]:
    """A Spark Connect client of a local[2] Connect server started in this process.

    What ``remote("local[2]")`` does, but on a free port instead of 15002, so test runs can
    share a machine. The server's JVM is this process's: it inherits PYSPARK_PYTHON and
    SPARK_DS_LOG_FILE like the classic session does.
    """
    from pyspark.sql import SparkSession
    from pyspark.sql.connect.session import SparkSession as RemoteSession

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = (
        session_config(SparkSession.builder.master("local[2]"), "connect-server")
        .config("spark.plugins", "org.apache.spark.sql.connect.SparkConnectPlugin")
        .config("spark.connect.grpc.binding.address", "127.0.0.1")
        .config("spark.connect.grpc.binding.port", str(port))
        .getOrCreate()
    )
    server.sparkContext.setLogLevel("WARN")
    # DataFrame code picks the Connect implementation by this variable (is_remote()).
    os.environ["SPARK_CONNECT_MODE_ENABLED"] = "1"
    session = RemoteSession.builder.remote(f"sc://127.0.0.1:{port}").getOrCreate()
    try:
        yield session
    finally:
        session.stop()
        del os.environ["SPARK_CONNECT_MODE_ENABLED"]
        server.stop()


@pytest.fixture(scope="module")
def env(services_env: Any) -> dict[str, Any]:
    """The harness's env.json with Cassandra up (a module needing more overrides this)."""
    services_env(["cassandra"])
    return services_env.data


@pytest.fixture(scope="module")
def cql(env: dict[str, Any]) -> Iterator[Any]:
    """A Python-driver session on the harness's Cassandra, for setting up and checking."""
    from cassandra_support import cql_session

    session = cql_session(env)
    yield session
    session.cluster.shutdown()


@pytest.fixture(scope="module")
def mongo_env(services_env: Any) -> dict[str, Any]:
    """The harness's env.json with the MongoDB-wire server (FerretDB) up."""
    services_env(["mongodb"])
    return services_env.data


@pytest.fixture(scope="module")
def mongo(mongo_env: dict[str, Any]) -> Iterator[Any]:
    """A pymongo client on the harness's MongoDB-wire server, for setting up and checking."""
    from mongodb_support import mongo_client

    client = mongo_client(mongo_env)
    yield client
    client.close()


@pytest.fixture(scope="module")
def rabbit_env(services_env: Any) -> dict[str, Any]:
    """The harness's env.json with RabbitMQ up."""
    services_env(["rabbitmq"])
    return services_env.data


@pytest.fixture(scope="module")
def amqp(rabbit_env: dict[str, Any]) -> Iterator[Any]:
    """A pika channel on the harness's RabbitMQ, for setting up and checking."""
    from rabbitmq_support import pika_connection

    connection = pika_connection(rabbit_env)
    yield connection.channel()
    connection.close()


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
