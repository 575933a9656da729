"""Faults in the middle of reads and writes: exact results through retries, never a hang,
never a partial write reported as success.

Connections go through Toxiproxy, which cuts them on demand; Cassandra itself is restarted
through the harness. Every test proves that its fault landed mid-job: the connector's
per-task summary lines (logged at INFO, collected from every Python worker through
``SPARK_DS_LOG_FILE``, see conftest) must count retries, and their rows must add up.
"""

from __future__ import annotations

import re
import time
from typing import Any

import fault_support
import pytest
from cassandra_support import connector_options, cql_session, create_keyspace, unique
from fault_support import Background

pytestmark = [pytest.mark.services, pytest.mark.faults]

ROWS = 60_000
# Faults start this long after the job's first task does. A write of ROWS rows through
# local[2] takes several seconds; reads are faster, so they are throttled (READ_PACING) to
# last as long. Either way the fault lands mid-job, while pages and writes are in flight
# (the retry counts prove it). Without the pacing a read's tasks take well under a second
# each, and the cut lands between them, where nothing is counted.
FAULT_AFTER_S = 1.5
READ_PACING = {"fetchSize": "200", "readsPerSec": "20"}
# The restart test's read: slower, so its tasks (6 of ~10k rows, 2 at a time) span the
# restart even when the suite's load delays when the restart begins.
RESTART_READ_PACING = {"fetchSize": "200", "readsPerSec": "8"}
# ... and its write: each task's 30k rows (6.2 MB) take about 20 s, so the restart lands
# mid-write even when stopping Cassandra takes seconds (unpaced, a write could end first).
RESTART_WRITE_PACING = {"writeThroughputMBPerSec": "0.3"}
# The retry budget given to the connector in the connection-reset tests.
RETRY_BUDGET_MS = 60_000
# A restart of the harness's Cassandra takes tens of seconds on a busy machine: this budget
# (and an attempt limit that never binds first) rides it out.
RESTART_BUDGET_MS = 180_000


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
        logLevel="info",
    )


# The line a task logs once its session is open and its statement prepared.
TASK_AT_WORK = re.compile(
    r"spark_ds\.cassandra: (read|write) \S+.*: (SELECT|INSERT|UPDATE|DELETE) "
)


def wait_for_a_task_at_work(task_log) -> None:
    fault_support.wait_for_a_task_at_work(
        task_log, lambda line: TASK_AT_WORK.search(line) is not None, "began to read or write"
    )


def cut_connections_for(task_log, toxiproxy, proxy: str, seconds: float) -> Background:
    """Mid-job, resets every connection through the proxy and refuses new ones for `seconds`."""

    def fault() -> None:
        toxic = toxiproxy.reset_peer(proxy, timeout_ms=0)
        toxiproxy.disable(proxy)
        time.sleep(seconds)
        toxiproxy.enable(proxy)
        toxiproxy.remove_toxic(proxy, toxic)

    return Background(lambda: wait_for_a_task_at_work(task_log), fault, FAULT_AFTER_S)


def assert_fault_was_ridden_out(task_log, task_prefix: str, tasks: int) -> None:
    """The job's task summaries: one per task, rows adding up to ROWS, retries counted."""
    summaries = [s for s in task_log.summaries("cassandra") if s.task.startswith(task_prefix)]
    lines = "\n".join(s.line for s in summaries) or "(none)"
    assert len(summaries) == tasks, f"expected {tasks} `{task_prefix}` summaries:\n{lines}"
    assert sum(s.rows for s in summaries) == ROWS, lines
    assert sum(s.retries for s in summaries) > 0, f"the fault did not land mid-job:\n{lines}"


