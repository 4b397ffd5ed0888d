/* Fuzz target: "name = value" config files (mc_conf_parse, src/util/conf.c,
 * which mc_conf_read runs on a file's text) and the server's handler of
 * each line (medcall-server --config: every option of src/server/config.c,
 * then the whole config's check). The app's handler (call_main.c) only
 * turns lines into argv for getopt and is not reachable without the app's
 * main: left out. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"
#include "util/util.h"

#define FUZZ_ASSERT(c) \
  do {                 \
    if (!(c)) abort(); \
  } while (0)

struct seen {
  int lines, stop_at;
};

static void check_trimmed(const char *s) {
  size_t n = strlen(s);
  FUZZ_ASSERT(n == 0 || (!isspace((unsigned char)s[0]) && !isspace((unsigned char)s[n - 1])));
}

static int line(const char *name, const char *value, void *user, char *why, size_t why_cap) {
  struct seen *s = user;
  /* A comment was cut and blank lines skipped; '=' splits name from value. */
  FUZZ_ASSERT(name && !strchr(name, '=') && !strchr(name, '\n'));
  check_trimmed(name);
  if (value) {
    check_trimmed(value);
    FUZZ_ASSERT(!strchr(value, '\n'));
    for (const char *p = value; *p; p++) FUZZ_ASSERT(!(*p == '#' && p > value && isspace((unsigned char)p[-1])));
  }
  FUZZ_ASSERT(name[0] != '#' && (name[0] || value));
  if (++s->lines == s->stop_at) {
    snprintf(why, why_cap, "stop");
    return MC_EINVAL;
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct seen s = {0, size ? 1 + data[0] % 8 : 0};
  char why[600] = "";
  int rc = mc_conf_parse(data, size, "fuzz.conf", line, &s, why, sizeof why);
  FUZZ_ASSERT(rc == 0 || (rc == MC_EINVAL && s.lines == s.stop_at && !strncmp(why, "fuzz.conf:", 10)));

  struct mc_server_config cfg;
  mc_server_config_init(&cfg);
  why[0] = '\0';
  rc = mc_server_config_load_text(&cfg, data, size, "server.conf", why, sizeof why);
  if (rc == 0) {
    FUZZ_ASSERT(cfg.n_listen <= MC_SERVER_MAX_LISTEN && (cfg.n_listen == 0) == !cfg.listen_host);
    FUZZ_ASSERT(cfg.n_metrics_listen <= MC_SERVER_MAX_LISTEN && cfg.n_turn_urls <= MC_SERVER_MAX_TURN_URLS);
    FUZZ_ASSERT(!cfg.help && !cfg.version);
    char cwhy[600] = "";
    if (mc_server_config_check(&cfg, cwhy, sizeof cwhy) != 0) FUZZ_ASSERT(cwhy[0]);
  } else {
    FUZZ_ASSERT(rc < 0 && !strncmp(why, "server.conf:", 12));
  }
  mc_server_config_free(&cfg);
  return 0;
}
