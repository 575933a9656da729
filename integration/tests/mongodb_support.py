"""What the MongoDB tests share: connection options from the harness, a pymongo client, names."""

from __future__ import annotations

import itertools
import os
import time
from typing import Any

_counter = itertools.count()


def unique(prefix: str) -> str:
    """A database or collection name no other test run uses."""
    return f"{prefix}_{os.getpid()}_{int(time.time() * 1000) % 10_000_000}_{next(_counter)}"


def connector_options(env: dict[str, Any], **extra: object) -> dict[str, str]:
    """The `mongodb` format's options for the harness's server, plus `extra`."""
    mongodb = env["mongodb"]
    options = {
        "host": str(mongodb["host"]),
        "port": str(mongodb["port"]),
        "username": str(mongodb["username"]),
        "password": str(mongodb["password"]),
    }
    options.update({k: str(v) for k, v in extra.items()})
    return options


def mongo_client(env: dict[str, Any]) -> Any:
    """A pymongo client as the harness's user (test set-up and checks only)."""
    from pymongo import MongoClient

    mongodb = env["mongodb"]
    return MongoClient(
        host=str(mongodb["host"]),
        port=int(mongodb["port"]),
        username=str(mongodb["username"]),
        password=str(mongodb["password"]),
        authSource="admin",
        serverSelectionTimeoutMS=10_000,
    )
