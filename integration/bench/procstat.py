"""CPU time and memory of a process tree, read from /proc (Linux only, stdlib only).

Imported by the Spark jobs of both virtualenvs (PySpark 4.3 and the JVM anchor's 3.5),
so it must not need anything beyond the standard library.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat(pid: int) -> tuple[int, float, int] | None:
    """(parent pid, CPU seconds incl. reaped children, RSS bytes) of one process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read().decode()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: split after the last ')'.
    fields = raw[raw.rindex(")") + 2 :].split()
    ppid = int(fields[1])
    # utime, stime, cutime, cstime (fields 14-17 of proc(5)); children's times arrive
    # when their parent reaps them, so exited Python workers are still counted.
    cpu = sum(int(x) for x in fields[11:15]) / _TICKS
    rss = int(fields[21]) * _PAGE
    return ppid, cpu, rss


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def tree(root: int) -> dict[int, tuple[float, int]]:
    """{pid: (cpu seconds, rss bytes)} for `root` and all its live descendants."""
    stats: dict[int, tuple[int, float, int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = _stat(int(name))
            if st is not None:
                stats[int(name)] = st
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    out: dict[int, tuple[float, int]] = {}
    todo = [root]
    while todo:
        pid = todo.pop()
        if pid in stats and pid not in out:
            out[pid] = (stats[pid][1], stats[pid][2])
            todo.extend(children.get(pid, []))
    return out


def tree_cpu(root: int) -> float:
    """CPU seconds used so far by the tree under `root` (live processes + reaped children)."""
    return sum(cpu for cpu, _ in tree(root).values())


def is_python_worker(pid: int) -> bool:
    cmd = _cmdline(pid)
    return "pyspark.daemon" in cmd or "pyspark.worker" in cmd or "pyspark/worker" in cmd


@dataclass
class Sampler:
    """Samples, every `interval` s, the RSS of the Python workers under a JVM."""

    jvm_pid: int
    interval: float = 0.1
    peak_worker_rss: int = 0  # largest single Python worker (daemon or forked worker)
    peak_workers_total_rss: int = 0  # largest sum over all Python workers at one instant
    peak_jvm_rss: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _workers: set[int] = field(default_factory=set)

    def _sample(self) -> None:
        procs = tree(self.jvm_pid)
        total = 0
        for pid, (_, rss) in procs.items():
            if pid == self.jvm_pid:
                self.peak_jvm_rss = max(self.peak_jvm_rss, rss)
                continue
            if pid not in self._workers and is_python_worker(pid):
                self._workers.add(pid)
            if pid in self._workers:
                self.peak_worker_rss = max(self.peak_worker_rss, rss)
                total += rss
        self.peak_workers_total_rss = max(self.peak_workers_total_rss, total)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> Sampler:
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()


class Measured:
    """Wall time and tree CPU time around a block."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.seconds = 0.0
        self.cpu = 0.0

    def __enter__(self) -> Measured:
        self._cpu0 = tree_cpu(self.root)
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._t0
        self.cpu = tree_cpu(self.root) - self._cpu0
