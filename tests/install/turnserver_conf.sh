#!/usr/bin/env bash
# dist/turnserver.conf on Debian's coturn, in a private network namespace
# (a veth with 192.0.2.1 and 2001:db8::1, no route out):
#   - it parses: no "Bad configuration format", every denied-peer-ip range
#     loaded, the AEAD cipher list in force, listeners opened;
#   - the denied ranges work: with the file less its two documentation
#     ranges that hold the namespace's own addresses, a relay to an address
#     inside each other range is refused (403) and a relay to 192.0.2.1 and
#     2001:db8::1 is allowed (a range that swallowed every IPv4 or IPv6
#     peer, as one starting at :: does in coturn 4.6, fails here).
# The secret and certificate come from the command line, which overrides
# the file. Needs root (unshare --net).
# Usage: turnserver_conf.sh SOURCE_ROOT
set -uo pipefail
src=$1
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
conf=$src/dist/turnserver.conf

if [ "${MEDCALL_TURNCONF_INSIDE:-}" != 1 ]; then
  if [ "$(id -u)" -ne 0 ]; then echo "SKIP: needs root (unshare --net)"; exit 77; fi
  need turnserver coturn
  need turnutils_uclient coturn
  need openssl openssl
  need ip iproute2
  tmp=$(mktemp -d /tmp/medcall-turnconf.XXXXXX)
  trap 'rm -rf "$tmp"' EXIT
  MEDCALL_TURNCONF_INSIDE=1 TMPDIR_TEST=$tmp unshare --net bash "$here/turnserver_conf.sh" "$src"
  exit $?
fi

tmp=$TMPDIR_TEST
secret=test-secret-$$
ip link set lo up
ip link add v0 type veth peer name v1
ip link set v0 up
ip link set v1 up
ip addr add 192.0.2.1/24 dev v0
ip addr add 2001:db8::1/64 dev v0 nodad
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" \
  -days 1 -subj /CN=turn.test >/dev/null 2>&1
coturn_pid=
turn() { # config file, log file: coturn in the background
  stdbuf -oL turnserver -c "$1" --log-file stdout --static-auth-secret "$secret" --cert "$tmp/cert.pem" \
    --pkey "$tmp/key.pem" -v >"$2" 2>&1 &
  coturn_pid=$!
  for _ in $(seq 50); do grep -q "listener opened on" "$2" && break; sleep 0.1; done
  sleep 0.5
}
stop() { kill "$coturn_pid" 2>/dev/null; wait "$coturn_pid" 2>/dev/null; }
trap stop EXIT

# ---- it parses ----
turn "$conf" "$tmp/parse.log"
stop
ranges=$(grep -c "^denied-peer-ip=" "$conf")
loaded=$(grep -c "Black listing: " "$tmp/parse.log")
grep -iE "bad configuration|unrecognized|unknown|CONFIG ERROR" "$tmp/parse.log" && fail "coturn complains about the file"
[ "$loaded" -eq "$ranges" ] && ok "coturn loaded all $ranges denied-peer-ip ranges" ||
  fail "coturn loaded $loaded of $ranges denied-peer-ip ranges"
grep -q "TLS cipher suite: ECDHE-ECDSA-AES128-GCM-SHA256:" "$tmp/parse.log" && ok "the AEAD cipher list is in force" ||
  fail "the cipher list is not in force"
grep -q "UDP listener opened on.*192.0.2.1:3478" "$tmp/parse.log" && grep -q "TLS/TCP listener opened on.*192.0.2.1:5349" "$tmp/parse.log" &&
  ok "listening on UDP/TCP 3478 and TLS 5349" || { fail "listeners not opened"; grep -i listener "$tmp/parse.log"; }
[ "$fails" -eq 0 ] || sed 's/^/  coturn: /' "$tmp/parse.log" | grep -v "^  coturn: *[0-9]*: : *$" | head -60

# ---- the ranges deny what they should and only that ----
grep -vE "^denied-peer-ip=(192\.0\.2\.0-|2001:db8::-)" "$conf" >"$tmp/lab.conf"
samples=$(grep "^denied-peer-ip=" "$tmp/lab.conf" | sed 's/^denied-peer-ip=//' |
  python3 -c 'import ipaddress, sys
for r in sys.stdin:
    print(ipaddress.ip_address(r.strip().split("-")[0]) + 1)')
turn "$tmp/lab.conf" "$tmp/lab.log"
n=0
relay() { # peer, user: DENIED, ALLOWED or UNKNOWN from coturn's log of this client
  local fam=-X srv=192.0.2.1 user=$2
  case $1 in *:*) fam=-x srv=2001:db8::1 ;; esac
  timeout 2 turnutils_uclient $fam -W "$secret" -u "$user" -e "$1" -n 1 -c "$srv" >/dev/null 2>&1
  sleep 0.1
  if grep -a ":$user>: incoming packet CHANNEL_BIND processed, error 403" "$tmp/lab.log" >/dev/null; then echo DENIED
  elif grep -a ":$user>: incoming packet CHANNEL_BIND processed, success" "$tmp/lab.log" >/dev/null; then echo ALLOWED
  else echo UNKNOWN; fi
}
denied=0
for peer in $samples; do
  n=$((n + 1))
  r=$(relay "$peer" "u$n")
  [ "$r" = DENIED ] && denied=$((denied + 1)) || fail "a relay to $peer: $r, not refused"
done
ok "$denied of $(echo "$samples" | wc -w) addresses inside the denied ranges refused"
for peer in 192.0.2.1 2001:db8::1; do
  n=$((n + 1))
  r=$(relay "$peer" "u$n")
  [ "$r" = ALLOWED ] && ok "a relay to $peer (no range holds it) allowed" || fail "a relay to $peer: $r, not allowed"
done
stop
[ "$fails" -eq 0 ] || grep -a "ERROR" "$tmp/lab.log" | sort | uniq -c | head -20

finish
