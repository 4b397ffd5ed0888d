#!/usr/bin/env bash
# Checks that each impairment profile of impair.sh does to UDP what it says,
# so the quality tests and benchmarks measure what they claim. A host behind
# router nat-b sends UDP probes to an echo on a public host, one profile at
# a time: loss counted, round trips measured, a 1 Mbit/s stream's goodput
# measured. Bounds only where the lab can be trusted (imposed delay and rate
# are lower and upper bounds, loss has a wide statistical margin).
# Env: LAB_DELAYER (the delayer binary). Exit 0 pass, 1 fail, 77 not root.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lab.sh
source "$here/lab.sh"
# shellcheck source=impair.sh
source "$here/impair.sh"
lab_require
command -v python3 >/dev/null || lab_die "python3 is needed for the probes"
[ -x "${LAB_DELAYER:-}" ] || lab_die "LAB_DELAYER must name the delayer binary"
lab_init
failures=0
fail() { echo "lab: FAIL [impair]: $*" >&2; failures=$((failures + 1)); }

lab_public
lab_router nat-b 203.0.113.22 2
lab_nat nat-b eim
lab_host host-b nat-b 100.64.2.10
lab_pubhost echo 203.0.113.30

cat >"$LAB_RUN/probe.py" <<'PY'
import socket, sys, time
mode = sys.argv[1]
if mode == 'echo':
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(('203.0.113.30', 9000))
    while True:
        d, a = s.recvfrom(2048)
        if d[:1] == b'r':
            s.sendto(d, a)
        else:  # goodput: count and report on request
            pass
elif mode == 'rtt':
    # N probes 10 ms apart, answers collected as they come
    n = int(sys.argv[2])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setblocking(False)
    sent = {}
    rtts = []
    t0 = time.time()
    i = 0
    while time.time() - t0 < n * 0.01 + 1.5:
        now = time.time()
        if i < n and now - t0 >= i * 0.01:
            s.sendto(b'r%d' % i, ('203.0.113.30', 9000))
            sent[i] = now
            i += 1
        try:
            d, _ = s.recvfrom(2048)
            k = int(d[1:])
            rtts.append((time.time() - sent[k]) * 1000)
        except BlockingIOError:
            time.sleep(0.001)
    rtts.sort()
    lost = 100.0 * (n - len(rtts)) / n
    p = lambda q: rtts[min(len(rtts) - 1, int(q * len(rtts)))] if rtts else -1
    print('loss %.2f p50 %.1f p05 %.1f p95 %.1f' % (lost, p(0.5), p(0.05), p(0.95)))
elif mode == 'sink':
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(('203.0.113.30', 9001))
    s.settimeout(1.0)
    total = 0
    first = last = None
    try:
        while True:
            d, _ = s.recvfrom(2048)
            now = time.time()
            first = first or now
            last = now
            total += len(d)
    except socket.timeout:
        pass
    secs = (last - first) if first and last and last > first else 1
    print('goodput_kbit %.0f' % (total * 8 / 1000 / secs))
elif mode == 'blast':
    # 1 Mbit/s of 1000-byte datagrams for 3 s, upstream through the NAT.
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    t0 = time.time()
    i = 0
    while time.time() - t0 < 3:
        if time.time() - t0 >= i * 0.008:
            s.sendto(b'x' * 1000, ('203.0.113.30', 9001))
            i += 1
        else:
            time.sleep(0.001)
PY

lab_exec echo python3 "$LAB_RUN/probe.py" echo &
echo_pid=$!
sleep 0.3

rtt() { lab_exec host-b python3 "$LAB_RUN/probe.py" rtt "$1"; }
field() { echo "$1" | awk -v k="$2" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }'; }
ge() { awk "BEGIN { exit !($1 >= $2) }"; }
le() { awk "BEGIN { exit !($1 <= $2) }"; }

for profile in clean loss5 lossy-rtt burst10 rate500k; do
  impair_profile nat-b "$profile"
  out=$(rtt 500)
  echo "impair: $profile: $out"
  loss=$(field "$out" loss) p50=$(field "$out" p50) p05=$(field "$out" p05)
  case $profile in
    clean) le "$loss" 0.5 || fail "clean lost $loss %" ;;
    # Each probe crosses the router twice: 5 % each way is ~9.75 % per round trip.
    loss5) { ge "$loss" 6 && le "$loss" 14; } || fail "loss5 lost $loss % of round trips (expected ~9.75)" ;;
    lossy-rtt)
      { ge "$loss" 1.5 && le "$loss" 8; } || fail "lossy-rtt lost $loss % (expected ~4)"
      ge "$p50" 90 || fail "lossy-rtt round trip p50 $p50 ms (expected >= 100)"
      ge "$p05" 70 || fail "lossy-rtt round trip p05 $p05 ms (expected >= 70: 2 x (50 - 15))" ;;
    burst10) { ge "$loss" 5 && le "$loss" 16; } || fail "burst10 lost $loss % (expected ~10)" ;;
    rate500k) le "$loss" 1 || fail "rate500k lost $loss % of light traffic" ;;
  esac
  if [ "$profile" = rate500k ]; then
    # Upstream goodput through the tbf on the router's wan.
    lab_exec echo python3 "$LAB_RUN/probe.py" sink >"$LAB_RUN/sink.out" &
    sink=$!
    sleep 0.3
    lab_exec host-b python3 "$LAB_RUN/probe.py" blast
    wait "$sink" || true
    g=$(field "$(cat "$LAB_RUN/sink.out")" goodput_kbit)
    echo "impair: rate500k: 1000 kbit/s offered upstream, goodput ${g:-?} kbit/s"
    { [ -n "$g" ] && le "$g" 560 && ge "$g" 300; } || fail "rate500k goodput ${g:-none} kbit/s (expected 300..560)"
  fi
  impair_clear nat-b
done
kill "$echo_pid" 2>/dev/null || true
[ "$failures" -eq 0 ] && echo "lab: PASS [impair]"
[ "$failures" -eq 0 ]
