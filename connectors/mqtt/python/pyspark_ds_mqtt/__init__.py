"""spark-ds-mqtt: the `mqtt` data source for Apache Spark.

Importing this package is cheap and cannot fail on a healthy PySpark 4 install: Spark's
static registration imports it and picks up `DefaultSource`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._shared.errors import (
    AlreadyExistsError,
    AuthError,
    ConfigError,
    DataError,
    InternalError,
    NotFoundError,
    PermanentError,
    RateLimitedError,
    SparkDsError,
    TransientError,
)
from ._shared.registration import register as _register
from .datasource import MqttDataSource

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

DefaultSource = MqttDataSource
__version__ = "0.1.0"


def register(spark: SparkSession) -> None:
    """Registers the `mqtt` format in a session started before the package was installed.

    Safe to call in any session. In classic mode it raises `ConfigError` when a JVM data
    source on the classpath takes the short name `mqtt` (Spark would use that one).
    """
    _register(spark, MqttDataSource)


__all__ = [
    "AlreadyExistsError",
    "AuthError",
    "ConfigError",
    "DataError",
    "DefaultSource",
    "InternalError",
    "MqttDataSource",
    "NotFoundError",
    "PermanentError",
    "RateLimitedError",
    "SparkDsError",
    "TransientError",
    "register",
]
