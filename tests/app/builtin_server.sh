#!/usr/bin/env bash
# Issue 14: the signaling server built into `medcall call` (no --server)
# listens on every interface, so it lets only the app itself create rooms
# (a doctor token drawn for each run that never leaves the process) and
# says on stdout where it listens. While `medcall call --headless` runs with
# it: a `create` from another WebSocket client, without the token or with a
# guessed one, is refused `unauthorized`; a raw `join` of the room still
# gets `waiting`, and `medcall join` with the link still holds a call.
# Issue 16 item 5: it prints its certificate's fingerprint
# (`server-fingerprint: SHA-256 AB:CD:...`), which equals the certificate the
# server presents (openssl s_client), and `medcall join --server-pin` takes
# that exact text: the right pin connects, a wrong one is refused.
# Usage: builtin_server.sh MEDCALL
set -uo pipefail
app=$1
. "$(dirname "$0")/lib.sh"
app_test_init builtin

# ws PORT JSON...: one WebSocket over TLS to 127.0.0.1:PORT/ws (RFC 6455 by
# hand: no client library is installed), each JSON sent as a text frame and
# the first answer to it printed on a line.
ws() {
  python3 - "$@" <<'EOF'
import base64, json, os, socket, ssl, struct, sys
port, msgs = int(sys.argv[1]), sys.argv[2:]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE  # the built-in server's certificate is self-signed
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10))
key = base64.b64encode(os.urandom(16)).decode()
s.sendall(("GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (port, key)).encode())
buf = b""
while b"\r\n\r\n" not in buf:
    buf += s.recv(1)
if not buf.startswith(b"HTTP/1.1 101"):
    sys.exit("no WebSocket: " + buf.decode(errors="replace").splitlines()[0])
def recv_exact(n):
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            sys.exit("connection closed")
        out += chunk
    return out
def frame():
    while True:
        b0, b1 = recv_exact(2)
        n = b1 & 0x7f
        if n == 126: n = struct.unpack(">H", recv_exact(2))[0]
        elif n == 127: n = struct.unpack(">Q", recv_exact(8))[0]
        data = recv_exact(n)
        if b0 & 0x0f == 1: return data.decode()
for m in msgs:
    data, mask = m.encode(), os.urandom(4)
    head = bytes([0x81]) + (bytes([0x80 | len(data)]) if len(data) < 126 else bytes([0x80 | 126]) + struct.pack(">H", len(data)))
    s.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))
    print(frame(), flush=True)
EOF
}

"$app" call --headless --video-source pattern --audio-source tone --fps 15 --duration 40 >"$tmp/d.out" 2>"$tmp/d.err" &
doc=$!
pids+=("$doc")
for _ in $(seq 150); do grep -q "^link: " "$tmp/d.out" && break; sleep 0.1; done
link=$(sed -n 's/^link: //p' "$tmp/d.out" | head -1)
[ -n "$link" ]; check "the app made its room on its built-in server" $?
port=$(echo "$link" | sed -n 's|^https://[^/]*:\([0-9]*\)/r/.*|\1|p')
room=${link##*/}
[ -n "$port" ] || { echo "no port in '$link'"; cat "$tmp/d.err"; exit 1; }

grep -qE "^listen: 0\.0\.0\.0:$port \(.+\)$" "$tmp/d.out"
ok=$?
check "a line says where the built-in server listens: $(grep '^listen: ' "$tmp/d.out")" $ok

fp=$(sed -n 's/^server-fingerprint: //p' "$tmp/d.out" | head -1)
echo "$fp" | grep -qE '^SHA-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}$'
check "a line gives the built-in server's certificate fingerprint: '$fp'" $?
presented=$(openssl s_client -connect "127.0.0.1:$port" </dev/null 2>/dev/null |
  openssl x509 -noout -fingerprint -sha256 2>/dev/null | sed -n 's/^[Ss][Hh][Aa]256 Fingerprint=//p')
[ -n "$presented" ] && [ "SHA-256 $presented" = "$fp" ]
check "the printed fingerprint is the certificate the server presents ($presented)" $?

ws "$port" '{"v":1,"type":"create"}' '{"v":1,"type":"create","token":"guess"}' >"$tmp/create.out" 2>&1
sed 's/^/  create: /' "$tmp/create.out"
[ "$(grep -c '"code":"unauthorized"' "$tmp/create.out")" -eq 2 ]
check "a create from another client, without the token or with a guessed one, is refused unauthorized" $?
ws "$port" "{\"v\":1,\"type\":\"create\",\"room\":\"$room\",\"token\":\"guess\"}" >"$tmp/reclaim.out" 2>&1
grep -q '"code":"unauthorized"' "$tmp/reclaim.out"; check "nobody else takes the app's room" $?

"$app" join "$link" --server-pin "$fp" --headless --video-source pattern --audio-source tone --fps 15 --duration 3 \
  >"$tmp/p.out" 2>"$tmp/p.err"
prc=$?
[ "$prc" -eq 0 ] && grep -q "^state: connected" "$tmp/p.out"
check "a patient joins with the link, pinning the printed fingerprint, and the call connects (exit $prc)" $?

# The same fingerprint with its last byte changed: refused before anything
# is sent (the client gives up at once on a pin mismatch, whatever it retries).
wrong="${fp%??}$( [ "${fp: -2}" = 00 ] && echo 01 || echo 00)"
LC_ALL=C timeout 30 "$app" join "$link" --server-pin "$wrong" --headless --video-source pattern --audio-source tone \
  --duration 3 >"$tmp/w.out" 2>"$tmp/w.err"
wrc=$?
[ "$wrc" -eq 1 ] && ! grep -q "^admitted: " "$tmp/w.out" && grep -q "not the pinned one" "$tmp/w.err"
ok=$? # before the $(...) below, which would set $? again
check "a wrong pin is refused (exit $wrc: $(head -c 200 "$tmp/w.err" | tr '\n' ' '))" $ok

ws "$port" "{\"v\":1,\"type\":\"join\",\"room\":\"$room\",\"name\":\"Raw\"}" >"$tmp/join.out" 2>&1
sed 's/^/  join: /' "$tmp/join.out"
grep -q '"type":"waiting"' "$tmp/join.out"; check "a patient's raw join still knocks" $?

kill -INT "$doc" 2>/dev/null
wait "$doc"
if [ "$fails" -ne 0 ]; then
  for f in d.out d.err p.out p.err w.out w.err; do sed "s/^/$f: /" "$tmp/$f"; done
fi
echo "$checks checks, $fails failed"
[ "$fails" -eq 0 ]
