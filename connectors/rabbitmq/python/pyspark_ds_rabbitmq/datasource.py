"""The `rabbitmq` data source: declarations over the shared native-backed classes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._shared.base import Connector
from ._shared.datasource import NativeDataSource
from ._shared.held_reader import HeldStreamReader
from ._shared.stream_reader import NativeStreamReader
from ._shared.writer import arrow_schema

if TYPE_CHECKING:
    from pyspark.sql.datasource import DataSourceStreamReader
    from pyspark.sql.types import StructType

CONNECTOR = Connector(system="rabbitmq", native="pyspark_ds_rabbitmq._native")


class RabbitMQDataSource(NativeDataSource):
    """Reads a RabbitMQ stream queue by exact offset ranges (batch and stream), streams a
    classic or quorum queue through one consumer acknowledged after each commit, and
    publishes rows with publisher confirms: `spark.read.format("rabbitmq")`."""

    connector = CONNECTOR

    def streamReader(self, schema: StructType) -> DataSourceStreamReader:
        native = self.native()  # validates the options and routes this process's logs
        requested = arrow_schema(schema)
        native.check_read_schema(self.options, requested)
        if self.settings()["heldConsumer"]:
            return HeldStreamReader(self.connector, self.options, requested)
        return NativeStreamReader(self.connector, self.options, requested)
