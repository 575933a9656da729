#!/usr/bin/env bash
# The benchmark suite: every contender of a system side by side in one run.
#
#   integration/bench/run.sh [cassandra|mongodb|rabbitmq|all] [--rows N[,N...]] [--reps N]
#                            [--smoke] [--only a,b] [--skip a,b] [--budget-minutes M]
#                            [--body-bytes B[,B...]]  (rabbitmq)
#
# cassandra (the default): ours (spark-ds-cassandra), scc (spark-cassandra-connector on
# Spark 3.5), python (pure-Python DataSource), ceiling (Spark's no-I/O Python DataSource
# limit), rust (the connector's Rust reader/writer without Spark) -> RESULTS.md.
# mongodb: ours (spark-ds-mongodb), mongo-spark (mongo-spark-connector on Spark 3.5),
# pymongo and pymongoarrow (pure-Python DataSources), ceiling, rust -> RESULTS-mongodb.md.
# rabbitmq: ours (spark-ds-rabbitmq), pika (pure-Python DataSource), ceiling, rust, at 100 B
# and 10 KB bodies -> RESULTS-rabbitmq.md.
# `all` runs cassandra, mongodb, then rabbitmq, with the same flags. A --smoke run writes
# its results under out/ instead. Never part of `make test`; never asserts timings.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${SPARK_DS_VENV:-$root/.venv}"
py="$venv/bin/python"
say() { echo "[bench] $*"; }

systems=(cassandra)
case "${1:-}" in
  cassandra | mongodb | rabbitmq) systems=("$1"); shift ;;
  all) systems=(cassandra mongodb rabbitmq); shift ;;
esac

if [[ ! -x "$py" ]]; then
  echo "bench: $py missing; run \`make setup\` first" >&2
  exit 2
fi

# Bench-only tools (matplotlib, py-spy, pymongo, pika) in the project venv.
"$py" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
base_py="$("$py" -c 'import sys, os; print(os.path.join(sys.base_prefix, "bin", "python3"))')"

# A venv of its own for a contender whose requirements differ from the project's.
own_venv() { # dir requirements why
  local dir="$1" req="$2" why="$3" start=$SECONDS
  # A copy of the requirements it was made from: an edited file brings it up to date.
  if [[ ! -x "$dir/bin/python" ]] || ! "$dir/bin/python" -c "import pyspark" 2>/dev/null ||
    ! cmp -s "$req" "$dir/.requirements"; then
    say "creating $dir ($why)"
    "$base_py" -m venv "$dir"
    "$dir/bin/pip" install --quiet --disable-pip-version-check -r "$req"
    cp "$req" "$dir/.requirements"
    say "$dir ready in $((SECONDS - start)) s"
  fi
}

# The JVM anchors' environment: PySpark 3.5 (neither spark-cassandra-connector nor
# mongo-spark-connector has a Spark 4 release). Their jars are resolved by Ivy from Maven
# Central on first use (ivysettings.xml). RabbitMQ has no Spark connector to anchor on.
if [[ " ${systems[*]} " == *" cassandra "* || " ${systems[*]} " == *" mongodb "* ]]; then
  own_venv "$here/.venv-scc" "$here/requirements-scc.txt" "PySpark 3.5 for the JVM connectors"
fi

status=0
for system in "${systems[@]}"; do
  # Our wheel: installed by `make setup`; install the built one if the venv lacks it.
  if ! "$py" -c "import pyspark_ds_${system}._native" 2>/dev/null; then
    shopt -s nullglob
    wheels=("$root"/dist/spark_ds_"${system}"-*.whl)
    shopt -u nullglob
    if [[ ${#wheels[@]} -gt 0 ]]; then
      say "installing ${wheels[0]##*/}"
      "$venv/bin/pip" install --quiet --force-reinstall --no-deps "${wheels[0]}"
    fi
  fi

  extra=()
  if [[ "$system" == mongodb ]]; then
    # pymongoarrow pins an older pyarrow than the project's: its own venv.
    own_venv "$here/.venv-pymongoarrow" "$here/requirements-pymongoarrow.txt" \
      "PySpark 4.3 with pymongoarrow's pyarrow"
    crate=spark-ds-bench-mongo-scan
  elif [[ "$system" == rabbitmq ]]; then
    crate=spark-ds-bench-rabbit-scan
  else
    crate=spark-ds-bench-rust-scan
  fi

  # The practical limit: a release build of the Rust program (shares the workspace target).
  start=$SECONDS
  if (cd "$root" && cargo build --quiet --release -p "$crate"); then
    say "$crate built in $((SECONDS - start)) s"
  else
    extra+=(--skip-reason "rust=cargo build of $crate failed")
  fi

  # The harness's server (the only way this project starts it).
  if ! "$root/integration/services.sh" status "$system" 2>/dev/null | grep -q "OK"; then
    "$root/integration/services.sh" up "$system"
  fi

  say "$system"
  TZ=UTC "$py" "$here/bench.py" "$system" "$@" "${extra[@]}" || status=$?
done
exit "$status"
