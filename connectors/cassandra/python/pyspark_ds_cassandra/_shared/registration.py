"""``register(spark)``: the format in a session whose static lookup ran before the install.

Spark resolves a short name to a JVM data source first: with a JVM ``DataSourceRegister``
of the same short name on the classpath, ``format("<name>")`` silently reads and writes
through that one (Spark 4.0.5 and 4.3.0 checked; the Python source here is never asked).
So registering checks, where it can, which source the name really reaches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import ConfigError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from pyspark.sql.datasource import DataSource

# Where Spark's JVM wrappers of Python data sources live (`PythonTableProvider` on 4.0,
# `PythonDataSourceV2` on later lines): a name resolved into this package is a Python one.
_PYTHON_PROVIDERS = "org.apache.spark.sql.execution.datasources.v2.python."


def register(spark: SparkSession, source: type[DataSource]) -> None:
    """Registers ``source`` under its name; raises ``ConfigError`` if a JVM source takes it."""
    name = source.name()
    try:
        spark.dataSource.register(source)
    except Exception as e:
        # Spark 4.0 refuses to replace a source its static lookup found: that is this
        # package, installed before the session started, so the format is registered.
        if "DATA_SOURCE_ALREADY_EXISTS" not in str(e):
            raise
    provider = resolved_provider(spark, name)
    if provider is not None and not provider.startswith(_PYTHON_PROVIDERS):
        error = ConfigError(
            f"[{name}] register: format `{name}` resolves to the JVM data source `{provider}` "
            f"on this session's classpath, which Spark prefers to this connector, so "
            f'`format("{name}")` would not use spark-ds. Remove that jar from the '
            f"session's classpath (spark.jars, cluster libraries), or use the JVM source by "
            f"its class name instead of relying on the short name."
        )
        error.system, error.operation = name, "register"
        raise error


def resolved_provider(spark: SparkSession, name: str) -> str | None:
    """The JVM class Spark resolves format ``name`` to, when the session can tell.

    Classic sessions only: a Spark Connect client has no JVM to ask, and an unexpected
    answer from Spark's internal lookup means the check cannot be made, not a clash.
    """
    jvm: Any = getattr(spark, "_jvm", None)
    jsession: Any = getattr(spark, "_jsparkSession", None)
    if jvm is None or jsession is None:
        return None
    try:
        conf = jsession.sessionState().conf()
        found = jvm.org.apache.spark.sql.execution.datasources.DataSource.lookupDataSource(
            name, conf
        )
        return str(found.getName())
    except Exception:
        return None
