# shellcheck shell=bash disable=SC2034,SC2046  # a library; server lists are word-split on purpose
# Scenario set-ups for the lab: each builds its topology, starts the servers
# it needs and runs two ice_peer processes (host-a controlling, host-b
# controlled) until both exit. Outputs stay in $LAB_RUN/{a,b}.out for the
# caller to assert on (run-scenario.sh) or to measure (bench/ice_connect.sh).
# Needs lab.sh sourced and lab_init called.

LAB_SCENARIOS="a-same-lan b-eim c-symmetric-eim c-symmetric-public d-symmetric e-udp-blocked
f-tls-only g-relay-only h-consent i-turn-down-same-lan i-turn-down-eim"

# Peer timeouts: generous, the lab has no loss; a hung agent is still caught.
LAB_PEER_TIMEOUT_MS=${LAB_PEER_TIMEOUT_MS:-20000}
LAB_MESSAGES=${LAB_MESSAGES:-50}

topo_same_lan() {
  lab_public
  lab_router nat-a 203.0.113.21 1
  lab_nat nat-a eim
  lab_host host-a nat-a 100.64.1.10
  lab_host host-b nat-a 100.64.1.11
}

# topo_two_nat TYPE_A TYPE_B
topo_two_nat() {
  lab_public
  lab_router nat-a 203.0.113.21 1
  lab_router nat-b 203.0.113.22 2
  lab_nat nat-a "$1"
  lab_nat nat-b "$2"
  lab_host host-a nat-a 100.64.1.10
  lab_host host-b nat-b 100.64.2.10
}

# topo_nat_public TYPE_A: host-a behind a NAT, host-b with a public address.
topo_nat_public() {
  lab_public
  lab_router nat-a 203.0.113.21 1
  lab_nat nat-a "$1"
  lab_host host-a nat-a 100.64.1.10
  lab_pubhost host-b 203.0.113.30
}

# topo_public_nat TYPE_B: host-a with a public address, host-b behind a NAT.
topo_public_nat() {
  lab_public
  lab_pubhost host-a 203.0.113.30
  lab_router nat-b 203.0.113.22 2
  lab_nat nat-b "$1"
  lab_host host-b nat-b 100.64.2.10
}

# ICE server arguments for ice_peer.
srv_stun() { echo "--stun stun:$LAB_TURN_IP:3478"; }
srv_turn_udp() { echo "--turn turn:$LAB_TURN_IP:3478 --ice-username $LAB_TURN_USER --ice-credential $LAB_TURN_PASS"; }
srv_turn_tcp() { echo "--turn turn:$LAB_TURN_IP:3478?transport=tcp --ice-username $LAB_TURN_USER --ice-credential $LAB_TURN_PASS"; }
srv_turns() { echo "--turn turns:$LAB_TURN_NAME:5349 --ice-username $LAB_TURN_USER --ice-credential $LAB_TURN_PASS"; }

# lab_run_pair "A ARGS" "B ARGS": run both peers to completion.
lab_run_pair() {
  local sig=$LAB_RUN/signal.sock
  local -; set -f # the word-split server lists hold '?'
  # shellcheck disable=SC2086
  lab_peer_start a host-a --role controlling --signal "$sig" --messages "$LAB_MESSAGES" \
    --timeout-ms "$LAB_PEER_TIMEOUT_MS" $1
  # shellcheck disable=SC2086
  lab_peer_start b host-b --role controlled --signal "$sig" --messages "$LAB_MESSAGES" \
    --timeout-ms "$LAB_PEER_TIMEOUT_MS" $2
  lab_peer_wait a
  lab_peer_wait b
}

# Scenario bodies. Each leaves LAB_RC[a], LAB_RC[b] and the outputs.
scen_a_same_lan() {
  topo_same_lan
  lab_turn_start static
  lab_run_pair "$(srv_stun) $(srv_turn_udp)" "$(srv_stun) $(srv_turn_udp)"
}

scen_b_eim() {
  topo_two_nat eim eim
  lab_turn_start static
  lab_run_pair "$(srv_stun) $(srv_turn_udp)" "$(srv_stun) $(srv_turn_udp)"
}

