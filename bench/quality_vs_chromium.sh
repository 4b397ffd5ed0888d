#!/usr/bin/env bash
# Benchmark (issue 7 item 5): call quality under the lab's impairment
# profiles, medcall against Chromium in the same run. Prints one table;
# never fails on a figure.
#
#   sudo bash bench/quality_vs_chromium.sh [--profiles clean,rate500k] [--calls mm,mc,cc]
#
# One lab (tests/lab/lab.sh, topo_two_nat eim eim: doctor on host-a behind
# nat-a, patient on host-b behind nat-b), coturn and medcall-server (open
# rooms, the patient page, TURN REST credentials) on 203.0.113.10. For each
# profile (tests/lab/impair.sh: clean loss5 lossy-rtt rate500k drop300k
# burst10) three calls, one after the other:
#   mm  medcall doctor (`call`)          - medcall patient (`join`)
#   mc  medcall doctor (`call`)          - the real patient page in Chromium
#   cc  a Chromium page on the signaling - the real patient page in Chromium
#       protocol (tests/interop/pages.js)
#   mr  as mm, both with MEDCALL_TEST_REMB_ONLY=1: goog-remb without
#       transport-cc, each estimating on the receive side (issue 16)
# (--calls mm,mc,cc,mr; mr is not run unless named)
# (the Chromium sides: bench/quality_pages.js, each node + Chromium in its
# host's namespace as tests/lab/page_call.js). Both ends send a stamped
# pattern at 640x480, 30 fps and a tone; medcall with --bitrate MAX_KBPS
# (its cap; its estimator starts at 300 kbit/s), Chromium with maxBitrate
# MAX_KBPS and x-google-start-bitrate START_KBPS. Once both ends are
# connected the profile is applied on nat-b (the patient's router), both
# ways; drop300k drops to 300 kbit/s 12 s later for 15 s. A call lasts
# QBENCH_SECONDS (30) after connecting, drop300k QBENCH_DROP_SECONDS (40).
# Figures (per call and direction): see the legend under the table and
# bench/README.md.
#
# Env: MEDCALL, MEDCALL_SERVER, LAB_DELAYER (default: BUILD/src/app/medcall,
# BUILD/src/server/medcall-server, BUILD/tests/lab/delayer with BUILD
# (build) relative to the source root), MEDCALL_WEB_ROOT (assets/web),
# CHROMIUM (/usr/bin/chromium), QBENCH_MAX_KBPS (1500), QBENCH_START_KBPS
# (300), LAB_KEEP=1 keeps the run directory (every call's JSON).
# Needs root (network namespaces, iptables, tc), node, Chromium and
# tests/interop/node_modules (puppeteer-core).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
lab=$root/tests/lab
# shellcheck source=tests/lab/lab.sh
source "$lab/lab.sh"
# shellcheck source=tests/lab/scenarios.sh
source "$lab/scenarios.sh"
# shellcheck source=tests/lab/impair.sh
source "$lab/impair.sh"
# shellcheck source=tests/lab/call_lib.sh
source "$lab/call_lib.sh"

profiles=$LAB_IMPAIR_PROFILES
calls="mm mc cc"
while [ $# -gt 0 ]; do
  case $1 in
    --profiles) profiles=${2//,/ }; shift 2 ;;
    --calls) calls=${2//,/ }; shift 2 ;;
    -h | --help) sed -n '2,39p' "$0"; exit 0 ;;
    *) echo "unknown argument $1 (--profiles a,b --calls mm,mc,cc,mr)" >&2; exit 2 ;;
  esac
done
for p in $profiles; do
  case " $LAB_IMPAIR_PROFILES " in *" $p "*) ;; *) echo "unknown profile $p (one of: $LAB_IMPAIR_PROFILES)" >&2; exit 2 ;; esac
done
for c in $calls; do
  case $c in mm | mc | cc | mr) ;; *) echo "unknown call $c (mm, mc, cc, mr)" >&2; exit 2 ;; esac
done

BUILD=${BUILD:-$root/build}
MEDCALL=${MEDCALL:-$BUILD/src/app/medcall}
MEDCALL_SERVER=${MEDCALL_SERVER:-$BUILD/src/server/medcall-server}
LAB_DELAYER=${LAB_DELAYER:-$BUILD/tests/lab/delayer}
WEB_ROOT=${MEDCALL_WEB_ROOT:-$root/assets/web}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
SECS=${QBENCH_SECONDS:-30}
DROP_SECS=${QBENCH_DROP_SECONDS:-40}
MAX_KBPS=${QBENCH_MAX_KBPS:-1500}
START_KBPS=${QBENCH_START_KBPS:-300}
DROP_AT_S=12 DROP_FOR_S=15
export MEDCALL MEDCALL_SERVER LAB_DELAYER

