"""The services harness: every service answers its real client, and the harness
itself is idempotent and leaves nothing behind."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from services_fixtures import ROOT_DIR, SERVICES_SH, ServicesEnv, Toxiproxy, state_dir

pytestmark = pytest.mark.services

CHECK = ROOT_DIR / "integration" / "services" / "check.py"


def run_check(name: str) -> None:
    proc = subprocess.run(
        [sys.executable, str(CHECK), name], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def pids() -> dict[str, str]:
    return {p.stem: p.read_text().strip() for p in (state_dir() / "pids").glob("*.pid")}


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), json.load(resp)
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), json.load(err)


def post(url: str, body: bytes, ctype: str, method: str = "POST") -> tuple[int, Any]:
    req = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


@pytest.mark.parametrize(
    "name", ["cassandra", "mongodb", "rabbitmq", "mosquitto", "http", "toxiproxy", "spark"]
)
def test_service_answers_its_real_client(services_env: ServicesEnv, name: str) -> None:
    services_env([name])
    run_check(name)


def test_env_json_describes_every_service(services_env: ServicesEnv) -> None:
    env = services_env(["http"])
    for key in (
        "cassandra",
        "mongodb",
        "rabbitmq",
        "mosquitto",
        "http",
        "toxiproxy",
        "spark",
        "tls",
    ):
        assert key in env, key
    for path in (
        "ca",
        "server_cert",
        "server_key",
        "client_cert",
        "client_key",
        "keystore",
        "truststore",
    ):
        assert Path(env["tls"][path]).is_file(), path
    shell = (state_dir() / "env.sh").read_text()
    assert f"export SPARK_DS_ENV_CASSANDRA_PORT={env['cassandra']['port']}" in shell


def test_cassandra_has_vnodes_udts_and_vectors(services_env: ServicesEnv) -> None:
    from cassandra.auth import PlainTextAuthProvider
    from cassandra.cluster import Cluster

    c = services_env(["cassandra"])["cassandra"]
    cluster = Cluster(
        [c["host"]],
        port=c["port"],
        auth_provider=PlainTextAuthProvider(c["username"], c["password"]),
    )
    try:
        s = cluster.connect()
        tokens = s.execute("SELECT tokens FROM system.local").one().tokens
        assert len(tokens) == 16
        ks = f"harness_{os.getpid()}"
        s.execute(
            f"CREATE KEYSPACE {ks} WITH replication = "
            "{'class': 'SimpleStrategy', 'replication_factor': 1}"
        )
        try:
            s.execute(f"CREATE TYPE {ks}.addr (street text, n int)")
            s.execute(
                f"CREATE TABLE {ks}.t (id int PRIMARY KEY, a frozen<addr>, v vector<float, 3>)"
            )
            s.execute(
                f"INSERT INTO {ks}.t (id, a, v) VALUES (1, {{street: 'x', n: 2}}, [1.0, 2.0, 3.0])"
            )
            row = s.execute(f"SELECT a, v FROM {ks}.t WHERE id = 1").one()
            assert row.a.street == "x" and list(row.v) == [1.0, 2.0, 3.0]
        finally:
            s.execute(f"DROP KEYSPACE {ks}")
    finally:
        cluster.shutdown()


def test_http_pagination_styles_agree(services_env: ServicesEnv) -> None:
    base = services_env(["http"])["http"]["base_url"]
    ids: dict[str, list[int]] = {}
    url: str | None = f"{base}/items/page?page=1&page_size=40&total=100"
    got: list[int] = []
    page = 1
    while True:
        _, _, body = get(f"{base}/items/page?page={page}&page_size=40&total=100")
        if not body["items"]:
            break
        got += [i["id"] for i in body["items"]]
        page += 1
    ids["page"] = got
    got, offset = [], 0
    while True:
        _, _, body = get(f"{base}/items/offset?offset={offset}&limit=30&total=100")
        if not body["items"]:
            break
        got += [i["id"] for i in body["items"]]
        offset += len(body["items"])
    ids["offset"] = got
    got, cursor = [], ""
    while True:
        _, _, body = get(f"{base}/items/cursor?limit=33&total=100&cursor={cursor}")
        got += [i["id"] for i in body["items"]]
        if not body["next_cursor"]:
            break
        cursor = body["next_cursor"]
    ids["cursor"] = got
    got, url = [], f"{base}/items/link?per_page=25&total=100"
    while url:
        _, headers, body = get(url)
        got += [i["id"] for i in body]
        links = [
            part.split(";")[0].strip("<> ")
            for part in headers["Link"].split(",")
            if 'rel="next"' in part
        ]
        url = links[0] if links else None
    ids["link"] = got
    got, url = [], f"{base}/items/next-url?size=45&total=100"
    while url:
        _, _, body = get(url)
        got += [i["id"] for i in body["data"]]
        url = body["next"]
    ids["next-url"] = got
    for style, seen in ids.items():
        assert seen == list(range(1, 101)), style


def test_http_auth_rate_limit_flaky_and_sinks(services_env: ServicesEnv) -> None:
    h = services_env(["http"])["http"]
    base = h["base_url"]
    post(f"{base}/admin/reset", b"", "application/json")
    assert get(f"{base}/auth/api-key/items")[0] == 401
    assert get(f"{base}/auth/api-key/items", {h["api_key_header"]: h["api_key"]})[0] == 200
    basic = base64.b64encode(f"{h['basic_username']}:{h['basic_password']}".encode()).decode()
    assert get(f"{base}/auth/basic/items", {"Authorization": f"Basic {basic}"})[0] == 200
    client = f"client_id={h['client_id']}&client_secret={h['client_secret']}"
    form = f"grant_type=client_credentials&{client}&expires_in=1"
    status, token = post(h["token_url"], form.encode(), "application/x-www-form-urlencoded")
    assert status == 200 and token["expires_in"] == 1
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assert get(f"{base}/auth/bearer/items", bearer)[0] == 200
    time.sleep(1.2)
    assert get(f"{base}/auth/bearer/items", bearer)[0] == 401
    refresh = f"grant_type=refresh_token&refresh_token={token['refresh_token']}&{client}"
    status, renewed = post(h["token_url"], refresh.encode(), "application/x-www-form-urlencoded")
    assert status == 200
    assert (
        get(f"{base}/auth/bearer/items", {"Authorization": f"Bearer {renewed['access_token']}"})[0]
        == 200
    )

    codes = [get(f"{base}/ratelimited/items?limit=2&window=60&key=t")[0] for _ in range(3)]
    assert codes == [200, 200, 429]
    status, headers, _ = get(
        f"{base}/ratelimited/items?limit=2&window=60&key=t&retry_after=http-date"
    )
    assert status == 429 and headers["Retry-After"].endswith("GMT")

    codes = [get(f"{base}/flaky/items?fail_every=3&key=t")[0] for _ in range(6)]
    assert codes == [200, 200, 503, 200, 200, 503]

    assert post(f"{base}/sink/t", b'[{"id": 1}, {"id": 2}]', "application/json")[0] == 201
    assert post(f"{base}/sink/t", b'{"id": 3}\n{"id": 4}\n', "application/x-ndjson")[0] == 201
    assert post(f"{base}/sink/t/2", b'{"v": "new"}', "application/json", method="PUT")[0] == 200
    _, _, recorded = get(f"{base}/sink/t")
    assert sorted(
        r["id"] if isinstance(r["id"], int) else int(r["id"]) for r in recorded["records"]
    ) == [1, 2, 3, 4]
    assert len(recorded["requests"]) == 3


def test_toxiproxy_helpers_inject_and_clear_faults(
    services_env: ServicesEnv, toxiproxy: Toxiproxy
) -> None:
    base = services_env(["http"])["http"]
    proxy = toxiproxy.create_proxy(f"http_{os.getpid()}", f"{base['host']}:{base['port']}")
    via = f"http://{proxy['listen']}/health"
    assert get(via)[0] == 200
    toxiproxy.latency(proxy["name"], 300)
    start = time.monotonic()
    assert get(via)[0] == 200
    assert time.monotonic() - start >= 0.3
    toxiproxy.disable(proxy["name"])
    with pytest.raises(OSError):
        urllib.request.urlopen(via, timeout=2)
    toxiproxy.enable(proxy["name"])
    toxiproxy.remove_toxic(proxy["name"], "latency_downstream")
    assert get(via)[0] == 200


def test_second_up_starts_nothing(services_env: ServicesEnv) -> None:
    services_env(["http", "mosquitto", "toxiproxy"])
    before = pids()
    out = services_env.harness("up", "http", "mosquitto", "toxiproxy")
    assert out.count("already running") == 3, out
    assert pids() == before


def test_down_leaves_no_process_then_up_again(services_env: ServicesEnv) -> None:
    services_env(["mosquitto"])
    pid = int(pids()["mosquitto"])
    services_env.harness("down", "mosquitto")
    assert "mosquitto" not in pids()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    leftover = subprocess.run(
        ["pgrep", "-f", f"{state_dir()}/mosquitto/"], capture_output=True, check=False
    )
    assert leftover.stdout == b""
    services_env(["mosquitto"])
    run_check("mosquitto")


def test_status_fails_when_a_service_is_down(services_env: ServicesEnv) -> None:
    services_env(["mosquitto"])
    services_env.harness("down", "mosquitto")
    proc = subprocess.run(
        ["bash", str(SERVICES_SH), "status", "mosquitto"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode != 0 and "DOWN" in proc.stdout
    services_env(["mosquitto"])
