/* Files a program keeps between runs: the state directory (XDG Base
 * Directory: $XDG_STATE_HOME, else ~/.local/state) and whole-file writes
 * that a crash never leaves half done. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/util.h"

int mc_mkdir_p(const char *path, unsigned mode) {
  char buf[4096];
  if (mc_strcpy(buf, sizeof buf, path) < 0) return MC_ETOOBIG;
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(buf, (mode_t)mode) < 0 && errno != EEXIST) return MC_EIO;
    *p = '/';
  }
  if (mkdir(buf, (mode_t)mode) < 0 && errno != EEXIST) return MC_EIO;
  return MC_OK;
}

int mc_state_dir(const char *given, char *out, size_t cap) {
  const char *xdg = getenv("XDG_STATE_HOME");
  const char *home = getenv("HOME");
  /* systemd's StateDirectory= (systemd.exec(5)): a colon-separated list
   * when several are named; ours is the first. */
  const char *unit = getenv("STATE_DIRECTORY");
  size_t unit_len = unit ? strcspn(unit, ":") : 0;
  int n;
  if (given && given[0]) n = snprintf(out, cap, "%s", given);
  else if (unit && unit[0] == '/') n = snprintf(out, cap, "%.*s", (int)unit_len, unit);
  /* XDG Base Directory: "If $XDG_STATE_HOME is either not set or empty, a
   * default equal to $HOME/.local/state should be used"; relative paths are
   * invalid and ignored. */
  else if (xdg && xdg[0] == '/') n = snprintf(out, cap, "%s/medcall", xdg);
  else if (home && home[0]) n = snprintf(out, cap, "%s/.local/state/medcall", home);
  else return MC_ENOTFOUND;
  if (n < 0 || (size_t)n >= cap) return MC_ETOOBIG;
  return mc_mkdir_p(out, 0700);
}

int mc_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode) {
  char tmp[4200];
  int n = snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
  if (n < 0 || (size_t)n >= sizeof tmp) return MC_ETOOBIG;
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
  if (fd < 0) return MC_EIO;
  const uint8_t *p = data;
  size_t left = len;
  while (left > 0) {
    ssize_t w = write(fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    p += w;
    left -= (size_t)w;
  }
  /* The data reaches the disk before the name points at it: after a crash
   * the file is the old one or the new one, never a torn mix. */
  bool ok = left == 0 && fsync(fd) == 0;
  if (close(fd) != 0) ok = false;
  if (!ok || rename(tmp, path) != 0) {
    unlink(tmp);
    return MC_EIO;
  }
  return MC_OK;
}

int mc_read_file(const char *path, size_t max, char **out, size_t *len_out) {
  FILE *f = fopen(path, "rb");
  if (!f) return errno == ENOENT ? MC_ENOTFOUND : MC_EIO;
  char *buf = malloc(max + 1);
  if (!buf) {
    fclose(f);
    return MC_ENOMEM;
  }
  size_t n = fread(buf, 1, max + 1, f);
  bool err = ferror(f);
  fclose(f);
  if (err || n > max) {
    free(buf);
    return err ? MC_EIO : MC_ETOOBIG;
  }
  buf[n] = '\0';
  *out = buf;
  if (len_out) *len_out = n;
  return MC_OK;
}
