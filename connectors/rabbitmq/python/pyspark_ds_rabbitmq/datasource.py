"""The `rabbitmq` data source. Its reader and writer arrive with the connector's own release."""

from __future__ import annotations

from ._shared.base import Connector
from ._shared.preview import PreviewDataSource

CONNECTOR = Connector(system="rabbitmq", native="pyspark_ds_rabbitmq._native")


class RabbitMQDataSource(PreviewDataSource):
    """Spark data source registered as `rabbitmq`."""

    connector = CONNECTOR
