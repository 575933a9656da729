"""One contender's Spark session, kept alive for the whole run and driven over stdin.

    python spark_job.py CONTENDER CONFIG_JSON

CONTENDER is `ours`, `python` (pure-Python data source), `ceiling` (no-I/O Python source
and sink) or `scc` (spark-cassandra-connector, run from its own PySpark 3.5 virtualenv).
Each stdin line is a JSON command {"op": "read"|"write"|"stream", "rows": N, "table": T,
"verify": bool}; each answer is one stdout line starting with `@@BENCH ` holding wall
seconds, CPU seconds of the JVM and its Python workers, and their peak memory.
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
    if contender == "scc":
        b = (
            b.config("spark.jars.packages", SCC_PACKAGE)
            .config("spark.jars.ivySettings", os.path.join(HERE, "ivysettings.xml"))
            .config("spark.cassandra.connection.host", cfg["host"])
            .config("spark.cassandra.connection.port", str(cfg["port"]))
            .config("spark.cassandra.auth.username", cfg["username"])
            .config("spark.cassandra.auth.password", cfg["password"])
        )
    else:
        # What spark-ds's README recommends for Arrow writers (Spark's default is 10,000).
        b = b.config("spark.sql.execution.arrow.maxRecordsPerBatch", "65536")
    spark = b.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    if contender == "python":
        from cassandra_py import CassandraPyDataSource

        spark.dataSource.register(CassandraPyDataSource)
    elif contender == "ceiling":
        from ceiling import CeilingSource, DiscardSink

        spark.dataSource.register(CeilingSource)
        spark.dataSource.register(DiscardSink)
    return spark


def conn_options(contender: str, cfg: dict[str, Any], table: str) -> dict[str, str]:
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


def reader(spark: Any, contender: str, cfg: dict[str, Any], cmd: dict[str, Any]) -> Any:
    if contender == "ceiling":
        return spark.read.format("bench_ceiling").option("rows", str(cmd["rows"])).load()
    opts = conn_options(contender, cfg, cmd["table"])
    return spark.read.format(FORMATS[contender]).options(**opts).load()


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
    if cmd["op"] == "stream":
        action = stream_write(spark, contender, cfg, cmd)
    elif cmd["op"] == "read":
        df = reader(spark, contender, cfg, cmd)
        action = df.write.format("noop").mode("overwrite").save
        out["partitions"] = None
    else:
        frame = workload.spark_frame(spark, cmd["rows"])
        if contender == "ceiling":
            action = frame.write.format("bench_discard").mode("append").save
        else:
            opts = conn_options(contender, cfg, cmd["table"])
            action = frame.write.format(FORMATS[contender]).options(**opts).mode("append").save
    with procstat.Sampler(jvm, interval=0.2) as sampler, procstat.Measured(jvm) as m:
        action()
    out.update(
        seconds=m.seconds,
        cpu_seconds=m.cpu,
        peak_worker_rss=sampler.peak_worker_rss,
        peak_workers_total_rss=sampler.peak_workers_total_rss,
        peak_jvm_rss=sampler.peak_jvm_rss,
    )
    if cmd.get("verify") and cmd["op"] == "read":
        df = reader(spark, contender, cfg, cmd)
        out["partitions"] = df.rdd.getNumPartitions()
        out["verified_rows"] = df.count()
    return out


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
    }
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
