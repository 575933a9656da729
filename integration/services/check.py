"""Proves each harness service answers a real client round trip.

Usage: check.py [--wait SECONDS] [--json] [name ...]

Reads the ports, credentials and TLS paths from ``$STATE/env.json`` (written by
``services.sh``). With ``--wait`` each check is retried until it passes or the
time runs out. Exits 1 if any named service fails.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import ssl
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

Env = dict[str, Any]
ROOT = Path(__file__).resolve().parents[2]


def env_path() -> Path:
    home = os.environ.get("SPARK_DS_SERVICES_HOME") or str(ROOT / ".services")
    return Path(home) / "env.json"


def tls_context(env: Env, client_cert: bool = False) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=env["tls"]["ca"])
    if client_cert:
        ctx.load_cert_chain(env["tls"]["client_cert"], env["tls"]["client_key"])
    return ctx


def check_cassandra(env: Env) -> str:
    from cassandra.auth import PlainTextAuthProvider
    from cassandra.cluster import Cluster

    c = env["cassandra"]
    versions = []
    for ctx in (None, tls_context(env, client_cert=True)):
        cluster = Cluster(
            [c["host"]],
            port=c["port"],
            auth_provider=PlainTextAuthProvider(c["username"], c["password"]),
            ssl_context=ctx,
            connect_timeout=5,
            control_connection_timeout=5,
        )
        try:
            session = cluster.connect()
            row = session.execute("SELECT release_version FROM system.local", timeout=10).one()
            versions.append(row.release_version)
        finally:
            cluster.shutdown()
    return f"release_version {versions[0]} (plain and TLS)"


def check_mongodb(env: Env) -> str:
    import pymongo

    m = env["mongodb"]
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
        m["uri"], serverSelectionTimeoutMS=3000
    )
    try:
        client.admin.command("ping")
        coll = client["sparkds_check"]["roundtrip"]
        marker = uuid.uuid4().hex
        coll.insert_one({"_id": marker, "n": 1})
        found = coll.find_one({"_id": marker})
        coll.delete_one({"_id": marker})
        if not found or found["n"] != 1:
            raise RuntimeError("inserted document not found")
    finally:
        client.close()
    tls = env["tls"]
    secure: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
        host=m["host"],
        port=m["tls_port"],
        username=m["username"],
        password=m["password"],
        tls=True,
        tlsCAFile=tls["ca"],
        tlsCertificateKeyFile=tls["client_bundle"],
        serverSelectionTimeoutMS=3000,
    )
    try:
        secure.admin.command("ping")
    finally:
        secure.close()
    return "ping + insert + find (plain), ping (mutual TLS)"


def _amqp_roundtrip(params: Any) -> None:
    import pika

    conn = pika.BlockingConnection(params)
    try:
        ch = conn.channel()
        q = ch.queue_declare(queue="", exclusive=True).method.queue
        body = uuid.uuid4().bytes
        ch.basic_publish(exchange="", routing_key=q, body=body)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            _, _, got = ch.basic_get(q, auto_ack=True)
            if got is not None:
                if got != body:
                    raise RuntimeError("AMQP message mismatch")
                return
            time.sleep(0.05)
        raise RuntimeError("AMQP message not consumed")
    finally:
        conn.close()


def check_rabbitmq(env: Env) -> str:
    import pika

    r = env["rabbitmq"]
    creds = pika.PlainCredentials(r["username"], r["password"])
    _amqp_roundtrip(pika.ConnectionParameters(r["host"], r["port"], "/", creds))
    tls = pika.SSLOptions(tls_context(env), "localhost")
    _amqp_roundtrip(
        pika.ConnectionParameters(r["host"], r["tls_port"], "/", creds, ssl_options=tls)
    )
    with socket.create_connection((r["host"], r["stream_port"]), timeout=3):
        pass
    return "publish + consume on AMQP and AMQPS, stream port open"


def _mqtt_roundtrip(host: str, port: int, **opts: Any) -> None:
    import paho.mqtt.client as mqtt

    topic = f"sparkds/check/{uuid.uuid4().hex}"
    got = threading.Event()
    subscribed = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    if "username" in opts:
        client.username_pw_set(opts["username"], opts["password"])
    if "tls" in opts:
        client.tls_set_context(opts["tls"])
    client.on_subscribe = lambda *_a: subscribed.set()
    client.on_message = lambda _c, _u, msg: got.set() if msg.topic == topic else None
    rc = client.connect(host, port, keepalive=10)
    if rc != 0:
        raise RuntimeError(f"MQTT connect to {port} failed: {rc}")
    client.loop_start()
    try:
        client.subscribe(topic, qos=1)
        if not subscribed.wait(5):
            raise RuntimeError(f"MQTT subscribe on {port} not acknowledged")
        client.publish(topic, b"ping", qos=1)
        if not got.wait(5):
            raise RuntimeError(f"MQTT message on {port} not received")
    finally:
        client.disconnect()
        client.loop_stop()


def check_mosquitto(env: Env) -> str:
    m = env["mosquitto"]
    _mqtt_roundtrip(m["host"], m["port"])
    _mqtt_roundtrip(m["host"], m["auth_port"], username=m["username"], password=m["password"])
    _mqtt_roundtrip(m["host"], m["tls_port"], tls=tls_context(env))
    _mqtt_roundtrip(m["host"], m["mtls_port"], tls=tls_context(env, client_cert=True))
    return "publish + subscribe on plain, password, TLS and mTLS listeners"


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.load(resp)


def check_http(env: Env) -> str:
    base = env["http"]["base_url"]
    page = _get_json(f"{base}/items/page?page=1&page_size=5")
    if len(page["items"]) != 5:
        raise RuntimeError("HTTP /items/page returned the wrong number of items")
    return "GET /items/page"


def check_toxiproxy(env: Env) -> str:
    _get_json(f"{env['toxiproxy']['api_url']}/proxies")
    return "GET /proxies"


def check_spark(env: Env) -> str:
    s = env["spark"]
    state = _get_json(f"{s['master_ui']}/json/")
    alive = [w for w in state.get("workers", []) if w.get("state") == "ALIVE"]
    if state.get("status") != "ALIVE" or len(alive) < s["workers"]:
        raise RuntimeError(
            f"master {state.get('status')}, {len(alive)}/{s['workers']} workers alive"
        )
    return f"master ALIVE with {len(alive)} ALIVE workers"


CHECKS: dict[str, Callable[[Env], str]] = {
    "cassandra": check_cassandra,
    "mongodb": check_mongodb,
    "rabbitmq": check_rabbitmq,
    "mosquitto": check_mosquitto,
    "http": check_http,
    "toxiproxy": check_toxiproxy,
    "spark": check_spark,
}


def run(name: str, env: Env, wait: float) -> tuple[bool, str, float]:
    deadline = time.monotonic() + wait
    while True:
        start = time.monotonic()
        try:
            detail = CHECKS[name](env)
            return True, detail, time.monotonic() - start
        except Exception as exc:
            if time.monotonic() >= deadline:
                return False, f"{type(exc).__name__}: {exc}", time.monotonic() - start
            time.sleep(1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--wait", type=float, default=0.0, help="retry for up to SECONDS")
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    parser.add_argument("names", nargs="*", metavar="name", help=", ".join(CHECKS))
    args = parser.parse_args()
    unknown = [n for n in args.names if n not in CHECKS]
    if unknown:
        parser.error(f"unknown service(s): {', '.join(unknown)}")
    env = json.loads(env_path().read_text())
    results = {}
    for name in args.names or list(CHECKS):
        ok, detail, secs = run(name, env, args.wait)
        results[name] = {"ok": ok, "detail": detail, "seconds": round(secs, 3)}
        if not args.json:
            print(f"{name:<10} {'OK  ' if ok else 'DOWN'} {secs:6.2f}s  {detail}", flush=True)
    if args.json:
        print(json.dumps(results, indent=2))
    return 0 if all(r["ok"] for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
