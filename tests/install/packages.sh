#!/usr/bin/env bash
# The Debian packages: `dpkg-buildpackage -us -uc -b` in a copy of this tree
# (DEB_BUILD_OPTIONS='nocheck parallel=2') builds medcall, medcall-server
# and medcall-web at meson.build's version; lintian finds no error (its
# warnings are printed); each .deb holds the files it should, with the
# dependencies and conffiles it should. Prints how long the build took.
# Usage: packages.sh SOURCE_ROOT
set -uo pipefail
src=$1
. "$(dirname "$0")/lib.sh"
need dpkg-buildpackage dpkg-dev
need dh debhelper
need lintian lintian
tmp=$(mktemp -d /tmp/medcall-deb.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# The tree as it is now (committed or not), without build directories.
mkdir "$tmp/medcall"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
  (cd "$src" && git ls-files -z -co --exclude-standard | tar --null -T - -cf -) | tar -xf - -C "$tmp/medcall"
else
  tar -C "$src" --exclude='./build*' --exclude='./obj-*' --exclude=node_modules -cf - . | tar -xf - -C "$tmp/medcall"
fi

if ! (cd "$tmp/medcall" && dpkg-checkbuilddeps) >"$tmp/deps.out" 2>&1; then
  if [ "${CI:-}" = "true" ]; then cat "$tmp/deps.out"; echo "FAIL: build dependencies missing"; exit 1; fi
  cat "$tmp/deps.out"; echo "SKIP: build dependencies missing"; exit 77
fi

start=$(date +%s)
(cd "$tmp/medcall" && DEB_BUILD_OPTIONS='nocheck parallel=2' dpkg-buildpackage -us -uc -b) >"$tmp/build.log" 2>&1
rc=$?
echo "package build: $(($(date +%s) - start)) s"
if [ "$rc" -ne 0 ]; then
  tail -40 "$tmp/build.log"; echo "FAIL: dpkg-buildpackage exit $rc"; exit 1
fi

version=$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" "$src/meson.build" | head -1)
deb_version=$(cd "$tmp/medcall" && dpkg-parsechangelog -S Version)
[ -n "$version" ] && [ "$deb_version" = "$version" ] && ok "version $deb_version, as meson.build" ||
  fail "debian/changelog says $deb_version, meson.build $version"

arch=$(dpkg --print-architecture)
server=$tmp/medcall-server_${deb_version}_$arch.deb
app=$tmp/medcall_${deb_version}_$arch.deb
web=$tmp/medcall-web_${deb_version}_all.deb
for d in "$server" "$app" "$web"; do [ -f "$d" ] || fail "not built: $(basename "$d")"; done
[ "$fails" -eq 0 ] || { ls "$tmp"; finish; exit 1; }

lintian --tag-display-limit 0 --display-info "$tmp/medcall_${deb_version}_$arch.changes" >"$tmp/lintian.out" 2>&1
grep -v "^running with root privileges" "$tmp/lintian.out" | sed "s/^/  lintian: /"
grep -q "^E: " "$tmp/lintian.out" && fail "lintian reports errors" || ok "lintian: no error"
echo "lintian warnings: $(grep -c "^W: " "$tmp/lintian.out")"

has() { # deb, path...
  local deb=$1; shift
  dpkg -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' >"$tmp/list"
  for p in "$@"; do grep -qxF "$p" "$tmp/list" || fail "$(basename "$deb") lacks $p"; done
}
has "$server" /usr/bin/medcall-server /lib/systemd/system/medcall-server.service /etc/medcall/server.conf \
  /usr/lib/sysusers.d/medcall-server.conf /usr/share/man/man8/medcall-server.8.gz /etc/logrotate.d/medcall-server \
  /usr/share/medcall/examples/server.conf /usr/share/medcall/examples/turnserver.conf
has "$app" /usr/bin/medcall /usr/share/man/man1/medcall.1.gz /usr/share/applications/medcall.desktop \
  /usr/share/icons/hicolor/scalable/apps/medcall.svg /usr/share/locale/ko/LC_MESSAGES/medcall.mo
has "$web" /usr/share/medcall/web/room.html /usr/share/medcall/web/room.js /usr/share/medcall/web/i18n.js /usr/share/medcall/web/style.css \
  /usr/share/medcall/web/index.html
dpkg -c "$server" | grep -q "medcall/web" && fail "medcall-server carries the page (medcall-web's)"
dpkg -c "$app" | grep -qE "medcall-server|/etc/" && fail "medcall carries server files"

dpkg-deb -e "$server" "$tmp/server-control"
grep -qx /etc/medcall/server.conf "$tmp/server-control/conffiles" && ok "/etc/medcall/server.conf is a conffile" ||
  fail "/etc/medcall/server.conf is not a conffile"
grep -q "systemd-sysusers.*medcall-server.conf" "$tmp/server-control/postinst" &&
  grep -q "/run/systemd/system" "$tmp/server-control/postinst" &&
  ok "postinst creates the medcall user and starts the unit only under systemd" ||
  fail "postinst lacks the sysusers or the guarded start"
for d in "$server" "$app"; do
  deps=$(dpkg-deb -f "$d" Depends)
  for want in libwebsockets-evlib-uv "medcall-web (= $deb_version)" libwebsockets17 libssl3; do
    case ", $deps," in *", $want"[,\ ]*) ;; *) fail "$(basename "$d") does not depend on $want: $deps" ;; esac
  done
done
case ", $(dpkg-deb -f "$app" Depends)," in *", fonts-dejavu-core,"*) ;; *) fail "medcall does not depend on its font" ;; esac
case ", $(dpkg-deb -f "$app" Depends)," in *", fonts-noto-cjk | fonts-nanum,"*) ;; *) fail "medcall does not depend on a font with Hangul" ;; esac
dpkg-deb -f "$server" Suggests | grep -q coturn || fail "medcall-server does not suggest coturn"
dpkg-deb -f "$server" Depends | grep -qE "SDL|vpx|opus" && fail "medcall-server depends on media libraries"
[ "$fails" -eq 0 ] && ok "files, conffiles and dependencies as expected"

finish
