"""How a format gets to Spark: late installs, name clashes, the lookup's Python, env credentials.

Each Spark session here runs in its own process, started from a virtualenv that holds only
PySpark (with its Connect extras) and pyarrow, as a user's would. The Cassandra wheel is
installed into it, or left out, as each test needs.
"""

from __future__ import annotations

import json
import os
import subprocess
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cassandra_support import connector_options, cql_session, create_keyspace, unique
from conftest import PYARROW_PIN, PYSPARK_PIN

pytestmark = pytest.mark.services

ROWS = 300

# Starts a classic local[2] session that also serves Spark Connect, as
# `SparkSession.builder.remote("local[2]")` does, but on a free port instead of the fixed
# 15002, then connects a Connect client to it.
SESSIONS = r"""
import os, socket, uuid
from pyspark.sql import SparkSession


def classic_and_connect(conf):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.environ.setdefault("SPARK_CONNECT_AUTHENTICATE_TOKEN", str(uuid.uuid4()))
    builder = (SparkSession.builder.master("local[2]")
               .config("spark.ui.enabled", "false")
               .config("spark.plugins", "org.apache.spark.sql.connect.SparkConnectPlugin")
               .config("spark.connect.grpc.binding.port", str(port)))
    for key, value in conf.items():
        builder = builder.config(key, value)
    classic = builder.getOrCreate()
    from pyspark.sql.connect.session import SparkSession as ConnectSession
    connect = ConnectSession.builder.remote(f"sc://localhost:{port}").getOrCreate()
    return classic, connect


def outcome(action):
    try:
        return {"ok": action()}
    except Exception as e:
        return {"error": type(e).__name__, "message": str(e)[:3000]}
"""

# Both sessions start before spark-ds is installed; the wheel is installed while they run,
# then `register(spark)` makes the format usable in each.
LATE_INSTALL = (
    SESSIONS
    + r"""
import importlib, json, subprocess, sys

args = json.loads(sys.argv[1])
classic, connect = classic_and_connect({})
sessions = {"classic": classic, "connect": connect}
result = {}
probe = lambda spark: outcome(lambda: spark.read.format("cassandra").load().schema.simpleString())
for mode, spark in sessions.items():
    result[f"{mode}_before_install"] = probe(spark)
subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", args["wheel"]],
               check=True)
importlib.invalidate_caches()
import pyspark_ds_cassandra

for mode, spark in sessions.items():
    # Installed, but this session's lookup ran before: still unknown until register().
    result[f"{mode}_before_register"] = probe(spark)
    pyspark_ds_cassandra.register(spark)
    options = args["options"][mode]
    rows = spark.range(args["rows"]).selectExpr("CAST(id AS INT) AS id", "concat('n', id) AS name")
    rows.write.format("cassandra").options(**options).mode("append").save()
    back = spark.read.format("cassandra").options(**options).load()
    result[mode] = {"count": back.count(), "sum": back.selectExpr("sum(id)").first()[0]}
print("RESULT " + json.dumps(result))
"""
)

# The wheel is installed before the session starts; a JVM data source with the short name
# `cassandra` is on the classpath too.
CLASH = r"""
import json, sys
from pyspark.sql import SparkSession

args = json.loads(sys.argv[1])
spark = (SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false")
         .config("spark.jars", args["jar"]).getOrCreate())


def outcome(action):
    try:
        return {"ok": action()}
    except Exception as e:
        return {"error": type(e).__name__, "message": str(e)[:3000]}


import pyspark_ds_cassandra

result = {
    "short_name": outcome(lambda: spark.read.format("cassandra").load().schema.simpleString()),
    "register": outcome(lambda: pyspark_ds_cassandra.register(spark)),
    "class_name": outcome(
        lambda: spark.read.format(args["jvm_class"]).load().schema.simpleString()),
}
print("RESULT " + json.dumps(result))
"""

# A new session that only asks Spark to resolve the format: no import, no register().
LOOKUP = r"""
import json
from pyspark.sql import SparkSession

spark = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false").getOrCreate()
try:
    spark.read.format("cassandra").load().schema
    result = {"ok": "loaded"}
except Exception as e:
    result = {"error": type(e).__name__, "message": str(e)[:3000]}
print("RESULT " + json.dumps(result))
"""

# ~20 lines of JVM data source whose short name is `cassandra`: what a JVM connector jar on
# the cluster's classpath (spark.jars, a cluster library) brings.
CLASHING_SOURCE = """
package sparkds.test;

import org.apache.spark.sql.SQLContext;
import org.apache.spark.sql.sources.BaseRelation;
import org.apache.spark.sql.sources.DataSourceRegister;
import org.apache.spark.sql.sources.RelationProvider;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

public class ClashingSource implements DataSourceRegister, RelationProvider {
  @Override
  public String shortName() {
    return "cassandra";
  }

  @Override
  public BaseRelation createRelation(
      SQLContext ctx, scala.collection.immutable.Map<String, String> parameters) {
    return new BaseRelation() {
      @Override
      public SQLContext sqlContext() {
        return ctx;
      }

      @Override
      public StructType schema() {
        return new StructType().add("from_jvm", DataTypes.StringType);
      }
    };
  }
}
"""
CLASHING_CLASS = "sparkds.test.ClashingSource"


