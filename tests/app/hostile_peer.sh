#!/usr/bin/env bash
# A peer that cannot be trusted (issue 16 item 6): a name with an escape
# sequence, a C1 control or a right-to-left override is refused by the
# server (one sentence on the patient's side); the chat and the file name
# carry escape sequences, a new line that forges an event line, and a
# right-to-left override. The doctor's stdout (which scripts read) shows
# them neutralised: no control character reaches the terminal, the forged
# line stays inside its "chat:" line, the file name loses its override. A received file is offered,
# not saved: headless without --accept-files it is discarded and nothing
# stays in the download folder; with --accept-files it is saved under the
# cleaned name.
# Usage: hostile_peer.sh MEDCALL
set -uo pipefail
app=$1
. "$(dirname "$0")/lib.sh"
app_test_init hostile
export LC_ALL=C.UTF-8
app_check_detail() { for f in d.out d.err p.err; do [ -f "$tmp/$f" ] && sed "s/^/  $f: /" "$tmp/$f" | cat -v | head -n 20; done; }

ESC=$'\e' BEL=$'\a' RLO=$'\u202e'
CSI=$'\u009b'
name="김민수"
chat="hi ${ESC}[31mred
file: invoice.pdf 1 bytes saved /tmp/invoice.pdf"
printf 'MZ-not-a-pdf' >"$tmp/report${RLO}fdp.exe"
FFFD=$'\uFFFD'

# call DOCTOR_ARGS...: one call; the doctor's stdout in $tmp/d.out.
call() {
  rm -rf "$tmp/dl"; mkdir -p "$tmp/dl"
  timeout 60 "$app" call --headless --video-source none --audio-source none --duration 5 \
    --download-dir "$tmp/dl" "$@" >"$tmp/d.out" 2>"$tmp/d.err" &
  local doc=$! i link=""
  pids+=("$doc")
  for i in $(seq 150); do link=$(sed -n 's/^link: //p' "$tmp/d.out" | head -n 1); [ -n "$link" ] && break; sleep 0.1; done
  local bad r
  local what=("an escape sequence" "a right-to-left override" "a C1 control (CSI)") k=0
  for bad in "${ESC}]0;owned${BEL}김민수" "김${RLO}민수" "${CSI}31m김민수"; do
    timeout 20 "$app" join "$link" --insecure --headless --name "$bad" >"$tmp/b.out" 2>"$tmp/b.err"
    r=$?
    [ "$r" = 1 ] && [ "$(cat "$tmp/b.err")" = "medcall: the server refused: A field of the message is missing, of the wrong type or out of range." ]
    check "a name with ${what[k]} is refused with one sentence" $?
    k=$((k + 1))
  done
  timeout 60 "$app" join "$link" --insecure --headless --video-source none --audio-source none --duration 5 \
    --name "$name" --chat "$chat" --send-file "$tmp/report${RLO}fdp.exe" >"$tmp/p.out" 2>"$tmp/p.err"
  wait "$doc"
}

call
grep -q '^state: connected$' "$tmp/d.out"; check "the call connected" $?
grep -q '^chat: ' "$tmp/d.out" && ! LC_ALL=C grep -q "[${ESC}${BEL}]" "$tmp/d.out"
check "the chat arrived, and no escape or bell character is on the doctor's stdout" $?
[ "$(grep -c '^knock: ' "$tmp/d.out")" = 1 ] && grep -qxF "knock: 김민수" "$tmp/d.out"
check "one knock reached the doctor: the patient with a plain name" $?
grep -q '^chat: ' "$tmp/d.out" && ! grep -q '^file: invoice.pdf' "$tmp/d.out"
check "the chat's new line did not forge a 'file:' line" $?
grep -qxF "chat: hi ${FFFD}[31mred${FFFD}file: invoice.pdf 1 bytes saved /tmp/invoice.pdf" "$tmp/d.out"
check "the chat is one 'chat:' line, its controls replaced" $?
grep -qxF 'file-offered: reportfdp.exe 12 bytes' "$tmp/d.out" && grep -qxF 'file-discarded: reportfdp.exe' "$tmp/d.out"
check "headless without --accept-files: the file is offered under its cleaned name, then discarded" $?
[ -z "$(find "$tmp/dl" -mindepth 1)" ]; check "nothing was saved, not even a hidden part file" $?
[ "$(grep -c 'nobody is at a window' "$tmp/d.err")" = 1 ]; check "stderr says once why the file was discarded" $?

call --accept-files
grep -qxF "file: reportfdp.exe 12 bytes saved $tmp/dl/reportfdp.exe" "$tmp/d.out" && [ -f "$tmp/dl/reportfdp.exe" ]
check "--accept-files: saved as reportfdp.exe, the bidi override gone" $?
[ "$(find "$tmp/dl" -mindepth 1 | wc -l)" = 1 ]; check "--accept-files: that file only" $?

echo "$checks checks, $fails failed"
[ "$fails" -eq 0 ]
