"""The main job: a small pipeline through every connector on the harness's services.

Writes a mixed-type DataFrame into Cassandra, reads it back through token-range partitions,
checks that nothing was lost or changed, aggregates it, and shows that every other format
resolves. Run by `make demo` after `integration/services.sh up`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENV_FILE = Path(os.environ.get("SPARK_DS_SERVICES_ENV", ROOT / ".services" / "env.json"))
ROWS = int(os.environ.get("SPARK_DS_DEMO_ROWS", "200000"))


def cassandra_options(env: dict, table: str) -> dict[str, str]:
    cassandra = env["cassandra"]
    return {
        "host": str(cassandra["host"]),
        "port": str(cassandra["port"]),
        "username": str(cassandra["username"]),
        "password": str(cassandra["password"]),
        "keyspace": "spark_ds_demo",
        "table": table,
    }


def main() -> int:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    env = json.loads(ENV_FILE.read_text())
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("spark-ds demo")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "65536")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("WARN")
    events = spark.range(ROWS).selectExpr(
        "CAST(id AS BIGINT) AS id",
        "CAST(id % 97 AS INT) AS bucket",
        "concat('user-', CAST(id % 1000 AS STRING)) AS name",
        "CAST(id AS DOUBLE) / 7 AS score",
        "timestamp_seconds(1700000000 + id) AS seen_at",
        "array(CAST(id % 3 AS STRING), CAST(id % 5 AS STRING)) AS tags",
    )
    options = cassandra_options(env, "events")

    started = time.perf_counter()
    events.write.format("cassandra").options(
        **options,
        createTable="true",
        partitionKey="id",
        keyspaceReplication="{'class': 'SimpleStrategy', 'replication_factor': 1}",
        confirmTruncate="true",
    ).mode("overwrite").save()
    wrote = time.perf_counter() - started

    started = time.perf_counter()
    back = spark.read.format("cassandra").options(**options).load()
    count = back.count()
    read = time.perf_counter() - started
    differences = events.exceptAll(back.select(*events.columns)).count()
    print(
        f"cassandra: wrote {ROWS} rows in {wrote:.1f} s, read {count} rows in {read:.1f} s "
        f"over {back.rdd.getNumPartitions()} token-range partitions, {differences} differences"
    )
    back.groupBy("bucket").count().orderBy("count", ascending=False).show(3)

    for name in ["mongodb", "rabbitmq", "mqtt", "rest"]:
        try:
            spark.read.format(name).load()
        except Exception as error:  # the preview formats answer with their own message
            lines = str(error).splitlines()
            ours = [line for line in lines if "format is registered" in line]
            print(f"{name}: {(ours or lines)[0].strip()[:160]}")
    spark.stop()
    ok = count == ROWS and differences == 0
    print("demo " + ("passed" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
