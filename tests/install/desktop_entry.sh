#!/usr/bin/env bash
# The doctor's app in the desktop menus: desktop-file-validate finds no
# error or warning in dist/medcall.desktop, it starts `medcall call`, and
# the icon it names is a well-formed SVG.
# Usage: desktop_entry.sh SOURCE_ROOT
set -uo pipefail
src=$1
. "$(dirname "$0")/lib.sh"
need desktop-file-validate desktop-file-utils
entry=$src/dist/medcall.desktop

out=$(desktop-file-validate "$entry" 2>&1)
rc=$?
[ -n "$out" ] && echo "$out" | sed 's/^/  desktop-file-validate: /'
if [ "$rc" -eq 0 ] && ! echo "$out" | grep -qiE "error|warning"; then
  ok "desktop-file-validate: no error or warning"
else
  fail "desktop-file-validate (exit $rc)"
fi
grep -qx "Exec=medcall call" "$entry" && ok "it starts medcall call" || fail "Exec is not 'medcall call'"
grep -qx "Icon=medcall" "$entry" || fail "Icon is not medcall"
if command -v xmllint >/dev/null 2>&1; then
  xmllint --noout "$src/dist/icons/medcall.svg" && grep -q "<svg " "$src/dist/icons/medcall.svg" &&
    ok "the icon is well-formed SVG" || fail "dist/icons/medcall.svg is not well-formed SVG"
fi

finish
