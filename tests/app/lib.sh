# Sourced by the tests/app scripts: app_test_init NAME makes $tmp (a fresh
# directory, kept when KEEP_TMP is set) with HOME and the XDG directories
# inside it, no display, and $pids: the processes the script started, which
# are stopped (SIGTERM) when it exits, however it exits.
app_test_init() {
  tmp=$(mktemp -d "/tmp/medcall-$1.XXXXXX")
  pids=()
  trap app_test_cleanup EXIT
  export HOME=$tmp XDG_CONFIG_HOME=$tmp/config XDG_STATE_HOME=$tmp/state
  unset DISPLAY WAYLAND_DISPLAY
}

app_test_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  [ -n "${KEEP_TMP:-}" ] || rm -rf "$tmp"
}
