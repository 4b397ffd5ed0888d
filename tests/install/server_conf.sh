#!/usr/bin/env bash
# dist/server.conf (the package's /etc/medcall/server.conf) on this build's
# medcall-server:
#   - as shipped, every line parses and the one thing missing is the doctor
#     token the clinic must set: exit 2 with a sentence about
#     --doctor-token, no FILE:LINE complaint;
#   - with a token and test addresses given on the command line (which
#     overrides the file) it starts, /healthz answers 200 on the metrics
#     address, and SIGTERM drains and exits 0.
# The example uses --metrics-listen and --audit-log: with a server that
# does not know them yet, the test is skipped.
# Usage: server_conf.sh MEDCALL_SERVER SOURCE_ROOT
set -uo pipefail
server_bin=$1 src=$2
. "$(dirname "$0")/lib.sh"
need curl curl
conf=$src/dist/server.conf
help=$("$server_bin" --help 2>&1)
for opt in --metrics-listen --audit-log; do
  echo "$help" | grep -q -- "$opt" || { echo "SKIP: medcall-server has no $opt yet (dist/server.conf uses it)"; exit 77; }
done
tmp=$(mktemp -d /tmp/medcall-conf.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
export HOME=$tmp/home XDG_STATE_HOME=$tmp/state
unset STATE_DIRECTORY

"$server_bin" --config "$conf" >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ "$rc" -eq 2 ] && grep -q -- "--doctor-token" "$tmp/err" && ! grep -q "server.conf:" "$tmp/err"; then
  ok "as shipped: every line parses; it asks for the doctor token"
else
  fail "as shipped: exit $rc"; sed 's/^/  stderr: /' "$tmp/err"
fi

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
p=$(port) m=$(port)
"$server_bin" --config "$conf" --doctor-token "test#token" --listen "127.0.0.1:$p" --metrics-listen "127.0.0.1:$m" \
  --audit-log "$tmp/audit.log" --state-dir "$tmp/srv" >"$tmp/out" 2>"$tmp/err" &
pid=$!
code=
for _ in $(seq 100); do
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$m/healthz")
  [ "$code" = 200 ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
[ "$code" = 200 ] && ok "with a token: it serves, /healthz 200" ||
  { fail "with a token: /healthz answered ${code:-nothing}"; sed 's/^/  stderr: /' "$tmp/err"; }
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
[ "$rc" -eq 0 ] && ok "SIGTERM: exit 0" || fail "SIGTERM: exit $rc"

finish
