"""Runs every Cassandra contender side by side and writes RESULTS.md and results.png.

Called by run.sh (which prepares the environments); see README.md for what is measured.
All contenders run in one process tree, against the same Cassandra, on the same data,
interleaved repetition by repetition, so the noise of a shared machine hits them alike.
"""

from __future__ import annotations

import argparse
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

import workload  # noqa: E402

PROJECT_PY = ROOT / ".venv" / "bin" / "python"
SCC_PY = HERE / ".venv-scc" / "bin" / "python"
RUST_SCAN = ROOT / "target" / "release" / "rust-scan"
OUT = HERE / "out"

# Display order and labels. `ours` is the subject; the rest are what it is compared with.
CONTENDERS = {
    "ours": "spark-ds-cassandra (Spark 4.3, Arrow)",
    "scc": "spark-cassandra-connector 3.5.1 (JVM, **Spark 3.5.9**)",
    "python": "pure-Python DataSource (cassandra-driver, tuples/Rows)",
    "ceiling": "Spark ceiling: Python DataSource, Arrow, no I/O",
    "rust": "Rust limit: same reader/writer, no Spark",
}
SPARK_CONTENDERS = ("ours", "scc", "python", "ceiling")
SINK = {"ours": "sink_ours", "scc": "sink_scc", "python": "sink_python", "rust": "sink_rust"}
# Operations, and the contenders that have each (stream: a Structured Streaming sink).
OPS = ("read", "write", "stream")
STREAMING = ("ours", "scc")
OP_TITLES = {
    "read": "Batch read to the `noop` sink",
    "write": "Batch write of a generated DataFrame",
    "stream": "Stream write: the same rows as 8 Parquet files, 4 micro-batches (`availableNow`)",
}


def has_op(name: str, op: str) -> bool:
    return op != "stream" or name in STREAMING


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def services_cassandra() -> dict[str, Any]:
    env = json.loads((ROOT / ".services" / "env.json").read_text())
    return env["cassandra"]


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

    def reset_keyspace(self, tables: list[str]) -> None:
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

    def truncate(self, table: str) -> None:
        self.run(f"TRUNCATE {workload.KEYSPACE}.{table}")

    def count(self, table: str) -> int:
        return int(self.run(f"SELECT count(*) FROM {workload.KEYSPACE}.{table}").one()[0])


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
            f"keyspace={workload.KEYSPACE}",
        ]
        self.info = {"binary": str(RUST_SCAN)}

    def run(self, cmd: dict[str, Any]) -> dict[str, Any]:
        argv = [str(RUST_SCAN), cmd["op"], "--tasks", "2", "--rows", str(cmd["rows"])]
        for o in [*self.opts, f"table={cmd['table']}"]:
            argv += ["-o", o]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # wait4 gives the child's own CPU time and peak RSS (no Spark, no Python).
        _, status, usage = os.wait4(proc.pid, 0)
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
    for mod in ("pyspark", "pyarrow", "cassandra"):
        try:
            m = __import__(mod)
            out[mod if mod != "cassandra" else "cassandra-driver"] = str(m.__version__)
        except ImportError:
            pass
    try:
        from importlib.metadata import version

        out["spark-ds-cassandra"] = version("spark-ds-cassandra")
    except Exception:  # not installed: reported as missing
        out["spark-ds-cassandra"] = "not installed"
    rev = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    out["spark-ds commit"] = rev.stdout.strip()
    return out


