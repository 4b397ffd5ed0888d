#!/usr/bin/env bash
# call.sh NAME: a whole medcall call in the lab. medcall-server and coturn run
# on the "public internet"; `medcall call` (the doctor) and `medcall join`
# (the patient) run on hosts behind NAT routers. Each side sends a stream of
# bytes on its own data channel "bulk" with backpressure (--send-bytes) and
# the other prints the SHA-256 of what arrived: they must match both ways.
#   call-symmetric-relay: both NATs symmetric: only the relay can carry the
#   call (TURN REST credentials handed out by medcall-server).
#   call-eim: both NATs endpoint-independent: a direct (reflexive) path.
# Media scenarios: each side sends the stamped pattern (VP8) and a tone
# (Opus; doctor 440 Hz, patient 660 Hz) for a few seconds instead; each must
# decode the other's frames with their stamps in order and hear its tone.
#   call-media-relay: symmetric NATs, through the relay.
#   call-media-loss: endpoint-independent NATs; nat-a drops 5% of UDP at
#   random both ways (iptables statistic: this kernel has no netem): NACK and
#   RTX must keep at least 95% of the frames decoded, and lost audio frames
#   are rebuilt from the next packet's Opus in-band FEC.
#   call-media-embedded: no medcall-server: the doctor's medcall runs it
#   built in (host-a), the patient on the same LAN opens its link. The
#   patient speaks through its microphone and hears on its speakers (SDL's
#   disk audio driver: a 523 Hz tone in 200 ms syllables in, a file out),
#   with echo cancellation and noise suppression on the way.
#   call-media-burst: nat-a drops everything for 300 ms mid-call: the
#   longest gap between decoded frames stays under 1.3 s (the outage, then
#   repair or a key frame within a second).
#   call-reconnect: endpoint-independent NATs; 5 s after connecting, the
#   patient's NAT (nat-b) drops all forwarded UDP for LAB_CUT_SECONDS (6 s):
#   both must print `state: disconnected`, the doctor (the offerer)
#   `reconnecting: ice restart`, both `state: connected` again after the
#   cut, exit 0, and decode the other's frames after the restore (stamps in
#   order, decoded/sent above what the call minus the outage allows). Prints
#   the time from the cut to each side's disconnected and from the restore
#   to each side's connected.
#   call-tcp: ICE-TCP (RFC 6544; issue 16 item 4): no TURN server anywhere;
#   the doctor behind an endpoint-independent NAT that drops all UDP, the
#   patient on a public address. Only the doctor's active TCP candidate
#   connecting to the patient's passive one can carry the call: the bytes
#   must match both ways, the doctor print `pair: prflx host tcp` (its
#   active candidate as the NAT maps it) and the patient `pair: host prflx
#   tcp` (it learns the active candidate on the connection it accepted).
#   call-turn-wrong-secret: symmetric NATs, and medcall-server's
#   --turn-secret is not coturn's (a clinic's likely mistake): every
#   allocation meets 401, no path works. The patient (--lang ko) gives up
#   with exit 1 and one Korean sentence that names the TURN server and its
#   401 (stdout still says "ended: failed"); the doctor logs the same
#   server problem and keeps the room.
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

names="call-symmetric-relay call-eim call-tcp call-media-relay call-media-loss call-media-burst call-media-embedded call-reconnect"
names+=" call-turn-wrong-secret"
if [ "${1:-}" = "--list" ]; then printf '%s\n' $names; exit 0; fi
name=${1:?usage: call.sh NAME (--list for names)}
case " $names " in *" $name "*) ;; *) echo "unknown test $name; one of: $names" >&2; exit 1 ;; esac
lab_require
[ -x "${MEDCALL:-}" ] && [ -x "${MEDCALL_SERVER:-}" ] || lab_die "MEDCALL and MEDCALL_SERVER must name the binaries"

BYTES=${LAB_CALL_BYTES:-3000000}
lab_init
failures=0
fail() { echo "lab: FAIL [$name]: $*" >&2; failures=$((failures + 1)); }

case $name in
  call-symmetric-relay|call-media-relay|call-turn-wrong-secret) topo_two_nat symmetric symmetric ;;
  call-eim|call-media-loss|call-media-burst) topo_two_nat eim eim ;;
  # LAB_RECONNECT_NATS="symmetric symmetric" runs it through the relay.
  call-reconnect) read -r nat_a nat_b <<<"${LAB_RECONNECT_NATS:-eim eim}"; topo_two_nat "$nat_a" "$nat_b" ;;
  call-media-embedded) topo_same_lan ;;
  call-tcp) topo_nat_public eim; lab_block_udp nat-a ;;
