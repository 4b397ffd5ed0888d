#!/usr/bin/env bash
# The whole test suite: unit, fuzz (replay with gcc, then libFuzzer under
# ASan+UBSan with clang), lab (network namespaces + coturn; needs root),
# interop (headless Chromium through medcall-server and coturn; needs root),
# ui (Xvfb), install (an installed tree, the Debian packages, the systemd
# unit; in the gcc build's log like every suite but the ASan ones).
# Installs what it needs; safe to run twice. Prints "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

werror=false
[ "${CI:-}" = "true" ] && werror=true

configure() { # dir, extra args...
  local dir=$1; shift
  if [ -d "$dir" ]; then
    meson setup --reconfigure "$dir" "$@" >/dev/null
  else
    meson setup "$dir" "$@" >/dev/null
  fi
}

status=0
logs=()

# npm packages of the browser tests (tests/interop), only when missing or when
# package-lock.json changed since the last install; never a browser download.
if [ ! -f tests/interop/node_modules/.package-lock.json ] ||
   [ tests/interop/package-lock.json -nt tests/interop/node_modules/.package-lock.json ]; then
  (cd tests/interop && npm ci --ignore-scripts --no-audit --no-fund)
fi

# 1. gcc build: every suite but fuzz-with-libFuzzer.
configure build -Dwerror=$werror
ninja -C build
# Tests also in suite 'sanitized' run only in the ASan+UBSan build below.
meson test -C build --no-suite sanitized --print-errorlogs --num-processes 1 || status=1
logs+=(build/meson-logs/testlog.json)

# 2. clang build with ASan+UBSan: unit tests again, and the fuzzers for a short budget.
CC=clang configure build-asan -Dwerror=$werror -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false -Dlab=false
ninja -C build-asan
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1
meson test -C build-asan --suite unit --print-errorlogs --num-processes 1 \
  --logbase unit-testlog || status=1
logs+=(build-asan/meson-logs/unit-testlog.json)
# Each fuzz target is one process on one core for its budget: two at a time.
meson test -C build-asan --suite fuzz --print-errorlogs --num-processes 2 \
  --logbase fuzz-testlog || status=1
logs+=(build-asan/meson-logs/fuzz-testlog.json)

passed=0 failed=0 skipped=0
for log in "${logs[@]}"; do
  [ -f "$log" ] || continue
  passed=$((passed + $(jq -s '[.[] | select(.result == "OK" or .result == "EXPECTEDFAIL")] | length' "$log")))
  failed=$((failed + $(jq -s '[.[] | select(.result == "FAIL" or .result == "TIMEOUT" or .result == "ERROR" or .result == "UNEXPECTEDPASS")] | length' "$log")))
  skipped=$((skipped + $(jq -s '[.[] | select(.result == "SKIP")] | length' "$log")))
  # which, so a short CI log still names them
  jq -r 'select(.result == "FAIL" or .result == "TIMEOUT" or .result == "ERROR" or .result == "UNEXPECTEDPASS") |
    "failed: \(.name) (\(.result), \(.duration | floor) s) in '"${log%%/*}"'"' "$log"
done
echo "$passed passed, $failed failed, $skipped skipped"
if [ "$failed" -gt 0 ]; then status=1; fi
exit $status
