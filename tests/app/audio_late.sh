#!/usr/bin/env bash
# Issue 16 item 4: the speakers and microphone open off the call's loop
# (src/app/call_audio.c), so a sound system that takes its time never holds
# the call. SDL's disk driver plays into a file and records from one; here
# both are FIFOs that nobody opens at first, so opening either device
# blocks (open(2) on a FIFO waits for the other end): real devices that do
# not answer. The patient's call must connect and its data channel open
# (the doctor's chat arrives) all the same. Then the FIFOs get their other
# ends: the speakers play the doctor's 440 Hz tone, and the microphone's
# 523 Hz reaches the doctor, so devices that open late are used. Last, SDL
# audio that cannot start at all is one sentence and the call goes on.
# Usage: audio_late.sh MEDCALL
set -uo pipefail
app=$1
. "$(dirname "$0")/lib.sh"
app_test_init audiolate
export LC_ALL=C

# start_doctor NAME ARGS...: a headless doctor on the built-in server; sets
# link and fp (its certificate's pin).
start_doctor() {
  local n=$1
  shift
  "$app" call --headless --video-source none "$@" >"$tmp/$n.out" 2>"$tmp/$n.err" &
  pids+=("$!")
  for _ in $(seq 150); do grep -q '^link: ' "$tmp/$n.out" && break; sleep 0.1; done
  link=$(sed -n 's/^link: //p' "$tmp/$n.out" | head -1)
  fp=$(sed -n 's/^server-fingerprint: //p' "$tmp/$n.out" | head -1)
  [ -n "$link" ] && [ -n "$fp" ] || { echo "no link from the doctor"; cat "$tmp/$n.err"; exit 1; }
}

# wait_for FILE REGEX SECONDS
wait_for() {
  for _ in $(seq $(($3 * 10))); do grep -q "$2" "$1" && return 0; sleep 0.1; done
  return 1
}

mkfifo "$tmp/speaker.fifo" "$tmp/mic.fifo"
start_doctor d1 --audio-source tone:440 --chat "hello from the doctor" --duration 20 --stats-json "$tmp/d1.json"
doc=${pids[-1]}
SDL_AUDIODRIVER=disk SDL_DISKAUDIOFILE=$tmp/speaker.fifo SDL_DISKAUDIOFILEIN=$tmp/mic.fifo \
  "$app" join "$link" --server-pin "$fp" --no-window --video-source none --audio-source mic \
  >"$tmp/p1.out" 2>"$tmp/p1.err" &
pat=$!
pids+=("$pat")

wait_for "$tmp/p1.out" '^chat: hello from the doctor$' 30
check "the call connected and its data channel opened while the speakers and microphone were still opening" $?
grep -q '^state: connected$' "$tmp/p1.out"
check "the patient says 'state: connected'" $?

# The other ends: something listens to the speakers, and speaks into the
# microphone (a 523 Hz tone at the disk driver's pace, until the patient
# goes; on and off every 200 ms, as tests/lab/call.sh's, or noise
# suppression would take a steady tone for noise).
timeout 30 cat "$tmp/speaker.fifo" >"$tmp/speaker.raw" &
pids+=("$!")
python3 - "$tmp/mic.fifo" <<'EOF' &
import math, struct, sys
frame = b"".join(struct.pack("<h", int(8000 * (i // 9600 % 2 == 0) * math.sin(2 * math.pi * 523 * i / 48000)))
                for i in range(48000))
try:
    with open(sys.argv[1], "wb") as f:
        for _ in range(40):
            f.write(frame)
except BrokenPipeError:
    pass
EOF
pids+=("$!")

wait "$doc"
check "the doctor's call ended as it should (exit $?)" $?
for _ in $(seq 100); do kill -0 "$pat" 2>/dev/null || break; sleep 0.1; done
wait "$pat"
prc=$?
check "the patient left when the doctor ended the consultation (exit $prc)" "$prc"

# What the speakers played, 16-bit mono at 48 kHz (SDL's disk driver takes
# the rate and channels asked for): from its first loud sample to its last
# (before, the device played silence until 40 ms were queued; after, the
# call had ended), over a second of it and about 440 upward crossings of
# zero a second.
python3 - "$tmp/speaker.raw" <<'EOF'
import struct, sys
data = open(sys.argv[1], "rb").read()
n = len(data) // 2
s = struct.unpack("<%dh" % n, data[: n * 2])
loud = [i for i, x in enumerate(s) if abs(x) > 1000]
t = s[loud[0] : loud[-1] + 1] if loud else ()
secs = len(t) / 48000
up = sum(1 for a, b in zip(t, t[1:]) if a < 0 <= b) / secs if secs else 0
print("speakers: %.1f s of sound in %.1f s played, %.0f upward crossings a second" % (secs, n / 48000, up))
sys.exit(0 if secs >= 1 and 400 <= up <= 480 else 1)
EOF
check "the speakers, open late, played the doctor's 440 Hz tone" $?
hz=$(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["audio"]["dominantHz"]))' "$tmp/d1.json" 2>/dev/null)
[ -n "$hz" ] && [ "$hz" -ge 513 ] && [ "$hz" -le 533 ]
check "the microphone, open late, reached the doctor (dominant ${hz:-no} Hz, want 523)" $?

# No audio at all: one sentence, and the call goes on.
start_doctor d2 --audio-source tone:440 --chat "hello again" --duration 6
doc=${pids[-1]}
SDL_AUDIODRIVER=no-such-driver timeout 60 "$app" join "$link" --server-pin "$fp" --no-window --video-source none \
  >"$tmp/p2.out" 2>"$tmp/p2.err"
prc=$?
wait "$doc"
[ "$prc" -eq 0 ] && grep -q '^chat: hello again$' "$tmp/p2.out"
check "without any audio driver the call still holds (exit $prc)" $?
n=$(grep -c 'the other side will not be heard' "$tmp/p2.err")
[ "$n" -eq 1 ] && [ "$(wc -l <"$tmp/p2.err")" -eq 1 ]
check "and says so in one line: $(head -1 "$tmp/p2.err")" $?

app_check_detail() { :; }
echo "$checks checks, $fails failed"
[ "$fails" -eq 0 ]
