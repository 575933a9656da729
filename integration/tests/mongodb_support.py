"""What the MongoDB tests share: connection options from the harness, a pymongo client, names."""

from __future__ import annotations

from typing import Any

from harness_support import service_options, unique

__all__ = ["connector_options", "mongo_client", "unique"]


def connector_options(env: dict[str, Any], **extra: object) -> dict[str, str]:
    """The `mongodb` format's options for the harness's server, plus `extra`."""
    return service_options(env, "mongodb", **extra)


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
