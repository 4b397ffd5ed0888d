/* The medcall program: each subcommand is one function with the shape of
 * main, listed in the command table of main.c. */
#ifndef MC_APP_H
#define MC_APP_H

struct mc_app_command {
  const char *name;
  const char *summary; /* one line for "medcall --help" */
  const char *usage;   /* full help for "medcall NAME --help" */
  int (*run)(int argc, char **argv); /* argv[0] is the command name */
};

/* Exit statuses shared by every command. */
enum { MC_APP_EXIT_OK = 0, MC_APP_EXIT_FAIL = 1, MC_APP_EXIT_USAGE = 2 };

extern const char mc_diagnose_usage[];
int mc_diagnose_main(int argc, char **argv);

extern const char mc_call_usage[];
extern const char mc_join_usage[];
int mc_call_main(int argc, char **argv);
int mc_join_main(int argc, char **argv);

#endif
