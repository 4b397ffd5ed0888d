#!/usr/bin/env bash
# turn_pool.sh NAME: coturn as a pool (issue 17 items 5 and 6). Two coturns
# share one REST secret (A 203.0.113.10, B 203.0.113.12); medcall-server
# hands every admitted peer both URLs, B first: the order of --turn-url is
# the preference, and B (not the lab's usual coturn) being the one the call
# goes through shows the order is followed. Both medcalls run --relay-only,
# so only a relay carries the call, as on a network that allows nothing
# else.
#   call-turn-pool: both sides' relay is B, the preferred; B is killed
#   (SIGKILL) mid-call: ICE restarts through A. Asserted: the doctor
#   restarts ICE, each side names the dead server and the one that carries
#   the call now ("relay: B stopped carrying the call; it goes on through
#   A"), both end connected, and each decoded well more frames than
#   had arrived before the kill (frames flow again after it), stamps in
#   order.
#   call-turn-pool-dead: set-up with a dead pool member. First a short call
#   with both coturns alive, then one with B, the preferred one, silently
#   dropping everything (a host that is down: no answer, no ICMP). Asserted:
#   the second call connects through A before the TURN client gives up on B
#   (a dead server does not hold up ICE), and the pair is relayed through A.
#   Prints the time to connected of both calls.
# Env: MEDCALL, MEDCALL_SERVER (binaries), LAB_KEEP=1 keeps $LAB_RUN.
# Exit: 0 pass, 1 fail, 77 skip (not root).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lab.sh
source "$here/lab.sh"
# shellcheck source=scenarios.sh
source "$here/scenarios.sh"
# shellcheck source=call_lib.sh
source "$here/call_lib.sh"

names="call-turn-pool call-turn-pool-dead"
if [ "${1:-}" = "--list" ]; then printf '%s\n' $names; exit 0; fi
name=${1:?usage: turn_pool.sh NAME (--list for names)}
case " $names " in *" $name "*) ;; *) echo "unknown test $name; one of: $names" >&2; exit 1 ;; esac
lab_require
[ -x "${MEDCALL:-}" ] && [ -x "${MEDCALL_SERVER:-}" ] || lab_die "MEDCALL and MEDCALL_SERVER must name the binaries"

lab_init
failures=0
fail() { echo "lab: FAIL [$name]: $*" >&2; failures=$((failures + 1)); }
count() { grep -Ec "$2" "$LAB_RUN/$1.out" 2>/dev/null || true; }
wait_count() {
  local i
  for i in $(seq 1 $(($4 * 20))); do
    [ "$(count "$1" "$2")" -ge "$3" ] && return 0
    sleep 0.05
  done
  return 1
}
now_ms() { date +%s%3N; }

topo_two_nat eim eim
lab_turn_start secret
URL_A="turn:$LAB_TURN_IP:3478?transport=udp"
LAB_TURN_IP_B=203.0.113.12
URL_B="turn:$LAB_TURN_IP_B:3478?transport=udp"
lab_turn_pool_start "$LAB_TURN_IP_B"
PID_B=$LAB_POOL_PID
PID_A=$(cat "$LAB_RUN/turnserver.pid")
# B first: the preferred server.
CALL_NO_TURN=1 call_server_start --turn-url "$URL_B" --turn-url "$URL_A" --turn-secret "$LAB_AUTH_SECRET"
server=(--server "wss://$LAB_TURN_IP:$CALL_SERVER_PORT/ws" --insecure)
media=(--headless --relay-only --video-source pattern --fps 15)

# call TAG SECONDS: a doctor and a patient, relay only; waits until both
# are connected (or gives up after 30 s). Sets T0[TAG], the start, in ms.
declare -A T0=()
call() {
  local tag=$1 secs=$2 link
  T0[$tag]=$(now_ms)
  CALL_TIMEOUT_S=$((secs + 60)) call_start "doctor$tag" host-a call "${server[@]}" "${media[@]}" \
    --audio-source tone:440 --duration "$secs" --stats-json "$LAB_RUN/doctor$tag.json"
  call_wait_line "doctor$tag" '^link: ' 20 || lab_die "the doctor printed no link"
  link=$(call_line "doctor$tag" 'link: ' | cut -d' ' -f2)
  CALL_TIMEOUT_S=$((secs + 60)) call_start "patient$tag" host-b join "$link" --name "lab patient" "${server[@]}" \
    "${media[@]}" --audio-source tone:660 --duration "$secs" --stats-json "$LAB_RUN/patient$tag.json"
  call_wait_line "doctor$tag" '^state: connected' 30 || fail "the doctor did not connect ($tag)"
  call_wait_line "patient$tag" '^state: connected' 30 || fail "the patient did not connect ($tag)"
}
# finish TAG: waits for both to hang up by themselves (--duration); prints
# what they said.
finish() {
  local n rc
  for n in "doctor$1" "patient$1"; do
    rc=0; wait "${PID[$n]}" || rc=$?
    echo "---- medcall $n exit=$rc ----"
    grep -Ev '^(channel|open|closed|track):' "$LAB_RUN/$n.out" || true
    [ "$rc" = 0 ] || { fail "$n exited with status $rc"; tail -n 30 "$LAB_RUN/$n.err"; }
  done
}
relay_of() { grep -E '^relay: through ' "$LAB_RUN/$1.out" | head -1 | sed 's/^relay: through //'; }

