#!/usr/bin/env bash
# The call window under Xvfb, driven by a synthetic call (window_synthetic)
# and checked from screenshots (xshot) and from the commands the window
# posts. Keys go in through xdotool (XTEST), as a person's would.
#
#   ui_test.sh WINDOW_SYNTHETIC XSHOT
#
# Waits are "until it shows, at most N seconds": a slow machine passes
# later, never fails sooner; only a window that never shows the right
# thing fails.
set -u
SYN=${1:?window_synthetic}
XSHOT=${2:?xshot}
TITLE=medcall-ui-test
for tool in Xvfb xdotool; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed (apt-get install xvfb xdotool)"; exit 1; }
done

. "$(dirname "$0")/lib.sh"
ui_start medcall-ui 1280x800
SYN_PID=
STEP=0
ui_on_fail() { echo "--- driver output"; cat "$DIR/out.log" 2>/dev/null; echo "--- stderr"; tail -n 20 "$DIR/err.log" 2>/dev/null; }
# Xvfb has no GPU: the window must work with SDL's software renderer
# (UI_RENDER_DRIVER=opengl tries Mesa's software OpenGL instead).
export SDL_RENDER_DRIVER=${UI_RENDER_DRIVER:-software} SDL_AUDIODRIVER=dummy

# ---- helpers ----
start() { # start ARGS...: the synthetic call with its window
  rm -f "$DIR/ctl" "$DIR/out.log" && mkfifo "$DIR/ctl"
  "$SYN" --title "$TITLE" --size 960x600 "$@" <"$DIR/ctl" >"$DIR/out.log" 2>>"$DIR/err.log" &
  SYN_PID=$!
  ui_pids+=("$SYN_PID")
  exec 7>"$DIR/ctl"
  wait_line '^started$'
}
send() { echo "$*" >&7; }
wait_line() { # wait_line REGEX [SECONDS]: a line of the driver's output
  local t=$(( ${2:-20} * 10 ))
  for _ in $(seq "$t"); do grep -Eq "$1" "$DIR/out.log" 2>/dev/null && return 0; sleep 0.1; done
  fail "no line matching '$1' from the driver"
}
count_lines() { grep -Ec "$1" "$DIR/out.log" 2>/dev/null; }
SHOT=$DIR/shot.ppm
shot() { "$XSHOT" grab "$TITLE" "$DIR/${1:-shot}.ppm" 2>/dev/null; }
rect() { # rect NAME [chat]: a rectangle of the layout of the current screenshot
  "$SYN" --layout $("$XSHOT" size "$DIR/shot.ppm") 640 480 ${2:-} | awk -v n="$1" '$1 == n {print $2, $3, $4, $5}'
}
# Each screenshot that passed is kept (with KEEP=1 or on failure).
ui_on_pass() { STEP=$((STEP + 1)) && cp "$DIR/shot.ppm" "$DIR/step$STEP.ppm"; }
key() { xdotool key --clearmodifiers "$@"; }

# ---- checks on the screenshot ----
AVATAR="60 110 170" # C_AVATAR in src/app/window_draw.c
RED="200 45 45"     # C_RED: a muted mic's button
GREEN="40 150 80"   # C_GREEN: the admit button
UNREAD="150 110 20" # C_UNREAD: the chat button with unread lines
stamp_is() { [ "$("$XSHOT" stamp "$DIR/shot.ppm" $(rect picture) 640 480 2>/dev/null)" = "$1" ]; }
not_stamp() { ! stamp_is "$1"; } # an empty (black) area reads as the stamp 0
distinct_at_least() { [ "$("$XSHOT" distinct "$DIR/shot.ppm" $(rect "$1" ${3:-}))" -ge "$2" ]; }
distinct_at_most() { [ "$("$XSHOT" distinct "$DIR/shot.ppm" $(rect "$1"))" -le "$2" ]; }
colour_at_least() { [ "$("$XSHOT" match "$DIR/shot.ppm" $(rect "$1") $2)" -ge "$3" ]; } # per mille
changed_since() { [ "$("$XSHOT" diff "$DIR/$1.ppm" "$DIR/shot.ppm" $(rect "$2"))" -ge "$3" ]; }
changed_at_most() { [ "$("$XSHOT" diff "$DIR/$1.ppm" "$DIR/shot.ppm" $(rect "$2"))" -le "$3" ]; }

