"""The main job: a small pipeline through every connector on the harness's services.

Writes a mixed-type DataFrame into Cassandra, reads it back through token-range partitions,
copies it into MongoDB and reads that back, publishes it to a RabbitMQ stream queue as JSON
messages and reads the new offsets back, checks at each step that nothing was lost or
changed, and shows that every other format resolves. Run by `make demo` after
`integration/services.sh up`.
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
# FerretDB on SQLite (the harness's MongoDB) writes far slower than Cassandra: a share of it.
MONGO_ROWS = int(os.environ.get("SPARK_DS_DEMO_MONGO_ROWS", str(min(ROWS, 50000))))
RABBIT_ROWS = int(os.environ.get("SPARK_DS_DEMO_RABBITMQ_ROWS", str(min(ROWS, 50000))))


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


def mongodb_options(env: dict, collection: str) -> dict[str, str]:
    mongodb = env["mongodb"]
    return {
        "host": str(mongodb["host"]),
        "port": str(mongodb["port"]),
        "username": str(mongodb["username"]),
        "password": str(mongodb["password"]),
        "database": "spark_ds_demo",
        "collection": collection,
    }


def rabbitmq_options(env: dict, queue: str) -> dict[str, str]:
    rabbitmq = env["rabbitmq"]
    return {
        "host": str(rabbitmq["host"]),
        "port": str(rabbitmq["port"]),
        "username": str(rabbitmq["username"]),
        "password": str(rabbitmq["password"]),
        "queue": queue,
        "declareQueue": "stream",
    }


def rate(rows: int, seconds: float) -> str:
    return f"{rows:>9,} rows {seconds:6.1f} s {rows / max(seconds, 1e-9):>10,.0f} rows/s"


def main() -> int:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    env = json.loads(ENV_FILE.read_text())
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("spark-ds demo")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "65536")
        .config("spark.sql.session.timeZone", "UTC")
        # The report below is the demo's output; progress bars would interleave with it.
        .config("spark.ui.showConsoleProgress", "false")
        # Filters on the key go to Cassandra (without it the connector warns once).
        .config("spark.sql.python.filterPushdown.enabled", "true")
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
    where = f"{options['keyspace']}.{options['table']} on {options['host']}:{options['port']}"
    print(f"spark-ds demo: {ROWS:,} rows through Cassandra ({where})", flush=True)

    started = time.perf_counter()
    events.write.format("cassandra").options(
        **options,
        createTable="true",
        partitionKey="id",
        keyspaceReplication="{'class': 'SimpleStrategy', 'replication_factor': 1}",
        confirmTruncate="true",
    ).mode("overwrite").save()
    wrote = time.perf_counter() - started

    back = spark.read.format("cassandra").options(**options).load()
    started = time.perf_counter()
    # Every column of every row, read and dropped: the read's own cost.
    back.write.format("noop").mode("overwrite").save()
    read = time.perf_counter() - started
    count = back.count()
    partitions = back.rdd.getNumPartitions()
    differences = events.exceptAll(back.select(*events.columns)).count()

    # Cassandra → MongoDB: the key becomes `_id`; after deleteAll, plain inserts (bulk
    # upserts are slow on the harness's FerretDB).
    mongo = mongodb_options(env, "events")
    subset = back.where(f"id < {MONGO_ROWS}").withColumnRenamed("id", "_id")
    started = time.perf_counter()
    subset.write.format("mongodb").options(
        **mongo, overwriteStrategy="deleteAll", operationType="insert"
    ).mode("overwrite").save()
    mongo_wrote = time.perf_counter() - started
    mongo_back = spark.read.format("mongodb").options(**mongo).load()
    started = time.perf_counter()
    mongo_back.write.format("noop").mode("overwrite").save()
    mongo_read = time.perf_counter() - started
    mongo_count = mongo_back.count()
    expected = events.where(f"id < {MONGO_ROWS}").withColumnRenamed("id", "_id")
    mongo_differences = expected.exceptAll(mongo_back.select(*expected.columns)).count()

    # Cassandra → a RabbitMQ stream queue, one JSON message per row. The stream keeps
    # earlier runs' messages: this run reads back from the offset after the stream's end.
    rabbit = rabbitmq_options(env, "spark_ds_demo_events")
    tail = spark.read.format("rabbitmq").options(**rabbit, startingOffsets="last").load()
    last = tail.agg({"offset": "max"}).first()[0]
    started = time.perf_counter()
    back.where(f"id < {RABBIT_ROWS}").write.format("rabbitmq").options(**rabbit).mode(
        "append"
    ).save()
    rabbit_wrote = time.perf_counter() - started
    start = "first" if last is None else str(last + 1)
    rabbit_back = (
        spark.read.format("rabbitmq")
        .options(**rabbit, startingOffsets=start, bodyFormat="json", mode="FAILFAST")
        .schema(events.schema)
        .load()
    )
    started = time.perf_counter()
    rabbit_back.write.format("noop").mode("overwrite").save()
    rabbit_read = time.perf_counter() - started
    rabbit_count = rabbit_back.count()
    expected_rabbit = events.where(f"id < {RABBIT_ROWS}")
    rabbit_differences = expected_rabbit.exceptAll(rabbit_back).count()

    previews = []
    for name in ["mqtt", "rest"]:
        try:
            spark.read.format(name).load()
            previews.append(f"{name} (loaded?)")
        except Exception as error:  # the preview formats answer with their own message
            registered = "format is registered" in str(error)
            previews.append(name if registered else f"{name} (NOT REGISTERED: is it installed?)")
    spark.stop()

    print(f"  wrote  {rate(ROWS, wrote)}  (overwrite, table created if missing)")
    print(f"  read   {rate(count, read)}  ({partitions} token-range partitions)")
    print(f"  check  {differences} differences between the rows written and the rows read")
    print(f"  mongodb ({mongo['database']}.{mongo['collection']}):")
    print(f"  wrote  {rate(MONGO_ROWS, mongo_wrote)}  (overwrite: deleteAll, then insert)")
    print(f"  read   {rate(mongo_count, mongo_read)}")
    print(f"  check  {mongo_differences} differences between Cassandra's rows and MongoDB's")
    print(f"  rabbitmq (stream queue {rabbit['queue']}, from offset {start}):")
    print(f"  wrote  {rate(RABBIT_ROWS, rabbit_wrote)}  (published with confirms, JSON bodies)")
    print(f"  read   {rate(rabbit_count, rabbit_read)}  (bodies parsed as JSON)")
    print(f"  check  {rabbit_differences} differences between Cassandra's rows and the messages")
    print(f"  also registered, reader/writer not released yet: {', '.join(previews)}")
    ok = count == ROWS and differences == 0
    ok = ok and mongo_count == MONGO_ROWS and mongo_differences == 0
    ok = ok and rabbit_count == RABBIT_ROWS and rabbit_differences == 0
    print("demo " + ("passed" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
