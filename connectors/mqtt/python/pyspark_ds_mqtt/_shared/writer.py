"""Batch and streaming writers: Arrow batches handed to native code without copies.

The native module provides ``prepare_write`` (driver side, once) and ``open_writer`` (one per
task); see a connector's ``_native.pyi``.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

from pyspark import TaskContext
from pyspark.sql.datasource import DataSourceArrowWriter, WriterCommitMessage
from pyspark.sql.types import StructType

from . import features
from .base import Connector, NativeBacked
from .commit import TaskCommit, total

# Rows per Arrow batch when Spark hands a writer Rows instead of Arrow (older Spark).
_ROWS_PER_BATCH = 10_000


@cache
def _to_arrow_schema_takes_timezone() -> bool:
    from pyspark.sql.pandas.types import to_arrow_schema

    return "timezone" in inspect.signature(to_arrow_schema).parameters


def arrow_schema(schema: StructType) -> Any:
    """The pyarrow schema of a Spark schema, timestamps labelled UTC where PySpark can."""
    from pyspark.sql.pandas.types import to_arrow_schema

    # Timestamps cross as UTC instants; the zone is only a label on the Arrow type. PySpark
    # 4.0 and 4.1 have no `timezone` parameter (and label nothing).
    if _to_arrow_schema_takes_timezone():
        return to_arrow_schema(schema, timezone="UTC")
    return to_arrow_schema(schema)


def _row_batches(rows: Iterator[Any], schema: StructType) -> Iterator[Any]:
    """Rows grouped into Arrow batches, for the Row-based writer interfaces."""
    import pyarrow as pa

    target = arrow_schema(schema)
    names = schema.fieldNames()
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(dict(zip(names, row, strict=True)))
        if len(chunk) >= _ROWS_PER_BATCH:
            yield pa.RecordBatch.from_pylist(chunk, schema=target)
            chunk = []
    if chunk:
        yield pa.RecordBatch.from_pylist(chunk, schema=target)


def _partition_id() -> int:
    context = TaskContext.get()
    return context.partitionId() if context is not None else 0


# Task-local properties Spark's micro-batch execution sets on every task of a batch.
_QUERY_ID_PROPERTY = "sql.streaming.queryId"
_BATCH_ID_PROPERTY = "streaming.sql.batchId"


def _stream_task() -> dict[str, str] | None:
    """The query, micro-batch and partition of this streaming write task, for sinks that
    tag what they write so consumers can deduplicate a replay (``None`` outside a task)."""
    context = TaskContext.get()
    if context is None:
        return None
    task = {"partition": str(context.partitionId())}
    for key, prop in (("query_id", _QUERY_ID_PROPERTY), ("batch_id", _BATCH_ID_PROPERTY)):
        value = context.getLocalProperty(prop)
        if value is not None:
            task[key] = value
    return task


class NativeWriteTask(NativeBacked):
    """What batch and stream writers share: driver-side preparation and one write task."""

    def __init__(
        self, connector: Connector, options: Mapping[str, str], schema: StructType
    ) -> None:
        self.connector = connector
        self.options = dict(options)
        self.schema = schema
        self.enabled = True
        self.overwrite = False

    def prepare(self, overwrite: bool) -> None:
        """Runs once on the driver; `saveMode=ignore` on a non-empty target disables writes."""
        self.overwrite = overwrite
        native = self.native()
        self.enabled = bool(
            native.prepare_write(self.options, arrow_schema(self.schema), overwrite)
        )

    def write_batches(
        self, batches: Iterator[Any], stream_task: dict[str, str] | None = None
    ) -> TaskCommit:
        import pyarrow as pa

        if not self.enabled:
            return TaskCommit(partition_id=_partition_id(), counters={"rows": 0})
        native = self.native()
        writer = native.open_writer(self.options, arrow_schema(self.schema), stream_task)
        try:
            for batch in batches:
                # Spark checks isinstance(pa.RecordBatch); other Arrow objects wrap zero-copy.
                writer.write(batch if isinstance(batch, pa.RecordBatch) else pa.record_batch(batch))
            counters = dict(writer.finish())
        except BaseException:
            writer.abort()
            raise
        return TaskCommit(
            partition_id=_partition_id(), counters={k: int(v) for k, v in counters.items()}
        )


class NativeArrowWriter(NativeWriteTask, DataSourceArrowWriter):
    """Batch writes: append = upsert; overwrite empties the target first (when confirmed)."""

    def write(self, iterator: Iterator[Any]) -> WriterCommitMessage:
        return self.write_batches(iterator)

    def commit(self, messages: list[WriterCommitMessage | None]) -> None:
        self.log.info("%s write committed: %d rows", self.connector.system, total(messages, "rows"))

    def abort(self, messages: list[WriterCommitMessage | None]) -> None:
        rows = total(messages, "rows")
        if self.overwrite:
            self.log.warning(
                "%s overwrite aborted: the target was emptied by the overwrite before the "
                "tasks ran and now holds only the %d rows written by finished tasks before "
                "the failure",
                self.connector.system,
                rows,
            )
        else:
            self.log.warning(
                "%s write aborted after %d rows were written by finished tasks "
                "(upserts are idempotent: rerunning the job converges)",
                self.connector.system,
                rows,
            )


_StreamBase: Any = features.stream_writer_base()


class NativeStreamWriter(NativeWriteTask, _StreamBase):  # type: ignore[misc]
    """Each micro-batch is written by tasks that know their query and micro-batch: a
    key-value sink upserts (a replay changes nothing), a message sink tags its messages."""

    def write(self, iterator: Iterator[Any]) -> WriterCommitMessage:
        arrow = features.has_stream_arrow_writer()
        batches = iterator if arrow else _row_batches(iterator, self.schema)
        return self.write_batches(batches, _stream_task())

    def commit(self, messages: list[WriterCommitMessage | None], batchId: int) -> None:
        self.log.info(
            "%s micro-batch %d committed: %d rows",
            self.connector.system,
            batchId,
            total(messages, "rows"),
        )

    def abort(self, messages: list[WriterCommitMessage | None], batchId: int) -> None:
        self.log.warning(
            "%s micro-batch %d aborted; it is replayed",
            self.connector.system,
            batchId,
        )
