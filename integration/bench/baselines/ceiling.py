"""Spark's ceiling for Python data sources: no I/O at all.

`bench_ceiling` yields pre-built Arrow batches (the bench data set's schema and values;
option `workload`: `cassandra`, the default, `mongodb` for the nested documents, or
`rabbitmq` for stream messages with `bodyBytes`-byte bodies, in batches of 10,000 messages
as spark-ds-rabbitmq builds them), and
`bench_discard` is an Arrow writer that drops every batch. Whatever a real connector
does, it cannot beat these through the Python DataSource API on the same machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pyspark.sql.datasource import (
    DataSource,
    DataSourceArrowWriter,
    DataSourceReader,
    InputPartition,
    WriterCommitMessage,
)
from pyspark.sql.types import StructType

SCHEMA = "id bigint, i int, d double, s string, ts timestamp, u string, tags array<string>"
BATCH_ROWS = 65_536

# spark-ds-rabbitmq cuts its batches at 10,000 messages (or 16 MiB of bodies).
RABBIT_BATCH_ROWS = 10_000

_template: dict[tuple[str, int], Any] = {}


def _schema(kind: str) -> str:
    import workload

    return {"mongodb": workload.MONGO_DDL, "rabbitmq": workload.RABBIT_DDL}.get(kind, SCHEMA)


def _batch(kind: str, body_bytes: int) -> Any:
    """One batch per worker process, built on first use (values of the bench data set)."""
    key = (kind, body_bytes)
    if key not in _template:
        import workload

        if kind == "rabbitmq":
            rows = max(1, min(RABBIT_BATCH_ROWS, (16 << 20) // body_bytes))
            _template[key] = workload.rabbit_arrow_batch(1_000_000, rows, body_bytes)
        else:
            make = workload.mongo_arrow_batch if kind == "mongodb" else workload.arrow_batch
            _template[key] = make(1_000_000, BATCH_ROWS)
    return _template[key]


class _Range(InputPartition):
    def __init__(self, start: int, end: int) -> None:
        super().__init__((start, end))
        self.start = start
        self.end = end


class CeilingReader(DataSourceReader):
    def __init__(self, rows: int, partitions: int, kind: str, body_bytes: int) -> None:
        self.rows = rows
        self.partitions_n = partitions
        self.kind = kind
        self.body_bytes = body_bytes

    def partitions(self) -> list[InputPartition]:
        step = -(-self.rows // self.partitions_n)
        return [_Range(lo, min(lo + step, self.rows)) for lo in range(0, self.rows, step)] or [
            _Range(0, 0)
        ]

    def read(self, partition: InputPartition) -> Iterator[Any]:
        assert isinstance(partition, _Range)
        batch = _batch(self.kind, self.body_bytes)
        left = partition.end - partition.start
        while left > 0:
            n = min(left, batch.num_rows)
            yield batch if n == batch.num_rows else batch.slice(0, n)
            left -= n


class CeilingSource(DataSource):
    """`spark.read.format("bench_ceiling").option("rows", N).load()`."""

    @classmethod
    def name(cls) -> str:
        return "bench_ceiling"

    def schema(self) -> str:
        return _schema(self.options.get("workload", "cassandra"))

    def reader(self, schema: StructType) -> DataSourceReader:
        return CeilingReader(
            int(self.options["rows"]),
            int(self.options.get("partitions", "2")),
            self.options.get("workload", "cassandra"),
            int(self.options.get("bodyBytes", "100")),
        )


@dataclass
class Count(WriterCommitMessage):
    rows: int


class DiscardWriter(DataSourceArrowWriter):
    def write(self, iterator: Iterator[Any]) -> WriterCommitMessage:
        rows = 0
        for batch in iterator:
            rows += batch.num_rows
        return Count(rows)


class DiscardSink(DataSource):
    """`df.write.format("bench_discard").mode("append").save()`: an Arrow writer doing nothing."""

    @classmethod
    def name(cls) -> str:
        return "bench_discard"

    def schema(self) -> str:
        return SCHEMA

    def writer(self, schema: StructType, overwrite: bool) -> DiscardWriter:
        return DiscardWriter()
