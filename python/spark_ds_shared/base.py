"""The one base every connector's reader, writer and data source mixes in.

Instances are pickled to executors, so they hold only plain data: the user's options as a
dict of strings and planned partitions. Native modules are imported inside the methods that
run, never at import time.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import ModuleType

from . import logs


def plain_options(options: Mapping[str, str]) -> dict[str, str]:
    """Spark's case-insensitive options as a plain, picklable dict of strings."""
    return {str(k): str(v) for k, v in dict(options).items()}


class NativeBacked:
    """Loads the package's native module lazily, once per process, and routes its logs."""

    _native_module: str = ""

    def native(self) -> ModuleType:
        module = importlib.import_module(self._native_module)
        options: Mapping[str, str] = getattr(self, "options", {})
        level = options.get("loglevel")
        logs.ensure_handler(level)
        if level:
            module.set_log_level(level)
        return module
