#!/usr/bin/env bash
# Runs every libFuzzer target of a VIGIL_FUZZ=ON build for SECONDS each, on a
# scratch copy of its seed corpus (fuzz/corpus/<target>/, left unchanged).
# Fails if any target crashes, leaks, trips a sanitizer or is missing; crashing
# inputs are kept in BUILD_DIR/fuzz-artifacts/<target>/. No network is used.
#
#   scripts/fuzz-smoke.sh BUILD_DIR SECONDS [RUNS]   (FUZZ_JOBS targets at once, default nproc)
#
# With RUNS, each target stops at RUNS executions or SECONDS, whichever comes
# first: a campaign (docs/testing.md) is e.g. `FUZZ_JOBS=1 scripts/fuzz-smoke.sh
# build-fuzz 3600 10000000`. FUZZ_ONLY="a_fuzz b_fuzz" runs only those targets.
set -euo pipefail

if [ $# -lt 2 ] || [ $# -gt 3 ] || ! [[ $2 =~ ^[1-9][0-9]*$ ]] || ! [[ ${3:-1} =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 BUILD_DIR SECONDS [RUNS]" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
seconds=$2
runs_limit=${3:--1}
src=$(cd "$(dirname "$0")/.." && pwd)

if ! grep -q '^VIGIL_FUZZ:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
  echo "fuzz-smoke: $build is not a -DVIGIL_FUZZ=ON build (see 'make fuzz')" >&2
  exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/vigil-fuzz-smoke.XXXXXX")
trap 'rm -rf "$work"' EXIT

# UBSan reports are recoverable by default; make them fatal like ASan's.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1

# One target per core at a time: each still gets SECONDS of its own.
jobs=${FUZZ_JOBS:-$(nproc)}

# Runs one target in $work/<target>/ and leaves its verdict in ./verdict.
run_target() {
  local target=$1 corpus=$2 dir="$work/$1" bin="$build/fuzz/$1" status=0
  mkdir -p "$dir/corpus" "$dir/artifacts"
  if [ ! -x "$bin" ]; then
    echo "missing" >"$dir/verdict"
    return
  fi
  cp -R "$corpus". "$dir/corpus/"
  # Run inside the scratch dir so relative paths the input names stay there;
  # the outer timeout bounds a fuzzer that hangs outside libFuzzer's control.
  (cd "$dir" && timeout --kill-after=10 $((seconds + 60)) "$bin" \
      -max_total_time="$seconds" -runs="$runs_limit" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$dir/artifacts/" corpus) >"$dir/log" 2>&1 || status=$?
  echo "$status" >"$dir/verdict"
}

targets=()
for corpus in "$src"/fuzz/corpus/*/; do
  target=$(basename "$corpus")
  if [ -n "${FUZZ_ONLY:-}" ] && [[ " $FUZZ_ONLY " != *" $target "* ]]; then continue; fi
  targets+=("$target")
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  run_target "$target" "$corpus" &
done
wait

failed=()
for target in "${targets[@]}"; do
  dir="$work/$target"
  status=$(cat "$dir/verdict" 2>/dev/null || echo "no verdict")
  if [ "$status" = missing ]; then
    echo "fuzz-smoke: $target: $build/fuzz/$target was not built" >&2
    failed+=("$target")
  elif [ "$status" != 0 ]; then
    echo "fuzz-smoke: $target FAILED (exit $status); last lines of its log:" >&2
    tail -n 40 "$dir/log" >&2
    mkdir -p "$build/fuzz-artifacts/$target"
    cp -R "$dir/artifacts/." "$build/fuzz-artifacts/$target/"
    echo "fuzz-smoke: crashing inputs kept in $build/fuzz-artifacts/$target/" >&2
    failed+=("$target")
  else
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" | tail -1)
    took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$dir/log" | tail -1)
    echo "fuzz-smoke: $target ok: ${runs:-?} runs in ${took:-$seconds}s (${rate:-?} exec/s)"
  fi
done

if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz-smoke: failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz-smoke: every target ran without a crash"
