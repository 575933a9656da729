#!/usr/bin/env bash
# Checks every native module's .pyi stub against the installed extension module.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${SPARK_DS_VENV:-$root/.venv}"
config="$(mktemp)"
trap 'rm -f "$config"' EXIT
# pyarrow ships no type information; the stubs still name its classes.
printf '[mypy]\nignore_missing_imports = True\n' > "$config"
cd "$(mktemp -d)"  # import the installed wheels, not the source tree
"$venv/bin/python" -m mypy.stubtest --mypy-config-file "$config" --ignore-disjoint-bases \
  pyspark_ds_cassandra._native pyspark_ds_mongodb._native pyspark_ds_rabbitmq._native \
  pyspark_ds_mqtt._native pyspark_ds_rest._native
