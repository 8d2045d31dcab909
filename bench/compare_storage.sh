#!/usr/bin/env bash
# Bytes on disk per sample and import speed of vigil's time-series store,
# Prometheus (promtool backfill) and VictoriaMetrics, on the same files in one run.
#
#   bench/compare_storage.sh [FILE.om | DIR ...]
#
# With no argument the datasets are generated first into a temporary directory
# (bench/gen_datasets.py: node_1s.om, synthetic_1s.om, synthetic_15s.om); a
# DIR argument means every *.om file in it. Files are timestamped OpenMetrics
# text (seconds), as `promtool tsdb create-blocks-from openmetrics` reads it.
#
# Environment:
#   VIGIL=path              vigil binary (default: build/vigil)
#   PROMTOOL=path           default: /usr/bin/promtool
#   VICTORIA_METRICS=path   default: /usr/bin/victoria-metrics (scripts/setup.sh --bench)
#   NODE_SECONDS=n          node_exporter scrape window when generating (default 600)
#   RESULTS=path            also append one tab-separated line per store and dataset
#
# Per dataset and store:
#   vigil       `vigil tsdb import FILE --data-dir D`; bytes = regular files under D/tsdb/blocks
#               (the WAL directory the import leaves empty is not counted).
#   prometheus  `promtool tsdb create-blocks-from openmetrics FILE D` (2 h blocks, what a
#               backfill gives); bytes = chunks + index + meta.json + tombstones of the block
#               directories (no WAL). For data longer than 2 h a second row imports with
#               --max-block-duration=SPAN, i.e. what Prometheus' own compaction later gives.
#   victoria-metrics
#               started on 127.0.0.1:<free port> with -storageDataPath=D -retentionPeriod=100y;
#               the file is POSTed to /api/v1/import/prometheus with the timestamps turned
#               into integer milliseconds (1.79 reads timestamps of 2^31 and more as ms and
#               smaller ones as OpenMetrics seconds; integer ms avoid the question), then
#               /internal/force_flush, /internal/force_merge?partition_prefix=YYYY_MM for every
#               month of the data, a wait (bounded) until no merge is active, and a clean
#               stop. bytes = regular files under D/data (the samples) + D/indexdb (the
#               series index; the other stores' figures include their index too); D/data
#               alone is printed as well. cache/, metadata/, snapshots/ are not counted.
# "bytes" are apparent file sizes (the sum of st_size of regular files); `du -sb`
# of the same directories is printed too (it adds the directories' own sizes).
# bytes/sample divides by the sample lines of the file; the samples each store
# reports holding are printed beside it as a check.
# Import time is wall time: vigil and promtool the whole command (parse, encode,
# write, fsync); VictoriaMetrics the POST alone (its samples are then in memory
# buffers, not yet merged) and, separately, POST + flush + forced merge.
# Servers are stopped by PID on exit; all data lives in one temp directory that
# is removed at the end.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
VIGIL=${VIGIL:-$ROOT/build/vigil}
PROMTOOL=${PROMTOOL:-/usr/bin/promtool}
VM=${VICTORIA_METRICS:-/usr/bin/victoria-metrics}
NODE_SECONDS=${NODE_SECONDS:-600}
RESULTS=${RESULTS:-}

need_executables "$VIGIL" "$PROMTOOL" "$VM"
command -v curl >/dev/null || { echo "curl is required" >&2; exit 1; }

TMP=$(mktemp -d /tmp/vigil-storage.XXXXXX)
VM_PID=""

