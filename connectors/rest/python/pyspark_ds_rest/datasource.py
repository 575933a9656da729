"""The `rest` data source. Its reader and writer arrive with the connector's own release."""

from __future__ import annotations

from ._shared.preview import PreviewDataSource


class RestDataSource(PreviewDataSource):
    """Spark data source registered as `rest`."""

    @classmethod
    def name(cls) -> str:
        return "rest"
