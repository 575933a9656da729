"""The `mongodb` data source. Its reader and writer arrive with the connector's own release."""

from __future__ import annotations

from ._shared.base import Connector
from ._shared.preview import PreviewDataSource

CONNECTOR = Connector(system="mongodb", native="pyspark_ds_mongodb._native")


class MongoDBDataSource(PreviewDataSource):
    """Spark data source registered as `mongodb`."""

    connector = CONNECTOR
