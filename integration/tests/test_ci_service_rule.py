"""The CI rule of the services layer: in CI a test that needs an unavailable service fails.

Each case runs a small pytest session in-process (``pytester``) with the real
``services_fixtures`` plugin, and only ``unavailable_reason`` replaced so that Cassandra
looks impossible to run here. The inner session shares this process's module, so the
replacement is made (and undone) by this test's ``monkeypatch``.
"""

from __future__ import annotations

import pytest
import services_fixtures

CONFTEST = """
from services_fixtures import *  # noqa: F403
"""


def no_java(name: str) -> str | None:
    if name == "cassandra":
        return "cassandra needs a Java 17 runtime and `java` is not on PATH"
    return None


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
def session(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setattr(services_fixtures, "unavailable_reason", no_java)
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


def test_the_replacement_does_not_outlive_these_tests() -> None:
    # Runs after the cases above: later tests in this session still see the real check.
    assert services_fixtures.unavailable_reason is not no_java
