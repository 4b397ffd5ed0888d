#!/usr/bin/env bash
# Hangul through a real call (issue 15): the doctor's medcall window under
# Xvfb (built-in server) and a patient named 김민수 (medcall join, no
# window) who knocks, writes in Korean and sends a file with a Korean name.
#   - the doctor's window shows 김민수 knocking, in Hangul, and A admits;
#   - the patient's chat line and file name arrive byte for byte, and the
#     file is saved in the desktop's download folder, ~/다운로드 as
#     user-dirs.dirs names it (not $XDG_DOWNLOAD_DIR, not ~/Downloads);
#   - Korean typed into the doctor's chat (xdotool) reaches the patient
#     byte for byte;
#   - the doctor's screenshot has every Hangul word (the avatar's initial
#     and name, both chat lines, the file's name) as fontconfig's Korean
#     font draws it.
#   korean_call.sh MEDCALL XSHOT WINDOW_SYNTHETIC TEXTREF [en|ko]
# The last argument is the user's language (default en).
set -u
APP=${1:?medcall} XSHOT=${2:?xshot} SYN=${3:?window_synthetic} TEXTREF=${4:?textref} UI_LANG=${5:-en}
. "$(dirname "$0")/lib.sh"
ui_need Xvfb xdotool
. "$(dirname "$0")/hangul.sh"
ui_language "$UI_LANG"
# The app's own language option: the window's strings in UI_LANG.
LANG_ARGS=(--lang "$UI_LANG")
echo "UI language: $UI_LANG (LANG=$LANG)"
ui_start medcall-korean-call 1024x600
ui_on_fail() {
  ui_on_fail_reference
  for f in doctor patient; do echo "--- $f stdout"; cat "$DIR/$f.out"; echo "--- $f stderr"; tail -n 15 "$DIR/$f.err"; done
}
export SDL_RENDER_DRIVER=software SDL_AUDIODRIVER=dummy HOME=$DIR XDG_CONFIG_HOME=$DIR/config XDG_STATE_HOME=$DIR/state
unset WAYLAND_DISPLAY

# A Korean desktop's folders: the download folder is ~/다운로드. The
# variable and ~/Downloads exist too: the desktop's file wins over both.
mkdir -p "$DIR/config" "$DIR/다운로드" "$DIR/Downloads" "$DIR/elsewhere"
printf '%s\n' '# This file is written by xdg-user-dirs-update' 'XDG_DESKTOP_DIR="$HOME/바탕화면"' \
  'XDG_DOWNLOAD_DIR="$HOME/다운로드"' >"$DIR/config/user-dirs.dirs"
export XDG_DOWNLOAD_DIR=$DIR/elsewhere
NAME=김민수 HELLO="안녕하세요 선생님, 잘 들리세요?" REPLY="네, 잘 들립니다" FILE="검사 결과 (2024).pdf"
head -c 200000 /dev/urandom >"$DIR/$FILE"

# The window's title is translated too: "medcall - 의사" in Korean.
if [ "$UI_LANG" = ko ]; then DOC="medcall - 의사"; else DOC="medcall - doctor"; fi
"$APP" call "${LANG_ARGS[@]}" --window 800x500+0+0 --video-source none --audio-source tone:440 --duration 90 \
  >"$DIR/doctor.out" 2>"$DIR/doctor.err" &
doc=$!
ui_pids+=($doc)
wait_out doctor '^link: ' 20 || fail "the doctor's app printed no link"
link=$(sed -n 's/^link: //p' "$DIR/doctor.out")
"$APP" join "${LANG_ARGS[@]}" "$link" --insecure --name "$NAME" --no-window --video-source none --audio-source tone:660 \
  --chat "$HELLO" --send-file "$DIR/$FILE" --duration 90 >"$DIR/patient.out" 2>"$DIR/patient.err" &
pat=$!
ui_pids+=($pat)

SHOT=$DIR/doc.ppm
shot() { "$XSHOT" grab "$DOC" "$SHOT" 2>/dev/null; }
rect() { # NAME [chat]: a part of the doctor's window
  "$SYN" --layout 800 500 640 480 ${2:-} | awk -v n="$1" '$1 == n {print $2, $3, $4, $5}'
}
read -r _ PX_BODY _ _ PX_BIG < <("$SYN" --layout 800 500 640 480 | grep '^text_px ')
UI_TRIES=80
in_remote() { word_at "$DIR/doc.ppm" $(rect remote ${CHAT:-}) "$@"; }
in_chat() { word_at "$DIR/doc.ppm" $(rect chat chat) "$@"; }

