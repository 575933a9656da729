"""The data source of a connector backed by a native module: schema, readers, writers.

A connector subclasses :class:`NativeDataSource` with declarations only: its ``connector``,
its ``name()``, and (if it differs) which reader and writer classes Spark gets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pyspark.sql.datasource import DataSource

from . import features
from .base import NativeBacked, describe, plain_options, spark_schema
from .reader import NativePushdownReader, NativeReader
from .writer import NativeArrowWriter, NativeStreamWriter, arrow_schema

if TYPE_CHECKING:
    from types import ModuleType

    from pyspark.sql.datasource import DataSourceReader, DataSourceStreamWriter, DataSourceWriter
    from pyspark.sql.types import StructType


class NativeDataSource(NativeBacked, DataSource):
    """Schema from the native ``describe``; reads and writes through the shared classes."""

    reader_class: ClassVar[type[NativeReader]] = NativeReader
    pushdown_reader_class: ClassVar[type[NativePushdownReader]] = NativePushdownReader
    writer_class: ClassVar[type[NativeArrowWriter]] = NativeArrowWriter
    stream_writer_class: ClassVar[type[NativeStreamWriter]] = NativeStreamWriter

    def __init__(self, options: dict[str, str]) -> None:
        self.options = plain_options(options)

    @classmethod
    def name(cls) -> str:
        return cls.connector.system

    def schema(self) -> StructType:
        schema: StructType = spark_schema(describe(self.native(), self.options).arrow_schema)
        return schema

    def reader(self, schema: StructType) -> DataSourceReader:
        columns = list(schema.fieldNames())
        native = self.native()  # validates the options and routes this process's logs
        requested = read_schema(native, schema)
        if self.settings()["pushdown"] and features.has_filter_pushdown():
            if features.called_from_pushdown_planner():
                return self.pushdown_reader_class(self.connector, self.options, columns, requested)
            # Unfiltered reads reach the read planner even with pushdown on: no warning then.
            if features.read_planner_has_pushdown_on() is not True:
                features.warn_pushdown_not_planned(self.log, self.connector.system)
        return self.reader_class(self.connector, self.options, columns, requested)

    def writer(self, schema: StructType, overwrite: bool) -> DataSourceWriter:
        writer = self.writer_class(self.connector, self.options, schema)
        writer.prepare(overwrite)
        return writer

    def streamWriter(self, schema: StructType, overwrite: bool) -> DataSourceStreamWriter:
        writer = self.stream_writer_class(self.connector, self.options, schema)
        writer.prepare(overwrite=False)
        return writer


def read_schema(native: ModuleType, schema: StructType) -> Any:
    """The schema Spark reads (a user schema or ours) as Arrow, for a native module that
    builds batches in the types asked for (it has ``check_read_schema``); else ``None``.

    The reader checks it against the source when it plans partitions, on the driver
    before any task, so a user schema that cannot be read fails at load, not in tasks.
    """
    if not hasattr(native, "check_read_schema"):
        return None
    return arrow_schema(schema)