cleanup() {
  # shellcheck disable=SC2046,SC2086
  stop_pids $VM_PID $(jobs -p)
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP


now_us() { echo "${EPOCHREALTIME/./}"; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", (b - a) / 1e6}'; }
# Apparent size of the regular files under the given paths (missing paths count 0).
file_bytes() {
  local p total=0 b
  for p in "$@"; do
    [[ -e $p ]] || continue
    b=$(find "$p" -type f -printf '%s\n' | awk '{s += $1} END {printf "%.0f", s}')
    total=$((total + b))
  done
  echo "$total"
}
du_bytes() {
  local p total=0 b
  for p in "$@"; do
    [[ -e $p ]] || continue
    b=$(du -sb "$p" | cut -f1)
    total=$((total + b))
  done
  echo "$total"
}

# ------------------------------------------------------------------ datasets
files=()
if [[ $# -eq 0 ]]; then
  echo "generating datasets into $TMP/datasets (node_exporter window: $NODE_SECONDS s)"
  python3 "$ROOT/bench/gen_datasets.py" "$TMP/datasets" --node-seconds "$NODE_SECONDS"
  files=("$TMP/datasets/node_1s.om" "$TMP/datasets/synthetic_1s.om" "$TMP/datasets/synthetic_15s.om")
else
  for a in "$@"; do
    if [[ -d $a ]]; then
      for f in "$a"/*.om; do [[ -f $f ]] && files+=("$f"); done
    elif [[ -f $a ]]; then
      files+=("$a")
    else
      echo "no such file or directory: $a" >&2
      exit 2
    fi
  done
fi
[[ ${#files[@]} -gt 0 ]] || { echo "no dataset files" >&2; exit 2; }

echo "vigil:            $VIGIL ($("$VIGIL" version 2>/dev/null | head -1))"
echo "source tree:      $ROOT at $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?')$(cd "$ROOT" && [[ -n $(git status --porcelain -- src 2>/dev/null) ]] && echo ', src/ dirty')"
echo "prometheus:       $("$PROMTOOL" --version 2>&1 | awk 'NR==1 {print $1, $3}')"
vm_version=$("$VM" -version 2>&1 | head -1)
[[ -n $vm_version ]] || vm_version="Debian package $(dpkg-query -W -f='${Version}' victoria-metrics 2>/dev/null || echo '?')"
echo "victoria-metrics: $vm_version"
echo "machine:          $(nproc) CPUs, kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"

# ------------------------------------------------------------------ VictoriaMetrics helpers
VM_URL=""
vm_start() {  # data_dir
  local port
  port=$(free_port)
  VM_URL="http://127.0.0.1:$port"
  "$VM" -httpListenAddr="127.0.0.1:$port" -storageDataPath="$1" -retentionPeriod=100y \
    -loggerLevel=WARN -search.disableCache >"$TMP/vm.log" 2>&1 &
  VM_PID=$!
  wait_ready "$VM_URL/health" "$VM_PID" vm 200
}
vm_stop() {
  [[ -n $VM_PID ]] || return 0
  kill -TERM "$VM_PID" 2>/dev/null || true
  for _ in $(seq 1 300); do kill -0 "$VM_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$VM_PID" 2>/dev/null || true
  wait "$VM_PID" 2>/dev/null || true
  VM_PID=""
}
vm_metric_sum() {  # regex of the full series name (with labels)
  curl -sf --max-time 10 "$VM_URL/metrics" | awk -v re="$1" '$1 ~ re {s += $2} END {printf "%.0f", s}'
}
vm_rows() { vm_metric_sum '^vm_rows\{type="storage/(big|small|inmemory)"\}$'; }

# ------------------------------------------------------------------ one dataset
fmt_row() {  # store samples bytes du_bytes units import_s expected
  awk -v st="$1" -v n="$2" -v b="$3" -v du="$4" -v u="$5" -v t="$6" -v exp_n="$7" 'BEGIN {
    bps = exp_n > 0 ? b / exp_n : 0
    rate = t > 0 ? exp_n / t : 0
    printf "%-40s %12.0f %14.0f %14.0f %9.3f %8s %9.2f %12.0f\n", st, n, b, du, bps, u, t, rate }'
}

run_dataset() {
  local f=$1 name stats samples series mint maxt span_ms
  name=$(basename "$f")
  local W=$TMP/run
  rm -rf "$W"
  mkdir -p "$W"
  # One pass: sample count, distinct series, time range, and the ms copy for VictoriaMetrics.
  stats=$(awk -v out="$W/ms.txt" '
    /^#/ {next}
    NF >= 3 {
      ts = $NF; sub(/\./, "", ts)   # seconds with 3 decimals -> integer ms
      if (index($NF, ".") == 0) ts = ts "000"
      line = $0; sub(/[^ ]+$/, ts, line); print line > out
      n++; t = ts + 0
      if (n == 1 || t < mn) mn = t; if (n == 1 || t > mx) mx = t
      key = $0; sub(/ [^ ]+ [^ ]+$/, "", key); seen[key] = 1
    }
    END { s = 0; for (k in seen) s++; printf "%d %d %.0f %.0f", n, s, mn, mx }' "$f")
  read -r samples series mint maxt <<<"$stats"
  span_ms=$((maxt - mint + 1))
  echo
  echo "== $name: $series series, $samples samples, $(awk -v s="$span_ms" 'BEGIN {printf "%.2f h", s / 3600000}')," \
    "$(date -u -d "@$((mint / 1000))" '+%F %T') .. $(date -u -d "@$((maxt / 1000))" '+%F %T') UTC"
  printf "%-40s %12s %14s %14s %9s %8s %9s %12s\n" store "samples held" bytes "du -sb" bytes/smp units "import s" "samples/s"

  # vigil
  local t0 t1 vb vdu vn vblocks
  t0=$(now_us)
  "$VIGIL" tsdb import "$f" --data-dir "$W/vigil" >"$W/vigil.log" 2>&1 || { cat "$W/vigil.log" >&2; return 1; }
  t1=$(now_us)
  local vigil_s
  vigil_s=$(secs "$t0" "$t1")
  vb=$(file_bytes "$W/vigil/tsdb/blocks")
  vdu=$(du_bytes "$W/vigil/tsdb/blocks")
  vn=$("$VIGIL" tsdb stats --data-dir "$W/vigil" --json | awk -F: '/"blockSamples"/ {gsub(/[ ,]/, "", $2); print $2}')
  vblocks=$(find "$W/vigil/tsdb/blocks" -mindepth 1 -maxdepth 1 -type d | wc -l)
  fmt_row "vigil" "$vn" "$vb" "$vdu" "$vblocks blk" "$vigil_s" "$samples"
  rm -rf "$W/vigil"

  # Prometheus
  local pb pdu pn pblocks prom_s pcb=0 pcn=0 pcdu=0 pcblocks=0 promc_s=0
  prom_measure() {  # dir -> "files du samples blocks"
    local d=$1 files=() m n=0 nb=0
    for m in "$d"/*/meta.json; do
      [[ -f $m ]] || continue
      nb=$((nb + 1))
      n=$((n + $(grep -o '"numSamples": *[0-9]*' "$m" | grep -o '[0-9]*$')))
      files+=("$(dirname "$m")/chunks" "$(dirname "$m")/index" "$m" "$(dirname "$m")/tombstones")
    done
    echo "$(file_bytes "${files[@]}") $(du_bytes "${files[@]}") $n $nb"
  }
  t0=$(now_us)
  "$PROMTOOL" tsdb create-blocks-from openmetrics -q "$f" "$W/prom" >"$W/prom.log" 2>&1 || { cat "$W/prom.log" >&2; return 1; }
  t1=$(now_us)
  prom_s=$(secs "$t0" "$t1")
  read -r pb pdu pn pblocks <<<"$(prom_measure "$W/prom")"
  fmt_row "prometheus (2h blocks)" "$pn" "$pb" "$pdu" "$pblocks blk" "$prom_s" "$samples"
  rm -rf "$W/prom"
  if ((span_ms > 7200000)); then
    local maxdur=$(((span_ms + 3599999) / 3600000))h
    t0=$(now_us)
    "$PROMTOOL" tsdb create-blocks-from openmetrics -q --max-block-duration="$maxdur" "$f" "$W/promc" >"$W/prom.log" 2>&1 ||
      { cat "$W/prom.log" >&2; return 1; }
    t1=$(now_us)
    promc_s=$(secs "$t0" "$t1")
    read -r pcb pcdu pcn pcblocks <<<"$(prom_measure "$W/promc")"
    fmt_row "prometheus (--max-block-duration=$maxdur)" "$pcn" "$pcb" "$pcdu" "$pcblocks blk" "$promc_s" "$samples"
    rm -rf "$W/promc"
  fi

  # VictoriaMetrics
  local vm_post_s vm_total_s vmn vmb vmdu vmd vmddu months m code
  vm_start "$W/vm"
  t0=$(now_us)
  code=$(curl -sS --max-time 1800 -o "$W/vm.resp" -w '%{http_code}' -X POST -T "$W/ms.txt" \
    "$VM_URL/api/v1/import/prometheus")
  t1=$(now_us)
  [[ $code == 204 || $code == 200 ]] || { echo "victoria-metrics import: HTTP $code: $(cat "$W/vm.resp")" >&2; return 1; }
  vm_post_s=$(secs "$t0" "$t1")
  curl -sf --max-time 120 -o /dev/null "$VM_URL/internal/force_flush"
  # Until every row is in a part (bounded): the flush above is asynchronous in places.
  for _ in $(seq 1 600); do
    [[ $(vm_rows) -ge $samples ]] && break
    sleep 0.1
  done
  months=$(for ((t = mint / 1000; t < maxt / 1000 + 86400; t += 86400)); do
    date -u -d "@$((t < maxt / 1000 ? t : maxt / 1000))" +%Y_%m
  done | sort -u)
  for m in $months; do
    curl -sf --max-time 120 -o /dev/null "$VM_URL/internal/force_merge?partition_prefix=$m"
  done
  # Forced merges run in the background: wait (bounded) until none is active, twice in a row.
  local quiet=0
  for _ in $(seq 1 1200); do
    sleep 0.25
    if [[ $(vm_metric_sum '^vm_active_force_merges$') -eq 0 && $(vm_metric_sum '^vm_active_merges\{') -eq 0 ]]; then
      quiet=$((quiet + 1))
      ((quiet >= 2)) && break
    else
      quiet=0
    fi
  done
  ((quiet >= 2)) || echo "warning: victoria-metrics merges still active after 300 s" >&2
  t1=$(now_us)
  vm_total_s=$(secs "$t0" "$t1")
  vmn=$(vm_rows)
  vm_stop  # a clean stop writes out whatever is still in memory
  vmb=$(file_bytes "$W/vm/data" "$W/vm/indexdb")
  vmdu=$(du_bytes "$W/vm/data" "$W/vm/indexdb")
  vmd=$(file_bytes "$W/vm/data")
  local vmddu vparts
  vmddu=$(du_bytes "$W/vm/data")
  vparts=$(find "$W/vm/data" -mindepth 3 -maxdepth 3 -type d ! -name tmp ! -name txn | wc -l)
  fmt_row "victoria-metrics (data+indexdb)" "$vmn" "$vmb" "$vmdu" "$vparts part" "$vm_post_s" "$samples"
  fmt_row "victoria-metrics (data only)" "$vmn" "$vmd" "$vmddu" "" "$vm_total_s" "$samples"
  echo "  (victoria-metrics import s: POST alone on the first row; POST + flush + forced merge on the second)"
  rm -rf "$W/vm"

  awk -v v="$vb" -v vm="$vmb" -v vmd="$vmd" -v p="$pb" -v pc="$pcb" 'BEGIN {
    printf "ratios (bytes): vigil/VM(data+indexdb) %.2f   vigil/VM(data) %.2f   vigil/Prometheus(2h) %.2f", v / vm, v / vmd, v / p
    if (pc > 0) printf "   vigil/Prometheus(compacted) %.2f", v / pc
    printf "\n" }'
  if [[ -n $RESULTS ]]; then
    {
      printf '%s\tvigil\t%s\t%s\t%s\n' "$name" "$samples" "$vb" "$vigil_s"
      printf '%s\tprometheus\t%s\t%s\t%s\n' "$name" "$samples" "$pb" "$prom_s"
      ((pcb > 0)) && printf '%s\tprometheus-compacted\t%s\t%s\t%s\n' "$name" "$samples" "$pcb" "$promc_s"
      printf '%s\tvictoria-metrics\t%s\t%s\t%s\n' "$name" "$samples" "$vmb" "$vm_post_s"
      printf '%s\tvictoria-metrics-data\t%s\t%s\t%s\n' "$name" "$samples" "$vmd" "$vm_total_s"
    } >>"$RESULTS"
  fi
  rm -rf "$W"
}

for f in "${files[@]}"; do
  run_dataset "$f"
done
