"""The exception classes every spark-ds package raises (native errors arrive as these)."""

from __future__ import annotations


class SparkDsError(Exception):
    """Root of every error raised by a spark-ds connector."""

    kind: str = "error"
    system: str = ""
    operation: str = ""


class ConfigError(SparkDsError, ValueError):
    """An option or argument is wrong; the message names it and what was expected."""


class AuthError(SparkDsError):
    """Credentials were missing or refused."""


class TransientError(SparkDsError):
    """A failure that may pass (connection reset, timeout); retries were exhausted."""


class RateLimitedError(TransientError):
    """The server asked to slow down; ``retry_after`` holds its hint in seconds, if any."""

    retry_after: float | None = None


class PermanentError(SparkDsError):
    """The server refused the request for good (unknown table, syntax, constraint)."""


class DataError(SparkDsError):
    """A value could not be converted between Spark and the system's types."""


class InternalError(SparkDsError):
    """A bug in spark-ds (for example a panic in native code); the task failed safely."""


__all__ = [
    "AuthError",
    "ConfigError",
    "DataError",
    "InternalError",
    "PermanentError",
    "RateLimitedError",
    "SparkDsError",
    "TransientError",
]