# ==== 1. a whole call: knock, admit, video, keys, chat, avatar, hang up ====
start
for _ in $(seq 100); do shot && break; sleep 0.1; done
shot || fail "the window never appeared on $DISPLAY"
read -r W H < <("$XSHOT" size "$DIR/shot.ppm")
[ "$W" = 960 ] && [ "$H" = 600 ] || fail "window is ${W}x${H}, asked for 960x600"
pass "window opened at 960x600 with the software renderer"

send wait
wait_line '^ok wait$'
eventually "the doctor's waiting screen shows text (link)" distinct_at_least remote 3

send knock Alice Example
wait_line '^ok knock$'
eventually "knock: admit button drawn" colour_at_least remote "$GREEN" 5
eventually "control bar drawn (not uniform)" distinct_at_least controls 8
xdotool mousemove 480 300 2>/dev/null
key a
wait_line '^cmd admit$'
pass "A admits"

send connect
wait_line '^ok connect$'
send publish 45
wait_line '^published 45 last=' 30
LAST=$(sed -n 's/^published 45 last=\([0-9]*\)$/\1/p' "$DIR/out.log")
eventually "remote picture shows the newest stamp ($LAST)" stamp_is "$LAST"
cp "$DIR/shot.ppm" "$DIR/before_stats.ppm"

key s
eventually "S opens the statistics overlay over the picture" changed_since before_stats remote 20
key s
eventually "S again closes it: the stamp reads again" stamp_is "$LAST"

key m
wait_line '^cmd toggle_mic$'
eventually "M: the mic button turns red" colour_at_least mic "$RED" 300
key v
wait_line '^cmd toggle_camera$'
pass "V toggles the camera"

send chat peer Good morning, can you hear me?
wait_line '^ok chat$'
eventually "a peer's chat line with the panel shut marks the chat button" colour_at_least chat_button "$UNREAD" 300

key Return
sleep 0.3 # the panel opens and text input starts before typing
xdotool type --delay 30 "hello doctor"
key Return
wait_line '^cmd chat hello doctor$'
pass "Enter, text, Enter sends the chat line"
eventually "the chat panel shows text" distinct_at_least chat 4 chat
eventually "the open panel clears the unread mark" eval '! colour_at_least chat_button "$UNREAD" 300' 
key Escape
key m
wait_line '^cmd toggle_mic$' # the second one: counted below
[ "$(count_lines '^cmd toggle_mic$')" = 2 ] || { sleep 0.5; [ "$(count_lines '^cmd toggle_mic$')" = 2 ]; } ||
  fail "M after closing the chat did not toggle the mic"
[ "$(count_lines '^cmd hang_up$')" = 0 ] || fail "Esc in the chat panel hung up"
pass "Esc closes the chat panel without hanging up"

send peer_camera_off 1
wait_line '^ok peer_camera_off$'
eventually "peer camera off: the avatar replaces the picture" colour_at_least remote "$AVATAR" 20
not_stamp "$LAST" || fail "the picture is still shown under the avatar"
send peer_camera_off 0
eventually "peer camera on again: the picture is back" stamp_is "$LAST"

# Video paused for bandwidth (issue 7): a band of text over the bottom of
# the still picture, for the peer's pause and for ours; gone when resumed.
shot && cp "$DIR/shot.ppm" "$DIR/before_pause.ppm"
send peer_video_paused 1
wait_line '^ok peer_video_paused$'
eventually "peer's video paused: a notice over the picture" changed_since before_pause remote 10
stamp_is "$LAST" || fail "the paused notice hid the picture's stamp"
cp "$DIR/shot.ppm" "$DIR/peer_paused.ppm"
send video_paused 1
wait_line '^ok video_paused$'
eventually "our video paused too: a second notice" changed_since peer_paused remote 10
send peer_video_paused 0
send video_paused 0
wait_line '^ok video_paused$'
eventually "both resumed: the notices are gone" changed_at_most before_pause remote 1

