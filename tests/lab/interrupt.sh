#!/usr/bin/env bash
# interrupt.sh NAME: a consultation rides out an interruption in the lab
# (issue 13 items 4 and 5). medcall-server and coturn on the "public
# internet", the doctor's and the patient's medcall behind NAT routers,
# each sending the stamped pattern and a tone; each side must see video
# flowing again after the interruption ("video: flowing again after N ms",
# printed as the interruption time and bounded for a loaded machine), and
# the doctor's call never ends by itself.
#   interrupt-sleep: the patient's process is stopped for 30 s (a laptop
#   lid closed: SIGSTOP) and continued: signaling and media come back.
#   interrupt-turn-dies: both NATs symmetric, so only a relay carries the
#   call; two coturns with one shared secret, both handed out by
#   medcall-server; the one relaying the doctor's side is killed mid-call:
#   ICE restarts through the other, and the doctor names the dead one
#   ("relay: URL stopped carrying the call; it goes on through URL").
#   interrupt-move: the doctor's host moves to a new address (a second
#   interface comes up, the old address is deleted, as when a laptop goes
#   from Wi-Fi to wired): the app notices the address going and restarts
#   ICE at once, well before its consent check would have.
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

names="interrupt-sleep interrupt-turn-dies interrupt-move"
if [ "${1:-}" = "--list" ]; then printf '%s\n' $names; exit 0; fi
name=${1:?usage: interrupt.sh NAME (--list for names)}
case " $names " in *" $name "*) ;; *) echo "unknown test $name; one of: $names" >&2; exit 1 ;; esac
lab_require
[ -x "${MEDCALL:-}" ] && [ -x "${MEDCALL_SERVER:-}" ] || lab_die "MEDCALL and MEDCALL_SERVER must name the binaries"
BOUND_MS=25000

lab_init
failures=0
fail() { echo "lab: FAIL [$name]: $*" >&2; failures=$((failures + 1)); }
count() { grep -Ec "$2" "$LAB_RUN/$1.out" 2>/dev/null || true; }
# wait_count NAME REGEX N SECONDS
wait_count() {
  local i
  for i in $(seq 1 $(($4 * 20))); do
    [ "$(count "$1" "$2")" -ge "$3" ] && return 0
    sleep 0.05
  done
  return 1
}
# gap NAME N: the N-th "video: flowing again after MS ms" of NAME, in ms.
gap() { grep -E '^video: flowing again after [0-9]+ ms' "$LAB_RUN/$1.out" | sed -n "${2}p" | grep -oE '[0-9]+' | head -1; }
# expect_flow NAME WHAT [OUTAGE_MS]: video flows again at NAME within the
# bound after the outage itself. A repair quicker than a second prints no
# gap line (medcall says "flowing again" only after 1 s without video):
# then the line must not come at all, and the frames counted at the end
# show that video went on.
expect_flow() {
  local n=$1 before=${GAPS[$1]} outage=${3:-0} wait_s=40
  [ "$outage" -eq 0 ] && wait_s=8
  if wait_count "$n" '^video: flowing again' $((before + 1)) "$wait_s"; then
    local ms; ms=$(gap "$n" $((before + 1)))
    echo "lab: [$name] interruption: $2 at the $n: ${ms} ms (the outage itself ${outage} ms)"
    [ "$ms" -le $((outage + BOUND_MS)) ] || fail "$n: video stood still $ms ms"
    GAPS[$n]=$((before + 1))
  elif [ "$outage" -eq 0 ]; then
    echo "lab: [$name] interruption: $2 at the $n: under 1000 ms"
  else
    fail "$n: video did not flow again after $2"
  fi
}

case $name in
  interrupt-turn-dies) topo_two_nat symmetric symmetric ;;
  *) topo_two_nat eim eim ;;
esac
lab_turn_start secret
extra_turn=()
if [ "$name" = interrupt-turn-dies ]; then
  # A second coturn with the same REST secret on 203.0.113.12 (a pool).
  LAB_TURN_IP3=203.0.113.12
  lab_turn_pool_start "$LAB_TURN_IP3"
  TURN3_PID=$LAB_POOL_PID
  extra_turn=(--turn-url "turn:$LAB_TURN_IP3:3478?transport=udp")
fi
call_server_start "${extra_turn[@]}"

media=(--headless --video-source pattern --fps 15 --duration 60 --insecure)
CALL_TIMEOUT_S=120 call_start doctor host-a call --server "wss://$LAB_TURN_IP:$CALL_SERVER_PORT/ws" "${media[@]}" \
  --audio-source tone:440 --stats-json "$LAB_RUN/doctor.json"
call_wait_line doctor '^link: ' 20 || lab_die "the doctor printed no link"
link=$(call_line doctor 'link: ' | cut -d' ' -f2)
CALL_TIMEOUT_S=120 call_start patient host-b join "$link" --name "lab patient" "${media[@]}" --audio-source tone:660 \
  --stats-json "$LAB_RUN/patient.json"
