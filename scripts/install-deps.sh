#!/usr/bin/env bash
# Installs the Debian packages medcall builds and tests with. Safe to run
# again: it only calls apt-get when something is missing.
set -euo pipefail

packages=(
  meson ninja-build pkg-config gcc clang libclang-rt-14-dev
  libssl-dev libuv1-dev zlib1g-dev libwebsockets-dev libwebsockets-evlib-uv libjansson-dev libsystemd-dev
  libsrtp2-dev libusrsctp-dev libopus-dev libvpx-dev libyuv-dev libspeexdsp-dev libv4l-dev libsdl2-dev libsdl2-ttf-dev fonts-dejavu-core xvfb xdotool
  coturn iproute2 iptables libnetfilter-queue-dev openssl jq procps prometheus
  chromium firefox-esr nodejs
)
# npm: its own Debian package beside Debian's nodejs; bundled (and conflicting)
# when nodejs comes from NodeSource.
command -v npm >/dev/null 2>&1 || packages+=(npm)

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
