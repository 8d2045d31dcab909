#!/usr/bin/env bash
# Installs every Debian package vigil's build, tests, benchmarks and fuzzers need.
# Idempotent: exits quickly when everything is already there.
#
#   scripts/setup.sh           build, test, benchmark and fuzzing packages
#   scripts/setup.sh --bench   also the comparison peers of the benchmarks
#                              (hyperfine, blackbox_exporter, mtail, wrk, monit,
#                              netdata for the web UI comparison)
set -euo pipefail

bench=0
for arg in "$@"; do
  case $arg in
    --bench) bench=1 ;;
    *) echo "usage: $0 [--bench]" >&2; exit 2 ;;
  esac
done

packages=(
  # build
  cmake g++ make pkg-config
  # libraries (see docs/architecture.md for why each)
  libcpp-httplib-dev libcurl4-openssl-dev libssl-dev nlohmann-json3-dev libyaml-cpp-dev
  libre2-dev libsystemd-dev libsqlite3-dev libcli11-dev libfmt-dev libzstd-dev zlib1g-dev libcrypt-dev
  # remote write and remote read: protobuf messages in snappy
  libprotobuf-dev protobuf-compiler libsnappy-dev
  # tests, benchmarks, fuzzing
  libgtest-dev libgmock-dev libbenchmark-dev clang-14 libclang-rt-14-dev
  # a local SMTP server for the email receiver test
  python3-aiosmtpd
  # real peers used by the tests
  prometheus prometheus-node-exporter prometheus-alertmanager systemd dbus-user-session curl procps python3 openssl
  # the remote-write receivers test_remote_write ships to (Prometheus is above)
  victoria-metrics
  # writes journal files for the journal follower tests
  systemd-journal-remote
  # `vigil status` and `vigil top` are tested inside tmux (send-keys, capture-pane)
  tmux
  # the web UI: tested in headless Chromium (built with esbuild from npm, below)
  chromium
  # `make deb` and its test: dpkg-deb, dpkg-shlibdeps, the man page, lintian
  dpkg-dev help2man lintian
)
# --bench: the peers bench/compare_storage.sh measures against, command timing,
# and HTTP load for bench/http_load.py.
if [ "$bench" -eq 1 ]; then packages+=(hyperfine prometheus-blackbox-exporter mtail wrk monit netdata); fi

# The web UI's build tool runs on Node.js; a newer one installed another way is kept.
command -v node >/dev/null && command -v npm >/dev/null || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # Packages that ship services try to start them; there may be no init to talk to. That is fine.
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
fi

# The web UI's packages, exactly as web/package-lock.json pins them; again
# only when the lock file changed since the last install.
web="$(cd "$(dirname "$0")/.." && pwd)/web"
if [ ! -f "$web/node_modules/.package-lock.json" ] || [ "$web/package-lock.json" -nt "$web/node_modules/.package-lock.json" ]; then
  echo "setup: npm ci in web/"
  (cd "$web" && npm ci --no-audit --no-fund --loglevel=error)
fi
