#!/usr/bin/env bash
# diagnose.sh NAME: run `medcall diagnose` from a host behind an
# endpoint-independent NAT against the lab coturn and assert its verdict.
# Env: MEDCALL (path of the medcall binary), LAB_KEEP=1 keeps $LAB_RUN.
# Exit: 0 pass, 1 fail, 77 skip (not root).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lab.sh
source "$here/lab.sh"

names="diag-stun diag-udp diag-tcp diag-tls diag-tls-ip diag-tls-untrusted diag-wrong-password diag-auth-secret diag-pool"
if [ "${1:-}" = "--list" ]; then printf '%s\n' $names; exit 0; fi
name=${1:?usage: diagnose.sh NAME (--list for names)}
case " $names " in *" $name "*) ;; *) echo "unknown test $name; one of: $names" >&2; exit 1 ;; esac
lab_require
[ -n "${MEDCALL:-}" ] && [ -x "$MEDCALL" ] || lab_die "MEDCALL must name the medcall binary"
command -v jq >/dev/null || lab_die "jq is required (apt-get install jq)"

lab_init
failures=0
fail() { echo "lab: FAIL [$name]: $*" >&2; failures=$((failures + 1)); }

lab_public
lab_router nat-a 203.0.113.21 1
lab_nat nat-a eim
lab_host host-a nat-a 100.64.1.10
lab_certs

# diag OUT CA ARGS...: run diagnose in host-a; stdout to $LAB_RUN/OUT.out,
# stderr to OUT.err; sets RC. CA is the SSL_CERT_FILE ("" for none).
diag() {
  local out=$1 ca=$2; shift 2
  RC=0
  lab_exec host-a env ${ca:+SSL_CERT_FILE="$ca"} timeout 60 "$MEDCALL" diagnose "$@" \
    >"$LAB_RUN/$out.out" 2>"$LAB_RUN/$out.err" || RC=$?
  echo "---- medcall diagnose ($out) exit=$RC ----"
  cat "$LAB_RUN/$out.out"
  tail -n 20 "$LAB_RUN/$out.err"
}

# jqt OUT FILTER MESSAGE: the jq FILTER must be true on OUT's JSON.
jqt() {
  if ! jq -e "$2" "$LAB_RUN/$1.out" >/dev/null 2>&1; then
    fail "$3 (jq: $2)"
  fi
}

creds=(--ice-username "$LAB_TURN_USER" --ice-credential "$LAB_TURN_PASS")

# The checks a working relay must pass, whatever the transport. A plain
# turn: URL is tried over UDP and TCP (two entries in .servers), so every
# entry is checked.
assert_relay_works() { # OUT CANDIDATE_KEY
  [ "$RC" = 0 ] || fail "$1: exit status $RC, expected 0"
  jqt "$1" '.ok == true' "$1: top-level ok is not true"
  jqt "$1" '(.servers | length >= 1) and all(.servers[]; .ok == true)' "$1: a server is not ok"
  jqt "$1" '[.servers[].steps[] | select(.status == "fail")] | length == 0' "$1: a step failed"
  jqt "$1" 'all(.servers[]; any(.steps[]; .name == "allocate_noauth" and .status == "ok" and (.detail | test("401"))))' \
    "$1: the unauthenticated Allocate did not meet the 401 challenge"
  jqt "$1" 'all(.servers[]; any(.steps[]; .name == "allocate" and .status == "ok" and (.detail | test("relayed=203\\.0\\.113\\.10:"))))' \
    "$1: no relayed address on the lab server"
  jqt "$1" 'all(.servers[]; [.steps[] | select(.name == "permission" or .name == "channel_bind" or .name == "data_channel") | .status] == ["ok","ok","ok"])' \
    "$1: permission, channel bind or relayed data not ok"
  jqt "$1" 'all(.servers[]; .probes.received > 0 and .probes.corrupt == 0)' "$1: no byte-exact probe came back"
  jqt "$1" ".candidates.$2.status == \"yes\"" "$1: candidates.$2 is not yes"
}

