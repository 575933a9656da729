#!/usr/bin/env bash
# Toxiproxy (Go module github.com/Shopify/toxiproxy/v2), API on its usual 8474.

toxiproxy_home() { printf '%s/toxiproxy' "$STATE"; }

toxiproxy_install() {
  go_install_bin toxiproxy-server "github.com/Shopify/toxiproxy/v2/cmd/server@$SPARK_DS_TOXIPROXY_VERSION"
  go_install_bin toxiproxy-cli "github.com/Shopify/toxiproxy/v2/cmd/cli@$SPARK_DS_TOXIPROXY_VERSION"
}

toxiproxy_running() { pid_alive "$(pidfile toxiproxy)"; }

toxiproxy_start() {
  local home
  home="$(toxiproxy_home)"
  mkdir -p "$home/logs"
  start_bg toxiproxy "$home/logs/toxiproxy.log" "$STATE/bin/toxiproxy-server" \
    -host "$HOST" -port "$SPARK_DS_TOXIPROXY_PORT"
}

toxiproxy_wait() { wait_check toxiproxy 30; }

toxiproxy_stop() { stop_pid toxiproxy 10; }

toxiproxy_logs() { printf '%s\n' "$(toxiproxy_home)/logs/toxiproxy.log"; }
