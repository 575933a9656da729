"""Streaming helpers shared by the conformance suite and the connectors' own stream tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def write_json(path: Path, rows: list[dict[str, Any]]) -> None:
    """One JSON-lines file: a micro-batch's worth of input for a file stream source."""
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def write_parquet(spark: Any, frame: Any, directory: Path, name: str) -> None:
    """``frame`` as one Parquet file ``directory/name``, appearing there atomically.

    A file stream source must never list a half-written file, so Spark writes it beside
    the directory and it is moved in.
    """
    staging = directory.parent / f".staging-{name}"
    frame.coalesce(1).write.mode("overwrite").parquet(str(staging))
    (part,) = staging.glob("part-*.parquet")
    part.rename(directory / name)


def into_parquet(frame: Any, out: Path, checkpoint: Path, **trigger: Any) -> Any:
    """Starts a query writing the streaming ``frame`` as Parquet into ``out`` (whose
    metadata log lists only committed files), with ``trigger`` (default availableNow)."""
    return (
        frame.writeStream.format("parquet")
        .option("path", str(out))
        .option("checkpointLocation", str(checkpoint))
        .trigger(**(trigger or {"availableNow": True}))
        .start()
    )


def run_available_now(query: Any, timeout_s: int = 300) -> None:
    """Waits for an ``availableNow`` query to finish and fails on its error."""
    finished = query.awaitTermination(timeout_s)
    query.stop()  # availableNow ends by itself; stop() also waits for its threads to exit
    assert finished, f"the availableNow query did not finish within {timeout_s} s"
    assert query.exception() is None, query.exception()


def forget_last_commit(checkpoint: Path) -> None:
    """Makes the last micro-batch look uncommitted (a crash after its write), so the next
    run of the query replays it."""
    commits = sorted((checkpoint / "commits").glob("[0-9]*"), key=lambda p: int(p.name))
    assert commits, f"no committed micro-batch in {checkpoint}"
    commits[-1].unlink()
    (commits[-1].parent / f".{commits[-1].name}.crc").unlink(missing_ok=True)


def committed(checkpoint: Path) -> int:
    """How many micro-batches the query of ``checkpoint`` has committed."""
    return len(list((checkpoint / "commits").glob("[0-9]*")))


def kill_after_commits(script: Path, args: list[str], checkpoint: Path, batches: int) -> None:
    """Runs the streaming job ``script`` with ``args`` in a process group of its own and
    SIGKILLs the whole group (Spark's JVM and its Python workers) once ``batches`` more
    micro-batches than before have committed; fails if the job ends by itself or commits
    too few within 240 s."""
    before = committed(checkpoint)
    job = subprocess.Popen(
        [sys.executable, str(script), *args],
        env={**os.environ, "PYSPARK_PYTHON": sys.executable},
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and committed(checkpoint) < before + batches:
            assert job.poll() is None, "the streaming job ended by itself"
            time.sleep(0.1)
        assert committed(checkpoint) >= before + batches, "too few micro-batches committed"
    finally:
        os.killpg(job.pid, signal.SIGKILL)
        job.wait()
