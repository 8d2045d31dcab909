#!/usr/bin/env bash
# Serving under load, side by side: 50 concurrent clients (wrk, kept-alive
# connections) repeating what the web UI's overview asks at each refresh and
# a 24 h range query, against vigil and Prometheus 2.42 holding the same
# data (bench/gen_query_dataset.py: 24 h at 15 s, 1 000 CPU counters, 500
# gauges, 20 filesystems), one store at a time so each has the whole machine.
#
#   bench/compare_load.sh            DURATION=600 (s per store and round), ROUNDS=2, CONNECTIONS=50
#
# Prints per store and round: requests/s, p50/p90/p99/max latency, errors
# (connection errors, timeouts, non-2xx answers: must be 0) and the server's
# RSS (peak during the run, and 10 s after it ended). Environment: VIGIL,
# PROMTOOL, PROMETHEUS, KEEP=1. Loopback only; every process stopped by PID.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
VIGIL=${VIGIL:-$ROOT/build/vigil}
PROMTOOL=${PROMTOOL:-/usr/bin/promtool}
PROMETHEUS=${PROMETHEUS:-/usr/bin/prometheus}
WRK=${WRK:-/usr/bin/wrk}
DURATION=${DURATION:-600}
ROUNDS=${ROUNDS:-2}
CONNECTIONS=${CONNECTIONS:-50}
need_executables "$VIGIL" "$PROMTOOL" "$PROMETHEUS" "$WRK"

TMP=$(mktemp -d /tmp/vigil-load-bench.XXXX)
PIDS=()
cleanup() { stop_pids "${PIDS[@]}"; [[ ${KEEP:-0} == 1 ]] && echo "kept $TMP" || rm -rf "$TMP"; }
trap cleanup EXIT

FILE=$TMP/data.om
python3 "$ROOT/bench/gen_query_dataset.py" "$FILE" >/dev/null
END=$(awk '!/^#/ && NF >= 3 {t = $NF; if (t > m) m = t} END {printf "%d", m}' "$FILE")
END=$((END / 60 * 60))
echo "dataset: $(grep -vc '^#' "$FILE") samples, ends $(date -u -d "@$END" '+%F %T') UTC"
echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$VIGIL" tsdb import "$FILE" --data-dir "$TMP/vigil" >"$TMP/import.log" 2>&1
"$PROMTOOL" tsdb create-blocks-from openmetrics --max-block-duration=25h "$FILE" "$TMP/prom" >/dev/null
printf 'global: {}\n' >"$TMP/prom.yml"

enc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
CPU=$(enc '1 - avg(rate(node_cpu_seconds_total{mode="idle"}[1m]))')
FS=$(enc 'node_filesystem_avail_bytes')
DAY=$(enc 'sum by (mode)(rate(node_cpu_seconds_total[5m]))')
# The overview at each refresh: the CPU and filesystem values and their 1 h
# charts; then the 24 h range query a dashboard's long panel asks.
PATHS="/api/v1/query?query=$CPU&time=$END"
PATHS+="|/api/v1/query_range?query=$CPU&start=$((END - 3600))&end=$END&step=15"
PATHS+="|/api/v1/query?query=$FS&time=$END"
PATHS+="|/api/v1/query_range?query=$FS&start=$((END - 3600))&end=$END&step=15"
PATHS+="|/api/v1/query_range?query=$DAY&start=$((END - 86400 + 600))&end=$END&step=60"
export PATHS

rss_mb() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }

# Runs wrk against one server for DURATION seconds; prints one row.
load() {  # name port pid
  local peak=0 r
  "$WRK" -t2 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s -s "$ROOT/bench/load.lua" "http://127.0.0.1:$2" \
    >"$TMP/wrk-$1.txt" 2>&1 &
  local wrk_pid=$!
  while kill -0 "$wrk_pid" 2>/dev/null; do
    r=$(rss_mb "$3")
    peak=$(awk -v a="$peak" -v b="$r" 'BEGIN {print (b > a) ? b : a}')
    sleep 1
  done
  wait "$wrk_pid"
  sleep 10
  local line
  line=$(grep '^RESULT' "$TMP/wrk-$1.txt") || { cat "$TMP/wrk-$1.txt" >&2; return 1; }
  awk -v n="$1" -v l="$line" -v d="$DURATION" -v peak="$peak" -v after="$(rss_mb "$3")" 'BEGIN {
    split(l, f, /[ =]/); for (i = 2; i < length(f); i += 2) v[f[i]] = f[i + 1]
    printf "%-11s %8.1f %8.2f %8.2f %8.2f %9.2f %7d %7d %9.1f %9.1f\n", n, v["requests"] / d, v["p50_ms"],
      v["p90_ms"], v["p99_ms"], v["max_ms"], v["errors"], v["non2xx"], peak, after }'
}

vport=$(free_port)
"$VIGIL" run --config "$ROOT/bench/query_bench.yml" --data-dir "$TMP/vigil" --listen "127.0.0.1:$vport" \
  >"$TMP/vigil.log" 2>&1 &
PIDS+=($!)
vpid=$!
wait_ready "http://127.0.0.1:$vport/-/ready" "$vpid" vigil 300
pport=$(free_port)
"$PROMETHEUS" --config.file="$TMP/prom.yml" --storage.tsdb.path="$TMP/prom" --storage.tsdb.retention.time=100y \
  --web.listen-address="127.0.0.1:$pport" >"$TMP/prometheus.log" 2>&1 &
PIDS+=($!)
ppid_=$!
wait_ready "http://127.0.0.1:$pport/-/ready" "$ppid_" prometheus 300
# Each answers every request once before the clock starts (and must succeed).
IFS='|' read -ra list <<<"$PATHS"
for p in "${list[@]}"; do
  for port in "$vport" "$pport"; do
    curl -sf --max-time 60 -o /dev/null "http://127.0.0.1:$port$p" || { echo "failed: $port$p" >&2; exit 1; }
  done
done

echo "$CONNECTIONS connections, ${DURATION} s per store and round; RSS in MiB"
printf "%-11s %8s %8s %8s %8s %9s %7s %7s %9s %9s\n" server "req/s" "p50 ms" "p90 ms" "p99 ms" "max ms" errors non2xx \
  "RSS peak" "RSS after"
for round in $(seq 1 "$ROUNDS"); do
  # Alternating who goes first, so a drift in the machine's load hits both.
  if ((round % 2)); then
    load vigil "$vport" "$vpid"
    load prometheus "$pport" "$ppid_"
  else
    load prometheus "$pport" "$ppid_"
    load vigil "$vport" "$vpid"
  fi
done
