"""Options: a wrong name or value fails naming the option and what was expected; secrets
appear in no error, no plan and no log line."""

from __future__ import annotations

import contextlib
import io
from typing import Any

import pytest
from pyspark.sql.utils import is_remote

from .connectors import ConnectorUnderTest
from .standard import SIMPLE_SCHEMA

pytestmark = pytest.mark.services

SECRET = "pw-Z7q!conformance"
# Wrong for the login above, so the server refuses it; as distinctive, so a leak shows.
WRONG_SECRET = "pw-K4r!conformance-wrong"


def fail_read(spark: Any, connector: ConnectorUnderTest, options: dict[str, str]) -> str:
    with pytest.raises(Exception) as caught:
        spark.read.format(connector.name).options(**options).load().collect()
    return str(caught.value)


def fail_write(spark: Any, connector: ConnectorUnderTest, options: dict[str, str]) -> str:
    frame = spark.createDataFrame([(1, "a")], SIMPLE_SCHEMA)
    with pytest.raises(Exception) as caught:
        frame.write.format(connector.name).options(**options).mode("append").save()
    return str(caught.value)


def failures(
    spark: Any, connector: ConnectorUnderTest, options: dict[str, str], write: bool = True
) -> dict[str, str]:
    """The error of a read and of a write with `options`, for the paths the connector has."""
    out = {}
    if connector.capabilities & {"batch_read", "message_read"}:
        out["read"] = fail_read(spark, connector, options)
    if write and connector.capabilities & {"batch_write", "message_write"}:
        out["write"] = fail_write(spark, connector, options)
    assert out, f"connector `{connector.name}` declares no read and no write"
    return out


def test_misspelled_option_is_named_with_the_nearest_valid_one(spark, connector) -> None:
    wrong, right = connector.misspelled_option
    target = connector.new_target("simple")
    options = connector.options(target)
    options[wrong] = options.pop(right, "x")
    for path, message in failures(spark, connector, options).items():
        assert f"`{wrong}`" in message, (path, message)
        assert f"did you mean `{right}`?" in message, (path, message)


def test_invalid_option_value_names_the_option_and_the_expected_values(spark, connector) -> None:
    target = connector.new_target("simple")
    for option, value, expected in connector.bad_values:
        options = connector.options(target, **{option: value})
        for path, message in failures(spark, connector, options).items():
            assert f"option `{option}`" in message, (path, message)
            assert value in message, (path, message)
            for word in expected:
                assert word in message, (path, option, word, message)


def explained(df: Any, mode: str) -> str:
    """What ``df.explain(mode)`` prints: in Spark Connect the server's plan text too."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        df.explain(mode)
    return printed.getvalue()


def test_secrets_appear_in_no_error_plan_or_log_line(spark, connector, task_log) -> None:
    target = connector.new_target("simple")
    frame = spark.createDataFrame([(1, "a"), (2, "b")], SIMPLE_SCHEMA)
    with connector.login_with_password(SECRET) as login:
        options = connector.options(target, logLevel="debug", **login)
        # The login works: these reads and writes really carried the secret.
        frame.write.format(connector.name).options(**options).mode("append").save()
        df = connector.reader(spark, SIMPLE_SCHEMA).options(**options).load()
        assert sorted(tuple(r) for r in df.select("id", "name").collect()) == [(1, "a"), (2, "b")]

        plans = {
            f"{name} explain({mode!r})": explained(frame, mode)
            for name, frame in (("plain", df), ("filtered", df.where("id = 1")))
            for mode in ("extended", "formatted", "cost")
        }
        if not is_remote():
            # Classic mode can also read the query execution through the JVM handle.
            plans["queryExecution"] = df._jdf.queryExecution().toString()
            plans["filtered queryExecution"] = df.where("id = 1")._jdf.queryExecution().toString()
        for where, text in plans.items():
            assert connector.name in text.lower() or "python" in text.lower(), (where, text)
            assert SECRET not in text, where

        wrong, right = connector.misspelled_option
        # Each case with a fragment its error must show: the errors are about the case.
        errors = {
            "misspelled option": (
                {**options, wrong: options[right]} if right in options else {**options, wrong: "x"},
                f"`{wrong}`",
            ),
            "missing target": (connector.options("no_such_target", **login), "no_such_target"),
            "wrong password": ({**options, "password": WRONG_SECRET}, "connect"),
        }
        for option, value, _expected in connector.bad_values:
            errors[f"bad {option}"] = ({**options, option: value}, f"option `{option}`")
        for case, (case_options, fragment) in errors.items():
            # A system that creates a missing target on the first write has no write error.
            write = not (case == "missing target" and connector.creates_target_on_write)
            for path, message in failures(spark, connector, case_options, write).items():
                assert fragment in message, (case, path, message)
                assert SECRET not in message, (case, path)
                assert WRONG_SECRET not in message, (case, path)
    for line in task_log.lines():
        assert SECRET not in line and WRONG_SECRET not in line, line
