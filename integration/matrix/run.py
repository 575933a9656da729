"""The Spark version matrix: the conformance suite on the newest patch of every PySpark 4 line.

    python3 integration/matrix/run.py [--lines 4.0,4.3] [--modes classic,connect] [--fresh]

For each line (the newest patch of every 4.x line PyPI lists, found here) it keeps a
virtualenv under ``.matrix/`` holding only that PySpark (with its Connect extra), a
pyarrow the line accepts, pytest, the suite's own clients (cassandra-driver, pymongo, pika) and
the built wheels from ``dist/`` (or ``SPARK_DS_MATRIX_DIST``); then it runs the conformance
suite in each mode, one line at a time, through ``matrix_plugin.py``:

- ``classic``: a ``local[2]`` session in the test process;
- ``connect``: Spark Connect, ``SparkSession.builder.remote("local[2]")``;
- ``cluster``: the harness's standalone master and two workers, restarted on the line's
  own Spark, with the wheels only in the workers' virtualenv (``.matrix/workers-<version>``);
  the harness's cluster goes back to the project's Spark at the end.

It writes ``integration/matrix/results.json`` (every test's outcome) and ``results.md`` (one
row per connector x line x mode, one column per capability), merging with the previous
results unless ``--fresh``, and puts the table in the root README between the
``matrix:begin``/``matrix:end`` markers (``integration/tests/test_matrix_readme.py`` keeps
them equal).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
import venv
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CONFORMANCE = "integration/tests/conformance"
# Runs `spark-pipelines`, which starts its own Connect server whatever the mode: classic only.
PIPELINES = "integration/tests/test_pipelines.py"
RESULTS_JSON = HERE / "results.json"
RESULTS_MD = HERE / "results.md"
README = ROOT / "README.md"
BEGIN, END = "<!-- matrix:begin -->", "<!-- matrix:end -->"

MODES = ("classic", "connect", "cluster")
CAPABILITIES = (
    "batch_read",
    "batch_write",
    "pushdown",
    "key_lookup",
    "stream_write",
    "stream_read",
    "message_write",
    "message_read",
    "acked_read",
    "pipelines",
    "options",
)
# Test tools the suite needs, as pinned in integration/requirements-dev.txt.
# PyYAML: `spark-pipelines` reads its spec with it (PySpark's `pipelines` extra, 4.1+).
TOOLS = [
    "pytest==9.2.0",
    "pytest-timeout==2.4.0",
    "cassandra-driver==3.30.1",
    "pymongo==4.20.0",
    "pika==1.4.4",
    "pyyaml==6.0.4",
]
# pyarrow per line: the newest release, which is above every line's declared minimum
# (PySpark 4.0 asks for >= 11.0.0, later lines for more); run.py checks the minimum.
PYARROW = "pyarrow==26.0.1"
# pandas comes with PySpark's Connect extra; PySpark 4.x supports pandas < 3.
PANDAS = "pandas==2.3.3"
# Checks each wheel's platform tag against the libraries it links (its own venv in the cache).
AUDITWHEEL = "auditwheel==6.8.2"
# The conformance suite's fast subset, as a pytest -k expression: everything but the
# parametrised variants of one check (each filter pushed, each bad frame in each mode), of
# which a few representative ones stay.
FAST = (
    "not (test_pushed_filter_equals_spark_filtering and not (key_in or string_eq or not_key))"
    " and not (test_non_finite_float_filters_equal_spark_filtering and not in_with_nan)"
    " and not (test_rejected_write_leaves_the_target_untouched and not"
    " (unknown_column-overwrite or string_key-append))"
)


def log(message: str) -> None:
    print(f"[matrix {time.strftime('%H:%M:%S')}] {message}", flush=True)


def newest_patches() -> dict[str, str]:
    """The newest released patch of every PySpark 4.x line on the package index."""
    out = subprocess.run(
        [sys.executable, "-m", "pip", "index", "versions", "pyspark"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    ).stdout
    match = re.search(r"Available versions: (.*)", out)
    if not match:
        raise SystemExit(f"`pip index versions pyspark` listed no versions:\n{out}")
    newest: dict[str, tuple[int, ...]] = {}
    for version in match.group(1).split(", "):
        if not re.fullmatch(r"4\.\d+\.\d+", version.strip()):
            continue  # 3.x lines and pre-releases
        parts = tuple(int(p) for p in version.strip().split("."))
        line = f"{parts[0]}.{parts[1]}"
        newest[line] = max(newest.get(line, parts), parts)
    return {line: ".".join(map(str, v)) for line, v in sorted(newest.items(), key=_line_key)}


def _line_key(item: tuple[str, Any]) -> tuple[int, ...]:
    return tuple(int(p) for p in item[0].split("."))


def copy_wheels(dist: Path, cache: Path) -> list[Path]:
    """The wheels, copied first: a build elsewhere may replace ``dist/`` during the run."""
    found = sorted(dist.glob("spark_ds_*.whl"))
    if not any(w.name.startswith("spark_ds_cassandra-") for w in found):
        raise SystemExit(f"no spark_ds_cassandra wheel in {dist}: run `make wheels` first")
    target = cache / "wheels"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    return [Path(shutil.copy2(w, target)) for w in found]


def audit_wheels(wheels: list[Path], cache: Path) -> dict[str, dict[str, Any]]:
    """``auditwheel show`` per wheel: its platform tag holds, it needs no outside library."""
    tools = cache / "tools"
    auditwheel = tools / "bin" / "auditwheel"
    stamp = tools / ".requirements"
    if not (auditwheel.exists() and stamp.exists() and stamp.read_text() == AUDITWHEEL):
        shutil.rmtree(tools, ignore_errors=True)
        venv.EnvBuilder(with_pip=True).create(tools)
        pip(
            tools / "bin" / "python",
            clean_env(tools / "bin" / "python"),
            "install",
            "-q",
            AUDITWHEEL,
        )
        stamp.write_text(AUDITWHEEL)
    return {w.name: audit_wheel(auditwheel, w) for w in wheels}


def glibc_versions(text: str) -> list[tuple[int, int]]:
    return [(int(a), int(b)) for a, b in re.findall(r"manylinux_(\d+)_(\d+)", text)]


def audit_wheel(auditwheel: Path, wheel: Path) -> dict[str, Any]:
    shown = subprocess.run(
        [str(auditwheel), "show", str(wheel)], capture_output=True, text=True, check=False
    )
    text = " ".join((shown.stdout + shown.stderr).split())
    found = re.search(r'consistent with the following platform tag: "([^"]+)"', text)
    tag = found.group(1) if found else None
    problems = []
    if shown.returncode != 0 or not tag:
        problems.append(f"auditwheel show exited {shown.returncode}: {text[:300]}")
    if "external shared libraries are required" in text:
        problems.append("needs shared libraries outside the manylinux policy")
    # The glibc the name promises (manylinux_2_17 = manylinux2014) must cover what it links.
    promised = glibc_versions(wheel.name)
    needed = max(glibc_versions(tag or ""), default=None)
    if needed and any(p < needed for p in promised):
        problems.append(f"its name promises older glibc than the {tag} it links")
    if "-abi3-" not in wheel.name:
        problems.append("not an abi3 wheel")
    return {"tag": tag, "problems": problems}


def digest(path: Path) -> str:
    """A wheel's short sha256: which build a result belongs to."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def clean_env(python: Path) -> dict[str, str]:
    """The environment of a matrix process: nothing from the caller's Spark or venv."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "SPARK_HOME",
            "PYSPARK_PYTHON",
            "PYSPARK_DRIVER_PYTHON",
            "SPARK_REMOTE",
            "SPARK_CONNECT_MODE_ENABLED",
            "SPARK_LOCAL_REMOTE",
            "VIRTUAL_ENV",
            "PYTHONPATH",
            "SPARK_DS_LOG_FILE",
        }
    }
    env["PATH"] = f"{python.parent}:{env.get('PATH', '/usr/bin:/bin')}"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.setdefault("SPARK_DS_SERVICES_HOME", str(ROOT / ".services"))
    return env


def line_venv(cache: Path, version: str, wheels: list[Path]) -> Path:
    """The line's virtualenv, created once (re-created when its requirements change)."""
    requirements = [f"pyspark[connect]=={version}", PYARROW, PANDAS, *TOOLS]
    home = cache / f"pyspark-{version}"
    python = home / "bin" / "python"
    stamp = home / ".requirements"
    want = hashlib.sha256("\n".join(requirements).encode()).hexdigest()
    env = clean_env(python)
    if not (python.exists() and stamp.exists() and stamp.read_text() == want):
        log(f"creating {home.relative_to(ROOT) if home.is_relative_to(ROOT) else home}")
        shutil.rmtree(home, ignore_errors=True)
        venv.EnvBuilder(with_pip=True).create(home)
        pip(python, env, "install", "--quiet", *requirements)
        stamp.write_text(want)
    # The wheels are reinstalled each run: they change between runs, the rest does not.
    pip(python, env, "install", "--quiet", "--force-reinstall", "--no-deps", *map(str, wheels))
    check_pyarrow_minimum(python, env, version)
    return python


