#!/usr/bin/env bash
# Hangul in the call window under Xvfb (issue 15), driven by a synthetic
# call (window_synthetic): a patient named 김민수 knocks, chat in Korean
# both ways, a Korean file name received, Korean typed with xdotool and
# through an input method's composition. Checked from screenshots (each
# Hangul word found where the window draws it, pixel for pixel as
# fontconfig's Korean font draws it: textref, xshot find), from the window's
# count of characters drawn as boxes (none), and from what the window sends
# (the bytes typed, exactly).
#
#   korean_ui.sh WINDOW_SYNTHETIC XSHOT TEXTREF [en|ko]
# The last argument is the user's language (default en).
set -u
SYN=${1:?window_synthetic} XSHOT=${2:?xshot} TEXTREF=${3:?textref} UI_LANG=${4:-en}
TITLE=medcall-korean-test
. "$(dirname "$0")/lib.sh"
ui_need Xvfb xdotool
. "$(dirname "$0")/hangul.sh"
ui_language "$UI_LANG"
echo "UI language: $UI_LANG (LANG=$LANG)"
ui_start medcall-korean 1280x800
ui_on_fail() {
  ui_on_fail_reference
  echo "--- driver output"; cat "$DIR/out.log" 2>/dev/null; echo "--- stderr"; tail -n 20 "$DIR/err.log" 2>/dev/null
}
# The references are blended as SDL's software renderer blends.
export SDL_RENDER_DRIVER=software SDL_AUDIODRIVER=dummy

rm -f "$DIR/ctl" && mkfifo "$DIR/ctl"
"$SYN" --title "$TITLE" --size 960x600 <"$DIR/ctl" >"$DIR/out.log" 2>>"$DIR/err.log" &
SYN_PID=$!
ui_pids+=("$SYN_PID")
exec 7>"$DIR/ctl"
send() { echo "$*" >&7; }
wait_line() { # REGEX [SECONDS]: a line of the driver's output
  local t=$(( ${2:-20} * 10 ))
  for _ in $(seq "$t"); do grep -Eq "$1" "$DIR/out.log" 2>/dev/null && return 0; sleep 0.1; done
  fail "no line matching '$1' from the driver"
}
wait_line '^started$'
SHOT=$DIR/shot.ppm
shot() { "$XSHOT" grab "$TITLE" "$SHOT" 2>/dev/null; }
for _ in $(seq 100); do shot && break; sleep 0.1; done
shot || fail "the window never appeared on $DISPLAY"
rect() { # NAME [chat]: a rectangle of the window's layout
  "$SYN" --layout 960 600 640 480 ${2:-} | awk -v n="$1" '$1 == n {print $2, $3, $4, $5}'
}
read -r _ PX_BODY _ _ PX_BIG < <("$SYN" --layout 960 600 640 480 | grep '^text_px ')
key() { xdotool key --clearmodifiers "$@"; }
# Each Hangul word at its place: in the remote area or the open chat panel.
in_remote() { word_at "$DIR/shot.ppm" $(rect remote) "$@"; }
in_chat() { word_at "$DIR/shot.ppm" $(rect chat chat) "$@"; }
sent_exactly() { # TEXT: the window's last chat command carries TEXT, byte for byte
  same_bytes "$(sed -n 's/^cmd chat //p' "$DIR/out.log" | tail -n 1)" "$1" "the chat line the window sent"
}
chat_commands() { grep -c '^cmd chat ' "$DIR/out.log"; }
wait_chat() { # N: the Nth chat command has come
  for _ in $(seq 100); do [ "$(chat_commands)" -ge "$1" ] && return 0; sleep 0.1; done
  fail "the window sent no chat line number $1"
}

# ==== a patient named 김민수 knocks: the name in Hangul, in a mixed line ====
send wait
wait_line '^ok wait$'
send "knock 김민수 (Kim)"
wait_line '^ok knock$'
eventually "the knock line shows 김민수 in Hangul" in_remote ko bold "$PX_BIG" "$C_TEXT" "$C_BG" 김민수
eventually "... and Kim in the same line, in the UI's font" in_remote "$UI_LANG" bold "$PX_BIG" "$C_TEXT" "$C_BG" Kim
xdotool mousemove 480 300
key a
wait_line '^cmd admit$'
pass "A admits 김민수"

