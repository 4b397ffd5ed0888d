#!/usr/bin/env bash
# The README's first command, until the call app exists: builds medcall,
# starts a throw-away coturn on loopback (UDP, TCP and TLS, with a CA made
# for this run), and runs `medcall diagnose` against each transport.
# Installs what it needs; safe to run twice.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
if [ -d build ]; then meson setup --reconfigure build >/dev/null; else meson setup build >/dev/null; fi
ninja -C build >/dev/null

state=$(mktemp -d /tmp/medcall-demo.XXXXXX)
turn_pid=
cleanup() {
  local status=$?
  if [ -n "$turn_pid" ]; then
    kill "$turn_pid" 2>/dev/null || true
    wait "$turn_pid" 2>/dev/null || true
  fi
  rm -rf "$state"
  exit "$status"
}
trap cleanup EXIT INT TERM

# A CA and a server certificate for 127.0.0.1, made fresh for this run.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=medcall-demo-ca \
  -keyout "$state/ca.key" -out "$state/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
  -keyout "$state/turn.key" -out "$state/turn.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$state/ext.cnf"
openssl x509 -req -in "$state/turn.csr" -CA "$state/ca.pem" -CAkey "$state/ca.key" -CAcreateserial -days 1 \
  -extfile "$state/ext.cnf" -out "$state/turn.pem" 2>/dev/null

# Ports nobody listens on, for coturn.
free_port() {
  local p
  while :; do
    p=$(shuf -i 20000-59999 -n 1)
    ss -Hltun "sport = :$p" | grep -q . || { echo "$p"; return; }
  done
}
port=$(free_port)
tls_port=$(free_port)
password=$(openssl rand -hex 12)

# coturn's --log-file writes nothing here; its stdout, line-buffered, does.
stdbuf -oL turnserver --listening-ip 127.0.0.1 --relay-ip 127.0.0.1 --listening-port "$port" --tls-listening-port "$tls_port" \
  --lt-cred-mech --user "demo:$password" --realm medcall.demo --fingerprint --allow-loopback-peers \
  --cert "$state/turn.pem" --pkey "$state/turn.key" --no-dtls --no-cli --no-multicast-peers \
  --log-file stdout --simple-log >"$state/turn.log" 2>&1 &
turn_pid=$!
for _ in $(seq 50); do
  grep -q "Total General servers" "$state/turn.log" 2>/dev/null && break
  sleep 0.1
done

echo "coturn on 127.0.0.1:$port (UDP, TCP) and :$tls_port (TLS); user demo"
SSL_CERT_FILE="$state/ca.pem" ./build/src/app/medcall diagnose \
  --ice-server "turn:127.0.0.1:$port" --ice-server "turns:127.0.0.1:$tls_port" \
  --ice-username demo --ice-credential "$password"
