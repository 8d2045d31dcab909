#!/usr/bin/env bash
# A/B of two vigil builds on one query: CPU per query and wall time, with
# the queries spaced apart as a dashboard spaces them.
#
#   bench/ab_query.sh A_BINARY B_BINARY [FILE.om]
#
# Each build imports the same dataset (FILE, or bench/gen_query_dataset.py's
# 24 h at 15 s when none is given) into its own data directory and serves it
# on bench/query_bench.yml. Then, ROUNDS times, each build in turn gets N
# queries (nocache=1, so every answer is computed), SPACING seconds apart.
# Per round and build it prints the wall time of the HTTP request (curl's
# time_total: min, median, max) and the server's CPU per query (user +
# system time of the whole process from /proc/PID/stat, all threads, across
# the N queries). Last it checks that both builds gave the same answer.
#
# Why spaced: back-to-back queries keep caches and the CPU clock warm and
# hid a 25 % regression that spaced queries showed (docs/performance.md,
# "Blocks in time-bounded parts"). Compare builds within one run: the
# machine's state moves between runs more than most changes do.
#
# Environment: QUERY (PromQL; default the 24 h sum of CPU rates), RANGE
# (seconds back from the data's end, default 86400 - 600), STEP (default
# 60), N (default 14), ROUNDS (default 3), SPACING (default 0.6), KEEP=1.
# Loopback only; both servers are stopped by PID on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

[[ $# -ge 2 ]] || { sed -n '2,6p' "$0" >&2; exit 2; }
BINS=("$(realpath "$1")" "$(realpath "$2")")
FILE=${3:-}
QUERY=${QUERY:-sum by (mode)(rate(node_cpu_seconds_total[5m]))}
RANGE=${RANGE:-85800}
STEP=${STEP:-60}
N=${N:-14}
ROUNDS=${ROUNDS:-3}
SPACING=${SPACING:-0.6}
need_executables "${BINS[@]}"
((N >= 1 && N <= 1000 && ROUNDS >= 1 && ROUNDS <= 100)) || { echo "N must be 1..1000, ROUNDS 1..100" >&2; exit 2; }

TMP=$(mktemp -d /tmp/vigil-ab-query.XXXXXX)
PIDS=()
cleanup() {
  stop_pids "${PIDS[@]}"
  if [[ ${KEEP:-0} == 1 ]]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

if [[ -z $FILE ]]; then
  FILE=$TMP/data.om
  python3 "$ROOT/bench/gen_query_dataset.py" "$FILE" >/dev/null
fi
END=$(awk '!/^#/ && NF >= 3 {t = $NF; if (t > m) m = t} END {printf "%d", m}' "$FILE")
END=$((END / STEP * STEP))
START=$((END - RANGE))
TICKS=$(getconf CLK_TCK)

PORTS=()
for i in 0 1; do
  "${BINS[$i]}" tsdb import "$FILE" --data-dir "$TMP/d$i" >"$TMP/import$i.log" 2>&1 ||
    { cat "$TMP/import$i.log" >&2; exit 1; }
  port=$(free_port)
  "${BINS[$i]}" run --config "$ROOT/bench/query_bench.yml" --data-dir "$TMP/d$i" --listen "127.0.0.1:$port" \
    >"$TMP/vigil$i.log" 2>&1 &
  PIDS+=($!)
  wait_ready "http://127.0.0.1:$port/-/ready" "${PIDS[$i]}" "vigil$i" 600
  PORTS+=("$port")
done

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # utime + stime of every thread, live or exited

echo "query: $QUERY, ${RANGE} s back from $(date -u -d "@$END" '+%F %T') UTC, step $STEP s"
echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); $N queries ${SPACING} s apart per round"
# `vigil version` names the revision of the last configure, so the binaries' own dates are printed too.
for i in 0 1; do
  echo "$([[ $i == 0 ]] && echo A || echo B): ${BINS[$i]} ($("${BINS[$i]}" version 2>&1 | head -1), built $(date -u -r "${BINS[$i]}" '+%F %T') UTC)"
done
printf "%5s %5s %10s %10s %10s %14s\n" round build "wall min" "wall med" "wall max" "CPU ms/query"
for round in $(seq 1 "$ROUNDS"); do
  for i in 0 1; do
    before=$(cpu_ticks "${PIDS[$i]}")
    walls=()
    for _ in $(seq 1 "$N"); do
      walls+=("$(curl -sS --max-time 60 -o "$TMP/answer$i.json" -w '%{time_total}' --data-urlencode "query=$QUERY" \
        -d "start=$START&end=$END&step=$STEP&nocache=1" "http://127.0.0.1:${PORTS[$i]}/api/v1/query_range")")
      sleep "$SPACING"
    done
    after=$(cpu_ticks "${PIDS[$i]}")
    printf '%s\n' "${walls[@]}" | sort -n | awk -v round="$round" -v build="$([[ $i == 0 ]] && echo A || echo B)" \
      -v cpu="$(((after - before) * 1000 / TICKS))" -v n="$N" \
      '{w[NR] = $1 * 1000} END {printf "%5d %5s %10.1f %10.1f %10.1f %14.1f\n", round, build, w[1], w[int((NR + 1) / 2)], w[NR], cpu / n}'
  done
done
# The idle servers' own work (a rule evaluation, a scrape) lands in the CPU
# figure too: small next to a long query, and alike for both builds.
if cmp -s "$TMP/answer0.json" "$TMP/answer1.json"; then
  echo "answers: the same"
else
  echo "answers: DIFFERENT (see $TMP/answer0.json, answer1.json with KEEP=1)"
fi
