#!/usr/bin/env bash
# run.sh [SCRIPT]: runs a browser interop test (default browser_call.js) inside
# a private network namespace holding only lo, and a private PID namespace so
# that the server, coturn and every Chromium process die with the test,
# whatever way it ends. Needs root (unshare), node, Chromium and the npm
# packages of this directory (`npm ci --ignore-scripts` here; scripts/test.sh
# does it). Without root: skipped (77). Without the browser the script needs
# (Chromium, or Firefox ESR for native_firefox.js), node or the npm
# packages: skipped outside CI, failed in CI (CI=true), where
# scripts/install-deps.sh and scripts/test.sh must have provided them.
# Env: MEDCALL_SERVER, MEDCALL_WEB_ROOT (meson sets both), CHROMIUM, FIREFOX,
# INTEROP_BROWSER (chromium or firefox: the browser the script needs; by
# default firefox for a script named *firefox*, chromium otherwise).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
script=${1:-browser_call.js}

if [ "${MEDCALL_INTEROP_INSIDE:-}" = 1 ]; then
  # PID 1 of the new namespaces: bring up lo and run the test as a child (so
  # this shell reaps what Chromium orphans).
  ip link set lo up
  node "$here/$script"
  exit $?
fi

missing() {
  if [ "${CI:-}" = "true" ]; then
    echo "FAIL: $1 (CI must provide it: scripts/install-deps.sh, scripts/test.sh)" >&2
    exit 1
  fi
  echo "SKIP: $1" >&2
  exit 77
}

if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: needs root (unshare --net for a private loopback-only namespace)" >&2
  exit 77
fi
case "${INTEROP_BROWSER:-}" in
  chromium|firefox) browser=$INTEROP_BROWSER ;;
  "") case "$script" in *firefox*) browser=firefox ;; *) browser=chromium ;; esac ;;
  *) echo "run.sh: INTEROP_BROWSER must be chromium or firefox" >&2; exit 2 ;;
esac
if [ "$browser" = firefox ]; then
  firefox=${FIREFOX:-/usr/bin/firefox-esr}
  [ -x "$firefox" ] || missing "no Firefox at $firefox (apt-get install firefox-esr)"
  export FIREFOX="$firefox"
else
  chromium=${CHROMIUM:-/usr/bin/chromium}
  [ -x "$chromium" ] || missing "no Chromium at $chromium (apt-get install chromium)"
  export CHROMIUM="$chromium"
fi
command -v node >/dev/null 2>&1 || missing "no node (apt-get install nodejs)"
command -v unshare >/dev/null 2>&1 && command -v ip >/dev/null 2>&1 || missing "no unshare or ip (util-linux, iproute2)"
[ -f "$here/node_modules/puppeteer-core/package.json" ] ||
  missing "no puppeteer-core in $here/node_modules (cd tests/interop && npm ci --ignore-scripts)"
: "${MEDCALL_SERVER:?set MEDCALL_SERVER to the medcall-server binary}"
: "${MEDCALL_WEB_ROOT:?set MEDCALL_WEB_ROOT to assets/web}"

# --kill-child: if this script is killed (meson's timeout), PID 1 of the new
# PID namespace gets SIGKILL and the kernel kills everything inside.
export MEDCALL_INTEROP_INSIDE=1
exec unshare --net --pid --fork --kill-child --mount-proc bash "$here/run.sh" "$script"