scen_c_symmetric_eim() {
  topo_two_nat symmetric eim
  lab_turn_start static
  lab_run_pair "$(srv_stun) $(srv_turn_udp)" "$(srv_stun) $(srv_turn_udp)"
}

scen_c_symmetric_public() {
  topo_nat_public symmetric
  lab_turn_start static
  lab_run_pair "$(srv_stun) $(srv_turn_udp)" "$(srv_stun) $(srv_turn_udp)"
}

scen_d_symmetric() {
  topo_two_nat symmetric symmetric
  lab_turn_start static
  lab_run_pair "$(srv_stun) $(srv_turn_udp)" "$(srv_stun) $(srv_turn_udp)"
}

scen_e_udp_blocked() {
  topo_two_nat eim eim
  lab_block_udp nat-a
  lab_turn_start static
  lab_run_pair "$(srv_stun) $(srv_turn_udp) $(srv_turn_tcp)" "$(srv_stun) $(srv_turn_udp) $(srv_turn_tcp)"
}

scen_f_tls_only() {
  topo_two_nat eim eim
  lab_allow_only_tcp nat-a 5349
  lab_turn_start static
  lab_run_pair "$(srv_stun) $(srv_turn_udp) $(srv_turn_tcp) $(srv_turns)" \
               "$(srv_stun) $(srv_turn_udp) $(srv_turn_tcp) $(srv_turns)"
}

scen_g_relay_only() {
  topo_same_lan
  lab_turn_start static
  lab_run_pair "--relay-only $(srv_stun) $(srv_turn_udp)" "--relay-only $(srv_stun) $(srv_turn_udp)"
}

# The controlled peer stays after its data exchange (--hold-ms) and is killed
# by the lab; the controlling peer must then detect consent failure.
scen_h_consent() {
  local sig=$LAB_RUN/signal.sock
  local -; set -f
  topo_two_nat eim eim
  lab_turn_start static
  # shellcheck disable=SC2086
  lab_peer_start a host-a --role controlling --signal "$sig" --messages "$LAB_MESSAGES" \
    --timeout-ms "$LAB_PEER_TIMEOUT_MS" --consent-timeout-ms 3000 --expect-consent-failure \
    $(srv_stun) $(srv_turn_udp)
  # shellcheck disable=SC2086
  lab_peer_start b host-b --role controlled --signal "$sig" --messages "$LAB_MESSAGES" \
    --timeout-ms "$LAB_PEER_TIMEOUT_MS" --consent-timeout-ms 3000 --hold-ms 60000 \
    $(srv_stun) $(srv_turn_udp)
  LAB_H_KILLED=0
  # The moment to kill: both peers have verified their data. ice_peer prints
  # its `data` line at exit, so its log line "data exchange done" is the
  # signal while it holds.
  if lab_wait_data b 30 && lab_wait_data a 10; then
    kill -9 "${LAB_PEER_PID[b]}" 2>/dev/null && LAB_H_KILLED=1
    lab_log "killed the controlled peer after its data exchange"
  fi
  lab_peer_wait b
  lab_peer_wait a
}

# The TURN server is offered over UDP and TCP, as deployments do. A refused
# TCP connection is reported at once; a UDP server that is down is reported
# only when gathering gives up, which may be after the call is up and the
# peer has exited, so the test relies on the TCP report to name the server.
scen_i_turn_down_same_lan() {
  topo_same_lan
  # No server at all on 203.0.113.10: STUN and TURN both fail.
  lab_run_pair "$(srv_stun) $(srv_turn_udp) $(srv_turn_tcp)" "$(srv_stun) $(srv_turn_udp) $(srv_turn_tcp)"
}

scen_i_turn_down_eim() {
  topo_two_nat eim eim
  # STUN works (203.0.113.11); the TURN server 203.0.113.10 is down.
  lab_stun_start
  lab_run_pair "--stun stun:$LAB_TURN_IP2:3478 $(srv_turn_udp) $(srv_turn_tcp)" \
               "--stun stun:$LAB_TURN_IP2:3478 $(srv_turn_udp) $(srv_turn_tcp)"
}
