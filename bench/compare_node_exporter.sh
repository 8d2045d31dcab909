#!/usr/bin/env bash
# Side-by-side resource use of vigil and node_exporter on this machine, same run.
#
#   bench/compare_node_exporter.sh [DURATION_SECONDS]     (default 60)
#
# Environment:
#   VIGIL=path               vigil binary (default: build/vigil)
#   NODE_EXPORTER=path       default: /usr/bin/prometheus-node-exporter
#   NODE_EXPORTER_ARGS="…"   extra node_exporter flags (default: none, i.e. its default collectors)
#
# Starts both on 127.0.0.1 (free ports), scrapes each /metrics once a second
# with curl, samples each process's CPU (utime+stime from /proc/PID/stat), RSS
# (VmRSS) and PSS (smaps_rollup) once a second, and prints a table with the
# vigil/node_exporter ratio. Both processes are killed by PID on exit.
set -euo pipefail

DURATION=${1:-60}
if ! [[ $DURATION =~ ^[0-9]+$ ]] || ((DURATION < 4 || DURATION > 3600)); then
  echo "usage: $0 [DURATION_SECONDS 4..3600]" >&2
  exit 2
fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
VIGIL=${VIGIL:-$ROOT/build/vigil}
NODE_EXPORTER=${NODE_EXPORTER:-/usr/bin/prometheus-node-exporter}
read -ra NE_EXTRA <<<"${NODE_EXPORTER_ARGS:-}"

need_executables "$VIGIL" "$NODE_EXPORTER"
command -v curl >/dev/null || { echo "curl is required" >&2; exit 1; }

TMP=$(mktemp -d /tmp/vigil-compare.XXXXXX)
VIGIL_PID=""
NE_PID=""

cleanup() {
  local pid pids jobpids
  # The two PIDs, plus any background job of this shell whose PID was not
  # recorded yet (a signal right after the fork).
  jobpids=$(jobs -p)
  # shellcheck disable=SC2086  # word splitting wanted: lists of PIDs
  pids=$(printf '%s\n' $VIGIL_PID $NE_PID $jobpids | sort -u)
  # shellcheck disable=SC2086
  stop_pids $pids
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP



CLK_TCK=$(getconf CLK_TCK)

cpu_ticks() {  # pid -> utime+stime in clock ticks
  local s rest
  s=$(<"/proc/$1/stat")
  rest=${s##*) }  # the command name may contain spaces and ')'
  read -ra f <<<"$rest"
  echo $((f[11] + f[12]))  # fields 14 and 15; f[0] is field 3
}
rss_kb() { awk '/^VmRSS:/ {print $2; exit}' "/proc/$1/status"; }
pss_kb() { awk '/^Pss:/ {print $2; exit}' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }

NE_PORT=$(free_port)
VIGIL_PORT=$(free_port)
while [[ $VIGIL_PORT == "$NE_PORT" ]]; do VIGIL_PORT=$(free_port); done

cat >"$TMP/vigil.yml" <<EOF
global:
  log_level: warn
host:
  interval: 1s
  timeout: 1s
EOF
mkdir -p "$TMP/data"

"$NODE_EXPORTER" --web.listen-address="127.0.0.1:$NE_PORT" "${NE_EXTRA[@]}" >"$TMP/node_exporter.log" 2>&1 &
NE_PID=$!
"$VIGIL" run --config "$TMP/vigil.yml" --listen "127.0.0.1:$VIGIL_PORT" --data-dir "$TMP/data" >"$TMP/vigil.log" 2>&1 &
VIGIL_PID=$!

VIGIL_URL="http://127.0.0.1:$VIGIL_PORT/metrics"
NE_URL="http://127.0.0.1:$NE_PORT/metrics"
wait_ready "$NE_URL" "$NE_PID" node_exporter
wait_ready "$VIGIL_URL" "$VIGIL_PID" vigil
sleep 2  # let both settle (first collections, lazily built caches)

echo "vigil:         $VIGIL (pid $VIGIL_PID, $VIGIL_URL)"
echo "node_exporter: $NODE_EXPORTER $($NODE_EXPORTER --version 2>&1 | awk 'NR==1 {print $3}') (pid $NE_PID, $NE_URL) ${NE_EXTRA[*]:-default collectors}"
echo "window: $DURATION s, one scrape of each per second; machine: $(nproc) CPUs, kernel $(uname -r), load average $(cut -d" " -f1-3 /proc/loadavg)"
echo

: >"$TMP/vigil.samples"
: >"$TMP/ne.samples"
: >"$TMP/vigil.times"
: >"$TMP/ne.times"
vigil_failures=0
ne_failures=0
v_cpu0=$(cpu_ticks "$VIGIL_PID")
n_cpu0=$(cpu_ticks "$NE_PID")
v_runs0=$(curl -sf --max-time 5 "$VIGIL_URL" | awk '/^vigil_collector_runs_total\{collector="host"\}/ {print $2}')
start_us=${EPOCHREALTIME/./}

for ((i = 1; i <= DURATION; i++)); do
  curl -s --max-time 5 -o "$TMP/vigil.out" -w '%{time_total}\n' "$VIGIL_URL" >>"$TMP/vigil.times" || vigil_failures=$((vigil_failures + 1))
  curl -s --max-time 5 -o "$TMP/ne.out" -w '%{time_total}\n' "$NE_URL" >>"$TMP/ne.times" || ne_failures=$((ne_failures + 1))
  for pid in "$VIGIL_PID" "$NE_PID"; do
    kill -0 "$pid" 2>/dev/null || { echo "process $pid died during the run" >&2; exit 1; }
  done
  echo "$(rss_kb "$VIGIL_PID") $(pss_kb "$VIGIL_PID")" >>"$TMP/vigil.samples"
  echo "$(rss_kb "$NE_PID") $(pss_kb "$NE_PID")" >>"$TMP/ne.samples"
  # Sleep until the next whole second of the window.
  next_us=$((start_us + i * 1000000))
  now_us=${EPOCHREALTIME/./}
  if ((next_us > now_us)); then
    sleep "$(printf '%d.%06d' $(((next_us - now_us) / 1000000)) $(((next_us - now_us) % 1000000)))"
  fi
done

end_us=${EPOCHREALTIME/./}
v_cpu1=$(cpu_ticks "$VIGIL_PID")
n_cpu1=$(cpu_ticks "$NE_PID")
v_runs1=$(awk '/^vigil_collector_runs_total\{collector="host"\}/ {print $2}' "$TMP/vigil.out")
window_s=$(awk -v a="$start_us" -v b="$end_us" 'BEGIN {printf "%.1f", (b - a) / 1e6}')

# stats FILE COLUMN -> "peak median_of_second_half" (kB)
stats() {
  awk -v c="$2" '{v[NR] = $c} END {
    peak = 0; for (i = 1; i <= NR; i++) if (v[i] > peak) peak = v[i];
    h = int(NR / 2) + 1; n = 0; for (i = h; i <= NR; i++) s[++n] = v[i];
    for (i = 2; i <= n; i++) { x = s[i]; j = i - 1; while (j >= 1 && s[j] > x) { s[j + 1] = s[j]; j-- } s[j + 1] = x }
    med = (n % 2) ? s[(n + 1) / 2] : (s[n / 2] + s[n / 2 + 1]) / 2;
    print peak, med }' "$1"
}
median_ms() { sort -n "$1" | awk '{v[NR] = $1} END {print (NR ? v[int((NR + 1) / 2)] * 1000 : 0)}'; }
series() { grep -vc '^#' "$1" || true; }

read -r v_rss_peak v_rss_steady <<<"$(stats "$TMP/vigil.samples" 1)"
read -r n_rss_peak n_rss_steady <<<"$(stats "$TMP/ne.samples" 1)"
read -r v_pss_peak v_pss_steady <<<"$(stats "$TMP/vigil.samples" 2)"
read -r n_pss_peak n_pss_steady <<<"$(stats "$TMP/ne.samples" 2)"
v_cpu=$(awk -v a="$v_cpu0" -v b="$v_cpu1" -v hz="$CLK_TCK" 'BEGIN {printf "%.2f", (b - a) / hz}')
n_cpu=$(awk -v a="$n_cpu0" -v b="$n_cpu1" -v hz="$CLK_TCK" 'BEGIN {printf "%.2f", (b - a) / hz}')

row() {  # label vigil node_exporter unit scale [decimals]
  awk -v l="$1" -v v="$2" -v n="$3" -v u="$4" -v k="$5" -v d="${6:-2}" 'BEGIN {
    r = (n > 0) ? sprintf("%.2f", v / n) : "n/a";
    fmt = "%-34s %14." d "f %14." d "f %8s\n";
    printf fmt, l " (" u ")", v / k, n / k, r }'
}

