"""The `mongodb` data source: declarations over the shared native-backed classes."""

from __future__ import annotations

from ._shared.base import Connector
from ._shared.datasource import NativeDataSource

CONNECTOR = Connector(system="mongodb", native="pyspark_ds_mongodb._native")


class MongoDBDataSource(NativeDataSource):
    """Reads and writes a MongoDB collection: `spark.read.format("mongodb")`."""

    connector = CONNECTOR
