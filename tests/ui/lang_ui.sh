#!/usr/bin/env bash
# The window in Korean under Xvfb (issue 15 item 2): the synthetic call
# (window_synthetic --lang ko) goes through the lobby, a knock by 김민수,
# the call with notices and the chat panel, and the end screen. Which
# words are on the screen is read from the window's own list of the
# strings it draws (MEDCALL_UI_TRACE): each expected one is the catalog's
# Korean (looked up with gettext(1) in the build tree's catalogs), never
# the English, and no English msgid of the catalog is drawn at all. Then
# --lang en draws the English. Screenshots of each screen are saved as PNG
# in OUTDIR. Last, the real medcall in Korean (a short call with a headless
# patient): its window's title and the end reason the call gives it are
# the catalog's.
#
# Glyphs are not checked here: with DejaVu (the window's font until it
# comes from fontconfig) Hangul is drawn as boxes; the fonts' own test
# checks that the drawn text is text.
#
#   lang_ui.sh WINDOW_SYNTHETIC XSHOT LOCALEDIR OUTDIR MEDCALL
set -u
SYN=${1:?window_synthetic} XSHOT=${2:?xshot}
export MEDCALL_LOCALEDIR=${3:?localedir}
OUT=${4:?outdir} APP=${5:?medcall}
TITLE=medcall-ui-lang
for tool in Xvfb xdotool gettext python3; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed (scripts/install-deps.sh)"; exit 1; }
done
[ -f "$MEDCALL_LOCALEDIR/ko/LC_MESSAGES/medcall.mo" ] || { echo "FAIL: no catalog in $MEDCALL_LOCALEDIR"; exit 1; }
mkdir -p "$OUT"

DIR=$(mktemp -d /tmp/medcall-uilang.XXXXXX)
XVFB_PID= SYN_PID=
APP_PIDS=()
cleanup() {
  for p in "${APP_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  [ -n "$SYN_PID" ] && kill "$SYN_PID" 2>/dev/null
  [ -n "$XVFB_PID" ] && kill "$XVFB_PID" 2>/dev/null
  exec 7>&- 2>/dev/null
  if [ "${KEEP:-0}" = 1 ] || [ "${FAILED:-0}" = 1 ]; then echo "logs kept in $DIR"; else rm -rf "$DIR"; fi
}
trap cleanup EXIT
FAILED=0
fail() { FAILED=1; echo "FAIL: $*"; echo "--- strings drawn"; cat "$DIR/trace" 2>/dev/null; echo "--- driver";
         cat "$DIR/out.log" 2>/dev/null; tail -n 20 "$DIR/err.log" 2>/dev/null; exit 1; }
pass() { echo "ok: $*"; }

Xvfb -displayfd 5 -screen 0 1280x800x24 -nolisten tcp 5>"$DIR/display" 2>"$DIR/xvfb.log" &
XVFB_PID=$!
for _ in $(seq 100); do [ -s "$DIR/display" ] && break; sleep 0.1; done
[ -s "$DIR/display" ] || fail "Xvfb did not start: $(cat "$DIR/xvfb.log")"
export DISPLAY=:$(head -n1 "$DIR/display")
export SDL_RENDER_DRIVER=software SDL_AUDIODRIVER=dummy
unset LANGUAGE LC_ALL LC_MESSAGES LANG

