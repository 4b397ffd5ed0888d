/* medcall: the desktop app's entry point. Subcommands come from one table so
 * a new command (call, join, devices) is one row and one function. */
#include <stdio.h>
#include <string.h>

#include "app/app.h"
#include "app/i18n.h"
#include "util/util.h"

static const struct mc_app_command commands[] = {
    {"call", N_("create a consultation room, print its link and connect the patient"), mc_call_usage,
     mc_call_main},
    {"join", N_("join a consultation from its room link"), mc_join_usage, mc_join_main},
    {"diagnose", N_("check STUN/TURN servers and what this network can offer"), mc_diagnose_usage,
     mc_diagnose_main},
    {"devices", N_("list cameras, microphones and speakers"), mc_devices_usage, mc_devices_main},
};

static void print_overview(FILE *f) {
  fputs(_("usage: medcall COMMAND [OPTIONS]\n\ncommands:\n"), f);
  for (size_t i = 0; i < MC_ARRAY_LEN(commands); i++)
    fprintf(f, "  %-10s %s\n", commands[i].name, _(commands[i].summary));
  fputs(_("\n'medcall COMMAND --help' describes a command.\n"
          "--lang ko|en (with any command) chooses the language of the window and\n"
          "messages; without it LANGUAGE, LC_ALL, LC_MESSAGES and LANG do.\n"
          "MEDCALL_LOG=debug|info|warn|error|off sets the log level (default warn).\n"),
        f);
}

static const struct mc_app_command *find_command(const char *name) {
  for (size_t i = 0; i < MC_ARRAY_LEN(commands); i++)
    if (strcmp(commands[i].name, name) == 0) return &commands[i];
  return NULL;
}

int main(int argc, char **argv) {
  mc_log_set_level(MC_LOG_WARN);
  mc_log_init_from_env();
  /* The language before the first word is printed. */
  app_i18n_init();
  if (app_i18n_take_lang_option(&argc, argv) != 0) return MC_APP_EXIT_USAGE;
  if (argc < 2) {
    print_overview(stderr);
    return MC_APP_EXIT_USAGE;
  }
  const char *name = argv[1];
  if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
    print_overview(stdout);
    return MC_APP_EXIT_OK;
  }
  if (strcmp(name, "--version") == 0) {
    printf("medcall %s\n", MEDCALL_VERSION);
    return MC_APP_EXIT_OK;
  }
  if (strcmp(name, "help") == 0) {
    const struct mc_app_command *cmd = argc > 2 ? find_command(argv[2]) : NULL;
    if (!cmd) {
      print_overview(argc > 2 ? stderr : stdout);
      return argc > 2 ? MC_APP_EXIT_USAGE : MC_APP_EXIT_OK;
    }
    cmd->usage(stdout);
    return MC_APP_EXIT_OK;
  }
  const struct mc_app_command *cmd = find_command(name);
  if (!cmd) {
    fprintf(stderr, _("medcall: unknown command '%s'\n\n"), name);
    print_overview(stderr);
    return MC_APP_EXIT_USAGE;
  }
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      cmd->usage(stdout);
      return MC_APP_EXIT_OK;
    }
  }
  return cmd->run(argc - 1, argv + 1);
}