case $name in
  diag-stun)
    lab_turn_start static
    diag stun "" --json --ice-server "stun:$LAB_TURN_IP:3478"
    [ "$RC" = 0 ] || fail "exit status $RC, expected 0"
    jqt stun '.servers[0].mapped | startswith("203.0.113.21:")' "the mapped address is not the NAT's public address"
    jqt stun '.candidates.srflx.status == "yes"' "srflx not offered" ;;
  diag-udp)
    lab_turn_start static
    diag udp "" --json --ice-server "turn:$LAB_TURN_IP:3478?transport=udp" "${creds[@]}"
    assert_relay_works udp relay_udp
    jqt udp '.servers | length == 1 and .[0].transport == "udp"' "not exactly one UDP server entry"
    jqt udp '.servers[0].mapped | startswith("203.0.113.21:")' "the mapped address is not the NAT's public address" ;;
  diag-tcp)
    lab_turn_start static
    diag tcp "" --json --ice-server "turn:$LAB_TURN_IP:3478?transport=tcp" "${creds[@]}"
    assert_relay_works tcp relay_tcp
    jqt tcp '.servers | length == 1 and .[0].transport == "tcp"' "not exactly one TCP server entry" ;;
  diag-tls)
    lab_turn_start static
    diag tls "$LAB_CA" --json --ice-server "turns:$LAB_TURN_NAME:5349" "${creds[@]}"
    assert_relay_works tls relay_tls
    jqt tls '.servers | length == 1 and .[0].transport == "tls"' "not exactly one TLS server entry"
    jqt tls '.servers[0].steps[] | select(.name == "resolve") | .status == "ok"' "resolving $LAB_TURN_NAME failed" ;;
  diag-tls-ip)
    lab_turn_start static
    diag tlsip "$LAB_CA" --json --ice-server "turns:$LAB_TURN_IP:5349" "${creds[@]}"
    assert_relay_works tlsip relay_tls ;;
  diag-tls-untrusted)
    # A certificate from a CA the client does not trust must stop the
    # connection; --insecure is the explicit way past it.
    lab_turn_start static
    : >"$LAB_RUN/empty.pem"
    diag untrusted "$LAB_RUN/empty.pem" --json --ice-server "turns:$LAB_TURN_NAME:5349" "${creds[@]}"
    [ "$RC" != 0 ] || fail "an untrusted certificate was accepted (exit 0)"
    jqt untrusted '.servers[0].steps[] | select(.name == "connect") | .status == "fail" and ((.hint + " " + .detail) | test("certificate"; "i"))' \
      "the connect step does not fail with a certificate message"
    diag insecure "$LAB_RUN/empty.pem" --json --insecure --ice-server "turns:$LAB_TURN_NAME:5349" "${creds[@]}"
    assert_relay_works insecure relay_tls ;;
  diag-wrong-password)
    lab_turn_start static
    diag wrong "" --json --ice-server "turn:$LAB_TURN_IP:3478" --ice-username "$LAB_TURN_USER" --ice-credential not-the-password
    [ "$RC" != 0 ] || fail "a wrong password gave exit status 0"
    [ "$RC" != 2 ] || fail "a wrong password gave the usage exit status 2"
    jqt wrong '.ok == false' "top-level ok is not false"
    jqt wrong '.servers[0].steps[] | select(.name == "allocate_noauth") | .status == "ok"' "the 401 challenge step did not pass"
    jqt wrong '.servers[0].steps[] | select(.name == "allocate") | .status == "fail" and .code == 401 and (.hint | length > 10)' \
      "the authenticated Allocate does not fail with 401 and a hint"
    jqt wrong '[.servers[0].steps[] | select(.name == "permission" or .name == "data_channel") | .status] | all(. != "ok")' \
      "steps after the failed 401 claim success"
    diag wrongtext "" --ice-server "turn:$LAB_TURN_IP:3478" --ice-username "$LAB_TURN_USER" --ice-credential not-the-password
    [ "$RC" != 0 ] || fail "text mode: a wrong password gave exit status 0"
    grep -qiE 'password|credential' "$LAB_RUN/wrongtext.out" || fail "text mode: no sentence about the credentials"
    if grep -qF "$LAB_TURN_PASS" "$LAB_RUN"/wrong*.out "$LAB_RUN"/wrong*.err; then fail "the output shows a password"; fi ;;
  diag-auth-secret)
    lab_turn_start secret
    lab_rest_creds medcall-lab 3600
    diag secret "" --json --ice-server "turn:$LAB_TURN_IP:3478" --ice-username "$LAB_REST_USER" --ice-credential "$LAB_REST_PASS"
    assert_relay_works secret relay_udp
    jqt secret '.candidates.relay_tcp.status == "yes"' "TURN over TCP with REST credentials failed"
    # An expired REST credential is refused at the 401 step.
    lab_rest_creds medcall-lab -60
    diag expired "" --json --ice-server "turn:$LAB_TURN_IP:3478" --ice-username "$LAB_REST_USER" --ice-credential "$LAB_REST_PASS"
    [ "$RC" != 0 ] || fail "an expired REST credential gave exit status 0"
    jqt expired '(.servers | length >= 1) and all(.servers[]; any(.steps[]; .name == "allocate" and .status == "fail" and .code == 401))' \
      "an expired REST credential did not fail the authenticated Allocate with 401" ;;
  diag-pool)
    # Issue 17 item 5: the TURN pool of a medcall-server config file, two
    # coturns with one REST secret; credentials made from the secret.
    lab_turn_start secret
    pool_b=203.0.113.12
    lab_turn_pool_start "$pool_b"
    conf=$LAB_RUN/server.conf
    printf 'doctor-token = lab-doctor-token\nturn-url = turn:%s:3478?transport=udp\nturn-url = turn:%s:3478?transport=udp\nturn-secret = %s\n' \
      "$LAB_TURN_IP" "$pool_b" "$LAB_AUTH_SECRET" >"$conf"
    diag pool "" --json --server-config "$conf"
    [ "$RC" = 0 ] || fail "pool: exit status $RC, expected 0"
    jqt pool '.ok == true and all(.servers[]; .ok == true)' "pool: a server is not ok"
    jqt pool 'all(.servers[]; any(.steps[]; .name == "data_channel" and .status == "ok"))' "pool: a server relayed no data"
    jqt pool '[.servers[].url] == ["turn:203.0.113.10:3478?transport=udp", "turn:203.0.113.12:3478?transport=udp"]' \
      "the pool's servers are not checked each, in the config's order"
    jqt pool '.turn_pool == {"servers": 2, "relaying": 2}' "the pool summary is not 2 of 2"
    # The second member dies: it is named, the first still relays.
    kill -KILL "$LAB_POOL_PID"
    diag pool-dead "" --json --timeout-ms 1000 --server-config "$conf"
    [ "$RC" = 1 ] || fail "a dead pool member gave exit status $RC, wanted 1"
    jqt pool-dead '.servers[0].ok == true and .servers[1].ok == false' "the dead member is not the one that failed"
    jqt pool-dead '.turn_pool == {"servers": 2, "relaying": 1}' "the pool summary is not 1 of 2"
    jqt pool-dead '.candidates.relay_udp.status == "yes"' "the live member's relay is not counted"
    diag pool-text "" --timeout-ms 1000 --server-config "$conf"
    grep -q '^TURN pool: 1 of 2 servers relayed data$' "$LAB_RUN/pool-text.out" || fail "no pool summary line in the text report"
    grep -qF "  failed: turn:$pool_b:3478?transport=udp  (udp)" "$LAB_RUN/pool-text.out" || fail "the text report does not name the dead member"
    if grep -qi -- "$LAB_AUTH_SECRET" "$LAB_RUN"/pool*.out "$LAB_RUN"/pool*.err; then fail "the TURN secret appears in the output"; fi ;;
esac

if [ "$failures" -gt 0 ]; then
  [ -f "$LAB_RUN/turn.log" ] && { echo "---- coturn log (last 30 lines) ----"; tail -n 30 "$LAB_RUN/turn.log"; }
  echo "lab: $name: FAIL ($failures)"
  exit 1
fi
echo "lab: $name: PASS"
