#!/usr/bin/env bash
# Apache Cassandra 5.0 from Maven Central's cassandra-all, run on Java 17.

cassandra_home() { printf '%s/cassandra' "$STATE"; }

cassandra_install() {
  local home lib stamp
  home="$(cassandra_home)"
  lib="$home/lib"
  stamp="$lib/.version"
  [[ -f "$stamp" && "$(cat "$stamp")" == "$SPARK_DS_CASSANDRA_VERSION" ]] && return 0
  command -v java >/dev/null || apt_ensure openjdk-17-jre-headless
  command -v mvn >/dev/null || apt_ensure maven
  rm -rf "$lib"
  mkdir -p "$lib"
  log "resolving cassandra-all $SPARK_DS_CASSANDRA_VERSION with Maven"
  mvn -q -B -f "$SERVICES_DIR/cassandra/pom.xml" dependency:copy-dependencies \
    -Dcassandra.version="$SPARK_DS_CASSANDRA_VERSION" -DoutputDirectory="$lib" >&2
  echo "$SPARK_DS_CASSANDRA_VERSION" >"$stamp"
}

cassandra_running() { pid_alive "$(pidfile cassandra)"; }

cassandra_configure() {
  local home conf
  home="$(cassandra_home)"
  conf="$home/conf"
  mkdir -p "$conf" "$home/data" "$home/commitlog" "$home/saved_caches" "$home/hints" \
    "$home/cdc_raw" "$home/logs"
  tls_ensure
  sed -e "s#@HOME@#$home#g" -e "s#@HOST@#$HOST#g" -e "s#@TLS@#$(tls_dir)#g" \
    -e "s#@TLS_PASSWORD@#$SPARK_DS_TLS_PASSWORD#g" \
    -e "s#@PORT@#$SPARK_DS_CASSANDRA_PORT#g" \
    -e "s#@STORAGE_PORT@#$SPARK_DS_CASSANDRA_STORAGE_PORT#g" \
    "$SERVICES_DIR/cassandra/cassandra.yaml.in" >"$conf/cassandra.yaml"
  sed -e "s#@LOGDIR@#$home/logs#g" "$SERVICES_DIR/cassandra/logback.xml" >"$conf/logback.xml"
}

# The JVM 17 module flags Cassandra's conf/jvm17-server.options sets.
cassandra_jvm_module_flags() {
  local e o
  for e in java.base/jdk.internal.misc java.base/jdk.internal.ref java.base/sun.nio.ch \
    java.management.rmi/com.sun.jmx.remote.internal.rmi java.rmi/sun.rmi.registry \
    java.rmi/sun.rmi.server java.sql/java.sql java.base/java.lang.ref jdk.unsupported/sun.misc; do
    printf -- '--add-exports\n%s=ALL-UNNAMED\n' "$e"
  done
  for o in java.base/java.lang.module java.base/jdk.internal.loader java.base/jdk.internal.ref \
    java.base/jdk.internal.reflect java.base/jdk.internal.math java.base/jdk.internal.module \
    java.base/jdk.internal.util.jar jdk.management/com.sun.management.internal \
    java.base/sun.nio.ch java.base/java.io java.base/java.nio java.base/java.util.concurrent \
    java.base/java.util java.base/java.util.concurrent.atomic java.base/java.lang \
    java.base/java.math java.base/java.lang.reflect java.base/java.net; do
    printf -- '--add-opens\n%s=ALL-UNNAMED\n' "$o"
  done
}

cassandra_start() {
  local home conf jamm args=()
  home="$(cassandra_home)"
  conf="$home/conf"
  cassandra_configure
  mapfile -t args < <(cassandra_jvm_module_flags)
  jamm="$(compgen -G "$home/lib/jamm-*.jar" | head -n1 || true)"
  [[ -n "$jamm" ]] && args+=("-javaagent:$jamm")
  args+=(
    "-Xms$SPARK_DS_CASSANDRA_HEAP" "-Xmx$SPARK_DS_CASSANDRA_HEAP" -Xss512k
    -XX:+UseG1GC -XX:MaxGCPauseMillis=300 -XX:ActiveProcessorCount=2
    -XX:MaxDirectMemorySize=512m
    -XX:+ExitOnOutOfMemoryError
    -Djdk.attach.allowAttachSelf=true -Djava.net.preferIPv4Stack=true
    "-Dcassandra.config=file://$conf/cassandra.yaml"
    "-Dlogback.configurationFile=$conf/logback.xml"
    "-Dcassandra.logdir=$home/logs" "-Dcassandra.storagedir=$home"
    -Dcassandra-foreground=yes
    "-Dcassandra.jmx.local.port=$SPARK_DS_CASSANDRA_JMX_PORT"
    -Dcassandra.size_recorder_interval=10
    -Dcassandra.superuser_setup_delay_ms=0
    -Dcassandra.skip_wait_for_gossip_to_settle=0
    -Dcassandra.ring_delay_ms=1000
    -Dcassandra.load_ring_state=true
    -cp "$conf:$home/lib/*"
    org.apache.cassandra.service.CassandraDaemon
  )
  start_bg cassandra "$home/logs/stdout.log" java "${args[@]}"
}

cassandra_wait() { wait_check cassandra "${SPARK_DS_CASSANDRA_START_TIMEOUT:-240}"; }

cassandra_stop() { stop_pid cassandra 60; }

cassandra_logs() { printf '%s\n' "$(cassandra_home)/logs/system.log" "$(cassandra_home)/logs/stdout.log"; }
