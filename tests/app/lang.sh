#!/usr/bin/env bash
# The medcall command line in Korean and English (issue 15 item 2), with
# the catalogs of the build tree ($MEDCALL_LOCALEDIR):
#   - the language from LANG / LC_ALL / LANGUAGE as gettext chooses it,
#     whether the ko_KR.UTF-8 locale is generated or not; --lang ko|en and
#     the config file's "lang" over them (the command line wins); another
#     language is one sentence and exit 2;
#   - a user's error is the same sentence in Korean with the same exit
#     status; --help is Korean; so are the sentences the library builds
#     (a config file, an ICE server URL, a Y4M or WAV file, an unreachable
#     server) and a server's refusal, said from its code;
#   - a headless call through the built-in server in Korean prints the
#     same stdout lines as in English (ASCII, the documented words), and
#     numbers keep their decimal point under a decimal-comma locale: the
#     "rate:" line and --stats-json (valid JSON).
# Locales other than C.UTF-8 are made with localedef under $tmp (LOCPATH):
# nothing on the machine changes.
# Usage: lang.sh MEDCALL LOCALEDIR
set -uo pipefail
app=$1
export MEDCALL_LOCALEDIR=$2
. "$(dirname "$0")/lib.sh"
app_test_init lang
unset LANGUAGE LC_ALL LC_MESSAGES LANG LOCPATH
app_check_detail() { [ -f "$tmp/err" ] && sed 's/^/  stderr: /' "$tmp/err" | head -n 5; }
run() { # expected-status, [VAR=value...] medcall args...
  local want=$1; shift
  local envs=()
  while [[ "$1" == *=* ]]; do envs+=("$1"); shift; done
  env "${envs[@]}" timeout 20 "$app" "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  [ "$got" -eq "$want" ] || { echo "  exit status $got, wanted $want"; return 1; }
}
first_err() { head -n 1 "$tmp/err"; }
hangul() { LC_ALL=C.UTF-8 grep -qP '[\x{AC00}-\x{D7A3}]' "$@"; } # a Hangul syllable

[ -f "$MEDCALL_LOCALEDIR/ko/LC_MESSAGES/medcall.mo" ] || { echo "FAIL: no compiled catalog in $MEDCALL_LOCALEDIR"; exit 1; }
command -v localedef >/dev/null && [ -f /usr/share/i18n/locales/ko_KR ] && [ -f /usr/share/i18n/locales/de_DE ] ||
  { echo "FAIL: localedef and the locale sources are missing (apt-get install locales)"; exit 1; }
mkdir -p "$tmp/locale"
localedef -i ko_KR -f UTF-8 "$tmp/locale/ko_KR.UTF-8" && localedef -i de_DE -f UTF-8 "$tmp/locale/de_DE.UTF-8" ||
  { echo "FAIL: localedef could not make ko_KR.UTF-8 and de_DE.UTF-8"; exit 1; }

EN_LINK="medcall: the room link must start with https:// (like https://clinic.example:8443/r/ROOM)"
KO_LINK="medcall: 진료실 링크는 https://로 시작해야 합니다(예: https://clinic.example:8443/r/ROOM)"

