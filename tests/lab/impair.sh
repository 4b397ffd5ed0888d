# shellcheck shell=bash
# Impairment profiles for the network lab (issue 7 item 4), applied on a
# router namespace between its two sides (wan and lan), both directions.
# This kernel has no netem (../shared/PLATFORM.md), so:
#   rate          tbf as the root qdisc of wan (upload) and lan (download)
#   random loss   iptables -m statistic in the mangle table's FORWARD chain
#   delay/jitter  tests/lab/delayer (NFQUEUE, mangle FORWARD: an accepted
#                 packet still meets the NAT's filter rules afterwards)
#   loss bursts   the delayer drops what arrives in the first ON ms of each period
# Only UDP is impaired: signaling (TCP) stays as the scenario made it.
# Sourced after lab.sh; every process it starts is in LAB_IMPAIR_PIDS and
# stopped by impair_clear (also called by lab_down through its traps? no:
# call impair_clear yourself before lab_down).
#
# Profiles (impair_profile ROUTER NAME):
#   clean        nothing
#   loss5        5 % random loss each way
#   lossy-rtt    2 % random loss, 50 ms +- 15 ms each way (RTT 100 ms, 30 ms jitter)
#   rate500k     500 kbit/s each way, 150 ms of queue
#   drop300k     2 Mbit/s; 300 kbit/s from IMPAIR_DROP_AT_S (default 10) for
#                IMPAIR_DROP_FOR_S (default 15) seconds; then 2 Mbit/s again
#   burst10      everything lost for 200 ms of every 2 s (10 %, in bursts)

LAB_IMPAIR_PIDS=()
LAB_IMPAIR_PROFILES="clean loss5 lossy-rtt rate500k drop300k burst10"
IMPAIR_QUEUE=${IMPAIR_QUEUE:-3}

impair_rate() { # ROUTER KBIT
  local ns; ns=$(lab_ns_name "$1")
  local dev
  for dev in wan lan; do
    ip netns exec "$ns" tc qdisc replace dev "$dev" root tbf rate "${2}kbit" burst 15k latency 150ms ||
      lab_die "tc tbf on $1/$dev failed"
  done
}

impair_loss() { # ROUTER PERCENT
  local ns; ns=$(lab_ns_name "$1")
  local p; p=$(awk "BEGIN { printf \"%.4f\", $2 / 100 }")
  ip netns exec "$ns" iptables -t mangle -I FORWARD 1 -p udp -m statistic --mode random --probability "$p" \
    -m comment --comment mc-impair -j DROP
}

impair_delay() { # ROUTER DELAY_MS JITTER_MS [delayer options...]
  local ns; ns=$(lab_ns_name "$1")
  local bin=${LAB_DELAYER:?LAB_DELAYER must name the delayer binary}
  ip netns exec "$ns" "$bin" --queue "$IMPAIR_QUEUE" --delay-ms "$2" --jitter-ms "$3" "${@:4}" \
    >"$LAB_RUN/delayer-$1.log" 2>&1 &
  LAB_IMPAIR_PIDS+=($!)
  sleep 0.2
  kill -0 "${LAB_IMPAIR_PIDS[-1]}" 2>/dev/null || lab_die "the delayer did not start: $(cat "$LAB_RUN/delayer-$1.log")"
  # Appended after the loss rule: a lost packet is not delayed first.
  ip netns exec "$ns" iptables -t mangle -A FORWARD -p udp -m comment --comment mc-impair \
    -j NFQUEUE --queue-num "$IMPAIR_QUEUE" --queue-bypass
}

impair_bursts() { # ROUTER ON_MS PERIOD_MS
  impair_delay "$1" 0 0 --burst-ms "$2" --period-ms "$3"
}

impair_rate_schedule() { # ROUTER HIGH_KBIT LOW_KBIT AT_S FOR_S
  local router=$1 high=$2 low=$3 at=$4 for_s=$5
  impair_rate "$router" "$high"
  (
    sleep "$at"
    impair_rate "$router" "$low"
    echo "impair: $router now ${low} kbit/s" >>"$LAB_RUN/impair.log"
    sleep "$for_s"
    impair_rate "$router" "$high"
    echo "impair: $router back to ${high} kbit/s" >>"$LAB_RUN/impair.log"
  ) &
  LAB_IMPAIR_PIDS+=($!)
}

impair_profile() { # ROUTER NAME
  case $2 in
    clean) ;;
    loss5) impair_loss "$1" 5 ;;
    lossy-rtt) impair_loss "$1" 2; impair_delay "$1" 50 15 ;;
    rate500k) impair_rate "$1" 500 ;;
    drop300k) impair_rate_schedule "$1" 2000 300 "${IMPAIR_DROP_AT_S:-10}" "${IMPAIR_DROP_FOR_S:-15}" ;;
    burst10) impair_bursts "$1" 200 2000 ;;
    *) lab_die "unknown impairment profile $2 (one of: $LAB_IMPAIR_PROFILES)" ;;
  esac
  echo "impair: $1 profile $2" >>"$LAB_RUN/impair.log"
}

impair_clear() { # ROUTER
  local ns; ns=$(lab_ns_name "$1")
  local p
  for p in "${LAB_IMPAIR_PIDS[@]}"; do
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  LAB_IMPAIR_PIDS=()
  ip netns exec "$ns" iptables -t mangle -F FORWARD 2>/dev/null || true
  ip netns exec "$ns" tc qdisc del dev wan root 2>/dev/null || true
  ip netns exec "$ns" tc qdisc del dev lan root 2>/dev/null || true
}
