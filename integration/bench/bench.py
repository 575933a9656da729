"""Runs every contender of one system side by side and writes its results table and chart.

    bench.py [cassandra|mongodb|rabbitmq] [--rows ...] [--smoke] ...

Cassandra writes RESULTS.md and results.png, MongoDB RESULTS-mongodb.md and
results-mongodb.png, RabbitMQ RESULTS-rabbitmq.md and results-rabbitmq.png. Called by
run.sh (which prepares the environments); see README.md for what is measured. All
contenders run in one process tree, against the same server, on the same data,
interleaved repetition by repetition, so the noise of a shared machine hits them alike.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

import procstat  # noqa: E402
import workload  # noqa: E402

PROJECT_PY = ROOT / ".venv" / "bin" / "python"
SCC_PY = HERE / ".venv-scc" / "bin" / "python"
PYMONGOARROW_PY = HERE / ".venv-pymongoarrow" / "bin" / "python"
# Where cargo put the release builds (a shared CARGO_TARGET_DIR is honoured).
TARGET = ROOT / os.environ.get("CARGO_TARGET_DIR", "target")
RUST_SCAN = TARGET / "release" / "rust-scan"
MONGO_SCAN = TARGET / "release" / "mongo-scan"
RABBIT_SCAN = TARGET / "release" / "rabbit-scan"
SERVICES_HOME = Path(os.environ.get("SPARK_DS_SERVICES_HOME", ROOT / ".services"))
OUT = HERE / "out"

OPS = ("read", "write", "stream")
OP_TITLES = {
    "read": "Batch read to the `noop` sink",
    "write": "Batch write of a generated DataFrame",
    "stream": "Stream write: the same rows as 8 Parquet files, 4 micro-batches (`availableNow`)",
}


@dataclass(frozen=True)
class System:
    """What differs between the benchmarked systems; the machinery is shared."""

    name: str  # the harness's env.json key and the run.sh argument
    title: str
    # Display order and labels. `ours` is the subject; the rest are what it is compared with.
    contenders: dict[str, str]
    pythons: dict[str, Path]  # Spark contenders and the interpreter each runs on
    sinks: dict[str, str]  # where each contender writes
    ops: tuple[str, ...]
    streaming: tuple[str, ...]  # contenders with a Structured Streaming sink
    loaders: tuple[str, ...]  # who loads the source data, fastest first
    rust_bin: Path
    rust_crate: str
    ratios: tuple[tuple[str, str, bool], ...]  # (contender, column header, as a share)
    results: str  # results file name beside this script; the chart is <stem>.png
    chart_name: str
    colors: dict[str, str]

    @property
    def native_module(self) -> str:
        return f"pyspark_ds_{self.name}._native"


CASSANDRA = System(
    name="cassandra",
    title="Cassandra",
    contenders={
        "ours": "spark-ds-cassandra (Spark 4.3, Arrow)",
        "scc": "spark-cassandra-connector 3.5.1 (JVM, **Spark 3.5.9**)",
        "python": "pure-Python DataSource (cassandra-driver, tuples/Rows)",
        "ceiling": "Spark ceiling: Python DataSource, Arrow, no I/O",
        "rust": "Rust limit: same reader/writer, no Spark",
    },
    pythons={"ours": PROJECT_PY, "scc": SCC_PY, "python": PROJECT_PY, "ceiling": PROJECT_PY},
    sinks={"ours": "sink_ours", "scc": "sink_scc", "python": "sink_python", "rust": "sink_rust"},
    ops=("read", "write", "stream"),
    streaming=("ours", "scc"),
    loaders=("rust", "ours", "scc", "python"),
    rust_bin=RUST_SCAN,
    rust_crate="spark-ds-bench-rust-scan",
    ratios=(
        ("scc", "vs SCC (Spark 3.5)", False),
        ("python", "vs pure Python", False),
        ("ceiling", "share of Spark ceiling", True),
        ("rust", "share of Rust limit", True),
    ),
    results="RESULTS.md",
    chart_name="results.png",
    colors={
        "ours": "#d62728",
        "scc": "#1f77b4",
        "python": "#ff7f0e",
        "ceiling": "#7f7f7f",
        "rust": "#2ca02c",
    },
)

MONGODB = System(
    name="mongodb",
    title="MongoDB",
    contenders={
        "ours": "spark-ds-mongodb (Spark 4.3, Arrow)",
        "mongo-spark": "mongo-spark-connector 10.5.0 (JVM, **Spark 3.5.9**)",
        "pymongo": "pure-Python DataSource (pymongo, tuples/Rows)",
        "pymongoarrow": "pure-Python DataSource (pymongoarrow, Arrow)",
        "ceiling": "Spark ceiling: Python DataSource, Arrow, no I/O",
        "rust": "Rust limit: same reader/writer, no Spark",
    },
    pythons={
        "ours": PROJECT_PY,
        "mongo-spark": SCC_PY,
        "pymongo": PROJECT_PY,
        "pymongoarrow": PYMONGOARROW_PY,
        "ceiling": PROJECT_PY,
    },
    sinks={
        "ours": "sink_ours",
        "mongo-spark": "sink_mongo_spark",
        "pymongo": "sink_pymongo",
        "pymongoarrow": "sink_pymongoarrow",
        "rust": "sink_rust",
    },
    ops=("read", "write"),
    streaming=(),
    loaders=("rust", "ours", "pymongoarrow", "mongo-spark", "pymongo"),
    rust_bin=MONGO_SCAN,
    rust_crate="spark-ds-bench-mongo-scan",
    ratios=(
        ("mongo-spark", "vs mongo-spark (Spark 3.5)", False),
        ("pymongo", "vs pymongo", False),
        ("pymongoarrow", "vs pymongoarrow", False),
        ("ceiling", "share of Spark ceiling", True),
        ("rust", "share of Rust limit", True),
    ),
    results="RESULTS-mongodb.md",
    chart_name="results-mongodb.png",
    colors={
        "ours": "#d62728",
        "mongo-spark": "#1f77b4",
        "pymongo": "#ff7f0e",
        "pymongoarrow": "#9467bd",
        "ceiling": "#7f7f7f",
        "rust": "#2ca02c",
    },
)

RABBITMQ = System(
    name="rabbitmq",
    title="RabbitMQ",
    contenders={
        "ours": "spark-ds-rabbitmq (Spark 4.3, Arrow)",
        "pika": "pure-Python DataSource (pika, tuples/Rows)",
        "ceiling": "Spark ceiling: Python DataSource, Arrow, no I/O",
        "rust": "Rust limit: same reader/publisher, no Spark",
    },
    pythons={"ours": PROJECT_PY, "pika": PROJECT_PY, "ceiling": PROJECT_PY},
    sinks={"ours": "sink_ours", "pika": "sink_pika", "rust": "sink_rust"},
    ops=("read", "write"),
    streaming=(),
    loaders=("rust", "ours", "pika"),
    rust_bin=RABBIT_SCAN,
    rust_crate="spark-ds-bench-rabbit-scan",
    ratios=(
        ("pika", "vs pika", False),
        ("ceiling", "share of Spark ceiling", True),
        ("rust", "share of Rust limit", True),
    ),
    results="RESULTS-rabbitmq.md",
    chart_name="results-rabbitmq.png",
    colors={"ours": "#d62728", "pika": "#ff7f0e", "ceiling": "#7f7f7f", "rust": "#2ca02c"},
)

SYSTEMS = {s.name: s for s in (CASSANDRA, MONGODB, RABBITMQ)}
# The system of this run, chosen once in main().
SYS: System = CASSANDRA


# The operations this run measures (`--ops`), chosen once in main(); empty means all.
WANTED_OPS: tuple[str, ...] = ()


def has_op(name: str, op: str) -> bool:
    if WANTED_OPS and op not in WANTED_OPS:
        return False
    return op in SYS.ops and (op != "stream" or name in SYS.streaming)


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def services_cfg() -> dict[str, Any]:
    """The harness's connection settings of the system (env.json), tagged with its name;
    for RabbitMQ also the broker's pid (`server_pid`), whose CPU time each run reports."""
    env = json.loads((SERVICES_HOME / "env.json").read_text())
    cfg = {**env[SYS.name], "system": SYS.name}
    if SYS is RABBITMQ:
        pidfile = SERVICES_HOME / "pids" / "rabbitmq.pid"
        if pidfile.exists():
            cfg["server_pid"] = int(pidfile.read_text().split()[0])
    return cfg


def bytes_per_row(body: int | None = None) -> float:
    """The MB/s basis: the data set's Arrow size per row; for RabbitMQ the body size."""
    if SYS is RABBITMQ:
        return float(body or 0)
    if SYS is MONGODB:
        return workload.mongo_arrow_bytes_per_row()
    return workload.arrow_bytes_per_row()


