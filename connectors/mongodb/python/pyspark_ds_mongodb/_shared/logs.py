"""Makes native log lines and task summaries visible in Spark's executor logs."""

from __future__ import annotations

import logging
import os
import sys

ROOT_LOGGER = "spark_ds"
LEVEL_ENV = "SPARK_DS_LOG_LEVEL"

# Rust's `trace` sits below DEBUG; the native bridge forwards its records at level 5 too.
TRACE = 5
logging.addLevelName(TRACE, "TRACE")

_LEVELS = {
    "off": logging.CRITICAL + 10,
    "error": logging.ERROR,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
    "trace": TRACE,
}


def python_level(level: str) -> int:
    """The Python logging level of a `logLevel` value (validated by the native options)."""
    return _LEVELS[level.strip().lower()]


def ensure_handler(level: str | None = None) -> logging.Logger:
    """Gives the ``spark_ds`` logger a stderr handler unless the application set one.

    Python workers' stderr lands in the executor log. The level is WARNING unless the user
    asks for more with the `logLevel` option or the ``SPARK_DS_LOG_LEVEL`` environment
    variable; at INFO each task logs a one-line summary.
    """
    logger = logging.getLogger(ROOT_LOGGER)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    if level:
        logger.setLevel(python_level(level))
    elif logger.level == logging.NOTSET:
        wanted = os.environ.get(LEVEL_ENV, "").strip().lower()
        logger.setLevel(_LEVELS.get(wanted, logging.WARNING))
    return logger
