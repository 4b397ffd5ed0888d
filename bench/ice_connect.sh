#!/usr/bin/env bash
# ice_connect.sh [RUNS]: time from the start of connectivity checks to the
# selected pair, for lab scenarios a (same LAN), b (both behind
# endpoint-independent NAT) and d (both symmetric: relay), as the median of
# RUNS repeated runs (default 7); and the gathering time per candidate type.
# Figures come from ice_peer's own `selected ... ms=N` and
# `candidate ... gather_ms=N` lines. Prints tables; never fails on time.
# Needs root (network namespaces); exits 77 without it.
# Env: ICE_PEER (default: build/tests/lab/ice_peer), BENCH_SCENARIOS.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../tests/lab/lab.sh
source "$root/tests/lab/lab.sh"
# shellcheck source=../tests/lab/scenarios.sh
source "$root/tests/lab/scenarios.sh"

runs=${1:-7}
scenarios=${BENCH_SCENARIOS:-"a-same-lan b-eim d-symmetric"}
ICE_PEER=${ICE_PEER:-$root/build/tests/lab/ice_peer}
lab_require
[ -x "$ICE_PEER" ] || lab_die "no ice_peer at $ICE_PEER (build it: ninja -C build, or set ICE_PEER)"
lab_init

out=$(mktemp -d /tmp/mclab-bench.XXXXXX)
trap 'rc=$?; lab_down; rm -rf "$out"; lab_verify_clean || rc=1; exit $rc' EXIT

# One record per run: scenario ok a_ms b_ms pair; one per candidate:
# scenario type relay_transport gather_ms.
for s in $scenarios; do
  for i in $(seq 1 "$runs"); do
    lab_reset
    "scen_${s//-/_}" >/dev/null 2>&1 || true
    ok=0
    if [ "${LAB_RC[a]:-1}" = 0 ] && [ "${LAB_RC[b]:-1}" = 0 ]; then ok=1; fi
    sa=$(lab_line a selected); sb=$(lab_line b selected)
    echo "$s $ok $(lab_field "$sa" ms) $(lab_field "$sb" ms) $(lab_field "$sa" local_type)/$(lab_field "$sa" remote_type)" >>"$out/runs"
    for p in a b; do
      grep -E '^candidate ' "$LAB_RUN/$p.out" 2>/dev/null | while read -r line; do
        echo "$s $(lab_field "$line" type) $(lab_field "$line" relay_transport) $(lab_field "$line" gather_ms)"
      done >>"$out/cands"
      g=$(lab_field "$(lab_line $p gathering-done)" ms)
      [ -n "$g" ] && echo "$s $g" >>"$out/gdone"
    done
    printf '.' >&2
  done
done
echo >&2

# median of the numbers on stdin ("-" when none)
median() { sort -n | awk '{v[NR] = $1} END {if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
minmax() { sort -n | awk 'NR == 1 {lo = $1} {hi = $1} END {if (NR) print lo "-" hi; else print "-"}'; }

echo "ICE connect time: start of checks -> selected pair (ms), $runs runs per scenario"
printf '%-14s %5s %12s %10s %12s %10s  %s\n' scenario ok "median(ctl)" "range" "median(ctd)" "range" "pair (controlling local/remote)"
for s in $scenarios; do
  okn=$(awk -v s="$s" '$1 == s && $2 == 1' "$out/runs" | wc -l)
  ma=$(awk -v s="$s" '$1 == s && $2 == 1 && $3 != "" {print $3}' "$out/runs" | median)
  ra=$(awk -v s="$s" '$1 == s && $2 == 1 && $3 != "" {print $3}' "$out/runs" | minmax)
  mb=$(awk -v s="$s" '$1 == s && $2 == 1 && $4 != "" {print $4}' "$out/runs" | median)
  rb=$(awk -v s="$s" '$1 == s && $2 == 1 && $4 != "" {print $4}' "$out/runs" | minmax)
  pairs=$(awk -v s="$s" '$1 == s && $2 == 1 {print $5}' "$out/runs" | sort | uniq -c | awk '{printf "%s%s x%s", (NR > 1 ? ", " : ""), $2, $1}')
  printf '%-14s %2s/%-2s %12s %10s %12s %10s  %s\n' "$s" "$okn" "$runs" "$ma" "$ra" "$mb" "$rb" "$pairs"
done

echo
echo "Gathering time per candidate type (ms from the start of gathering), both peers"
printf '%-14s %-12s %5s %8s %10s\n' scenario type n median range
for s in $scenarios; do
  for t in host srflx relay/udp relay/tcp relay/tls; do
    ty=${t%%/*}; tr=${t#*/}; [ "$ty" = "$t" ] && tr=
    sel() { awk -v s="$s" -v ty="$ty" -v tr="$tr" '$1 == s && $2 == ty && (tr == "" || $3 == tr) && $4 != "" {print $4}' "$out/cands" 2>/dev/null || true; }
    n=$(sel | wc -l)
    [ "$n" -gt 0 ] || continue
    printf '%-14s %-12s %5s %8s %10s\n' "$s" "$t" "$n" "$(sel | median)" "$(sel | minmax)"
  done
  g=$(awk -v s="$s" '$1 == s {print $2}' "$out/gdone" 2>/dev/null | median || true)
  printf '%-14s %-12s %5s %8s\n' "$s" "(all done)" "" "$g"
done