# ---- where the language comes from ----
run 2 join not-a-link --headless
r=$?; [ "$(first_err)" = "$EN_LINK" ]; check "no language set: English, exit 2" $((r | $?))
run 2 --lang ko join not-a-link --headless
r=$?; [ "$(first_err)" = "$KO_LINK" ]; check "--lang ko: the Korean sentence, exit 2" $((r | $?))
run 2 join not-a-link --headless --lang=ko
r=$?; [ "$(first_err)" = "$KO_LINK" ]; check "--lang=ko after the arguments: Korean" $((r | $?))
run 2 LANG=ko_KR.UTF-8 join not-a-link --headless
r=$?; [ "$(first_err)" = "$KO_LINK" ]; check "LANG=ko_KR.UTF-8 without that locale generated: Korean" $((r | $?))
run 2 LOCPATH="$tmp/locale" LANG=ko_KR.UTF-8 join not-a-link --headless
r=$?; [ "$(first_err)" = "$KO_LINK" ]; check "LANG=ko_KR.UTF-8 with the locale generated: Korean" $((r | $?))
run 2 LANG=C LC_ALL=ko_KR.UTF-8 join not-a-link --headless
r=$?; [ "$(first_err)" = "$KO_LINK" ]; check "LC_ALL=ko_KR.UTF-8 over LANG=C: Korean" $((r | $?))
run 2 LANG=en_US.UTF-8 LANGUAGE=ko join not-a-link --headless
r=$?; [ "$(first_err)" = "$KO_LINK" ]; check "LANGUAGE=ko with an English LANG: Korean (gettext's rule)" $((r | $?))
run 2 LANG=C LANGUAGE=ko join not-a-link --headless
r=$?; [ "$(first_err)" = "$EN_LINK" ]; check "LANGUAGE=ko under LANG=C: English (gettext ignores LANGUAGE under C)" $((r | $?))
run 2 LANG=ko_KR.UTF-8 --lang en join not-a-link --headless
r=$?; [ "$(first_err)" = "$EN_LINK" ]; check "--lang en over LANG=ko_KR.UTF-8: English" $((r | $?))
run 2 LANG=ko_KR.UTF-8 LANGUAGE=ko join not-a-link --headless --lang en
r=$?; [ "$(first_err)" = "$EN_LINK" ]; check "--lang en over LANGUAGE=ko: English" $((r | $?))

run 2 --lang fr join not-a-link
r=$?; [ "$(grep -c . "$tmp/err")" -eq 1 ] && [ "$(first_err)" = "medcall: --lang wants one of ko, en, not 'fr'" ]
check "--lang fr: one sentence, exit 2" $((r | $?))
run 2 LANG=ko_KR.UTF-8 join not-a-link --lang
r=$?; [ "$(grep -c . "$tmp/err")" -eq 1 ] && first_err | grep -q -- '--lang' && hangul "$tmp/err"
check "--lang without a value under Korean: one Korean sentence, exit 2" $((r | $?))

mkdir -p "$tmp/config/medcall"
echo "lang = ko" >"$tmp/config/medcall/medcall.conf"
run 2 join not-a-link --headless
r=$?; [ "$(first_err)" = "$KO_LINK" ]; check "lang = ko in the config file: Korean" $((r | $?))
run 2 join not-a-link --headless --lang en
r=$?; [ "$(first_err)" = "$EN_LINK" ]; check "--lang en wins over the config file's lang = ko" $((r | $?))
echo "lang = fr" >"$tmp/config/medcall/medcall.conf"
run 2 join not-a-link --headless
r=$?; grep -q 'medcall.conf:1: "lang" wants one of ko, en' "$tmp/err"; check "lang = fr in the config file: its line named, exit 2" $((r | $?))
rm "$tmp/config/medcall/medcall.conf"

# ---- the same errors, the same statuses, in Korean ----
run 2 call --headless --fps 99
en_fps=$(first_err)
run 2 --lang ko call --headless --fps 99
r=$?; hangul <(first_err) && first_err | grep -q "^medcall: --fps.*'99'" && [ "$(first_err)" != "$en_fps" ]
check "--fps 99 in Korean: a Korean sentence naming --fps and 99, exit 2 as in English" $((r | $?))
run 2 --lang ko call --headless --server-pin 12:34
r=$?; hangul "$tmp/err"; check "a short --server-pin in Korean: exit 2" $((r | $?))
run 1 --lang ko join "https://127.0.0.1:1/r/AAAAAAAAAAAAAAAAAAAAAA" --headless --insecure
r=$?; grep -q '^ended: signaling failed$' "$tmp/out"
check "an unreachable server in Korean: exit 1, and stdout still says 'ended: signaling failed'" $((r | $?))
run 0 --lang ko call --help
r=$?; grep -q '^사용법: medcall call ' "$tmp/out" && grep -q -- '--server-pin' "$tmp/out" && grep -q -- '--lang ko|en' "$tmp/out"
check "call --help in Korean lists the options" $((r | $?))
run 0 LANG=ko_KR.UTF-8 --help
r=$?; grep -q '^사용법: medcall 명령' "$tmp/out"; check "medcall --help under LANG=ko_KR.UTF-8" $((r | $?))
run 2 LANG=ko_KR.UTF-8 diagnose --bogus
r=$?; grep -q '^medcall diagnose: 알 수 없는 옵션입니다: --bogus$' "$tmp/err"; check "diagnose's usage error in Korean, exit 2" $((r | $?))

