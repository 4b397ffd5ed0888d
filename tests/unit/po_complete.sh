#!/usr/bin/env bash
# The app's catalogs are complete (issue 15 item 2): every string the
# sources wrap in _(), N_(), ngettext, or (the library's) mc_tr() and
# MC_TR_NOOP() is in each po/LL.po of po/LINGUAS, and po/POTFILES lists
# every source that wraps one;
# translated, not fuzzy, with the format specifiers of its msgid; no
# catalog keeps strings the sources no longer have; po/medcall.pot is the
# sources' own. The template is made afresh with xgettext and the
# arguments po/meson.build gives it. Each failure lists the strings.
#
#   po_complete.sh SOURCE_ROOT XGETTEXT_ARGS...
set -uo pipefail
src=${1:?source root}
shift
for tool in xgettext msgfmt msgattrib; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is missing (apt-get install gettext)"; exit 1; }
done
tmp=$(mktemp -d /tmp/medcall-po.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { fails=$((fails + 1)); echo "FAIL: $1"; sed 's/^/    /' "$tmp/list"; }

# The same call as meson's medcall-pot target (it adds -k_ itself).
if ! (cd "$src" && xgettext --package-name=medcall -f po/POTFILES -D "$src" -k_ -o "$tmp/sources.pot" "$@") \
    2>"$tmp/xgettext.err"; then
  cat "$tmp/xgettext.err"; echo "FAIL: xgettext"; exit 1
fi
# msgids of a catalog, one a line (newlines as \n), header and obsolete entries left out.
ids() {
  msgattrib --no-obsolete --no-wrap --no-location "$@" | awk '
    function out() { if (in_id && id != "") print id; in_id = 0 }
    /^msgid "/ { out(); in_id = 1; id = substr($0, 8, length($0) - 8); next }
    /^"/ && in_id { id = id substr($0, 2, length($0) - 2); next }
    { out() }
    END { out() }' | LC_ALL=C sort -u
}
ids "$tmp/sources.pot" >"$tmp/sources"
n=$(wc -l <"$tmp/sources")
[ "$n" -gt 100 ] || { echo "FAIL: only $n strings found in the sources: is po/POTFILES right?"; exit 1; }
echo "ok: $n strings wrapped for translation in the sources"

# Every source that marks a sentence for a person is one xgettext reads.
(cd "$src" && grep -rlE '(^|[^A-Za-z0-9_])(_|N_|ngettext|mc_tr|MC_TR_NOOP)\(' --include='*.c' src |
  grep -vx 'src/util/tr.c' | LC_ALL=C sort) >"$tmp/marking"
sed 's/#.*//; /^[[:space:]]*$/d' "$src/po/POTFILES" | LC_ALL=C sort >"$tmp/listed"
LC_ALL=C comm -23 "$tmp/marking" "$tmp/listed" >"$tmp/list"
if [ -s "$tmp/list" ]; then fail "these sources mark sentences for translation but po/POTFILES does not list them:"
else echo "ok: po/POTFILES lists every source that marks a sentence ($(wc -l <"$tmp/listed") files)"; fi

ids "$src/po/medcall.pot" >"$tmp/pot"
LC_ALL=C comm -3 "$tmp/sources" "$tmp/pot" | sed 's/^\t/only in po\/medcall.pot: /; t; s/^/only in the sources: /' >"$tmp/list"
if [ -s "$tmp/list" ]; then
  fail "po/medcall.pot is not the sources' (ninja -C build medcall-update-po):"
else
  echo "ok: po/medcall.pot has the sources' strings"
fi

langs=$(sed 's/#.*//' "$src/po/LINGUAS" | tr -s ' \t' '\n\n' | grep .)
[ -n "$langs" ] || { echo "FAIL: po/LINGUAS names no language"; exit 1; }
for ll in $langs; do
  po=$src/po/$ll.po
  [ -f "$po" ] || { echo "FAIL: po/LINGUAS names $ll but po/$ll.po is missing"; fails=$((fails + 1)); continue; }
  if msgfmt --check --check-format --statistics -o /dev/null "$po" >"$tmp/stats" 2>&1; then
    echo "ok: po/$ll.po compiles with msgfmt --check ($(cat "$tmp/stats"))"
  else
    cp "$tmp/stats" "$tmp/list"
    fail "po/$ll.po does not pass msgfmt --check (format specifiers, header, plural forms)"
  fi
  ids "$po" >"$tmp/have"
  LC_ALL=C comm -23 "$tmp/sources" "$tmp/have" >"$tmp/list"
  if [ -s "$tmp/list" ]; then fail "po/$ll.po lacks strings the sources have (ninja -C build medcall-update-po, then translate):"
  else echo "ok: po/$ll.po has every string of the sources"; fi
  LC_ALL=C comm -13 "$tmp/sources" "$tmp/have" >"$tmp/list"
  if [ -s "$tmp/list" ]; then fail "po/$ll.po has strings no source has any more (ninja -C build medcall-update-po):"
  else echo "ok: po/$ll.po has no stale strings"; fi
  ids --untranslated "$po" >"$tmp/list"
  if [ -s "$tmp/list" ]; then fail "po/$ll.po leaves these untranslated:"
  else echo "ok: po/$ll.po translates every string"; fi
  ids --only-fuzzy "$po" >"$tmp/list"
  if [ -s "$tmp/list" ]; then fail "po/$ll.po has fuzzy translations (check them, then drop the fuzzy flag):"
  else echo "ok: po/$ll.po has no fuzzy translation"; fi
done
if [ "$ll" = ko ] || grep -qx ko <<<"$langs"; then
  grep -q '^"Plural-Forms: nplurals=1; plural=0;\\n"$' "$src/po/ko.po" && echo "ok: Korean has one plural form" ||
    { echo "FAIL: po/ko.po's Plural-Forms is not nplurals=1; plural=0;"; fails=$((fails + 1)); }
fi
[ "$fails" -eq 0 ]
