#!/usr/bin/env bash
# run-scenario.sh NAME: run one lab scenario with two real ICE agents and
# assert the selected pair type and byte-exact data both ways.
# Env: ICE_PEER (path of the ice_peer binary), LAB_KEEP=1 keeps $LAB_RUN.
# Exit: 0 pass, 1 fail, 77 skip (not root). `run-scenario.sh --list` lists names.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lab.sh
source "$here/lab.sh"
# shellcheck source=scenarios.sh
source "$here/scenarios.sh"

if [ "${1:-}" = "--list" ]; then
  printf '%s\n' $LAB_SCENARIOS
  exit 0
fi
name=${1:?usage: run-scenario.sh NAME (--list for names)}
case " $(echo $LAB_SCENARIOS) " in
  *" $name "*) ;;
  *) echo "unknown scenario $name; one of: $(echo $LAB_SCENARIOS)" >&2; exit 1 ;;
esac
lab_require
[ -n "${ICE_PEER:-}" ] && [ -x "$ICE_PEER" ] || lab_die "ICE_PEER must name the ice_peer binary"

lab_init
failures=0
fail() { echo "lab: FAIL [$name]: $*" >&2; failures=$((failures + 1)); }

# The selected line of a peer, its fields, and the assertions every scenario
# shares: a pair was selected and N distinct, byte-exact datagrams arrived.
sel() { lab_line "$1" selected; }
sf() { lab_field "$(sel "$1")" "$2"; }

assert_connected() {
  local p
  for p in a b; do
    [ -n "$(sel $p)" ] || fail "peer $p selected no pair"
    local d; d=$(lab_line $p data)
    [ "$(lab_field "$d" ok)" = 1 ] || fail "peer $p: data not ok ('$d')"
    [ "$(lab_field "$d" received)" = "$LAB_MESSAGES" ] || fail "peer $p: received $(lab_field "$d" received) of $LAB_MESSAGES"
  done
}

assert_exit_ok() {
  local p
  for p in "$@"; do
    [ "${LAB_RC[$p]}" = 0 ] || fail "peer $p exited with status ${LAB_RC[$p]}"
    [ "$(lab_field "$(lab_line $p result)" ok)" = 1 ] || fail "peer $p did not print result ok=1"
  done
}

# assert_types PEER LOCAL_RE REMOTE_RE
assert_types() {
  local lt rt
  lt=$(sf "$1" local_type); rt=$(sf "$1" remote_type)
  [[ $lt =~ ^($2)$ ]] || fail "peer $1: local_type=$lt, expected $2"
  [[ $rt =~ ^($3)$ ]] || fail "peer $1: remote_type=$rt, expected $3"
}

assert_no_relay() {
  local p
  for p in a b; do
    [ "$(sf $p local_type)" != relay ] && [ "$(sf $p remote_type)" != relay ] \
      || fail "peer $p selected a relay pair where a direct path exists: $(sel $p)"
  done
}

assert_reflexive() {
  local p
  for p in a b; do
    [[ "$(sf $p local_type) $(sf $p remote_type)" =~ srflx|prflx ]] \
      || fail "peer $p: expected a server- or peer-reflexive candidate in the pair: $(sel $p)"
  done
}

assert_relay_involved() {
  local p
  for p in a b; do
    [ "$(sf $p local_type)" = relay ] || [ "$(sf $p remote_type)" = relay ] \
      || fail "peer $p: expected a relay in the selected pair: $(sel $p)"
  done
}

# assert_error_names PEER TEXT: an error line mentions TEXT.
assert_error_names() {
  grep -E '^error ' "$LAB_RUN/$1.out" | grep -qF -- "$2" \
    || fail "peer $1: no error line names $2"
}

fn=scen_${name//-/_}
"$fn"

case $name in
  a-same-lan)
    assert_exit_ok a b; assert_connected
    assert_types a host host; assert_types b host host ;;
  b-eim)
    assert_exit_ok a b; assert_connected
    assert_no_relay; assert_reflexive ;;
  c-symmetric-eim)
    # Symmetric against port-restricted filtering has no direct path: it
    # must connect, through the relay.
    assert_exit_ok a b; assert_connected ;;
  c-symmetric-public)
    # The public peer learns host-a's per-destination mapping as peer-reflexive.
    assert_exit_ok a b; assert_connected
    assert_no_relay; assert_reflexive ;;
  d-symmetric)
    assert_exit_ok a b; assert_connected
    assert_relay_involved ;;
  e-udp-blocked)
    assert_exit_ok a b; assert_connected
    assert_types a relay 'host|srflx|prflx|relay'
    [ "$(sf a relay_transport)" = tcp ] || fail "peer a: relay_transport=$(sf a relay_transport), expected tcp" ;;
  f-tls-only)
    assert_exit_ok a b; assert_connected
    assert_types a relay 'host|srflx|prflx|relay'
    [ "$(sf a relay_transport)" = tls ] || fail "peer a: relay_transport=$(sf a relay_transport), expected tls" ;;
  g-relay-only)
    assert_exit_ok a b; assert_connected
    assert_types a relay relay; assert_types b relay relay
    if grep -E '^candidate ' "$LAB_RUN/a.out" "$LAB_RUN/b.out" | grep -qv 'type=relay'; then
      fail "a relay-only peer offered a non-relay candidate"
    fi ;;
  h-consent)
    [ "${LAB_H_KILLED:-0}" = 1 ] || fail "the exchange never reached the point where the peer is killed"
    assert_exit_ok a
    grep -qE '^consent-failure ms=[0-9]+' "$LAB_RUN/a.out" || fail "peer a reported no consent-failure" ;;
  i-turn-down-same-lan)
    assert_exit_ok a b; assert_connected
    assert_types a host host; assert_types b host host
    assert_error_names a "$LAB_TURN_IP"; assert_error_names b "$LAB_TURN_IP" ;;
  i-turn-down-eim)
    assert_exit_ok a b; assert_connected
    assert_no_relay; assert_reflexive
    assert_error_names a "$LAB_TURN_IP"; assert_error_names b "$LAB_TURN_IP" ;;
esac

for p in a b; do lab_show_peer $p; done
LAB_DUMPED=1
if [ "$failures" -gt 0 ]; then
  [ -f "$LAB_RUN/turn.log" ] && { echo "---- coturn log (last 30 lines) ----"; tail -n 30 "$LAB_RUN/turn.log"; }
  echo "lab: scenario $name: FAIL ($failures)"
  exit 1
fi
echo "lab: scenario $name: PASS; a: $(sel a)"
echo "lab: scenario $name: PASS; b: $(sel b)"