start() { # start ARGS...: the synthetic call, its strings traced afresh
  rm -f "$DIR/ctl" "$DIR/out.log" "$DIR/trace" && mkfifo "$DIR/ctl"
  MEDCALL_UI_TRACE=$DIR/trace "$SYN" --title "$TITLE" --size 960x600 "$@" <"$DIR/ctl" >"$DIR/out.log" 2>>"$DIR/err.log" &
  SYN_PID=$!
  exec 7>"$DIR/ctl"
  wait_line '^started$'
  for _ in $(seq 100); do shot && return 0; sleep 0.1; done
  fail "the window never appeared"
}
send() { echo "$*" >&7; }
wait_line() {
  for _ in $(seq 200); do grep -Eq "$1" "$DIR/out.log" 2>/dev/null && return 0; sleep 0.1; done
  fail "no line matching '$1' from the driver"
}
shot() { "$XSHOT" grab "$TITLE" "$DIR/shot.ppm" 2>/dev/null; }
key() { xdotool key --clearmodifiers "$@"; }
ppm_to_png() { # IN.ppm OUT.png (python3's zlib: no image tools needed)
  python3 - "$1" "$2" <<'EOF'
import struct, sys, zlib
data = open(sys.argv[1], 'rb').read()
fields, pos = [], 0
while len(fields) < 4:  # P6 W H MAXVAL, comments and blanks between
    while data[pos:pos + 1].isspace(): pos += 1
    if data[pos:pos + 1] == b'#':
        pos = data.index(b'\n', pos) + 1
        continue
    end = pos
    while not data[end:end + 1].isspace(): end += 1
    fields.append(data[pos:end]); pos = end
pos += 1
w, h = int(fields[1]), int(fields[2])
rows = b''.join(b'\0' + data[pos + y * w * 3:pos + (y + 1) * w * 3] for y in range(h))
chunk = lambda t, d: struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
open(sys.argv[2], 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0))
                             + chunk(b'IDAT', zlib.compress(rows, 6)) + chunk(b'IEND', b''))
EOF
}
save() { # save NAME: the current screenshot as OUT/NAME.png
  shot && ppm_to_png "$DIR/shot.ppm" "$OUT/$1.png" || fail "could not save the screenshot $1"
  echo "saved: $OUT/$1.png"
}

# The catalog's Korean for a msgid, its arguments put in as printf does.
ko() { local id=$1; shift; printf -- "$(TEXTDOMAINDIR=$MEDCALL_LOCALEDIR LANGUAGE=ko LC_ALL=C.UTF-8 gettext -d medcall -- "$id")" "$@"; }
en() { local id=$1; shift; printf -- "$id" "$@"; }
drawn() { [ -f "$DIR/trace" ] && grep -Fxq -- "$1" "$DIR/trace"; }
# shows MSGID [ARGS...]: within 10 s the Korean is drawn; the English never is.
shows() {
  local k e
  k=$(ko "$@") e=$(en "$@")
  [ "$k" != "$e" ] || fail "no Korean for \"$e\" in the catalog"
  for _ in $(seq 100); do drawn "$k" && break; sleep 0.1; done
  drawn "$k" || fail "\"$k\" (for \"$e\") was not drawn"
  ! drawn "$e" || fail "the English \"$e\" was drawn"
  pass "drawn: $k"
}

# ==== Korean ====
start --lang ko
send wait
wait_line '^ok wait$'
shows "Waiting for the patient"
shows "Send the patient this link:"
shows "Press C to copy it"
for label in "No mic" "No camera" "Chat" "Stats" "Full screen" "Hang up"; do shows "$label"; done
save window-ko-lobby

send knock 김민수
wait_line '^ok knock$'
shows "%s is waiting to join" 김민수
shows "%s — A admit · D decline" "$(ko "%s is waiting to join" 김민수)"
shows "Admit"
shows "Decline"
save window-ko-knock
xdotool mousemove 480 300 2>/dev/null
key a
wait_line '^cmd admit$'
pass "A admits in Korean too"

send name 김민수
send connect
wait_line '^ok connect$'
send publish 20
wait_line '^published 20 '
shows "Connected directly"
shows "Verify: %s" "123 456"
shows "Mic"
shows "Camera"
send peer_mic_muted 1
send video_paused 1
wait_line '^ok video_paused$'
shows "%s's microphone is off" 김민수
shows "Your connection is too slow for video; you are still heard"
send chat peer 안녕하세요, 선생님
send chat mine 네, 잘 들립니다
send chat file 검사결과.pdf
wait_line '^ok chat$'
key Return
shows "Enter sends · Esc closes · drop a file to send it"
drawn "김민수: 안녕하세요, 선생님" || { sleep 1; drawn "김민수: 안녕하세요, 선생님"; } || fail "the peer's chat line was not drawn"
shows "You: %s" "네, 잘 들립니다"
shows "%s sent a file: %s" 김민수 검사결과.pdf
save window-ko-call
key Escape

