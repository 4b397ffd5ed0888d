#!/usr/bin/env bash
# Installs the Debian packages medcall needs. Safe to run again: it only
# calls apt-get when something is missing.
#
#   install-deps.sh          everything: build, demo and the whole test suite
#                            (scripts/test.sh)
#   install-deps.sh --demo   only what the build and the demo need
#                            (scripts/demo.sh): no browsers, fuzzer
#                            toolchain, coturn, Xvfb or packaging tools
set -euo pipefail

mode=all
case "${1:-}" in
  '') ;;
  --demo) mode=demo ;;
  *) echo "usage: install-deps.sh [--demo]" >&2; exit 2 ;;
esac

# The build: compiler, meson, the libraries meson.build asks for, and
# gettext (msgfmt compiles po/, xgettext the template).
build=(
  meson ninja-build pkg-config gcc gettext
  libssl-dev libuv1-dev zlib1g-dev libwebsockets-dev libjansson-dev libsystemd-dev
  libsrtp2-dev libusrsctp-dev libopus-dev libvpx-dev libyuv-dev libspeexdsp-dev libv4l-dev libsdl2-dev libsdl2-ttf-dev
  libfontconfig-dev
)
# Running medcall: libwebsockets' libuv plugin (loaded at run time) and the
# window's fonts: DejaVu, and Noto Sans CJK for Hangul (patients' names,
# chat, file names, the Korean UI), which DejaVu does not have.
run=(libwebsockets-evlib-uv fonts-dejavu-core fonts-noto-cjk)
# The test suite: the clang ASan+UBSan and libFuzzer build, Xvfb for the ui
# suite, coturn and network tools for the lab, browsers for interop (and
# a font with Hangul, for the patient page in Korean), packaging and unit
# checks for the install suite, promtool for metrics, locales' sources for
# the Korean and decimal-comma locales tests/app/lang.sh makes with
# localedef.
tests=(
  clang libclang-rt-14-dev xvfb xdotool
  coturn iproute2 iptables libnetfilter-queue-dev openssl jq procps curl
  chromium firefox-esr nodejs fonts-noto-cjk
  debhelper dpkg-dev lintian desktop-file-utils systemd prometheus python3
  locales
)

packages=("${build[@]}" "${run[@]}")
if [ "$mode" = all ]; then
  packages+=("${tests[@]}")
  # npm: its own Debian package beside Debian's nodejs; bundled (and
  # conflicting) when nodejs comes from NodeSource.
  command -v npm >/dev/null 2>&1 || packages+=(npm)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
