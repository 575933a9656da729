"""The data source of a connector whose reader and writer are not released yet.

The format name is registered so installs and registration can be verified end to end;
using it says plainly what is missing instead of failing somewhere inside Spark.
"""

from __future__ import annotations

from pyspark.sql.datasource import DataSource, DataSourceReader, DataSourceWriter
from pyspark.sql.types import StructType

from .base import Connector
from .errors import ConfigError


class PreviewDataSource(DataSource):
    """Registers a format name; reading and writing raise a clear error."""

    connector: Connector

    @classmethod
    def name(cls) -> str:
        return cls.connector.system

    def _unavailable(self, what: str) -> ConfigError:
        return ConfigError(
            f"the `{self.name()}` format is registered, but {what} is not available in this "
            "release of its connector; see the project README's support matrix"
        )

    def schema(self) -> StructType:
        raise self._unavailable("reading")

    def reader(self, schema: StructType) -> DataSourceReader:
        raise self._unavailable("reading")

    def writer(self, schema: StructType, overwrite: bool) -> DataSourceWriter:
        raise self._unavailable("writing")
