"""Every wheel carries its glue: vendored copies equal the source, and a plain build works."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest
from conftest import PYARROW_PIN, PYSPARK_PIN, FreshVenv

ROOT = Path(__file__).resolve().parents[2]
SYNC = ROOT / "integration" / "scripts" / "sync-shared.py"
README = ROOT / "connectors" / "cassandra" / "README.md"
CONNECTORS = ["cassandra", "mongodb", "rabbitmq", "mqtt", "rest"]


def test_vendored_shared_copies_equal_the_source() -> None:
    result = subprocess.run(
        [sys.executable, str(SYNC), "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    for name in CONNECTORS:
        copy = ROOT / "connectors" / name / "python" / f"pyspark_ds_{name}" / "_shared"
        assert copy.is_dir() and not copy.is_symlink(), copy
        assert (copy / "errors.py").is_file(), copy


def test_sync_check_fails_on_a_stale_copy(tmp_path: Path) -> None:
    """The check is not vacuous: an edited or missing file in a copy is reported."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("sync_shared", SYNC)
    assert spec is not None and spec.loader is not None
    sync = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sync)
    wanted = sync.source_files()
    copy = tmp_path / "_shared"
    sync.sync(copy, wanted)
    assert sync.differences(copy, wanted) == []
    (copy / "errors.py").write_text("# edited by hand\n")
    (copy / "base.py").unlink()
    problems = "\n".join(sync.differences(copy, wanted))
    assert "errors.py: differs from the source" in problems
    assert "base.py: missing" in problems


def _quick_start(env: dict[str, object]) -> str:
    """The README's first Python block, pointed at the harness's Cassandra."""
    match = re.search(r"```python\n(.*?)```", README.read_text(), re.S)
    assert match, "no python example in the README"
    code = match.group(1)
    cassandra = env["cassandra"]
    assert isinstance(cassandra, dict)
    for key, default in [
        ("host", "127.0.0.1"),
        ("port", "9042"),
        ("username", "cassandra"),
        ("password", "cassandra"),
    ]:
        code = code.replace(f'"{key}": "{default}"', f'"{key}": "{cassandra[key]}"')
    return code


@pytest.mark.packaging
@pytest.mark.timeout(3600)
def test_pip_wheel_from_a_fresh_clone_installs_alone_and_runs_the_quick_start(
    services_env, tmp_path: Path
) -> None:
    """`pip wheel connectors/cassandra` from a clone of HEAD, no project script in between.

    Slow (a release build of the extension): it is the proof that the committed tree, not a
    staging step, makes a working wheel. Tests the committed HEAD, not the working tree.
    """
    env = services_env(["cassandra"])
    clone = tmp_path / "clone"
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    subprocess.run(["git", "clone", "--quiet", "--no-checkout", str(ROOT), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "--quiet", head], check=True)

    out = tmp_path / "wheels"
    build_env = dict(os.environ)
    # Reuse the compiled dependencies of the project's wheel builds.
    build_env["CARGO_TARGET_DIR"] = os.environ.get(
        "SPARK_DS_WHEEL_TARGET", str(ROOT / "target" / "wheels")
    )
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(out), "."],
        cwd=clone / "connectors" / "cassandra",
        env=build_env,
        capture_output=True,
        text=True,
        timeout=3000,
        check=False,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-5000:]
    (wheel,) = out.glob("spark_ds_cassandra-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for module in ["__init__", "errors", "base", "reader", "writer", "datasource"]:
        assert f"pyspark_ds_cassandra/_shared/{module}.py" in names, sorted(names)

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    user_env = {
        "PATH": f"{env_dir / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/root"),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PYSPARK_PYTHON": str(python),
    }
    if os.environ.get("JAVA_HOME"):
        user_env["JAVA_HOME"] = os.environ["JAVA_HOME"]
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", PYSPARK_PIN, PYARROW_PIN, str(wheel)],
        check=True,
        env=user_env,
    )
    fresh = FreshVenv(python=python, env=user_env)
    listed = fresh.run("-m", "pip", "list", "--format=freeze").stdout
    assert "spark-ds-cassandra" in listed or "spark_ds_cassandra" in listed, listed
    assert not re.search(r"spark.ds.(mongodb|rabbitmq|mqtt|rest)", listed), listed

    result = fresh.run("-c", _quick_start(env))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
