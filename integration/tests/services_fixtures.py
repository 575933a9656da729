"""pytest layer over ``integration/services.sh``.

A test says which services it needs; the harness brings up only those (a no-op
when they already run) and the test reads hosts, ports, credentials and TLS
paths from ``.services/env.json``::

    @pytest.fixture(scope="module")
    def env(services_env):
        return services_env(["cassandra"])      # the env.json dict

    @pytest.mark.services("mosquitto", "http")  # or as a marker
    def test_x(services_env): ...

A service that cannot run on this machine at all (no Java for Cassandra, no Go
toolchain to build FerretDB, ...) skips with the reason spelled out; a service
that should run but fails to start is a test error, never a skip. In CI (the
``CI`` environment variable set, as CI runners do) such a skip fails the test
instead, naming the service: CI must never pass by skipping what it should run.

Toxiproxy helpers: the ``toxiproxy`` fixture gives a :class:`Toxiproxy` client
whose proxies are deleted after the test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

__all__ = [
    "ROOT_DIR",
    "SERVICES_SH",
    "ServicesEnv",
    "Toxiproxy",
    "pytest_configure",
    "pytest_runtest_makereport",
    "running_in_ci",
    "service_unavailable",
    "services_env",
    "services_marker",
    "toxiproxy",
    "unavailable_reason",
]

ROOT_DIR = Path(__file__).resolve().parents[2]
SERVICES_SH = ROOT_DIR / "integration" / "services.sh"
KNOWN = ("cassandra", "mongodb", "rabbitmq", "mosquitto", "http", "toxiproxy", "spark")
# Every skip for a missing service starts with this; the CI rule below recognises it.
UNAVAILABLE = "SERVICE UNAVAILABLE ON THIS MACHINE"


def state_dir() -> Path:
    return Path(os.environ.get("SPARK_DS_SERVICES_HOME") or ROOT_DIR / ".services")


def unavailable_reason(name: str) -> str | None:
    """Why ``name`` genuinely cannot run on this machine, or None if it can."""
    state = state_dir()
    if name in ("cassandra", "spark") and shutil.which("java") is None:
        return f"{name} needs a Java 17 runtime and `java` is not on PATH"
    if (
        name == "cassandra"
        and shutil.which("mvn") is None
        and not (state / "cassandra/lib/.version").exists()
    ):
        return "cassandra is resolved from Maven Central with `mvn`, which is not on PATH"
    if name == "mongodb" and shutil.which("go") is None and not (state / "bin/ferretdb").exists():
        return "mongodb (FerretDB) is built with Go and `go` is not on PATH"
    if (
        name == "toxiproxy"
        and shutil.which("go") is None
        and not (state / "bin/toxiproxy-server").exists()
    ):
        return "toxiproxy is built with Go and `go` is not on PATH"
    debian = {
        "rabbitmq": "/usr/lib/rabbitmq/bin/rabbitmq-server",
        "mosquitto": "/usr/sbin/mosquitto",
    }
    if name in debian and not Path(debian[name]).exists():
        can_install = shutil.which("apt-get") is not None and (
            os.geteuid() == 0 or shutil.which("sudo")
        )
        if not can_install:
            return (
                f"{name} comes from Debian packages; apt-get (as root or via sudo) is unavailable"
            )
    return None


def running_in_ci() -> bool:
    """True when ``CI`` is set to anything but an explicit no (``""``, ``0``, ``false``)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def service_unavailable(name: str, reason: str) -> NoReturn:
    """Skips the running test because service ``name`` cannot run here (see the CI rule)."""
    pytest.skip(f"{UNAVAILABLE} ({name}): {reason}")


