"""The foundation's promises: wheels that self-register, light imports, safe panics."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

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
    for name in ["mongodb", "rabbitmq", "mqtt", "rest"]:
        assert f"the `{name}` format is registered" in outcome[name], outcome[name]
    # Cassandra's own option validation answered: the format resolved to our source.
    assert re.search(
        r"\[cassandra\] .*option `(keyspace|table)` is required", outcome["cassandra"]
    ), outcome["cassandra"]


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
