"""Batch and streaming writers: Arrow batches handed to Rust without copies."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

from pyspark import TaskContext
from pyspark.sql.datasource import DataSourceArrowWriter, WriterCommitMessage
from pyspark.sql.types import StructType

from ._shared import features
from ._shared.base import NativeBacked
from ._shared.commit import TaskCommit, total

log = logging.getLogger("spark_ds.cassandra")

# Rows per Arrow batch when Spark hands this writer Rows instead of Arrow (older Spark).
_ROWS_PER_BATCH = 10_000


def _arrow_schema(schema: StructType) -> Any:
    from pyspark.sql.pandas.types import to_arrow_schema

    # Timestamps cross as UTC instants; the zone is only a label on the Arrow type.
    return to_arrow_schema(schema, timezone="UTC")


def _row_batches(rows: Iterator[Any], schema: StructType) -> Iterator[Any]:
    """Rows grouped into Arrow batches, for the Row-based writer interfaces."""
    import pyarrow as pa

    arrow_schema = _arrow_schema(schema)
    names = schema.fieldNames()
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(dict(zip(names, row, strict=True)))
        if len(chunk) >= _ROWS_PER_BATCH:
            yield pa.RecordBatch.from_pylist(chunk, schema=arrow_schema)
            chunk = []
    if chunk:
        yield pa.RecordBatch.from_pylist(chunk, schema=arrow_schema)


class _CassandraWriteTask(NativeBacked):
    """What batch and stream writers share: driver-side preparation and one write task."""

    _native_module = "pyspark_ds_cassandra._native"

    def __init__(self, options: Mapping[str, str], schema: StructType) -> None:
        self.options = dict(options)
        self.schema = schema
        self.enabled = True

    def prepare(self, overwrite: bool) -> None:
        """Runs once on the driver side; `saveMode=ignore` on a non-empty table disables writes."""
        native = self.native()
        self.enabled = bool(
            native.prepare_write(self.options, _arrow_schema(self.schema), overwrite)
        )

    def write_batches(self, batches: Iterator[Any]) -> TaskCommit:
        import pyarrow as pa

        if not self.enabled:
            return TaskCommit(partition_id=_partition_id(), counters={"rows": 0})
        native = self.native()
        writer = native.open_writer(self.options, _arrow_schema(self.schema))
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


def _partition_id() -> int:
    context = TaskContext.get()
    return context.partitionId() if context is not None else 0


class CassandraWriter(_CassandraWriteTask, DataSourceArrowWriter):
    """Batch writes (append = upsert; overwrite = truncate, only when confirmed)."""

    def write(self, iterator: Iterator[Any]) -> WriterCommitMessage:
        return self.write_batches(iterator)

    def commit(self, messages: list[WriterCommitMessage | None]) -> None:
        log.info("cassandra write committed: %d rows", total(messages, "rows"))

    def abort(self, messages: list[WriterCommitMessage | None]) -> None:
        log.warning(
            "cassandra write aborted after %d rows were written by finished tasks "
            "(upserts are idempotent: rerunning the job converges)",
            total(messages, "rows"),
        )


_StreamBase: Any = features.stream_writer_base()


class CassandraStreamWriter(_CassandraWriteTask, _StreamBase):  # type: ignore[misc]
    """Each micro-batch is upserted: a replayed batch rewrites the same rows, changing nothing."""

    def write(self, iterator: Iterator[Any]) -> WriterCommitMessage:
        if features.has_stream_arrow_writer():
            return self.write_batches(iterator)
        return self.write_batches(_row_batches(iterator, self.schema))

    def commit(self, messages: list[WriterCommitMessage | None], batchId: int) -> None:
        log.info("cassandra micro-batch %d committed: %d rows", batchId, total(messages, "rows"))

    def abort(self, messages: list[WriterCommitMessage | None], batchId: int) -> None:
        log.warning("cassandra micro-batch %d aborted; it is replayed idempotently", batchId)