if [ "$(id -u)" -ne 0 ]; then echo "quality_vs_chromium: needs root (network namespaces)" >&2; exit 77; fi
[ -x "$MEDCALL" ] && [ -x "$MEDCALL_SERVER" ] || { echo "no medcall/medcall-server at $MEDCALL, $MEDCALL_SERVER (set BUILD or MEDCALL, MEDCALL_SERVER)" >&2; exit 1; }
[ -x "$LAB_DELAYER" ] || { echo "no delayer at $LAB_DELAYER (libnetfilter-queue-dev, then rebuild)" >&2; exit 1; }
case " $calls " in *c*)
  [ -x "$CHROMIUM" ] || { echo "no Chromium at $CHROMIUM" >&2; exit 1; }
  command -v node >/dev/null || { echo "no node" >&2; exit 1; }
  [ -f "$root/tests/interop/node_modules/puppeteer-core/package.json" ] ||
    { echo "no puppeteer-core (cd tests/interop && npm ci --ignore-scripts)" >&2; exit 1; } ;;
esac
command -v jq >/dev/null || { echo "jq not found" >&2; exit 1; }

lab_init
t_start=$(date +%s)
topo_two_nat eim eim
lab_turn_start secret
SERVER_URL=https://$LAB_TURN_IP:$CALL_SERVER_PORT
pub=$(lab_ns_name pub)
printf 'turn-secret = %s\n' "$LAB_AUTH_SECRET" >"$LAB_RUN/server.conf"
chmod 600 "$LAB_RUN/server.conf"
ip netns exec "$pub" "$MEDCALL_SERVER" --open --config "$LAB_RUN/server.conf" --listen "$LAB_TURN_IP:$CALL_SERVER_PORT" \
  --state-dir "$LAB_RUN/server-state" --web-root "$WEB_ROOT" \
  --turn-url "turn:$LAB_TURN_IP:3478?transport=udp" >"$LAB_RUN/server.out" 2>&1 &
LAB_TURN_PIDS+=($!)
for i in $(seq 1 100); do
  lab_exec pub timeout 1 bash -c "exec 3<>/dev/tcp/$LAB_TURN_IP/$CALL_SERVER_PORT" 2>/dev/null && break
  [ "$i" = 100 ] && { cat "$LAB_RUN/server.out" >&2; lab_die "medcall-server does not listen"; }
  sleep 0.05
done

now_ms() { date +%s%3N; }
media=(--headless --video-source pattern --video-size 640x480 --fps 30 --bitrate "$MAX_KBPS")

# page NAME HOST SECONDS MODE [LINK]: node + Chromium in HOST's namespace.
page() {
  local n=$1 host=$2 secs=$3; shift 3
  lab_exec "$host" env CHROMIUM="$CHROMIUM" SERVER_URL="$SERVER_URL" SERVER_CERT="$LAB_RUN/server-state/cert.pem" \
    WORK="$LAB_RUN" RESULT="$LAB_RUN/$n.json" SECONDS="$secs" START_KBPS="$START_KBPS" MAX_KBPS="$MAX_KBPS" \
    timeout $((secs + 120)) node "$here/quality_pages.js" "$@" >"$LAB_RUN/$n.out" 2>&1 &
  PID[$n]=$!
}

# stop NAME: ends a side that is still running (timeout passes the signal on).
stop() { kill "${PID[$1]}" 2>/dev/null || true; }