def pip(python: Path, env: dict[str, str], *args: str) -> None:
    subprocess.run([str(python), "-m", "pip", *args], env=env, check=True)


def check_pyarrow_minimum(python: Path, env: dict[str, str], version: str) -> None:
    """Fails when the pinned pyarrow is below the line's own declared minimum."""
    script = (
        "import importlib.metadata as m, re\n"
        "reqs = m.requires('pyspark') or []\n"
        "mins = [re.search(r'>=\\s*([\\d.]+)', r).group(1) for r in reqs\n"
        "        if r.startswith('pyarrow') and '>=' in r]\n"
        "print(max(mins, key=lambda v: tuple(map(int, v.split('.')))) if mins else '')\n"
        "print(m.version('pyarrow'))\n"
    )
    out = subprocess.run(
        [str(python), "-c", script], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    minimum, installed = (out[0], out[1]) if len(out) == 2 else ("", out[-1])
    if minimum and _ver(installed) < _ver(minimum):
        raise SystemExit(f"PySpark {version} needs pyarrow >= {minimum}; {installed} installed")


def _ver(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])


def harness_spark(env: dict[str, str]) -> dict[str, Any] | None:
    path = Path(env["SPARK_DS_SERVICES_HOME"]) / "env.json"
    try:
        return json.loads(path.read_text()).get("spark")
    except (OSError, ValueError):
        return None


