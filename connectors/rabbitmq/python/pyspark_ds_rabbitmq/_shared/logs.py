"""Makes native log lines and task summaries visible in Spark's executor logs."""

from __future__ import annotations

import logging
import sys

ROOT_LOGGER = "spark_ds"


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
    if level:
        logger.setLevel(level.upper())
    elif logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    return logger
