#!/usr/bin/env python3
"""Writes each connector package's vendored ``_shared`` from ``python/spark_ds_shared``.

Every wheel ships the glue as ``<package>._shared`` so that it installs alone (with only
pyspark and pyarrow) and builds with any PEP 517 front end from a plain checkout. The
source is edited in one place; the copies are committed and kept equal by this script.

    sync-shared.py           rewrite every copy from the source
    sync-shared.py --check   exit 1, listing the differences, when a copy is out of date
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "python" / "spark_ds_shared"


def copies(root: Path = ROOT) -> list[Path]:
    """The ``_shared`` directory of every connector package."""
    return sorted(
        package / "_shared"
        for package in root.glob("connectors/*/python/pyspark_ds_*")
        if (package / "__init__.py").is_file()
    )


def source_files(source: Path = SOURCE) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(source.glob("*.py"))}


def _shown(path: Path) -> Path:
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def differences(target: Path, wanted: dict[str, bytes]) -> list[str]:
    """What differs between a copy and the source, as readable lines (empty when equal)."""
    if target.is_symlink() or not target.is_dir():
        return [f"{_shown(target)}: not a directory"]
    found = {p.name: p for p in target.iterdir() if p.name != "__pycache__"}
    problems = []
    for name in sorted(wanted.keys() - found.keys()):
        problems.append(f"{_shown(target / name)}: missing")
    for name in sorted(found.keys() - wanted.keys()):
        problems.append(f"{_shown(target / name)}: not in {SOURCE.relative_to(ROOT)}")
    for name in sorted(wanted.keys() & found.keys()):
        if not found[name].is_file() or found[name].read_bytes() != wanted[name]:
            problems.append(f"{_shown(target / name)}: differs from the source")
    return problems


def sync(target: Path, wanted: dict[str, bytes]) -> None:
    if target.is_symlink() or target.is_file():
        target.unlink()
    target.mkdir(exist_ok=True)
    for path in target.iterdir():
        if path.name != "__pycache__" and path.name not in wanted:
            path.unlink()
    for name, content in wanted.items():
        path = target / name
        if not path.is_file() or path.read_bytes() != content:
            path.write_bytes(content)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report differences")
    args = parser.parse_args()
    wanted = source_files()
    if args.check:
        problems = [line for target in copies() for line in differences(target, wanted)]
        for line in problems:
            print(line, file=sys.stderr)
        if problems:
            print("run integration/scripts/sync-shared.py to update the copies", file=sys.stderr)
            return 1
        return 0
    for target in copies():
        sync(target, wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
