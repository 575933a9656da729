"""What the Cassandra tests share: connection options from the harness, a CQL client, names."""

from __future__ import annotations

from typing import Any

from harness_support import service_options, unique

__all__ = ["connector_options", "cql_session", "create_keyspace", "unique"]


def connector_options(env: dict[str, Any], **extra: object) -> dict[str, str]:
    """The `cassandra` format's options for the harness's Cassandra, plus `extra`."""
    return service_options(env, "cassandra", **extra)


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
