#!/usr/bin/env bash
# Eclipse Mosquitto from Debian: anonymous, password, TLS and mutual-TLS listeners.

mosquitto_home() { printf '%s/mosquitto' "$STATE"; }

mosquitto_install() {
  [[ -x /usr/sbin/mosquitto ]] || apt_ensure mosquitto
}

mosquitto_running() { pid_alive "$(pidfile mosquitto)"; }

mosquitto_configure() {
  local home tls
  home="$(mosquitto_home)"
  tls="$(tls_dir)"
  mkdir -p "$home/data" "$home/logs"
  tls_ensure
  rm -f "$home/passwd"
  mosquitto_passwd -b -c "$home/passwd" "$SPARK_DS_USER" "$SPARK_DS_PASSWORD" >/dev/null
  sed -e "s#@HOME@#$home#g" -e "s#@HOST@#$HOST#g" -e "s#@TLS@#$tls#g" \
    -e "s#@PORT@#$SPARK_DS_MQTT_PORT#g" -e "s#@AUTH_PORT@#$SPARK_DS_MQTT_AUTH_PORT#g" \
    -e "s#@TLS_PORT@#$SPARK_DS_MQTT_TLS_PORT#g" -e "s#@MTLS_PORT@#$SPARK_DS_MQTT_MTLS_PORT#g" \
    "$SERVICES_DIR/mosquitto/mosquitto.conf.in" >"$home/mosquitto.conf"
}

mosquitto_start() {
  mosquitto_configure
  start_bg mosquitto "$(mosquitto_home)/logs/mosquitto.log" /usr/sbin/mosquitto -c "$(mosquitto_home)/mosquitto.conf"
}

mosquitto_wait() { wait_check mosquitto 30; }

mosquitto_stop() { stop_pid mosquitto 10; }

mosquitto_logs() { printf '%s\n' "$(mosquitto_home)/logs/mosquitto.log"; }