# ---- the library's sentences (mc_tr) in Korean too ----
# Each in English first, so a sentence that stayed English under ko fails.
ko_line() { # a Korean first line of stderr that differs from English's $1 and starts with $2
  hangul <(first_err) && [ "$(first_err)" != "$1" ] && first_err | grep -qF -- "$2"
}
run 2 call --headless --config "$tmp/none.conf"
en=$(first_err)
run 2 --lang ko call --headless --config "$tmp/none.conf"
r=$?; ko_line "$en" "medcall: 설정 파일 $tmp/none.conf을(를) 읽을 수 없습니다"
check "an unreadable config file (util/conf.c) in Korean, exit 2" $((r | $?))
run 2 call --headless --ice-server 'turn://turn.example:3478 u p'
en=$(first_err)
run 2 --lang ko call --headless --ice-server 'turn://turn.example:3478 u p'
r=$?; ko_line "$en" "ICE 서버 URL에는 \"//\"를 쓰지 않습니다"
check "a malformed --ice-server (turn/url.c) in Korean, exit 2, before any call" $((r | $?))
run 2 call --headless --video-source "file:$tmp/none.y4m"
r=$?; [ "$(first_err)" = "medcall: cannot open the video file $tmp/none.y4m (No such file or directory): check the path" ]
check "a missing Y4M file: one English sentence at start, exit 2 (no patient needed)" $((r | $?))
en=$(first_err)
run 2 --lang ko call --headless --video-source "file:$tmp/none.y4m"
r=$?; ko_line "$en" "medcall: 비디오 파일 $tmp/none.y4m을(를) 열 수 없습니다"
check "a missing Y4M file (media/y4m.c) in Korean, exit 2" $((r | $?))
printf 'RIFF\0\0\0\0WAVEjunk' >"$tmp/bad.wav"
run 2 call --headless --audio-source "file:$tmp/bad.wav"
en=$(first_err)
run 2 --lang ko call --headless --audio-source "file:$tmp/bad.wav"
r=$?; ko_line "$en" "medcall: WAV"
check "a damaged WAV file (media/wav.c) in Korean, exit 2" $((r | $?))
run 1 join "https://127.0.0.1:1/r/AAAAAAAAAAAAAAAAAAAAAA" --headless --insecure
en=$(first_err)
run 1 --lang ko join "https://127.0.0.1:1/r/AAAAAAAAAAAAAAAAAAAAAA" --headless --insecure
r=$?; ko_line "$en" "medcall: wss://127.0.0.1:1/ws의 시그널링 서버에 연결할 수 없습니다"
check "an unreachable server (signal/client.c) in Korean on stderr, exit 1" $((r | $?))

# ---- a headless call in Korean: stdout and numbers as in English ----
# The doctor under a decimal-comma locale (de_DE) with --lang ko, the
# patient under LANG=ko_KR.UTF-8 (generated); the patient sends bytes so
# the doctor prints "rate: ... ms, ... Mbit/s" with decimals.
common=(--headless --video-source pattern --audio-source tone --fps 15 --duration 4)
LOCPATH="$tmp/locale" LC_ALL=de_DE.UTF-8 "$app" --lang ko call "${common[@]}" --stats-json "$tmp/d.json" \
  >"$tmp/d.out" 2>"$tmp/d.err" &
