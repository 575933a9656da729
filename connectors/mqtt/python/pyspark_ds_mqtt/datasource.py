"""The `mqtt` data source. Its reader and writer arrive with the connector's own release."""

from __future__ import annotations

from ._shared.preview import PreviewDataSource


class MqttDataSource(PreviewDataSource):
    """Spark data source registered as `mqtt`."""

    @classmethod
    def name(cls) -> str:
        return "mqtt"
