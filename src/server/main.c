/* medcall-server: parses the options and runs the server (docs/server.md). */
#include <stdio.h>

#include "server/server.h"
#include "util/util.h"

int main(int argc, char **argv) {
  struct mc_server_config cfg;
  char why[512];
  mc_log_init_from_env();
  mc_server_config_init(&cfg);
  if (mc_server_config_parse_args(&cfg, argc, argv, why, sizeof why) < 0) {
    fprintf(stderr, "medcall-server: %s\n", why);
    mc_server_config_free(&cfg);
    return 2;
  }
  if (cfg.version) {
    printf("medcall-server %s\n", MEDCALL_VERSION);
    mc_server_config_free(&cfg);
    return 0;
  }
  if (cfg.help) {
    mc_server_usage(stdout);
    mc_server_config_free(&cfg);
    return 0;
  }
  int rc = mc_server_run(&cfg);
  mc_server_config_free(&cfg);
  return rc;
}
