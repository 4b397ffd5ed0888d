#!/usr/bin/env bash
# The installed tree as a clinic gets it: a build configured with a
# temporary --prefix is installed there, then
#   - every file an installation needs is in its place,
#   - the INSTALLED medcall-server, given no --web-root, serves the
#     installed page at a room link (the installed room.html carries a
#     marker the source tree's does not, so a server falling back to the
#     source tree fails),
#   - the installed medcall's built-in server serves the installed page too,
#   - a call through the installed server between the installed `medcall
#     call` and `medcall join` (headless) connects and frames arrive both ways.
# Usage: installed_tree.sh SOURCE_ROOT
set -uo pipefail
src=$1
. "$(dirname "$0")/lib.sh"
need curl curl
need jq jq
tmp=$(mktemp -d /tmp/medcall-inst.XXXXXX)
prefix=$tmp/usr
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
export HOME=$tmp/home XDG_CONFIG_HOME=$tmp/config XDG_STATE_HOME=$tmp/state
unset DISPLAY WAYLAND_DISPLAY MEDCALL_WEB_ROOT
wait_line() { # file, regex, seconds
  local i
  for ((i = 0; i < $3 * 10; i++)); do grep -qE "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}

# ---- configure, build and install under the prefix ----
start=$(date +%s)
if ! meson setup "$tmp/build" "$src" --prefix "$prefix" -Dtests=false >"$tmp/setup.log" 2>&1; then
  cat "$tmp/setup.log"; echo "FAIL: meson setup"; exit 1
fi
if ! ninja -C "$tmp/build" -j 2 >"$tmp/build.log" 2>&1; then
  tail -30 "$tmp/build.log"; echo "FAIL: the build"; exit 1
fi
if ! meson install -C "$tmp/build" --no-rebuild >"$tmp/install.log" 2>&1; then
  cat "$tmp/install.log"; echo "FAIL: meson install"; exit 1
fi
echo "configure, build and install: $(($(date +%s) - start)) s"

for f in bin/medcall bin/medcall-server \
         share/medcall/web/room.html share/medcall/web/room.js share/medcall/web/i18n.js share/medcall/web/style.css share/medcall/web/index.html \
         share/man/man1/medcall.1 share/man/man8/medcall-server.8 \
         lib/systemd/system/medcall-server.service lib/sysusers.d/medcall-server.conf \
         share/medcall/examples/server.conf share/medcall/examples/turnserver.conf \
         share/applications/medcall.desktop share/icons/hicolor/scalable/apps/medcall.svg \
         share/locale/ko/LC_MESSAGES/medcall.mo; do
  [ -f "$prefix/$f" ] || fail "not installed: $f"
done
[ "$fails" -eq 0 ] && ok "every file is installed under the prefix"
grep -q "^ExecStart=$prefix/bin/medcall-server --config $prefix/etc/medcall/server.conf\$" \
  "$prefix/lib/systemd/system/medcall-server.service" && ok "the unit starts the installed server" ||
  fail "the unit's ExecStart does not name the installed server and config"

# The installed app finds its catalog in the prefix's localedir by itself.
unset MEDCALL_LOCALEDIR
"$prefix/bin/medcall" --lang ko join not-a-link >/dev/null 2>"$tmp/ko.err"
grep -q '^medcall: 진료실 링크는 https://로 시작해야 합니다' "$tmp/ko.err" && ok "the installed app speaks Korean (--lang ko)" ||
  fail "the installed app did not find its Korean catalog: $(cat "$tmp/ko.err")"

# Tell the installed page from the source tree's.
marker="<!-- installed copy $$ -->"
echo "$marker" >>"$prefix/share/medcall/web/room.html"
page_is_installed() { # url
  curl -sk --max-time 10 -o "$tmp/page.html" -w '%{http_code}' "$1" >"$tmp/code"
  [ "$(cat "$tmp/code")" = 200 ] && grep -qF "$marker" "$tmp/page.html" && grep -q "room.js" "$tmp/page.html"
}

# ---- the installed server, no --web-root ----
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$prefix/bin/medcall-server" --listen "127.0.0.1:$port" --open --state-dir "$tmp/srv" >"$tmp/srv.out" 2>&1 &
pids+=($!)
wait_line "$tmp/srv.out" "fingerprint" 10 || { cat "$tmp/srv.out"; echo "FAIL: the installed server did not start"; exit 1; }
fp=$(sed -n 's/.*fingerprint \([0-9A-F:]*\).*/\1/p' "$tmp/srv.out" | head -1)
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done

media=(--headless --video-source pattern --audio-source tone --fps 15 --server-pin "$fp" --duration 4)
"$prefix/bin/medcall" call --server "wss://127.0.0.1:$port/ws" "${media[@]}" --stats-json "$tmp/d.json" \
  >"$tmp/d.out" 2>"$tmp/d.err" &
doc=$!
pids+=("$doc")
wait_line "$tmp/d.out" "^link: " 15 || { cat "$tmp/d.err"; echo "FAIL: the installed app made no room"; exit 1; }
link=$(sed -n 's/^link: //p' "$tmp/d.out" | head -1)
case $link in
  "https://127.0.0.1:$port/r/"*) ok "the installed app created a room: $link" ;;
  *) fail "unexpected link $link" ;;
esac
page_is_installed "$link" && ok "the installed server serves the installed page at the room link" ||
  fail "the room link did not answer the installed room.html (HTTP $(cat "$tmp/code"))"

"$prefix/bin/medcall" join "$link" --name Installed "${media[@]}" --stats-json "$tmp/p.json" \
  >"$tmp/p.out" 2>"$tmp/p.err" &
pat=$!
pids+=("$pat")
wait "$pat"; prc=$?
wait "$doc"; drc=$?
for side in d p; do
  name=doctor; [ $side = p ] && name=patient
  rc=$drc; [ $side = p ] && rc=$prc
  grep -q "^state: connected" "$tmp/$side.out" && [ "$rc" -eq 0 ] && ok "$name: connected, exit 0" ||
    { fail "$name: exit $rc, no 'state: connected'"; sed 's/^/  /' "$tmp/$side.out" "$tmp/$side.err"; }
  frames=$(jq '.video.framesDecoded' "$tmp/$side.json" 2>/dev/null)
  [ "${frames:-0}" -gt 0 ] 2>/dev/null && ok "$name decoded $frames frames" || fail "$name decoded ${frames:-no} frames"
done

# ---- the installed app's built-in server ----
"$prefix/bin/medcall" call --headless --video-source none --audio-source none >"$tmp/b.out" 2>"$tmp/b.err" &
builtin=$!
pids+=("$builtin")
if wait_line "$tmp/b.out" "^link: " 15; then
  blink=$(sed -n 's/^link: //p' "$tmp/b.out" | head -1)
  # The link names this machine's address; the server listens on all of them.
  blink=$(echo "$blink" | sed -E 's|^https://[^/]+:([0-9]+)/|https://127.0.0.1:\1/|')
  page_is_installed "$blink" && ok "the app's built-in server serves the installed page" ||
    fail "the built-in server's link did not answer the installed room.html (HTTP $(cat "$tmp/code"))"
else
  fail "the built-in server made no room"; cat "$tmp/b.err"
fi
kill -INT "$builtin" 2>/dev/null

finish