class UserVenv:
    """A virtualenv with PySpark and pyarrow, run without activating it (PATH lacks it)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.python = root / "bin" / "python"
        self.env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": os.environ.get("HOME", "/root"),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PYTHONNOUSERSITE": "1",
        }
        if os.environ.get("JAVA_HOME"):
            self.env["JAVA_HOME"] = os.environ["JAVA_HOME"]

    def pip(self, *args: str) -> None:
        subprocess.run([str(self.python), "-m", "pip", *args, "--quiet"], env=self.env, check=True)

    def has_cassandra(self) -> bool:
        found = subprocess.run(
            [str(self.python), "-c", "import pyspark_ds_cassandra"],
            env=self.env,
            capture_output=True,
            check=False,
        )
        return found.returncode == 0

    def run(self, script: str, *args: str, **env: str) -> dict[str, Any]:
        """Runs ``script`` with this venv's Python and ``env`` added; returns its RESULT."""
        result = subprocess.run(
            [str(self.python), "-c", script, *args],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
        assert lines, result.stdout[-3000:] + result.stderr[-6000:]
        outcome: dict[str, Any] = json.loads(lines[-1].removeprefix("RESULT "))
        return outcome


@pytest.fixture(scope="module")
def user_venv(tmp_path_factory: pytest.TempPathFactory) -> UserVenv:
    root = tmp_path_factory.mktemp("user") / "venv"
    venv.EnvBuilder(with_pip=True).create(root)
    env = UserVenv(root)
    # Connect's client needs its extras; pandas pinned as the matrix pins it.
    connect_pin = PYSPARK_PIN.replace("pyspark==", "pyspark[connect]==")
    env.pip("install", connect_pin, PYARROW_PIN, "pandas==2.3.3")
    return env


@pytest.fixture
def without_wheel(user_venv: UserVenv) -> Iterator[UserVenv]:
    if user_venv.has_cassandra():
        user_venv.pip("uninstall", "--yes", "spark-ds-cassandra")
    yield user_venv


@pytest.fixture
def with_wheel(user_venv: UserVenv, wheels: dict[str, Path]) -> UserVenv:
    user_venv.pip("install", "--no-deps", "--force-reinstall", str(wheels["cassandra"]))
    return user_venv


@pytest.fixture(scope="module")
def clashing_jar(tmp_path_factory: pytest.TempPathFactory, user_venv: UserVenv) -> Path:
    """A jar registering the JVM data source `ClashingSource` under the short name `cassandra`."""
    work = tmp_path_factory.mktemp("clashing-jar")
    source = work / "src" / "sparkds" / "test" / "ClashingSource.java"
    source.parent.mkdir(parents=True)
    source.write_text(CLASHING_SOURCE)
    spark_jars = subprocess.run(
        [
            str(user_venv.python),
            "-c",
            "import pyspark, os; print(os.path.dirname(pyspark.__file__))",
        ],
        env=user_venv.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    classes = work / "classes"
    subprocess.run(
        ["javac", "-cp", f"{spark_jars}/jars/*", "-d", str(classes), str(source)], check=True
    )
    jar = work / "clashing-source.jar"
    with zipfile.ZipFile(jar, "w") as out:
        out.writestr(
            "META-INF/services/org.apache.spark.sql.sources.DataSourceRegister",
            CLASHING_CLASS + "\n",
        )
        for compiled in sorted(classes.rglob("*.class")):
            out.write(compiled, str(compiled.relative_to(classes)))
    return jar


@pytest.fixture(scope="module")
def cassandra_env(services_env) -> dict[str, Any]:
    services_env(["cassandra"])
    return services_env.data


def people_table(env: dict[str, Any], prefix: str) -> tuple[str, str]:
    """A new `<keyspace>.people (id int PRIMARY KEY, name text)`: (keyspace, table)."""
    cql = cql_session(env)
    keyspace = unique(prefix)
    create_keyspace(cql, keyspace)
    cql.execute(f"CREATE TABLE {keyspace}.people (id int PRIMARY KEY, name text)")
    cql.cluster.shutdown()
    return keyspace, "people"


def assert_not_found(outcome: dict[str, Any]) -> None:
    assert "error" in outcome, outcome
    message = outcome["message"]
    assert "[DATA_SOURCE_NOT_FOUND]" in message, message[:1500]
    assert "Failed to find the data source: cassandra" in message, message[:1500]


def assert_ours(outcome: dict[str, Any]) -> None:
    """The format reached this connector: its own option check answered."""
    assert "error" in outcome, outcome
    assert "[cassandra] options: option `keyspace` is required" in outcome["message"], outcome


def test_register_after_a_late_install_classic_and_connect(
    without_wheel: UserVenv, wheels: dict[str, Path], cassandra_env: dict[str, Any]
) -> None:
    options = {}
    for mode in ("classic", "connect"):
        keyspace, table = people_table(cassandra_env, f"late_{mode}")
        options[mode] = connector_options(cassandra_env, keyspace=keyspace, table=table)
    args = {"wheel": str(wheels["cassandra"]), "options": options, "rows": ROWS}
    result = without_wheel.run(
        LATE_INSTALL, json.dumps(args), PYSPARK_PYTHON=str(without_wheel.python)
    )
    for mode in ("classic", "connect"):
        assert_not_found(result[f"{mode}_before_install"])
        assert_not_found(result[f"{mode}_before_register"])
        assert result[mode] == {"count": ROWS, "sum": sum(range(ROWS))}, (mode, result[mode])


def test_a_jvm_source_with_the_same_short_name_is_reported_by_register(
    with_wheel: UserVenv, clashing_jar: Path
) -> None:
    args = {"jar": str(clashing_jar), "jvm_class": CLASHING_CLASS}
    result = with_wheel.run(CLASH, json.dumps(args), PYSPARK_PYTHON=str(with_wheel.python))
    # What Spark itself does (4.0.5 and 4.3.0 alike): the JVM source wins the short name,
    # with no error or warning, although the wheel registered `cassandra` statically.
    assert result["short_name"] == {"ok": "struct<from_jvm:string>"}, result["short_name"]
    # So register() checks which source the name reaches, and says so.
    clash = result["register"]
    assert clash.get("error") == "ConfigError", clash
    message = clash["message"]
    assert message.startswith(
        "[cassandra] register: format `cassandra` resolves to the JVM data"
    ), message
    assert f"`{CLASHING_CLASS}`" in message, message
    assert "Remove that jar" in message and "by its class name" in message, message
    # The advice works: the JVM source stays reachable by its class name.
    assert result["class_name"] == {"ok": "struct<from_jvm:string>"}, result["class_name"]


def test_static_lookup_runs_the_python_spark_is_told_or_python3_on_path(
    with_wheel: UserVenv,
) -> None:
    # The driver runs the venv's Python by its path, the venv not activated: `python3` on
    # PATH is another interpreter, without spark-ds.
    system_python = subprocess.run(
        ["python3", "-c", "import pyspark_ds_cassandra"],
        env=with_wheel.env,
        capture_output=True,
        check=False,
    )
    assert system_python.returncode != 0, "python3 on PATH must not have spark-ds installed"
    venv_python = str(with_wheel.python)

    assert_not_found(with_wheel.run(LOOKUP))
    assert_ours(with_wheel.run(LOOKUP, PYSPARK_DRIVER_PYTHON=venv_python))
    # PYSPARK_PYTHON alone: the credentials test below resolves the format that way (one
    # Spark start fewer here).


# Driver and executors each hold the credentials in their environment, no option names them.
ENV_CREDENTIALS = r"""
import json, os, sys
from pyspark.sql import SparkSession

args = json.loads(sys.argv[1])
builder = SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
for key, value in args["conf"].items():
    builder = builder.config(key, value)
spark = builder.getOrCreate()


def seen(_):
    import os
    return [os.environ.get("SPARK_DS_CASSANDRA_USERNAME") is not None,
            os.environ.get("SPARK_DS_TEST_EXECUTOR_ONLY")]


executors = spark.sparkContext.parallelize(range(2), 2).map(seen).collect()
options = args["options"]
rows = spark.range(args["rows"]).selectExpr("CAST(id AS INT) AS id", "concat('n', id) AS name")
rows.write.format("cassandra").options(**options).mode("append").save()
back = spark.read.format("cassandra").options(**options).load()
print("RESULT " + json.dumps({"executors": executors, "count": back.count(),
                              "sum": back.selectExpr("sum(id)").first()[0]}))
spark.stop()
"""


def test_credentials_from_environment_variables_on_driver_and_executors(
    with_wheel: UserVenv, cassandra_env: dict[str, Any]
) -> None:
    """As with Databricks cluster environment variables, set for the driver and the workers.

    The driver's environment and `spark.executorEnv.*` hold the credentials; no option
    names them, and the harness's Cassandra refuses a session without them. The session
    also proves the static lookup with only `PYSPARK_PYTHON` naming the unactivated venv's
    Python: nothing imports or registers the package.
    """
    keyspace, table = people_table(cassandra_env, "envcreds")
    options = connector_options(cassandra_env, keyspace=keyspace, table=table)
    username, password = options.pop("username"), options.pop("password")
    credentials = {"SPARK_DS_CASSANDRA_USERNAME": username, "SPARK_DS_CASSANDRA_PASSWORD": password}
    conf = {f"spark.executorEnv.{k}": v for k, v in credentials.items()}
    # A variable only `spark.executorEnv` sets: the executors' Python sees that channel.
    conf["spark.executorEnv.SPARK_DS_TEST_EXECUTOR_ONLY"] = "1"
    args = {"conf": conf, "options": options, "rows": ROWS}
    outcome = with_wheel.run(
        ENV_CREDENTIALS, json.dumps(args), PYSPARK_PYTHON=str(with_wheel.python), **credentials
    )
    assert outcome["executors"] == [[True, "1"], [True, "1"]], outcome["executors"]
    assert outcome["count"] == ROWS and outcome["sum"] == sum(range(ROWS)), outcome
