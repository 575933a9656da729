"""The `rabbitmq` data source. Its reader and writer arrive with the connector's own release."""

from __future__ import annotations

from ._shared.preview import PreviewDataSource


class RabbitMQDataSource(PreviewDataSource):
    """Spark data source registered as `rabbitmq`."""

    @classmethod
    def name(cls) -> str:
        return "rabbitmq"
