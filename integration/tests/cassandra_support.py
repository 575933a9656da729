"""What the Cassandra tests share: connection options from the harness, a CQL client, names."""

from __future__ import annotations

import itertools
import os
import time
from typing import Any

_counter = itertools.count()


def unique(prefix: str) -> str:
    """A keyspace or table name no other test run uses."""
    return f"{prefix}_{os.getpid()}_{int(time.time() * 1000) % 10_000_000}_{next(_counter)}"


def connector_options(env: dict[str, Any], **extra: object) -> dict[str, str]:
    """The `cassandra` format's options for the harness's Cassandra, plus `extra`."""
    cassandra = env["cassandra"]
    options = {
        "host": str(cassandra["host"]),
        "port": str(cassandra["port"]),
        "username": str(cassandra["username"]),
        "password": str(cassandra["password"]),
    }
    options.update({k: str(v) for k, v in extra.items()})
    return options


def cql_session(env: dict[str, Any]) -> Any:
    """A cassandra-driver session as the harness's superuser (test set-up and checks only)."""
    from cassandra.auth import PlainTextAuthProvider
    from cassandra.cluster import Cluster

    cassandra = env["cassandra"]
    cluster = Cluster(
        [cassandra["host"]],
        port=int(cassandra["port"]),
        auth_provider=PlainTextAuthProvider(cassandra["username"], cassandra["password"]),
        protocol_version=5,
    )
    return cluster.connect()


def create_keyspace(session: Any, keyspace: str) -> None:
    session.execute(
        f"CREATE KEYSPACE IF NOT EXISTS {keyspace} "
        "WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"
    )
