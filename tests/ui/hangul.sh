# Sourced by the Hangul tests of tests/ui (korean_ui.sh, korean_call.sh),
# after lib.sh: the user's language, finding a word in a screenshot as
# fontconfig's font draws it, typing Hangul. Needs XSHOT and TEXTREF.

# ui_language en|ko: the environment of a user whose language that is. The
# UI's strings follow it once translated (gettext reads LANGUAGE and
# LANG); fontconfig's first font does already (Noto Sans CJK KR for ko).
ui_language() {
  case "$1" in
    en) export LANG=C.UTF-8 LANGUAGE=en ;;
    ko) export LANG=ko_KR.UTF-8 LANGUAGE=ko ;;
    *) fail "unknown UI language $1 (en or ko)" ;;
  esac
}

# Colours of src/app/window_draw.c, as "R G B".
C_TEXT="235 235 235" C_BG="20 22 26" C_PANEL="28 30 36" C_MINE="150 200 255" C_YELLOW="225 185 50"
C_AVATAR="60 110 170"

# word_at SHOT X Y W H LANG WEIGHT PX "FG" "BG" WORD: WORD, as fontconfig's
# sans-serif font for LANG (ko: the Hangul one) draws it at PX pixels in FG
# on BG, is in the rectangle pixel for pixel (at least 95 % of its text
# pixels and of all its pixels); prints what xshot find says. Boxes, or the
# word in another font, are not found.
word_at() {
  local shot=$1 x=$2 y=$3 w=$4 h=$5 lang=$6 weight=$7 px=$8 fg=$9 bg=${10} word=${11} got
  "$TEXTREF" "$lang" "$weight" "$px" "$word" "${fg// /,}" "${bg// /,}" "$DIR/ref.ppm" >"$DIR/ref.font" || return 1
  got=$("$XSHOT" find "$shot" "$x" "$y" "$w" "$h" "$DIR/ref.ppm" $bg) || return 1
  echo "$got" >"$DIR/found"
  read -r ink all _ _ <<<"$got"
  [ "$ink" -ge 950 ] && [ "$all" -ge 950 ]
}
# After each check that passed: how well and where the word was found;
# after a failure: the reference and its font.
ui_on_pass() { if [ -s "$DIR/found" ]; then echo "    found (text pixels, all pixels per mille; x y): $(cat "$DIR/found")"; rm -f "$DIR/found"; fi; }
ui_on_fail_reference() { [ -s "$DIR/ref.font" ] && echo "--- the last reference: $DIR/ref.ppm, $(cat "$DIR/ref.font")"; }

# type_hangul TEXT: types TEXT with xdotool into the focused window.
# xdotool types a character no key has by remapping a spare key for it and
# mapping it back at once, which races the application's lookup of the key
# (characters went missing): each character gets a key of its own first
# (xshot keymap). xdotool reads TEXT in its own locale, one that exists.
type_hangul() {
  "$XSHOT" keymap "$1" || fail "could not give the characters of '$1' keys"
  LC_ALL=C.UTF-8 xdotool type --delay 30 "$1"
}

# same_bytes GOT WANT WHAT: fails with both in hex unless they are the same bytes.
same_bytes() {
  [ "$1" = "$2" ] || fail "$3: got '$1' ($(printf %s "$1" | od -An -tx1 | tr -d '\n')), want '$2' ($(printf %s "$2" | od -An -tx1 | tr -d '\n'))"
}
