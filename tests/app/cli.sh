#!/usr/bin/env bash
# medcall call/join as a user meets them: --help, a bad link, a bad config
# file, a server that is not there, a self-signed server refused without
# --insecure and accepted when pinned, the config file's server and pin, and
# Ctrl-C. Real processes: the medcall program and medcall-server on loopback.
# Usage: cli.sh MEDCALL MEDCALL_SERVER WEB_ROOT
set -uo pipefail
app=$1 server_bin=$2 web=$3
tmp=$(mktemp -d /tmp/medcall-cli.XXXXXX)
srv_pid=
fails=0 checks=0
cleanup() {
  [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null && wait "$srv_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
export HOME=$tmp XDG_CONFIG_HOME=$tmp/config XDG_STATE_HOME=$tmp/state
unset DISPLAY WAYLAND_DISPLAY

check() { # description, condition result (0 = ok)
  checks=$((checks + 1))
  if [ "$2" -ne 0 ]; then
    fails=$((fails + 1))
    echo "FAIL: $1"
    [ -f "$tmp/err" ] && sed 's/^/  stderr: /' "$tmp/err"
    [ -f "$tmp/out" ] && sed 's/^/  stdout: /' "$tmp/out"
  else
    echo "ok: $1"
  fi
}
run() { # expected-status, args...
  local want=$1; shift
  timeout 20 "$app" "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  [ "$got" -eq "$want" ] || { echo "  exit status $got, wanted $want"; return 1; }
  return 0
}
one_sentence() { # stderr is one line starting "medcall: " matching a pattern
  [ "$(grep -c . "$tmp/err")" -ge 1 ] && head -1 "$tmp/err" | grep -q "^medcall: " && grep -qiE "$1" "$tmp/err"
}

run 0 call --help; check "call --help describes the options" $?
grep -q -- "--server-pin" "$tmp/out" && grep -q -- "--config" "$tmp/out"; check "call --help lists --server-pin and --config" $?
run 0 join --help; check "join --help" $?

run 2 join not-a-link --headless
r=$?; one_sentence "link"; check "a bad link: exit 2 and a sentence about the link" $((r | $?))

run 2 call --headless --fps 99
r=$?; one_sentence "fps"; check "--fps 99: exit 2 and a sentence" $((r | $?))

run 2 call --headless --server-pin 12:34
r=$?; one_sentence "fingerprint"; check "a short --server-pin: exit 2" $((r | $?))

mkdir -p "$tmp/config/medcall"
printf 'server = wss://127.0.0.1:1/ws\nduration = 5\n' >"$tmp/config/medcall/medcall.conf"
run 2 call --headless
r=$?; one_sentence "medcall.conf:2: .*duration"; check "a config file line that may not be there: FILE:LINE and the name" $((r | $?))
rm "$tmp/config/medcall/medcall.conf"

run 2 call --headless --config "$tmp/none.conf"
r=$?; one_sentence "none.conf"; check "--config naming a missing file: exit 2" $((r | $?))

# Nothing listens on port 1 of loopback.
run 1 join "https://127.0.0.1:1/r/AAAAAAAAAAAAAAAAAAAAAA" --headless --insecure
r=$?; one_sentence "reach|connect|refused"; check "an unreachable server: exit 1 and a sentence" $((r | $?))

# A real medcall-server with its self-signed certificate.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$server_bin" --listen "127.0.0.1:$port" --open --web-root "$web" --state-dir "$tmp/srv" >"$tmp/srv.out" 2>&1 &
srv_pid=$!
for _ in $(seq 50); do grep -q "fingerprint" "$tmp/srv.out" && break; sleep 0.1; done
fp=$(sed -n 's/.*fingerprint \([0-9A-F:]*\).*/\1/p' "$tmp/srv.out" | head -1)
[ -n "$fp" ]; check "medcall-server printed its certificate fingerprint" $?
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done

run 1 call --server "wss://127.0.0.1:$port/ws" --headless
r=$?; one_sentence "certificate"; check "a self-signed server without --insecure: exit 1, a sentence about the certificate" $((r | $?))

wrong=$(echo "$fp" | sed 's/^../00/')
[ "$wrong" = "$fp" ] && wrong=$(echo "$fp" | sed 's/^../11/')
run 1 call --server "wss://127.0.0.1:$port/ws" --headless --server-pin "$wrong"
r=$?; one_sentence "certificate|fingerprint|pin"; check "a pin that does not match: exit 1" $((r | $?))

# The right pin: the room is created; Ctrl-C (SIGINT) ends the wait.
timeout 20 "$app" call --server "wss://127.0.0.1:$port/ws" --headless --server-pin "$fp" >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 100); do grep -q "^link: " "$tmp/out" && break; sleep 0.1; done
grep -q "^link: https://127.0.0.1:$port/r/" "$tmp/out"; check "pinned server: a room link" $?
kill -INT "$pid"; wait "$pid"; r=$?
grep -q "^ended: interrupted" "$tmp/out"; check "Ctrl-C ends the call with a line" $?
[ "$r" -eq 1 ]; check "Ctrl-C before connecting: exit 1 (never connected)" $?

# The same from the config file.
printf '# the clinic server\nserver = wss://127.0.0.1:%s/ws\nserver-pin = %s\nname = Config Patient\n' "$port" "$fp" \
  >"$tmp/config/medcall/medcall.conf"
timeout 20 "$app" call --headless >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 100); do grep -q "^link: " "$tmp/out" && break; sleep 0.1; done
link=$(sed -n 's/^link: //p' "$tmp/out")
[ -n "$link" ]; check "config file: server and pin used" $?
# The patient knocks with the name from the config file; the doctor (headless) admits.
timeout 20 "$app" join "$link" --headless --duration 1 >"$tmp/pout" 2>"$tmp/perr" &
ppid=$!
for _ in $(seq 100); do grep -q "^knock: " "$tmp/out" && break; sleep 0.1; done
grep -q "^knock: Config Patient" "$tmp/out"; check "config file: the name the doctor sees" $?
wait "$ppid"; check "the patient's call connected and ended normally" $?
kill -INT "$pid" 2>/dev/null; wait "$pid"

echo "$checks checks, $fails failed"
[ "$fails" -eq 0 ]
