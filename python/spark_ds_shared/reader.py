"""Batch readers: partitions planned in native code, Arrow batches built in native code.

The native module provides ``plan_partitions``, ``open_reader`` and (for pushdown)
``push_filters``; see a connector's ``_native.pyi``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pyspark.sql.datasource import DataSourceReader, InputPartition

from .base import Connector, NativeBacked
from .filters import encode_filters


class NativePartition(InputPartition):
    """One planned read partition; `value` is the native planner's JSON."""


class NativeReader(NativeBacked, DataSourceReader):
    """Reads the partitions the native planner splits the source into."""

    def __init__(
        self,
        connector: Connector,
        options: Mapping[str, str],
        columns: list[str],
        schema: Any = None,
    ) -> None:
        self.connector = connector
        self.options = dict(options)
        self.columns = columns
        # The pyarrow schema to build batches in (checked on the driver), or None for the
        # native module's own types.
        self.schema = schema
        self.pushdown_state: str | None = None

    def partitions(self) -> list[InputPartition]:
        native = self.native()
        if self.schema is not None:
            # The driver, before any task: a user schema the source cannot give fails here.
            native.check_read_schema(self.options, self.schema)
        planned = native.plan_partitions(self.options, self.columns, self.pushdown_state)
        # The plan's size without a JVM handle on the DataFrame (Spark Connect has none).
        self.log.info("%s read: %d partitions planned", self.connector.system, len(planned))
        return [NativePartition(p) for p in planned]

    def read(self, partition: InputPartition) -> Iterator[Any]:
        if partition.value is None:
            # An empty plan (e.g. an empty offset range): Spark still runs one task, given
            # `InputPartition(None)`.
            return
        native = self.native()
        if self.schema is None:
            stream = native.open_reader(
                self.options, self.columns, str(partition.value), self.pushdown_state
            )
        else:
            stream = native.open_reader(
                self.options,
                self.columns,
                str(partition.value),
                self.pushdown_state,
                schema=self.schema,
            )
        try:
            yield from stream
        finally:
            stream.close()


class NativePushdownReader(NativeReader):
    """The reader Spark's filter-pushdown planner gets (Spark 4.1+, pushdown enabled)."""

    def pushFilters(self, filters: list[Any]) -> Iterable[Any]:
        filters = list(filters)
        filters_json, positions = encode_filters(filters)
        accepted, state, explain = self.native().push_filters(
            self.options, self.columns, filters_json
        )
        self.pushdown_state = str(state)
        pushed = {positions[i] for i in accepted}
        if pushed:
            self.log.info("%s pushdown: %s", self.connector.system, explain)
        return [f for i, f in enumerate(filters) if i not in pushed]
