#!/usr/bin/env bash
# page_call.sh: the doctor's medcall app and the patient's real web page in
# headless Chromium hold a whole call through medcall-server and coturn, each
# behind a NAT (issue 6 item 6). Topology (lab.sh): medcall-server
# (doctor token, TURN REST credentials) and coturn on 203.0.113.10 in pub;
# the doctor (`medcall call --headless`, stamped pattern and a 440 Hz tone)
# on host-a behind an endpoint-independent NAT; the patient (page_call.js:
# node driving Chromium, stamped canvas and a 660 Hz tone as its camera and
# microphone) on host-b behind a symmetric NAT, so only a relay can carry
# the call. The doctor hangs up after LAB_PAGE_SECONDS (25) connected.
# Asserted here (page_call.js asserts the page's side, see there): both exit
# 0; medcall prints `state: connected` and a `pair:` with a relay; medcall
# decoded at least LAB_PAGE_MEDCALL_MIN_FRAMES (300) of the page's frames
# and at least 90% of those the page had sent when the call ended, read the page's
# stamps in order, and hears the 660 Hz tone; the page's verification code
# (when room.js shows one) is medcall's `verify:` code; no secret in a log;
# the browser leaves no process behind in the patient's namespace. The page
# must have decoded LAB_PAGE_BROWSER_MIN_FRAMES (250) of medcall's frames
# by its sample at LAB_PAGE_SECONDS - 7 s.
# page-call-tcp: ICE-TCP (RFC 6544; issue 16 item 4) with the same media
# checks. No TURN server is configured anywhere; the doctor has a public
# address, the patient sits behind an endpoint-independent NAT that drops
# all UDP, so only a TCP connection between the two hosts can carry the
# call. Chromium 156 offers only active TCP candidates (port 9; it listens
# nowhere), so its active candidate connects to medcall's passive one and
# medcall learns it as peer-reflexive: medcall must print `pair: host prflx
# tcp` and log the accepted connection, the page's selected pair must be
# TCP on both ends and the page show "direct". The call is shorter (15 s).
# (medcall's active side is in call.sh call-tcp, medcall against medcall.)
# Usage: page_call.sh [page-call-relay|page-call-tcp].
# Env: MEDCALL, MEDCALL_SERVER, MEDCALL_WEB_ROOT (meson sets them), CHROMIUM
# (/usr/bin/chromium), LAB_KEEP=1 keeps $LAB_RUN. Without root: skipped (77);
# without Chromium, node or tests/interop/node_modules: skipped, failed in CI.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lab.sh
source "$here/lab.sh"
# shellcheck source=scenarios.sh
source "$here/scenarios.sh"

name=${1:-page-call-relay}
case $name in
  page-call-relay) tcp=0 ;;
  page-call-tcp) tcp=1 ;;
  *) echo "unknown test $name" >&2; exit 1 ;;
esac
lab_require
missing() {
  [ "${CI:-}" = "true" ] && lab_die "$1 (CI must provide it: scripts/install-deps.sh, scripts/test.sh)"
  echo "lab: SKIP: $1" >&2
  exit 77
}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || missing "no Chromium at $CHROMIUM"
command -v node >/dev/null 2>&1 || missing "no node"
[ -f "$here/../interop/node_modules/puppeteer-core/package.json" ] ||
  missing "no puppeteer-core in tests/interop/node_modules (cd tests/interop && npm ci --ignore-scripts)"
command -v jq >/dev/null 2>&1 || lab_die "jq not found"
[ -x "${MEDCALL:-}" ] && [ -x "${MEDCALL_SERVER:-}" ] || lab_die "MEDCALL and MEDCALL_SERVER must name the binaries"
WEB_ROOT=${MEDCALL_WEB_ROOT:-$here/../../assets/web}
[ -f "$WEB_ROOT/room.html" ] || lab_die "no patient page in $WEB_ROOT"

if [ "$tcp" = 1 ]; then
  SECONDS_CALL=${LAB_PAGE_SECONDS:-15}
  MIN_FRAMES=${LAB_PAGE_MEDCALL_MIN_FRAMES:-180}
  PAGE_MIN=${LAB_PAGE_BROWSER_MIN_FRAMES:-120}
else
  SECONDS_CALL=${LAB_PAGE_SECONDS:-25}
  MIN_FRAMES=${LAB_PAGE_MEDCALL_MIN_FRAMES:-300}
  PAGE_MIN=${LAB_PAGE_BROWSER_MIN_FRAMES:-250}
