"""One contender's Spark session, kept alive for the whole run and driven over stdin.

    python spark_job.py CONTENDER CONFIG_JSON

CONFIG_JSON is the harness's connection settings of the system plus `"system"`
(`cassandra`, the default, `mongodb` or `rabbitmq`). Cassandra's CONTENDER is `ours`, `python`
(pure-Python data source), `ceiling` (no-I/O Python source and sink) or `scc`
(spark-cassandra-connector, run from its own PySpark 3.5 virtualenv); MongoDB's is `ours`,
`pymongo`, `pymongoarrow` (run from its own venv), `ceiling` or `mongo-spark` (MongoDB's
Spark connector, from the PySpark 3.5 virtualenv); RabbitMQ's is `ours`, `pika`
(pure-Python data source) or `ceiling`. Each stdin line is a JSON command
{"op": "read"|"write"|"stream", "rows": N, "table": T, "verify": bool} (RabbitMQ adds
"body_bytes"); each answer is one stdout line starting with `@@BENCH ` holding wall
seconds, CPU seconds of the JVM and its Python workers, and their peak memory (and, when
CONFIG_JSON names the server's `server_pid`, the server's CPU seconds during the action).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "baselines")]
# Python workers are forked from the JVM's daemon and inherit this: they import the
# baselines and the workload module by reference.
os.environ["PYTHONPATH"] = os.pathsep.join(
    [HERE, os.path.join(HERE, "baselines"), os.environ.get("PYTHONPATH", "")]
).rstrip(os.pathsep)

# Python workers run the driver's interpreter (the project venv), not `python3` on PATH.
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

import procstat  # noqa: E402
import workload  # noqa: E402

SCC_PACKAGE = "com.datastax.spark:spark-cassandra-connector_2.12:3.5.1"
MONGO_SPARK_PACKAGE = "org.mongodb.spark:mongo-spark-connector_2.12:10.5.0"
# FerretDB has no `$sample`, which mongo-spark's default SamplePartitioner needs, and it
# drops the connection on the `collStats` that PaginateBySizePartitioner sends. Its paging
# partitioners work, but FerretDB answers each `_id` range with a full scan (2 partitions of
# 100k took ~115 s against ~25 s for one scan), so it reads in one partition, as ours does.
MONGO_SPARK_PARTITIONER = (
    "com.mongodb.spark.sql.connector.read.partitioner.SinglePartitionPartitioner"
)
JVM_ANCHORS = {"scc": SCC_PACKAGE, "mongo-spark": MONGO_SPARK_PACKAGE}


def session(contender: str, cfg: dict[str, Any]) -> Any:
    from pyspark.sql import SparkSession

    b = (
        SparkSession.builder.master("local[2]")
        .appName(f"spark-ds-bench-{contender}")
        .config("spark.driver.memory", "3g")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "2")
    )
    if contender in JVM_ANCHORS:
        b = b.config("spark.jars.packages", JVM_ANCHORS[contender]).config(
            "spark.jars.ivySettings", os.path.join(HERE, "ivysettings.xml")
        )
    if contender == "scc":
        b = (
            b.config("spark.cassandra.connection.host", cfg["host"])
            .config("spark.cassandra.connection.port", str(cfg["port"]))
            .config("spark.cassandra.auth.username", cfg["username"])
            .config("spark.cassandra.auth.password", cfg["password"])
        )
    elif contender != "mongo-spark":
        # What spark-ds's README recommends for Arrow writers (Spark's default is 10,000).
        b = b.config("spark.sql.execution.arrow.maxRecordsPerBatch", "65536")
    spark = b.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    if contender == "python":
        from cassandra_py import CassandraPyDataSource

        spark.dataSource.register(CassandraPyDataSource)
    elif contender == "pymongo":
        from mongodb_py import MongoPyDataSource

        spark.dataSource.register(MongoPyDataSource)
    elif contender == "pymongoarrow":
        from mongodb_arrow import MongoArrowDataSource

        spark.dataSource.register(MongoArrowDataSource)
    elif contender == "pika":
        from rabbitmq_py import RabbitPyDataSource

        spark.dataSource.register(RabbitPyDataSource)
    elif contender == "ceiling":
        from ceiling import CeilingSource, DiscardSink

        spark.dataSource.register(CeilingSource)
        spark.dataSource.register(DiscardSink)
    return spark


def mongo_options(contender: str, cfg: dict[str, Any], table: str, op: str) -> dict[str, str]:
    """Each contender's options: defaults, except inserts for writes (FerretDB runs an
    update, which replace and upsert are, at ~15 ms a statement)."""
    where = {"database": workload.MONGO_DATABASE, "collection": table}
    if contender == "mongo-spark":
        opts = {"connection.uri": cfg["uri"], **where}
        if op == "read":
            opts["partitioner"] = MONGO_SPARK_PARTITIONER
        else:
            opts["operationType"] = "insert"
        return opts
    opts = {
        "host": cfg["host"],
        "port": str(cfg["port"]),
        "username": cfg["username"],
        "password": cfg["password"],
        **where,
    }
    if contender == "ours" and op != "read":
        opts["operationType"] = "insert"
    return opts


def rabbit_options(cfg: dict[str, Any], table: str, op: str) -> dict[str, str]:
    """Both RabbitMQ sources: a batch read of the whole stream (`first` to `latest`, the
    defaults, spelled out) or a publish to the default exchange, routed by queue name."""
    opts = {
        "host": cfg["host"],
        "port": str(cfg["port"]),
        "username": cfg["username"],
        "password": cfg["password"],
        "queue": workload.rabbit_queue(table),
    }
    if op == "read":
        opts.update(startingOffsets="first", endingOffsets="latest")
    return opts


def conn_options(
    contender: str, cfg: dict[str, Any], table: str, op: str = "read"
) -> dict[str, str]:
    if cfg.get("system") == "mongodb":
        return mongo_options(contender, cfg, table, op)
    if cfg.get("system") == "rabbitmq":
        return rabbit_options(cfg, table, op)
    if contender == "scc":
        return {"keyspace": workload.KEYSPACE, "table": table}
    return {
        "host": cfg["host"],
        "port": str(cfg["port"]),
        "username": cfg["username"],
        "password": cfg["password"],
        "keyspace": workload.KEYSPACE,
        "table": table,
    }


FORMATS = {
    "ours": "cassandra",
    "python": "cassandra_py",
    "scc": "org.apache.spark.sql.cassandra",
}
MONGO_FORMATS = {
    "ours": "mongodb",
    "mongo-spark": "mongodb",
    "pymongo": "mongodb_py",
    "pymongoarrow": "mongodb_arrow",
}
RABBIT_FORMATS = {"ours": "rabbitmq", "pika": "rabbitmq_py"}


def data_format(contender: str, cfg: dict[str, Any]) -> str:
    formats = {"mongodb": MONGO_FORMATS, "rabbitmq": RABBIT_FORMATS}
    return formats.get(cfg.get("system", ""), FORMATS)[contender]


def reader(spark: Any, contender: str, cfg: dict[str, Any], cmd: dict[str, Any]) -> Any:
    mongo = cfg.get("system") == "mongodb"
    if contender == "ceiling":
        r = spark.read.format("bench_ceiling").option("rows", str(cmd["rows"]))
        if cfg.get("system") == "rabbitmq":
            r = r.option("workload", "rabbitmq").option("bodyBytes", str(cmd["body_bytes"]))
        return r.option("workload", "mongodb").load() if mongo else r.load()
    opts = conn_options(contender, cfg, cmd["table"])
    r = spark.read.format(data_format(contender, cfg)).options(**opts)
    # spark-ds infers the schema (its default); the others are given it, as their users
    # must (mongo-spark would sample with `$sample`, which FerretDB lacks).
    if mongo and contender != "ours":
        r = r.schema(workload.MONGO_DDL)
    return r.load()


def generated(spark: Any, cfg: dict[str, Any], cmd: dict[str, Any]) -> Any:
    rows = cmd["rows"]
    if cfg.get("system") == "mongodb":
        return workload.mongo_spark_frame(spark, rows)
    if cfg.get("system") == "rabbitmq":
        return workload.rabbit_spark_frame(spark, rows, cmd["body_bytes"])
    return workload.spark_frame(spark, rows)


# Files of the stream-write source, per row count (written once per session, untimed).
STREAM_FILES = 8
_stream_sources: dict[int, str] = {}


def stream_source(spark: Any, rows: int) -> str:
    """The workload as Parquet files that a file stream reads in several micro-batches."""
    if rows not in _stream_sources:
        path = tempfile.mkdtemp(prefix=f"spark-ds-bench-stream-{rows}-")
        frame = workload.spark_frame(spark, rows).repartition(STREAM_FILES)
        frame.write.mode("overwrite").parquet(path)
        _stream_sources[rows] = path
    return _stream_sources[rows]


def stream_write(spark: Any, contender: str, cfg: dict[str, Any], cmd: dict[str, Any]) -> Any:
    """A streaming query writing the workload in 4 micro-batches, run to the end."""
    path = stream_source(spark, cmd["rows"])
    schema = workload.spark_frame(spark, 1).schema
    checkpoint = tempfile.mkdtemp(prefix="spark-ds-bench-checkpoint-")
    opts = conn_options(contender, cfg, cmd["table"])

    def action() -> None:
        query = (
            spark.readStream.schema(schema)
            .option("maxFilesPerTrigger", STREAM_FILES // 4)
            .parquet(path)
            .writeStream.format(FORMATS[contender])
            .options(**opts)
            .option("checkpointLocation", checkpoint)
            .trigger(availableNow=True)
            .start()
        )
        query.awaitTermination()
        if query.exception() is not None:
            raise RuntimeError(str(query.exception()))

    return action


def run(spark: Any, contender: str, cfg: dict[str, Any], cmd: dict[str, Any], jvm: int) -> dict:
    out: dict[str, Any] = {"contender": contender, **cmd}
    # MongoDB reads are counted by an observed metric of the timed query itself: a second
    # read just to count would take minutes on FerretDB.
    observation = None
    if cfg.get("system") == "mongodb" and cmd["op"] == "read":
        from pyspark.sql import Observation

        observation = Observation("bench")
    if cmd["op"] == "stream":
        action = stream_write(spark, contender, cfg, cmd)
    elif cmd["op"] == "read":
        df = reader(spark, contender, cfg, cmd)
        if observation is not None:
            from pyspark.sql import functions as sf

            df = df.observe(observation, sf.count(sf.lit(1)).alias("rows"))
        action = df.write.format("noop").mode("overwrite").save
        out["partitions"] = None
    else:
        frame = generated(spark, cfg, cmd)
        if contender == "ceiling":
            action = frame.write.format("bench_discard").mode("append").save
        else:
            opts = conn_options(contender, cfg, cmd["table"], cmd["op"])
            fmt = data_format(contender, cfg)
            action = frame.write.format(fmt).options(**opts).mode("append").save
    server = cfg.get("server_pid")
    server_cpu = procstat.tree_cpu(server) if server else 0.0
    with procstat.Sampler(jvm, interval=0.2) as sampler, procstat.Measured(jvm) as m:
        action()
    if server:
        out["server_cpu_seconds"] = procstat.tree_cpu(server) - server_cpu
    out.update(
        seconds=m.seconds,
        cpu_seconds=m.cpu,
        peak_worker_rss=sampler.peak_worker_rss,
        peak_workers_total_rss=sampler.peak_workers_total_rss,
        peak_jvm_rss=sampler.peak_jvm_rss,
    )
    if observation is not None:
        out["verified_rows"] = int(observation.get["rows"])
    elif cmd.get("verify") and cmd["op"] == "read":
        df = reader(spark, contender, cfg, cmd)
        out["partitions"] = df.rdd.getNumPartitions()
        out["verified_rows"] = df.count()
    return out


def module_version(name: str) -> str:
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:  # not installed in this venv
        return "-"


def main() -> None:
    contender, cfg = sys.argv[1], json.loads(sys.argv[2])
    t0 = time.perf_counter()
    spark = session(contender, cfg)
    jvm = int(spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid())
    info = {
        "ready": True,
        "startup_seconds": time.perf_counter() - t0,
        "spark": spark.version,
        "python": sys.version.split()[0],
        "jvm_pid": jvm,
        "java": spark.sparkContext._jvm.java.lang.System.getProperty("java.version"),
        "pyarrow": module_version("pyarrow"),
    }
    if contender == "pymongoarrow":
        info["pymongoarrow"] = module_version("pymongoarrow")
    print("@@BENCH " + json.dumps(info), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = json.loads(line)
        if cmd["op"] == "quit":
            break
        try:
            result = run(spark, contender, cfg, cmd, jvm)
        except Exception as e:  # reported to the orchestrator, which prints it
            first = str(e).strip().splitlines()[:12]
            result = {"contender": contender, **cmd, "error": f"{type(e).__name__}: {first}"}
        print("@@BENCH " + json.dumps(result), flush=True)
    spark.stop()


if __name__ == "__main__":
    main()
