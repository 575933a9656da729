"""The round trip where the driver's Python has no spark-ds: a standalone cluster, Spark Connect.

Each driver runs in its own process with every `pyspark_ds_*` import blocked, so the only
copy of the connector that can run is the one installed in the Python that Spark's workers
use.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
from cassandra_support import connector_options, cql_session, create_keyspace, unique

pytestmark = pytest.mark.services

DRIVER = r"""
import json, sys
for blocked in ["pyspark_ds_cassandra", "pyspark_ds_mongodb", "pyspark_ds_rabbitmq",
                "pyspark_ds_mqtt", "pyspark_ds_rest"]:
    sys.modules[blocked] = None  # importing it in the driver now fails
from pyspark.sql import SparkSession
args = json.loads(sys.argv[1])
builder = SparkSession.builder
if args.get("remote"):
    builder = builder.remote(args["remote"])
else:
    builder = builder.master(args["master"])
for key, value in args.get("conf", {}).items():
    builder = builder.config(key, value)
spark = builder.getOrCreate()
options = args["options"]
df = spark.range(5000).selectExpr("CAST(id AS INT) AS id", "concat('n', id) AS name")
df.write.format("cassandra").options(**options).mode("append").save()
back = spark.read.format("cassandra").options(**options).load()
print("RESULT " + json.dumps({"count": back.count(),
      "sum": back.selectExpr("sum(id)").first()[0],
      "partitions": back.rdd.getNumPartitions() if not args.get("remote") else None}))
spark.stop()
"""


def table_options(env: dict[str, Any], name: str) -> dict[str, str]:
    cql = cql_session(env)
    keyspace = unique(name)
    create_keyspace(cql, keyspace)
    cql.execute(f"CREATE TABLE {keyspace}.people (id int PRIMARY KEY, name text)")
    cql.cluster.shutdown()
    return connector_options(env, keyspace=keyspace, table="people", splitCount=8)


def run_driver(args: dict[str, Any], spark_python: str = sys.executable) -> dict[str, Any]:
    """Runs DRIVER; ``spark_python`` is the Python Spark starts for its driver-side work."""
    # The format lookup and planning run PYSPARK_DRIVER_PYTHON (else PYSPARK_PYTHON), not the
    # interpreter running DRIVER.
    env = {**os.environ, "PYSPARK_DRIVER_PYTHON": spark_python, "PYSPARK_PYTHON": spark_python}
    result = subprocess.run(
        [sys.executable, "-c", DRIVER, json.dumps(args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, result.stdout[-3000:] + result.stderr[-6000:]
    return json.loads(lines[-1].removeprefix("RESULT "))


@pytest.mark.cluster
def test_round_trip_on_a_standalone_cluster(services_env, env, wheels) -> None:
    services_env(["spark"])
    spark_env = services_env.data["spark"]
    worker_python = spark_env["worker_python"]
    subprocess.run(
        [
            worker_python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--force-reinstall",
            "--no-deps",
            str(wheels["cassandra"]),
        ],
        check=True,
    )
    outcome = run_driver(
        {
            "master": spark_env["master_url"],
            "conf": {
                "spark.pyspark.python": worker_python,
                "spark.executor.memory": "512m",
                "spark.ui.enabled": "false",
            },
            "options": table_options(env, "cluster"),
        },
        # As on a cluster with the library installed: Spark's driver-side Python is the
        # cluster's, the one the wheel went into; the test venv's copy plays no part.
        spark_python=worker_python,
    )
    assert outcome["count"] == 5000
    assert outcome["sum"] == sum(range(5000))
    assert outcome["partitions"] >= 2


def test_round_trip_through_spark_connect(env) -> None:
    outcome = run_driver(
        {
            "remote": "local[2]",
            "conf": {"spark.pyspark.python": sys.executable},
            "options": table_options(env, "connect"),
        }
    )
    assert outcome["count"] == 5000
    assert outcome["sum"] == sum(range(5000))