# Nothing the catalog has is drawn in English (its plain msgids; those
# with arguments are checked above).
msgunfmt --no-wrap "$MEDCALL_LOCALEDIR/ko/LC_MESSAGES/medcall.mo" |
  awk '/^msgid "/ { s = substr($0, 8, length($0) - 8); if (s != "" && s !~ /%/ && s !~ /\\n/) print s }' >"$DIR/english"
[ "$(wc -l <"$DIR/english")" -gt 100 ] || fail "could not read the catalog's msgids"
if grep -Fxf "$DIR/english" "$DIR/trace" >"$DIR/left"; then fail "English drawn in the Korean window: $(cat "$DIR/left")"; fi
pass "no English string of the catalog was drawn"

key Escape
wait_line '^cmd hang_up$'
shows "The call has ended"
shows "Press Esc to close"
save window-ko-end
key Escape
wait_line '^window_run rc=0$'
wait "$SYN_PID" || fail "window_synthetic exited with an error"
SYN_PID=

# ==== English, chosen over a Korean environment ====
LANG=ko_KR.UTF-8 start --lang en
send knock Bob
wait_line '^ok knock$'
for _ in $(seq 100); do drawn "Bob is waiting to join" && break; sleep 0.1; done
drawn "Bob is waiting to join" && drawn "Admit" && drawn "Hang up" || fail "--lang en did not draw the English"
! LC_ALL=C.UTF-8 grep -qP '[\x{AC00}-\x{D7A3}]' "$DIR/trace" || fail "Korean drawn with --lang en: $(cat "$DIR/trace")"
pass "--lang en over LANG=ko_KR.UTF-8 draws English only"
save window-en-knock
send quit
wait_line '^window_run rc=0$'
wait "$SYN_PID" || fail "window_synthetic exited with an error"
SYN_PID=

# ==== the real app in Korean: the title, and the end reason from the call ====
export HOME=$DIR/home XDG_CONFIG_HOME=$DIR/home/config XDG_STATE_HOME=$DIR/home/state
MEDCALL_UI_TRACE=$DIR/trace-app "$APP" --lang ko call --auto-admit --window 800x500+0+0 --video-source pattern \
  --audio-source tone --fps 15 --duration 3 >"$DIR/doc.out" 2>"$DIR/doc.err" &
doc=$!
APP_PIDS+=("$doc")
for _ in $(seq 150); do grep -q '^link: ' "$DIR/doc.out" && break; sleep 0.1; done
link=$(sed -n 's/^link: //p' "$DIR/doc.out")
[ -n "$link" ] || fail "the doctor's app printed no link: $(cat "$DIR/doc.err")"
"$APP" join "$link" --insecure --headless --video-source pattern --audio-source none --fps 15 --duration 3 \
  >"$DIR/pat.out" 2>"$DIR/pat.err" &
APP_PIDS+=("$!")
title=$(ko "medcall - doctor")
for _ in $(seq 100); do "$XSHOT" id "$title" >/dev/null 2>&1 && break; sleep 0.1; done
"$XSHOT" id "$title" >/dev/null 2>&1 || fail "no window titled \"$title\""
pass "the doctor's window is titled \"$title\""
# --duration: the call ends, the end screen shows, the window closes 3 s later.
for _ in $(seq 300); do kill -0 "$doc" 2>/dev/null || break; sleep 0.1; done
kill -0 "$doc" 2>/dev/null && fail "the doctor's app did not end 30 s after its call: $(cat "$DIR/doc.out")"
wait "$doc" || fail "the doctor's app exited with an error: $(cat "$DIR/doc.err")"
grep -q '^ended: duration reached$' "$DIR/doc.out" || fail "no 'ended: duration reached' on stdout: $(cat "$DIR/doc.out")"
reason=$(ko "The call ended: %s" "$(ko "duration reached")")
grep -Fxq -- "$reason" "$DIR/trace-app" || fail "the end screen did not say \"$reason\": $(cat "$DIR/trace-app")"
grep -Fxq -- "$(ko "The call has ended")" "$DIR/trace-app" || fail "the end screen's title is not Korean"
pass "stdout says 'ended: duration reached'; the end screen says \"$reason\""
echo "all Korean window checks passed"
