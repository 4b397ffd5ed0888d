# Sourced by the scripts of tests/ui: a folder for screenshots and logs,
# Xvfb on a free display, the processes to stop at the end, and waiting
# for a screenshot to show something.
#
#   ui_need TOOL...       fails saying what to install when one is missing
#   ui_start NAME WxH     DIR=/tmp/NAME.XXXXXX (kept with KEEP=1 or on a
#                         failure), Xvfb of WxH on a free display (DISPLAY)
#   ui_pids+=(PID)        stopped on exit
#   fail WHAT / pass WHAT one line each; fail calls ui_on_fail (if the
#                         script defines it: its logs) and exits 1
#   wait_out NAME REGEX SECONDS
#                         a line of $DIR/NAME.out matches within SECONDS
#   exited_0 DOCTOR PATIENT
#                         both processes end within 5 s, with status 0
#   eventually WHAT CMD.. CMD succeeds on a fresh screenshot within
#                         UI_TRIES quarter seconds (60: 15 s); the script
#                         defines shot (takes it into $SHOT) and may define
#                         ui_on_pass (after each success)
#
# Waits are "until it shows, at most N seconds": a slow machine passes
# later, never fails sooner.

ui_pids=()
FAILED=0
UI_TRIES=60

ui_cleanup() {
  for p in "${ui_pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  if [ "${KEEP:-0}" = 1 ] || [ "$FAILED" = 1 ]; then echo "screenshots and logs kept in $DIR"; else rm -rf "$DIR"; fi
}

fail() {
  FAILED=1
  echo "FAIL: $*"
  if declare -F ui_on_fail >/dev/null; then ui_on_fail; fi
  exit 1
}
pass() { echo "ok: $*"; }

ui_need() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed (scripts/install-deps.sh)"; exit 1; }
  done
}

ui_start() {
  DIR=$(mktemp -d "/tmp/$1.XXXXXX")
  trap ui_cleanup EXIT
  # Xvfb picks a free display and writes its number when it is ready.
  Xvfb -displayfd 5 -screen 0 "$2x24" -nolisten tcp 5>"$DIR/display" 2>"$DIR/xvfb.log" &
  ui_pids+=($!)
  for _ in $(seq 100); do [ -s "$DIR/display" ] && break; sleep 0.1; done
  [ -s "$DIR/display" ] || fail "Xvfb did not start: $(cat "$DIR/xvfb.log")"
  export DISPLAY=:$(head -n1 "$DIR/display")
}

wait_out() {
  for _ in $(seq $(($3 * 10))); do grep -Eq "$2" "$DIR/$1.out" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}

exited_0() {
  local rc
  for p in "$1" "$2"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  done
  wait "$1"; rc=$?
  [ "$rc" = 0 ] || fail "the doctor exited with $rc"
  wait "$2"; rc=$?
  [ "$rc" = 0 ] || fail "the patient exited with $rc"
}

eventually() {
  local what=$1; shift
  for _ in $(seq "$UI_TRIES"); do
    if shot && "$@"; then
      pass "$what"
      if declare -F ui_on_pass >/dev/null; then ui_on_pass; fi
      return 0
    fi
    sleep 0.25
  done
  cp "$SHOT" "$DIR/failed.ppm" 2>/dev/null
  fail "$what (last screenshot: $DIR/failed.ppm)"
}
