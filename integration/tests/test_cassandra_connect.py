"""Connecting at planning: a wrong host or port fails in seconds and says so, a server that
never answers is given up within the time budget with the timeouts really applied, and a
`localDC` no node belongs to is refused, naming the datacenters that exist."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from cassandra_support import connector_options, cql_session, create_keyspace, unique

pytestmark = pytest.mark.services

# Wall-clock slack for Spark's planning around the connector's own work (a Python worker
# starts for the data source): generous, these are behaviour bounds, not benchmarks.
SLACK_S = 3.0


@pytest.fixture(scope="module")
def keyspace(env) -> str:
    session = cql_session(env)
    name = unique("connect")
    create_keyspace(session, name)
    session.execute(f"CREATE TABLE {name}.t (id int PRIMARY KEY, v text)")
    session.execute(f"INSERT INTO {name}.t (id, v) VALUES (1, 'one')")
    session.cluster.shutdown()
    return name


@pytest.fixture(scope="module")
def warm_spark(spark) -> Any:
    """The session, started before any test measures time (its start takes seconds)."""
    spark.range(1).count()
    return spark


def unused_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A local port that accepts connections and never sends a byte."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    server.settimeout(0.2)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in held:
            conn.close()
        server.close()


def failed_load(spark, options: dict[str, str]) -> tuple[str, float]:
    """(message, seconds) of a `load()` expected to fail at planning."""
    started = time.monotonic()
    with pytest.raises(Exception) as caught:
        spark.read.format("cassandra").options(**options).load()
    return str(caught.value), time.monotonic() - started


def test_refused_port_fails_fast_naming_host_port_and_retries(warm_spark, env) -> None:
    port = unused_port()
    secret = "pw-never-in-messages"
    options = connector_options(env, keyspace="k", table="t", port=port, password=secret)
    message, seconds = failed_load(warm_spark, options)
    # Today's main retries 10 times with backoff: 26-31 s.
    assert seconds < 15, f"{seconds:.1f} s: {message}"
    assert f"127.0.0.1:{port}" in message, message
    for option in ("`host`", "`port`", "`retryMaxAttempts`"):
        assert option in message, message
    assert "refused" in message, message
    assert secret not in message


def test_missing_login_fails_at_once_saying_how_to_give_one(warm_spark, env, monkeypatch) -> None:
    # The harness's Cassandra requires a login. Without one the driver's "authentication is
    # required" used to be retried as transient (10 attempts, 23-35 s).
    for variable in ("SPARK_DS_CASSANDRA_USERNAME", "SPARK_DS_CASSANDRA_PASSWORD"):
        monkeypatch.delenv(variable, raising=False)
    options = connector_options(env, keyspace="k", table="t")
    del options["username"], options["password"]
    message, seconds = failed_load(warm_spark, options)
    assert "requires a login and none was given" in message, message
    assert "`username`" in message and "SPARK_DS_CASSANDRA_USERNAME" in message, message
    assert seconds < 15, f"{seconds:.1f} s: {message}"


def test_silent_port_gives_up_within_the_budget_stating_the_timeouts(
    warm_spark, env, silent_port
) -> None:
    options = connector_options(
        env,
        keyspace="k",
        table="t",
        port=silent_port,
        connectTimeoutMs=4000,
        retryMaxElapsedMs=6000,
    )
    message, seconds = failed_load(warm_spark, options)
    # Today's main spends 7000 ms (1.5 x connectTimeoutMs + 1 s) on one attempt.
    assert seconds < 6 + SLACK_S, f"{seconds:.1f} s: {message}"
    assert f"127.0.0.1:{silent_port}" in message, message
    assert "within 4000 ms (option `connectTimeoutMs`" in message, message
    assert "6000 ms (option `retryMaxElapsedMs`)" in message, message


def test_budget_smaller_than_the_connect_timeout_bounds_the_attempt(
    warm_spark, env, silent_port
) -> None:
    options = connector_options(
        env, keyspace="k", table="t", port=silent_port, retryMaxElapsedMs=2500
    )
    message, seconds = failed_load(warm_spark, options)
    # Today's main waits 8500 ms for the one attempt whatever the budget.
    assert seconds < 2.5 + SLACK_S, f"{seconds:.1f} s: {message}"
    assert "2500 ms (option `retryMaxElapsedMs`)" in message, message


def test_unknown_local_dc_is_refused_listing_the_datacenters(spark, env, keyspace) -> None:
    options = connector_options(env, keyspace=keyspace, table="t", localDC="nowhere")
    message, _ = failed_load(spark, options)
    assert "`localDC`" in message and "nowhere" in message, message
    assert "datacenter1" in message, message
    assert "ConfigError" in message or "config" in message.lower(), message


def test_known_local_dc_reads(spark, env, keyspace) -> None:
    options = connector_options(env, keyspace=keyspace, table="t", localDC="datacenter1")
    rows = spark.read.format("cassandra").options(**options).load().collect()
    assert [(r.id, r.v) for r in rows] == [(1, "one")]
