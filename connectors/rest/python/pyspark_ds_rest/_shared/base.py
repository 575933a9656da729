"""The one base every connector's reader, writer and data source mixes in.

Instances are pickled to executors, so they hold only plain data: the connector's
declaration, the user's options as a dict of strings and planned partitions. Native modules
are imported inside the methods that run, never at import time.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any, NamedTuple

from . import logs


@dataclass(frozen=True)
class Connector:
    """What the shared classes need to know about one connector package."""

    system: str
    """The format name and log/error prefix, e.g. ``cassandra``."""
    native: str
    """The native extension module, e.g. ``pyspark_ds_cassandra._native``."""

    def load(self) -> ModuleType:
        return importlib.import_module(self.native)

    def logger(self) -> logging.Logger:
        return logging.getLogger(f"{logs.ROOT_LOGGER}.{self.system}")


def plain_options(options: Mapping[str, str]) -> dict[str, str]:
    """Spark's case-insensitive options as a plain, picklable dict of strings."""
    return {str(k): str(v) for k, v in dict(options).items()}


class NativeBacked:
    """Loads the package's native module lazily, once per process, and routes its logs."""

    connector: Connector
    options: MutableMapping[str, str]
    _settings: dict[str, Any] | None = None

    def settings(self) -> dict[str, Any]:
        """The options the Python side acts on, validated by the native option definitions."""
        if self._settings is None:
            # Read through the native option definitions: aliases, choices and the error
            # naming a bad value are the same as for every other option.
            self._settings = dict(self.connector.load().python_settings(self.options))
        return self._settings

    def native(self) -> ModuleType:
        module = self.connector.load()
        level = self.settings().get("logLevel")
        logs.ensure_handler(level)
        # Always set: a reused worker keeps the native level of the previous job otherwise.
        module.set_log_level(level or logs.native_default_level())
        return module

    @property
    def log(self) -> logging.Logger:
        return self.connector.logger()


class Described(NamedTuple):
    """What a connector's native ``describe(options)`` says about the source."""

    arrow_schema: Any
    partition_key: list[str]
    clustering_key: list[str]


def describe(native: ModuleType, options: Mapping[str, str]) -> Described:
    """Calls the native ``describe`` (the one place that reads its result's layout)."""
    schema, partition_key, clustering_key = native.describe(options)
    return Described(schema, list(partition_key), list(clustering_key))


def spark_schema(arrow_schema: Any) -> Any:
    """The Spark schema of a pyarrow schema, by PySpark's own conversion."""
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(arrow_schema)
