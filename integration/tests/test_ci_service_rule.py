"""The CI rule of the services layer: in CI a test that needs an unavailable service fails.

Each case runs a small pytest session in-process (``pytester``) with the real
``services_fixtures`` plugin, and only ``unavailable_reason`` replaced so that Cassandra
looks impossible to run here.
"""

from __future__ import annotations

import pytest

CONFTEST = """
import services_fixtures
from services_fixtures import *  # noqa: F403

def _no_java(name):
    if name == "cassandra":
        return "cassandra needs a Java 17 runtime and `java` is not on PATH"
    return None

services_fixtures.unavailable_reason = _no_java
"""

TESTS = """
import pytest

@pytest.mark.services("cassandra")
def test_marked(): pass

def test_fixture(services_env):
    services_env(["cassandra"])

def test_unrelated_skip():
    pytest.skip("connector `x` does not declare capability `stream_read`")
"""


@pytest.fixture
def session(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_rule=TESTS)
    return pytester


@pytest.mark.parametrize("value", ["true", "1", "True"])
def test_in_ci_a_missing_service_fails_naming_it(
    session: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CI", value)
    result = session.runpytest_inprocess("-rA", "-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    # Failed in set-up (the fixture), so pytest counts them as errors.
    assert outcomes.get("errors", 0) + outcomes.get("failed", 0) == 2, outcomes
    assert outcomes.get("skipped") == 1, outcomes
    out = result.stdout.str()
    assert out.count("needs a service that is unavailable") >= 2, out
    assert "SERVICE UNAVAILABLE ON THIS MACHINE (cassandra)" in out
    assert "`java` is not on PATH" in out
    assert "does not declare capability" in out  # the unrelated skip stays a skip
    assert result.ret != 0


@pytest.mark.parametrize("value", [None, "", "false", "0"])
def test_outside_ci_a_missing_service_skips_with_the_reason(
    session: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    result = session.runpytest_inprocess("-rA", "-p", "no:cacheprovider")
    result.assert_outcomes(skipped=3)
    out = result.stdout.str()
    assert out.count("SERVICE UNAVAILABLE ON THIS MACHINE (cassandra)") == 2, out
    assert "`java` is not on PATH" in out
    assert result.ret == 0