call_wait_line doctor '^state: connected' 20 || fail "the doctor did not connect"
call_wait_line patient '^state: connected' 20 || fail "the patient did not connect"
sleep 3
declare -A GAPS=([doctor]=$(count doctor '^video: flowing again') [patient]=$(count patient '^video: flowing again'))

case $name in
  interrupt-sleep)
    # The process, not the network: everything it owns stops (sockets stay
    # open, timers stop), as in a suspended laptop.
    # medcall itself, not the timeout/stdbuf wrappers around it.
    pid=$(pgrep -f "^$MEDCALL join $link" | head -1)
    [ -n "$pid" ] || lab_die "no patient process"
    kill -STOP "$pid"
    sleep 30
    kill -CONT "$pid"
    echo "lab: [$name] the patient slept 30 s"
    expect_flow patient "30 s asleep" 30000
    expect_flow doctor "30 s asleep" 30000
    ;;
  interrupt-turn-dies)
    # Symmetric NATs on both sides: at least one side's candidate is a
    # relay (the other may reach it as peer-reflexive). Kill that relay.
    side=
    for n in doctor patient; do
      relay=$(grep -E '^relay: through ' "$LAB_RUN/$n.out" | head -1 | sed 's/^relay: through //' || true)
      [ -n "$relay" ] && { side=$n; break; }
    done
    [ -n "$side" ] || lab_die "the call is not relayed: $(grep -hE '^pair:' "$LAB_RUN/doctor.out" "$LAB_RUN/patient.out")"
    case $relay in
      *"$LAB_TURN_IP3"*) victim=$TURN3_PID; other="turn:$LAB_TURN_IP:3478?transport=udp" ;;
      *) victim=$(cat "$LAB_RUN/turnserver.pid"); other="turn:$LAB_TURN_IP3:3478?transport=udp" ;;
    esac
    echo "lab: [$name] killing the coturn relaying the $side's side: $relay (pid $victim)"
    kill -KILL "$victim"
    expect_flow doctor "the relay server killed"
    expect_flow patient "the relay server killed"
    call_wait_line "$side" "^relay: .* stopped carrying the call" 10 || true
    grep -qF "relay: $relay stopped carrying the call; it goes on " "$LAB_RUN/$side.out" ||
      fail "the $side did not name the dead relay server: $(grep '^relay:' "$LAB_RUN/$side.out" | tr '\n' '|')"
    echo "lab: [$name] $side: $(grep '^relay: .* stopped' "$LAB_RUN/$side.out" | head -1)"
    ;;
  interrupt-move)
    # host-a gets a second interface on nat-a's LAN (wired), then loses its
    # first address (Wi-Fi gone).
    ha=$(lab_ns_name host-a); na=$(lab_ns_name nat-a)
    t0=$(date +%s%3N)
    ip -n "$ha" link add eth1 type veth peer name h-host-a2 netns "$na"
    ip -n "$na" link set h-host-a2 master lan up
    ip -n "$ha" addr add 100.64.1.50/24 dev eth1
    ip -n "$ha" link set eth1 up
    ip -n "$ha" addr del 100.64.1.10/24 dev eth0
    ip -n "$ha" route replace default via 100.64.1.1 dev eth1
    echo "lab: [$name] host-a moved from 100.64.1.10 to 100.64.1.50"
    call_wait_line doctor '^reconnecting: the network changed' 10 || fail "the doctor did not notice the address change"
    echo "lab: [$name] move to ICE restart: $(($(date +%s%3N) - t0)) ms or less"
    expect_flow doctor "the doctor's address changed"
    expect_flow patient "the doctor's address changed"
    ;;
esac

sleep 2
for n in doctor patient; do
  grep -q '^ended:' "$LAB_RUN/$n.out" && fail "$n's call ended: $(grep '^ended:' "$LAB_RUN/$n.out")"
done
# The doctor hangs up (PID[] holds the namespace wrappers: signal medcall itself).
pkill -TERM -f "^$MEDCALL call --server" || true
wait "${PID[doctor]}" || fail "the doctor exited with $?"
wait "${PID[patient]}" || fail "the patient exited with $?"
for n in doctor patient; do
  echo "---- medcall $n ----"
  grep -Ev '^(channel|open|closed|track):' "$LAB_RUN/$n.out" || true
done
grep -q '^ended: the doctor ended the consultation' "$LAB_RUN/patient.out" || fail "the patient was not told the doctor ended it"
# After the interruption each side decoded the other's stamped video, in
# order (the figures of its last connection: at least 2 s of 15 fps).
for n in doctor patient; do
  decoded=$(jq '.video.framesDecoded' "$LAB_RUN/$n.json" 2>/dev/null || echo 0)
  order=$(jq '.video.stampsOutOfOrder' "$LAB_RUN/$n.json" 2>/dev/null || echo 1)
  echo "lab: [$name] $n decoded $decoded frames on its last connection"
  [ "${decoded:-0}" -ge 30 ] && [ "${order:-1}" -eq 0 ] || fail "$n decoded ${decoded:-0} frames (out of order ${order:-?})"
done
[ "$failures" -eq 0 ] && echo "lab: PASS [$name]"
[ "$failures" -eq 0 ]
