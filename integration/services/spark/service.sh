#!/usr/bin/env bash
# Spark standalone cluster (one master, N workers) from the pyspark package in
# .venv. Executors run Python from a dedicated venv without the connector
# wheels (tests install the wheels there themselves).

spark_home_dir() { printf '%s/spark' "$STATE"; }

spark_default_home() {
  local d
  for d in "$ROOT"/.venv/lib/python3*/site-packages/pyspark; do
    [[ -x "$d/bin/spark-class" ]] && { echo "$d"; return 0; }
  done
  echo "$ROOT/.venv/lib/python3/site-packages/pyspark"
}

# The PySpark of SPARK_DS_SPARK_HOME (the cluster's Spark) and the pyarrow of the project venv.
spark_install() {
  local venv="$SPARK_DS_SPARK_WORKER_VENV" version reqs
  [[ -x "$SPARK_DS_SPARK_HOME/bin/spark-class" ]] || die "no pyspark in .venv (run integration/scripts/bootstrap-python.sh)"
  version="$(sed -En "s/^__version__[^'\"]*['\"]([^'\"]+)['\"].*/\1/p" "$SPARK_DS_SPARK_HOME/version.py")"
  [[ -n "$version" ]] || die "no __version__ in $SPARK_DS_SPARK_HOME/version.py"
  reqs="pyspark==$version $(grep -E '^pyarrow==' "$ROOT/integration/requirements-dev.txt")"
  [[ -x "$venv/bin/python" && "$(cat "$venv/.ready" 2>/dev/null)" == "$reqs" ]] && return 0
  log "creating Spark worker venv $venv ($reqs)"
  rm -rf "$venv"
  python3 -m venv "$venv"
  # shellcheck disable=SC2086  # one requirement per word
  "$venv/bin/pip" install --quiet --disable-pip-version-check $reqs >&2
  printf '%s' "$reqs" >"$venv/.ready"
}

spark_running() { pid_alive "$(pidfile spark-master)"; }

spark_env() {
  local home
  home="$(spark_home_dir)"
  export SPARK_HOME="$SPARK_DS_SPARK_HOME"
  export SPARK_LOCAL_IP="$HOST"
  export SPARK_LOG_DIR="$home/logs"
  export SPARK_NO_DAEMONIZE=1
  export PYSPARK_PYTHON="$SPARK_DS_SPARK_WORKER_PYTHON"
  export SPARK_DAEMON_MEMORY=512m
  export SPARK_CONF_DIR="$home/conf"
}

spark_start() {
  local home i
  home="$(spark_home_dir)"
  mkdir -p "$home/logs" "$home/conf"
  (
    spark_env
    start_bg spark-master "$home/logs/master.log" "$SPARK_HOME/bin/spark-class" \
      org.apache.spark.deploy.master.Master --host "$HOST" \
      --port "$SPARK_DS_SPARK_MASTER_PORT" --webui-port "$SPARK_DS_SPARK_MASTER_UI_PORT"
    for ((i = 1; i <= SPARK_DS_SPARK_WORKERS; i++)); do
      mkdir -p "$home/worker-$i"
      start_bg "spark-worker-$i" "$home/logs/worker-$i.log" "$SPARK_HOME/bin/spark-class" \
        org.apache.spark.deploy.worker.Worker --host "$HOST" --cores 1 \
        --memory "$SPARK_DS_SPARK_WORKER_MEMORY" --work-dir "$home/worker-$i" \
        --webui-port "$((SPARK_DS_SPARK_WORKER_UI_PORT + i - 1))" \
        "spark://$HOST:$SPARK_DS_SPARK_MASTER_PORT"
    done
  )
}

spark_wait() { wait_check spark 120; }

spark_stop() {
  local f
  for f in "$STATE"/pids/spark-worker-*.pid; do
    [[ -e "$f" ]] && stop_pid "$(basename "$f" .pid)" 20
  done
  stop_pid spark-master 20
}

spark_logs() { compgen -G "$(spark_home_dir)/logs/*.log" || true; }
