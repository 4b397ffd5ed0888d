#!/usr/bin/env bash
# Issue 6 item 4: the signaling server going down mid-call does not stop the
# media. Doctor and patient (two medcall processes) connect through a real
# medcall-server on loopback; the server is killed 3 s into the call and
# started again 3 s later (it has forgotten the room). Both calls must run
# their full duration, keep decoding stamped video from each other after the
# server died, and end normally.
# Usage: server_down.sh MEDCALL MEDCALL_SERVER WEB_ROOT
set -uo pipefail
app=$1 server_bin=$2 web=$3
. "$(dirname "$0")/lib.sh"
app_test_init down
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start_server() {
  "$server_bin" --listen "127.0.0.1:$port" --open --web-root "$web" --state-dir "$tmp/srv" >>"$tmp/srv.out" 2>&1 &
  srv=$!
  pids+=("$srv")
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && return 0; sleep 0.1; done
  return 1
}
start_server || { echo "medcall-server did not start"; cat "$tmp/srv.out"; exit 1; }

media=(--headless --video-source pattern --audio-source tone --fps 20 --duration 12)
"$app" call --server "wss://127.0.0.1:$port/ws" --insecure "${media[@]}" --stats-json "$tmp/d.json" \
  >"$tmp/d.out" 2>"$tmp/d.err" &
doc=$!
pids+=("$doc")
for _ in $(seq 100); do grep -q "^link: " "$tmp/d.out" && break; sleep 0.1; done
link=$(sed -n 's/^link: //p' "$tmp/d.out")
[ -n "$link" ] || { echo "no link"; cat "$tmp/d.err"; exit 1; }
"$app" join "$link" --insecure "${media[@]}" --stats-json "$tmp/p.json" >"$tmp/p.out" 2>"$tmp/p.err" &
pat=$!
pids+=("$pat")
for _ in $(seq 150); do grep -q "^state: connected" "$tmp/p.out" && grep -q "^state: connected" "$tmp/d.out" && break; sleep 0.1; done
grep -q "^state: connected" "$tmp/d.out" || fail "the call did not connect"

sleep 3
kill -KILL "$srv"
echo "server killed"
sleep 3
start_server || fail "medcall-server did not start again"
echo "server started again (it knows nothing of the call)"

wait "$doc"; drc=$?
wait "$pat"; prc=$?
for side in d p; do sed "s/^/$side: /" "$tmp/$side.out"; done
[ "$drc" -eq 0 ] || fail "the doctor exited with $drc"
[ "$prc" -eq 0 ] || fail "the patient exited with $prc"
for side in d p; do
  grep -q "^ended: duration reached" "$tmp/$side.out" || fail "$side did not run its full duration"
  grep -q "^signaling: reconnecting" "$tmp/$side.out" || fail "$side did not notice the server going away"
  grep -q "^state: \(disconnected\|failed\)" "$tmp/$side.out" && fail "$side's media path broke when the server went away"
  # 12 s at 20 fps is 240 frames; the server was away for 9 of them.
  decoded=$(jq '.video.framesDecoded' "$tmp/$side.json")
  order=$(jq '.video.stampsOutOfOrder' "$tmp/$side.json")
  echo "$side: framesDecoded $decoded stampsOutOfOrder $order"
  [ "${decoded:-0}" -ge 200 ] || fail "$side decoded $decoded frames of about 240"
  [ "${order:-1}" -eq 0 ] || fail "$side saw stamps out of order"
done
[ "$fails" -eq 0 ] && echo "ok: media went on without the signaling server"
[ "$fails" -eq 0 ]
