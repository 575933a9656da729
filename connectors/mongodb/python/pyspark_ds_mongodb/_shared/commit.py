"""The commit message every spark-ds writer sends from a task to the driver."""

from __future__ import annotations

from dataclasses import dataclass, field

from pyspark.sql.datasource import WriterCommitMessage


@dataclass
class TaskCommit(WriterCommitMessage):
    """Counters of one finished write task (rows, batches, bytes, retries...)."""

    partition_id: int
    counters: dict[str, int] = field(default_factory=dict)


def total(messages: list[WriterCommitMessage | None], counter: str) -> int:
    """Sum of one counter over all tasks' commit messages."""
    return sum(m.counters.get(counter, 0) for m in messages if isinstance(m, TaskCommit))
