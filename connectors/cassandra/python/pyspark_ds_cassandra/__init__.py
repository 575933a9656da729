"""spark-ds-cassandra: the `cassandra` data source for Apache Spark, with a Rust core.

Importing this package is cheap and cannot fail on a healthy PySpark 4 install: Spark's
static registration imports it and picks up `DefaultSource`. The native module loads only
inside the methods that run on the driver's planner and on executors.
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
from .datasource import CassandraDataSource
from .lookup import join_with_cassandra_table

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

DefaultSource = CassandraDataSource
__version__ = "0.1.0"


def register(spark: SparkSession) -> None:
    """Registers the `cassandra` format in a session started before the package was installed.

    Safe to call in any session. In classic mode it raises `ConfigError` when a JVM data
    source on the classpath takes the short name `cassandra` (Spark would use that one).
    """
    _register(spark, CassandraDataSource)


__all__ = [
    "AlreadyExistsError",
    "AuthError",
    "CassandraDataSource",
    "ConfigError",
    "DataError",
    "DefaultSource",
    "InternalError",
    "NotFoundError",
    "PermanentError",
    "RateLimitedError",
    "SparkDsError",
    "TransientError",
    "join_with_cassandra_table",
    "register",
]
