#!/usr/bin/env bash
# The project's own HTTP test API (http/server.py, stdlib only).

http_home() { printf '%s/http' "$STATE"; }

http_install() { :; }

http_running() { pid_alive "$(pidfile http)"; }

http_start() {
  mkdir -p "$(http_home)/logs"
  start_bg http "$(http_home)/logs/http.log" "$PY" -u "$SERVICES_DIR/http/server.py" \
    --host "$HOST" --port "$SPARK_DS_HTTP_PORT"
}

http_wait() { wait_check http 30; }

http_stop() { stop_pid http 10; }

http_logs() { printf '%s\n' "$(http_home)/logs/http.log"; }
