"""The `cassandra` data source: declarations over the shared native-backed classes."""

from __future__ import annotations

from ._shared.base import Connector
from ._shared.datasource import NativeDataSource

CONNECTOR = Connector(system="cassandra", native="pyspark_ds_cassandra._native")


class CassandraDataSource(NativeDataSource):
    """Reads and writes a Cassandra/ScyllaDB table: `spark.read.format("cassandra")`."""

    connector = CONNECTOR
