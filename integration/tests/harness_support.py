"""What every connector's tests share: names no other run uses, and the harness's options."""

from __future__ import annotations

import itertools
import os
import time
from typing import Any

_counter = itertools.count()


def unique(prefix: str) -> str:
    """A keyspace, collection, table or queue name no other test run uses."""
    return f"{prefix}_{os.getpid()}_{int(time.time() * 1000) % 10_000_000}_{next(_counter)}"


def service_options(env: dict[str, Any], service: str, **extra: object) -> dict[str, str]:
    """A connector's host, port and credentials for the harness's `service`, plus `extra`."""
    server = env[service]
    options = {
        "host": str(server["host"]),
        "port": str(server["port"]),
        "username": str(server["username"]),
        "password": str(server["password"]),
    }
    options.update({k: str(v) for k, v in extra.items()})
    return options
