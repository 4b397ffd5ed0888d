/* "name = value" files: the server's config and the app's share one reader,
 * so both accept the same syntax ('#' comments at the start of a line or
 * after whitespace, blank lines, a name alone for
 * a flag). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/util.h"

static char *trim(char *s) {
  while (isspace((unsigned char)*s)) s++;
  size_t n = strlen(s);
  while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
  return s;
}

int mc_conf_read(const char *path, mc_conf_fn fn, void *user, char *why, size_t why_cap) {
  FILE *f = fopen(path, "r");
  if (!f) {
    int e = errno;
    snprintf(why, why_cap, mc_tr("Cannot read the config file %s: %s."), path, strerror(e));
    return e == ENOENT ? MC_ENOTFOUND : MC_EIO;
  }
  char line[4096];
  int lineno = 0, rc = MC_OK;
  while (fgets(line, sizeof line, f)) {
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
      snprintf(why, why_cap, "%s:%d: %s", path, lineno, inner);
      break;
    }
  }
  fclose(f);
  return rc < 0 ? rc : MC_OK;
}
