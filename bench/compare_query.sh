#!/usr/bin/env bash
# Query latency of vigil, Prometheus and VictoriaMetrics on the same data and
# the same PromQL, through each one's Prometheus-compatible HTTP API, in one run.
#
#   bench/compare_query.sh [FILE.om]
#
# Without FILE the dataset is generated (bench/gen_query_dataset.py: 24 h at
# 15 s, 1 000 CPU counters, 500 gauges, 20 filesystem gauges, a classic
# histogram). It is backfilled with `vigil tsdb import`, `promtool tsdb
# create-blocks-from openmetrics` (--max-block-duration=25h, what compaction
# later gives) and VictoriaMetrics' /api/v1/import/prometheus (+ force_merge).
# Each query runs RUNS times (default 15) after 2 warm-up runs, the stores
# taking turns request by request; the median wall time of the HTTP request
# (curl's time_total) is printed per store,
# with vigil's ratio to each anchor. VictoriaMetrics is timed twice: as it
# runs by default, which answers a repeated range query from its rollup
# result cache, and with nocache=1, which computes every answer. Every
# answer is then compared with Prometheus's (bench/check_query_results.py):
# vigil must match within 1e-6 relative; VictoriaMetrics' differences
# (MetricsQL's rate does not extrapolate) are printed, not enforced.
# Last, the repeated-refresh case: the 24 h query re-issued with its window
# slid by one step each time, as a dashboard refreshing (RUNS times).
# Environment: VIGIL, PROMTOOL, PROMETHEUS, VICTORIA_METRICS, RUNS, KEEP=1
# (keep the temporary directory: data, logs, the last answer of each query).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
VIGIL=${VIGIL:-$ROOT/build/vigil}
PROMTOOL=${PROMTOOL:-/usr/bin/promtool}
PROMETHEUS=${PROMETHEUS:-/usr/bin/prometheus}
VM=${VICTORIA_METRICS:-/usr/bin/victoria-metrics}
RUNS=${RUNS:-15}
need_executables "$VIGIL" "$PROMTOOL" "$PROMETHEUS" "$VM"

TMP=$(mktemp -d /tmp/vigil-query-bench.XXXX)
PIDS=()
cleanup() { stop_pids "${PIDS[@]}"; [[ ${KEEP:-0} == 1 ]] && echo "kept $TMP" || rm -rf "$TMP"; }
trap cleanup EXIT

FILE=${1:-}
if [[ -z $FILE ]]; then
  FILE=$TMP/data.om
  python3 "$ROOT/bench/gen_query_dataset.py" "$FILE" >/dev/null
fi
# Queries end at the data's last timestamp, rounded down to the minute: on a
# multiple of the step, VictoriaMetrics does not move the range's steps
# (it aligns start to the step) and all three answer at the same times.
END=$(awk '!/^#/ && NF >= 3 {t = $NF; if (t > m) m = t} END {printf "%d", m}' "$FILE")
END=$((END / 60 * 60))
phase_start=$SECONDS
phase() { echo "$1: $((SECONDS - phase_start)) s"; phase_start=$SECONDS; }
echo "dataset: $(grep -vc '^#' "$FILE") samples, ends $(date -u -d "@$END" '+%F %T') UTC"
echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"

# vigil
"$VIGIL" tsdb import "$FILE" --data-dir "$TMP/vigil" >"$TMP/import.log" 2>&1
phase "vigil tsdb import"
vport=$(free_port)
"$VIGIL" run --config "$ROOT/bench/query_bench.yml" --data-dir "$TMP/vigil" --listen "127.0.0.1:$vport" \
  >"$TMP/vigil.log" 2>&1 &
PIDS+=($!)
wait_ready "http://127.0.0.1:$vport/-/ready" "${PIDS[-1]}" vigil 300

# Prometheus
"$PROMTOOL" tsdb create-blocks-from openmetrics --max-block-duration=25h "$FILE" "$TMP/prom" >/dev/null
phase "promtool create-blocks-from"
printf 'global: {}\n' >"$TMP/prom.yml"
pport=$(free_port)
"$PROMETHEUS" --config.file="$TMP/prom.yml" --storage.tsdb.path="$TMP/prom" --storage.tsdb.retention.time=100y \
  --web.listen-address="127.0.0.1:$pport" >"$TMP/prometheus.log" 2>&1 &
