"""Batch readers: partitions planned in Rust, Arrow batches built in Rust."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pyspark.sql.datasource import DataSourceReader, InputPartition

from ._shared.base import NativeBacked
from .filters import encode_filters

log = logging.getLogger("spark_ds.cassandra")


class CassandraPartition(InputPartition):
    """One planned read partition; `value` is the native planner's JSON."""


class CassandraReader(NativeBacked, DataSourceReader):
    """Reads the token ranges (or pushed partition keys) of one table."""

    _native_module = "pyspark_ds_cassandra._native"

    def __init__(self, options: Mapping[str, str], columns: list[str]) -> None:
        self.options = dict(options)
        self.columns = columns
        self.pushdown_state: str | None = None

    def partitions(self) -> list[InputPartition]:
        planned = self.native().plan_partitions(self.options, self.columns, self.pushdown_state)
        return [CassandraPartition(p) for p in planned]

    def read(self, partition: InputPartition) -> Iterator[Any]:
        stream = self.native().open_reader(
            self.options, self.columns, str(partition.value), self.pushdown_state
        )
        try:
            yield from stream
        finally:
            stream.close()


class CassandraPushdownReader(CassandraReader):
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
            log.info("cassandra pushdown: %s", explain)
        return [f for i, f in enumerate(filters) if i not in pushed]