printf '%-34s %14s %14s %8s\n' "" "vigil" "node_exporter" "ratio"
row "CPU used over ${window_s} s" "$v_cpu" "$n_cpu" "s" 1
row "CPU per collection+scrape" "$(awk -v c="$v_cpu" -v d="$DURATION" 'BEGIN {print c * 1000 / d}')" \
  "$(awk -v c="$n_cpu" -v d="$DURATION" 'BEGIN {print c * 1000 / d}')" "ms" 1
row "RSS peak" "$v_rss_peak" "$n_rss_peak" "MiB" 1024
row "RSS steady (median, 2nd half)" "$v_rss_steady" "$n_rss_steady" "MiB" 1024
row "PSS steady (median, 2nd half)" "$v_pss_steady" "$n_pss_steady" "MiB" 1024
row "PSS peak" "$v_pss_peak" "$n_pss_peak" "MiB" 1024
row "scrape latency (median)" "$(median_ms "$TMP/vigil.times")" "$(median_ms "$TMP/ne.times")" "ms" 1
row "series per scrape (last)" "$(series "$TMP/vigil.out")" "$(series "$TMP/ne.out")" "n" 1 0
row "bytes per scrape (last)" "$(wc -c <"$TMP/vigil.out")" "$(wc -c <"$TMP/ne.out")" "KiB" 1024 1
echo
echo "Collections in the window: node_exporter collects at scrape time (one per scrape: $DURATION);"
echo "vigil collects on its own 1 s schedule and serves the latest snapshot"
echo "(host collector runs in the window: $(awk -v a="${v_runs0:-0}" -v b="${v_runs1:-0}" 'BEGIN {print b - a}'))."
echo "Both therefore do about one collection per second; the figures compare like for like in cadence,"
echo "not in metric set (compare the series counts above)."
if ((vigil_failures + ne_failures > 0)); then
  echo "scrape failures: vigil $vigil_failures, node_exporter $ne_failures"
fi
