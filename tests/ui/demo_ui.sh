#!/usr/bin/env bash
# The README's first command (scripts/demo.sh) under Xvfb, with the medcall
# just built: two windows open, the call connects, the doctor's window shows
# the patient's live stamped picture, and the demo ends cleanly after
# MEDCALL_DEMO_SECONDS.   demo_ui.sh MEDCALL XSHOT WINDOW_SYNTHETIC
set -u
APP=${1:?medcall} XSHOT=${2:?xshot} SYN=${3:?window_synthetic}
here=$(cd "$(dirname "$0")" && pwd)
command -v Xvfb >/dev/null || { echo "FAIL: Xvfb is not installed (scripts/install-deps.sh)"; exit 1; }
. "$here/lib.sh"
ui_start medcall-demo-ui 1366x768
ui_on_fail() { echo "--- demo output"; cat "$DIR/demo.out"; }
export SDL_RENDER_DRIVER=software SDL_AUDIODRIVER=dummy
export HOME=$DIR XDG_CONFIG_HOME=$DIR/config XDG_STATE_HOME=$DIR/state
MEDCALL_DEMO_APP=$APP MEDCALL_DEMO_SECONDS=15 bash "$here/../../scripts/demo.sh" >"$DIR/demo.out" 2>&1 &
demo=$!
ui_pids+=($demo)
for _ in $(seq 300); do grep -q "^doctor: state: connected" "$DIR/demo.out" && break; sleep 0.1; done
grep -q "^doctor: state: connected" "$DIR/demo.out" || fail "the demo's call did not connect"
grep -q "^demo: the doctor's window is open; the room link: https://" "$DIR/demo.out" || fail "the demo printed no link"
echo "ok: the demo's call connected"
ok=
for _ in $(seq 60); do
  if "$XSHOT" grab "medcall - doctor" "$DIR/doc.ppm" 2>/dev/null &&
     "$XSHOT" grab "medcall - patient" "$DIR/pat.ppm" 2>/dev/null &&
     s=$("$XSHOT" stamp "$DIR/doc.ppm" $("$SYN" --layout $("$XSHOT" size "$DIR/doc.ppm") 640 480 |
         awk '$1 == "picture" {print $2, $3, $4, $5}') 640 480 2>/dev/null) && [ "$s" != 0 ]; then
    ok=1
    break
  fi
  sleep 0.25
done
[ -n "$ok" ] || fail "the doctor's window did not show the patient's stamped picture (both windows open?)"
echo "ok: two windows; the doctor's shows the patient's stamped picture ($s)"
wait "$demo"; rc=$?
[ "$rc" = 0 ] || fail "the demo exited with $rc"
# Both sides hang up after the same duration: whichever stops first, the
# other sees it leave. Either is a normal end (the demo's status is 0 too).
grep -Eq "^doctor: ended: (duration reached|the other side hung up)" "$DIR/demo.out" ||
  fail "the doctor's call did not end normally"
echo "PASS"