PIDS+=($!)
wait_ready "http://127.0.0.1:$pport/-/ready" "${PIDS[-1]}" prometheus 300

# VictoriaMetrics (timestamps as integer ms)
mport=$(free_port)
"$VM" -httpListenAddr="127.0.0.1:$mport" -storageDataPath="$TMP/vm" -retentionPeriod=100y -loggerLevel=WARN \
  -search.latencyOffset=0s >"$TMP/vm.log" 2>&1 &
PIDS+=($!)
wait_ready "http://127.0.0.1:$mport/health" "${PIDS[-1]}" vm 300
# (substr, not sub(): mawk's regex replace took minutes for 9.5 M lines)
awk '/^#/ {next} NF >= 3 {ts = $NF; i = index(ts, "."); if (i) { f = substr(ts, i + 1) "000"; ms = substr(ts, 1, i - 1) substr(f, 1, 3) } else ms = ts "000"
  print substr($0, 1, length($0) - length(ts)) ms}' "$FILE" |
  curl -sf --max-time 600 --data-binary @- "http://127.0.0.1:$mport/api/v1/import/prometheus"
curl -sf "http://127.0.0.1:$mport/internal/force_flush" >/dev/null
curl -sf "http://127.0.0.1:$mport/internal/force_merge?partition_prefix=$(date -u -d "@$END" +%Y_%m)" >/dev/null || true
sleep 2
phase "VictoriaMetrics import + merge"

# name|path|params
QUERIES=(
  "sum by (mode) rate, 1000 series, 2h range @15s|query_range|query=sum by (mode)(rate(node_cpu_seconds_total[5m]))&start=$((END - 7200))&end=$END&step=15"
  "rate, 1000 series, 2h range @15s|query_range|query=rate(node_cpu_seconds_total[5m])&start=$((END - 7200))&end=$END&step=15"
  "avg_over_time(x[1h]), 500 series, instant|query|query=avg_over_time(x[1h])&time=$END"
  "predict_linear(avail[6h], 86400), instant|query|query=predict_linear(node_filesystem_avail_bytes[6h], 86400)&time=$END"
  "histogram_quantile(0.99, sum by (le)(rate(h_bucket[5m]))), 2h @15s|query_range|query=histogram_quantile(0.99, sum by (le)(rate(h_bucket[5m])))&start=$((END - 7200))&end=$END&step=15"
  "sum by (mode) rate, 24h range @60s|query_range|query=sum by (mode)(rate(node_cpu_seconds_total[5m]))&start=$((END - 86400 + 600))&end=$END&step=60"
)

# One timed request; prints curl's time_total, or fails on an error answer.
time_query() {  # url-base path params answer-file
  local t
  t=$(curl -s -o "$4" -w '%{time_total}' --max-time 120 --data-urlencode "${3%%&*}" \
    --data "${3#*&}" "$1/api/v1/$2")
  grep -q '"status":"success"' "$4" || { echo "query failed on $1: $(head -c 300 "$4")" >&2; return 1; }
  echo "$t"
}

median_ms() {  # times (seconds), one per line -> median in ms
  sort -g | awk '{a[NR] = $1} END {printf "%.2f", (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) * 1000}'
}

# One request to each store, taking turns (on a shared machine the load
# changes within seconds, and this way each store sees the same changes);
# vigil and VictoriaMetrics are each timed with their result cache (as they
# run by default) and with nocache=1 (computing every answer).
time_round() {  # path params answer-prefix round
  local a b c d e
  a=$(time_query "http://127.0.0.1:$vport" "$1" "$2&nocache=1" "$TMP/$3-vigil.json") || exit 1
  b=$(time_query "http://127.0.0.1:$vport" "$1" "$2" "$TMP/$3-vigil-cached.json") || exit 1
  c=$(time_query "http://127.0.0.1:$pport" "$1" "$2" "$TMP/$3-prom.json") || exit 1
  d=$(time_query "http://127.0.0.1:$mport" "$1" "$2" "$TMP/$3-vm.json") || exit 1
  e=$(time_query "http://127.0.0.1:$mport" "$1" "$2&nocache=1" "$TMP/$3-vm-nocache.json") || exit 1
  if (($4 > 2)); then tn+=("$a"); tv+=("$b"); tp+=("$c"); tm+=("$d"); tmn+=("$e"); fi
}

