#!/usr/bin/env bash
# vigil's web UI beside Netdata 1.37's dashboard and Prometheus 2.42's own UI
# on the same host, in one headless Chromium run (bench/compare_ui.mjs):
# bytes of a first load (empty cache), time to the first drawn chart, and
# time to draw a 24 h chart of 20 series. vigil and Prometheus hold the same
# 24 h of 20 gauges at 15 s (imported with `vigil tsdb import` and `promtool
# tsdb create-blocks-from openmetrics`); Netdata cannot import data, so it is
# measured on its own landing page only. Debian's Prometheus 2.42 serves its
# classic UI (jQuery, Rickshaw SVG charts) at /graph: that is what is measured.
#
#   bench/compare_ui.sh          (RUNS=5 by default; scripts/setup.sh --bench installs netdata)
# Environment: VIGIL, PROMTOOL, PROMETHEUS, NETDATA, RUNS, KEEP=1.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
VIGIL=${VIGIL:-$ROOT/build/vigil}
PROMTOOL=${PROMTOOL:-/usr/bin/promtool}
PROMETHEUS=${PROMETHEUS:-/usr/bin/prometheus}
NETDATA=${NETDATA:-/usr/sbin/netdata}
need_executables "$VIGIL" "$PROMTOOL" "$PROMETHEUS" "$NETDATA"

TMP=$(mktemp -d /tmp/vigil-ui-bench.XXXX)
chmod 755 "$TMP"  # netdata drops to its own user
PIDS=()
cleanup() { stop_pids "${PIDS[@]}"; [[ ${KEEP:-0} == 1 ]] && echo "kept $TMP" || rm -rf "$TMP"; }
trap cleanup EXIT
echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"

# 24 h of 20 gauges at 15 s, ending now.
END=$(( $(date +%s) / 60 * 60 ))
python3 - "$TMP/data.om" "$END" <<'PY'
import math, sys
path, end = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    f.write("# TYPE bench_ui_series gauge\n")
    for i in range(20):
        for t in range(end - 86400, end + 1, 15):
            f.write(f'bench_ui_series{{i="{i}"}} {100 + 10 * i + 5 * math.sin(t / 3600 + i):.3f} {t}\n')
    f.write("# EOF\n")
PY

"$VIGIL" tsdb import "$TMP/data.om" --data-dir "$TMP/vigil" >"$TMP/import.log" 2>&1
vport=$(free_port)
"$VIGIL" run --data-dir "$TMP/vigil" --listen "127.0.0.1:$vport" >"$TMP/vigil.log" 2>&1 &
PIDS+=($!)
wait_ready "http://127.0.0.1:$vport/-/ready" "${PIDS[-1]}" vigil 300

"$PROMTOOL" tsdb create-blocks-from openmetrics --max-block-duration=25h "$TMP/data.om" "$TMP/prom" >/dev/null
pport=$(free_port)
printf 'global: {scrape_interval: 5s}\nscrape_configs: [{job_name: vigil, static_configs: [{targets: ["127.0.0.1:%s"]}]}]\n' \
  "$vport" >"$TMP/prom.yml"
"$PROMETHEUS" --config.file="$TMP/prom.yml" --storage.tsdb.path="$TMP/prom" --storage.tsdb.retention.time=100y \
  --web.listen-address="127.0.0.1:$pport" >"$TMP/prometheus.log" 2>&1 &
PIDS+=($!)
wait_ready "http://127.0.0.1:$pport/-/ready" "${PIDS[-1]}" prometheus 300

nport=$(free_port)
mkdir -p "$TMP/nd/cache" "$TMP/nd/lib" "$TMP/nd/log"
cat >"$TMP/nd/netdata.conf" <<CONF
[global]
  run as user = netdata
  cache directory = $TMP/nd/cache
  lib directory = $TMP/nd/lib
  log directory = $TMP/nd/log
[web]
  bind to = 127.0.0.1:$nport
[cloud]
  enabled = no
[registry]
  enabled = no
CONF
chown -R netdata:netdata "$TMP/nd" 2>/dev/null || true
"$NETDATA" -D -c "$TMP/nd/netdata.conf" >"$TMP/netdata.log" 2>&1 &
PIDS+=($!)
wait_ready "http://127.0.0.1:$nport/api/v1/info" "${PIDS[-1]}" netdata 300
sleep 20  # a little history for every UI's first charts (the host collectors at their default intervals)

V="http://127.0.0.1:$vport"
P="http://127.0.0.1:$pport"
N="http://127.0.0.1:$nport"
cpu='1 - avg(rate(node_cpu_seconds_total{mode="idle"}[1m]))'
penc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$1"; }
UI_TARGETS=$(cat <<JSON
[
  {"name": "vigil", "firstLoad": "$V/",
   "firstChart": {"url": "$V/", "selector": ".overview .uplot canvas"},
   "chart24h": {"url": "$V/#/explore?q=bench_ui_series&range=24h", "selector": ".explore .uplot canvas"}},
  {"name": "prometheus", "firstLoad": "$P/graph",
   "firstChart": {"url": "$P/graph?g0.expr=$(penc "$cpu")&g0.tab=0&g0.range_input=1h", "selector": ".graph_area svg path.path"},
   "chart24h": {"url": "$P/graph?g0.expr=bench_ui_series&g0.tab=0&g0.range_input=1d", "selector": ".graph_area svg path.path"}},
  {"name": "netdata", "firstLoad": "$N/",
   "firstChart": {"url": "$N/", "selector": "[data-netdata] canvas"},
   "chart24h": null}
]
JSON
)
UI_TARGETS=$UI_TARGETS RUNS=${RUNS:-5} node "$ROOT/bench/compare_ui.mjs"
