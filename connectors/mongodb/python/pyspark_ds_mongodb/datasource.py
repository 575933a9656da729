"""The `mongodb` data source. Its reader and writer arrive with the connector's own release."""

from __future__ import annotations

from ._shared.preview import PreviewDataSource


class MongoDBDataSource(PreviewDataSource):
    """Spark data source registered as `mongodb`."""

    @classmethod
    def name(cls) -> str:
        return "mongodb"
