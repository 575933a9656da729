#!/usr/bin/env bash
# RabbitMQ from Debian, run without systemd as the invoking user with every
# RABBITMQ_* path (config, Mnesia, logs, Erlang cookie via HOME) in the state dir.

rabbitmq_home() { printf '%s/rabbitmq' "$STATE"; }

rabbitmq_install() {
  [[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]] || apt_ensure rabbitmq-server
}

rabbitmq_env() {
  local home
  home="$(rabbitmq_home)"
  export HOME="$home"
  export RABBITMQ_NODENAME="sparkds@localhost"
  export RABBITMQ_NODE_IP_ADDRESS="$HOST"
  export RABBITMQ_NODE_PORT="$SPARK_DS_RABBITMQ_PORT"
  export RABBITMQ_DIST_PORT="$SPARK_DS_RABBITMQ_DIST_PORT"
  export RABBITMQ_CONFIG_FILE="$home/rabbitmq.conf"
  export RABBITMQ_ADVANCED_CONFIG_FILE="$home/advanced.config"
  export RABBITMQ_CONF_ENV_FILE="$home/rabbitmq-env.conf"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$home/enabled_plugins"
  export RABBITMQ_MNESIA_BASE="$home/mnesia"
  export RABBITMQ_LOG_BASE="$home/logs"
  export RABBITMQ_PID_FILE="$home/rabbitmq.pid"
  export ERL_EPMD_ADDRESS="127.0.0.1"
}

# The broker's rabbitmqctl, e.g. for tests that create a user (in a subshell: HOME moves).
rabbitmq_ctl() { (rabbitmq_env && /usr/lib/rabbitmq/bin/rabbitmqctl -q "$@"); }

rabbitmq_running() { pid_alive "$(pidfile rabbitmq)"; }

rabbitmq_configure() {
  local home
  home="$(rabbitmq_home)"
  mkdir -p "$home/mnesia" "$home/logs"
  tls_ensure
  : >"$home/rabbitmq-env.conf"
  echo '[].' >"$home/advanced.config"
  echo '[rabbitmq_stream].' >"$home/enabled_plugins"
  sed -e "s#@HOST@#$HOST#g" -e "s#@TLS@#$(tls_dir)#g" \
    -e "s#@PORT@#$SPARK_DS_RABBITMQ_PORT#g" -e "s#@TLS_PORT@#$SPARK_DS_RABBITMQ_TLS_PORT#g" \
    -e "s#@STREAM_PORT@#$SPARK_DS_RABBITMQ_STREAM_PORT#g" \
    -e "s#@USER@#$SPARK_DS_USER#g" -e "s#@PASSWORD@#$SPARK_DS_PASSWORD#g" \
    "$SERVICES_DIR/rabbitmq/rabbitmq.conf.in" >"$home/rabbitmq.conf"
  if [[ ! -s "$home/.erlang.cookie" ]]; then
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$home/.erlang.cookie"
    chmod 400 "$home/.erlang.cookie"
  fi
}

rabbitmq_start() {
  rabbitmq_configure
  (rabbitmq_env && start_bg rabbitmq "$(rabbitmq_home)/logs/stdout.log" /usr/lib/rabbitmq/bin/rabbitmq-server)
}

rabbitmq_wait() { wait_check rabbitmq 120; }

# The broker's own shutdown, then the process group; epmd (started by the
# broker's Erlang VM as a daemon) is stopped once no node is registered.
rabbitmq_stop() {
  if rabbitmq_running; then
    (rabbitmq_env && timeout 60 /usr/lib/rabbitmq/bin/rabbitmqctl -q stop >/dev/null 2>&1) || true
  fi
  stop_pid rabbitmq 30
  if command -v epmd >/dev/null && epmd -names 2>/dev/null | grep -q '^epmd: up'; then
    epmd -names 2>/dev/null | grep -q '^name ' || epmd -kill >/dev/null 2>&1 || true
  fi
}

rabbitmq_logs() {
  local home
  home="$(rabbitmq_home)"
  printf '%s\n' "$home/logs/stdout.log"
  compgen -G "$home/logs/*.log" | grep -v stdout.log || true
}
