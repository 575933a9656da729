"""The foundation's promises: wheels that self-register, light imports, safe panics."""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from cassandra_support import connector_options, cql_session, create_keyspace, unique

CONNECTORS = ["cassandra", "mongodb", "rabbitmq", "mqtt", "rest"]

# Runs inside the fresh virtualenv: a new SparkSession, no register() call, and each format
# must resolve to our data source (its own error message proves ours answered, not Spark's
# "data source not found").
RESOLVE_SCRIPT = r"""
import json, sys
from pyspark.sql import SparkSession
spark = (SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false")
         .getOrCreate())
out = {}
for name in sys.argv[1:]:
    try:
        spark.read.format(name).load().schema
        out[name] = "loaded"
    except Exception as e:
        out[name] = str(e)
spark.stop()
print("RESULT " + json.dumps(out))
"""


def test_package_import_loads_no_native_code() -> None:
    code = (
        "import sys\n"
        + "".join(f"import pyspark_ds_{c}\n" for c in CONNECTORS)
        + "loaded = [m for m in sys.modules if m.endswith('._native')]\n"
        + "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_installed_wheels_self_register_in_fresh_virtualenv(fresh_venv) -> None:
    which_cargo = subprocess.run(
        ["which", "cargo"], env=fresh_venv.env, capture_output=True, check=False
    )
    assert which_cargo.returncode != 0
    result = fresh_venv.run("-c", RESOLVE_SCRIPT, *CONNECTORS)
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, result.stdout + result.stderr
    outcome = json.loads(lines[-1].removeprefix("RESULT "))
    for name in ["mqtt", "rest"]:
        assert f"the `{name}` format is registered" in outcome[name], outcome[name]
    # The connectors' own option validation answered: each format resolved to our source.
    assert re.search(
        r"\[cassandra\] .*option `(keyspace|table)` is required", outcome["cassandra"]
    ), outcome["cassandra"]
    assert re.search(r"\[mongodb\] .*option `database` is required", outcome["mongodb"]), outcome[
        "mongodb"
    ]
    assert re.search(r"\[rabbitmq\] .*option `queue` is required", outcome["rabbitmq"]), outcome[
        "rabbitmq"
    ]


def test_rust_panic_becomes_internal_error() -> None:
    from pyspark_ds_cassandra import InternalError, SparkDsError, _native

    with pytest.raises(InternalError, match=r"panic: boom") as caught:
        _native._debug_panic("boom")
    assert isinstance(caught.value, SparkDsError)
    # The interpreter is fine afterwards.
    _native.set_log_level("info")


def test_rust_panic_in_a_spark_task_fails_the_task_not_the_worker(spark) -> None:
    def panicking(batches):
        from pyspark_ds_cassandra import _native

        for _batch in batches:
            _native._debug_panic("kaboom in a task")
            yield _batch

    with pytest.raises(Exception, match=r"InternalError") as caught:
        spark.range(8).mapInArrow(panicking, "id LONG").collect()
    assert "panic: kaboom in a task" in str(caught.value)
    # The same session and its Python workers keep working.
    assert spark.range(100).selectExpr("sum(id)").first()[0] == 4950


def test_error_classes_share_one_root() -> None:
    import pyspark_ds_cassandra as c

    for cls in (c.ConfigError, c.AuthError, c.TransientError, c.PermanentError, c.DataError):
        assert issubclass(cls, c.SparkDsError)
    assert issubclass(c.RateLimitedError, c.TransientError)
    assert issubclass(c.ConfigError, ValueError)


def test_unknown_option_names_the_nearest_valid_one() -> None:
    from pyspark_ds_cassandra import ConfigError, _native

    with pytest.raises(ConfigError, match=r"did you mean `fetchSize`\?"):
        _native.validate_options({"keyspace": "k", "table": "t", "fetchsise": "10"})
    with pytest.raises(ConfigError, match=r"option `fetchSize`: expected a whole number"):
        _native.validate_options({"keyspace": "k", "table": "t", "fetchsize": "many"})


def test_secrets_never_appear_in_errors() -> None:
    import os

    from pyspark_ds_cassandra import ConfigError, _native

    # An ill-typed option's error quotes the value it got. The control shows it, for a
    # value that is no one's password: without redaction, a password given as that value
    # would be in the message too.
    with pytest.raises(ConfigError) as caught:
        _native.validate_options({"keyspace": "k", "table": "t", "fetchSize": "Plain-Value-42"})
    assert "option `fetchSize`: expected a whole number" in str(caught.value)
    assert "`Plain-Value-42`" in str(caught.value)

    # The same error when the value is also the password. Options are checked in no fixed
    # order, so the bad `fetchSize` may be met before `password` is: several fresh secrets
    # make both orders happen, and the secret must be masked in every one.
    for n in range(8):
        secret = f"Sup3r-Secret-Pw-{n}-{os.getpid()}"
        options = {"fetchSize": secret, "password": secret, "keyspace": "k", "table": "t"}
        with pytest.raises(ConfigError) as caught:
            _native.validate_options(options)
        message = str(caught.value)
        # The same message as the control's (so the value was quoted), minus the secret.
        assert "option `fetchSize`: expected a whole number" in message, message
        assert "got `" in message or "got ***" in message, message
        assert secret not in message, message


# Imports one connector, raises through another's native module, catches with the first's
# class; then pickles the error for a second, fresh process to load.
ONE_EXCEPT_SCRIPT = r"""
import pickle, sys
import pyspark_ds_mongodb as mongodb
import pyspark_ds_cassandra as cassandra
from pyspark_ds_cassandra import _native as cassandra_native
from pyspark_ds_mongodb import _native as mongodb_native

assert cassandra.SparkDsError is mongodb.SparkDsError
try:
    cassandra_native.validate_options({"keyspace": "k", "table": "t", "fetchsize": "many"})
except mongodb.ConfigError as e:
    config_error = e
try:
    mongodb_native._debug_panic("boom")
except cassandra.InternalError as e:
    internal_error = e
try:
    mongodb.DefaultSource({}).schema()
except cassandra.SparkDsError as e:
    preview_error = e
assert config_error.system == "cassandra", config_error.system
back = pickle.loads(pickle.dumps(config_error))
assert type(back) is cassandra.ConfigError and str(back) == str(config_error)
assert back.system == "cassandra" and back.operation == config_error.operation
sys.stdout.buffer.write(pickle.dumps([config_error, internal_error, preview_error]))
"""

UNPICKLE_SCRIPT = r"""
import pickle, sys
errors = pickle.loads(sys.stdin.buffer.read())
import pyspark_ds_cassandra as cassandra
assert [type(e).__name__ for e in errors] == ["ConfigError", "InternalError", "ConfigError"]
assert all(isinstance(e, cassandra.SparkDsError) for e in errors), [type(e) for e in errors]
assert isinstance(errors[0], ValueError)
assert "fetchSize" in str(errors[0]) and errors[0].system == "cassandra"
print("ok")
"""


def test_one_except_catches_every_connectors_errors_and_they_pickle() -> None:
    first = subprocess.run(
        [sys.executable, "-c", ONE_EXCEPT_SCRIPT], capture_output=True, check=False
    )
    assert first.returncode == 0, first.stderr.decode()[-3000:]
    second = subprocess.run(
        [sys.executable, "-c", UNPICKLE_SCRIPT],
        input=first.stdout,
        capture_output=True,
        check=False,
    )
    assert second.returncode == 0, second.stderr.decode()[-3000:]
    assert second.stdout.strip() == b"ok"


def test_error_classes_are_created_once_per_process() -> None:
    import pyspark_ds_cassandra as c
    import pyspark_ds_mqtt as q
    import pyspark_ds_rest as r

    for name in c._shared.errors.__all__:
        assert getattr(c, name) is getattr(q, name) is getattr(r, name), name


@pytest.fixture(scope="module")
def cassandra_env(services_env) -> dict[str, Any]:
    services_env(["cassandra"])
    return services_env.data


@pytest.fixture(scope="module")
def people(cassandra_env) -> dict[str, str]:
    """A keyspace with `people (id int PRIMARY KEY, name text)` and `keys (k text PRIMARY KEY)`."""
    session = cql_session(cassandra_env)
    keyspace = unique("foundation")
    create_keyspace(session, keyspace)
    session.execute(f"CREATE TABLE {keyspace}.people (id int PRIMARY KEY, name text)")
    session.execute(f"CREATE TABLE {keyspace}.keys (k text PRIMARY KEY, v int)")
    session.cluster.shutdown()
    return connector_options(cassandra_env, keyspace=keyspace, table="people")


def test_python_settings_come_from_the_option_definitions() -> None:
    from pyspark_ds_cassandra import ConfigError, _native

    base = {"keyspace": "k", "table": "t"}
    assert _native.python_settings(base) == {"pushdown": True, "logLevel": None}
    # The alias and the value's spelling go through the same definitions as the Rust side.
    aliased = _native.python_settings({**base, "spark.cassandra.sql.pushdown": "FALSE"})
    assert aliased["pushdown"] is False
    assert _native.python_settings({**base, "loglevel": "TRACE"})["logLevel"] == "trace"
    with pytest.raises(ConfigError, match=r"option `pushdown`: expected"):
        _native.python_settings({**base, "pushdown": "maybe"})
    with pytest.raises(ConfigError, match=r"option `logLevel`: expected one of .*trace") as bad:
        _native.python_settings({**base, "loglevel": "verbose"})
    assert str(bad.value).startswith("[cassandra] options: ")


def test_log_level_trace_is_below_debug_and_verbose_is_refused() -> None:
    import logging

    from pyspark_ds_cassandra import ConfigError, DefaultSource
    from pyspark_ds_cassandra._shared import logs

    source = DefaultSource({"keyspace": "k", "table": "t", "loglevel": "trace"})
    source.native()  # used to raise ValueError: Unknown level: 'TRACE'
    assert logging.getLogger("spark_ds").level == logs.TRACE < logging.DEBUG
    with pytest.raises(ConfigError, match=r"option `logLevel`"):
        DefaultSource({"keyspace": "k", "table": "t", "loglevel": "verbose"}).native()
    logging.getLogger("spark_ds").setLevel(logging.NOTSET)


def test_connector_logs_default_to_warning_unless_asked() -> None:
    code = textwrap.dedent(
        """
        import logging, os
        from pyspark_ds_cassandra import DefaultSource
        DefaultSource({"keyspace": "k", "table": "t"}).native()
        print(logging.getLevelName(logging.getLogger("spark_ds").level))
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "SPARK_DS_LOG_LEVEL"}
    quiet = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert quiet.stdout.strip() == "WARNING", quiet.stderr
    env["SPARK_DS_LOG_LEVEL"] = "info"
    asked = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert asked.stdout.strip() == "INFO", asked.stderr


def test_errors_through_spark_carry_the_stable_prefix(spark, people) -> None:
    """Spark wraps our errors: users match the `[cassandra] <operation>:` prefix."""
    from pyspark.errors import AnalysisException, PythonException
    from pyspark_ds_cassandra import SparkDsError

    # schema(): a bad option, on the driver.
    with pytest.raises(AnalysisException) as schema_failure:
        spark.read.format("cassandra").options(**people, fetchsise="10").load()
    assert "[cassandra] options: " in str(schema_failure.value), str(schema_failure.value)
    assert "did you mean `fetchSize`?" in str(schema_failure.value)
    assert not isinstance(schema_failure.value, SparkDsError)

    # A task: Cassandra refuses a partition key over 64 KiB, which only the write finds.
    keys = {**people, "table": "keys"}
    too_long = spark.createDataFrame([("k" * 70_000, 1)], "k STRING, v INT")
    with pytest.raises(PythonException) as task_failure:
        too_long.write.format("cassandra").options(**keys).mode("append").save()
    message = str(task_failure.value)
    assert re.search(r"\[cassandra\] [a-z ]+: ", message), message[-2000:]
    assert not isinstance(task_failure.value, SparkDsError)


def test_only_exact_record_batches_skip_arrow_validation(people, cassandra_env) -> None:
    import pyarrow as pa
    from pyspark_ds_cassandra import _native

    schema = pa.schema([("id", pa.int32()), ("name", pa.string())])

    class CArrayBatch:
        """Another library's batch: only the Arrow PyCapsule interface."""

        def __init__(self, data: Any) -> None:
            self.data = data

        def __arrow_c_array__(self, requested_schema: Any = None) -> Any:
            return self.data.__arrow_c_array__(requested_schema)

    good = pa.record_batch([pa.array([1, 2], pa.int32()), pa.array(["a", "b"])], schema=schema)
    exact = pa.record_batch([pa.array([3], pa.int32()), pa.array(["c"])], schema=schema)
    # Offsets 0, 3, 1 run backwards: only a full validation notices.
    offsets = pa.py_buffer(struct.pack("<3i", 0, 3, 1))
    names = pa.Array.from_buffers(pa.string(), 2, [None, offsets, pa.py_buffer(b"abc")])
    bad = pa.StructArray.from_arrays([pa.array([7, 8], pa.int32()), names], names=["id", "name"])

    writer = _native.open_writer(people, schema)
    writer.write(CArrayBatch(good))  # validated, and valid
    writer.write(exact)  # pyarrow's own batch: the fast path
    with pytest.raises(Exception, match=r"(?i)offset"):
        writer.write(CArrayBatch(bad))
    assert writer.finish()["rows"] == 3

    session = cql_session(cassandra_env)
    rows = session.execute(f"SELECT id, name FROM {people['keyspace']}.people")
    assert sorted((r.id, r.name) for r in rows) == [(1, "a"), (2, "b"), (3, "c")]
    session.cluster.shutdown()


FORK_SCRIPT = r"""
import json, os, sys
from pyspark_ds_cassandra import _native

options = json.loads(sys.argv[1])
before = [f.name for f in _native.describe(options)[0]]  # starts the runtime, connects
pid = os.fork()
if pid == 0:
    try:
        after = [f.name for f in _native.describe(options)[0]]
        os._exit(0 if after == before else 3)
    except BaseException as e:
        print("child failed:", repr(e), file=sys.stderr, flush=True)
        os._exit(4)
_, status = os.waitpid(pid, 0)
print("child exit", os.waitstatus_to_exitcode(status))
"""


def test_native_module_works_in_a_forked_child(people) -> None:
    """Spark's daemon forks workers from a process that may have used the native runtime."""
    try:
        result = subprocess.run(
            [sys.executable, "-c", FORK_SCRIPT, json.dumps(people)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except subprocess.TimeoutExpired as hung:
        pytest.fail(f"the forked child hung: {hung.stderr!r}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("child exit 0"), result.stdout + result.stderr[-3000:]


def test_an_aborted_overwrite_does_not_claim_a_rerun_converges(caplog) -> None:
    import logging

    from pyspark.sql.types import IntegerType, StructField, StructType
    from pyspark_ds_cassandra._shared.commit import TaskCommit
    from pyspark_ds_cassandra._shared.writer import NativeArrowWriter
    from pyspark_ds_cassandra.datasource import CONNECTOR

    schema = StructType([StructField("id", IntegerType())])
    finished = [TaskCommit(partition_id=0, counters={"rows": 7}), None]
    logger = logging.getLogger("spark_ds")
    propagate = logger.propagate
    logger.propagate = False
    logger.addHandler(caplog.handler)
    try:
        for overwrite in (False, True):
            writer = NativeArrowWriter(CONNECTOR, {"keyspace": "k", "table": "t"}, schema)
            writer.overwrite = overwrite
            writer.abort(finished)
    finally:
        logger.removeHandler(caplog.handler)
        logger.propagate = propagate
    append, overwrite_message = [r.getMessage() for r in caplog.records]
    assert "rerunning the job converges" in append and "7 rows" in append
    assert "rerunning" not in overwrite_message
    assert "emptied by the overwrite" in overwrite_message and "7 rows" in overwrite_message