# --------------------------------------------------------------------------- Cassandra


class Cql:
    def __init__(self, cfg: dict[str, Any]) -> None:
        from cassandra.auth import PlainTextAuthProvider
        from cassandra.cluster import Cluster

        self.cluster = Cluster(
            [cfg["host"]],
            port=int(cfg["port"]),
            auth_provider=PlainTextAuthProvider(cfg["username"], cfg["password"]),
        )
        self.session = self.cluster.connect()
        self.session.default_timeout = 120

    def run(self, cql: str) -> Any:
        return self.session.execute(cql)

    def release_version(self) -> str:
        return str(self.run("SELECT release_version FROM system.local").one()[0])

    def reset(self, tables: list[str]) -> None:
        ks = workload.KEYSPACE
        self.run(
            f"CREATE KEYSPACE IF NOT EXISTS {ks} WITH replication = "
            "{'class': 'SimpleStrategy', 'replication_factor': 1}"
        )
        for t in tables:
            self.run(f"DROP TABLE IF EXISTS {ks}.{t}")
            self.run(workload.create_table_cql(t))

    def settle(self, timeout: float = 600.0) -> float:
        """Waits until the node runs no compaction (`system_views.sstable_tasks`), so the
        load's background work does not land on whichever contender runs first."""
        start = time.perf_counter()
        while time.perf_counter() - start < timeout:
            if not list(self.run("SELECT task_id FROM system_views.sstable_tasks")):
                break
            time.sleep(2)
        return time.perf_counter() - start

    def clear(self, table: str) -> None:
        self.run(f"TRUNCATE {workload.KEYSPACE}.{table}")

    def count(self, table: str, rows: int) -> int | None:
        """Rows in the table; None above 200k rows (count(*) times out on the server)."""
        if rows > 200_000:
            return None
        return int(self.run(f"SELECT count(*) FROM {workload.KEYSPACE}.{table}").one()[0])

    def close(self) -> None:
        self.cluster.shutdown()


# --------------------------------------------------------------------------- MongoDB


class Mongo:
    def __init__(self, cfg: dict[str, Any]) -> None:
        from pymongo import MongoClient

        self.cfg = cfg
        self.client: Any = MongoClient(
            host=cfg["host"],
            port=int(cfg["port"]),
            username=cfg["username"],
            password=cfg["password"],
            authSource=cfg.get("auth_source", "admin"),
            serverSelectionTimeoutMS=30_000,
            socketTimeoutMS=600_000,
        )
        self.db = self.client[workload.MONGO_DATABASE]

    def release_version(self) -> str:
        version = str(self.client.server_info().get("version", "?"))
        server = self.cfg.get("server")
        return f"{server}, wire version {version}" if server else version

    def reset(self, collections: list[str]) -> None:
        for c in collections:
            self.db.drop_collection(c)

    def settle(self) -> float:
        return 0.0  # no background work to wait for

    def clear(self, collection: str) -> None:
        # Dropped: every writer creates it on its first insert (as a user's first write).
        self.db.drop_collection(collection)

    def count(self, collection: str, rows: int) -> int | None:
        """Documents in the collection: counted up to 200k, from `collStats` above (FerretDB
        answers `estimated_document_count` with a full scan, ~90 s per 1M documents)."""
        coll = self.db[collection]
        if rows <= 200_000:
            return int(coll.count_documents({}))
        return int(self.db.command("collStats", collection)["count"])

    def close(self) -> None:
        self.client.close()


# --------------------------------------------------------------------------- RabbitMQ


class Rabbit:
    """The broker side of the RabbitMQ benchmark, with `pika`: every queue is a stream
    queue named `workload.rabbit_queue(table)`, deleted and declared again to empty it."""

    OFFSET = "x-stream-offset"

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg
        self.connection = self._connect()
        self.channel = self.connection.channel()

    def _connect(self) -> Any:
        import pika

        cfg = self.cfg
        return pika.BlockingConnection(
            pika.ConnectionParameters(
                host=cfg["host"],
                port=int(cfg["port"]),
                virtual_host=cfg.get("vhost", "/"),
                credentials=pika.PlainCredentials(cfg["username"], cfg["password"]),
                # Idle for minutes while the contenders run: no heartbeats to miss.
                heartbeat=0,
            )
        )

    def release_version(self) -> str:
        props = self.connection._impl.server_properties  # pika keeps it there
        version = props.get("version", b"?")
        return version.decode() if isinstance(version, bytes) else str(version)

    def reset(self, tables: list[str]) -> None:
        for t in tables:
            self.clear(t)

    def settle(self) -> float:
        return 0.0  # no background work to wait for

    def clear(self, table: str) -> None:
        queue = workload.rabbit_queue(table)
        self.channel.queue_delete(queue)
        self.channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "stream"})

    def release(self, table: str) -> None:
        """Deletes the queue: its segments leave the disk."""
        self.channel.queue_delete(workload.rabbit_queue(table))

    def count(self, table: str, rows: int) -> int | None:
        """Messages in the stream, counted by reading it back to its last offset with
        pika: exact, unlike the queue's `message_count`, which lags the stream by the
        broker's statistics interval (seconds)."""
        import pika.exceptions

        queue = workload.rabbit_queue(table)
        connection = self._connect()
        try:
            channel = connection.channel()
            channel.basic_qos(prefetch_count=5000)
            last, quiet = None, 0.0
            for method, props, _ in channel.consume(
                queue, arguments={self.OFFSET: "last"}, inactivity_timeout=0.1
            ):
                if method is None:
                    quiet += 0.1
                    if last is not None or quiet >= 2.0:
                        break
                    continue
                last = max(last or 0, props.headers[self.OFFSET])
                channel.basic_ack(method.delivery_tag, multiple=True)
        finally:
            # A stream refuses the rejects pika sends for held deliveries (540).
            with contextlib.suppress(pika.exceptions.AMQPError):
                connection.close()
        if last is None:
            return 0
        n = 0
        connection = self._connect()
        try:
            channel = connection.channel()
            channel.basic_qos(prefetch_count=5000)
            for method, props, _ in channel.consume(
                queue, arguments={self.OFFSET: "first"}, inactivity_timeout=30
            ):
                if method is None:
                    raise RuntimeError(f"{queue}: no delivery in 30 s before offset {last}")
                n += 1
                if n % 2500 == 0:
                    channel.basic_ack(method.delivery_tag, multiple=True)
                if props.headers[self.OFFSET] >= last:
                    break
        finally:
            with contextlib.suppress(pika.exceptions.AMQPError):
                connection.close()
        return n

    def close(self) -> None:
        if self.connection.is_open:
            self.connection.close()


def store(cfg: dict[str, Any]) -> Any:
    if SYS is RABBITMQ:
        return Rabbit(cfg)
    return Mongo(cfg) if SYS is MONGODB else Cql(cfg)


# --------------------------------------------------------------------------- contenders


