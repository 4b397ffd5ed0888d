# shellcheck shell=bash disable=SC2034  # a library: its variables are used by the sourcing scripts
# The network lab: a library of functions, sourced by run-scenario.sh,
# diagnose.sh and bench/ice_connect.sh. See tests/lab/README.md.
#
# Topology (every namespace is named mclab-<pid>-<name>, so parallel or stale
# runs never collide; nothing here touches the host's own interfaces, and no
# namespace has a route that leaves the lab):
#
#   pub      the "public internet" 203.0.113.0/24: a bridge br0 holding the
#            TURN server addresses 203.0.113.10 (coturn) and 203.0.113.11
#   nat-a    router: wan 203.0.113.21 on pub, lan 100.64.1.1/24 (bridge)
#   nat-b    router: wan 203.0.113.22 on pub, lan 100.64.2.1/24 (bridge)
#   host-*   hosts on a router's LAN (100.64.N.10+), default route via it
#   pubhost  a host with a public address 203.0.113.30, no NAT
#
# NAT behaviour (RFC 4787 terms), see lab_nat:
#   eim        MASQUERADE: endpoint-independent mapping
#   symmetric  MASQUERADE --random-fully: address-and-port-dependent mapping
# Both filter like a home router: unsolicited NEW inbound on the WAN side is
# dropped (address-and-port-dependent filtering). Without that drop, an early
# peer packet makes MASQUERADE pick another port and hole punching fails.

LAB_TURN_IP=203.0.113.10
LAB_TURN_IP2=203.0.113.11
LAB_TURN_NAME=turn.lab.test
LAB_REALM=lab.test
LAB_NS_PREFIX=mclab-$$-
LAB_NAMESPACES=()
LAB_TURN_PIDS=()
LAB_RUN=
LAB_TURN_USER=lab
LAB_TURN_PASS=
LAB_AUTH_SECRET=

lab_log() { echo "lab: $*" >&2; }
lab_die() { echo "lab: FAIL: $*" >&2; exit 1; }

# Meson treats exit status 77 as "skipped". Without root there is no lab; as
# root a missing tool is a broken machine and must fail, never pass.
lab_require() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "lab: SKIP: the network lab needs root (network namespaces, iptables)" >&2
    exit 77
  fi
  local t
  for t in ip iptables turnserver openssl timeout ss; do
    command -v "$t" >/dev/null 2>&1 || lab_die "required tool '$t' not found (apt-get install iproute2 iptables coturn openssl)"
  done
  ip netns list >/dev/null 2>&1 || lab_die "'ip netns' does not work here"
}

lab_ns_name() { echo "${LAB_NS_PREFIX}$1"; }