# run_call PROFILE CALL: one call; leaves call-NN.meta.json for the table.
seq_no=0
run_call() {
  local profile=$1 call=$2 secs=$SECS id d p link dk pk t_d=0 t_p=0 t_imp drop=null low=null link_rate=-
  seq_no=$((seq_no + 1))
  id=$(printf 'c%02d-%s-%s' "$seq_no" "$profile" "$call")
  [ "$profile" = drop300k ] && secs=$DROP_SECS
  d=$id-doctor p=$id-patient
  impair_clear nat-b
  lab_log "[$id] starting ($secs s)"
  if [ "$call" = mr ]; then export MEDCALL_TEST_REMB_ONLY=1; else unset MEDCALL_TEST_REMB_ONLY; fi
  if [ "$call" = cc ]; then
    dk=chromium
    page "$d" host-a "$secs" doctor
    call_wait_line "$d" '^link: ' 60 || { lab_log "[$id] the doctor page gave no link: $(tail -n 5 "$LAB_RUN/$d.out")"; stop "$d"; return 1; }
    link=$(call_line "$d" 'link: ' | cut -d' ' -f2)
  else
    dk=medcall
    # shellcheck disable=SC2046
    call_start "$d" host-a call $(call_server_args) "${media[@]}" --audio-source tone:440 --duration "$secs" \
      --stats-json "$LAB_RUN/$d.json"
    call_wait_line "$d" '^link: ' 20 || { lab_log "[$id] the doctor printed no link"; stop "$d"; return 1; }
    link=$(call_line "$d" 'link: ' | cut -d' ' -f2)
  fi
  if [ "$call" = mm ] || [ "$call" = mr ]; then
    pk=medcall
    call_start "$p" host-b join "$link" --insecure --name "lab patient" "${media[@]}" --audio-source tone:660 \
      --duration "$secs" --stats-json "$LAB_RUN/$p.json"
  else
    pk=chromium
    page "$p" host-b "$secs" patient "$link"
  fi
  local re_d='^state: connected' re_p='^state: connected'
  [ "$dk" = chromium ] && re_d='^connected'
  [ "$pk" = chromium ] && re_p='^connected'
  local i
  for i in $(seq 1 1200); do
    [ "$t_d" = 0 ] && grep -Eq "$re_d" "$LAB_RUN/$d.out" 2>/dev/null && t_d=$(now_ms)
    [ "$t_p" = 0 ] && grep -Eq "$re_p" "$LAB_RUN/$p.out" 2>/dev/null && t_p=$(now_ms)
    [ "$t_d" != 0 ] && [ "$t_p" != 0 ] && break
    kill -0 "${PID[$d]}" 2>/dev/null && kill -0 "${PID[$p]}" 2>/dev/null || break
    sleep 0.05
  done
  local err=''
  if [ "$t_d" = 0 ] || [ "$t_p" = 0 ]; then err="did not connect"; stop "$d"; stop "$p"; fi
  t_imp=$(now_ms)
  [ -n "$err" ] || IMPAIR_DROP_AT_S=$DROP_AT_S IMPAIR_DROP_FOR_S=$DROP_FOR_S impair_profile nat-b "$profile"
  case $profile in
    rate500k) link_rate=500 ;;
    drop300k) link_rate="2000>300"; drop=$((t_imp + DROP_AT_S * 1000)); low=300 ;;
  esac
  local n rc
  for n in "$d" "$p"; do rc=0; wait "${PID[$n]}" || rc=$?; [ "$rc" = 0 ] || lab_log "[$id] $n exited with status $rc"; done
  impair_clear nat-b
  local load1; load1=$(cut -d' ' -f1 /proc/loadavg)
  [ -n "$err" ] && lab_log "[$id] $err: $(tail -n 3 "$LAB_RUN/$d.out" "$LAB_RUN/$p.out" 2>/dev/null | tr '\n' ' ')"
  jq -n --arg profile "$profile" --arg call "$call" --arg link "$link_rate" --argjson impairedAt "$t_imp" \
    --argjson dropAt "$drop" --argjson lowKbps "$low" --argjson dropForS "$DROP_FOR_S" --arg error "$err" \
    --arg dk "$dk" --arg pk "$pk" --arg d "$d.json" --arg p "$p.json" --argjson td "$t_d" --argjson tp "$t_p" \
    --argjson maxKbps "$MAX_KBPS" --argjson startKbps "$START_KBPS" --argjson load "$load1" \
    '{profile: $profile, call: $call, link: $link, impairedAt: $impairedAt, dropAt: $dropAt, lowKbps: $lowKbps,
      dropForS: $dropForS, error: (if $error == "" then null else $error end), maxKbps: $maxKbps, startKbps: $startKbps, load: $load,
      doctor: {kind: $dk, file: $d, connectedAt: $td}, patient: {kind: $pk, file: $p, connectedAt: $tp}}' \
    >"$LAB_RUN/call-$id.meta.json"
  lab_log "[$id] done"
}

for profile in $profiles; do
  for call in $calls; do
    run_call "$profile" "$call" || lab_log "[$profile $call] failed to start"
  done
done
LAB_DUMPED=1
load=$(cut -d' ' -f1-3 /proc/loadavg)
node "$here/quality_pages.js" table "$LAB_RUN"
echo "$(nproc) cores, load average $load at the end; whole run $(($(date +%s) - t_start)) s; run directory $LAB_RUN"
