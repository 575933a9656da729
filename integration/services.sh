#!/usr/bin/env bash
# Installs, starts, checks and stops every system the connectors talk to, on
# loopback. Usage: integration/services.sh up|down|status|restart|logs|tls [name...]
# Names: cassandra mongodb rabbitmq mosquitto http toxiproxy spark (none = all).
# integration/services.sh rabbitmqctl ARGS... runs the harness broker's rabbitmqctl.
# State (data, pids, logs, configs, TLS, env.json) lives in $SPARK_DS_SERVICES_HOME
# (default <repo>/.services). See integration/services/README.md.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=services/lib/common.sh
source "$here/services/lib/common.sh"
# shellcheck source=services/lib/config.sh
source "$here/services/lib/config.sh"
# shellcheck source=services/lib/tls.sh
source "$here/services/lib/tls.sh"

ALL=(cassandra toxiproxy http mosquitto rabbitmq mongodb spark)
for svc in "${ALL[@]}"; do
  # shellcheck source=/dev/null
  source "$here/services/$svc/service.sh"
done

export SPARK_DS_SPARK_HOME="${SPARK_DS_SPARK_HOME:-$(spark_default_home)}"
export SPARK_DS_SPARK_WORKER_VENV="${SPARK_DS_SPARK_WORKER_VENV:-$STATE/spark-worker-venv}"
# Not PYSPARK_PYTHON: test drivers set that for themselves, and the workers must keep their own.
export SPARK_DS_SPARK_WORKER_PYTHON="${SPARK_DS_SPARK_WORKER_PYTHON:-$SPARK_DS_SPARK_WORKER_VENV/bin/python}"

usage() {
  sed -n '2,7p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# select_names NAME...: validates names; none means all (in start order).
select_names() {
  local n ok a
  if (($# == 0)); then
    NAMES=("${ALL[@]}")
    return
  fi
  NAMES=()
  for n in "$@"; do
    ok=0
    for a in "${ALL[@]}"; do [[ "$n" == "$a" ]] && ok=1; done
    ((ok)) || die "unknown service '$n' (known: ${ALL[*]})"
    NAMES+=("$n")
  done
}

prepare() {
  mkdir -p "$STATE/pids"
  if [[ "${SPARK_DS_SKIP_BOOTSTRAP:-0}" != 1 ]]; then
    "$ROOT/integration/scripts/bootstrap-python.sh"
  fi
  "$PY" "$SERVICES_DIR/envfile.py" "$STATE" "$ROOT"
}

cmd_up() {
  local n t
  declare -A t_install t_launch
  tls_ensure
  for n in "${NAMES[@]}"; do
    t="$(now)"
    "${n}_install"
    t_install[$n]="$(elapsed "$t")"
    if "${n}_running"; then
      continue
    fi
    t_launch[$n]="$(now)"
    "${n}_start"
  done
  for n in "${NAMES[@]}"; do
    if [[ -v "t_launch[$n]" ]]; then
      "${n}_wait" || { log "$n did not become ready; its logs:"; cmd_logs_one "$n"; die "$n failed to start"; }
      printf '%-10s install %6ss  start %6ss\n' "$n" "${t_install[$n]}" "$(elapsed "${t_launch[$n]}")"
    else
      printf '%-10s install %6ss  already running\n' "$n" "${t_install[$n]}"
    fi
  done
  echo "env: $STATE/env.json ($STATE/env.sh)"
}

cmd_down() {
  local i
  for ((i = ${#NAMES[@]} - 1; i >= 0; i--)); do
    "${NAMES[$i]}_stop"
    printf '%-10s stopped\n' "${NAMES[$i]}"
  done
}

cmd_status() {
  local n up=()
  local rc=0
  for n in "${NAMES[@]}"; do
    if "${n}_running"; then
      up+=("$n")
    else
      printf '%-10s DOWN    not running\n' "$n"
      rc=1
    fi
  done
  if ((${#up[@]})); then
    "$PY" "$SERVICES_DIR/check.py" "${up[@]}" || rc=1
  fi
  return "$rc"
}

cmd_restart() {
  local n t
  for n in "${NAMES[@]}"; do
    "${n}_stop"
    t="$(now)"
    "${n}_install"
    "${n}_start"
    "${n}_wait" || { cmd_logs_one "$n"; die "$n failed to restart"; }
    printf '%-10s restarted in %ss\n' "$n" "$(elapsed "$t")"
  done
}

cmd_logs_one() {
  local f
  while IFS= read -r f; do
    [[ -f "$f" ]] || continue
    printf '===== %s: %s =====\n' "$1" "$f"
    tail -n "${SPARK_DS_LOG_LINES:-400}" "$f"
  done < <("${1}_logs")
}

cmd_logs() {
  local n
  for n in "${NAMES[@]}"; do cmd_logs_one "$n"; done
}

# Only the TLS material (e.g. for docker-compose, which mounts .services/tls).
cmd_tls() {
  tls_ensure
  echo "TLS material in $(tls_dir)"
}

main() {
  (($# >= 1)) || usage
  local cmd="$1"
  shift
  if [[ "$cmd" == rabbitmqctl ]]; then
    prepare
    rabbitmq_ctl "$@"
    return
  fi
  select_names "$@"
  case "$cmd" in
    up | down | status | restart | logs | tls) ;;
    *) usage ;;
  esac
  prepare
  "cmd_$cmd"
}

main "$@"
