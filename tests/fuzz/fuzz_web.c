/* Fuzz target: medcall-server's request path -> file of the web root
 * (mc_web_resolve, src/server/web.c), against a web root made for it: the
 * page's files, a subdirectory, a hidden file, a symlink that points out of
 * the root, and a sibling directory whose name begins with the root's.
 * Whatever the path, a file served is a regular file inside the root, never
 * the hidden one and never one outside (path traversal). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/server.h"

#define FUZZ_ASSERT(c) \
  do {                 \
    if (!(c)) abort(); \
  } while (0)

static char base[64], root[128], root_real[PATH_MAX];

static void put(const char *rel, const char *text) {
  char p[PATH_MAX + 64];
  snprintf(p, sizeof p, "%s/%s", base, rel);
  FILE *f = fopen(p, "w");
  if (!f) abort();
  fputs(text, f);
  fclose(f);
}

static void make_root(void) {
  char tmpl[] = "/tmp/medcall-fuzz-web-XXXXXX";
  if (!mkdtemp(tmpl)) abort();
  snprintf(base, sizeof base, "%s", tmpl);
  char p[PATH_MAX + 64];
  snprintf(root, sizeof root, "%s/web", base);
  mkdir(root, 0700);
  snprintf(p, sizeof p, "%s/web/sub", base), mkdir(p, 0700);
  snprintf(p, sizeof p, "%s/web/sub/deeper", base), mkdir(p, 0700);
  snprintf(p, sizeof p, "%s/webroot-evil", base), mkdir(p, 0700);
  snprintf(p, sizeof p, "%s/outside", base), mkdir(p, 0700);
  put("web/index.html", "index");
  put("web/room.html", "room");
  put("web/app.js", "js");
  put("web/i18n.js", "js");
  put("web/style.css", "css");
  put("web/sub/deeper/font.woff2", "font");
  put("web/.hidden", "SECRET");
  put("webroot-evil/x.html", "SECRET");
  put("outside/secret.txt", "SECRET");
  snprintf(p, sizeof p, "%s/web/escape", base);
  char target[PATH_MAX + 64];
  snprintf(target, sizeof target, "%s/outside", base);
  if (symlink(target, p) != 0) abort();
  snprintf(p, sizeof p, "%s/web/sub/up.txt", base);
  snprintf(target, sizeof target, "%s/outside/secret.txt", base);
  if (symlink(target, p) != 0) abort();
  if (!realpath(root, root_real)) abort();
}

static void remove_root(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", base);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!root[0]) {
    make_root();
    atexit(remove_root);
  }
  char *uri = malloc(size + 1);
  if (!uri) return 0;
  memcpy(uri, data, size);
  uri[size] = '\0';
  char path[PATH_MAX];
  const char *mime = NULL;
  size_t cap = size ? 1 + data[0] % sizeof path : sizeof path;
  int rc = mc_web_resolve(root, uri, path, cap, &mime);
  if (rc == MC_OK) {
    size_t rl = strlen(root_real);
    FUZZ_ASSERT(!strncmp(path, root_real, rl) && path[rl] == '/');
    FUZZ_ASSERT(!strstr(path, "/.") && !strstr(path, "outside") && !strstr(path, "evil"));
    struct stat st;
    FUZZ_ASSERT(stat(path, &st) == 0 && S_ISREG(st.st_mode));
    FUZZ_ASSERT(mime && mime[0]);
    FUZZ_ASSERT(uri[0] == '/' && !strstr(uri, "..") && !strstr(uri, "//"));
  } else {
    FUZZ_ASSERT(rc == MC_EINVAL || rc == MC_ENOTFOUND || rc == MC_ETOOBIG);
  }
  free(uri);
  return 0;
}