class SparkContender:
    """A long-lived `spark_job.py` process answering one JSON command per line."""

    def __init__(self, name: str, python: Path, cfg: dict[str, Any]) -> None:
        self.name = name
        OUT.mkdir(parents=True, exist_ok=True)
        self.log_path = OUT / f"{name}.log"
        env = dict(os.environ, TZ="UTC", PYTHONUNBUFFERED="1")
        env.pop("PYSPARK_PYTHON", None)
        env.pop("PYSPARK_DRIVER_PYTHON", None)
        self.proc = subprocess.Popen(
            [str(python), str(HERE / "spark_job.py"), name, json.dumps(cfg)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(self.log_path, "w"),  # noqa: SIM115 - lives as long as the process
            text=True,
            env=env,
        )
        self.info = self._answer()

    def _answer(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("@@BENCH "):
                return json.loads(line[len("@@BENCH ") :])
        raise RuntimeError(f"{self.name}: Spark process ended; see {self.log_path}")

    def run(self, cmd: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return self._answer()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write('{"op": "quit"}\n')
                self.proc.stdin.flush()
                self.proc.wait(timeout=60)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()


class RustContender:
    name = "rust"

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.opts = [
            f"host={cfg['host']}",
            f"port={cfg['port']}",
            f"username={cfg['username']}",
            f"password={cfg['password']}",
        ]
        if SYS is MONGODB:
            self.opts.append(f"database={workload.MONGO_DATABASE}")
        elif SYS is CASSANDRA:
            self.opts.append(f"keyspace={workload.KEYSPACE}")
        self.server_pid = cfg.get("server_pid")
        self.info = {"binary": str(SYS.rust_bin)}

    def run(self, cmd: dict[str, Any]) -> dict[str, Any]:
        argv = [str(SYS.rust_bin), cmd["op"], "--tasks", "2", "--rows", str(cmd["rows"])]
        where = [f"table={cmd['table']}"]
        if SYS is MONGODB:
            # The Spark contenders' options: inserts for writes (see spark_job.py).
            where = [f"collection={cmd['table']}"]
            if cmd["op"] == "write":
                where.append("operationType=insert")
        if SYS is RABBITMQ:
            # The Spark contenders' options (spark_job.rabbit_options).
            where = [f"queue={workload.rabbit_queue(cmd['table'])}"]
            if cmd["op"] == "read":
                where += ["startingOffsets=first", "endingOffsets=latest"]
            else:
                body = cmd["body_bytes"]
                # Batches of at most ~64 MiB of bodies (Spark's 65,536 rows of 10 KB
                # would be 640 MiB; the Rust limit does not need them that large).
                batch_rows = max(1, min(65_536, (64 << 20) // body))
                argv += ["--body-bytes", str(body), "--batch-rows", str(batch_rows)]
        for o in [*self.opts, *where]:
            argv += ["-o", o]
        server_cpu = procstat.tree_cpu(self.server_pid) if self.server_pid else 0.0
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # wait4 gives the child's own CPU time and peak RSS (no Spark, no Python).
        _, status, usage = os.wait4(proc.pid, 0)
        if self.server_pid:
            server_cpu = procstat.tree_cpu(self.server_pid) - server_cpu
        proc.returncode = os.waitstatus_to_exitcode(status)
        out = proc.stdout.read() if proc.stdout else ""
        err = proc.stderr.read() if proc.stderr else ""
        result: dict[str, Any] = {"contender": "rust", **cmd}
        if proc.returncode != 0:
            result["error"] = err.strip()[-2000:]
            return result
        data = json.loads(out.strip().splitlines()[-1])
        result.update(
            seconds=data["seconds"],
            cpu_seconds=usage.ru_utime + usage.ru_stime,
            peak_worker_rss=0,
            peak_jvm_rss=0,
            peak_process_rss=usage.ru_maxrss * 1024,
            partitions=data["partitions"],
        )
        if self.server_pid:
            result["server_cpu_seconds"] = server_cpu
        if cmd.get("verify") and cmd["op"] == "read":
            result["verified_rows"] = data["rows"]
        return result

    def close(self) -> None:
        pass


# --------------------------------------------------------------------------- the run


@dataclass
class Plan:
    sizes: list[int]
    reps: int
    warmup: str  # each | first | none
    verify: bool
    smoke: bool
    budget: float  # seconds one contender may take at one size (projected), else skipped
    contenders: list[str]
    skipped: dict[str, str] = field(default_factory=dict)
    # RabbitMQ: the sizes of each body size (bytes), measured body size by body size.
    bodies: dict[int, list[int]] = field(default_factory=dict)

    def stages(self) -> list[tuple[int | None, list[int]]]:
        """(body size or None, sizes) in the order they run."""
        return list(self.bodies.items()) or [(None, self.sizes)]


def source_table(rows: int, body: int | None) -> str:
    return f"src_{rows}" if body is None else f"src_{rows}_{body}b"


def skip_key(name: str, op: str, rows: int, body: int | None) -> str:
    return f"{name} {op}@{rows}" + ("" if body is None else f"/{body}B")


def machine() -> dict[str, Any]:
    model = ""
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as fh:
        mem_kb = int(fh.readline().split()[1])
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "cpu": model,
        "kernel": platform.release(),
        "load_start": os.getloadavg(),
    }


def versions() -> dict[str, str]:
    out: dict[str, str] = {}
    driver = {"cassandra": "cassandra", "mongodb": "pymongo", "rabbitmq": "pika"}[SYS.name]
    for mod in ("pyspark", "pyarrow", driver):
        try:
            m = __import__(mod)
            out[mod if mod != "cassandra" else "cassandra-driver"] = str(m.__version__)
        except ImportError:
            pass
    ours = f"spark-ds-{SYS.name}"
    try:
        from importlib.metadata import version

        out[ours] = version(ours)
    except Exception:  # not installed: reported as missing
        out[ours] = "not installed"
    rev = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    out["spark-ds commit"] = rev.stdout.strip()
    return out


def ours_available() -> str | None:
    """None when the system's wheel is installed and imports; else why not."""
    probe = subprocess.run(
        [str(PROJECT_PY), "-c", f"import {SYS.native_module}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["?"])[-1]
        return f"spark-ds-{SYS.name} wheel not importable ({last}); run `make install`"
    return None


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def summarize(results: list[dict[str, Any]], bpr: float) -> dict[tuple[str, str, int], dict]:
    """Median of the timed repetitions per (contender, op, rows)."""
    groups: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for r in results:
        if r.get("timed") and "error" not in r:
            groups.setdefault((r["contender"], r["op"], r["rows"]), []).append(r)
    out = {}
    for key, rs in groups.items():
        rows = key[2]
        secs = median([r["seconds"] for r in rs])
        cpu = median([r["cpu_seconds"] for r in rs])
        out[key] = {
            "n": len(rs),
            "seconds": secs,
            "spread": (min(r["seconds"] for r in rs), max(r["seconds"] for r in rs)),
            "rows_per_s": rows / secs,
            "mb_per_s": rows * bpr / secs / 1e6,
            "cpu_per_mrows": cpu / rows * 1e6,
            "peak_worker_rss_mib": max(r.get("peak_worker_rss", 0) for r in rs) / 2**20,
            "peak_workers_total_rss_mib": max(r.get("peak_workers_total_rss", 0) for r in rs)
            / 2**20,
            "peak_jvm_rss_mib": max(r.get("peak_jvm_rss", 0) for r in rs) / 2**20,
            "peak_process_rss_mib": max(r.get("peak_process_rss", 0) for r in rs) / 2**20,
        }
        server = [r["server_cpu_seconds"] for r in rs if "server_cpu_seconds" in r]
        if server:
            # The server's CPU per M rows, and how many of its cores it kept busy.
            out[key]["server_cpu_per_mrows"] = median(server) / rows * 1e6
            out[key]["server_cores"] = median(
                [r["server_cpu_seconds"] / r["seconds"] for r in rs if "server_cpu_seconds" in r]
            )
    return out


def run(plan: Plan, cfg: dict[str, Any]) -> dict[str, Any]:  # noqa: PLR0912
    OUT.mkdir(parents=True, exist_ok=True)
    raw_log = OUT / f"results-{SYS.name}-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"  # per run
    db = store(cfg)
    sinks = SYS.sinks
    stages = plan.stages()
    tables = [source_table(n, body) for body, sizes in stages for n in sizes]
    tables += [sinks[c] for c in plan.contenders if c in sinks]
    log(f"resetting {workload.KEYSPACE}: {', '.join(tables)}")
    db.reset(tables)
    meta: dict[str, Any] = {
        "system": SYS.name,
        "machine": machine(),
        "versions": versions(),
        "server": db.release_version(),
        "plan": {
            "sizes": plan.sizes,
            "reps": plan.reps,
            "warmup": plan.warmup,
            "smoke": plan.smoke,
        },
    }
    if plan.bodies:
        meta["plan"]["bodies"] = {str(b): sizes for b, sizes in plan.bodies.items()}
    else:
        meta["arrow_bytes_per_row"] = bytes_per_row()

    live: dict[str, Any] = {}
    results: list[dict[str, Any]] = []
    try:
        for name in plan.contenders:
            log(f"starting {name}")
            t0 = time.perf_counter()
            try:
                if name == "rust":
                    live[name] = RustContender(cfg)
                else:
                    live[name] = SparkContender(name, SYS.pythons[name], cfg)
            except Exception as e:  # reported in the table, the run goes on
                plan.skipped[name] = f"failed to start: {e}"
                log(f"{name} failed to start: {e}")
                continue
            log(f"{name} ready in {time.perf_counter() - t0:.1f} s: {live[name].info}")
        meta["contenders"] = {n: c.info for n, c in live.items()}

        for body, sizes in stages:
            extra = {} if body is None else {"body_bytes": body}
            at = "" if body is None else f" ({body:,} B bodies)"
            # Median timed rows/s per (contender, op) at the previous size, for the budget.
            rate: dict[tuple[str, str], float] = {}
            for size_index, rows in enumerate(sizes):
                src = source_table(rows, body)
                # Only reads need the source table: a write-only run skips loading it.
                if any(has_op(name, "read") for name in live):
                    load_source(live, rows, src, extra)
                settled = db.settle()
                if settled:
                    log(f"compactions settled in {settled:.1f} s")
                warm = plan.warmup == "each" or (plan.warmup == "first" and size_index == 0)
                runs = plan.reps + int(warm)
                todo: dict[str, list[str]] = {}
                for name in live:
                    for op in (op for op in SYS.ops if has_op(name, op)):
                        if (name, op) in rate:
                            projected = rows / rate[(name, op)] * runs
                            if projected > plan.budget:
                                why = (
                                    f"projected {projected / 60:.1f} min for {runs} runs > "
                                    f"budget {plan.budget / 60:.1f} min (from its speed at "
                                    "the previous size)"
                                )
                                plan.skipped[skip_key(name, op, rows, body)] = why
                                log(f"skipping {name} {op} at {rows:,} rows{at}: {why}")
                                continue
                        todo.setdefault(name, []).append(op)
                active = list(todo)
                timings: dict[tuple[str, str], list[float]] = {}

                def one(  # noqa: PLR0917
                    name: str,
                    op: str,
                    timed: bool,
                    rep: int,
                    rows: int = rows,
                    src: str = src,
                    todo: dict[str, list[str]] = todo,
                    timings: dict[tuple[str, str], list[float]] = timings,
                    extra: dict[str, Any] = extra,
                ) -> None:
                    if op not in todo.get(name, []):
                        return
                    table = src if op == "read" else sinks.get(name, "-")
                    if op in ("write", "stream") and name in sinks:
                        db.clear(table)
                    # Row counts are checked once per contender and size (first timed run).
                    verify = plan.verify and timed and rep == 0
                    cmd = {"op": op, "rows": rows, "table": table, "verify": verify, **extra}
                    r = live[name].run(cmd)
                    r.update(timed=timed, rep=rep)
                    results.append(r)
                    with open(raw_log, "a") as fh:
                        fh.write(json.dumps(r) + "\n")
                    if "error" in r:
                        log(f"  {name:8s} {op:5s} ERROR {r['error']}")
                        return
                    speed = rows / r["seconds"]
                    if timed:
                        timings.setdefault((name, op), []).append(r["seconds"])
                    tag = "timed" if timed else "warm-up"
                    log(
                        f"  {name:8s} {op:5s} {tag:7s} {r['seconds']:8.2f} s  {speed:12,.0f} rows/s"
                    )
                    if verify and op == "read" and r.get("verified_rows") != rows:
                        r["error"] = f"read {r.get('verified_rows')} rows, expected {rows}"
                        log(f"  {name} read the wrong number of rows: {r['error']}")
                    counted = verify and op != "read" and name in sinks
                    n = db.count(table, rows) if counted else None
                    if n is not None:
                        r["counted_rows"] = n
                    if n is not None and n != rows:
                        r["error"] = f"wrote {n} rows, expected {rows}"
                        log(f"  {name} wrote the wrong number of rows: {r['error']}")

                if warm:
                    log(
                        f"{rows:,} rows{at}: warm-up (each contender reads and writes once, "
                        "untimed)"
                    )
                    for name in active:
                        for op in SYS.ops:
                            one(name, op, False, -1)
                for rep in range(plan.reps if active else 0):
                    # Rotate the order each repetition so no contender always runs first.
                    order = active[rep % len(active) :] + active[: rep % len(active)]
                    log(f"{rows:,} rows{at}: repetition {rep + 1}/{plan.reps}, order {order}")
                    for op in SYS.ops:
                        for name in order:
                            one(name, op, True, rep)
                for key, secs in timings.items():
                    rate[key] = rows / statistics.median(secs)
                if SYS is RABBITMQ:
                    db.release(src)  # up to GBs of stream segments: gone once measured
    finally:
        for c in live.values():
            c.close()
        if SYS is RABBITMQ:
            for t in tables:
                db.release(t)
        db.close()
    meta["machine"]["load_end"] = os.getloadavg()
    return {"meta": meta, "results": results, "skipped": plan.skipped}


# --------------------------------------------------------------------------- report


def fmt_rate(x: float) -> str:
    if x >= 1e6:
        return f"{x / 1e6:.2f} M"
    return f"{x / 1e3:.0f} k" if x >= 1e4 else f"{x:,.0f}"


# ours ÷ Rust limit in rows/s from which the server, not the client, sets the pace.
CAPPED = 0.8


def server_cap(summary: dict, sizes: list[int]) -> list[str]:
    """MongoDB's "server cap" section: where the Rust limit (no Spark) is hardly faster than
    spark-ds, the server caps everyone and CPU per row is the comparison that means something."""
    lines = [
        "## Server cap",
        "",
        "FerretDB (MongoDB wire protocol on SQLite) is the server here, and it is slow: "
        "a few thousand documents/s for a full scan and under 10k inserted documents/s on "
        "this machine, before any client cost. The Rust limit (the connector's own "
        "reader/writer, no Spark) shows what the server allows; where spark-ds reaches at "
        "least "
        f"{CAPPED * 100:.0f} % of it, the server caps every contender and the rows/s ratios "
        "above say little: compare **CPU s per M rows** (client cost: JVM + Python workers, "
        "for Rust its own process) instead.",
        "",
    ]
    cpu_names = [n for n in SYS.contenders if n != "ceiling"]
    lines += [
        "| op | rows | server rate (Rust limit) | spark-ds ÷ Rust limit | capped? | CPU s/M: "
        + " · ".join(cpu_names)
        + " |",
        "|---|---|---|---|---|---|",
    ]
    for op in SYS.ops:
        for s in sizes:
            o, r = summary.get(("ours", op, s)), summary.get(("rust", op, s))
            if o is None or r is None:
                continue
            share = o["rows_per_s"] / r["rows_per_s"]
            capped = "yes: compare CPU" if share >= CAPPED else "no: client-bound"
            cpu = " · ".join(
                f"{v['cpu_per_mrows']:.1f}" if (v := summary.get((n, op, s))) else "-"
                for n in cpu_names
            )
            lines.append(
                f"| {op} | {s:,} | {fmt_rate(r['rows_per_s'])} rows/s | {share * 100:.0f} % "
                f"| {capped} | {cpu} |"
            )
    lines.append("")
    lines += mongo_targets(summary, sizes)
    return lines


def mongo_targets(summary: dict, sizes: list[int]) -> list[str]:
    """Issue #12's targets, met or not: ≥ 1.0x mongo-spark and ≥ 0.8x the Rust limit in
    rows/s, ≤ 1/5 of the pure-Python (pymongo) source's client CPU per row."""
    lines = [
        "## Targets",
        "",
        "| op | rows | ≥ 1.0x mongo-spark rows/s | ≥ 0.8x Rust limit rows/s "
        "| ≤ 1/5 of pymongo's CPU per row |",
        "|---|---|---|---|---|",
    ]

    def check(x: float | None, ok: bool, text: str) -> str:
        return "-" if x is None else f"{'met' if ok else 'missed'}: {text}"

    for op in SYS.ops:
        for s in sizes:
            o = summary.get(("ours", op, s))
            if o is None:
                continue
            jvm, rust, py = (summary.get((n, op, s)) for n in ("mongo-spark", "rust", "pymongo"))
            x_jvm = o["rows_per_s"] / jvm["rows_per_s"] if jvm else None
            x_rust = o["rows_per_s"] / rust["rows_per_s"] if rust else None
            x_cpu = o["cpu_per_mrows"] / py["cpu_per_mrows"] if py else None
            lines.append(
                f"| {op} | {s:,} "
                f"| {check(x_jvm, (x_jvm or 0) >= 1.0, f'{x_jvm or 0:.2f}x')} "
                f"| {check(x_rust, (x_rust or 0) >= 0.8, f'{(x_rust or 0) * 100:.0f} %')} "
                f"| {check(x_cpu, (x_cpu or 1) <= 0.2, f'{(x_cpu or 0) * 100:.0f} % of it')} |"
            )
    lines.append("")
    return lines


def report(data: dict[str, Any], md_path: Path, png_path: Path) -> str:  # noqa: PLR0912
    if SYS is RABBITMQ:
        return rabbit_report(data, md_path, png_path)
    meta, results = data["meta"], data["results"]
    bpr = meta["arrow_bytes_per_row"]
    summary = summarize(results, bpr)
    sizes = meta["plan"]["sizes"]
    names = [n for n in SYS.contenders if any(k[0] == n for k in summary)]
    m = meta["machine"]
    contenders = meta.get("contenders", {})
    javas = [c.get("java") for c in contenders.values() if c.get("java")]
    java = javas[0] if javas else "?"
    server = meta.get("server", meta.get("cassandra", "?"))
    anchor = "mongo-spark" if SYS is MONGODB else "scc"
    if SYS is MONGODB:
        server_line = (
            f"- MongoDB wire server: {server} (the project's harness), database "
            f"`{workload.MONGO_DATABASE}`. Documents: `{{_id: long, i: int, d: double, "
            "s: string, ts: date, tags: [string, string], nested: {a: int, b: string, "
            "inner: {x: double}}}`; Spark schema `" + workload.MONGO_DDL + "`."
        )
        pma = contenders.get("pymongoarrow", {})
        extra_versions = (
            f"; pymongoarrow {pma['pymongoarrow']} (own venv, pyarrow {pma.get('pyarrow')})"
            if pma.get("pymongoarrow")
            else ""
        )
        options_line = (
            "- Spark `local[2]`, driver memory 3g, session time zone UTC; Spark 4.3 contenders "
            "with `spark.sql.execution.arrow.maxRecordsPerBatch=65536` (spark-ds's "
            "recommendation). Connectors run with their default options, except: writes use "
            "`operationType=insert` (spark-ds and mongo-spark default to `replace`, an upsert "
            "FerretDB runs as an update at ~15 ms a document); mongo-spark reads with "
            "`SinglePartitionPartitioner`, the plan spark-ds picks on FerretDB (its paging "
            "partitioners cost a full scan per range there: 2 partitions of 100k took ~115 s "
            "against ~25 s for one scan), and is given the schema (its default partitioner and "
            "schema inference need `$sample`, which FerretDB lacks; FerretDB drops the "
            "connection on the `collStats` of `PaginateBySizePartitioner`); the Python sources are "
            "given the schema too, spark-ds infers it (its default, one sampling query per "
            "read)."
        )
    else:
        server_line = (
            f"- Cassandra {server} (one node, the project's harness), keyspace "
            f"`{workload.KEYSPACE}`, RF 1. Table: `id bigint PRIMARY KEY, i int, d double, "
            "s text, ts timestamp, u uuid, tags list<text>`."
        )
        extra_versions = ""
        options_line = (
            "- Spark `local[2]`, driver memory 3g, session time zone UTC; Spark 4.3 contenders "
            "with `spark.sql.execution.arrow.maxRecordsPerBatch=65536` (spark-ds's "
            "recommendation). Connectors run with their default options (fetch size, splits, "
            "write concurrency)."
        )
    lines = [
        f"# Benchmark results: {SYS.title}",
        "",
        "Generated by `integration/bench/run.sh` "
        + (
            "(`--smoke`: tiny sizes, one repetition - proves the harness, not the speed)"
            if meta["plan"]["smoke"]
            else ""
        )
        + f" on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. "
        "See `README.md` beside this file for what is measured and how.",
        "",
        (
            "- **Interrupted run**: the table is built from the repetitions the run finished "
            "before it stopped (`n=` marks medians of fewer repetitions than planned); the "
            "machine line is read when the report was made.\n"
            if meta["plan"].get("interrupted")
            else ""
        )
        + f"- Machine: {m['nproc']} cores ({m['cpu']}), {m['memory_gib']} GiB, "
        f"Linux {m['kernel']}; "
        f"load average at start {m['load_start'][0]:.1f}, at end {m['load_end'][0]:.1f} "
        "(shared with other work: absolute numbers are noisy, ratios within one run are "
        "the point).",
        server_line,
        "- Versions: "
        + ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
        + extra_versions
        + "; JVM anchor: "
        + (f"Spark {contenders[anchor].get('spark')}" if anchor in contenders else "not run")
        + f"; Java {java}.",
        options_line,
        f"- Sizes {', '.join(f'{s:,}' for s in sizes)} rows; median of {meta['plan']['reps']} "
        + (
            {
                "each": "timed repetitions after one untimed warm-up of each operation per "
                "contender and size; ",
                "first": "timed repetitions; one untimed warm-up of each operation per contender "
                "at the first size only (sessions, JIT and Python workers warm for the rest); ",
                "none": "timed repetition(s), no warm-up; ",
            }[meta["plan"]["warmup"]]
        )
        + "contenders interleaved, order rotated each repetition.",
        f"- MB/s = rows x {bpr:.1f} B (the data set's Arrow in-memory size per row) / seconds. "
        "CPU s/M rows = CPU time of the JVM and all its Python workers (for the Rust limit: its "
        "own process) per million rows. Py-worker RSS = largest single Python worker process seen "
        "(sampled every 0.2 s).",
        "",
    ]
    for op, title in OP_TITLES.items():
        if op not in SYS.ops or not any(k[1] == op for k in summary):
            continue
        lines += [f"## {title}", ""]
        header = (
            "| contender | "
            + " | ".join(f"{s:,} rows: rows/s · MB/s · CPU s/M · Py-worker RSS MiB" for s in sizes)
            + " |"
        )
        lines += [header, "|---|" + "---|" * len(sizes)]
        for n in (n for n in names if has_op(n, op)):
            if op == "write" and n == "ceiling":
                label = "Spark ceiling: Arrow writer discarding batches"
            else:
                label = SYS.contenders[n]
            cells = []
            for s in sizes:
                v = summary.get((n, op, s))
                skip = data["skipped"].get(f"{n} {op}@{s}") or data["skipped"].get(n)
                if v is None:
                    cells.append("skipped" if skip else "-")
                    continue
                rss = f"{v['peak_worker_rss_mib']:.0f}" if v["peak_worker_rss_mib"] else "-"
                n_note = f" (n={v['n']})" if v["n"] < meta["plan"]["reps"] else ""
                cells.append(
                    f"{fmt_rate(v['rows_per_s'])} · {v['mb_per_s']:.0f} · "
                    f"{v['cpu_per_mrows']:.1f} · {rss}{n_note}"
                )
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
    # Ratios of ours to each baseline.
    lines += [
        f"## Ratios (spark-ds-{SYS.name} ÷ contender, rows/s; >1 means spark-ds is faster)",
        "",
    ]
    lines += ["| op | rows | " + " | ".join(h for _, h, _ in SYS.ratios) + " |"]
    lines += ["|---|---|" + "---|" * len(SYS.ratios)]
    for op in SYS.ops:
        for s in sizes:
            o = summary.get(("ours", op, s))
            if o is None:
                continue

            def ratio(
                other: str, pct: bool = False, _o: dict = o, _op: str = op, _s: int = s
            ) -> str:
                v = summary.get((other, _op, _s))
                if v is None:
                    return "-"
                x = _o["rows_per_s"] / v["rows_per_s"]
                return f"{x * 100:.0f} %" if pct else f"{x:.2f}x"

            cells = " | ".join(ratio(n, pct) for n, _, pct in SYS.ratios)
            lines.append(f"| {op} | {s:,} | {cells} |")
    lines.append("")
    if SYS is MONGODB:
        lines += server_cap(summary, sizes)
    if data["skipped"]:
        lines += ["## Not measured", ""]
        for k, v in data["skipped"].items():
            lines.append(f"- `{k}`: {v}")
        lines.append("")
    errors = [r for r in results if "error" in r]
    if errors:
        lines += ["## Errors", ""]
        for r in errors:
            lines.append(f"- {r['contender']} {r['op']} {r['rows']:,}: {r['error'][:300]}")
        lines.append("")
    spreads = []
    for (n, op, s), v in sorted(summary.items()):
        lo, hi = v["spread"]
        spreads.append(f"{n} {op} {s:,}: {lo:.2f}-{hi:.2f} s")
    lines += ["<details><summary>Spread of the timed repetitions (min-max seconds)</summary>", ""]
    lines += ["; ".join(spreads), "", "</details>", ""]
    notes = ""
    if md_path.exists():
        old = md_path.read_text()
        if "<!-- notes:begin -->" in old and "<!-- notes:end -->" in old:
            notes = old[old.index("<!-- notes:begin -->") : old.index("<!-- notes:end -->")]
            notes += "<!-- notes:end -->\n"
    if not notes:
        notes = "<!-- notes:begin -->\n## Findings\n\n(none yet)\n<!-- notes:end -->\n"
    lines += [notes]
    if png_path is not None:
        lines.insert(2, f"![rows/s per contender]({png_path.name})\n")
    text = "\n".join(lines)
    md_path.write_text(text)
    chart(summary, sizes, names, png_path)
    return text


def chart(summary: dict, sizes: list[int], names: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ops = [op for op in SYS.ops if any(k[1] == op for k in summary)]
    fig, axes = plt.subplots(1, len(ops), figsize=(6.5 * len(ops), 6), squeeze=False)
    axes = list(axes[0])
    colors = SYS.colors
    # MongoDB's server-bound rates are thousands a second, the no-I/O ceiling's hundreds of
    # thousands: a log scale keeps both readable.
    log_scale = SYS is MONGODB
    unit, unit_name = (1e3, "thousand") if SYS is MONGODB else (1e6, "million")
    titles = {"read": " → noop", "write": " (generated DataFrame)", "stream": " (4 micro-batches)"}
    for ax, op in zip(axes, ops, strict=True):
        present = [n for n in names if has_op(n, op)]
        width = 0.8 / max(1, len(present))
        for i, n in enumerate(present):
            ys = [summary.get((n, op, s), {}).get("rows_per_s", 0) / unit for s in sizes]
            xs = [j + (i - (len(present) - 1) / 2) * width for j in range(len(sizes))]
            label = SYS.contenders[n].replace("**", "")
            if op == "write" and n == "ceiling":
                label = "Spark ceiling: Arrow writer, no I/O"
            ax.bar(xs, ys, width, label=label, color=colors.get(n))
        ax.set_xticks(range(len(sizes)), [f"{s:,} rows" for s in sizes])
        ax.set_ylabel(f"{unit_name} rows/s (median)" + (", log scale" if log_scale else ""))
        if log_scale:
            ax.set_yscale("log")
        kind = "stream write" if op == "stream" else f"batch {op}"
        ax.set_title(f"{SYS.title} {kind}{titles[op]}")
        ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.suptitle(f"spark-ds benchmark - same machine, same {SYS.title}, same data, one run")
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------- RabbitMQ report


def body_label(body: int) -> str:
    return f"{body // 1024} KB" if body >= 1024 and body % 1024 == 0 else f"{body:,} B"


def rabbit_summaries(data: dict[str, Any]) -> dict[int, tuple[list[int], dict]]:
    """{body size: (sizes, summary)} in the order the run measured them."""
    out = {}
    for body_text, sizes in data["meta"]["plan"]["bodies"].items():
        body = int(body_text)
        results = [r for r in data["results"] if r.get("body_bytes") == body]
        out[body] = (sizes, summarize(results, float(body)))
    return out


def rabbit_cap(summary: dict, body: int, sizes: list[int]) -> list[str]:
    """Per op and size: what caps spark-ds (the broker, Spark's Python data source path, or
    its own client), with the evidence: the Rust limit's and the Spark ceiling's rates,
    the broker's cores, and every contender's client CPU per message."""
    cpu_names = [n for n in SYS.contenders if n != "ceiling"]
    lines = []
    for op in SYS.ops:
        for s in sizes:
            o, r = summary.get(("ours", op, s)), summary.get(("rust", op, s))
            if o is None or r is None:
                continue
            c = summary.get(("ceiling", op, s))
            share = o["rows_per_s"] / r["rows_per_s"]
            if share >= CAPPED:
                capped = "the broker: compare CPU"
            elif c is not None and o["rows_per_s"] >= CAPPED * c["rows_per_s"]:
                capped = "Spark's Python data source path (ceiling)"
            else:
                capped = "spark-ds itself: client-bound"
            cores = " · ".join(
                f"{v['server_cores']:.2f}"
                if (v := summary.get((n, op, s))) and "server_cores" in v
                else "-"
                for n in ("rust", "ours")
            )
            cpu = " · ".join(
                f"{v['cpu_per_mrows']:.1f}" if (v := summary.get((n, op, s))) else "-"
                for n in cpu_names
            )
            ceiling = fmt_rate(c["rows_per_s"]) if c else "-"
            lines.append(
                f"| {op} | {body_label(body)} | {s:,} | {fmt_rate(r['rows_per_s'])} "
                f"| {ceiling} | {share * 100:.0f} % | {cores} | {capped} | {cpu} |"
            )
    return lines


def target_rust(o: dict, rust: dict | None, ceil: dict | None) -> str:
    """≥ 0.8x the Rust limit's msg/s."""
    if rust is None:
        return "-"
    x = o["rows_per_s"] / rust["rows_per_s"]
    text = f"{'met' if x >= 0.8 else 'missed'}: {x * 100:.0f} %"
    if x < 0.8 and ceil and ceil["rows_per_s"] < 0.8 * rust["rows_per_s"]:
        bound = ceil["rows_per_s"] / rust["rows_per_s"] * 100
        text += f"; out of reach through Spark: the Spark ceiling itself is {bound:.0f} %"
    return text


def target_cpu(o: dict, py: dict | None, ceil: dict | None) -> str:
    """≤ 1/5 of pika's client CPU per message."""
    if py is None:
        return "-"
    x = o["cpu_per_mrows"] / py["cpu_per_mrows"]
    text = f"{'met' if x <= 0.2 else 'missed'}: {x * 100:.0f} % of it"
    if x > 0.2 and ceil:
        floor = ceil["cpu_per_mrows"] / py["cpu_per_mrows"] * 100
        text += f"; the Spark ceiling alone uses {floor:.0f} %"
        if floor > 20:
            text += " (out of reach through Spark)"
    return text


def target_rate(o: dict, py: dict | None, rust: dict | None, ceil: dict | None) -> str:
    """≥ 5x pika's msg/s, unless even the Rust limit (the broker's cap) or the Spark
    ceiling (Spark's) is not."""
    if py is None:
        return "-"
    x = o["rows_per_s"] / py["rows_per_s"]
    if x >= 5.0:
        return f"met: {x:.1f}x"
    short = [
        f"{name} itself is only {v['rows_per_s'] / py['rows_per_s']:.1f}x"
        for name, v in (
            ("the Rust limit (broker cap)", rust),
            ("the Spark ceiling (Spark cap)", ceil),
        )
        if v is not None and v["rows_per_s"] / py["rows_per_s"] < 5.0
    ]
    if short:
        return f"out of reach here: {x:.1f}x; " + "; ".join(short)
    return f"missed: {x:.1f}x"


def rabbit_targets(summary: dict, body: int, sizes: list[int]) -> list[str]:
    """The issue's targets: ≥ 0.8x the Rust limit, ≤ 1/5 of pika's client CPU per message,
    ≥ 5x pika's rate wherever the broker is not the cap. A target no client can reach
    here says so with the evidence: the Rust limit (the connector without Spark: the
    broker's cap) or the Spark ceiling (no I/O: Spark's cap) falls short of it itself."""
    lines = []
    for op in SYS.ops:
        for s in sizes:
            o = summary.get(("ours", op, s))
            if o is None:
                continue
            rust, py, ceil = (summary.get((n, op, s)) for n in ("rust", "pika", "ceiling"))
            lines.append(
                f"| {op} | {body_label(body)} | {s:,} | {target_rust(o, rust, ceil)} "
                f"| {target_cpu(o, py, ceil)} | {target_rate(o, py, rust, ceil)} |"
            )
    return lines


RABBIT_OP_TITLES = {
    "read": "Batch read of the whole stream (`first` to `latest`) to the `noop` sink",
    "write": "Batch publish of a generated DataFrame with publisher confirms",
}


def rabbit_report(data: dict[str, Any], md_path: Path, png_path: Path) -> str:  # noqa: PLR0912
    meta, results = data["meta"], data["results"]
    per_body = rabbit_summaries(data)
    plan = meta["plan"]
    m = meta["machine"]
    contenders = meta.get("contenders", {})
    javas = [c.get("java") for c in contenders.values() if c.get("java")]
    java = javas[0] if javas else "?"
    lines = [
        f"# Benchmark results: {SYS.title}",
        "",
        "Generated by `integration/bench/run.sh rabbitmq` "
        + (
            "(`--smoke`: tiny sizes, one repetition - proves the harness, not the speed) "
            if plan["smoke"]
            else ""
        )
        + f"on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. "
        "See `README.md` beside this file for what is measured and how.",
        "",
        (
            "- **Interrupted run**: the tables are built from the repetitions the run "
            "finished before it stopped (`n=` marks medians of fewer repetitions than "
            "planned); the machine line is read when the report was made.\n"
            if plan.get("interrupted")
            else ""
        )
        + f"- Machine: {m['nproc']} cores ({m['cpu']}), {m['memory_gib']} GiB, "
        f"Linux {m['kernel']}; load average at start {m['load_start'][0]:.1f}, at end "
        f"{m['load_end'][0]:.1f} (shared by the broker, Spark and the clients: absolute "
        "numbers are noisy, ratios within one run are the point).",
        f"- Broker: RabbitMQ {meta.get('server', '?')} (the project's harness, loopback, "
        "AMQP 0-9-1). Every queue is a stream queue (`x-queue-type: stream`); a write goes "
        "to a stream deleted and declared again before it, and is counted by reading it "
        "back with pika.",
        "- Versions: "
        + ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
        + f"; Java {java}.",
        "- Spark `local[2]`, driver memory 3g, session time zone UTC, "
        "`spark.sql.execution.arrow.maxRecordsPerBatch=65536` (spark-ds's recommendation). "
        "spark-ds-rabbitmq runs with its defaults (`offsetsPerPartition` 250,000, "
        "`prefetchCount` 2,000, `maxInFlight` 1,000, persistent, mandatory); the pika source "
        "plans the same offset ranges with the same prefetch. Reads: `startingOffsets=first`, "
        "`endingOffsets=latest`, every message column. Writes: one binary `body` column, "
        "published to the default exchange with the queue as routing key.",
        "- Sizes (messages): "
        + "; ".join(
            f"{body_label(b)} bodies: {', '.join(f'{n:,}' for n in sizes)}"
            for b, (sizes, _) in per_body.items()
        )
        + f"; median of {plan['reps']} "
        + (
            {
                "each": "timed repetitions after one untimed warm-up of each operation per "
                "contender and size; ",
                "first": "timed repetitions; one untimed warm-up of each operation per "
                "contender at the first size of each body size; ",
                "none": "timed repetition(s), no warm-up; ",
            }[plan["warmup"]]
        )
        + "contenders interleaved, order rotated each repetition.",
        "- msg/s = messages / median seconds; MB/s = messages x body bytes / seconds. "
        "**CPU s/M** = CPU seconds of the client per million messages: the JVM and all its "
        "Python workers (for the Rust limit its own process). **Broker s/M** = CPU seconds "
        "of the broker's process tree in the same window, per million messages. Py-worker "
        "RSS = largest single Python worker process seen (sampled every 0.2 s).",
        "",
    ]
    names_all = list(SYS.contenders)
    for body, (sizes, summary) in per_body.items():
        if not summary:
            continue
        lines += [f"## {body_label(body)} bodies", ""]
        for op in SYS.ops:
            if not any(k[1] == op for k in summary):
                continue
            lines += [f"### {RABBIT_OP_TITLES[op]}", ""]
            header = (
                "| contender | "
                + " | ".join(
                    f"{s:,} messages: msg/s · MB/s · CPU s/M · broker s/M · Py-worker RSS MiB"
                    for s in sizes
                )
                + " |"
            )
            lines += [header, "|---|" + "---|" * len(sizes)]
            for n in (n for n in names_all if has_op(n, op)):
                if not any(k[0] == n for k in summary):
                    continue
                label = SYS.contenders[n]
                if op == "write" and n == "ceiling":
                    label = "Spark ceiling: Arrow writer discarding batches"
                cells = []
                for s in sizes:
                    v = summary.get((n, op, s))
                    skip = data["skipped"].get(skip_key(n, op, s, body)) or data["skipped"].get(n)
                    if v is None:
                        cells.append("skipped" if skip else "-")
                        continue
                    rss = f"{v['peak_worker_rss_mib']:.0f}" if v["peak_worker_rss_mib"] else "-"
                    broker = (
                        f"{v['server_cpu_per_mrows']:.1f}" if "server_cpu_per_mrows" in v else "-"
                    )
                    n_note = f" (n={v['n']})" if v["n"] < plan["reps"] else ""
                    cells.append(
                        f"{fmt_rate(v['rows_per_s'])} · {v['mb_per_s']:.1f} · "
                        f"{v['cpu_per_mrows']:.1f} · {broker} · {rss}{n_note}"
                    )
                lines.append(f"| {label} | " + " | ".join(cells) + " |")
            lines.append("")
        lines += [
            f"### Ratios at {body_label(body)} (spark-ds-rabbitmq ÷ contender, msg/s; >1 means "
            "spark-ds is faster)",
            "",
            "| op | messages | " + " | ".join(h for _, h, _ in SYS.ratios) + " |",
            "|---|---|" + "---|" * len(SYS.ratios),
        ]
        for op in SYS.ops:
            for s in sizes:
                o = summary.get(("ours", op, s))
                if o is None:
                    continue
                cells = []
                for other, _, pct in SYS.ratios:
                    v = summary.get((other, op, s))
                    if v is None:
                        cells.append("-")
                        continue
                    x = o["rows_per_s"] / v["rows_per_s"]
                    cells.append(f"{x * 100:.0f} %" if pct else f"{x:.2f}x")
                lines.append(f"| {op} | {s:,} | " + " | ".join(cells) + " |")
        lines.append("")
    cpu_names = [n for n in SYS.contenders if n != "ceiling"]
    cap_rows = [row for b, (sizes, sm) in per_body.items() for row in rabbit_cap(sm, b, sizes)]
    if cap_rows:
        lines += [
            "## Broker cap",
            "",
            "One RabbitMQ node shares this machine's cores with Spark and the clients. The "
            "Rust limit (the connector's own reader and publisher, no Spark) shows what the "
            "broker allows a client here; where spark-ds reaches at least "
            f"{CAPPED * 100:.0f} % of it, the broker caps every contender and the msg/s "
            "ratios say little: compare **client CPU s per M messages** instead. Where "
            f"spark-ds is under {CAPPED * 100:.0f} % of the Rust limit but at least "
            f"{CAPPED * 100:.0f} % of the Spark ceiling (Spark's own Python data source "
            "path with no I/O), Spark caps it. *Broker cores* is the broker's CPU seconds per "
            "wall second during the run (2 = both cores), for the Rust limit and for "
            "spark-ds.",
            "",
            "| op | body | messages | Rust limit msg/s | Spark ceiling msg/s | spark-ds ÷ Rust "
            "limit | broker cores: rust · ours | capped by | client CPU s/M: "
            + " · ".join(cpu_names)
            + " |",
            "|---|---|---|---|---|---|---|---|---|",
            *cap_rows,
            "",
        ]
    target_rows = [
        row for b, (sizes, sm) in per_body.items() for row in rabbit_targets(sm, b, sizes)
    ]
    if target_rows:
        lines += [
            "## Targets",
            "",
            "| op | body | messages | ≥ 0.8x Rust limit msg/s | ≤ 1/5 of pika's CPU per "
            "message | ≥ 5x pika's msg/s (where the broker is not the cap) |",
            "|---|---|---|---|---|---|",
            *target_rows,
            "",
        ]
    if data["skipped"]:
        lines += ["## Not measured", ""]
        for k, v in data["skipped"].items():
            lines.append(f"- `{k}`: {v}")
        lines.append("")
    errors = [r for r in results if "error" in r]
    if errors:
        lines += ["## Errors", ""]
        for r in errors:
            body = r.get("body_bytes")
            at = f" at {body_label(body)}" if body else ""
            lines.append(f"- {r['contender']} {r['op']} {r['rows']:,}{at}: {str(r['error'])[:300]}")
        lines.append("")
    spreads = []
    for body, (_, summary) in per_body.items():
        for (n, op, s), v in sorted(summary.items()):
            lo, hi = v["spread"]
            spreads.append(f"{n} {op} {s:,} at {body_label(body)}: {lo:.2f}-{hi:.2f} s")
    lines += ["<details><summary>Spread of the timed repetitions (min-max seconds)</summary>", ""]
    lines += ["; ".join(spreads), "", "</details>", ""]
    notes = ""
    if md_path.exists():
        old = md_path.read_text()
        if "<!-- notes:begin -->" in old and "<!-- notes:end -->" in old:
            notes = old[old.index("<!-- notes:begin -->") : old.index("<!-- notes:end -->")]
            notes += "<!-- notes:end -->\n"
    if not notes:
        notes = "<!-- notes:begin -->\n## Findings\n\n(none yet)\n<!-- notes:end -->\n"
    lines += [notes]
    lines.insert(2, f"![messages/s per contender]({png_path.name})\n")
    text = "\n".join(lines)
    md_path.write_text(text)
    rabbit_chart(per_body, png_path)
    return text


def rabbit_chart(per_body: dict[int, tuple[list[int], dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    panels = [
        (body, op, sizes, summary)
        for body, (sizes, summary) in per_body.items()
        for op in SYS.ops
        if any(k[1] == op for k in summary)
    ]
    if not panels:
        return
    cols = len(SYS.ops)
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6.5 * cols, 5 * rows), squeeze=False)
    flat = [ax for row in axes for ax in row]
    for ax in flat[len(panels) :]:
        ax.set_visible(False)
    for ax, (body, op, sizes, summary) in zip(flat, panels, strict=False):
        present = [n for n in SYS.contenders if any(k[0] == n and k[1] == op for k in summary)]
        width = 0.8 / max(1, len(present))
        for i, n in enumerate(present):
            ys = [summary.get((n, op, s), {}).get("rows_per_s", 0) / 1e3 for s in sizes]
            xs = [j + (i - (len(present) - 1) / 2) * width for j in range(len(sizes))]
            label = SYS.contenders[n]
            if op == "write" and n == "ceiling":
                label = "Spark ceiling: Arrow writer, no I/O"
            bars = ax.bar(xs, ys, width, label=label, color=SYS.colors.get(n))
            ax.bar_label(bars, labels=[f"{y:.3g}" if y else "" for y in ys], fontsize=7)
        ax.set_xticks(range(len(sizes)), [f"{s:,} messages" for s in sizes])
        ax.set_ylabel("thousand messages/s (median), log scale")
        ax.set_yscale("log")
        # Bars of a log axis start at its bottom: put it well under the smallest bar.
        low = [v["rows_per_s"] / 1e3 for k, v in summary.items() if k[1] == op]
        if low:
            ax.set_ylim(bottom=min(low) / 4)
        ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda y, _: f"{y:g}"))
        what = "read → noop" if op == "read" else "publish with confirms"
        ax.set_title(f"RabbitMQ stream queue {what}, {body_label(body)} bodies")
        ax.grid(axis="y", alpha=0.3)
    handles, labels = flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8, frameon=False)
    fig.suptitle("spark-ds benchmark - same machine, same RabbitMQ, same messages, one run")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def load_source(live: dict[str, Any], rows: int, src: str, extra: dict[str, Any]) -> None:
    loader = next((c for c in SYS.loaders if c in live), None)
    if loader is None:
        raise RuntimeError("no contender can load the source table")
    log(f"loading {rows:,} rows into {src} with {loader}")
    t0 = time.perf_counter()
    r = live[loader].run({"op": "write", "rows": rows, "table": src, **extra})
    if "error" in r:
        raise RuntimeError(f"loading {src} failed: {r['error']}")
    log(f"loaded in {time.perf_counter() - t0:.1f} s")


# RabbitMQ's default sizes per body size: 10 KB bodies at a tenth of the messages (1M of
# them would be 10 GB a stream).
RABBIT_SIZES = {100: [100_000, 1_000_000], 10_240: [10_000, 100_000]}


def main() -> int:  # noqa: PLR0912
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "system", nargs="?", default="cassandra", help="cassandra (default), mongodb or rabbitmq"
    )
    ap.add_argument(
        "--rows",
        default="",
        help="sizes (default: cassandra 100k,1M,10M; mongodb 100k,1M; rabbitmq 100k,1M "
        "messages at 100 B bodies and 10k,100k at 10 KB; given, they apply to every body size)",
    )
    ap.add_argument(
        "--body-bytes",
        default="",
        help="rabbitmq: comma-separated message body sizes in bytes (default 100,10240)",
    )
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--only", default="", help="comma-separated contenders to run")
    ap.add_argument("--skip", default="", help="comma-separated contenders to leave out")
    ap.add_argument("--ops", default="", help="comma-separated operations to measure (default all)")
    ap.add_argument(
        "--warmup",
        choices=["each", "first", "none"],
        default="",
        help="untimed warm-up of each operation per contender: at each size, or the first only "
        "(default: cassandra each, mongodb and rabbitmq first; rabbitmq: per body size)",
    )
    ap.add_argument(
        "--budget-minutes",
        type=float,
        default=0.0,
        help="skip a contender's op at a size when projected to take longer (all runs; "
        "default: cassandra 15, mongodb 75, rabbitmq 20)",
    )
    ap.add_argument("--report", default="", help="only regenerate the report from a raw JSON")
    ap.add_argument("--skip-reason", action="append", default=[], help="name=reason")
    ap.add_argument("--out", default=str(HERE))
    a = ap.parse_args()
    global SYS  # noqa: PLW0603 - chosen once, before anything runs
    if a.system not in SYSTEMS:
        known = ", ".join(SYSTEMS)
        print(f"bench: no benchmark for `{a.system}` (one of: {known})", file=sys.stderr)
        return 2
    SYS = SYSTEMS[a.system]
    global WANTED_OPS  # noqa: PLW0603 - chosen once, before anything runs
    WANTED_OPS = tuple(op for op in a.ops.split(",") if op)
    if bad := [op for op in WANTED_OPS if op not in SYS.ops]:
        print(f"bench: --ops {bad}: {SYS.name} measures {', '.join(SYS.ops)}", file=sys.stderr)
        return 2
    # MongoDB's defaults make the 1M run (README): FerretDB's minutes-long reads need a
    # larger budget, and warm-ups at 1M would add an hour.
    mongo, rabbit = SYS is MONGODB, SYS is RABBITMQ
    rows = a.rows or ("100000,1000000" if mongo or rabbit else "100000,1000000,10000000")
    sizes = [int(x.replace("_", "")) for x in rows.split(",") if x]
    if a.body_bytes and not rabbit:
        print("bench: --body-bytes is for rabbitmq only", file=sys.stderr)
        return 2
    bodies: dict[int, list[int]] = {}
    if rabbit:
        wanted_bodies = [int(x) for x in a.body_bytes.split(",") if x] or list(RABBIT_SIZES)
        for body in wanted_bodies:
            if a.smoke and not a.rows:
                bodies[body] = [2000]
            else:
                bodies[body] = sizes if a.rows else RABBIT_SIZES.get(body, sizes)
        sizes = sorted({n for ns in bodies.values() for n in ns})
    budget = 75.0 if mongo else 20.0 if rabbit else 15.0
    plan = Plan(
        sizes=[2000] if a.smoke and not a.rows else sizes,
        reps=1 if a.smoke else a.reps,
        warmup="none" if a.smoke else (a.warmup or ("first" if mongo or rabbit else "each")),
        verify=True,
        smoke=a.smoke,
        budget=(a.budget_minutes or budget) * 60,
        contenders=[],
        bodies=bodies,
    )
    unknown = [c for c in (a.only + "," + a.skip).split(",") if c and c not in SYS.contenders]
    if unknown:
        known = ", ".join(SYS.contenders)
        print(f"bench: unknown contender(s) {unknown} for {SYS.name} ({known})", file=sys.stderr)
        return 2
    wanted = [c for c in SYS.contenders if (not a.only or c in a.only.split(","))]
    wanted = [c for c in wanted if c not in a.skip.split(",")]
    for item in a.skip_reason:
        name, _, why = item.partition("=")
        plan.skipped[name] = why
    for c in wanted:
        if c in plan.skipped:
            continue
        if c == "ours" and (why := ours_available()):
            plan.skipped[c] = why
        elif c in SYS.pythons and not SYS.pythons[c].exists():
            plan.skipped[c] = f"{SYS.pythons[c]} missing (run.sh creates it)"
        elif c == "rust" and not SYS.rust_bin.exists():
            plan.skipped[c] = f"{SYS.rust_bin} missing (cargo build --release -p {SYS.rust_crate})"
        else:
            plan.contenders.append(c)
    for k, v in plan.skipped.items():
        log(f"not running {k}: {v}")
    at = "".join(f"; {b:,} B bodies: {n}" for b, n in plan.bodies.items())
    log(f"contenders {plan.contenders}, sizes {plan.sizes}{at}, reps {plan.reps}")
    if a.report:
        if a.report.endswith(".jsonl"):
            # An interrupted run: the per-run lines it left, described with this machine.
            lines = Path(a.report).read_text().splitlines()
            results = [json.loads(x) for x in lines if x.strip()]
            db = store(services_cfg())
            anchor = {"spark": "3.5.9", "java": "17.0.15"}
            anchors = {MONGODB.name: "mongo-spark", CASSANDRA.name: "scc"}
            data = {
                "meta": {
                    "system": SYS.name,
                    "machine": {**machine(), "load_end": os.getloadavg()},
                    "versions": versions(),
                    "server": db.release_version(),
                    "plan": {
                        "sizes": plan.sizes,
                        "reps": plan.reps,
                        "warmup": plan.warmup,
                        "smoke": plan.smoke,
                        "interrupted": True,
                    },
                    "arrow_bytes_per_row": bytes_per_row(),
                    "contenders": {anchors[SYS.name]: anchor} if SYS.name in anchors else {},
                },
                "results": results,
                "skipped": plan.skipped,
            }
            if plan.bodies:
                bodies_seen = {r.get("body_bytes") for r in results}
                data["meta"]["plan"]["bodies"] = {
                    str(b): ns for b, ns in plan.bodies.items() if b in bodies_seen
                }
            db.close()
        else:
            data = json.loads(Path(a.report).read_text())
        text = report(data, Path(a.out) / SYS.results, Path(a.out) / SYS.chart_name)
        print(text)
        return 0
    data = run(plan, services_cfg())
    OUT.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    raw = OUT / f"results-{SYS.name}-{stamp}.json"
    raw.write_text(json.dumps(data, indent=1, default=str))
    out_dir = Path(a.out)
    if a.smoke and a.out == str(HERE):
        out_dir = OUT  # a smoke run never overwrites the committed results
    md = out_dir / SYS.results
    text = report(data, md, out_dir / SYS.chart_name)
    print(text)
    log(f"raw results {raw}; table {md}; chart {out_dir / SYS.chart_name}")
    failed = [r for r in data["results"] if "error" in r]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
