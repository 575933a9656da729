"""The `rest` data source. Its reader and writer arrive with the connector's own release."""

from __future__ import annotations

from ._shared.base import Connector
from ._shared.preview import PreviewDataSource

CONNECTOR = Connector(system="rest", native="pyspark_ds_rest._native")


class RestDataSource(PreviewDataSource):
    """Spark data source registered as `rest`."""

    connector = CONNECTOR
