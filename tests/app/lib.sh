# Sourced by the tests/app scripts: app_test_init NAME makes $tmp (a fresh
# directory, kept when KEEP_TMP is set) with HOME and the XDG directories
# inside it, no display, and $pids: the processes the script started, which
# are stopped (SIGTERM) when it exits, however it exits.
# check WHAT STATUS prints "ok: WHAT" or "FAIL: WHAT" (status not 0),
# counting both in $checks and $fails; a script may define
# app_check_detail to say more after a FAIL.
app_test_init() {
  tmp=$(mktemp -d "/tmp/medcall-$1.XXXXXX")
  pids=()
  fails=0 checks=0
  trap app_test_cleanup EXIT
  export HOME=$tmp XDG_CONFIG_HOME=$tmp/config XDG_STATE_HOME=$tmp/state
  unset DISPLAY WAYLAND_DISPLAY
}

app_test_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  [ -n "${KEEP_TMP:-}" ] || rm -rf "$tmp"
}

check() {
  checks=$((checks + 1))
  if [ "$2" -ne 0 ]; then
    fails=$((fails + 1))
    echo "FAIL: $1"
    if declare -F app_check_detail >/dev/null; then app_check_detail; fi
  else
    echo "ok: $1"
  fi
}
