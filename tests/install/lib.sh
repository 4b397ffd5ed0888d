# Shared by the install suite's scripts: checks and their report.
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }
# A tool the test needs: CI must have it (scripts/install-deps.sh), a
# developer's machine may skip.
need() { # command, Debian package
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "${CI:-}" = "true" ]; then
    echo "FAIL: $1 is not installed (Debian package $2; CI gets it from scripts/install-deps.sh)"
    exit 1
  fi
  echo "SKIP: $1 is not installed (Debian package $2)"
  exit 77
}
finish() {
  echo "$fails failed"
  [ "$fails" -eq 0 ]
}