WID=$("$XSHOT" id "$TITLE")
read -r MX MY MW MH < <(rect mic)
xdotool mousemove --window "$WID" $((MX + MW / 2)) $((MY + MH / 2)) click 1
for _ in $(seq 100); do [ "$(count_lines '^cmd toggle_mic$')" = 3 ] && break; sleep 0.1; done
[ "$(count_lines '^cmd toggle_mic$')" = 3 ] || fail "a click on the mic button posted no toggle"
pass "a click on the mic button toggles the mic"

send drop "/tmp/lab results.pdf"
wait_line '^cmd send_file /tmp/lab results.pdf$'
pass "a dropped file is sent"

size_is() { [ "$("$XSHOT" size "$DIR/shot.ppm")" = "$1 $2" ]; }
# XGetImage needs the whole window on the screen: move it to the corner first.
xdotool windowmove "$WID" 0 0 windowsize "$WID" 1200 700
eventually "resized to 1200x700: the picture follows (stamp reads in the new layout)" \
  eval 'size_is 1200 700 && stamp_is "$LAST"'
# Xvfb has no window manager to make a window full screen (SDL asks the
# manager through _NET_WM_STATE): F can only be seen to change the window,
# as SDL lays it out for the whole screen. Sizes after F are not checked.
cp "$DIR/shot.ppm" "$DIR/before_f.ppm"
xdotool mousemove 600 300
key f
eventually "F: the window changes for full screen" changed_since before_f controls 20
key f

key Escape
wait_line '^cmd hang_up$'
eventually "hang up: end screen (no control bar)" distinct_at_most controls 1
key Escape
wait_line '^window_run rc=0$'
wait "$SYN_PID" || fail "window_synthetic exited with an error"
SYN_PID=
pass "Esc on the end screen closes the window"

# ==== 2. decline a knock; then the call sets quit: the window closes by itself ====
start
send knock Bob
wait_line '^ok knock$'
for _ in $(seq 100); do shot && break; sleep 0.1; done
xdotool mousemove 640 400
key d
wait_line '^cmd decline$'
pass "D declines"
send connect
wait_line '^ok connect$'
for _ in $(seq 100); do shot && break; sleep 0.1; done
send quit
wait_line '^window_run rc=0$'
wait "$SYN_PID" || fail "window_synthetic exited with an error after quit"
SYN_PID=
pass "state.quit closes the window"

# ==== 3. close_after_end_ms: the end screen closes by itself ====
start --close-after 300
send connect
wait_line '^ok connect$'
send end The patient left the call.
wait_line '^ok end$'
wait_line '^window_run rc=0$'
wait "$SYN_PID" || fail "window_synthetic exited with an error after the end"
SYN_PID=
[ "$(count_lines '^cmd ')" = 0 ] || fail "the window posted commands nobody asked for"
pass "the end screen closes itself after close_after_end_ms"
# ==== 4. the close button during a call hangs up, then closes once ended ====
start
send connect
wait_line '^ok connect$'
for _ in $(seq 100); do shot && break; sleep 0.1; done
"$XSHOT" close "$TITLE" || fail "could not ask the window to close"
wait_line '^cmd hang_up$'
wait_line '^window_run rc=0$'
wait "$SYN_PID" || fail "window_synthetic exited with an error after the close button"
SYN_PID=
[ "$(count_lines '^cmd hang_up$')" = 1 ] || fail "the close button hung up more than once"
pass "the close button hangs up and closes"

# ==== 5. ... and closes anyway when the call never says it ended ====
start
send connect
send deaf 1
wait_line '^ok deaf$'
for _ in $(seq 100); do shot && break; sleep 0.1; done
"$XSHOT" close "$TITLE" || fail "could not ask the window to close"
wait_line '^cmd hang_up$'
wait_line '^window_run rc=0$' 20
wait "$SYN_PID" || fail "window_synthetic exited with an error"
SYN_PID=
pass "the close button closes within its grace time when the call is stuck"
echo "all window checks passed"