def ours_available() -> str | None:
    """None when the cassandra wheel is installed and imports; else why not."""
    probe = subprocess.run(
        [str(PROJECT_PY), "-c", "import pyspark_ds_cassandra._native"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["?"])[-1]
        return f"spark-ds-cassandra wheel not importable ({last}); run `make install`"
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
    return out


def run(plan: Plan, cfg: dict[str, Any]) -> dict[str, Any]:  # noqa: PLR0912
    OUT.mkdir(parents=True, exist_ok=True)
    raw_log = OUT / f"results-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"  # one line per run
    cql = Cql(cfg)
    sizes = plan.sizes
    tables = [f"src_{n}" for n in sizes] + [SINK[c] for c in plan.contenders if c in SINK]
    log(f"resetting keyspace {workload.KEYSPACE}: {', '.join(tables)}")
    cql.reset_keyspace(tables)
    meta: dict[str, Any] = {
        "machine": machine(),
        "versions": versions(),
        "cassandra": cql.release_version(),
        "plan": {"sizes": sizes, "reps": plan.reps, "warmup": plan.warmup, "smoke": plan.smoke},
    }
    bpr = workload.arrow_bytes_per_row()
    meta["arrow_bytes_per_row"] = bpr

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
                    py = SCC_PY if name == "scc" else PROJECT_PY
                    live[name] = SparkContender(name, py, cfg)
            except Exception as e:  # reported in the table, the run goes on
                plan.skipped[name] = f"failed to start: {e}"
                log(f"{name} failed to start: {e}")
                continue
            log(f"{name} ready in {time.perf_counter() - t0:.1f} s: {live[name].info}")
        meta["contenders"] = {n: c.info for n, c in live.items()}

        # Median timed rows/s per (contender, op) at the previous size, for the budget.
        rate: dict[tuple[str, str], float] = {}
        for size_index, rows in enumerate(sizes):
            src = f"src_{rows}"
            loader = next((c for c in ("rust", "ours", "scc", "python") if c in live), None)
            if loader is None:
                raise RuntimeError("no contender can load the source table")
            log(f"loading {rows:,} rows into {src} with {loader}")
            t0 = time.perf_counter()
            r = live[loader].run({"op": "write", "rows": rows, "table": src})
            if "error" in r:
                raise RuntimeError(f"loading {src} failed: {r['error']}")
            log(f"loaded in {time.perf_counter() - t0:.1f} s")
            log(f"compactions settled in {cql.settle():.1f} s")
            warm = plan.warmup == "each" or (plan.warmup == "first" and size_index == 0)
            runs = plan.reps + int(warm)
            todo: dict[str, list[str]] = {}
            for name in live:
                for op in (op for op in OPS if has_op(name, op)):
                    if (name, op) in rate:
                        projected = rows / rate[(name, op)] * runs
                        if projected > plan.budget:
                            why = (
                                f"projected {projected / 60:.1f} min for {runs} runs > budget "
                                f"{plan.budget / 60:.1f} min (from its speed at the previous size)"
                            )
                            plan.skipped[f"{name} {op}@{rows}"] = why
                            log(f"skipping {name} {op} at {rows:,} rows: {why}")
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
            ) -> None:
                if op not in todo.get(name, []):
                    return
                table = src if op == "read" else SINK.get(name, "-")
                if op in ("write", "stream") and name in SINK:
                    cql.truncate(table)
                # Row counts are checked once per contender and size (first timed run).
                verify = plan.verify and timed and rep == 0
                cmd = {"op": op, "rows": rows, "table": table, "verify": verify}
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
                log(f"  {name:8s} {op:5s} {tag:7s} {r['seconds']:8.2f} s  {speed:12,.0f} rows/s")
                if verify and op == "read" and r.get("verified_rows") != rows:
                    r["error"] = f"read {r.get('verified_rows')} rows, expected {rows}"
                    log(f"  {name} read the wrong number of rows: {r['error']}")
                # count(*) over a large table times out on the server: check small ones only.
                if verify and op in ("write", "stream") and name in SINK and rows <= 200_000:
                    n = cql.count(table)
                    if n != rows:
                        r["error"] = f"wrote {n} rows, expected {rows}"
                        log(f"  {name} wrote the wrong number of rows: {r['error']}")

            if warm:
                log(f"{rows:,} rows: warm-up (each contender reads and writes once, untimed)")
                for name in active:
                    for op in OPS:
                        one(name, op, False, -1)
            for rep in range(plan.reps if active else 0):
                # Rotate the order each repetition so no contender always runs first.
                order = active[rep % len(active) :] + active[: rep % len(active)]
                log(f"{rows:,} rows: repetition {rep + 1}/{plan.reps}, order {order}")
                for op in OPS:
                    for name in order:
                        one(name, op, True, rep)
            for key, secs in timings.items():
                rate[key] = rows / statistics.median(secs)
    finally:
        for c in live.values():
            c.close()
        cql.cluster.shutdown()
    meta["machine"]["load_end"] = os.getloadavg()
    return {"meta": meta, "results": results, "skipped": plan.skipped}


