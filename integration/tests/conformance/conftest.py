"""Parameterises every conformance test by connector and skips undeclared capabilities.

A test names the capabilities it exercises with ``@pytest.mark.capability(...)``; it runs
once per connector in :data:`connectors.CONNECTORS` and is skipped, with that reason, for a
connector that does not declare one of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .connectors import CAPABILITIES, CONNECTORS, ConnectorUnderTest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "capability(*names): the connector capabilities a conformance test exercises"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "connector" in metafunc.fixturenames:
        metafunc.parametrize(
            "connector", CONNECTORS, ids=[c.name for c in CONNECTORS], indirect=True
        )


@pytest.fixture(scope="session")
def _opened() -> Iterator[dict[str, ConnectorUnderTest]]:
    opened: dict[str, ConnectorUnderTest] = {}
    yield opened
    for connector in opened.values():
        connector.close()


@pytest.fixture
def connector(
    request: pytest.FixtureRequest, services_env: Any, _opened: dict[str, ConnectorUnderTest]
) -> ConnectorUnderTest:
    """The connector under test, its services up and its own client connected."""
    chosen: ConnectorUnderTest = request.param
    wanted = [n for mark in request.node.iter_markers("capability") for n in mark.args]
    unknown = set(wanted) - CAPABILITIES
    assert not unknown, f"unknown capabilities {sorted(unknown)}; known: {sorted(CAPABILITIES)}"
    missing = [n for n in wanted if n not in chosen.capabilities]
    if missing:
        pytest.skip(f"connector `{chosen.name}` does not declare capability {missing}")
    if chosen.name not in _opened:
        chosen.open(services_env(list(chosen.services)))
        _opened[chosen.name] = chosen
    return chosen
