#!/usr/bin/env bash
# Builds one wheel per connector into dist/ (abi3, manylinux2014 via zig when available).
# Usage: build-wheels.sh [connector...]   (default: all)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${SPARK_DS_VENV:-$root/.venv}"
connectors=("$@")
if [[ ${#connectors[@]} -eq 0 ]]; then
  connectors=(cassandra mongodb rabbitmq mqtt rest)
fi
# A target dir of its own: pyo3's build config differs from `cargo test`'s, and sharing one
# dir makes each side rebuild pyo3 and everything above it.
export CARGO_TARGET_DIR="${SPARK_DS_WHEEL_TARGET:-$root/target/wheels}"
portable=()
if [[ "${SPARK_DS_PORTABLE_WHEELS:-1}" == "1" ]] && "$venv/bin/python" -c "import ziglang" 2>/dev/null; then
  portable=(--zig --compatibility manylinux2014)
fi
mkdir -p "$root/dist"
for name in "${connectors[@]}"; do
  start=$SECONDS
  rm -f "$root"/dist/spark_ds_"${name}"-*.whl
  # Straight from the connector's directory, as `pip wheel` or `maturin build` there would:
  # the vendored `_shared` glue is committed (integration/scripts/sync-shared.py).
  (cd "$root/connectors/$name" && PATH="$venv/bin:$PATH" "$venv/bin/maturin" build --release \
    --interpreter "$venv/bin/python" "${portable[@]}" --out "$root/dist" >/dev/null)
  echo "built spark-ds-$name in $((SECONDS - start)) s"
done
