"""The exception classes every spark-ds package raises (native errors arrive as these).

Each wheel vendors this module, yet one ``except SparkDsError`` must catch the errors of
every installed connector. So the classes are created once per process: the first copy
imported registers its classes in a private module in ``sys.modules``, and every later
copy reuses them (adding any class an older copy lacked). The classes keep the
``__module__`` of the copy that created them, which is importable, so they pickle.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import TypeVar

_REGISTRY_NAME = "_spark_ds_error_classes"

_registry = sys.modules.get(_REGISTRY_NAME)
if _registry is None:
    _registry = ModuleType(_REGISTRY_NAME, "spark-ds exception classes, shared by all packages")
    sys.modules[_REGISTRY_NAME] = _registry
_REGISTRY: ModuleType = _registry

_E = TypeVar("_E", bound=type[BaseException])


def _once(cls: _E) -> _E:
    """The process's class of this name if a copy already made it; else registers ``cls``."""
    existing = getattr(_REGISTRY, cls.__name__, None)
    if isinstance(existing, type) and issubclass(existing, BaseException):
        return existing  # type: ignore[return-value]
    setattr(_REGISTRY, cls.__name__, cls)
    return cls


@_once
class SparkDsError(Exception):
    """Root of every error raised by a spark-ds connector."""

    kind: str = "error"
    system: str = ""
    operation: str = ""


@_once
class ConfigError(SparkDsError, ValueError):
    """An option or argument is wrong; the message names it and what was expected."""


@_once
class AuthError(SparkDsError):
    """Credentials were missing or refused."""


@_once
class TransientError(SparkDsError):
    """A failure that may pass (connection reset, timeout); retries were exhausted."""


@_once
class RateLimitedError(TransientError):
    """The server asked to slow down; ``retry_after`` holds its hint in seconds, if any."""

    retry_after: float | None = None


@_once
class PermanentError(SparkDsError):
    """The server refused the request for good (unknown table, syntax, constraint)."""


@_once
class NotFoundError(PermanentError):
    """The keyspace, table, collection, queue, topic or URL named does not exist."""


@_once
class AlreadyExistsError(PermanentError):
    """The object to be created exists already (or holds rows where none may be)."""


@_once
class DataError(SparkDsError):
    """A value could not be converted between Spark and the system's types."""


@_once
class InternalError(SparkDsError):
    """A bug in spark-ds (for example a panic in native code); the task failed safely."""


__all__ = [
    "AlreadyExistsError",
    "AuthError",
    "ConfigError",
    "DataError",
    "InternalError",
    "NotFoundError",
    "PermanentError",
    "RateLimitedError",
    "SparkDsError",
    "TransientError",
]
