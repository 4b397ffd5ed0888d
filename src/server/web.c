/* Static files of the patient page. The request path is checked by
 * characters and segments first, then the file's real path must lie inside
 * the web root, so neither "..", encoded dots nor symlinks lead outside. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "server/server.h"
#include "util/util.h"

static const struct {
  const char *ext;
  const char *mime;
} mimes[] = {
    {".html", "text/html; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"}, {".json", "application/json"},
    {".svg", "image/svg+xml"}, {".png", "image/png"}, {".ico", "image/x-icon"},
    {".woff2", "font/woff2"}, {".txt", "text/plain; charset=utf-8"}, {".webmanifest", "application/manifest+json"},
};

static bool path_char_ok(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-' || c == '/';
}

int mc_web_resolve(const char *web_root, const char *uri, char *path_out, size_t path_cap, const char **mime) {
  char rel[512];
  size_t ul = strlen(uri);
  if (ul == 0 || uri[0] != '/' || ul >= 256) return MC_EINVAL;
  for (size_t i = 0; i < ul; i++)
    if (!path_char_ok(uri[i])) return MC_EINVAL;
  /* No segment may be empty or start with '.': that refuses "..", "." and
   * hidden files in one rule. */
  for (size_t i = 0; i < ul; i++)
    if (uri[i] == '/' && i + 1 < ul && (uri[i + 1] == '.' || uri[i + 1] == '/')) return MC_EINVAL;
  if (!strcmp(uri, "/")) {
    snprintf(rel, sizeof rel, "index.html");
  } else if (!strncmp(uri, "/r/", 3)) {
    const char *room = uri + 3;
    if (!mc_signal_id_valid(room, strlen(room))) return MC_ENOTFOUND;
    snprintf(rel, sizeof rel, "room.html");
  } else {
    snprintf(rel, sizeof rel, "%s", uri + 1);
  }
  char root_real[PATH_MAX], file_real[PATH_MAX], joined[PATH_MAX + 512];
  if (!realpath(web_root, root_real)) return MC_ENOTFOUND;
  snprintf(joined, sizeof joined, "%s/%s", root_real, rel);
  if (!realpath(joined, file_real)) return MC_ENOTFOUND;
  size_t rl = strlen(root_real);
  if (strncmp(file_real, root_real, rl) != 0 || file_real[rl] != '/') return MC_ENOTFOUND;
  struct stat st;
  if (stat(file_real, &st) != 0 || !S_ISREG(st.st_mode)) return MC_ENOTFOUND;
  if (mc_strcpy(path_out, path_cap, file_real) < 0) return MC_ETOOBIG;
  *mime = "application/octet-stream";
  const char *dot = strrchr(file_real, '.');
  for (size_t i = 0; dot && i < MC_ARRAY_LEN(mimes); i++)
    if (!strcmp(dot, mimes[i].ext)) *mime = mimes[i].mime;
  return MC_OK;
}