fi
SERVER_PORT=8443
lab_init
failures=0
fail() { echo "lab: FAIL [$name]: $*" >&2; failures=$((failures + 1)); }
# On an early failure (lab_die, a timeout), show what the three said, then
# let lab.sh tear everything down.
page_trap() {
  local rc=$? f
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ -z "${LAB_DUMPED:-}" ] && [ -n "$LAB_RUN" ]; then
    for f in doctor.out doctor.err page.out server.out; do
      echo "---- $f (last 40 lines) ----"; tail -n 40 "$LAB_RUN/$f" 2>/dev/null || true
    done
  fi
  # lab_exit_trap takes the status from $?; errexit would end the shell at
  # the (exit) and skip the clean-up.
  set +e
  (exit "$rc")
  lab_exit_trap
}
trap page_trap EXIT

TOKEN=$(openssl rand -hex 16)
turn_args=()
case $name in
  page-call-relay)
    topo_two_nat eim symmetric
    lab_turn_start secret
    turn_args=(--turn-url "turn:$LAB_TURN_IP:3478?transport=udp") ;;
  # No coturn and no TURN URL: nothing but the two hosts themselves.
  page-call-tcp) topo_public_nat eim; lab_block_udp nat-b ;;
esac
# Secrets in files, not on command lines.
printf 'doctor-token = %s\n' "$TOKEN" >"$LAB_RUN/server.conf"
[ "$tcp" = 1 ] || printf 'turn-secret = %s\n' "$LAB_AUTH_SECRET" >>"$LAB_RUN/server.conf"
printf 'token = %s\n' "$TOKEN" >"$LAB_RUN/doctor.conf"
chmod 600 "$LAB_RUN/server.conf" "$LAB_RUN/doctor.conf"
pub=$(lab_ns_name pub)
ip netns exec "$pub" "$MEDCALL_SERVER" --config "$LAB_RUN/server.conf" --listen "$LAB_TURN_IP:$SERVER_PORT" \
  --state-dir "$LAB_RUN/server-state" --web-root "$WEB_ROOT" \
  "${turn_args[@]}" >"$LAB_RUN/server.out" 2>&1 &
LAB_TURN_PIDS+=($!)
for i in $(seq 1 100); do
  lab_exec pub timeout 1 bash -c "exec 3<>/dev/tcp/$LAB_TURN_IP/$SERVER_PORT" 2>/dev/null && break
  [ "$i" = 100 ] && lab_die "medcall-server does not listen on $LAB_TURN_IP:$SERVER_PORT"
  sleep 0.05
done

lab_exec host-a env MEDCALL_LOG="${MEDCALL_LOG:-info}" XDG_STATE_HOME="$LAB_RUN/doctor-state" SDL_AUDIODRIVER=dummy \
  stdbuf -oL timeout 150 "$MEDCALL" call --server "wss://$LAB_TURN_IP:$SERVER_PORT/ws" --config "$LAB_RUN/doctor.conf" \
  --insecure --headless --video-source pattern --audio-source tone:440 --duration "$SECONDS_CALL" \
  --stats-json "$LAB_RUN/doctor.json" >"$LAB_RUN/doctor.out" 2>"$LAB_RUN/doctor.err" &
doctor_pid=$!
for i in $(seq 1 400); do
  grep -q '^link: ' "$LAB_RUN/doctor.out" 2>/dev/null && break
  kill -0 "$doctor_pid" 2>/dev/null && [ "$i" != 400 ] || lab_die "the doctor printed no link"
  sleep 0.05
done
link=$(grep -m1 '^link: ' "$LAB_RUN/doctor.out" | cut -d' ' -f2)
lab_log "[$name] doctor's link ${link%/r/*}/r/<room>"

expect_path=relay
[ "$tcp" = 1 ] && expect_path=tcp
# The patient: node and Chromium in host-b's namespace (no route out of the lab).
lab_exec host-b env CHROMIUM="$CHROMIUM" RESULT="$LAB_RUN/page.json" SERVER_CERT="$LAB_RUN/server-state/cert.pem" \
  WORK="$LAB_RUN" WEB_ROOT="$WEB_ROOT" PAGE_SAMPLE_SECONDS=$((SECONDS_CALL - 7)) PAGE_MIN_FRAMES="$PAGE_MIN" \
  PAGE_EXPECT_PATH="$expect_path" \
  timeout 170 node "$here/page_call.js" "$link" >"$LAB_RUN/page.out" 2>&1 &
page_pid=$!

rc_page=0; wait "$page_pid" || rc_page=$?
rc_doctor=0; wait "$doctor_pid" || rc_doctor=$?
LAB_DUMPED=1
echo "---- patient page (node + Chromium) exit=$rc_page ----"
grep -v '^\[interop\] sample at' "$LAB_RUN/page.out" || true
echo "---- medcall doctor exit=$rc_doctor ----"
grep -Ev '^(channel|open|closed):' "$LAB_RUN/doctor.out" || true
[ "$rc_page" = 0 ] || fail "the patient page's checks failed (exit $rc_page)"
[ "$rc_doctor" = 0 ] || { fail "the doctor exited with status $rc_doctor"; tail -n 30 "$LAB_RUN/doctor.err"; }