# Removes namespaces (and their processes) left by runs whose shell is gone.
lab_clean_stale() {
  local ns pid
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^mclab-[0-9]*-' || true); do
    pid=${ns#mclab-}; pid=${pid%%-*}
    if ! kill -0 "$pid" 2>/dev/null; then
      lab_log "removing stale namespace $ns"
      lab_ns_kill "$ns"
      ip netns del "$ns" 2>/dev/null || true
      rm -rf "/etc/netns/$ns"
    fi
  done
  for ns in /etc/netns/mclab-*; do
    [ -e "$ns" ] || continue
    pid=${ns#/etc/netns/mclab-}; pid=${pid%%-*}
    kill -0 "$pid" 2>/dev/null || rm -rf "$ns"
  done
  for ns in /tmp/mclab-[0-9]*.*; do
    [ -d "$ns" ] && [ ! -e "$ns/.keep" ] || continue
    pid=${ns#/tmp/mclab-}; pid=${pid%%.*}
    kill -0 "$pid" 2>/dev/null || rm -rf "$ns"
  done
}

# `ip netns del` leaves the processes inside running: kill them first.
lab_ns_kill() {
  local ns=$1 pids i
  for i in 1 2 3 4 5 6 7 8 9 10; do
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    [ -n "$pids" ] || return 0
    # shellcheck disable=SC2086
    kill -9 $pids 2>/dev/null || true
    sleep 0.1
  done
  lab_log "warning: processes still in $ns: $(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')"
}

# Creates the run directory and installs the cleanup trap. Call once.
lab_init() {
  lab_require
  lab_clean_stale
  LAB_RUN=$(mktemp -d /tmp/mclab-$$.XXXXXX)
  LAB_TURN_PASS=$(openssl rand -hex 12)
  LAB_AUTH_SECRET=$(openssl rand -hex 16)
  trap 'lab_exit_trap' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

lab_exit_trap() {
  local rc=$?
  # Killed by meson's timeout (TERM) or failed early: show what the peers said.
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ -z "${LAB_DUMPED:-}" ] && [ -n "$LAB_RUN" ]; then
    local n
    for n in "${!LAB_PEER_PID[@]}"; do lab_show_peer "$n"; done
  fi
  lab_down
  if ! lab_verify_clean; then
    [ "$rc" -eq 0 ] && rc=1
  fi
  exit "$rc"
}

lab_down() {
  local i ns
  lab_turn_stop
  for ((i = ${#LAB_NAMESPACES[@]} - 1; i >= 0; i--)); do
    lab_ns_kill "${LAB_NAMESPACES[$i]}"
  done
  for ((i = ${#LAB_NAMESPACES[@]} - 1; i >= 0; i--)); do
    ns=${LAB_NAMESPACES[$i]}
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "/etc/netns/$ns"
  done
  rmdir /etc/netns 2>/dev/null || true
  LAB_NAMESPACES=()
  LAB_TURN_PIDS=()
  if [ -n "$LAB_RUN" ] && [ -d "$LAB_RUN" ]; then
    if [ -n "${LAB_KEEP:-}" ]; then
      : >"$LAB_RUN/.keep"
      lab_log "kept run directory $LAB_RUN"
    else
      rm -rf "$LAB_RUN"
    fi
  fi
}

# Tears the topology down and starts a fresh run directory (repeated runs
# in one process, e.g. the benchmark).
lab_reset() {
  local keep=${LAB_KEEP:-}
  LAB_KEEP='' lab_down
  LAB_KEEP=$keep
  LAB_RUN=$(mktemp -d /tmp/mclab-$$.XXXXXX)
  LAB_PEER_PID=()
  LAB_RC=()
}

# True when nothing of this run is left: namespaces, /etc/netns entries, coturn.
lab_verify_clean() {
  local ok=0 left
  left=$(ip netns list 2>/dev/null | awk '{print $1}' | grep "^${LAB_NS_PREFIX}" || true)
  if [ -n "$left" ]; then
    echo "lab: FAIL: namespaces left behind: $left" >&2; ok=1
  fi
  if compgen -G "/etc/netns/${LAB_NS_PREFIX}*" >/dev/null; then
    echo "lab: FAIL: /etc/netns entries left behind" >&2; ok=1
  fi
  if [ -n "$LAB_RUN" ] && pgrep -f -- "turnserver .*${LAB_RUN}" >/dev/null 2>&1; then
    echo "lab: FAIL: turnserver of this run still running" >&2; ok=1
  fi
  return $ok
}

lab_exec() { local ns; ns=$(lab_ns_name "$1"); shift; ip netns exec "$ns" "$@"; }

# A namespace with loopback up and IPv6 off: the scenarios are IPv4, and
# link-local IPv6 addresses would add candidates that never reach across NAT.
lab_ns_add() {
  local ns; ns=$(lab_ns_name "$1")
  ip netns add "$ns" || lab_die "cannot create namespace $ns"
  LAB_NAMESPACES+=("$ns")
  ip -n "$ns" link set lo up
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  # Names a host resolves (ip netns exec bind-mounts /etc/netns/NS/hosts).
  mkdir -p "/etc/netns/$ns"
  printf '127.0.0.1 localhost\n%s %s\n' "$LAB_TURN_IP" "$LAB_TURN_NAME" >"/etc/netns/$ns/hosts"
}

# The public segment: bridge br0 in namespace pub with the TURN addresses.
lab_public() {
  local pub; pub=$(lab_ns_name pub)
  lab_ns_add pub
  ip -n "$pub" link add br0 type bridge
  ip -n "$pub" link set br0 up
  ip -n "$pub" addr add "$LAB_TURN_IP/24" dev br0
  ip -n "$pub" addr add "$LAB_TURN_IP2/24" dev br0
  # The rest of the internet is a silent black hole, as seen from a real
  # server: sending to an unroutable private address (a peer's host
  # candidate) succeeds and the packet vanishes. Without a route, sendto
  # fails with ENETUNREACH and coturn closes the allocation that tried it,
  # which no real deployment does. The hole: a default route to a veth whose
  # other end (in this namespace, no address) discards the frames.
  ip -n "$pub" link add void0 type veth peer name void1
  ip -n "$pub" link set void1 up
  ip -n "$pub" link set void0 up
  ip -n "$pub" addr add 198.18.0.1/30 dev void0
  ip -n "$pub" neigh add 198.18.0.2 lladdr 02:00:00:00:00:02 dev void0 nud permanent
  ip -n "$pub" route add default via 198.18.0.2 dev void0
}

# lab_router NAME WAN_IP N: a router with wan on pub and LAN 100.64.N.0/24.
lab_router() {
  local name=$1 wan_ip=$2 n=$3 ns pub
  ns=$(lab_ns_name "$name"); pub=$(lab_ns_name pub)
  lab_ns_add "$name"
  ip -n "$ns" link add wan type veth peer name "w-$name" netns "$pub"
  ip -n "$pub" link set "w-$name" master br0 up
  ip -n "$ns" addr add "$wan_ip/24" dev wan
  ip -n "$ns" link set wan up
  ip -n "$ns" link add lan type bridge
  ip -n "$ns" addr add "100.64.$n.1/24" dev lan
  ip -n "$ns" link set lan up
  ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
}

# lab_host NAME ROUTER IP: a host on ROUTER's LAN, default route via ROUTER.
lab_host() {
  local name=$1 router=$2 ip=$3 ns rns gw
  ns=$(lab_ns_name "$name"); rns=$(lab_ns_name "$router")
  gw=${ip%.*}.1
  lab_ns_add "$name"
  ip -n "$ns" link add eth0 type veth peer name "h-$name" netns "$rns"
  ip -n "$rns" link set "h-$name" master lan up
  ip -n "$ns" addr add "$ip/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" route add default via "$gw"
}

# lab_pubhost NAME IP: a host with a public address, no NAT in front.
lab_pubhost() {
  local name=$1 ip=$2 ns pub
  ns=$(lab_ns_name "$name"); pub=$(lab_ns_name pub)
  lab_ns_add "$name"
  ip -n "$ns" link add eth0 type veth peer name "p-$name" netns "$pub"
  ip -n "$pub" link set "p-$name" master br0 up
  ip -n "$ns" addr add "$ip/24" dev eth0
  ip -n "$ns" link set eth0 up
}

# lab_nat ROUTER eim|symmetric
lab_nat() {
  local router=$1 type=$2 ns
  ns=$(lab_ns_name "$router")
  case $type in
    eim) ip netns exec "$ns" iptables -t nat -A POSTROUTING -o wan -j MASQUERADE ;;
    symmetric) ip netns exec "$ns" iptables -t nat -A POSTROUTING -o wan -j MASQUERADE --random-fully ;;
    *) lab_die "unknown NAT type $type" ;;
  esac
  ip netns exec "$ns" iptables -A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
  ip netns exec "$ns" iptables -A FORWARD -i wan -m conntrack --ctstate NEW -j DROP
  ip netns exec "$ns" iptables -A INPUT -i wan -m conntrack --ctstate NEW -j DROP
}

# A site whose firewall drops all outgoing UDP (TCP still passes).
lab_block_udp() {
  local ns; ns=$(lab_ns_name "$1")
  ip netns exec "$ns" iptables -A FORWARD -i lan -p udp -j DROP
}

# lab_allow_only_tcp ROUTER PORT: a site that lets only TCP to PORT out.
lab_allow_only_tcp() {
  local ns; ns=$(lab_ns_name "$1")
  ip netns exec "$ns" iptables -A FORWARD -i lan -p tcp --dport "$2" -j ACCEPT
  ip netns exec "$ns" iptables -A FORWARD -i lan -j DROP
}

# A CA and a server certificate for turn.lab.test and 203.0.113.10.
# Clients get SSL_CERT_FILE=$LAB_RUN/pki/ca.pem.
lab_certs() {
  local d=$LAB_RUN/pki
  mkdir -p "$d"
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$d/ca.key" -out "$d/ca.pem" -days 2 -subj "/CN=medcall lab CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>"$d/openssl.log" || lab_die "openssl: cannot create the lab CA"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$d/turn.key" -out "$d/turn.csr" -subj "/CN=$LAB_TURN_NAME" 2>>"$d/openssl.log" \
    || lab_die "openssl: cannot create the server key"
  printf 'subjectAltName=DNS:%s,IP:%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' \
    "$LAB_TURN_NAME" "$LAB_TURN_IP" >"$d/ext.cnf"
  openssl x509 -req -in "$d/turn.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
    -out "$d/turn.pem" -days 2 -extfile "$d/ext.cnf" 2>>"$d/openssl.log" \
    || lab_die "openssl: cannot sign the server certificate"
  LAB_CA=$d/ca.pem
}

# lab_turn_start [static|secret]: coturn on 203.0.113.10, UDP+TCP 3478, TLS 5349.
# static: long-term credentials $LAB_TURN_USER/$LAB_TURN_PASS.
# secret: TURN REST API (use-auth-secret) with $LAB_AUTH_SECRET; see lab_rest_creds.
lab_turn_start() {
  local mode=${1:-static} pub args
  pub=$(lab_ns_name pub)
  [ -f "$LAB_RUN/pki/turn.pem" ] || lab_certs
  args=(-n --no-cli --listening-ip "$LAB_TURN_IP" --relay-ip "$LAB_TURN_IP"
        --listening-port 3478 --tls-listening-port 5349 --no-dtls
        --cert "$LAB_RUN/pki/turn.pem" --pkey "$LAB_RUN/pki/turn.key"
        --realm "$LAB_REALM" --fingerprint --min-port 49152 --max-port 65535
        --userdb "$LAB_RUN/turndb" --pidfile "$LAB_RUN/turnserver.pid"
        --log-file "$LAB_RUN/turn.log" --simple-log --no-stdout-log --verbose)
  case $mode in
    static) args+=(--lt-cred-mech --user "$LAB_TURN_USER:$LAB_TURN_PASS") ;;
    secret) args+=(--use-auth-secret --static-auth-secret "$LAB_AUTH_SECRET") ;;
    *) lab_die "unknown coturn mode $mode" ;;
  esac
  ip netns exec "$pub" turnserver "${args[@]}" >"$LAB_RUN/turn.stdout" 2>&1 &
  LAB_TURN_PIDS+=($!)
  lab_wait_listen pub "$LAB_TURN_IP" 3478 udp
  lab_wait_listen pub "$LAB_TURN_IP" 3478 tcp
  lab_wait_listen pub "$LAB_TURN_IP" 5349 tcp
}

# A STUN-only coturn on 203.0.113.11:3478 (UDP), for "the TURN server is down".
lab_stun_start() {
  local pub; pub=$(lab_ns_name pub)
  ip netns exec "$pub" turnserver -n --no-cli --stun-only --listening-ip "$LAB_TURN_IP2" \
    --listening-port 3478 --no-tcp --no-tls --no-dtls --userdb "$LAB_RUN/turndb2" \
    --pidfile "$LAB_RUN/stun.pid" --log-file "$LAB_RUN/stun.log" --simple-log --no-stdout-log \
    >"$LAB_RUN/stun.stdout" 2>&1 &
  LAB_TURN_PIDS+=($!)
  lab_wait_listen pub "$LAB_TURN_IP2" 3478 udp
}

# lab_turn_pool_start IP [PIDVAR]: a second coturn of the pool on IP (UDP and
# TCP 3478, no TLS), with the REST secret of lab_turn_start secret: coturns
# that share a secret accept each other's credentials (issue 17 item 5).
# Adds IP to pub's bridge; its pid goes to LAB_TURN_PIDS and to LAB_POOL_PID.
lab_turn_pool_start() {
  local ip=$1 pub tag
  pub=$(lab_ns_name pub)
  tag=turn-${ip##*.}
  ip -n "$pub" addr add "$ip/24" dev br0
  ip netns exec "$pub" turnserver -n --no-cli --listening-ip "$ip" --relay-ip "$ip" \
    --listening-port 3478 --no-tls --no-dtls --realm "$LAB_REALM" --fingerprint --min-port 49152 --max-port 65535 \
    --use-auth-secret --static-auth-secret "$LAB_AUTH_SECRET" --userdb "$LAB_RUN/$tag.db" \
    --pidfile "$LAB_RUN/$tag.pid" --log-file "$LAB_RUN/$tag.log" --simple-log --no-stdout-log \
    >"$LAB_RUN/$tag.stdout" 2>&1 &
  LAB_POOL_PID=$!
  LAB_TURN_PIDS+=("$LAB_POOL_PID")
  lab_wait_listen pub "$ip" 3478 udp
}

lab_turn_stop() {
  local p i
  for p in "${LAB_TURN_PIDS[@]}"; do
    kill "$p" 2>/dev/null || true
  done
  for p in "${LAB_TURN_PIDS[@]}"; do
    for i in $(seq 1 40); do
      kill -0 "$p" 2>/dev/null || break
      sleep 0.05
    done
    kill -9 "$p" 2>/dev/null || true
    { wait "$p"; } 2>/dev/null || true
  done
  LAB_TURN_PIDS=()
}

# lab_wait_listen NS IP PORT udp|tcp: wait until a socket listens there.
lab_wait_listen() {
  local ns=$1 ip=$2 port=$3 proto=$4 i flag=-lnt
  [ "$proto" = udp ] && flag=-lnu
  for i in $(seq 1 100); do
    if lab_exec "$ns" ss $flag 2>/dev/null | awk '{print $4, $5}' | grep -q "$ip:$port "; then
      return 0
    fi
    sleep 0.05
  done
  [ -f "$LAB_RUN/turn.log" ] && tail -n 20 "$LAB_RUN/turn.log" >&2
  lab_die "nothing listens on $ip:$port/$proto in $ns"
}

# TURN REST API credentials (draft-uberti-behave-turn-rest, as coturn's
# use-auth-secret expects): username = expiry:id,
# password = base64(HMAC-SHA1(secret, username)). Sets LAB_REST_USER/PASS.
lab_rest_creds() {
  local id=${1:-medcall} ttl=${2:-3600}
  LAB_REST_USER="$(( $(date +%s) + ttl )):$id"
  LAB_REST_PASS=$(printf '%s' "$LAB_REST_USER" | openssl dgst -sha1 -hmac "$LAB_AUTH_SECRET" -binary | openssl base64 -A)
}

# ---- ICE test peers (tests/lab/ice_peer.c, see its contract) ----------------

declare -A LAB_PEER_PID=()

# lab_peer_start NAME HOST ARGS...: start ice_peer in HOST's namespace;
# stdout to $LAB_RUN/NAME.out, stderr to $LAB_RUN/NAME.err.
lab_peer_start() {
  local name=$1 host=$2 ns; shift 2
  ns=$(lab_ns_name "$host")
  ip netns exec "$ns" env SSL_CERT_FILE="${LAB_CA:-}" MEDCALL_LOG="${MEDCALL_LOG:-info}" \
    "$ICE_PEER" "$@" >"$LAB_RUN/$name.out" 2>"$LAB_RUN/$name.err" &
  LAB_PEER_PID[$name]=$!
}

# lab_peer_wait NAME: wait for the peer; sets LAB_RC[NAME] to its exit status.
declare -A LAB_RC=()
lab_peer_wait() {
  local name=$1 rc=0
  wait "${LAB_PEER_PID[$name]}" || rc=$?
  LAB_RC[$name]=$rc
}

# lab_wait_line NAME REGEX SECONDS: wait until NAME's stdout has a matching line.
lab_wait_line() {
  local name=$1 re=$2 secs=$3 i
  for i in $(seq 1 $((secs * 20))); do
    grep -Eq "$re" "$LAB_RUN/$name.out" 2>/dev/null && return 0
    kill -0 "${LAB_PEER_PID[$name]}" 2>/dev/null || { grep -Eq "$re" "$LAB_RUN/$name.out" 2>/dev/null; return; }
    sleep 0.05
  done
  return 1
}

# lab_wait_data NAME SECONDS: until NAME has verified its data exchange.
lab_wait_data() {
  local name=$1 secs=$2 i
  for i in $(seq 1 $((secs * 20))); do
    grep -Eq '^data .*ok=1' "$LAB_RUN/$name.out" 2>/dev/null && return 0
    grep -q 'data exchange done' "$LAB_RUN/$name.err" 2>/dev/null && return 0
    kill -0 "${LAB_PEER_PID[$name]}" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# lab_field LINE KEY: the value of KEY=value in a key=value line.
lab_field() {
  local line=$1 key=$2
  printf '%s\n' "$line" | tr ' ' '\n' | sed -n "s/^$key=//p" | head -n 1
}

lab_line() { grep -E "^$2( |$)" "$LAB_RUN/$1.out" 2>/dev/null | tail -n 1 || true; }

lab_show_peer() {
  local name=$1
  echo "---- $name stdout ----"
  cat "$LAB_RUN/$name.out" 2>/dev/null || true
  echo "---- $name stderr (last 40 lines) ----"
  tail -n 40 "$LAB_RUN/$name.err" 2>/dev/null || true
}
