/* The desktop's folders as xdg-user-dirs keeps them (issue 15 item 4): a
 * Korean desktop's download folder is ~/다운로드, named in
 * ~/.config/user-dirs.dirs, which desktops read themselves and do not
 * export as $XDG_DOWNLOAD_DIR.
 *
 * The file is written by xdg-user-dirs-update and read by shells (it is
 * sourced): lines XDG_NAME_DIR="$HOME/path" or XDG_NAME_DIR="/path", '#'
 * comments (xdg-user-dirs, user-dirs.dirs(5)). The parser takes only that
 * form, as xdg-user-dir-lookup does, and refuses what a shell would read
 * differently (an unescaped $ or `, a backslash before anything but " \ $ `),
 * control characters and invalid UTF-8: such a line is skipped. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "app/app.h"
#include "util/util.h"

#define LOG "channels"
#define USER_DIRS_MAX (64 * 1024) /* the real file is under 1 KiB */

static bool blank(uint8_t c) { return c == ' ' || c == '\t'; }

/* Whether s[0, n) is valid UTF-8 (RFC 3629 4) with no control character. */
static bool clean_utf8(const uint8_t *s, size_t n) {
  for (size_t i = 0; i < n;) {
    uint8_t c = s[i];
    size_t len = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (len == 0 || len > n - i || c < 0x20 || c == 0x7F) return false;
    for (size_t k = 1; k < len; k++)
      if ((s[i + k] & 0xC0) != 0x80) return false;
    /* Overlong, surrogate and beyond U+10FFFF second bytes. */
    if ((c == 0xE0 && s[i + 1] < 0xA0) || (c == 0xED && s[i + 1] > 0x9F) || (c == 0xF0 && s[i + 1] < 0x90) ||
        (c == 0xF4 && s[i + 1] > 0x8F))
      return false;
    i += len;
  }
  return true;
}

/* One line (without its '\n'): 0 and the path in out when it sets
 * XDG_<name>_DIR, MC_ENOTFOUND when it sets something else or nothing,
 * MC_EPARSE when it is not of the form, MC_ETOOBIG when it does not fit. */
static int parse_line(const uint8_t *p, size_t n, const char *name, const char *home, char *out, size_t cap) {
  size_t i = 0, name_len = strlen(name), home_len = strlen(home);
  while (i < n && blank(p[i])) i++;
  if (i == n || p[i] == '#') return MC_ENOTFOUND;
  if (n - i < 4 + name_len + 4 || memcmp(p + i, "XDG_", 4) != 0 || memcmp(p + i + 4, name, name_len) != 0 ||
      memcmp(p + i + 4 + name_len, "_DIR", 4) != 0)
    return MC_ENOTFOUND;
  i += 4 + name_len + 4;
  while (i < n && blank(p[i])) i++;
  if (i == n || p[i++] != '=') return MC_ENOTFOUND; /* XDG_<name>_DIRECTORY=... is another name */
  while (i < n && blank(p[i])) i++;
  if (i == n || p[i++] != '"') return MC_EPARSE;
  size_t o = 0;
  if (n - i >= 5 && memcmp(p + i, "$HOME", 5) == 0 && (n - i == 5 || p[i + 5] == '/' || p[i + 5] == '"')) {
    if (home_len >= cap) return MC_ETOOBIG;
    memcpy(out, home, home_len);
    o = home_len;
    i += 5;
  } else if (i == n || p[i] != '/') {
    return MC_EPARSE; /* relative paths are not allowed (user-dirs.dirs(5)) */
  }
  for (;; i++) {
    if (i == n) return MC_EPARSE; /* no closing quote */
    uint8_t c = p[i];
    if (c == '"') break;
    if (c == '$' || c == '`') return MC_EPARSE;
    if (c == '\\') {
      if (++i == n || (p[i] != '"' && p[i] != '\\' && p[i] != '$' && p[i] != '`')) return MC_EPARSE;
      c = p[i];
    }
    if (o + 1 >= cap) return MC_ETOOBIG;
    out[o++] = (char)c;
  }
  for (i++; i < n; i++)
    if (!blank(p[i])) return MC_EPARSE;
  if (!clean_utf8((const uint8_t *)out, o)) return MC_EPARSE;
  while (o > 1 && out[o - 1] == '/') o--;
  out[o] = '\0';
  return MC_OK;
}

int call_user_dirs_lookup(const uint8_t *buf, size_t len, const char *name, const char *home, char *out,
                          size_t cap) {
  if (!buf || !name || !*name || !home || !out || cap == 0) return MC_EINVAL;
  char *path = malloc(cap);
  if (!path) return MC_ENOMEM;
  int found = MC_ENOTFOUND;
  for (size_t a = 0; a < len;) {
    const uint8_t *nl = memchr(buf + a, '\n', len - a);
    size_t b = nl ? (size_t)(nl - buf) : len;
    /* Like a shell sourcing the file, the last line for the name wins. */
    int rc = parse_line(buf + a, b - a, name, home, path, cap);
    if (rc == MC_OK) {
      memcpy(out, path, strlen(path) + 1);
      found = MC_OK;
    } else if (rc == MC_ETOOBIG && found != MC_OK) {
      found = MC_ETOOBIG;
    }
    a = b + 1;
  }
  free(path);
  return found;
}

static bool is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* XDG_DOWNLOAD_DIR of user-dirs.dirs, when it names a folder that exists. */
static bool from_user_dirs(const char *home, char *out, size_t cap) {
  char file[PATH_MAX];
  const char *config = getenv("XDG_CONFIG_HOME");
  /* A relative $XDG_CONFIG_HOME is ignored (XDG Base Directory). */
  int n = config && config[0] == '/' ? snprintf(file, sizeof file, "%s/user-dirs.dirs", config)
                                     : snprintf(file, sizeof file, "%s/.config/user-dirs.dirs", home);
  if (n < 0 || (size_t)n >= sizeof file) return false;
  char *text = NULL;
  size_t len = 0;
  int rc = mc_read_file(file, USER_DIRS_MAX, &text, &len);
  if (rc == MC_ETOOBIG) MC_LOGW(LOG, "user-dirs.dirs is larger than %d bytes; its download folder is not used", USER_DIRS_MAX);
  if (rc != 0) return false;
  rc = call_user_dirs_lookup((const uint8_t *)text, len, "DOWNLOAD", home, out, cap);
  free(text);
  return rc == 0 && is_dir(out);
}

void call_download_dir(char *out, size_t cap) {
  const char *home = getenv("HOME");
  if (home && *home && from_user_dirs(home, out, cap)) return;
  const char *xdg = getenv("XDG_DOWNLOAD_DIR");
  if (xdg && *xdg && is_dir(xdg) && mc_strcpy(out, cap, xdg) == 0) return;
  if (!home || !*home) {
    mc_strcpy(out, cap, ".");
    return;
  }
  int n = snprintf(out, cap, "%s/Downloads", home);
  if (n > 0 && (size_t)n < cap && is_dir(out)) return;
  mc_strcpy(out, cap, home);
}