left=$(ip netns pids "$(lab_ns_name host-b)" 2>/dev/null | tr '\n' ' ')
[ -z "$left" ] || fail "processes left in the patient's namespace after the browser closed: $left"

grep -q '^state: connected' "$LAB_RUN/doctor.out" || fail "the doctor never printed 'state: connected'"
pair=$(grep -E '^pair: ' "$LAB_RUN/doctor.out" | tail -n 1 || true)
if [ "$tcp" = 1 ]; then
  [[ "$pair" =~ ^pair:\ (host|prflx)\ (host|prflx)\ tcp$ ]] || fail "the doctor's selected pair is not a direct TCP one: '$pair'"
  # Chromium's active candidate connected to medcall's passive one, which
  # knows it as peer-reflexive.
  [[ "$pair" =~ ^pair:\ host\ prflx ]] || fail "medcall did not accept Chromium's connection: '$pair'"
  grep -q 'tcp connection accepted' "$LAB_RUN/doctor.err" || fail "medcall's log shows no accepted TCP connection"
else
  [[ "$pair" =~ relay ]] || fail "the doctor's selected pair has no relay: '$pair'"
fi

if [ -s "$LAB_RUN/doctor.json" ]; then
  d=$LAB_RUN/doctor.json
  jq -c '{video: (.video | {framesDecoded, stampsRead, stampErrors, stampsOutOfOrder, frameWidth, frameHeight, glassToGlassP50Ms, glassToGlassP95Ms, maxFrameGapMs, framesDroppedBeforeDecode, framesWaitingKeyFrame}), videoIn: ([.tracks[] | select(.kind == "video" and .receiving) | {framesReceived, packetsLost, nackCount, pliCount}]), audio: (.audio | {packetsReceived, dominantHz, dominantPower, framesPlayed, concealedFrames})}' "$d"
  decoded=$(jq '.video.framesDecoded' "$d")
  page_sent=$(jq '.sentBeforeEnd // 0' "$LAB_RUN/page.json" 2>/dev/null || echo 0)
  echo "lab: [$name] medcall decoded $decoded of the $page_sent frames the page had sent when the call ended"
  [ "$decoded" -ge "$MIN_FRAMES" ] || fail "medcall decoded only $decoded of the page's frames (want >= $MIN_FRAMES)"
  [ "$page_sent" -gt 0 ] && [ $((decoded * 100)) -ge $((page_sent * 90)) ] ||
    fail "medcall decoded $decoded, under 90% of the $page_sent frames the page sent"
  [ "$(jq '.video.stampsOutOfOrder' "$d")" = 0 ] || fail "medcall read the page's stamps out of order"
  [ "$(jq '.video.stampsRead' "$d")" -ge $((decoded * 9 / 10)) ] || fail "medcall read the stamps of under 90% of the page's frames"
  jq -e '.audio.packetsReceived > 0 and .audio.dominantHz > 648 and .audio.dominantHz < 672' "$d" >/dev/null ||
    fail "medcall did not hear the page's 660 Hz tone: $(jq -c .audio "$d")"
else
  fail "the doctor wrote no statistics"
fi

code_doctor=$(grep -E '^verify: ' "$LAB_RUN/doctor.out" | tail -n 1 | cut -d' ' -f2- || true)
[[ "$code_doctor" =~ ^[0-9]{3}\ [0-9]{3}$ ]] || fail "the doctor printed no verification code: '$code_doctor'"
if [ -s "$LAB_RUN/page.json" ] && [ "$(jq '.verify != null' "$LAB_RUN/page.json")" = true ]; then
  code_page=$(jq -r '.verify.shown // .verify.api // ""' "$LAB_RUN/page.json")
  echo "lab: [$name] verification code: doctor '$code_doctor', page '$code_page'"
  [ "${code_page//[^0-9]/}" = "${code_doctor//[^0-9]/}" ] || fail "the page's code '$code_page' is not the doctor's '$code_doctor'"
else
  echo "lab: [$name] the page shows no verification code (room.js has none): not compared"
fi

for f in "$LAB_RUN"/*.out "$LAB_RUN"/*.err; do
  if [ -n "$LAB_AUTH_SECRET" ] && [ "$tcp" = 0 ] && grep -qF -- "$LAB_AUTH_SECRET" "$f"; then fail "the TURN secret appears in $(basename "$f")"; fi
  if grep -qF -- "$TOKEN" "$f"; then fail "the doctor token appears in $(basename "$f")"; fi
done

[ "$failures" = 0 ] || exit 1
echo "lab: PASS [$name]"
