#!/usr/bin/env bash
# MongoDB wire protocol from FerretDB v1 on its SQLite backend, with SCRAM
# authentication (FerretDB's "new auth"; user created at first start), plain and on a
# mutual-TLS port (FerretDB requires a client certificate whenever it is given a CA).

mongodb_home() { printf '%s/mongodb' "$STATE"; }

# FerretDB embeds its version from build/version/version.txt, which the module
# archive lacks, so the module source is copied and the file written first.
mongodb_install() {
  local spec="github.com/FerretDB/FerretDB@$SPARK_DS_FERRETDB_VERSION" stamp src dir
  stamp="$STATE/bin/.ferretdb.version"
  [[ -x "$STATE/bin/ferretdb" && -f "$stamp" && "$(cat "$stamp")" == "$spec" ]] && return 0
  command -v go >/dev/null || die "go is needed to build FerretDB"
  log "building FerretDB $SPARK_DS_FERRETDB_VERSION"
  dir="$(go mod download -json "$spec" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [[ -d "$dir" ]] || die "go mod download $spec failed"
  src="$STATE/build/ferretdb"
  rm -rf "$src"
  mkdir -p "$STATE/build" "$STATE/bin"
  cp -r "$dir" "$src"
  chmod -R u+w "$src"
  echo "$SPARK_DS_FERRETDB_VERSION" >"$src/build/version/version.txt"
  (cd "$src" && CGO_ENABLED=0 go build -trimpath -o "$STATE/bin/ferretdb" ./cmd/ferretdb) >&2
  rm -rf "$src"
  echo "$spec" >"$stamp"
}

mongodb_running() { pid_alive "$(pidfile mongodb)"; }

mongodb_start() {
  local home tls
  home="$(mongodb_home)"
  tls_ensure
  tls_client_bundle
  tls="$(tls_dir)"
  mkdir -p "$home/data" "$home/logs"
  start_bg mongodb "$home/logs/ferretdb.log" "$STATE/bin/ferretdb" \
    --handler=sqlite "--sqlite-url=file:$home/data/" "--state-dir=$home" \
    "--listen-addr=$HOST:$SPARK_DS_MONGODB_PORT" \
    "--listen-tls=$HOST:$SPARK_DS_MONGODB_TLS_PORT" "--listen-tls-cert-file=$tls/server.pem" \
    "--listen-tls-key-file=$tls/server.key" "--listen-tls-ca-file=$tls/ca.pem" --debug-addr=- \
    --telemetry=disable --log-level=warn \
    --test-enable-new-auth --setup-database=admin \
    "--setup-username=$SPARK_DS_USER" "--setup-password=$SPARK_DS_PASSWORD"
}

mongodb_wait() { wait_check mongodb 60; }

mongodb_stop() { stop_pid mongodb 20; }

mongodb_logs() { printf '%s\n' "$(mongodb_home)/logs/ferretdb.log"; }
