#!/usr/bin/env bash
# The benchmark suite: every Cassandra contender side by side in one run.
#
#   integration/bench/run.sh [cassandra] [--rows N[,N...]] [--reps N] [--smoke]
#                            [--only a,b] [--skip a,b] [--budget-minutes M]
#
# Contenders: ours (spark-ds-cassandra), scc (spark-cassandra-connector on Spark 3.5),
# python (pure-Python DataSource), ceiling (Spark's no-I/O Python DataSource limit),
# rust (the connector's Rust reader/writer without Spark). Writes RESULTS.md and
# results.png beside this script (a --smoke run writes them under out/ instead).
# Never part of `make test`; never asserts timings.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${SPARK_DS_VENV:-$root/.venv}"
py="$venv/bin/python"
say() { echo "[bench] $*"; }

if [[ ! -x "$py" ]]; then
  echo "bench: $py missing; run \`make setup\` first" >&2
  exit 2
fi

# Bench-only tools (matplotlib for the chart, py-spy for profiles) in the project venv.
"$py" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"

# The JVM anchor's own environment: PySpark 3.5 (spark-cassandra-connector has no Spark 4
# release). The connector jar itself is resolved by Ivy from Maven Central on first use.
scc_venv="$here/.venv-scc"
if [[ ! -x "$scc_venv/bin/python" ]] || ! "$scc_venv/bin/python" -c "import pyspark" 2>/dev/null; then
  say "creating $scc_venv (PySpark 3.5 for spark-cassandra-connector)"
  start=$SECONDS
  base_py="$("$py" -c 'import sys, os; print(os.path.join(sys.base_prefix, "bin", "python3"))')"
  "$base_py" -m venv "$scc_venv"
  "$scc_venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements-scc.txt"
  say "JVM anchor environment ready in $((SECONDS - start)) s"
fi

# Our wheel: installed by `make setup`; install the built one if the venv lacks it.
if ! "$py" -c "import pyspark_ds_cassandra._native" 2>/dev/null; then
  shopt -s nullglob
  wheels=("$root"/dist/spark_ds_cassandra-*.whl)
  if [[ ${#wheels[@]} -gt 0 ]]; then
    say "installing ${wheels[0]##*/}"
    "$venv/bin/pip" install --quiet --force-reinstall --no-deps "${wheels[0]}"
  fi
fi

# The practical limit: a release build of the Rust program (shares the workspace target).
extra=()
start=$SECONDS
if (cd "$root" && cargo build --quiet --release -p spark-ds-bench-rust-scan); then
  say "rust-scan built in $((SECONDS - start)) s"
else
  extra+=(--skip-reason "rust=cargo build of integration/bench/rust-scan failed")
fi

# The harness Cassandra (the only way this project starts it).
if ! "$root/integration/services.sh" status cassandra 2>/dev/null | grep -q "OK"; then
  "$root/integration/services.sh" up cassandra
fi

export TZ=UTC
exec "$py" "$here/bench.py" "$@" "${extra[@]}"
