"""MongoDB reads and writes ride out faults: connections cut through Toxiproxy and a restart of
the harness's server, mid-read and mid-write, give exact results (no loss, no duplicate) or a
clear failure, never a hang or a partial write reported as success.

Connections go through a Toxiproxy proxy to FerretDB. Its ``latency`` toxic paces every job
(each server batch or bulk command waits for it), so a job lasts several seconds and the
fault lands while batches and commands are in flight. Every test proves its fault landed:
the connector's per-task summary lines (logged at INFO, collected from every Python worker
through ``SPARK_DS_LOG_FILE``, see conftest) must count retries, and their rows must add up.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import fault_support
import pytest
from fault_support import Background
from mongodb_support import connector_options, unique

pytestmark = [pytest.mark.services, pytest.mark.faults]

READ_ROWS = 20_000
WRITE_ROWS = 20_000
# FerretDB runs each update statement on its own (~15 ms): upserts stay few.
UPSERT_ROWS = 500
PARTITIONS = 4
# Faults start this long after the job's first task does.
FAULT_AFTER_S = 1.5
# Added to every reply through the proxy: with small server batches and bulks, a job's
# tasks take several seconds, so the fault lands mid-task, not between tasks.
PACING_MS = 50
READ_PACING = {"batchSize": "100"}
WRITE_PACING = {"maxBatchSize": "100", "concurrentWrites": "2"}
RETRY_BUDGET_MS = 60_000
# A silent server: replies are cut after this long, and swallowed for SILENCE_S.
SILENT_REQUEST_TIMEOUT_MS = 2_000
SILENCE_S = 4
# A restart of the harness's FerretDB, through a loaded machine: this budget (and an
# attempt limit that never binds first) rides it out.
RESTART_BUDGET_MS = 120_000
# While the server restarts, requests wait in the proxy this long at most (the hold is lifted
# as soon as the server is back); a task's next request is held within a pacing delay.
HOLD_MS = 600_000
HOLD_SETTLE_S = 0.5


@pytest.fixture(scope="module")
def env(services_env: Any) -> dict[str, Any]:
    services_env(["mongodb", "toxiproxy"])
    data: dict[str, Any] = services_env.data
    return data


@pytest.fixture(scope="module")
def mongo(env: dict[str, Any]) -> Iterator[Any]:
    from mongodb_support import mongo_client

    client = mongo_client(env)
    yield client
    client.close()


@pytest.fixture(scope="module")
def database(mongo: Any) -> Iterator[str]:
    name = unique("faults")
    yield name
    mongo.drop_database(name)


def source_docs() -> list[dict[str, Any]]:
    return [{"_id": i, "payload": f"{i:08d}" + "x" * 100} for i in range(READ_ROWS)]


@pytest.fixture(scope="module")
def source(mongo: Any, database: str) -> str:
    coll = mongo[database]["source"]
    docs = source_docs()
    for start in range(0, len(docs), 1000):
        coll.insert_many(docs[start : start + 1000])
    return "source"


class Proxy:
    """A Toxiproxy proxy to FerretDB, paced, and the connector's options through it."""

    def __init__(self, env: dict[str, Any], toxiproxy: Any, database: str) -> None:
        mongodb = env["mongodb"]
        self.toxiproxy = toxiproxy
        self.name = unique("mongo")
        toxiproxy.create_proxy(self.name, f"{mongodb['host']}:{mongodb['port']}")
        toxiproxy.latency(self.name, PACING_MS)
        self.port = toxiproxy.listen_port(self.name)
        self.env, self.database = env, database

    def options(self, collection: str, **extra: object) -> dict[str, str]:
        extra = {"retryMaxElapsedMs": RETRY_BUDGET_MS, "logLevel": "info", **extra}
        return connector_options(
            self.env, database=self.database, collection=collection, port=self.port, **extra
        )

    def cut_for(self, seconds: float) -> None:
        """Resets every connection and refuses new ones for `seconds`."""
        toxic = self.toxiproxy.reset_peer(self.name, timeout_ms=0)
        self.toxiproxy.disable(self.name)
        time.sleep(seconds)
        self.toxiproxy.enable(self.name)
        self.toxiproxy.remove_toxic(self.name, toxic)

    def silent_for(self, seconds: float) -> None:
        """Replies are swallowed for `seconds`: connections stay open and the server's
        answers to requests already sent never arrive. Lifting it ends those connections
        (Toxiproxy closes them), so only a client that cuts the silence itself, within
        `requestTimeoutMs`, logs that it did."""
        toxic = self.toxiproxy.timeout(self.name, timeout_ms=0)
        time.sleep(seconds)
        self.toxiproxy.remove_toxic(self.name, toxic)

    def held_during(self, action: Callable[[], None]) -> None:
        """Runs `action` while requests wait in the proxy (replies still flow): a task at
        work is then waiting on the server throughout, so it cannot finish first."""
        toxic = self.toxiproxy.latency(self.name, HOLD_MS, stream="upstream")
        try:
            time.sleep(HOLD_SETTLE_S)
            action()
        finally:
            self.toxiproxy.remove_toxic(self.name, toxic)