esac
if [ "$name" = call-tcp ]; then CALL_NO_TURN=1 call_server_start
else
  lab_turn_start secret
  if [ "$name" = call-turn-wrong-secret ]; then call_server_start --turn-secret "not-$LAB_AUTH_SECRET"
  else call_server_start; fi
fi
SERVER_PORT=$CALL_SERVER_PORT

# Shorter names for call_lib.sh's helpers, as this file uses them throughout.
start() { call_start "$@"; }
wait_line() { call_wait_line "$@"; }
line() { call_line "$@"; }

# count NAME REGEX: lines of NAME's output matching REGEX.
count() { grep -Ec "$2" "$LAB_RUN/$1.out" 2>/dev/null || true; }
# wait_count NAME REGEX N SECONDS: until REGEX matched N lines; prints the
# milliseconds it took (the poll is 20 ms).
wait_count() {
  local t0 i
  t0=$(date +%s%3N)
  for i in $(seq 1 $(($4 * 50))); do
    if [ "$(count "$1" "$2")" -ge "$3" ]; then echo $(($(date +%s%3N) - t0)); return 0; fi
    sleep 0.02
  done
  echo -1
}

# mono: CLOCK_MONOTONIC in seconds, the clock of medcall's log lines.
mono() { perl -MTime::HiRes=clock_gettime,CLOCK_MONOTONIC -e 'printf "%.3f\n", clock_gettime(CLOCK_MONOTONIC)'; }
# ms_between FROM TO: milliseconds, or "none" when TO is empty.
ms_between() { [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%d\n", (b - a) * 1000 }' || echo none; }

if [ "$name" = call-turn-wrong-secret ]; then
  XDG_STATE_HOME=$LAB_RUN/doctor-state start doctor host-a call --server "wss://$LAB_TURN_IP:$SERVER_PORT/ws" \
    --insecure --headless --video-source pattern --audio-source tone:440
  wait_line doctor '^link: ' 20 || lab_die "the doctor printed no link"
  link=$(line doctor 'link: ' | cut -d' ' -f2)
  start patient host-b --lang ko join "$link" --insecure --name "lab patient" --headless --video-source pattern \
    --audio-source tone:660
  rc=0; wait "${PID[patient]}" || rc=$?
  # The patient gave up (ICE failed); the doctor keeps the room for it.
  wait_line doctor '^away: the patient left' 20 || fail "the doctor did not see the patient leave"
  kill "${PID[doctor]}" 2>/dev/null; wait "${PID[doctor]}" 2>/dev/null || true
  for n in doctor patient; do echo "---- medcall $n ----"; cat "$LAB_RUN/$n.out"; grep -v '^[0-9-]*T[0-9:.]*Z ' "$LAB_RUN/$n.err" || true; done
  [ "$rc" = 1 ] || fail "the patient exited with status $rc, wanted 1"
  grep -q '^ended: failed$' "$LAB_RUN/patient.out" || fail "the patient's stdout does not end with 'ended: failed'"
  grep -qF "medcall: 통화에 실패했습니다: 상대방에게 가는 네트워크 경로가 하나도 통하지 않았습니다(ICE 실패). TURN 서버 $LAB_TURN_IP:3478이(가) 사용자 이름이나 비밀번호를 거부했습니다(401 Unauthorized)" \
    "$LAB_RUN/patient.err" || fail "the patient's stderr does not name the TURN server's 401 (in Korean)"
  grep -qF "pc: ice server problem: TURN server $LAB_TURN_IP:3478 rejected the username or password (401 Unauthorized)" \
    "$LAB_RUN/doctor.err" || fail "the doctor's log does not name the TURN server's 401"
  if grep -qi -- "$LAB_AUTH_SECRET" "$LAB_RUN"/*.err "$LAB_RUN"/*.out 2>/dev/null; then fail "the TURN secret appears in a log"; fi
  LAB_DUMPED=1
  [ "$failures" = 0 ] || exit 1
  echo "lab: PASS [$name]"
  exit 0
fi

case $name in call-media-*|call-reconnect)
  MEDIA_SECONDS=${LAB_MEDIA_SECONDS:-10}
  [ "$name" = call-reconnect ] && MEDIA_SECONDS=${LAB_MEDIA_SECONDS:-25}
  server_args=(--server "wss://$LAB_TURN_IP:$SERVER_PORT/ws" --insecure)
  [ "$name" = call-media-embedded ] && server_args=()
  XDG_STATE_HOME=$LAB_RUN/doctor-state start doctor host-a call "${server_args[@]}" --headless \
    --video-source pattern --audio-source tone:440 --duration "$MEDIA_SECONDS" --stats-json "$LAB_RUN/doctor.json"
  wait_line doctor '^link: ' 20 || lab_die "the doctor printed no link"
  link=$(line doctor 'link: ' | cut -d' ' -f2)
  # Both get the same duration: each stops sending, keeps receiving for a
  # second, then hangs up, so every frame sent can be counted.
  patient_audio=(--headless --audio-source tone:660)
  patient_hz=660
  if [ "$name" = call-media-embedded ]; then
    perl -e 'for $i (0 .. 48000 * 30) { $e = int($i / 9600) % 2 ? 0 : 1;
             print pack("s<", int(8000 * $e * sin(2 * 3.14159265358979 * 523 * $i / 48000))) }' >"$LAB_RUN/mic.raw"
    patient_audio=(--audio-source mic)
    patient_hz=523
  fi
  SDL_AUDIODRIVER=disk SDL_DISKAUDIOFILEIN=$LAB_RUN/mic.raw SDL_DISKAUDIOFILE=$LAB_RUN/speaker.raw \
    start patient host-b join "$link" --insecure --name "lab patient" "${patient_audio[@]}" \
    --video-source pattern --duration "$MEDIA_SECONDS" --stats-json "$LAB_RUN/patient.json"
  wait_line doctor '^state: connected' 20 || fail "the doctor did not connect"
  natns=$(lab_ns_name nat-a)
  if [ "$name" = call-reconnect ]; then
    CUT_SECONDS=${LAB_CUT_SECONDS:-6}
    wait_line patient '^state: connected' 20 || fail "the patient did not connect"
    sleep 5
    nbns=$(lab_ns_name nat-b)
    cd0=$(count doctor '^state: disconnected'); cp0=$(count patient '^state: disconnected')
    cc0=$(count doctor '^state: connected'); pc0=$(count patient '^state: connected')
    # iptables takes ~0.2 s here: the rule changes somewhere between the
    # two readings of the clock, so figures are given as a range.
    t_cut0=$(mono)
    ip netns exec "$nbns" iptables -I FORWARD 1 -p udp -j DROP
    t_cut=$(mono)
    sleep "$CUT_SECONDS"
    t_restore0=$(mono)
    ip netns exec "$nbns" iptables -D FORWARD -p udp -j DROP
    t_restore=$(mono)
    echo "lab: [$name] nat-b dropped forwarded UDP from $t_cut0..$t_cut to $t_restore0..$t_restore (CLOCK_MONOTONIC s)"
    # The longest the outage can have been, for the media checks below.
    outage_ms=$(ms_between "$t_cut0" "$t_restore")
    for n in doctor patient; do
      c0=$cc0; d0=$cd0
      [ $n = patient ] && { c0=$pc0; d0=$cp0; }
      wait_count $n '^state: connected' $((c0 + 1)) 20 >/dev/null
      [ "$(count $n '^state: disconnected')" -gt "$d0" ] || fail "$n did not print 'state: disconnected' during the ${CUT_SECONDS} s cut"
      [ "$(count $n '^state: connected')" -gt "$c0" ] || fail "$n did not print 'state: connected' within 20 s of the restore"
      # Figures from the log's own clock (CLOCK_MONOTONIC, as mono): the pc
      # state lines after the cut.
      d=$(awk -v t="$t_cut" '$1 >= t && / pc: state from=.* to=disconnected/ {print $1; exit}' "$LAB_RUN/$n.err")
      b=$(awk -v t="$t_cut" '$1 >= t && / pc: state from=.* to=connected/ {print $1; exit}' "$LAB_RUN/$n.err")
      echo "lab: [$name] $n: cut -> disconnected ms=$(ms_between "$t_cut" "$d")..$(ms_between "$t_cut0" "$d")," \
        "restore -> connected ms=$(ms_between "$t_restore" "$b")..$(ms_between "$t_restore0" "$b")"
    done
  fi
  case $name in
    call-media-loss)
      ip netns exec "$natns" iptables -I FORWARD 1 -p udp -m statistic --mode random --probability 0.05 -j DROP ;;
    call-media-burst)
      sleep 4
      ip netns exec "$natns" iptables -I FORWARD 1 -p udp -j DROP
      sleep 0.3
      ip netns exec "$natns" iptables -D FORWARD -p udp -j DROP ;;
  esac
  declare -A RC=()
  for n in doctor patient; do rc=0; wait "${PID[$n]}" || rc=$?; RC[$n]=$rc; done
  for n in doctor patient; do
    echo "---- medcall $n exit=${RC[$n]} ----"
    grep -Ev '^(channel|open|closed):' "$LAB_RUN/$n.out" || true
    [ "${RC[$n]}" = 0 ] || { fail "$n exited with status ${RC[$n]}"; tail -n 30 "$LAB_RUN/$n.err"; }
    [ -s "$LAB_RUN/$n.json" ] || { fail "$n wrote no statistics"; continue; }
    jq -c '{video, audio, tracks: [.tracks[] | {kind, framesSent, framesReceived, packetsLost, nackCount, pliCount, retransmittedPacketsSent, currentRoundTripTime}]}' "$LAB_RUN/$n.json"
  done
  # check RECEIVER SENDER HZ
  check_media() {
    local r=$LAB_RUN/$1.json s=$LAB_RUN/$2.json sent decoded
    sent=$(jq '[.tracks[] | select(.kind == "video" and .sending) | .framesSent] | add // 0' "$s")
    decoded=$(jq '.video.framesDecoded' "$r")
    [ "$sent" -gt 0 ] && [ $((decoded * 100)) -ge $((sent * ${MIN_PCT:-90})) ] ||
      fail "$1 decoded $decoded of the $sent frames $2 sent (want ${MIN_PCT:-90}%)"
    [ "$(jq '.video.stampsOutOfOrder' "$r")" = 0 ] || fail "$1 read stamps out of order"
    [ "$(jq '.video.stampsRead' "$r")" -ge $((decoded * 9 / 10)) ] || fail "$1 read too few stamps"
    jq -e ".audio.dominantHz > $3 - 12 and .audio.dominantHz < $3 + 12" "$r" >/dev/null ||
      fail "$1 did not hear the $3 Hz tone: $(jq -c .audio "$r")"
  }
  MIN_PCT=90
  [ "$name" = call-media-loss ] && MIN_PCT=95
  # The outage (as measured: iptables itself can take a while on a busy
  # machine), then the restart and a key frame: at most outage + 4 s of the
  # call's frames may be missing. Before the cut (5 s) only about a fifth
  # of them went out, so this needs media after it.
  [ "$name" = call-reconnect ] && MIN_PCT=$(( (MEDIA_SECONDS * 1000 - outage_ms - 4000) * 100 / (MEDIA_SECONDS * 1000) ))
  check_media patient doctor 440
  check_media doctor patient "$patient_hz"
  pair_d=$(line doctor 'pair: ')
  if [ "$name" = call-media-embedded ]; then
    [[ "$(line doctor 'link: ')" =~ ^link:\ https://100\.64\.1\.10: ]] ||
      fail "the built-in server's link does not name the doctor's LAN address: $(line doctor 'link: ')"
    played=$(stat -c %s "$LAB_RUN/speaker.raw" 2>/dev/null || echo 0)
    [ "$played" -gt $((48000 * 2 * 2)) ] || fail "the patient's speakers played only $played bytes"
  elif [ "$name" = call-reconnect ]; then
    grep -q '^reconnecting: ice restart' "$LAB_RUN/doctor.out" || fail "the doctor did not print 'reconnecting: ice restart'"
    for n in doctor patient; do
      last=$(grep -E '^state: ' "$LAB_RUN/$n.out" | grep -v 'state: closed' | tail -n 1)
      [ "$last" = "state: connected" ] || fail "$n: the last state before hanging up was '$last'"
      gap=$(jq '.video.maxFrameGapMs' "$LAB_RUN/$n.json")
      echo "lab: [$name] $n: longest gap between decoded frames ms=$gap"
      [ "$gap" -lt $((outage_ms + 4000)) ] || fail "$n: frames stopped for $gap ms (outage $outage_ms ms + at most 4 s)"
    done
  elif [ "$name" = call-media-relay ]; then
    [[ "$pair_d $(line patient 'pair: ')" =~ relay ]] || fail "expected a relay in the selected pairs"
  elif [ "$name" = call-media-loss ]; then
    for n in doctor patient; do
      [ "$(jq '[.tracks[] | select(.kind == "video" and .receiving) | .nackCount] | add // 0' "$LAB_RUN/$n.json")" -gt 0 ] ||
        fail "$n sent no NACK under loss"
      [ "$(jq '[.tracks[] | select(.kind == "video" and .sending) | .retransmittedPacketsSent] | add // 0' "$LAB_RUN/$n.json")" -gt 0 ] ||
        fail "$n retransmitted nothing (RTX) under loss"
      [ "$(jq '[.tracks[] | select(.kind == "video" and .receiving) | .retransmittedPacketsReceived] | add // 0' "$LAB_RUN/$n.json")" -gt 0 ] ||
        fail "$n received no repair (RTX) under loss"
      [ "$(jq '.audio.fecFrames' "$LAB_RUN/$n.json")" -gt 0 ] ||
        fail "$n rebuilt no lost audio frame from Opus in-band FEC"
    done
  else
    for n in doctor patient; do
      gap=$(jq '.video.maxFrameGapMs' "$LAB_RUN/$n.json")
      [ "$gap" -lt 1300 ] || fail "$n: the longest gap between decoded frames was $gap ms (300 ms outage + at most 1 s)"
    done
  fi
  LAB_DUMPED=1
  [ "$failures" = 0 ] || exit 1
  echo "lab: PASS [$name]"
  exit 0
  ;;
esac

start doctor host-a call --server "wss://$LAB_TURN_IP:$SERVER_PORT/ws" --insecure --send-bytes "$BYTES"
wait_line doctor '^link: ' 20 || lab_die "the doctor printed no link"
link=$(line doctor 'link: ' | cut -d' ' -f2)
start patient host-b join "$link" --insecure --name "lab patient" --send-bytes "$BYTES"

for n in doctor patient; do
  wait_line $n '^received: ' 60 || fail "$n: nothing received on the peer's bulk channel"
done
# The doctor hangs up (SIGTERM, as Ctrl-C): both end with status 0. The
# signal goes to medcall itself, the child of `timeout`.
kill -TERM "$(pgrep -P "${PID[doctor]}" | head -n 1)" 2>/dev/null || true
declare -A RC=()
for n in doctor patient; do
  rc=0; wait "${PID[$n]}" || rc=$?; RC[$n]=$rc
done

for n in doctor patient; do
  echo "---- medcall $n exit=${RC[$n]} ----"
  grep -Ev '^(channel|open|closed):' "$LAB_RUN/$n.out" || true
  [ "${RC[$n]}" = 0 ] || { fail "$n exited with status ${RC[$n]}"; tail -n 30 "$LAB_RUN/$n.err"; }
  grep -q '^state: connected' "$LAB_RUN/$n.out" || fail "$n never connected"
done
sent_d=$(line doctor 'sent: ' | cut -d' ' -f2-); got_p=$(line patient 'received: ' | cut -d' ' -f2-)
sent_p=$(line patient 'sent: ' | cut -d' ' -f2-); got_d=$(line doctor 'received: ' | cut -d' ' -f2-)
[ -n "$sent_d" ] && [ "$sent_d" = "$got_p" ] || fail "doctor->patient: sent '$sent_d', received '$got_p'"
[ -n "$sent_p" ] && [ "$sent_p" = "$got_d" ] || fail "patient->doctor: sent '$sent_p', received '$got_d'"
[ "$sent_d" = "$BYTES bytes sha256 $(cut -d' ' -f4 <<<"$sent_d")" ] || fail "doctor sent other than $BYTES bytes"
pair_d=$(line doctor 'pair: '); pair_p=$(line patient 'pair: ')
case $name in
  call-symmetric-relay)
    [[ "$pair_d $pair_p" =~ relay ]] || fail "expected a relay in the selected pairs: '$pair_d' '$pair_p'" ;;
  call-eim)
    [[ "$pair_d $pair_p" =~ relay ]] && fail "a relay was selected where a direct path exists: '$pair_d' '$pair_p'"
    [[ "$pair_d" =~ srflx|prflx ]] || fail "doctor: expected a reflexive candidate: '$pair_d'" ;;
  call-tcp)
    # Behind its NAT the doctor's active candidate is seen as the NAT's
    # address: a local peer-reflexive candidate (RFC 8445 7.2.5.3.1).
    [[ "$pair_d" =~ ^pair:\ (host|prflx)\ host\ tcp$ ]] ||
      fail "doctor: expected its active TCP candidate to the patient's passive one: '$pair_d'"
    [ "$pair_p" = "pair: host prflx tcp" ] || fail "patient: expected the doctor's connection it accepted: '$pair_p'"
    grep -q 'tcp connection accepted' "$LAB_RUN/patient.err" || fail "the patient's log shows no accepted TCP connection" ;;
esac
grep -q "sha256" "$LAB_RUN/doctor.err" "$LAB_RUN/patient.err" && fail "a log line carries a digest"
if [ -n "$LAB_AUTH_SECRET" ] && grep -qi -- "$LAB_AUTH_SECRET" "$LAB_RUN"/*.err "$LAB_RUN"/*.out 2>/dev/null; then
  fail "the TURN secret appears in a log"
fi

LAB_DUMPED=1
[ "$failures" = 0 ] || exit 1
echo "lab: PASS [$name]"