doc=$!
pids+=("$doc")
for _ in $(seq 150); do grep -q "^link: " "$tmp/d.out" && break; sleep 0.1; done
link=$(sed -n 's/^link: //p' "$tmp/d.out" | head -n 1)
[ -n "$link" ]; check "the doctor's app in Korean printed 'link: URL'" $?
# A room the server does not have: it answers no-room, and the app says its
# own sentence for that code (never the server's text) in the user's language.
gone=${link%/r/*}/r/AAAAAAAAAAAAAAAAAAAAAA
run 1 join "$gone" --insecure --headless
r=$?; [ "$(first_err)" = "medcall: the server refused: This room link does not exist or is no longer valid; ask for a new link." ]
check "a room the server does not have: the sentence for code no-room, exit 1" $((r | $?))
en=$(first_err)
run 1 --lang ko join "$gone" --insecure --headless
r=$?; ko_line "$en" "medcall: 서버가 요청을 거부했습니다: 이 진료실 링크는 없거나 더 이상 유효하지 않습니다"
check "the same refusal in Korean (signal/signal.c's sentence for the code)" $((r | $?))
LOCPATH="$tmp/locale" LANG=ko_KR.UTF-8 timeout 40 "$app" join "$link" --insecure --name "김민수" "${common[@]}" \
  --send-bytes 300000 --stats-json "$tmp/p.json" >"$tmp/p.out" 2>"$tmp/p.err"
prc=$?
wait "$doc"
drc=$?
[ "$prc" -eq 0 ] && [ "$drc" -eq 0 ]; check "the call connected and ended normally on both sides (exit $drc, $prc)" $?
# Every line is one of docs/app.md's, in English; the patient's name is
# the one non-ASCII thing (knock: 김민수, admit: 김민수).
words='listen|server-fingerprint|link|waiting|knock|admitted|admit|track|state|pair|dtls|verify|relay|peer|peer-video|video|mic|camera'
words+='|channel|open|closed|sent|received|rate|ended|signaling|reconnecting'
for side in d p; do
  bad=$(grep -vE "^($words): " "$tmp/$side.out")
  [ -z "$bad" ]; check "$side: every stdout line starts with a documented English word${bad:+ (not: $bad)}" $?
  bad=$(grep -vE '^(knock|admit): 김민수$' "$tmp/$side.out" | LC_ALL=C grep -P '[^\x00-\x7F]')
  [ -z "$bad" ]; check "$side: no translated text on stdout${bad:+ ($bad)}" $?
done
for want in '^listen: 0\.0\.0\.0:[0-9]+ \(every IPv4 interface: patients on this network can open the link\)$' \
            '^knock: 김민수$' '^admitted: offerer$' '^state: connected$' '^verify: [0-9]{3} [0-9]{3}$' \
            '^received: 300000 bytes sha256 [0-9a-f]{64}$' '^rate: 300000 bytes in [0-9]+\.[0-9] ms, [0-9]+\.[0-9] Mbit/s$' \
            '^server-fingerprint: SHA-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}$' '^ended: duration reached$'; do
  grep -qE "$want" "$tmp/d.out"; check "doctor (Korean, decimal comma locale): a line $want" $?
done
for want in '^waiting: for the doctor to admit you$' '^admitted: answerer$' '^state: connected$' \
            '^sent: 300000 bytes sha256 [0-9a-f]{64}$' '^ended: duration reached$'; do
  grep -qE "$want" "$tmp/p.out"; check "patient (Korean): a line $want" $?
done
for side in d p; do
  python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["timeline"] and isinstance(j["timeline"][0]["t"], float)' \
    "$tmp/$side.json" 2>"$tmp/err"
  check "$side: --stats-json is valid JSON with decimal figures under Korean and de_DE" $?
done
grep -q '\.' <(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["timeline"][0]["t"])' "$tmp/d.json") &&
  ! grep -qE '"t": [0-9]+,[0-9]' "$tmp/d.json"
check "doctor: --stats-json writes 1.5, never 1,5" $?

if [ "$fails" -ne 0 ]; then
  for f in d.out d.err p.out p.err; do sed "s/^/$f: /" "$tmp/$f"; done
fi
echo "$checks checks, $fails failed"
[ "$fails" -eq 0 ]
