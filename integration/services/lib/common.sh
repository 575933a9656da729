#!/usr/bin/env bash
# Shared helpers for the services harness. Sourced by integration/services.sh;
# every per-service script defines <name>_install, <name>_start, <name>_stop and
# <name>_running on top of these.

# shellcheck disable=SC2034  # variables here are read by the sourcing scripts
SERVICES_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT="$(cd "$SERVICES_DIR/../.." && pwd)"
STATE="${SPARK_DS_SERVICES_HOME:-$ROOT/.services}"
PY="${SPARK_DS_PYTHON:-$ROOT/.venv/bin/python}"
HOST=127.0.0.1
APT_UPDATED=0

log() { printf '[services] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

pidfile() { printf '%s/pids/%s.pid' "$STATE" "$1"; }

# pid_alive PIDFILE: the process recorded in PIDFILE is running.
pid_alive() {
  local f="$1" pid
  [[ -s "$f" ]] || return 1
  pid="$(cat "$f")"
  kill -0 "$pid" 2>/dev/null
}

# start_bg NAME LOGFILE CMD...: runs CMD in its own session (so the whole
# process group can be stopped), records its pid in pids/NAME.pid.
start_bg() {
  local name="$1" logfile="$2"
  shift 2
  mkdir -p "$STATE/pids" "$(dirname "$logfile")"
  setsid "$@" >>"$logfile" 2>&1 </dev/null &
  echo "$!" >"$(pidfile "$name")"
}

# stop_pid NAME [TIMEOUT]: TERM the process group recorded for NAME, KILL it
# after TIMEOUT seconds, remove the pid file.
stop_pid() {
  local name="$1" timeout="${2:-30}" f pid i
  f="$(pidfile "$name")"
  if ! pid_alive "$f"; then
    rm -f "$f"
    return 0
  fi
  pid="$(cat "$f")"
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < timeout * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL -- "-$pid" 2>/dev/null || true
  kill -KILL "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  rm -f "$f"
}

# apt_ensure PKG...: installs the Debian packages that are not installed yet.
apt_ensure() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  local sudo=()
  ((EUID == 0)) || sudo=(sudo)
  if ((APT_UPDATED == 0)); then
    log "apt-get update"
    "${sudo[@]}" apt-get update -qq
    APT_UPDATED=1
  fi
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confold "${missing[@]}" >&2
}

# go_install_bin NAME PKG@VERSION: builds a Go command into $STATE/bin/NAME
# once per version (the Go module and build caches make rebuilds cheap).
go_install_bin() {
  local name="$1" spec="$2" stamp tmp
  stamp="$STATE/bin/.$name.version"
  if [[ -x "$STATE/bin/$name" && -f "$stamp" && "$(cat "$stamp")" == "$spec" ]]; then
    return 0
  fi
  command -v go >/dev/null || die "go is needed to build $name"
  tmp="$(mktemp -d)"
  log "go install $spec"
  GOBIN="$tmp" GOFLAGS="${GOFLAGS:--trimpath}" CGO_ENABLED="${CGO_ENABLED:-0}" go install "$spec" >&2
  mkdir -p "$STATE/bin"
  mv "$tmp/$(basename "${spec%@*}")" "$STATE/bin/$name"
  rmdir "$tmp"
  echo "$spec" >"$stamp"
}

# wait_check NAME TIMEOUT: waits until the Python checker gets a real round trip.
wait_check() {
  "$PY" "$SERVICES_DIR/check.py" --wait "$2" "$1" >/dev/null
}

# port_free PORT: nothing listens on HOST:PORT.
port_free() {
  ! (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}
