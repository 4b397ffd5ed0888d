#!/usr/bin/env bash
# A real call between two medcall windows under Xvfb (issue 6 item 6): the
# doctor's window (built-in server, admits the knock) and the patient's, each
# sending the stamped pattern and a tone. Checked from screenshots (xshot) and
# from what the other side received:
#   - the doctor's window shows the patient's live stamped picture (a stamp
#     read from the screen, within seconds of the clock) and its controls;
#   - M in the patient's window: the doctor is told (peer: mic off) and stops
#     receiving audio packets (its total stays near what 8 s of sound makes);
#   - V in the patient's window: the doctor is told (camera off) and draws
#     the avatar where the picture was;
#   - Esc in the doctor's window hangs up: both end, exit 0.
#   call_ui.sh MEDCALL XSHOT WINDOW_SYNTHETIC (the latter prints the layout)
set -u
APP=${1:?medcall} XSHOT=${2:?xshot} SYN=${3:?window_synthetic}
for tool in Xvfb xdotool jq; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed (scripts/install-deps.sh)"; exit 1; }
done
. "$(dirname "$0")/lib.sh"
ui_start medcall-callui 1640x600
ui_on_fail() {
  for f in doctor patient; do echo "--- $f stdout"; cat "$DIR/$f.out"; echo "--- $f stderr"; tail -n 15 "$DIR/$f.err"; done
}
export SDL_RENDER_DRIVER=software SDL_AUDIODRIVER=dummy HOME=$DIR XDG_CONFIG_HOME=$DIR/config XDG_STATE_HOME=$DIR/state
unset WAYLAND_DISPLAY

DOC="medcall - doctor" PAT="medcall - patient"
SECONDS_CALL=40
"$APP" call --auto-admit --window 800x500+0+0 --video-source pattern --audio-source tone:440 --duration "$SECONDS_CALL" \
  --stats-json "$DIR/doctor.json" >"$DIR/doctor.out" 2>"$DIR/doctor.err" &
doc=$!
ui_pids+=($doc)
wait_out doctor '^link: ' 20 || fail "the doctor's app printed no link"
link=$(sed -n 's/^link: //p' "$DIR/doctor.out")
"$APP" join "$link" --insecure --name "Pat Patient" --window 800x500+820+0 --video-source pattern --audio-source tone:660 \
  --duration "$SECONDS_CALL" --stats-json "$DIR/patient.json" >"$DIR/patient.out" 2>"$DIR/patient.err" &
pat=$!
ui_pids+=($pat)
wait_out doctor '^state: connected' 30 || fail "the doctor did not connect"
wait_out patient '^state: connected' 30 || fail "the patient did not connect"
t_connected=$(date +%s)
pass "two windows connected"

shot() { "$XSHOT" grab "$DOC" "$DIR/doc.ppm" 2>/dev/null; } # the doctor's window
SHOT=$DIR/doc.ppm
rect() { # rect PPM NAME: a part of that screenshot's layout
  "$SYN" --layout $("$XSHOT" size "$DIR/$1.ppm") 640 480 | awk -v n="$2" '$1 == n {print $2, $3, $4, $5}'
}
fresh_stamp() { # the stamp on the doctor's screen is the patient's capture time, a few seconds old at most
  local s now
  s=$("$XSHOT" stamp "$DIR/doc.ppm" $(rect doc picture) 640 480 2>/dev/null) || return 1
  now=$(( $(date +%s%3N) % 4294967296 ))
  local age=$(( (now - s + 4294967296) % 4294967296 ))
  echo "stamp $s age ${age} ms" >>"$DIR/stamps.log"
  [ "$age" -lt 10000 ]
}
controls_drawn() { [ "$("$XSHOT" distinct "$DIR/doc.ppm" $(rect doc controls))" -ge 8 ]; }
AVATAR="60 110 170" # C_AVATAR in src/app/window_draw.c
avatar_shown() { [ "$("$XSHOT" match "$DIR/doc.ppm" $(rect doc remote) $AVATAR)" -ge 20 ]; }
no_stamp() { ! "$XSHOT" stamp "$DIR/doc.ppm" $(rect doc picture) 640 480 >/dev/null 2>&1 || ! fresh_stamp; }

eventually "the doctor's window shows the patient's live stamped picture" fresh_stamp
tail -n 1 "$DIR/stamps.log"
eventually "the doctor's window draws its controls" controls_drawn

# M in the patient's window, 8 s into the call.
sleep $(( t_connected + 8 - $(date +%s) > 0 ? t_connected + 8 - $(date +%s) : 0 ))
pwin=$("$XSHOT" id "$PAT")
[ -n "$pwin" ] || fail "no patient window"
xdotool windowfocus --sync "$pwin" 2>/dev/null; xdotool key --window "$pwin" --clearmodifiers m
wait_out patient '^mic: off' 10 || fail "M in the patient's window did not mute"
wait_out doctor '^peer: mic off' 10 || fail "the doctor was not told the patient's mic is off"
pass "M mutes: the doctor is told"

xdotool key --window "$pwin" --clearmodifiers v
wait_out patient '^camera: off' 10 || fail "V in the patient's window did not turn the camera off"
wait_out doctor '^peer: mic off camera off' 10 || fail "the doctor was not told the camera is off"
eventually "the doctor's window shows the avatar instead of the picture" avatar_shown
no_stamp || fail "the doctor's window still shows a live picture with the camera off"
pass "camera off: no live picture on the doctor's screen"

# Esc in the doctor's window hangs up: both calls end normally.
dwin=$("$XSHOT" id "$DOC")
xdotool windowfocus --sync "$dwin" 2>/dev/null; xdotool key --window "$dwin" --clearmodifiers Escape
wait_out doctor '^ended: you hung up' 10 || fail "Esc did not hang up"
wait_out patient '^ended: ' 10 || fail "the patient's call did not end"
# The end screens stay until closed: close both windows as a person would.
sleep 1
"$XSHOT" close "$DOC" 2>/dev/null; "$XSHOT" close "$PAT" 2>/dev/null
exited_0 "$doc" "$pat"
pass "Esc hung up; both exited 0 after closing their end screens"

# Audio at the doctor: the patient muted about 8 s into the call, so the
# doctor received about 8 s of its sound (50 packets a second), nowhere near
# what a whole call makes.
sent=$(jq '[.tracks[] | select(.kind == "audio" and .sending) | .packetsSent] | add // 0' "$DIR/patient.json")
got=$(jq '[.tracks[] | select(.kind == "audio" and .receiving) | .packetsReceived] | add // 0' "$DIR/doctor.json")
echo "patient sent $sent audio packets; the doctor received $got; the call lasted about $(( $(date +%s) - t_connected )) s"
[ "$got" -gt 100 ] || fail "the doctor received almost no audio ($got packets) before the mute"
[ "$got" -lt 1000 ] || fail "the doctor kept receiving audio after the mute ($got packets)"
echo "PASS"