# ==== the call: the avatar's initial and name, chat both ways, a file ====
send peer 김민수
send connect
send peer_camera_off 1
wait_line '^ok peer_camera_off$'
eventually "the avatar shows the initial 김" in_remote ko bold "$PX_BIG" "$C_TEXT" "$C_AVATAR" 김
eventually "... and the name 김민수 under it" in_remote ko bold "$PX_BODY" "$C_TEXT" "$C_BG" 김민수

send chat peer 안녕하세요 선생님, 잘 들리세요?
wait_line '^ok chat$'
key Return
sleep 0.3 # the panel opens and text input starts before typing
TYPED="네, 잘 들립니다"
type_hangul "$TYPED"
key Return
wait_chat 1
sent_exactly "$TYPED"
pass "Hangul typed with xdotool arrives as text and is sent byte for byte ($TYPED)"

send "chat file 검사 결과 (2024).pdf"
send echo file-received
wait_line '^echo file-received$'
eventually "the peer's line: 김민수" in_chat ko regular "$PX_BODY" "$C_TEXT" "$C_PANEL" 김민수
eventually "... 안녕하세요" in_chat ko regular "$PX_BODY" "$C_TEXT" "$C_PANEL" 안녕하세요
eventually "... 선생님" in_chat ko regular "$PX_BODY" "$C_TEXT" "$C_PANEL" 선생님
eventually "our line: 들립니다" in_chat ko regular "$PX_BODY" "$C_MINE" "$C_PANEL" 들립니다
eventually "the file received: 검사" in_chat ko regular "$PX_BODY" "$C_YELLOW" "$C_PANEL" 검사
eventually "... 결과" in_chat ko regular "$PX_BODY" "$C_YELLOW" "$C_PANEL" 결과

# ==== an input method composing: shown underlined, committed on Enter ====
send compose 한
wait_line '^ok compose$'
eventually "the composition 한 shows in the input" in_chat ko regular "$PX_BODY" "$C_TEXT" "$C_BG" 한
read -r _ _ GX GY < <("$XSHOT" find "$DIR/shot.ppm" $(rect chat chat) "$DIR/ref.ppm" $C_BG)
read -r GW GH < <("$XSHOT" size "$DIR/ref.ppm")
# The underline: C_YELLOW in the rows under the glyph (the line's bottom).
[ "$("$XSHOT" match "$DIR/shot.ppm" "$GX" $((GY + GH)) "$GW" $((PX_BODY / 2)) $C_YELLOW)" -ge 100 ] ||
  fail "no underline under the composition (screenshot: $DIR/shot.ppm)"
cp "$DIR/shot.ppm" "$DIR/composing.ppm"
pass "the composition is underlined"
send compose 한국
eventually "the composition grows: 한국" in_chat ko regular "$PX_BODY" "$C_TEXT" "$C_BG" 한국
# Enter while composing sends the composition; the method's commit of the
# same text, after the Enter (as ibus does), is not added again.
key Return
send commit 한국
wait_chat 2
sent_exactly "한국"
type_hangul ok
key Return
wait_chat 3
sent_exactly "ok"
pass "Enter while composing sends the composition once (한국), its late commit is not typed again"
# The usual order: the method commits, then Enter sends.
send compose 어
send commit 어
wait_line '^ok commit$'
sleep 0.2
key Return
wait_chat 4
sent_exactly "어"
pass "a committed composition is sent on Enter (어)"

# ==== nothing drawn as a box, and Hangul was drawn ====
send glyphs
wait_line '^glyphs '
read -r hangul missing < <(sed -n 's/^glyphs .*hangul=\([0-9]*\) missing=\([0-9]*\)$/\1 \2/p' "$DIR/out.log" | tail -n 1)
grep '^glyphs ' "$DIR/out.log" | tail -n 1
[ "${missing:-1}" = 0 ] || fail "$missing characters were drawn as boxes (no font had them)"
[ "${hangul:-0}" -ge 30 ] || fail "only ${hangul:-0} Hangul characters were drawn"
pass "no character drawn as a box; $hangul Hangul characters drawn"
cp "$DIR/shot.ppm" "$DIR/last.ppm"
send quit
wait_line '^window_run rc=0$'
wait "$SYN_PID" || fail "window_synthetic exited with an error"
SYN_PID=
echo "all Hangul window checks passed ($UI_LANG)"