def test_connection_reset_mid_read_still_reads_exactly(
    spark, env, toxiproxy, keyspace, source_table, *, task_log
) -> None:
    options = {**proxied_options(env, toxiproxy, keyspace, source_table), **READ_PACING}
    df = spark.read.format("cassandra").options(**options).load()
    tasks = df.rdd.getNumPartitions()
    task_log.mark()
    fault = cut_connections_for(task_log, toxiproxy, toxiproxy.created[-1], seconds=2)
    ids = [r.id for r in df.select("id").collect()]
    fault.join()
    assert len(ids) == ROWS
    assert sorted(ids) == list(range(ROWS))
    assert_fault_was_ridden_out(task_log, f"read {keyspace}.{source_table} ", tasks=tasks)


def test_connection_reset_mid_write_writes_exactly(
    spark, env, toxiproxy, keyspace, task_log
) -> None:
    cql = cql_session(env)
    cql.execute(f"CREATE TABLE {keyspace}.sink_reset (id int PRIMARY KEY, payload text)")
    options = proxied_options(env, toxiproxy, keyspace, "sink_reset")
    df = spark.range(ROWS).selectExpr("CAST(id AS INT) AS id", "repeat('y', 200) AS payload")
    tasks = df.rdd.getNumPartitions()
    task_log.mark()
    fault = cut_connections_for(task_log, toxiproxy, toxiproxy.created[-1], seconds=2)
    df.write.format("cassandra").options(**options).mode("append").save()
    fault.join()
    count = cql.execute(f"SELECT count(*) FROM {keyspace}.sink_reset").one()[0]
    cql.cluster.shutdown()
    assert count == ROWS
    assert_fault_was_ridden_out(task_log, f"write {keyspace}.sink_reset", tasks=tasks)


def test_cassandra_restart_mid_read_and_write_is_ridden_out(
    spark, env, services_env, keyspace, source_table, *, task_log
) -> None:
    """Expected outcome: success with exact data. The retry budget set here outlasts a
    restart of the harness's Cassandra, so neither job may fail; the summaries prove each
    restart landed mid-job."""
    cql = cql_session(env)
    cql.execute(f"CREATE TABLE {keyspace}.sink_restart (id int PRIMARY KEY, payload text)")
    cql.cluster.shutdown()
    options = connector_options(
        env,
        keyspace=keyspace,
        splitCount=6,
        retryMaxElapsedMs=RESTART_BUDGET_MS,
        retryMaxAttempts=100,
        logLevel="info",
    )

    def restart_mid_job() -> Background:
        def restart() -> None:
            services_env.restart("cassandra")

        return Background(lambda: wait_for_a_task_at_work(task_log), restart, FAULT_AFTER_S)

    read = (
        spark.read.format("cassandra")
        .options(**options, **RESTART_READ_PACING, table=source_table)
        .load()
    )
    read_tasks = read.rdd.getNumPartitions()
    task_log.mark()
    started = time.monotonic()
    restart = restart_mid_job()
    ids = [r.id for r in read.select("id").collect()]
    restart.join()
    elapsed = time.monotonic() - started
    assert sorted(ids) == list(range(ROWS))
    # The connector's budget bounds each request; a hang would run far past it.
    assert elapsed < RESTART_BUDGET_MS / 1000 + 120, f"read took {elapsed:.0f} s"
    assert_fault_was_ridden_out(task_log, f"read {keyspace}.{source_table} ", tasks=read_tasks)

    write = spark.range(ROWS).selectExpr("CAST(id AS INT) AS id", "repeat('z', 200) AS payload")
    tasks = write.rdd.getNumPartitions()
    task_log.mark()
    started = time.monotonic()
    restart = restart_mid_job()
    paced = {**options, **RESTART_WRITE_PACING}
    write.write.format("cassandra").options(**paced, table="sink_restart").mode("append").save()
    restart.join()
    elapsed = time.monotonic() - started
    assert elapsed < RESTART_BUDGET_MS / 1000 + 120, f"write took {elapsed:.0f} s"
    cql = cql_session(env)
    written = cql.execute(f"SELECT count(*) FROM {keyspace}.sink_restart").one()[0]
    cql.cluster.shutdown()
    assert written == ROWS  # success means every row is there
    assert_fault_was_ridden_out(task_log, f"write {keyspace}.sink_restart", tasks=tasks)
