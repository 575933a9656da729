"""Makes native log lines and task summaries visible in Spark's executor logs."""

from __future__ import annotations

import logging
import os
import sys

ROOT_LOGGER = "spark_ds"
LOG_FILE_ENV = "SPARK_DS_LOG_FILE"

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


def default_level_name() -> str:
    """The level when no `logLevel` option is given: ``SPARK_DS_LOG_LEVEL``, else warning."""
    wanted = os.environ.get(LEVEL_ENV, "").strip().lower()
    return wanted if wanted in _LEVELS else "warning"


def native_default_level() -> str:
    """The native side's level when no `logLevel` option is given (as at its start)."""
    wanted = os.environ.get(LEVEL_ENV, "").strip().lower()
    return wanted if wanted in _LEVELS else "info"


# The level the last `logLevel` option applied. Python workers are reused across jobs: a
# job without the option must not inherit the previous job's level.
_applied_by_option: dict[str, int | None] = {"level": None}


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
    add_file_handler(logger)
    if level:
        _applied_by_option["level"] = python_level(level)
        logger.setLevel(python_level(level))
    elif logger.level in (logging.NOTSET, _applied_by_option["level"]):
        # Unset, or set by an earlier job's option; a level the application chose stays.
        _applied_by_option["level"] = None
        logger.setLevel(python_level(default_level_name()))
    return logger


# The name of the handler :func:`add_file_handler` adds: every connector package carries its
# own copy of this module, so a class check would not see another copy's handler.
_LOG_FILE_HANDLER = "spark_ds.log_file"


def add_file_handler(logger: logging.Logger) -> None:
    """Also appends ``logger``'s records to the file named by ``SPARK_DS_LOG_FILE``, if set.

    Python workers inherit the Spark JVM's environment, so setting the variable before the
    session starts collects every worker's records (e.g. task summaries) in one file: tests
    read it to prove what happened inside tasks. One handler per process, added once.
    """
    path = os.environ.get(LOG_FILE_ENV)
    if not path or any(h.get_name() == _LOG_FILE_HANDLER for h in logger.handlers):
        return
    handler = logging.FileHandler(path, mode="a", encoding="utf-8", delay=True)
    handler.set_name(_LOG_FILE_HANDLER)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
    )
    logger.addHandler(handler)