def cluster_version(spark: dict[str, Any]) -> str | None:
    """The Spark version the harness's standalone master runs, from its web UI."""
    try:
        with urllib.request.urlopen(spark["master_ui"], timeout=10) as page:
            html = page.read().decode("utf-8", errors="replace")
    except (OSError, KeyError):
        return None
    match = re.search(r'class="version[^>]*>\s*(\d+\.\d+\.\d+)', html)
    return match.group(1) if match else None


def services(action: str, env: dict[str, str]) -> None:
    """``integration/services.sh <action> spark`` in ``env``."""
    script = str(ROOT / "integration" / "services.sh")
    subprocess.run(["bash", script, action, "spark"], env=env, check=True)


def line_cluster(python: Path, version: str, cache: Path, env: dict[str, str]) -> dict[str, Any]:
    """The harness's standalone cluster (master + 2 workers) restarted on the line's Spark.

    Master and workers run from the line's own PySpark; executors run a workers' virtualenv
    holding the same PySpark and no spark-ds until the run installs the wheels there.
    """
    site = subprocess.run(
        [str(python), "-c", "import pyspark, os; print(os.path.dirname(pyspark.__file__))"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    cluster_env = {
        **env,
        "SPARK_DS_SPARK_HOME": site,
        "SPARK_DS_SPARK_WORKER_VENV": str(cache / f"workers-{version}"),
        "SPARK_DS_SPARK_WORKER_PYTHON": str(cache / f"workers-{version}" / "bin" / "python"),
    }
    log(f"PySpark {version} cluster: restarting the harness's standalone cluster on {version}")
    services("down", cluster_env)
    services("up", cluster_env)
    spark = harness_spark(env)
    if not spark:
        raise SystemExit("the harness wrote no Spark section to env.json")
    return spark


def driver_view(worker_python: Path, cache: Path, version: str) -> Path:
    """A directory holding links to the ``pyspark_ds_*`` packages installed for the workers."""
    site = subprocess.run(
        [str(worker_python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    view = cache / f"driver-view-{version}"
    shutil.rmtree(view, ignore_errors=True)
    view.mkdir(parents=True)
    for package in sorted(Path(site).glob("pyspark_ds_*")):
        if package.is_dir():
            (view / package.name).symlink_to(package)
    return view


def restore_cluster() -> None:
    """The harness's cluster back on the project's own Spark, as the test suite expects it."""
    env = clean_env(ROOT / ".venv" / "bin" / "python")
    log("restoring the harness's standalone cluster on the project's Spark")
    services("down", env)
    services("up", env)


def run_mode(
    python: Path, version: str, mode: str, cache: Path, select: str | None
) -> dict[str, Any]:
    """One pytest run of the conformance suite; the plugin's report, or why it did not run."""
    env = clean_env(python)
    env["SPARK_DS_SPARK_MODE"] = mode
    env["PYTHONPATH"] = str(HERE)
    report = cache / f"report-{version}-{mode}.json"
    report.unlink(missing_ok=True)
    env["SPARK_DS_MATRIX_REPORT"] = str(report)
    if mode == "cluster":
        spark = line_cluster(python, version, cache, env)
        running = cluster_version(spark)
        if running != version:
            return {"error": f"the line's standalone cluster runs PySpark {running}, not {version}"}
        worker_python = spark["worker_python"]
        # As a cluster library: the wheels go into the workers' Python only.
        wheels = sorted((cache / "wheels").glob("*.whl"))
        pip(
            Path(worker_python),
            env,
            "install",
            "--quiet",
            "--force-reinstall",
            "--no-deps",
            *map(str, wheels),
        )
        # ... and none in the driver's: a format that resolves came from the workers' Python
        # (line_venv puts them back before the next run).
        names = sorted({w.name.split("-")[0].replace("_", "-") for w in wheels})
        pip(python, env, "uninstall", "--quiet", "--yes", *names)
        # Spark's driver-side Python (the static format lookup, planning) runs
        # PYSPARK_DRIVER_PYTHON, else PYSPARK_PYTHON: on a cluster with the library installed
        # that is the cluster's Python, not the interpreter that imports pyspark.
        env["PYSPARK_DRIVER_PYTHON"] = env["PYSPARK_PYTHON"] = worker_python
        # A notebook attached to the cluster imports the cluster's copy for driver-side
        # helpers (`join_with_cassandra_table`): the test process sees the workers' packages,
        # and only those, without anything importing them before a test asks.
        env["PYTHONPATH"] += os.pathsep + str(driver_view(Path(worker_python), cache, version))
        env["SPARK_DS_SPARK_MASTER"] = spark["master_url"]
        env["SPARK_DS_SPARK_WORKER_PYTHON"] = worker_python
    paths = [CONFORMANCE, PIPELINES] if mode == "classic" else [CONFORMANCE]
    command = [str(python), "-u", "-m", "pytest", *paths, "-p", "matrix_plugin", "-q", "-rfEs"]
    command += ["-p", "no:cacheprovider"]
    if select:
        command += ["-k", select]
    log(f"PySpark {version} {mode}: pytest {' '.join(paths)}")
    started = time.monotonic()
    proc = subprocess.run(command, cwd=ROOT, env=env, check=False)
    elapsed = round(time.monotonic() - started)
    log(f"PySpark {version} {mode}: pytest exited {proc.returncode} after {elapsed} s")
    if not report.exists():
        return {"error": f"pytest exited {proc.returncode} without a report", "seconds": elapsed}
    data = json.loads(report.read_text())
    data["seconds"] = elapsed
    data["exit"] = proc.returncode
    return data


def summarise(data: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per connector, per capability: status, counts and the reasons behind them."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for test in data.get("tests", []):
        connector = test.get("connector") or "?"
        for capability in test.get("capabilities", ["options"]):
            cell = out.setdefault(connector, {}).setdefault(
                capability,
                {"passed": 0, "failed": 0, "not_offered": 0, "notes": []},
            )
            message = test.get("message", "")
            if test["outcome"] == "passed":
                cell["passed"] += 1
            elif test["outcome"] == "failed":
                cell["failed"] += 1
                cell["notes"].append(f"{test['nodeid']}: {message}")
            else:
                cell["not_offered"] += 1
                if "does not declare capability" in message:
                    message = f"not offered: {NOT_DECLARED}"
                cell["notes"].append(message)
    return out


NONE = "-"  # no test of this capability ran
NOT_DECLARED = "the connector does not declare it"


def cell_text(cell: dict[str, Any] | None) -> str:
    if cell is None:
        return NONE
    ran = cell["passed"] + cell["failed"]
    if cell["failed"]:
        return f"**fail** ({cell['failed']} of {ran} tests)"
    if cell["passed"]:
        return "pass"
    notes = sorted(set(cell["notes"]))
    return "not offered: " + "; ".join(n.removeprefix("not offered: ") for n in notes)


def undeclared(results: dict[str, Any]) -> set[tuple[str, str]]:
    """(connector, capability) pairs the connector does not declare, as any line's tests
    found (on an older line a test may skip for the version before it checks)."""
    return {
        (run["connector"], capability)
        for run in results["runs"]
        if "connector" in run
        for capability, cell in run["cells"].items()
        if any(NOT_DECLARED in note for note in cell["notes"])
    }


def render(results: dict[str, Any]) -> str:
    header = ["connector", "PySpark", "mode", *CAPABILITIES, "paths taken"]
    lines = [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---" for _ in header) + " |",
    ]
    not_declared = undeclared(results)
    for run in sorted(results["runs"], key=_run_key):
        if "skipped" in run or "error" in run:
            why = run.get("skipped") or run.get("error")
            lines.append(
                f"| {run.get('connector', 'all')} | {run['pyspark']} | {run['mode']} | "
                + " | ".join(NONE for _ in CAPABILITIES)
                + f" | not run: {why} |"
            )
            continue
        cells = run["cells"]
        paths = run.get("paths", {})
        # A path is named only where the connector offers the capability that takes it.
        taken = ", ".join(
            f"{k}: {paths[k]}"
            for k in ("pushdown", "stream_write")
            if k in paths and (run["connector"], k) not in not_declared
        )
        lines.append(
            f"| {run['connector']} | {run['pyspark']} | {run['mode']} | "
            + " | ".join(cell_text(cells.get(c)) for c in CAPABILITIES)
            + f" | {taken or NONE} |"
        )
    return "\n".join(lines)


def _run_key(run: dict[str, Any]) -> tuple[Any, ...]:
    return (_ver(run["pyspark"]), MODES.index(run["mode"]), run.get("connector", ""))


def audit_text(audit: dict[str, Any] | None) -> str:
    if not audit:
        return "not audited"
    if audit["problems"]:
        return "auditwheel: **" + "; ".join(audit["problems"]) + "**"
    return f"auditwheel: consistent with `{audit['tag']}`, no library outside the policy"


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def provenance(results: dict[str, Any]) -> str:
    """Per connector: when its rows were tested and with which wheel (a run limited to some
    connectors keeps the others' earlier rows)."""
    seen: dict[tuple[str, str], list[str]] = {}
    for run in results["runs"]:
        connector = run.get("connector")
        if not connector:
            continue
        digest = run.get("wheels", {}).get(f"spark_ds_{connector}", "?")
        seen.setdefault((connector, digest), []).append(run.get("tested", "?"))
    lines = []
    for (connector, digest), times in sorted(seen.items()):
        first, last = min(times), max(times)
        when = first if first == last else f"{first} to {last}"
        lines.append(f"- {connector}: {when}, wheel `{digest}`")
    return "\n".join(lines)


def write_results(results: dict[str, Any]) -> str:
    table = render(results)
    notes = []
    for run in sorted(results["runs"], key=_run_key):
        failing = sorted(
            {n for cell in run.get("cells", {}).values() if cell["failed"] for n in cell["notes"]}
        )
        failing = [n for n in failing if "::" in n]
        if failing:
            notes.append(f"- {run['connector']} {run['pyspark']} {run['mode']}:")
            for note in failing:
                test, _, message = note.partition(": ")
                first = " ".join(message.replace("`", "'").split())[:300]
                notes.append(f"  - `{test.split('::')[-1]}`: {first}")
        if "error" in run:
            notes.append(f"- {run['pyspark']} {run['mode']}: {run['error']}")
    wheels = "\n".join(
        f"- `{w['name']}`: {w['bytes'] / 1e6:.1f} MB, sha256 `{w.get('sha256', '?')}`, "
        + audit_text(w.get("audit"))
        for w in results.get("wheels", [])
    )
    text = (
        "# Spark version matrix results\n\n"
        "Written by `make matrix` (`integration/matrix/run.py`); do not edit by hand.\n"
        f"Last run: {results['generated']}. Each cell: the conformance suite's tests of that\n"
        "capability (`options` = the tests every connector shares: option errors, secrets).\n\n"
        f"{BEGIN}\n{table}\n{END}\n\n"
        "`-`: no test of that capability runs in that mode. The pipeline test runs in classic\n"
        "mode only: `spark-pipelines` starts its own Spark Connect server whatever the mode.\n\n"
        f"Each connector's rows were tested:\n\n{provenance(results)}\n\n"
        f"Wheels of the last run:\n\n{wheels}\n"
        + ("\n## Failures\n\n" + "\n".join(notes) + "\n" if notes else "")
    )
    RESULTS_MD.write_text(text)
    RESULTS_JSON.write_text(json.dumps(results, indent=2) + "\n")
    return table


def readme_block(text: str) -> str:
    """The text between the matrix markers (the generated table)."""
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return text[start:end].strip("\n")


def update_readme(table: str) -> None:
    text = README.read_text()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    README.write_text(text[:start] + "\n" + table + "\n" + text[end:])


def replaced_rows(
    runs: dict[tuple[str, str, str], dict[str, Any]], line: str, mode: str, data: dict[str, Any]
) -> list[tuple[str, str, str]]:
    """The earlier rows a new run of (line, mode) replaces: those of the connectors it
    measured, so a run limited to one connector (-k) keeps the others' rows; all of them
    when the run was skipped or failed to start."""
    same = [k for k in runs if k[1] == line and k[2] == mode]
    if "skipped" in data or "error" in data:
        return same
    measured = {"all"} | set(summarise(data))
    return [k for k in same if k[0] in measured]


def run_lines(
    args: argparse.Namespace,
    patches: dict[str, str],
    modes: list[str],
    wheels: list[Path],
    runs: dict[tuple[str, str, str], dict[str, Any]],
) -> bool:
    """Runs every mode of every line, updating ``runs``; True when anything failed."""
    failed = False
    for line, version in patches.items():
        python = line_venv(args.cache, version, wheels)
        for mode in modes:
            data = run_mode(
                python, version, mode, args.cache, None if args.all_tests else args.select
            )
            for key in replaced_rows(runs, line, mode, data):
                del runs[key]
            base = {
                "tested": now(),
                "line": line,
                "pyspark": version,
                "mode": mode,
                "pyarrow": PYARROW,
                "wheels": {w.name.split("-")[0]: digest(w) for w in wheels},
            }
            if "skipped" in data or "error" in data:
                failed |= "error" in data
                runs[("all", line, mode)] = {**base, **data}
                continue
            for connector, cells in summarise(data).items():
                failed |= any(c["failed"] for c in cells.values())
                runs[(connector, line, mode)] = {
                    **base,
                    "connector": connector,
                    "cells": cells,
                    "paths": data["paths"],
                    "seconds": data["seconds"],
                }
    return failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", help="comma-separated lines (default: every 4.x on PyPI)")
    parser.add_argument("--modes", default="classic,connect,cluster")
    parser.add_argument(
        "--dist", type=Path, default=Path(os.environ.get("SPARK_DS_MATRIX_DIST", ROOT / "dist"))
    )
    parser.add_argument("--cache", type=Path, default=ROOT / ".matrix")
    parser.add_argument("-k", dest="select", default=FAST, help="pytest -k (default: fast set)")
    parser.add_argument("--all-tests", action="store_true", help="the whole conformance suite")
    parser.add_argument("--fresh", action="store_true", help="forget earlier results")
    parser.add_argument(
        "--render", action="store_true", help="only rewrite results.md and the README table"
    )
    args = parser.parse_args()
    if args.render:
        update_readme(write_results(json.loads(RESULTS_JSON.read_text())))
        return

    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = set(modes) - set(MODES)
    if unknown:
        parser.error(f"--modes: unknown {sorted(unknown)}; expected some of {MODES}")
    newest = newest_patches()
    patches = dict(newest)
    log("newest patches: " + ", ".join(patches.values()))
    if args.lines:
        wanted = [line.strip() for line in args.lines.split(",")]
        missing = [line for line in wanted if line not in patches]
        if missing:
            parser.error(f"--lines: {missing} not on the index; found {sorted(patches)}")
        patches = {line: patches[line] for line in wanted}
    args.cache.mkdir(parents=True, exist_ok=True)
    wheels = copy_wheels(args.dist, args.cache)
    audits = audit_wheels(wheels, args.cache)
    for name, audit in audits.items():
        log(f"{name}: {audit_text(audit)}")

    previous = (
        {} if args.fresh or not RESULTS_JSON.exists() else json.loads(RESULTS_JSON.read_text())
    )
    runs = {(r.get("connector", "all"), r["line"], r["mode"]): r for r in previous.get("runs", [])}
    # A line whose newest patch moved on is re-run, not kept at its old patch.
    runs = {k: r for k, r in runs.items() if r["pyspark"] == newest.get(r["line"], r["pyspark"])}
    try:
        failed = run_lines(args, patches, modes, wheels, runs)
        failed |= any(a["problems"] for a in audits.values())
    finally:
        if "cluster" in modes:
            restore_cluster()
    results = {
        "generated": now(),
        "wheels": [
            {
                "name": w.name,
                "bytes": w.stat().st_size,
                "sha256": digest(w),
                "audit": audits[w.name],
            }
            for w in wheels
        ],
        "runs": list(runs.values()),
    }
    table = write_results(results)
    update_readme(table)
    log(f"wrote {RESULTS_MD.relative_to(ROOT)} and the README's support matrix")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
