#!/usr/bin/env bash
# Issue 13 item 6: how long each interruption a consultation rides out
# stops the video, as the people in the call see it, median of repeated
# runs, beside Chromium-to-Chromium through the same server where Chromium
# can do it (a page reload). Runs the tests that cause each interruption
# (tests/app/come_back.sh, tests/interop/come_back_page.js,
# tests/lab/interrupt.sh) RUNS times and collects the figures they print:
# "interruption: WHAT: N ms" is the time from the last video frame before
# to the first after (medcall's own "video: flowing again after N ms"), or
# for the page, from the reload to its video again. Needs root (the lab and
# the browser tests). Prints one table; never fails on time.
# Usage: sudo bash bench/interruptions.sh [RUNS]    (default 3; ~4 min a run)
set -uo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
app=$PWD/build/src/app/medcall
server=$PWD/build/src/server/medcall-server
web=$PWD/assets/web
[ -x "$app" ] && [ -x "$server" ] || { echo "build first: ninja -C build" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "needs root (network namespaces)" >&2; exit 1; }
out=$(mktemp -d /tmp/medcall-interruptions.XXXXXX)
trap 'rm -rf "$out"' EXIT

for i in $(seq 1 "$RUNS"); do
  echo "run $i of $RUNS..." >&2
  bash tests/app/come_back.sh "$app" "$server" "$web" >"$out/app-$i.log" 2>&1
  MEDCALL_SERVER=$server MEDCALL_WEB_ROOT=$web MEDCALL_APP=$app \
    bash tests/interop/run.sh come_back_page.js >"$out/page-$i.log" 2>&1
  for t in interrupt-sleep interrupt-turn-dies interrupt-move; do
    MEDCALL=$app MEDCALL_SERVER=$server bash tests/lab/interrupt.sh "$t" >"$out/$t-$i.log" 2>&1
  done
done
MEDCALL_SERVER=$server MEDCALL_WEB_ROOT=$web RELOAD_RUNS=$RUNS \
  bash tests/interop/run.sh ../../bench/reload_chromium.js >"$out/chromium.log" 2>&1

# figure REGEX FILES...: the first "N ms" of each matching line, one per line.
figure() {
  local re=$1; shift
  cat "$@" 2>/dev/null | grep -E "$re" | awk 'match($0, /[0-9]+ ms/) { print substr($0, RSTART, RLENGTH - 3) }' 
}
# stat: "median (min-max, n=N)" of numbers on stdin; "-" when none.
stat() {
  sort -n | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "-"; exit }
    m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%d (%d-%d, n=%d)\n", m, v[1], v[NR], NR }'
}
under() { cat "$@" 2>/dev/null | grep -cE "$1" ; }
row() { printf '| %s | %s | %s |\n' "$1" "$2" "$3"; }

echo
echo "Interruptions: video stopped (ms), median (min-max, runs); $(date -u +%F), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
echo
echo "| interruption | medcall | Chromium-to-Chromium, same server |"
echo "|---|---|---|"
row "patient page reloaded (page: reload to video)" "$(figure 'interruption: page reload: [0-9]+ ms at the page' "$out"/page-*.log | stat)" \
  "$(grep -oE 'reload fresh ms=[0-9]+' "$out/chromium.log" | grep -oE '[0-9]+' | stat) (a new connection on peer-back fresh, as medcall); $(grep -oE 'reload plain ms=[0-9]+' "$out/chromium.log" | grep -oE '[0-9]+' | stat) (ICE restart of the old connection: Chromium takes the new certificate); lost: $(grep -c 'reload .* lost' "$out/chromium.log")"
row "patient page reloaded (at the doctor: gaps over 1 s)" "$(figure 'interruption: page reload: [0-9]+ ms at the doctor' "$out"/page-*.log | stat); under 1 s in $(cat "$out"/page-*.log | grep -c 'page reload: under 1000')" "-"
row "patient app killed, restarted with its session" "$(figure 'interruption: patient killed, restarted with its session' "$out"/app-*.log | stat)" "-"
row "patient app killed, restarted without (knock, admit)" "$(figure 'interruption: patient killed, restarted without' "$out"/app-*.log | stat)" "-"
row "patient hung up, came back through the link (app)" "$(figure 'interruption: patient left and came back' "$out"/app-*.log | stat)" "-"
row "patient hung up, came back (page: link to video)" "$(figure 'interruption: hung up and came back: [0-9]+ ms at the page' "$out"/page-*.log | stat)" "-"
row "doctor app killed, restarted (external server)" "$(figure 'interruption: doctor killed and restarted \(external' "$out"/app-*.log | stat)" "-"
row "doctor app killed, restarted (built-in server)" "$(figure 'interruption: doctor killed and restarted \(built-in' "$out"/app-*.log | stat)" "-"
row "medcall-server restarted (SIGTERM, goaway)" "gaps over 1 s: $(cat "$out"/page-*.log | grep -E 'gaps over 1 s at the doctor across the restart' | grep -oE '[0-9]+ ms' | sed 's/ ms//' | stat); runs without one: $(grep -l 'across the restart: \[\]' "$out"/page-*.log | wc -l) of $RUNS" "-"
row "medcall-server gone 20 s" "gaps over 1 s: $(cat "$out"/page-*.log | grep -E 'gaps over 1 s at the doctor while the server was gone' | grep -oE '[0-9]+ ms' | sed 's/ ms//' | stat); runs without one: $(grep -l 'server was gone: \[\]' "$out"/page-*.log | wc -l) of $RUNS" "-"
row "laptop asleep 30 s (patient; includes the 30 s)" "$(figure 'interruption: 30 s asleep at the patient' "$out"/interrupt-sleep-*.log | stat)" "-"
row "laptop asleep 30 s (doctor; includes the 30 s)" "$(figure 'interruption: 30 s asleep at the doctor' "$out"/interrupt-sleep-*.log | stat)" "-"
row "TURN server carrying the call killed (doctor)" "$(figure 'interruption: the relay server killed at the doctor' "$out"/interrupt-turn-dies-*.log | stat)" "-"
row "TURN server carrying the call killed (patient)" "$(figure 'interruption: the relay server killed at the patient' "$out"/interrupt-turn-dies-*.log | stat)" "-"
row "doctor's host moved to a new address" "gaps over 1 s: $(figure "interruption: the doctor's address changed at the (doctor|patient): [0-9]+ ms" "$out"/interrupt-move-*.log | stat); under 1 s: $(cat "$out"/interrupt-move-*.log | grep -c 'address changed at the .*: under 1000') of $((RUNS * 2)) sides; move to ICE restart: $(cat "$out"/interrupt-move-*.log | grep -oE 'move to ICE restart: [0-9]+ ms' | grep -oE '[0-9]+' | stat)" "not measured (Chromium in a namespace whose address moves)"
echo
fails=$(grep -lE '^FAIL|FAIL \[|\[interop\] FAIL' "$out"/*.log 2>/dev/null | xargs -r -n1 basename | tr '\n' ' ')
[ -n "$fails" ] && echo "runs with a failed check (their figures may be missing): $fails"
exit 0
