"""What the fault tests share: a fault started on a thread once the job is at work."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


class Background:
    """Runs ``action`` on a thread once ``wait()`` returns (the job is at work) plus
    ``after_s`` seconds; ``landed_at`` is when the action started, and ``join()`` re-raises
    what it raised."""

    def __init__(self, wait: Callable[[], None], action: Callable[[], None], after_s: float):
        self.error: BaseException | None = None
        self.landed_at: float | None = None

        def run() -> None:
            try:
                wait()
                time.sleep(after_s)
                self.landed_at = time.monotonic()
                action()
            except BaseException as error:  # handed to the test thread by join()
                self.error = error

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def join(self) -> None:
        self.thread.join()
        if self.error is not None:
            raise self.error


def wait_for_a_task_at_work(
    task_log: Any, opened: Callable[[str], bool], what: str, timeout_s: float = 120
) -> None:
    """Until a line logged since the task log's mark shows a task at work (``opened``).

    The connector's own line is the signal, not Spark's status tracker: a task counts as
    running there long before its Python worker has started, and on a loaded machine the
    tracker's view lags behind the tasks by seconds."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any(opened(line) for line in task_log.lines()):
            return
        time.sleep(0.05)
    raise AssertionError(f"no task {what} within {timeout_s} s")
