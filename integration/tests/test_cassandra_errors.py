"""Every way a user gets Cassandra wrong ends in a clear error naming the thing."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from cassandra_support import connector_options, cql_session, create_keyspace, unique

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def keyspace(env) -> str:
    session = cql_session(env)
    name = unique("errors")
    create_keyspace(session, name)
    session.execute(f"CREATE TABLE {name}.people (id int PRIMARY KEY, name text, age int)")
    session.cluster.shutdown()
    return name


def describe(options: dict[str, str]) -> Any:
    from pyspark_ds_cassandra import _native

    return _native.describe(options)


def test_wrong_keyspace_is_named(env, keyspace) -> None:
    from pyspark_ds_cassandra import SparkDsError

    with pytest.raises(SparkDsError, match=r"keyspace `no_such_ks` does not exist"):
        describe(connector_options(env, keyspace="no_such_ks", table="people"))


def test_wrong_table_suggests_the_nearest(env, keyspace) -> None:
    from pyspark_ds_cassandra import SparkDsError

    with pytest.raises(SparkDsError, match=r"table .*peeple.* does not exist.*people"):
        describe(connector_options(env, keyspace=keyspace, table="peeple"))


def test_wrong_column_in_a_user_schema_is_named(spark, env, keyspace) -> None:
    options = connector_options(env, keyspace=keyspace, table="people")
    df = spark.read.format("cassandra").schema("id INT, nmae STRING").options(**options).load()
    with pytest.raises(Exception, match=r"nmae"):
        df.collect()


def test_type_mismatch_on_write_names_column_and_types(spark, env, keyspace) -> None:
    df = spark.createDataFrame([(1, "x", "not a number")], "id INT, name STRING, age STRING")
    options = connector_options(env, keyspace=keyspace, table="people")
    with pytest.raises(Exception, match=r"age") as caught:
        df.write.format("cassandra").options(**options).mode("append").save()
    assert "int" in str(caught.value).lower()


def test_unknown_dataframe_column_on_write_is_named(spark, env, keyspace) -> None:
    df = spark.createDataFrame([(1, "x", 3)], "id INT, name STRING, agee INT")
    options = connector_options(env, keyspace=keyspace, table="people")
    with pytest.raises(Exception, match=r"agee"):
        df.write.format("cassandra").options(**options).mode("append").save()


def test_unreachable_host_fails_fast_and_clearly(env) -> None:
    from pyspark_ds_cassandra import TransientError

    options = connector_options(
        env, keyspace="k", table="t", port=1, connectTimeoutMs=2000, retryMaxAttempts=1
    )
    with pytest.raises(TransientError, match=r"127\.0\.0\.1"):
        describe(options)


def test_bad_credentials_are_an_auth_error_without_the_password(env, keyspace) -> None:
    from pyspark_ds_cassandra import AuthError

    options = connector_options(env, keyspace=keyspace, table="people")
    options["password"] = "Wrong-Passw0rd-123"
    with pytest.raises(AuthError) as caught:
        describe(options)
    assert "Wrong-Passw0rd-123" not in str(caught.value)


def test_missing_table_option_is_a_config_error() -> None:
    from pyspark_ds_cassandra import ConfigError

    with pytest.raises(ConfigError, match=r"option `table` is required"):
        describe({"keyspace": "k"})


def tls_options(env, keyspace: str, **extra: str) -> dict[str, str]:
    return connector_options(
        env, keyspace=keyspace, table="people", ssl="true", retryMaxAttempts=1, **extra
    )


def rogue_client_cert(directory: Path) -> tuple[str, str]:
    """A client certificate and key signed by a CA the server does not trust."""
    ca_key, ca, key, csr, cert, ext = (
        directory / n for n in ("rogue-ca.key", "rogue-ca.pem", "c.key", "c.csr", "c.pem", "c.ext")
    )
    ext.write_text("basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n")
    for command in (
        f"req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=rogue -keyout {ca_key} -out {ca}",
        f"req -newkey rsa:2048 -nodes -subj /CN=sparkds -keyout {key} -out {csr}",
        f"x509 -req -in {csr} -CA {ca} -CAkey {ca_key} -CAcreateserial -days 2 -extfile {ext}"
        f" -out {cert}",
    ):
        subprocess.run(["openssl", *command.split()], check=True, capture_output=True)
    return str(cert), str(key)


def test_mutual_tls_with_the_harness_certificates(env, keyspace) -> None:
    tls = env["tls"]
    options = tls_options(
        env,
        keyspace,
        sslCaCert=tls["ca"],
        sslClientCert=tls["client_cert"],
        sslClientKey=tls["client_key"],
    )
    schema, partition_key, _clustering = describe(options)
    assert partition_key == ["id"]
    assert schema.names == ["id", "age", "name"]


def test_tls_without_a_client_certificate_is_refused_by_the_server(env, keyspace) -> None:
    from pyspark_ds_cassandra import AuthError

    assert env["cassandra"]["tls_client_auth"] == "required"
    options = tls_options(env, keyspace, sslCaCert=env["tls"]["ca"])
    with pytest.raises(AuthError, match=r"requires a client certificate: set `sslClientCert`"):
        describe(options)


def test_a_client_certificate_from_an_unknown_ca_is_refused(env, keyspace, tmp_path) -> None:
    from pyspark_ds_cassandra import AuthError

    cert, key = rogue_client_cert(tmp_path)
    options = tls_options(
        env, keyspace, sslCaCert=env["tls"]["ca"], sslClientCert=cert, sslClientKey=key
    )
    with pytest.raises(AuthError, match=r"refused the client certificate `sslClientCert`"):
        describe(options)


def test_tls_with_an_unknown_ca_is_refused(env, keyspace, tmp_path) -> None:
    from pyspark_ds_cassandra import AuthError

    bogus = tmp_path / "bogus-ca.pem"
    bogus.write_text(Path(env["tls"]["client_cert"]).read_text())
    tls = env["tls"]
    options = tls_options(
        env,
        keyspace,
        sslCaCert=str(bogus),
        sslClientCert=tls["client_cert"],
        sslClientKey=tls["client_key"],
    )
    with pytest.raises(AuthError, match=r"server's certificate is not trusted: check `sslCaCert`"):
        describe(options)