class ServicesEnv:
    """Brings services up through the harness; ``data`` is the env.json dict."""

    def __init__(self) -> None:
        self.path = state_dir() / "env.json"
        self._data: dict[str, Any] | None = None

    def __call__(self, names: Iterable[str]) -> dict[str, Any]:
        wanted = list(dict.fromkeys(names))
        unknown = [n for n in wanted if n not in KNOWN]
        if unknown:
            raise ValueError(f"unknown services {unknown}; known: {KNOWN}")
        for name in wanted:
            reason = unavailable_reason(name)
            if reason:
                service_unavailable(name, reason)
        self.harness("up", *wanted)
        return self.data

    def harness(self, command: str, *names: str, timeout: float = 1200) -> str:
        """Runs ``services.sh COMMAND NAMES``; a failure fails the test with the output."""
        proc = subprocess.run(
            ["bash", str(SERVICES_SH), command, *names],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0:
            out = (proc.stdout + proc.stderr)[-6000:]
            pytest.fail(
                f"services.sh {command} {' '.join(names)} failed ({proc.returncode}):\n{out}",
                pytrace=False,
            )
        self._data = None
        return proc.stdout

    def restart(self, name: str) -> None:
        """Stops and starts one service (e.g. Cassandra in fault tests); waits until it answers."""
        self.harness("restart", name)

    @property
    def data(self) -> dict[str, Any]:
        if self._data is None:
            if not self.path.exists():
                self.harness("status", "http")  # writes env.json; status itself may fail
            self._data = json.loads(self.path.read_text())
        return self._data


@pytest.fixture(scope="session")
def services_env() -> ServicesEnv:
    """Session-wide handle: ``services_env(["cassandra"])`` ensures and returns env.json."""
    return ServicesEnv()


@pytest.fixture(autouse=True)
def services_marker(request: pytest.FixtureRequest) -> None:
    """``@pytest.mark.services("name", ...)`` brings those services up before the test."""
    names = [n for mark in request.node.iter_markers("services") for n in mark.args]
    if names:
        request.getfixturevalue("services_env")(names)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """In CI, a test skipped because a service is unavailable fails instead, naming it.

    Locally the skip stands, with its reason: a contributor without Java or Go can still run
    the rest. Other skips (a capability a connector does not declare) are left alone.
    """
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not (report.skipped and running_in_ci()) or hasattr(report, "wasxfail"):
        return
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    if UNAVAILABLE not in reason:
        return
    report.outcome = "failed"
    report.longrepr = (
        f"{item.nodeid}: needs a service that is unavailable, and with `CI` set a test that "
        f"needs a service must run, not skip -- {reason.removeprefix('Skipped: ')}"
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "services(*names): needs these harness services (integration/services.sh brings them up)",
    )


class Toxiproxy:
    """Minimal client for Toxiproxy's HTTP API (https://github.com/Shopify/toxiproxy#http-api)."""

    def __init__(self, api_url: str, host: str = "127.0.0.1") -> None:
        self.api_url = api_url.rstrip("/")
        self.host = host
        self.created: list[str] = []

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.api_url}{path}", data=data, method=method)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as err:
            raise RuntimeError(
                f"toxiproxy {method} {path}: {err.code} {err.read().decode()}"
            ) from None
        return json.loads(raw) if raw else None

    def create_proxy(self, name: str, upstream: str, listen_port: int = 0) -> dict[str, Any]:
        """Proxy ``listen`` -> ``upstream`` ("host:port"); port 0 picks a free port.

        Returns the proxy (``listen`` holds the address to connect to).
        """
        body = {
            "name": name,
            "listen": f"{self.host}:{listen_port}",
            "upstream": upstream,
            "enabled": True,
        }
        proxy: dict[str, Any] = self._call("POST", "/proxies", body)
        self.created.append(name)
        return proxy

    def listen_port(self, name: str) -> int:
        return int(self._call("GET", f"/proxies/{name}")["listen"].rsplit(":", 1)[1])

    def delete_proxy(self, name: str) -> None:
        self._call("DELETE", f"/proxies/{name}")
        if name in self.created:
            self.created.remove(name)

    def set_enabled(self, name: str, enabled: bool) -> None:
        self._call("POST", f"/proxies/{name}", {"enabled": enabled})

    def disable(self, name: str) -> None:
        """Closes every connection and refuses new ones until :meth:`enable`."""
        self.set_enabled(name, False)

    def enable(self, name: str) -> None:
        self.set_enabled(name, True)

    def add_toxic(
        self,
        proxy: str,
        kind: str,
        attributes: dict[str, Any] | None = None,
        *,
        name: str | None = None,
        stream: str = "downstream",
        toxicity: float = 1.0,
    ) -> str:
        """Adds a toxic (``latency``, ``bandwidth``, ``slow_close``, ``timeout``,
        ``reset_peer``, ``slicer``, ``limit_data``); returns its name."""
        toxic_name = name or f"{kind}_{stream}"
        body = {
            "name": toxic_name,
            "type": kind,
            "stream": stream,
            "toxicity": toxicity,
            "attributes": attributes or {},
        }
        self._call("POST", f"/proxies/{proxy}/toxics", body)
        return toxic_name

    def latency(self, proxy: str, ms: int, jitter: int = 0, stream: str = "downstream") -> str:
        return self.add_toxic(proxy, "latency", {"latency": ms, "jitter": jitter}, stream=stream)

    def reset_peer(self, proxy: str, timeout_ms: int = 0, stream: str = "downstream") -> str:
        return self.add_toxic(proxy, "reset_peer", {"timeout": timeout_ms}, stream=stream)

    def timeout(self, proxy: str, timeout_ms: int = 0, stream: str = "downstream") -> str:
        return self.add_toxic(proxy, "timeout", {"timeout": timeout_ms}, stream=stream)

    def remove_toxic(self, proxy: str, toxic: str) -> None:
        self._call("DELETE", f"/proxies/{proxy}/toxics/{toxic}")

    def reset(self) -> None:
        """Enables every proxy and removes every toxic."""
        self._call("POST", "/reset")

    def cleanup(self) -> None:
        for name in list(self.created):
            try:
                self.delete_proxy(name)
            except RuntimeError:
                self.created.remove(name)


@pytest.fixture
def toxiproxy(services_env: ServicesEnv) -> Iterator[Toxiproxy]:
    """A Toxiproxy client; proxies it created are deleted after the test."""
    env = services_env(["toxiproxy"])
    client = Toxiproxy(env["toxiproxy"]["api_url"], env["toxiproxy"]["host"])
    yield client
    client.cleanup()
