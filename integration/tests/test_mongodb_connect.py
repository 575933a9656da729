"""Connecting to the MongoDB-wire server: SCRAM through options, the connection string, the
environment and a secrets file; mutual TLS with the harness CA; and the errors users meet
(bad URI, refused credentials, wrong port, TLS without a client certificate), none of which
shows a password."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from mongodb_support import connector_options, unique

pytestmark = pytest.mark.services

SLACK_S = 3.0


@pytest.fixture(scope="module")
def target(mongo: Any) -> dict[str, str]:
    """A database and collection holding two documents."""
    database, collection = unique("connect"), "docs"
    mongo[database][collection].insert_many([{"_id": 1, "v": "one"}, {"_id": 2, "v": "two"}])
    return {"database": database, "collection": collection}


def load(spark: Any, options: dict[str, str]) -> list[tuple[Any, ...]]:
    df = spark.read.format("mongodb").options(**options).load()
    return sorted((r["_id"], r["v"]) for r in df.collect())


def failed_load(spark: Any, options: dict[str, str]) -> tuple[str, float]:
    started = time.monotonic()
    with pytest.raises(Exception) as caught:
        spark.read.format("mongodb").options(**options).load().collect()
    return str(caught.value), time.monotonic() - started


def plain(mongo_env: dict[str, Any]) -> dict[str, Any]:
    return dict(mongo_env["mongodb"])


def test_scram_through_options_and_through_the_uri(spark, mongo_env, target) -> None:
    assert load(spark, connector_options(mongo_env, **target)) == [(1, "one"), (2, "two")]
    m = plain(mongo_env)
    uri = f"mongodb://{m['username']}:{m['password']}@{m['host']}:{m['port']}/?authSource=admin"
    assert load(spark, {"connection.uri": uri, **target}) == [(1, "one"), (2, "two")]


ENV_LOGIN_JOB = """
import json, sys
from pyspark.sql import SparkSession
spark = SparkSession.builder.master("local[1]").getOrCreate()
df = spark.read.format("mongodb").options(**json.loads(sys.argv[1])).load()
print(json.dumps(sorted([r["_id"], r["v"]] for r in df.collect())))
"""


def test_credentials_from_the_environment_and_a_secrets_file(
    spark, mongo_env, target, tmp_path: Path
) -> None:
    m = plain(mongo_env)
    base = {"host": str(m["host"]), "port": str(m["port"]), **target}
    secrets = tmp_path / "mongo.json"
    secrets.write_text(json.dumps({"username": m["username"], "password": m["password"]}))
    assert load(spark, {**base, "secretsFile": str(secrets)}) == [(1, "one"), (2, "two")]
    # The environment of the process that starts Spark (its Python workers inherit it): a
    # fresh process, since this test session's Spark started before any variable was set.
    env = {
        **os.environ,
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_DS_MONGODB_USERNAME": str(m["username"]),
        "SPARK_DS_MONGODB_PASSWORD": str(m["password"]),
    }
    job = subprocess.run(
        [sys.executable, "-c", ENV_LOGIN_JOB, json.dumps(base)],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert job.returncode == 0, job.stderr[-4000:]
    assert json.loads(job.stdout.strip().splitlines()[-1]) == [[1, "one"], [2, "two"]]


def test_refused_password_is_an_auth_error_that_never_shows_it(spark, mongo_env, target) -> None:
    secret = "Wr0ng-Pa55word-xyz"
    message, _ = failed_load(spark, connector_options(mongo_env, **target, password=secret))
    assert "[mongodb]" in message and "auth" in message.lower(), message
    assert "authSource" in message, message
    assert secret not in message, message
    m = plain(mongo_env)
    uri = f"mongodb://{m['username']}:{secret}@{m['host']}:{m['port']}/?authSource=admin"
    message, _ = failed_load(spark, {"connection.uri": uri, **target})
    assert secret not in message and uri not in message, message


def test_malformed_uri_names_the_option_and_hides_its_password(spark, target) -> None:
    secret = "S3cret-in-uri-987"
    message, _ = failed_load(spark, {"connection.uri": f"mongo://u:{secret}@h", **target})
    assert "connection.uri" in message, message
    assert secret not in message, message


def test_wrong_port_fails_in_seconds_naming_the_endpoint(spark, mongo_env, target) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    options = connector_options(mongo_env, **target, port=port, connectTimeoutMs=2000)
    message, seconds = failed_load(spark, options)
    assert f"127.0.0.1:{port}" in message, message
    assert "connectTimeoutMs" in message, message
    # One server-selection wait, not the retry budget (60 s).
    assert seconds < 2.0 + 8 * SLACK_S, seconds


def tls_options(mongo_env: dict[str, Any], target: dict[str, str], **extra: str) -> dict[str, str]:
    return connector_options(
        mongo_env, **target, port=mongo_env["mongodb"]["tls_port"], ssl="true", **extra
    )


def test_mutual_tls_with_the_harness_ca(spark, mongo_env, target) -> None:
    tls = mongo_env["tls"]
    options = tls_options(
        mongo_env,
        target,
        sslCaCert=tls["ca"],
        sslClientCert=tls["client_cert"],
        sslClientKey=tls["client_key"],
    )
    assert load(spark, options) == [(1, "one"), (2, "two")]
    # The same with certificate and key in one file, as the driver's own option takes it.
    both = tls_options(
        mongo_env,
        target,
        sslCaCert=tls["ca"],
        sslClientCert=tls["client_bundle"],
        sslClientKey=tls["client_bundle"],
    )
    assert load(spark, both) == [(1, "one"), (2, "two")]


def test_tls_fails_clearly_without_the_ca_or_the_client_certificate(
    spark, mongo_env, target
) -> None:
    tls = mongo_env["tls"]
    # The server's certificate is signed by the harness CA: the platform roots reject it.
    message, _ = failed_load(
        spark,
        tls_options(
            mongo_env, target, sslClientCert=tls["client_cert"], sslClientKey=tls["client_key"]
        ),
    )
    assert "[mongodb]" in message and "connect" in message, message
    # The server requires a client certificate.
    message, _ = failed_load(spark, tls_options(mongo_env, target, sslCaCert=tls["ca"]))
    assert "[mongodb]" in message and "connect" in message, message


def test_credentials_given_twice_are_refused(spark, mongo_env, target) -> None:
    m = plain(mongo_env)
    uri = f"mongodb://{m['username']}:{m['password']}@{m['host']}:{m['port']}/"
    message, _ = failed_load(
        spark, {"connection.uri": uri, "username": "other", "password": "x-y-z-w", **target}
    )
    assert "given twice" in message, message