# ==== 김민수 knocks; the doctor reads the name and admits ====
wait_out doctor '^knock: ' 30 || fail "the patient's knock did not reach the doctor"
same_bytes "$(sed -n 's/^knock: //p' "$DIR/doctor.out" | head -n 1)" "$NAME" "the name the doctor was given"
eventually "the doctor's window shows 김민수 knocking, in Hangul" in_remote ko bold "$PX_BIG" "$C_TEXT" "$C_BG" "$NAME"
dwin=$("$XSHOT" id "$DOC")
[ -n "$dwin" ] || fail "no doctor's window"
xdotool windowfocus --sync "$dwin" 2>/dev/null
xdotool mousemove --window "$dwin" 400 100
xdotool key --window "$dwin" --clearmodifiers a
wait_out doctor '^state: connected' 30 || fail "A did not admit the patient (or the call did not connect)"
pass "A admitted 김민수; the call connected"

# ==== what the patient wrote and sent arrives exactly ====
wait_out doctor '^chat: ' 20 || fail "the patient's chat line did not arrive"
same_bytes "$(sed -n 's/^chat: //p' "$DIR/doctor.out" | head -n 1)" "$HELLO" "the patient's chat line at the doctor"
pass "the patient's Korean chat line arrived byte for byte"
# Offered, not saved: the notice names it; nothing is in the folder until Y.
wait_out doctor '^file-offered: ' 30 || fail "the patient's file was not offered"
same_bytes "$(grep '^file-offered: ' "$DIR/doctor.out" | head -n 1)" "file-offered: $FILE 200000 bytes" "the offer line"
[ -z "$(find "$DIR/다운로드" -mindepth 1 -not -name '.medcall-*')" ] || fail "the file was saved before the doctor said so"
xdotool key --window "$dwin" --clearmodifiers y
wait_out doctor '^file: ' 30 || fail "Y did not save the patient's file"
want="file: $FILE 200000 bytes saved $DIR/다운로드/$FILE"
same_bytes "$(grep '^file: ' "$DIR/doctor.out" | head -n 1)" "$want" "the file line"
cmp -s "$DIR/$FILE" "$DIR/다운로드/$FILE" || fail "the saved file differs from the one sent"
[ -z "$(find "$DIR/Downloads" "$DIR/elsewhere" -mindepth 1)" ] || fail "something was saved outside ~/다운로드"
pass "the file 「$FILE」 is offered, and saved whole in ~/다운로드 (the desktop's download folder) once Y is pressed"

# ==== the doctor types Korean; the patient receives it exactly ====
xdotool key --window "$dwin" --clearmodifiers Return
sleep 0.3 # the panel opens and text input starts before typing
type_hangul "$REPLY"
xdotool key --window "$dwin" --clearmodifiers Return
wait_out patient '^chat: ' 20 || fail "the doctor's chat line did not reach the patient"
same_bytes "$(sed -n 's/^chat: //p' "$DIR/patient.out" | head -n 1)" "$REPLY" "the doctor's chat line at the patient"
pass "Korean typed in the doctor's window reached the patient byte for byte"

# ==== every Hangul word on the doctor's screen ====
CHAT=chat
eventually "the avatar: the initial 김" in_remote ko bold "$PX_BIG" "$C_TEXT" "$C_AVATAR" 김
eventually "... and the name 김민수" in_remote ko bold "$PX_BODY" "$C_TEXT" "$C_BG" "$NAME"
eventually "the chat: 안녕하세요" in_chat ko regular "$PX_BODY" "$C_TEXT" "$C_PANEL" 안녕하세요
eventually "... 선생님" in_chat ko regular "$PX_BODY" "$C_TEXT" "$C_PANEL" 선생님
eventually "... 들립니다 (ours)" in_chat ko regular "$PX_BODY" "$C_MINE" "$C_PANEL" 들립니다
eventually "... the file's name: 검사" in_chat ko regular "$PX_BODY" "$C_YELLOW" "$C_PANEL" 검사
eventually "... 결과" in_chat ko regular "$PX_BODY" "$C_YELLOW" "$C_PANEL" 결과
cp "$DIR/doc.ppm" "$DIR/chat.ppm"

# ==== Esc closes the chat, Esc again hangs up; both end normally ====
xdotool key --window "$dwin" --clearmodifiers Escape
sleep 0.2
xdotool key --window "$dwin" --clearmodifiers Escape
wait_out doctor '^ended: ' 10 || fail "Esc did not hang up"
wait_out patient '^ended: ' 10 || fail "the patient's call did not end"
sleep 0.5
"$XSHOT" close "$DOC" 2>/dev/null
exited_0 "$doc" "$pat"
pass "Esc hung up; both exited 0"
echo "PASS ($UI_LANG)"