# The medians and vigil's ratios as one row: uncached vigil against
# Prometheus and uncached VictoriaMetrics, cached against cached.
report_row() {  # name
  local vn v p m mn
  vn=$(printf '%s\n' "${tn[@]}" | median_ms)
  v=$(printf '%s\n' "${tv[@]}" | median_ms)
  p=$(printf '%s\n' "${tp[@]}" | median_ms)
  m=$(printf '%s\n' "${tm[@]}" | median_ms)
  mn=$(printf '%s\n' "${tmn[@]}" | median_ms)
  awk -v q="$1" -v vn="$vn" -v v="$v" -v p="$p" -v m="$m" -v mn="$mn" 'BEGIN {
    printf "%-60s %8.2f %8.2f %8.2f %8.2f %8.2f %7.2f %7.2f %7.2f\n", q, vn, v, p, m, mn, vn / p, vn / mn, v / m }'
}

printf "\n%-60s %8s %8s %8s %8s %8s %7s %7s %7s\n" query "vigil-nc" vigil prom vm vm-nc "nc/prom" "nc/vmnc" "c/vm"
echo "(ms, medians; vigil-nc and vm-nc: nocache=1, every answer computed; vigil and vm: with their result caches)"
checks=()
wrong=0
qi=0
for q in "${QUERIES[@]}"; do
  IFS='|' read -r name path params <<<"$q"
  qi=$((qi + 1))
  tn=() tv=() tp=() tm=() tmn=()
  for i in $(seq 1 $((RUNS + 2))); do
    time_round "$path" "$params" "q$qi" "$i"
  done
  report_row "$name"
  c=$(python3 "$ROOT/bench/check_query_results.py" "$TMP/q$qi-prom.json" "$TMP/q$qi-vigil.json") || wrong=1
  checks+=("q$qi vigil vs prom: $c")
  c=$(python3 "$ROOT/bench/check_query_results.py" "$TMP/q$qi-prom.json" "$TMP/q$qi-vigil-cached.json") || wrong=1
  checks+=("q$qi vigil (cached) vs prom: $c")
  c=$(python3 "$ROOT/bench/check_query_results.py" "$TMP/q$qi-prom.json" "$TMP/q$qi-vm-nocache.json") || true
  checks+=("q$qi vm vs prom:    $c")
done
phase "queries"

# The repeated refresh: a dashboard re-asks its 24 h panel every minute with
# the window slid by one step. vigil's range cache and VictoriaMetrics'
# rollup cache compute only the new step; Prometheus computes it all.
REFRESH="sum by (mode)(rate(node_cpu_seconds_total[5m]))"
tn=() tv=() tp=() tm=() tmn=()
for i in $(seq 1 $((RUNS + 2))); do
  # The last refresh ends at the data's end.
  back=$(((RUNS + 2 - i) * 60))
  time_round query_range "query=$REFRESH&start=$((END - 86400 + 600 - back))&end=$((END - back))&step=60" refresh "$i"
done
report_row "repeated refresh: 24h sum by (mode) rate @60s, slid 1 step"
c=$(python3 "$ROOT/bench/check_query_results.py" "$TMP/refresh-prom.json" "$TMP/refresh-vigil.json") || wrong=1
checks+=("refresh vigil vs prom: $c")
c=$(python3 "$ROOT/bench/check_query_results.py" "$TMP/refresh-prom.json" "$TMP/refresh-vigil-cached.json") || wrong=1
checks+=("refresh vigil (cached) vs prom: $c")
phase "repeated refresh"
printf '\nanswers compared with Prometheus'"'"'s:\n'
printf '  %s\n' "${checks[@]}"
if ((wrong)); then
  echo "vigil's answers differ from Prometheus's: the timings above are not comparable" >&2
  exit 1
fi
