"""Faults in the middle of reads and writes: exact results through retries, or a clear error
within the retry budget. Never a hang, never a partial write reported as success.

Connections go through Toxiproxy, which cuts them on demand; Cassandra itself is restarted
through the harness.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from cassandra_support import connector_options, cql_session, create_keyspace, unique

pytestmark = [pytest.mark.services, pytest.mark.faults]

ROWS = 60_000
# A read or write of ROWS rows through local[2] takes seconds: faults land mid-job.
FAULT_AFTER_S = 1.5
# The retry budget given to the connector in these tests; a job must end within it.
RETRY_BUDGET_MS = 60_000


@pytest.fixture(scope="module")
def env(services_env) -> dict[str, Any]:
    services_env(["cassandra", "toxiproxy"])
    return services_env.data


@pytest.fixture(scope="module")
def keyspace(env) -> str:
    cql = cql_session(env)
    name = unique("faults")
    create_keyspace(cql, name)
    cql.execute(f"CREATE TABLE {name}.source (id int PRIMARY KEY, payload text)")
    cql.cluster.shutdown()
    return name


@pytest.fixture(scope="module")
def source_table(spark, env, keyspace) -> str:
    df = spark.range(ROWS).selectExpr("CAST(id AS INT) AS id", "repeat('x', 200) AS payload")
    options = connector_options(env, keyspace=keyspace, table="source")
    df.write.format("cassandra").options(**options).mode("append").save()
    return "source"


def proxied_options(env, toxiproxy, keyspace: str, table: str) -> dict[str, str]:
    cassandra = env["cassandra"]
    toxiproxy.create_proxy(unique("cql"), f"{cassandra['host']}:{cassandra['port']}")
    port = toxiproxy.listen_port(toxiproxy.created[-1])
    return connector_options(
        env,
        keyspace=keyspace,
        table=table,
        port=port,
        fetchSize=500,
        splitCount=6,
        concurrentWrites=4,
        retryMaxElapsedMs=RETRY_BUDGET_MS,
        requestTimeoutMs=10_000,
    )


def cut_connections_for(toxiproxy, proxy: str, seconds: float) -> threading.Thread:
    """After FAULT_AFTER_S, resets every connection through the proxy for `seconds`."""

    def fault() -> None:
        time.sleep(FAULT_AFTER_S)
        toxic = toxiproxy.reset_peer(proxy, timeout_ms=0)
        toxiproxy.disable(proxy)
        time.sleep(seconds)
        toxiproxy.enable(proxy)
        toxiproxy.remove_toxic(proxy, toxic)

    thread = threading.Thread(target=fault, daemon=True)
    thread.start()
    return thread


def test_connection_reset_mid_read_still_reads_exactly(
    spark, env, toxiproxy, keyspace, source_table
) -> None:
    options = proxied_options(env, toxiproxy, keyspace, source_table)
    fault = cut_connections_for(toxiproxy, toxiproxy.created[-1], seconds=2)
    df = spark.read.format("cassandra").options(**options).load()
    ids = [r.id for r in df.select("id").collect()]
    fault.join()
    assert len(ids) == ROWS
    assert sorted(ids) == list(range(ROWS))


def test_connection_reset_mid_write_writes_exactly(spark, env, toxiproxy, keyspace) -> None:
    cql = cql_session(env)
    cql.execute(f"CREATE TABLE {keyspace}.sink_reset (id int PRIMARY KEY, payload text)")
    options = proxied_options(env, toxiproxy, keyspace, "sink_reset")
    fault = cut_connections_for(toxiproxy, toxiproxy.created[-1], seconds=2)
    df = spark.range(ROWS).selectExpr("CAST(id AS INT) AS id", "repeat('y', 200) AS payload")
    df.write.format("cassandra").options(**options).mode("append").save()
    fault.join()
    count = cql.execute(f"SELECT count(*) FROM {keyspace}.sink_reset").one()[0]
    cql.cluster.shutdown()
    assert count == ROWS


def test_cassandra_restart_mid_read_and_write_ends_exact_or_with_a_clear_error(
    spark, env, services_env, keyspace, source_table
) -> None:
    cql = cql_session(env)
    cql.execute(f"CREATE TABLE {keyspace}.sink_restart (id int PRIMARY KEY, payload text)")
    cql.cluster.shutdown()
    options = connector_options(
        env, keyspace=keyspace, fetchSize=500, splitCount=6, retryMaxElapsedMs=RETRY_BUDGET_MS
    )

    def restart_later() -> None:
        time.sleep(FAULT_AFTER_S)
        services_env.restart("cassandra")

    outcomes: dict[str, Any] = {}
    for job in ("read", "write"):
        restarter = threading.Thread(target=restart_later, daemon=True)
        started = time.monotonic()
        restarter.start()
        try:
            if job == "read":
                df = spark.read.format("cassandra").options(**options, table=source_table).load()
                outcomes[job] = ("ok", df.count())
            else:
                df = spark.range(ROWS).selectExpr(
                    "CAST(id AS INT) AS id", "repeat('z', 200) AS payload"
                )
                df.write.format("cassandra").options(**options, table="sink_restart").mode(
                    "append"
                ).save()
                outcomes[job] = ("ok", None)
        except Exception as error:  # a clear failure within the budget is acceptable
            outcomes[job] = ("failed", str(error))
        restarter.join()
        elapsed = time.monotonic() - started
        # Spark retries a failed task up to 4 times locally at most once (local[2] = 1 try);
        # the connector's own budget bounds each attempt.
        assert elapsed < RETRY_BUDGET_MS / 1000 * 3 + 120, f"{job} took {elapsed:.0f} s"

    status, detail = outcomes["read"]
    if status == "ok":
        assert detail == ROWS
    else:
        assert "gave up after" in detail or "TransientError" in detail, detail
    status, detail = outcomes["write"]
    cql = cql_session(env)
    written = cql.execute(f"SELECT count(*) FROM {keyspace}.sink_restart").one()[0]
    cql.cluster.shutdown()
    if status == "ok":
        assert written == ROWS  # success means every row is there
    else:
        assert "gave up after" in detail or "TransientError" in detail, detail
