"""The `cassandra` data source: schema, and the reader/writer Spark asks for."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql.datasource import DataSource

from ._shared import features
from ._shared.base import NativeBacked, plain_options
from .reader import CassandraPushdownReader, CassandraReader
from .writer import CassandraStreamWriter, CassandraWriter

if TYPE_CHECKING:
    from pyspark.sql.datasource import DataSourceReader, DataSourceStreamWriter, DataSourceWriter
    from pyspark.sql.types import StructType

NATIVE = "pyspark_ds_cassandra._native"


class CassandraDataSource(NativeBacked, DataSource):
    """Reads and writes a Cassandra/ScyllaDB table: `spark.read.format("cassandra")`."""

    _native_module = NATIVE

    def __init__(self, options: dict[str, str]) -> None:
        self.options = plain_options(options)

    @classmethod
    def name(cls) -> str:
        return "cassandra"

    def schema(self) -> StructType:
        from pyspark.sql.pandas.types import from_arrow_schema

        arrow_schema, _partition_key, _clustering_key = self.native().describe(self.options)
        return from_arrow_schema(arrow_schema)

    def reader(self, schema: StructType) -> DataSourceReader:
        columns = list(schema.fieldNames())
        pushdown = self.options.get("pushdown", "true").strip().lower() != "false"
        if pushdown and features.has_filter_pushdown() and features.called_from_pushdown_planner():
            return CassandraPushdownReader(self.options, columns)
        return CassandraReader(self.options, columns)

    def writer(self, schema: StructType, overwrite: bool) -> DataSourceWriter:
        writer = CassandraWriter(self.options, schema)
        writer.prepare(overwrite)
        return writer

    def streamWriter(self, schema: StructType, overwrite: bool) -> DataSourceStreamWriter:
        writer = CassandraStreamWriter(self.options, schema)
        writer.prepare(overwrite=False)
        return writer