@pytest.fixture
def proxy(env: dict[str, Any], toxiproxy: Any, database: str) -> Proxy:
    return Proxy(env, toxiproxy, database)


def mid_job(task_log: Any, action: Callable[[], None]) -> Background:
    """``action`` once a task of the job is at work, plus FAULT_AFTER_S."""
    return Background(lambda: wait_for_a_task_at_work(task_log), action, FAULT_AFTER_S)


def wait_for_a_task_at_work(task_log: Any) -> None:
    """Until a task logs that its cursor or writer is open."""
    fault_support.wait_for_a_task_at_work(
        task_log,
        lambda line: line.endswith((": cursor open", ": writer open")),
        "opened a cursor or writer",
    )


def assert_fault_was_ridden_out(task_log: Any, task_prefix: str, tasks: int, rows: int) -> None:
    """The job's task summaries: one per task, rows adding up, retries counted."""
    summaries = [s for s in task_log.summaries("mongodb") if s.task.startswith(task_prefix)]
    lines = "\n".join(s.line for s in summaries) or "(none)"
    assert len(summaries) == tasks, f"expected {tasks} `{task_prefix}` summaries:\n{lines}"
    assert sum(s.rows for s in summaries) == rows, lines
    assert sum(s.retries for s in summaries) > 0, f"the fault did not land mid-job:\n{lines}"


def read(spark: Any, options: dict[str, str]) -> Any:
    return (
        spark.read.format("mongodb")
        .options(
            **options,
            **READ_PACING,
            partitioner="paginateIntoPartitions",
            **{"partitioner.options.max.number.of.partitions": str(PARTITIONS)},
        )
        .schema("_id INT, payload STRING")
        .load()
    )


def expected_rows() -> Counter[tuple[Any, ...]]:
    return Counter((d["_id"], d["payload"]) for d in source_docs())


def test_connection_cut_mid_read_resumes_exactly(
    spark: Any, proxy: Proxy, source: str, task_log: Any
) -> None:
    df = read(spark, proxy.options(source))
    tasks = df.rdd.getNumPartitions()
    task_log.mark()
    fault = mid_job(task_log, lambda: proxy.cut_for(2))
    got = Counter(tuple(r) for r in df.collect())
    fault.join()
    assert got == expected_rows()
    assert_fault_was_ridden_out(task_log, "read partition", tasks=tasks, rows=READ_ROWS)
    assert any("resumed after" in line for line in task_log.lines()), "no cursor was resumed"


def bounded(spark: Any, job: Callable[[], Any], what: str) -> Any:
    """`job`'s result, run on this thread (a Spark session's writer needs it); a watchdog
    cancels its Spark jobs once it runs far past the retry budget (a hang), which fails it
    rather than leave it holding the suite."""
    hung = threading.Event()

    def cancel() -> None:
        hung.set()
        spark.sparkContext.cancelAllJobs()

    watchdog = threading.Timer(RETRY_BUDGET_MS / 1000 + 90, cancel)
    watchdog.start()
    try:
        return job()
    except Exception:
        if hung.is_set():
            pytest.fail(f"the {what} hung on a server that stopped answering")
        raise
    finally:
        watchdog.cancel()