case $name in
  call-turn-pool)
    SECS=30
    call 1 "$SECS"
    t_conn=$(now_ms)
    sleep 4
    relay_d=$(relay_of doctor1); relay_p=$(relay_of patient1)
    echo "lab: [$name] relays before the kill: doctor $relay_d, patient $relay_p"
    [ "$relay_d" = "$URL_B" ] || fail "the doctor's relay is '$relay_d', wanted the preferred $URL_B"
    [ "$relay_p" = "$URL_B" ] || fail "the patient's relay is '$relay_p', wanted the preferred $URL_B"
    case $relay_d in
      "$URL_A") victim=$PID_A; dead=$URL_A; alive=$URL_B ;;
      *) victim=$PID_B; dead=$URL_B; alive=$URL_A ;;
    esac
    r0=$(count doctor1 '^reconnecting: ice restart')
    c0d=$(count doctor1 '^state: connected'); c0p=$(count patient1 '^state: connected')
    t_kill=$(now_ms)
    kill -KILL "$victim"
    echo "lab: [$name] killed the coturn of $dead (pid $victim)"
    for n in doctor1 patient1; do
      c0=$c0d; [ $n = patient1 ] && c0=$c0p
      if wait_count $n '^state: connected' $((c0 + 1)) 20; then
        echo "lab: [$name] $n connected again $(($(now_ms) - t_kill)) ms or less after the kill"
      else
        fail "$n did not connect again within 20 s of the kill"
      fi
    done
    [ "$(count doctor1 '^reconnecting: ice restart')" -gt "$r0" ] || fail "the doctor did not restart ICE"
    finish 1
    for n in doctor1 patient1; do
      r=$relay_d; [ $n = patient1 ] && r=$relay_p
      if [ "$r" = "$dead" ]; then
        grep -qF "relay: $dead stopped carrying the call; it goes on through $alive" "$LAB_RUN/$n.out" ||
          fail "$n did not move to $alive: $(grep '^relay:' "$LAB_RUN/$n.out" | tr '\n' '|')"
      fi
      last=$(grep -E '^state: ' "$LAB_RUN/$n.out" | grep -v 'state: closed' | tail -n 1)
      [ "$last" = "state: connected" ] || fail "$n: the last state before hanging up was '$last'"
      j=$LAB_RUN/$n.json
      [ -s "$j" ] || { fail "$n wrote no statistics"; continue; }
      # The timeline has one entry a second since the first connection:
      # frames received before the kill, against all decoded in the end.
      kill_s=$(awk -v k="$t_kill" -v c="$t_conn" 'BEGIN { printf "%.3f", (k - c) / 1000 }')
      before=$(jq "[.timeline[] | select(.t <= $kill_s) | .framesPerSecond] | add // 0 | floor" "$j")
      after=$(jq "[.timeline[] | select(.t > $kill_s) | .framesPerSecond] | add // 0 | floor" "$j")
      decoded=$(jq '.video.framesDecoded' "$j")
      echo "lab: [$name] $n: frames received before the kill ~$before, after ~$after; decoded $decoded;" \
        "interruptions $(jq -c '[.interruptions[] | .ms]' "$j")"
      # 15 fps: at least 5 s of video after the kill, decoded.
      [ "$after" -ge 75 ] || fail "$n received only $after frames after the kill"
      [ "$decoded" -ge $((before + 75)) ] || fail "$n decoded $decoded frames, not 75 more than the $before before the kill"
      [ "$(jq '.video.stampsOutOfOrder' "$j")" = 0 ] || fail "$n read stamps out of order"
    done
    ;;
  call-turn-pool-dead)
    call 1 4
    finish 1
    # A host that is down: everything to B dropped in pub before coturn
    # sees it, so no answer and no ICMP (a refused port would be noticed
    # at once; this is the slow case).
    pub=$(lab_ns_name pub)
    ip netns exec "$pub" iptables -I INPUT 1 -d "$LAB_TURN_IP_B" -p udp --dport 3478 -j DROP
    call 2 4
    finish 2
    for tag in 1 2; do
      for n in doctor$tag patient$tag; do
        ms=$(jq '.iceConnectedMs' "$LAB_RUN/$n.json" 2>/dev/null || echo none)
        echo "lab: [$name] $n ($([ $tag = 1 ] && echo 'both coturns alive' || echo 'B dead')): ICE connected ${ms} ms after the peer connection started"
      done
    done
    for n in doctor1 patient1; do
      [ "$(relay_of $n)" = "$URL_B" ] || fail "$n: relay '$(relay_of $n)', wanted the preferred $URL_B"
    done
    for n in doctor2 patient2; do
      [ "$(relay_of $n)" = "$URL_A" ] || fail "$n: relay '$(relay_of $n)', wanted $URL_A"
      # The log's own order: connected, then the TURN client gives up on
      # B (server_timeout_ms, 5 s) in the background.
      c=$(grep -n 'pc: state from=.* to=connected' "$LAB_RUN/$n.err" | head -1 | cut -d: -f1)
      g=$(grep -n "turn failed url=$URL_B" "$LAB_RUN/$n.err" | head -1 | cut -d: -f1)
      echo "lab: [$name] $n: log line of connected ${c:-none}, of giving up on B ${g:-none}"
      [ -n "$c" ] || { fail "$n never logged connected"; continue; }
      [ -z "$g" ] || [ "$c" -lt "$g" ] || fail "$n connected only after giving up on the dead coturn"
    done
    ;;
esac

if grep -qi -- "$LAB_AUTH_SECRET" "$LAB_RUN"/*.err "$LAB_RUN"/*.out 2>/dev/null; then fail "the TURN secret appears in a log"; fi
LAB_DUMPED=1
[ "$failures" -eq 0 ] && echo "lab: PASS [$name]"
[ "$failures" -eq 0 ]
