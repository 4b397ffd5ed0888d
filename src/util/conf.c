/* "name = value" files: the server's config and the app's share one reader,
 * so both accept the same syntax ('#' comments at the start of a line or
 * after whitespace, blank lines, a name alone for
 * a flag). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

/* Longer files are refused: a config file is a few dozen lines. */
#define CONF_MAX_BYTES (1024 * 1024)

static char *trim(char *s) {
  while (isspace((unsigned char)*s)) s++;
  size_t n = strlen(s);
  while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
  return s;
}

int mc_conf_parse(const uint8_t *buf, size_t len, const char *origin, mc_conf_fn fn, void *user, char *why,
                  size_t why_cap) {
  char line[4096];
  int lineno = 0, rc = MC_OK;
  size_t off = 0;
  while (off < len) {
    /* A line longer than the buffer is read in pieces, each taken as a line
     * of its own (what fgets did when this read a FILE). */
    size_t n = 0;
    while (off + n < len && n < sizeof line - 1 && buf[off + n] != '\n') n++;
    if (off + n < len && n < sizeof line - 1) n++; /* the '\n' */
    memcpy(line, buf + off, n);
    line[n] = '\0';
    off += n;
    lineno++;
    /* A comment starts a line or follows whitespace, so a value may hold
     * '#' (a token such as Xk9#q2Lr). */
    for (char *p = line; *p; p++)
      if (*p == '#' && (p == line || isspace((unsigned char)p[-1]))) {
        *p = '\0';
        break;
      }
    char *s = trim(line);
    if (!*s) continue;
    char *eq = strchr(s, '=');
    if (eq) *eq = '\0';
    char *name = trim(s);
    char *value = eq ? trim(eq + 1) : NULL;
    char inner[400] = "";
    rc = fn(name, value, user, inner, sizeof inner);
    if (rc < 0) {
      snprintf(why, why_cap, "%s:%d: %s", origin, lineno, inner);
      break;
    }
  }
  return rc < 0 ? rc : MC_OK;
}

int mc_conf_read(const char *path, mc_conf_fn fn, void *user, char *why, size_t why_cap) {
  char *text = NULL;
  size_t len = 0;
  errno = 0;
  int rc = mc_read_file(path, CONF_MAX_BYTES, &text, &len);
  if (rc < 0) {
    int e = rc == MC_ENOTFOUND ? ENOENT : rc == MC_ETOOBIG ? EFBIG : rc == MC_ENOMEM ? ENOMEM : errno ? errno : EIO;
    snprintf(why, why_cap, mc_tr("Cannot read the config file %s: %s."), path, strerror(e));
    return rc == MC_ENOTFOUND ? MC_ENOTFOUND : MC_EIO;
  }
  rc = mc_conf_parse((const uint8_t *)text, len, path, fn, user, why, why_cap);
  free(text);
  return rc;
}