def test_a_server_that_stops_answering_mid_read_is_cut_off_and_resumed(
    spark: Any, proxy: Proxy, source: str, task_log: Any
) -> None:
    """The driver has no socket timeout: `requestTimeoutMs` cuts a reply that never comes,
    and the cursor resumes exactly once the server answers again."""
    options = proxy.options(source, requestTimeoutMs=SILENT_REQUEST_TIMEOUT_MS)
    df = read(spark, options)
    tasks = df.rdd.getNumPartitions()
    task_log.mark()
    fault = mid_job(task_log, lambda: proxy.silent_for(SILENCE_S))
    got = Counter(tuple(r) for r in bounded(spark, df.collect, "read"))
    fault.join()
    assert got == expected_rows()
    assert_fault_was_ridden_out(task_log, "read partition", tasks=tasks, rows=READ_ROWS)
    assert any("no reply from the server within 2000 ms" in line for line in task_log.lines())


def test_a_server_that_stops_answering_mid_insert_is_cut_off_and_written_exactly(
    spark: Any, mongo: Any, database: str, proxy: Proxy, task_log: Any
) -> None:
    coll = unique("silent")
    df = spark.range(WRITE_ROWS).selectExpr("CAST(id AS INT) AS n", "repeat('y', 100) AS payload")
    tasks = df.rdd.getNumPartitions()
    task_log.mark()
    fault = mid_job(task_log, lambda: proxy.silent_for(SILENCE_S))
    options = proxy.options(
        coll,
        operationType="insert",
        requestTimeoutMs=SILENT_REQUEST_TIMEOUT_MS,
        logLevel="debug",  # each retried attempt's cause
        **WRITE_PACING,
    )
    writer = df.write.format("mongodb").options(**options).mode("append")
    bounded(spark, writer.save, "write")
    fault.join()
    stored = Counter(d["n"] for d in mongo[database][coll].find({}, {"n": 1}))
    assert stored == Counter(range(WRITE_ROWS))
    assert_fault_was_ridden_out(task_log, f"write {database}.{coll}", tasks=tasks, rows=WRITE_ROWS)
    assert any("no reply from the server within 2000 ms" in line for line in task_log.lines())


def test_a_read_that_cannot_resume_exactly_fails_clearly(
    spark: Any, mongo: Any, database: str, proxy: Proxy, task_log: Any
) -> None:
    """Documents already read change before the cursor is cut: a re-run would not give the
    same documents up to where the read was, so the read fails, saying so."""
    coll = unique("changing")
    mongo[database][coll].insert_many(source_docs()[:5000])
    options = proxy.options(coll, partitioner="single", batchSize="50")
    df = spark.read.format("mongodb").options(**options).schema("_id INT, payload STRING").load()

    def change_then_cut() -> None:
        # The first documents were handed to Spark by now; one of them goes away.
        mongo[database][coll].delete_one({"_id": 0})
        proxy.cut_for(1)

    task_log.mark()
    fault = mid_job(task_log, change_then_cut)
    with pytest.raises(Exception, match=r"the collection changed during the read") as raised:
        df.collect()
    fault.join()
    assert "documents and was re-run to resume" in str(raised.value)


def test_connection_cut_mid_insert_writes_exactly(
    spark: Any, mongo: Any, database: str, proxy: Proxy, task_log: Any
) -> None:
    """No `_id` column: the connector gives each document its `_id` before the first
    attempt, so what a cut bulk stored is recognised on the resend, never written twice."""
    coll = unique("insert")
    df = spark.range(WRITE_ROWS).selectExpr("CAST(id AS INT) AS n", "repeat('y', 100) AS payload")
    tasks = df.rdd.getNumPartitions()
    task_log.mark()
    fault = mid_job(task_log, lambda: proxy.cut_for(2))
    options = proxy.options(coll, operationType="insert", **WRITE_PACING)
    df.write.format("mongodb").options(**options).mode("append").save()
    fault.join()
    stored = Counter(d["n"] for d in mongo[database][coll].find({}, {"n": 1}))
    assert stored == Counter(range(WRITE_ROWS))
    assert_fault_was_ridden_out(task_log, f"write {database}.{coll}", tasks=tasks, rows=WRITE_ROWS)


