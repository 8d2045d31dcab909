# Shared by the bench/ scripts: loopback ports and stopping processes by PID.
# shellcheck shell=bash

# Exits with the missing one's path unless every argument is an executable.
need_executables() {
  local bin
  for bin in "$@"; do
    [[ -x $bin ]] || { echo "not executable: $bin (build vigil; scripts/setup.sh --bench)" >&2; exit 1; }
  done
}

# A loopback port nobody listens on (bounded tries).
free_port() {
  local p
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 40000))
    [[ -z $(ss -Hltn "sport = :$p" 2>/dev/null) ]] && { echo "$p"; return 0; }
  done
  echo "no free port found" >&2
  return 1
}

# Stops each PID: SIGTERM, up to 10 s to exit, then SIGKILL.
stop_pids() {
  local pid
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "$@"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}

# Waits until URL answers, at most TENTHS/10 seconds (default 10 s); fails,
# printing $TMP/NAME.log, if process PID exits first or time runs out.
wait_ready() {  # url pid name [tenths]
  for _ in $(seq 1 "${4:-100}"); do
    kill -0 "$2" 2>/dev/null || { echo "$3 exited during startup; its log:" >&2; cat "$TMP/$3.log" >&2; return 1; }
    curl -sf --max-time 2 -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "$3 not ready after $(( ${4:-100} / 10 )) s; its log:" >&2
  cat "$TMP/$3.log" >&2
  return 1
}
