"""The `mongodb` data source: declarations over the shared native-backed classes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._shared.base import Connector
from ._shared.datasource import NativeDataSource
from ._shared.stream_reader import NativeStreamReader
from ._shared.writer import arrow_schema

if TYPE_CHECKING:
    from pyspark.sql.datasource import DataSourceStreamReader
    from pyspark.sql.types import StructType

CONNECTOR = Connector(system="mongodb", native="pyspark_ds_mongodb._native")


class MongoDBDataSource(NativeDataSource):
    """Reads and writes a MongoDB collection: `spark.read.format("mongodb")`, also as a
    stream that polls the collection in the order of one field."""

    connector = CONNECTOR

    def streamReader(self, schema: StructType) -> DataSourceStreamReader:
        native = self.native()  # validates the options and routes this process's logs
        requested = arrow_schema(schema)
        native.check_read_schema(self.options, requested)
        return NativeStreamReader(self.connector, self.options, requested)
