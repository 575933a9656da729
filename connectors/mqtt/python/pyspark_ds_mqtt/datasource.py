"""The `mqtt` data source. Its reader and writer arrive with the connector's own release."""

from __future__ import annotations

from ._shared.base import Connector
from ._shared.preview import PreviewDataSource

CONNECTOR = Connector(system="mqtt", native="pyspark_ds_mqtt._native")


class MqttDataSource(PreviewDataSource):
    """Spark data source registered as `mqtt`."""

    connector = CONNECTOR