# --------------------------------------------------------------------------- report


def fmt_rate(x: float) -> str:
    if x >= 1e6:
        return f"{x / 1e6:.2f} M"
    return f"{x / 1e3:.0f} k" if x >= 1e4 else f"{x:,.0f}"


def report(data: dict[str, Any], md_path: Path, png_path: Path) -> str:  # noqa: PLR0912
    meta, results = data["meta"], data["results"]
    bpr = meta["arrow_bytes_per_row"]
    summary = summarize(results, bpr)
    sizes = meta["plan"]["sizes"]
    names = [n for n in CONTENDERS if any(k[0] == n for k in summary)]
    m = meta["machine"]
    javas = [c.get("java") for c in meta.get("contenders", {}).values() if c.get("java")]
    java = javas[0] if javas else "?"
    lines = [
        "# Benchmark results: Cassandra",
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
        f"- Cassandra {meta['cassandra']} (one node, the project's harness), keyspace "
        f"`{workload.KEYSPACE}`, RF 1. Table: `id bigint PRIMARY KEY, i int, d double, s text, "
        "ts timestamp, u uuid, tags list<text>`.",
        "- Versions: "
        + ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
        + "; JVM anchor: "
        + (
            f"Spark {meta['contenders']['scc'].get('spark')}"
            if "scc" in meta.get("contenders", {})
            else "not run"
        )
        + f"; Java {java}.",
        "- Spark `local[2]`, driver memory 3g, session time zone UTC; Spark 4.3 contenders with "
        "`spark.sql.execution.arrow.maxRecordsPerBatch=65536` (spark-ds's recommendation). "
        "Connectors run with their default options (fetch size, splits, write concurrency).",
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
        if not any(k[1] == op for k in summary):
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
                label = CONTENDERS[n]
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
    lines += ["## Ratios (spark-ds-cassandra ÷ contender, rows/s; >1 means spark-ds is faster)", ""]
    lines += [
        "| op | rows | vs SCC (Spark 3.5) | vs pure Python "
        "| share of Spark ceiling | share of Rust limit |"
    ]
    lines += ["|---|---|---|---|---|---|"]
    for op in OPS:
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

            lines.append(
                f"| {op} | {s:,} | {ratio('scc')} | {ratio('python')} | "
                f"{ratio('ceiling', True)} | {ratio('rust', True)} |"
            )
    lines.append("")
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

    ops = [op for op in OPS if any(k[1] == op for k in summary)]
    fig, axes = plt.subplots(1, len(ops), figsize=(6.5 * len(ops), 6), squeeze=False)
    axes = list(axes[0])
    colors = {
        "ours": "#d62728",
        "scc": "#1f77b4",
        "python": "#ff7f0e",
        "ceiling": "#7f7f7f",
        "rust": "#2ca02c",
    }
    titles = {"read": " → noop", "write": " (generated DataFrame)", "stream": " (4 micro-batches)"}
    for ax, op in zip(axes, ops, strict=True):
        present = [n for n in names if has_op(n, op)]
        width = 0.8 / max(1, len(present))
        for i, n in enumerate(present):
            ys = [summary.get((n, op, s), {}).get("rows_per_s", 0) / 1e6 for s in sizes]
            xs = [j + (i - (len(present) - 1) / 2) * width for j in range(len(sizes))]
            label = CONTENDERS[n].replace("**", "")
            if op == "write" and n == "ceiling":
                label = "Spark ceiling: Arrow writer, no I/O"
            ax.bar(xs, ys, width, label=label, color=colors.get(n))
        ax.set_xticks(range(len(sizes)), [f"{s:,} rows" for s in sizes])
        ax.set_ylabel("million rows/s (median)")
        kind = "stream write" if op == "stream" else f"batch {op}"
        ax.set_title(f"Cassandra {kind}{titles[op]}")
        ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.suptitle("spark-ds benchmark - same machine, same Cassandra, same data, one run")
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> int:  # noqa: PLR0912
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("connectors", nargs="*", default=["cassandra"])
    ap.add_argument("--rows", default="100000,1000000,10000000")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--only", default="", help="comma-separated contenders to run")
    ap.add_argument("--skip", default="", help="comma-separated contenders to leave out")
    ap.add_argument(
        "--warmup",
        choices=["each", "first", "none"],
        default="each",
        help="untimed warm-up of each operation per contender: at each size, or the first only",
    )
    ap.add_argument(
        "--budget-minutes",
        type=float,
        default=15.0,
        help="skip a contender's op at a size when projected to take longer (all runs)",
    )
    ap.add_argument("--report", default="", help="only regenerate the report from a raw JSON")
    ap.add_argument("--skip-reason", action="append", default=[], help="name=reason")
    ap.add_argument("--out", default=str(HERE))
    a = ap.parse_args()
    for c in a.connectors:
        if c != "cassandra":
            print(f"bench: no benchmark for connector `{c}` yet (only cassandra)", file=sys.stderr)
            return 2
    sizes = [int(x.replace("_", "")) for x in a.rows.split(",") if x]
    plan = Plan(
        sizes=[2000] if a.smoke and a.rows == ap.get_default("rows") else sizes,
        reps=1 if a.smoke else a.reps,
        warmup="none" if a.smoke else a.warmup,
        verify=True,
        smoke=a.smoke,
        budget=a.budget_minutes * 60,
        contenders=[],
    )
    wanted = [c for c in CONTENDERS if (not a.only or c in a.only.split(","))]
    wanted = [c for c in wanted if c not in a.skip.split(",")]
    for item in a.skip_reason:
        name, _, why = item.partition("=")
        plan.skipped[name] = why
    for c in wanted:
        if c in plan.skipped:
            continue
        if c == "ours" and (why := ours_available()):
            plan.skipped[c] = why
        elif c == "scc" and not SCC_PY.exists():
            plan.skipped[c] = f"{SCC_PY} missing (run.sh creates it)"
        elif c == "rust" and not RUST_SCAN.exists():
            plan.skipped[c] = (
                f"{RUST_SCAN} missing (cargo build --release -p spark-ds-bench-rust-scan)"
            )
        else:
            plan.contenders.append(c)
    for k, v in plan.skipped.items():
        log(f"not running {k}: {v}")
    log(f"contenders {plan.contenders}, sizes {plan.sizes}, reps {plan.reps}")
    if a.report:
        if a.report.endswith(".jsonl"):
            # An interrupted run: the per-run lines it left, described with this machine.
            lines = Path(a.report).read_text().splitlines()
            results = [json.loads(x) for x in lines if x.strip()]
            cql = Cql(services_cassandra())
            data = {
                "meta": {
                    "machine": {**machine(), "load_end": os.getloadavg()},
                    "versions": versions(),
                    "cassandra": cql.release_version(),
                    "plan": {
                        "sizes": plan.sizes,
                        "reps": plan.reps,
                        "warmup": plan.warmup,
                        "smoke": plan.smoke,
                        "interrupted": True,
                    },
                    "arrow_bytes_per_row": workload.arrow_bytes_per_row(),
                    "contenders": {"scc": {"spark": "3.5.9", "java": "17.0.15"}},
                },
                "results": results,
                "skipped": plan.skipped,
            }
            cql.cluster.shutdown()
        else:
            data = json.loads(Path(a.report).read_text())
        text = report(data, Path(a.out) / "RESULTS.md", Path(a.out) / "results.png")
        print(text)
        return 0
    data = run(plan, services_cassandra())
    OUT.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    raw = OUT / f"results-{stamp}.json"
    raw.write_text(json.dumps(data, indent=1, default=str))
    out_dir = Path(a.out)
    if a.smoke and a.out == str(HERE):
        out_dir = OUT  # a smoke run never overwrites the committed results
    md = out_dir / "RESULTS.md"
    text = report(data, md, out_dir / "results.png")
    print(text)
    log(f"raw results {raw}; table {md}; chart {out_dir / 'results.png'}")
    failed = [r for r in data["results"] if "error" in r]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
