"""Makes native log lines and task summaries visible in Spark's executor logs."""

from __future__ import annotations

import logging
import os
import sys

ROOT_LOGGER = "spark_ds"
LOG_FILE_ENV = "SPARK_DS_LOG_FILE"


def ensure_handler(level: str | None = None) -> logging.Logger:
    """Gives the ``spark_ds`` logger a stderr handler unless the application set one.

    Python workers' stderr lands in the executor log; without a handler Python would drop
    INFO records such as the per-task summary line.
    """
    logger = logging.getLogger(ROOT_LOGGER)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    add_file_handler(logger)
    if level:
        logger.setLevel(level.upper())
    elif logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    return logger


class _LogFileHandler(logging.FileHandler):
    """The handler :func:`add_file_handler` adds (its own class, so it is added only once)."""


def add_file_handler(logger: logging.Logger) -> None:
    """Also appends ``logger``'s records to the file named by ``SPARK_DS_LOG_FILE``, if set.

    Python workers inherit the Spark JVM's environment, so setting the variable before the
    session starts collects every worker's records (e.g. task summaries) in one file: tests
    read it to prove what happened inside tasks. One handler per process, added once.
    """
    path = os.environ.get(LOG_FILE_ENV)
    if not path or any(isinstance(h, _LogFileHandler) for h in logger.handlers):
        return
    handler = _LogFileHandler(path, mode="a", encoding="utf-8", delay=True)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
    )
    logger.addHandler(handler)
