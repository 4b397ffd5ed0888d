#!/usr/bin/env bash
# The README's first command: a consultation on one screen. Installs what it
# needs, builds, then opens two medcall windows: the doctor's (which runs
# the signaling server built in and creates a room) and a patient who joins
# through the room link. It prints the link too, so a browser on this
# network can join instead (the doctor admits the first knock). Close the
# doctor's window or press Ctrl-C to end. Safe to run twice.
#
# The doctor sends the camera when there is one, else a moving pattern; the
# patient sends the pattern and a quiet 440 Hz tone, so the doctor's window
# shows video and plays sound without the two windows' microphones and
# speakers feeding each other. MEDCALL_DEMO_SECONDS=N ends the call after N
# seconds connected, and MEDCALL_DEMO_APP=PATH uses that medcall binary
# instead of installing and building (both used by tests/ui/demo_ui.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -n "${MEDCALL_DEMO_APP:-}" ]; then
  app=$MEDCALL_DEMO_APP
else
  bash scripts/install-deps.sh --demo
  if [ -d build ]; then meson setup --reconfigure build >/dev/null; else meson setup build >/dev/null; fi
  ninja -C build >/dev/null
  app=./build/src/app/medcall
fi

state=$(mktemp -d /tmp/medcall-demo.XXXXXX)
pids=()
cleanup() {
  local status=$?
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$state"
  exit "$status"
}
trap cleanup EXIT INT TERM

window=()
if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  echo "demo: no display here: both sides run without a window; open the link below in a browser to see the call."
  window=(--no-window)
fi
camera=pattern
[ -r /dev/video0 ] && camera=camera
extra=()
[ -n "${MEDCALL_DEMO_SECONDS:-}" ] && extra=(--duration "$MEDCALL_DEMO_SECONDS")

"$app" call --auto-admit --window 640x420+20+40 --video-source "$camera" --audio-source none "${window[@]}" "${extra[@]}" \
  >"$state/doctor.out" 2>"$state/doctor.err" &
pids+=($!)
link=
for _ in $(seq 100); do
  link=$(sed -n 's/^link: //p' "$state/doctor.out")
  [ -n "$link" ] && break
  if ! kill -0 "${pids[0]}" 2>/dev/null; then cat "$state/doctor.err" >&2; exit 1; fi
  sleep 0.1
done
if [ -z "$link" ]; then
  echo "demo: the doctor's app did not create a room:" >&2
  cat "$state/doctor.err" >&2
  exit 1
fi
echo "demo: the doctor's window is open; the room link: $link"
echo "demo: (a room holds one patient: to join from a browser instead, close the patient window, then open the link; the browser warns about the built-in server's self-signed certificate)"

# The built-in server's certificate is self-signed: the patient on this
# machine accepts it with --insecure, as a browser user would click through.
"$app" join "$link" --insecure --name "Demo patient" --window 640x420+680+40 --video-source pattern --audio-source tone:440 \
  "${window[@]}" "${extra[@]}" >"$state/patient.out" 2>"$state/patient.err" &
pids+=($!)
echo "demo: a patient joined in a second window. Close the doctor's window (or Ctrl-C) to end."

# Show the doctor's lines as they come; end when the doctor's app exits.
tail -n +1 -f "$state/doctor.out" --pid "${pids[0]}" | sed -u 's/^/doctor: /' &
wait "${pids[0]}" || true
sleep 0.5