def test_connection_cut_mid_upsert_writes_exactly(
    spark: Any, mongo: Any, database: str, proxy: Proxy, task_log: Any
) -> None:
    """Replace with upsert by key: half the keys exist (old values), half are new; a resent
    bulk applies the same statements again, which changes nothing."""
    coll = unique("upsert")
    mongo[database][coll].insert_many(
        [{"_id": i, "v": "old", "stale": True} for i in range(0, UPSERT_ROWS, 2)]
    )
    df = spark.range(UPSERT_ROWS).selectExpr("CAST(id AS INT) AS _id", "'new' AS v")
    tasks = df.rdd.getNumPartitions()
    task_log.mark()
    fault = mid_job(task_log, lambda: proxy.cut_for(2))
    options = proxy.options(coll, operationType="replace", maxBatchSize="20")
    df.write.format("mongodb").options(**options).mode("append").save()
    fault.join()
    stored = {d["_id"]: d for d in mongo[database][coll].find()}
    assert stored == {i: {"_id": i, "v": "new"} for i in range(UPSERT_ROWS)}
    assert_fault_was_ridden_out(task_log, f"write {database}.{coll}", tasks=tasks, rows=UPSERT_ROWS)


def test_server_restart_mid_read_and_mid_write_is_ridden_out(
    spark: Any,
    services_env: Any,
    mongo: Any,
    database: str,
    proxy: Proxy,
    *,
    source: str,
    task_log: Any,
) -> None:
    """Expected outcome: success with exact data. Once a task is at work, its requests are
    held in the proxy and the server restarts: the held request meets a closed connection
    and a new server (cursors gone), so the restart lands mid-job every time. The retry
    budget set here outlasts the restart, so neither job may fail."""
    budget = {"retryMaxElapsedMs": RESTART_BUDGET_MS, "retryMaxAttempts": 100}

    def restart_mid_job() -> Background:
        def restart() -> None:
            proxy.held_during(lambda: services_env.restart("mongodb"))

        return Background(lambda: wait_for_a_task_at_work(task_log), restart, 0)

    df = read(spark, proxy.options(source, **budget))
    tasks = df.rdd.getNumPartitions()
    task_log.mark()
    started = time.monotonic()
    restart = restart_mid_job()
    got = Counter(tuple(r) for r in df.collect())
    restart.join()
    elapsed = time.monotonic() - started
    assert got == expected_rows()
    # The budget bounds each resume; a hang would run far past it.
    assert elapsed < RESTART_BUDGET_MS / 1000 + 60, f"read took {elapsed:.0f} s"
    assert_fault_was_ridden_out(task_log, "read partition", tasks=tasks, rows=READ_ROWS)

    coll = unique("restart")
    write = spark.range(WRITE_ROWS).selectExpr("CAST(id AS INT) AS n", "'z' AS payload")
    tasks = write.rdd.getNumPartitions()
    task_log.mark()
    started = time.monotonic()
    restart = restart_mid_job()
    options = proxy.options(coll, operationType="insert", **WRITE_PACING, **budget)
    write.write.format("mongodb").options(**options).mode("append").save()
    restart.join()
    elapsed = time.monotonic() - started
    assert elapsed < RESTART_BUDGET_MS / 1000 + 60, f"write took {elapsed:.0f} s"
    stored = Counter(d["n"] for d in mongo[database][coll].find({}, {"n": 1}))
    assert stored == Counter(range(WRITE_ROWS))  # success means every row, once
    assert_fault_was_ridden_out(task_log, f"write {database}.{coll}", tasks=tasks, rows=WRITE_ROWS)
