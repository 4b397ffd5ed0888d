# shellcheck shell=bash
# Running medcall calls in the lab: medcall-server on the public segment and
# medcall processes on hosts. Sourced after lab.sh by the call tests; needs
# MEDCALL and MEDCALL_SERVER (binaries) and lab_init done.

CALL_SERVER_PORT=8443
declare -A PID=()

# call_server_start [ARGS...]: medcall-server (open rooms, TURN REST
# credentials for the coturn lab_turn_start made) on 203.0.113.10:8443;
# ARGS are more options (another --turn-url). CALL_NO_TURN=1: no TURN at all.
call_server_start() {
  local pub turn=(--turn-url "turn:$LAB_TURN_IP:3478?transport=udp" --turn-secret "$LAB_AUTH_SECRET")
  pub=$(lab_ns_name pub)
  [ "${CALL_NO_TURN:-0}" = 1 ] && turn=()
  ip netns exec "$pub" "$MEDCALL_SERVER" --open --listen "$LAB_TURN_IP:$CALL_SERVER_PORT" \
    --state-dir "$LAB_RUN/server-state" "${turn[@]}" "$@" >"$LAB_RUN/server.out" 2>&1 &
  LAB_TURN_PIDS+=($!)
  # lws may listen on a v4-mapped IPv6 socket, which ss shows differently:
  # ask the server itself (a TCP connect) instead.
  local i
  for i in $(seq 1 100); do
    lab_exec pub timeout 1 bash -c "exec 3<>/dev/tcp/$LAB_TURN_IP/$CALL_SERVER_PORT" 2>/dev/null && return 0
    sleep 0.05
  done
  cat "$LAB_RUN/server.out" >&2
  lab_die "medcall-server does not listen on $LAB_TURN_IP:$CALL_SERVER_PORT"
}
call_server_args() { echo "--server wss://$LAB_TURN_IP:$CALL_SERVER_PORT/ws --insecure"; }

# call_start NAME HOST ARGS...: medcall in HOST's namespace, stdout to NAME.out.
call_start() {
  local n=$1 host=$2; shift 2
  lab_exec "$host" env MEDCALL_LOG="${MEDCALL_LOG:-info}" XDG_STATE_HOME="${XDG_STATE_HOME:-$LAB_RUN/state-$n}" \
    SDL_AUDIODRIVER="${SDL_AUDIODRIVER:-dummy}" SDL_DISKAUDIOFILEIN="${SDL_DISKAUDIOFILEIN:-}" \
    SDL_DISKAUDIOFILE="${SDL_DISKAUDIOFILE:-}" \
    stdbuf -oL timeout "${CALL_TIMEOUT_S:-90}" "$MEDCALL" "$@" \
    >"$LAB_RUN/$n.out" 2>"$LAB_RUN/$n.err" &
  PID[$n]=$!
}
# call_wait_line NAME REGEX SECONDS
call_wait_line() {
  local i
  for i in $(seq 1 $(($3 * 20))); do
    grep -Eq "$2" "$LAB_RUN/$1.out" 2>/dev/null && return 0
    kill -0 "${PID[$1]}" 2>/dev/null || { grep -Eq "$2" "$LAB_RUN/$1.out" 2>/dev/null; return; }
    sleep 0.05
  done
  return 1
}
call_line() { grep -E "^$2" "$LAB_RUN/$1.out" | tail -n 1 || true; }
