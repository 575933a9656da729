"""Writes ``$STATE/env.json`` and ``$STATE/env.sh`` from the SPARK_DS_* settings.

``services.sh`` exports the settings (defaults in ``lib/config.sh``) and runs
this before every command, so tests, examples and benchmarks always find one
file describing every service: hosts, ports, credentials and TLS paths.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any


def setting(name: str) -> str:
    value = os.environ.get(f"SPARK_DS_{name}")
    if value is None:
        raise SystemExit(f"SPARK_DS_{name} is not set (run through integration/services.sh)")
    return value


def port(name: str) -> int:
    return int(setting(name))


def build(state: Path, root: Path) -> dict[str, Any]:
    host = setting("HOST")
    user, password = setting("USER"), setting("PASSWORD")
    tls = state / "tls"
    spark_home = Path(setting("SPARK_HOME"))
    worker_venv = Path(setting("SPARK_WORKER_VENV"))
    http_port = port("HTTP_PORT")
    mongo_port = port("MONGODB_PORT")
    return {
        "state_dir": str(state),
        "root": str(root),
        "tls": {
            "ca": str(tls / "ca.pem"),
            "server_cert": str(tls / "server.pem"),
            "server_key": str(tls / "server.key"),
            "client_cert": str(tls / "client.pem"),
            "client_key": str(tls / "client.key"),
            "client_bundle": str(tls / "client-bundle.pem"),
            "keystore": str(tls / "keystore.p12"),
            "client_keystore": str(tls / "client-keystore.p12"),
            "truststore": str(tls / "truststore.p12"),
            "store_type": "PKCS12",
            "store_password": setting("TLS_PASSWORD"),
        },
        "cassandra": {
            "host": host,
            "port": port("CASSANDRA_PORT"),
            "tls_port": port("CASSANDRA_PORT"),
            "tls_optional": True,
            "tls_client_auth": "required",
            "username": "cassandra",
            "password": "cassandra",
            "datacenter": "datacenter1",
            "jmx_port": port("CASSANDRA_JMX_PORT"),
            "version": setting("CASSANDRA_VERSION"),
            "num_tokens": 16,
        },
        "mongodb": {
            "host": host,
            "port": mongo_port,
            # Mutual TLS (FerretDB asks for a client certificate whenever it has a CA file).
            "tls_port": port("MONGODB_TLS_PORT"),
            "username": user,
            "password": password,
            "auth_source": "admin",
            "uri": f"mongodb://{user}:{password}@{host}:{mongo_port}/?authSource=admin",
            "server": f"FerretDB {setting('FERRETDB_VERSION')} (SQLite backend)",
            "supports_change_streams": False,
            "supports_transactions": False,
        },
        "rabbitmq": {
            "host": host,
            "port": port("RABBITMQ_PORT"),
            "tls_port": port("RABBITMQ_TLS_PORT"),
            "stream_port": port("RABBITMQ_STREAM_PORT"),
            "username": user,
            "password": password,
            "vhost": "/",
            "uri": f"amqp://{user}:{password}@{host}:{port('RABBITMQ_PORT')}/%2F",
            "tls_uri": f"amqps://{user}:{password}@localhost:{port('RABBITMQ_TLS_PORT')}/%2F",
        },
        "mosquitto": {
            "host": host,
            "port": port("MQTT_PORT"),
            "auth_port": port("MQTT_AUTH_PORT"),
            "tls_port": port("MQTT_TLS_PORT"),
            "mtls_port": port("MQTT_MTLS_PORT"),
            "username": user,
            "password": password,
        },
        "http": {
            "host": host,
            "port": http_port,
            "base_url": f"http://{host}:{http_port}",
            "api_key_header": "X-API-Key",
            "api_key": setting("HTTP_API_KEY"),
            "basic_username": user,
            "basic_password": password,
            "client_id": setting("HTTP_CLIENT_ID"),
            "client_secret": setting("HTTP_CLIENT_SECRET"),
            "token_url": f"http://{host}:{http_port}/oauth/token",
        },
        "toxiproxy": {
            "host": host,
            "port": port("TOXIPROXY_PORT"),
            "api_url": f"http://{host}:{port('TOXIPROXY_PORT')}",
        },
        "spark": {
            "master_url": f"spark://{host}:{port('SPARK_MASTER_PORT')}",
            "master_ui": f"http://{host}:{port('SPARK_MASTER_UI_PORT')}",
            "workers": port("SPARK_WORKERS"),
            "worker_memory": setting("SPARK_WORKER_MEMORY"),
            "spark_home": str(spark_home),
            "worker_venv": str(worker_venv),
            "worker_python": setting("SPARK_WORKER_PYTHON"),
        },
    }


def flatten(prefix: str, value: Any, out: dict[str, str]) -> None:
    if isinstance(value, dict):
        for key, sub in value.items():
            flatten(f"{prefix}_{key}".upper() if prefix else key.upper(), sub, out)
    else:
        out[prefix] = str(value).lower() if isinstance(value, bool) else str(value)


def main() -> int:
    state, root = Path(sys.argv[1]), Path(sys.argv[2])
    env = build(state, root)
    state.mkdir(parents=True, exist_ok=True)
    tmp = state / "env.json.tmp"
    tmp.write_text(json.dumps(env, indent=2) + "\n")
    tmp.replace(state / "env.json")
    flat: dict[str, str] = {}
    flatten("SPARK_DS_ENV", env, flat)
    lines = ["# Generated by integration/services.sh; same content as env.json."]
    lines += [f"export {key}={shlex.quote(val)}" for key, val in sorted(flat.items())]
    (state / "env.sh").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
